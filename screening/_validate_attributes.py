"""Attribute checks of one submission frame: columns matched to schema fields, values coerced to their types,
required fields, application ids (characters, length, uniqueness), the template's example, plots vs. area.

Python loops run over the ~50 schema fields, over the problems found, or over the cells of one small column.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from datetime import datetime

import numpy as np
import pandas as pd

from screening._problems import num, shown, text

__all__ = ["DTYPES", "match_columns", "as_text", "check_attributes"]

DTYPES = {"int": "Int64", "float": "float64", "bool": "boolean"}
"""pandas dtype per schema type; every other type is text ("str")."""

_TRUE, _FALSE = {"true", "yes", "ja", "1", "y", "j"}, {"false", "no", "nej", "0", "n"}
_ID_CHAR = "A-Za-z0-9À-ÖØ-öø-ÿ"  # ASCII letters and digits, Latin-1 letters (æøå, é, ü, ...)
_ID_START = re.compile(f"[{_ID_CHAR}]")
_ID_OTHER = re.compile(f"[^{_ID_CHAR}._ -]")


def match_columns(columns: list[str], schema, *, shapefile: bool) -> dict:
    """Map schema field -> column of the file; key "" holds {unknown column: (problem kind, values)}.

    Names match case-insensitively, also via aliases; in shapefiles also by their first 10 characters
    (the dBase limit) when that prefix names one field only.
    """
    fields = [f.name for f in schema.fields]
    names = {n.lower(): f.name for f in schema.fields for n in (f.name, *f.aliases)}
    cut: dict[str, set[str]] = {}
    for n, field in names.items() if shapefile else ():
        cut.setdefault(n[:10], set()).add(field)
    names.update({c: next(iter(f)) for c, f in cut.items() if len(f) == 1 and c not in names})
    matched, unknown = {}, {}
    for col in sorted(columns, key=lambda c: c.lower() not in fields):  # canonical names before aliases
        field, key = names.get(col.lower()), col.lower()
        if field is not None and field not in matched:
            matched[field] = col
        elif field is not None:
            unknown[col] = ("field_twice", {"other": matched[field], "field": field})
        elif len(cut.get(key, ())) > 1:
            short = [a for f in schema.fields if f.name in cut[key] for a in f.aliases if len(a) <= 10]
            unknown[col] = ("field_ambiguous", {"fields": ", ".join(sorted(cut[key])), "short": ", ".join(short)})
        elif key not in {c.lower() for c in schema.ignored_columns}:
            hint = "".join(text("did_you_mean", name=h) for h in difflib.get_close_matches(key, fields, 1, 0.75))
            unknown[col] = ("unknown_field", {"hint": hint})
    return {**matched, "": unknown}


def as_text(s: pd.Series) -> pd.Series:
    """Values as stripped text (whole floats without '.0'), by position; blanks and nulls become None."""
    def cell(v):
        if v is None or (pd.api.types.is_scalar(v) and pd.isna(v)):
            return None
        value = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
        return value.strip() or None

    return pd.Series([cell(v) for v in s.tolist()], dtype=object)  # a submission's features, not a layer


def check_attributes(raw, columns: dict, schema, table: pd.DataFrame, at) -> tuple[pd.DataFrame, list]:
    """Coerce each schema field to its type; report bad values, missing required fields, ids, duplicates."""
    problems = [at(None, col, kind, "warning", column=col, **values)
                for col, (kind, values) in columns.pop("").items()]
    converted = {}
    for spec in schema.fields:  # loop over the schema's fields, not over features
        column = columns.get(spec.name)
        if column is None and spec.presence == "required":
            problems.append(at(None, spec.name, "required_missing", name=spec.name, meaning=str(spec.meaning)))
        if column is None:
            continue
        values = as_text(raw[column])
        converted[spec.name], bad = _convert(values, spec, table)
        problems += [at(i, column, "bad_value", value=_quoted(values.iloc[i]), why=why, fix=_fix(spec),
                        values=", ".join(spec.values or ())) for i, why in bad.items()]
        if spec.presence == "required":
            problems += [at(i, column, "required_empty", name=spec.name, meaning=str(spec.meaning))
                         for i in np.flatnonzero(values.isna())]
    attrs = pd.DataFrame(converted, index=raw.index)  # aligned by position as before, dtypes kept
    absent = [f.name for f in schema.fields if f.presence == "recommended" and f.name not in columns]
    if absent:
        problems.append(at(None, None, "recommended_absent", "warning", fields=", ".join(absent)))
    if "application_id" in attrs:
        attrs["application_id"] = attrs["application_id"].map(_nfc, na_action="ignore")
        problems += _id_rules(attrs["application_id"], columns["application_id"], schema.rules.max_id_length, at)
    return attrs, problems + _attribute_rules(attrs, columns, at)


# --------------------------------------------------------------------------- helpers (in call order)


def _convert(values: pd.Series, spec, table: pd.DataFrame) -> tuple[pd.Series, dict[int, str]]:
    """Coerce one column (as `as_text`: text or None by position) to the field's type: the values and
    {position: why} of bad cells. A loop over the cells of one column of a submission file (tens of rows)."""
    cells = values.tolist()
    if spec.type in ("int", "float"):
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan, copy=True)
        why = {}
        for i, (cell, x) in enumerate(zip(cells, numbers, strict=True)):
            if cell is None:
                continue
            if np.isnan(x):
                why[i] = text("not_a_number")
                continue
            if spec.type == "int" and x % 1 != 0:  # the last rule broken is the one reported
                why[i] = text("not_whole")
            if spec.min is not None and x < spec.min:
                why[i] = text("below_min", min=num(spec.min, None))
            if spec.gt is not None and x <= spec.gt:
                why[i] = text("not_above", gt=num(spec.gt, None))
        numbers[list(why)] = np.nan
        return pd.Series(numbers, index=values.index).astype(DTYPES[spec.type]), why
    if spec.type == "kommunekoder":
        pairs = [None if cell is None else _codes(cell, table) for cell in cells]
        out = [None if p is None else p[0] for p in pairs]
        why = {i: p[1] for i, p in enumerate(pairs) if p is not None and p[1] is not None}
        return pd.Series(out, index=values.index, dtype=object), why
    if spec.type == "bool":
        make, bad = (lambda v: v.casefold() in _TRUE if v.casefold() in _TRUE | _FALSE else None), "not_bool"
    elif spec.type in ("date", "datetime"):
        make, bad = (lambda v: _iso(v, spec.type)), f"not_iso_{spec.type}"
    elif spec.type == "kommunekode":
        make, bad = (lambda v: v.zfill(4) if re.fullmatch(r"\d{1,4}", v) else None), "not_code"
    elif spec.values is not None:
        canonical = {v.casefold(): v for v in spec.values}
        make, bad = (lambda v: canonical.get(v.casefold())), "not_allowed"
    else:
        return values, {}
    out = [None if cell is None else make(cell) for cell in cells]
    why = {i: text(bad) for i, (cell, value) in enumerate(zip(cells, out, strict=True))
           if cell is not None and value is None}
    return pd.Series(out, index=values.index, dtype=object if None in out else None), why


def _iso(value: str, kind: str) -> str | None:
    try:
        parsed = datetime.fromisoformat(value.replace("/", "-"))
    except ValueError:
        return None
    return parsed.date().isoformat() if kind == "date" else parsed.isoformat()


def _codes(value: str, table: pd.DataFrame) -> tuple[str | None, str | None]:
    """'Odense, 0751' -> ('0461,0751', None); unknown items -> (None, 'names unknown municipalities: ...')."""
    by_name = {n.casefold(): c for c, n in table["kommunenavn"].items()}
    codes, unknown = [], []
    for item in filter(None, (x.strip() for x in re.split(r"[,;]", value))):  # a few co-applicants
        name = re.sub(r"\s+kommune$", "", item.casefold())
        code = item.zfill(4) if item.isdigit() else by_name.get(name)
        if code in table.index:
            codes.append(code)
            continue
        hint = [by_name[h] for h in difflib.get_close_matches(name, list(by_name), n=1, cutoff=0.7)]
        unknown.append(text("unknown_kommune_hint", item=item, code=hint[0], name=table.loc[hint[0], "kommunenavn"])
                       if hint else text("unknown_kommune", item=item))
    if unknown:
        return None, text("unknown_kommuner", items=", ".join(unknown))
    return ",".join(dict.fromkeys(codes)), None


def _fix(spec) -> str:
    """The FIXES key for a bad value of this field."""
    return "values" if spec.values is not None else spec.type if spec.type != "str" else "schema"


def _quoted(value) -> str:
    return shown(value, limit=80)


def _nfc(value: str) -> str:
    """One Unicode form for an id: 'Å' typed as one character or as 'A' + combining ring is the same id."""
    return unicodedata.normalize("NFC", value)


def _id_rules(ids: pd.Series, column: str, max_len: int, at) -> list:
    """Every id: at most `max_len` characters of letters, digits, '-', '_', '.', spaces, starting with a letter
    or digit (one problem per id: the first rule it breaks)."""
    problems = []
    for i, value in ids.dropna().items():  # the ids of one file
        chars = list(dict.fromkeys(_ID_OTHER.findall(value)))
        if len(value) > max_len:
            problems.append(at(i, column, "id_too_long", value=shown(value), length=num(len(value)), max_len=max_len))
        elif chars:
            listed = ", ".join(text("char", char=c, code=f"U+{ord(c):04X}") if c.isprintable()
                               else text("control_char", code=f"U+{ord(c):04X}") for c in chars[:5])
            problems.append(at(i, column, "id_bad_chars", value=shown(value), chars=listed, max_len=max_len))
        elif not _ID_START.match(value):
            problems.append(at(i, column, "id_bad_start", value=shown(value), max_len=max_len))
    return problems


def _attribute_rules(attrs: pd.DataFrame, columns: dict[str, str], at) -> list:
    """Unique application ids, no template example, new plots within the declared area."""
    problems = []
    if "application_id" in attrs:
        ids = attrs["application_id"].reset_index(drop=True)
        first = ids[~ids.duplicated()].reset_index().set_index("application_id")["index"]
        problems += [at(i, columns["application_id"], "id_twice", value=shown(ids[i]), first=int(first[ids[i]]))
                     for i in np.flatnonzero(ids.notna() & ids.duplicated())]
    if "is_example" in attrs:
        example = attrs["is_example"].eq(True).to_numpy(dtype=bool)
        problems += [at(i, columns["is_example"], "is_example") for i in np.flatnonzero(example)]
    if "new_plots_ha" in attrs and "area_ha_declared" in attrs:
        over = (attrs["new_plots_ha"] > attrs["area_ha_declared"]).fillna(False).to_numpy(dtype=bool)
        problems += [at(i, columns["new_plots_ha"], "new_plots", "warning") for i in np.flatnonzero(over)]
    return problems

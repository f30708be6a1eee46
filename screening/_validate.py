"""Rule checks of one submission frame: attributes against the schema, geometry, location and area.

Used by `screening.submissions`; every check collects `Problem` records instead of raising, so a file's
problems are reported together. Checks run over whole arrays (shapely, pandas); Python loops run only over
the ~50 schema fields, over the problems found, or over the cells of one small column.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from screening._geo import area_ha, require_crs
from screening.config import CRS
from screening.errors import LayerDataError

__all__ = ["Problem", "CANDIDATE_COLUMNS", "check_frame", "order_and_type"]

CANDIDATE_COLUMNS = ("application_id", "kommunekode", "kommunenavn", "regionskode", "regionsnavn",
                     "co_applicant_kommunekoder", "site_name", "area_ha", "source_file")
_KOMMUNER_COLUMNS = ("kommunekode", "kommunenavn", "regionskode", "regionsnavn")
_SWAPPED = (54.0, 7.5, 58.0, 16.0)  # bounds of a Danish site written [lat, lon]: x 54..58, y 7.5..16
_TRUE, _FALSE = {"true", "yes", "ja", "1", "y", "j"}, {"false", "no", "nej", "0", "n"}
_DTYPES = {"int": "Int64", "float": "float64", "bool": "boolean"}  # every other type is text ("str")
_FIXES = {
    "int": "write a whole number without units",
    "float": "write a number with '.' as decimal point, without units",
    "bool": "write true or false",
    "date": "write the date as ISO YYYY-MM-DD, e.g. 2026-01-28",
    "datetime": "write ISO 8601 with offset, e.g. 2026-02-01T12:00:00+01:00",
    "kommunekode": "write the lead municipality's 4-digit DAGI code, zero-padded, e.g. '0630' (Vejle)",
    "kommunekoder": "list 4-digit DAGI codes separated by commas, e.g. '0461,0751', or leave it empty",
}
_UNKNOWN_FIX = ("rename it to a schema field (docs/SUBMISSION_SCHEMA.md), drop it, or send a "
                "GeoPackage/GeoJSON, which keep full field names")


@dataclass(frozen=True)
class Problem:
    """One problem of a submission file.

    ``feature_index`` is the 0-based position of the feature in the file (``features[i]`` in GeoJSON),
    None for a problem of the whole file; ``field`` is the column as named in the file.
    """

    file: str
    feature_index: int | None
    application_id: str | None
    field: str | None
    message: str
    fix: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = [self.file or "<no file>"]
        if self.feature_index is not None:
            where.append(f"features[{self.feature_index}]"
                         + (f" ({self.application_id})" if self.application_id else ""))
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{self.severity}: {', '.join(where)}: {self.message}; fix: {self.fix}"


def check_frame(raw: gpd.GeoDataFrame, *, file: str, kommuner: gpd.GeoDataFrame, schema,
                repair: bool) -> tuple[list[Problem], gpd.GeoDataFrame | None]:
    """Run every rule on a frame as read; return the problems and, when none is an error, the candidates."""
    raw = raw.reset_index(drop=True)  # positions are the feature indices of the problems
    table = _kommune_table(kommuner)
    columns = _match_columns([c for c in raw.columns if c != raw.geometry.name], schema,
                             shapefile=str(raw.attrs.get("format", "")).endswith("Shapefile"))
    ids = _text(raw[columns["application_id"]]) if "application_id" in columns else [None] * len(raw)
    at = _Locator(file, [None if pd.isna(v) else v for v in ids])
    attrs, problems = check_attributes(raw, columns, schema, table, at)
    metric, placed, geo_problems = check_geometry(raw, schema.rules, at, repair=repair)
    problems += geo_problems + check_places(attrs, metric, placed, kommuner, table, schema.rules, at)
    problems.sort(key=lambda p: (p.feature_index is not None, p.feature_index or 0))
    if any(p.severity == "error" for p in problems):
        return problems, None
    return problems, _candidates(attrs, metric, table, file, schema)


def check_attributes(raw, columns: dict, schema, table: pd.DataFrame, at) -> tuple[pd.DataFrame, list]:
    """Coerce each schema field to its type; report bad values, missing required fields, duplicates."""
    problems = [at(None, col, message, _UNKNOWN_FIX, "warning") for col, message in columns.pop("").items()]
    attrs = pd.DataFrame(index=raw.index)
    for spec in schema.fields:  # loop over the schema's fields, not over features
        column = columns.get(spec.name)
        if column is None and spec.presence == "required":
            problems.append(at(None, spec.name, f"required field '{spec.name}' is missing from the file",
                               f"add '{spec.name}' to every feature ({spec.meaning})"))
        if column is None:
            continue
        text = _text(raw[column])
        attrs[spec.name], bad = _convert(text, spec, table)
        problems += [at(i, column, f"'{text.iloc[i]}' {why}", _fix(spec)) for i, why in bad.items()]
        if spec.presence == "required":
            problems += [at(i, column, f"required field '{spec.name}' has no value",
                            f"fill in {spec.meaning}") for i in np.flatnonzero(text.isna())]
    absent = [f.name for f in schema.fields if f.presence == "recommended" and f.name not in columns]
    if absent:
        problems.append(at(None, None, f"recommended fields absent: {', '.join(absent)}; the criteria using "
                           "them are 'not assessed'", "add them (see data/template_submission.geojson)",
                           "warning"))
    return attrs, problems + _attribute_rules(attrs, columns, at)


def check_geometry(raw: gpd.GeoDataFrame, rules, at, *, repair: bool) -> tuple[np.ndarray, np.ndarray, list]:
    """Type, validity (or repair), degrees in a degree CRS, Denmark bounds; geometries to EPSG:25832."""
    geoms = shapely.force_2d(np.asarray(raw.geometry.values, dtype=object))
    metric, placed = np.full(len(geoms), None, dtype=object), np.zeros(len(geoms), bool)
    if raw.crs is None:
        return metric, placed, [at(None, None, "the data has no CRS", "declare the CRS (EPSG:25832)")]
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    polygonal = ~empty & np.isin(shapely.get_type_id(geoms), (3, 6))
    problems = [at(i, "geometry", "the feature has no geometry", "draw the site's outline as a Polygon")
                for i in np.flatnonzero(empty)]
    problems += [at(i, "geometry", f"geometry is a {geoms[i].geom_type}; a site must be a Polygon or "
                    "MultiPolygon", "submit the site's outline as a Polygon (no points, lines, collections)")
                 for i in np.flatnonzero(~empty & ~polygonal)]
    reasons = np.full(len(geoms), "Valid Geometry", dtype=object)
    reasons[polygonal] = shapely.is_valid_reason(geoms[polygonal])
    invalid = polygonal & (reasons != "Valid Geometry")
    fixable = invalid & repair & ~_nonfinite(geoms)  # make_valid cannot mend NaN/Infinity coordinates
    fixed = geoms.copy()
    fixed[fixable] = _as_multipolygons(shapely.make_valid(geoms[fixable]))
    problems += [at(i, "geometry", f"invalid geometry: {reasons[i]} (coordinates in the file's CRS)",
                    _invalid_fix(reasons[i])) for i in np.flatnonzero(invalid & ~fixable)]
    usable = polygonal & ~invalid | fixable & ~shapely.is_empty(fixed)
    problems += [at(i, "geometry", f"invalid geometry ({reasons[i]}) has no area left after make_valid",
                    "redraw the outline") for i in np.flatnonzero(fixable & ~usable)]
    swapped = np.zeros(len(geoms), bool)
    if raw.crs.is_geographic and usable.any():
        not_degrees = _not_degrees(shapely.total_bounds(fixed[usable]), raw.crs, at)
        if not_degrees:
            return metric, placed, [*problems, not_degrees]
        b = shapely.bounds(fixed)
        swapped = (b[:, 0] >= _SWAPPED[0]) & (b[:, 1] >= _SWAPPED[1]) & (b[:, 2] <= _SWAPPED[2]) & (
            b[:, 3] <= _SWAPPED[3])
    metric[usable] = np.asarray(gpd.GeoSeries(fixed[usable], crs=raw.crs).to_crs(CRS).values, dtype=object)
    b, (x0, y0, x1, y1) = shapely.bounds(metric), rules.denmark_bounds_25832
    with np.errstate(invalid="ignore"):
        placed = usable & (b[:, 0] >= x0) & (b[:, 1] >= y0) & (b[:, 2] <= x1) & (b[:, 3] <= y1)
    problems += [_outside(i, b[i], rules.denmark_bounds_25832, swapped[i], at)
                 for i in np.flatnonzero(usable & ~placed)]
    repaired = placed & invalid
    before = area_ha(np.asarray(gpd.GeoSeries(geoms[repaired], crs=raw.crs).to_crs(CRS).values))
    problems += [at(i, "geometry", f"invalid geometry ({reasons[i]}) repaired with make_valid: area "
                    f"{a:.2f} ha as drawn -> {c:.2f} ha after repair ({c - a:+.2f} ha)", "check the repaired "
                    "outline; better, correct it in the GIS and submit again", "warning")
                 for i, a, c in zip(np.flatnonzero(repaired), before, area_ha(metric[repaired]), strict=True)]
    return metric, placed, problems


def check_places(attrs: pd.DataFrame, metric: np.ndarray, placed: np.ndarray, kommuner: gpd.GeoDataFrame,
                 table: pd.DataFrame, rules, at) -> list[Problem]:
    """Municipality code against the site's location (area shares per municipality), names, areas."""
    n = len(metric)
    codes = attrs["kommunekode"] if "kommunekode" in attrs else pd.Series(np.nan, attrs.index, dtype=object)
    co = attrs["co_applicant_kommunekoder"] if "co_applicant_kommunekoder" in attrs else None
    share_df = _shares(metric, placed, kommuner)
    total = np.bincount(share_df["feature"], weights=share_df["share"], minlength=n)
    top = _largest(share_df, n)
    stated, other = _applicants_share(share_df, codes, co, n)
    known = codes.isin(table.index).to_numpy()
    problems = [at(i, "geometry", "the site lies in no Danish municipality (at sea, abroad or off the "
                   "kommuner layer)", "check the outline's coordinates and the declared CRS")
                for i in np.flatnonzero(placed & (total < 1e-9))]
    for i in np.flatnonzero(codes.notna().to_numpy() & ~known):
        guess = top["kommunekode"].iloc[i]
        fix = (f"the site lies in {guess} {table.loc[guess, 'kommunenavn']}; use '{guess}' if that is the "
               "lead municipality" if pd.notna(guess) else _FIXES["kommunekode"])
        problems.append(at(i, "kommunekode", f"'{codes.iloc[i]}' is not one of the {len(table)} DAGI "
                           "municipality codes of the kommuner layer", fix))
    for i in np.flatnonzero(placed & known & (total >= 1e-9) & (stated < rules.min_share_in_kommune)):
        big = other["kommunekode"].iloc[i]
        rest = [f"{total[i] - stated[i]:.0%} lies in other municipalities, most in {big} "
                f"{table.loc[big, 'kommunenavn']}" if pd.notna(big) else "",
                f"{1 - total[i]:.0%} in none (at sea or abroad)" if total[i] < 0.995 else ""]
        partners = co.iloc[i] if co is not None and pd.notna(co.iloc[i]) else ""
        applying = f"{codes.iloc[i]} {table.loc[codes.iloc[i], 'kommunenavn']}" + (
            f" with co-applicants {partners}" if partners else "")
        problems.append(at(i, "kommunekode", f"only {stated[i]:.0%} of the site lies in its applying "
                           f"municipalities ({applying}); {', '.join(filter(None, rest))}",
                           "check kommunekode (the lead municipality) and the outline; a municipality the "
                           "site extends into belongs among the co-applicants", "warning"))
    problems += _name_checks(attrs, codes, known, table, at)
    return problems + _area_rules(attrs, metric, placed, rules, at)


def order_and_type(gdf: gpd.GeoDataFrame, schema) -> gpd.GeoDataFrame:
    """Columns in contract order (`CANDIDATE_COLUMNS`, schema fields, geometry) with the schema's dtypes."""
    specs = [f for f in schema.fields if f.name in gdf.columns and f.name not in CANDIDATE_COLUMNS]
    out = gdf[[*CANDIDATE_COLUMNS, *(f.name for f in specs), "geometry"]].copy()
    for column in CANDIDATE_COLUMNS:
        out[column] = out[column].astype("float64" if column == "area_ha" else "str")
    for spec in specs:
        out[spec.name] = out[spec.name].astype(_DTYPES.get(spec.type, "str"))
    return out


# --------------------------------------------------------------------------- helpers (in call order)


class _Locator:
    """Builds problems for one file: ``at(i, field, message, fix, severity)``; i None = the whole file."""

    def __init__(self, file: str, ids: list[str | None]):
        self.file, self.ids = file, ids

    def __call__(self, i, field, message, fix, severity="error") -> Problem:
        index = None if i is None else int(i)
        app_id = None if index is None else self.ids[index]
        return Problem(self.file, index, app_id, field, message, fix, severity)


def _kommune_table(kommuner: gpd.GeoDataFrame) -> pd.DataFrame:
    require_crs(kommuner, "kommuner layer")
    missing = [c for c in _KOMMUNER_COLUMNS if c not in kommuner.columns]
    if missing:
        msg = f"kommuner layer lacks columns {missing}; load it with catalog.load_layer('kommuner')"
        raise LayerDataError(msg)
    table = pd.DataFrame(kommuner[list(_KOMMUNER_COLUMNS)]).astype(str)
    table["kommunekode"] = table["kommunekode"].str.zfill(4)
    return table.drop_duplicates("kommunekode").set_index("kommunekode")


def _match_columns(columns: list[str], schema, *, shapefile: bool) -> dict:
    """Map schema field -> column of the file; key "" holds {unknown column: message}.

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
            unknown[col] = f"field '{col}' is ignored: '{matched[field]}' already gives {field}"
        elif len(cut.get(key, ())) > 1:
            short = [a for f in schema.fields if f.name in cut[key] for a in f.aliases if len(a) <= 10]
            unknown[col] = (f"shapefile field '{col}' is ignored: it could be any of "
                            f"{', '.join(sorted(cut[key]))} (shapefiles cut names to 10 characters); name "
                            f"the columns {', '.join(short)} before the export")
        elif key not in {c.lower() for c in schema.ignored_columns}:
            hint = "".join(f"; did you mean '{h}'?" for h in difflib.get_close_matches(key, fields, 1, 0.75))
            unknown[col] = f"unknown field '{col}' is ignored{hint}"
    return {**matched, "": unknown}


def _text(s: pd.Series) -> pd.Series:
    """Values as stripped text (whole floats without '.0'), by position; blanks and nulls become None."""
    def cell(v):
        text = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
        return text.strip() or None

    values = s.astype(object).where(s.notna(), None).map(cell, na_action="ignore")
    return values.astype(object).reset_index(drop=True)


def _convert(text: pd.Series, spec, table: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Coerce one column (as `_text`) to the field's type: the values and {position: why} of bad cells."""
    given = text.notna()
    why = pd.Series(None, text.index, dtype=object)
    if spec.type in ("int", "float"):
        values = pd.to_numeric(text, errors="coerce").astype("float64")
        why[given & values.isna()] = "is not a number"
        if spec.type == "int":
            why[values.notna() & (values % 1 != 0)] = "is not a whole number"
        if spec.min is not None:
            why[values < spec.min] = f"is out of range (must be >= {spec.min:g})"
        if spec.gt is not None:
            why[values <= spec.gt] = f"is out of range (must be > {spec.gt:g})"
        values = values.where(why.isna()).astype(_DTYPES[spec.type])
    elif spec.type == "bool":
        values = text.map(lambda v: v.casefold() in _TRUE if v.casefold() in _TRUE | _FALSE else None,
                          na_action="ignore")
        why[given & values.isna()] = "is not true or false"
    elif spec.type in ("date", "datetime"):
        values = text.map(lambda v: _iso(v, spec.type), na_action="ignore")
        why[given & values.isna()] = f"is not an ISO {spec.type}"
    elif spec.type == "kommunekode":
        values = text.map(lambda v: v.zfill(4) if re.fullmatch(r"\d{1,4}", v) else None, na_action="ignore")
        why[given & values.isna()] = "is not a 4-digit municipality code"
    elif spec.type == "kommunekoder":
        pairs = text.map(lambda v: _codes(v, table), na_action="ignore")
        values = pairs.map(lambda p: p[0], na_action="ignore")
        why = pairs.map(lambda p: p[1], na_action="ignore").astype(object)
    elif spec.values is not None:
        canonical = {v.casefold(): v for v in spec.values}
        values = text.map(lambda v: canonical.get(v.casefold()), na_action="ignore")
        why[given & values.isna()] = "is not one of the allowed values"
    else:
        values = text
    return values, why.dropna()


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
        unknown.append(f"'{item}'" + "".join(f" (did you mean {h} {table.loc[h, 'kommunenavn']}?)"
                                             for h in hint))
    if unknown:
        return None, f"names unknown municipalities: {', '.join(unknown)}"
    return ",".join(dict.fromkeys(codes)), None


def _fix(spec) -> str:
    if spec.values is not None:
        return f"use one of: {', '.join(spec.values)}"
    return _FIXES.get(spec.type, "see docs/SUBMISSION_SCHEMA.md")


def _attribute_rules(attrs: pd.DataFrame, columns: dict[str, str], at) -> list[Problem]:
    """Unique application ids, no template example, new plots within the declared area."""
    problems = []
    if "application_id" in attrs:
        ids = attrs["application_id"].reset_index(drop=True)
        first = ids[~ids.duplicated()].reset_index().set_index("application_id")["index"]
        problems += [at(i, columns["application_id"], f"application_id '{ids[i]}' is also used by "
                        f"features[{first[ids[i]]}]", "give every application its own id")
                     for i in np.flatnonzero(ids.notna() & ids.duplicated())]
    if "is_example" in attrs:
        example = attrs["is_example"].eq(True).to_numpy(dtype=bool)
        problems += [at(i, columns["is_example"], "this is the template's example feature (is_example is "
                        "true)", "replace the example values with the application's own and set is_example "
                        "to false") for i in np.flatnonzero(example)]
    if "new_plots_ha" in attrs and "area_ha_declared" in attrs:
        over = (attrs["new_plots_ha"] > attrs["area_ha_declared"]).fillna(False).to_numpy(dtype=bool)
        problems += [at(i, columns["new_plots_ha"], "new_plots_ha exceeds area_ha_declared",
                        "new building plots are part of the declared area; check both", "warning")
                     for i in np.flatnonzero(over)]
    return problems


def _nonfinite(geoms: np.ndarray) -> np.ndarray:
    """True for geometries with a NaN or infinite coordinate."""
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    bad = np.zeros(len(geoms), bool)
    bad[index[~np.isfinite(coords).all(axis=1)]] = True
    return bad


def _invalid_fix(reason: str) -> str:
    """How to fix an invalid outline, by shapely's reason."""
    if reason.startswith("Invalid Coordinate"):
        return "a coordinate is not a number; export the outline again"
    if reason.startswith("Too few points"):
        return "a ring needs at least three corners; redraw the outline"
    return ("redraw the outline so its boundary does not cross or touch itself at that point, or rerun with "
            "--repair (shapely.make_valid)")


def _not_degrees(bounds: np.ndarray, crs, at) -> Problem | None:
    """A file problem when coordinates in a geographic CRS are not degrees (e.g. metres without 'crs')."""
    x0, y0, x1, y1 = bounds
    if -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90:
        return None
    hint = (" They look like EPSG:25832 metres." if 400_000 <= x0 <= x1 <= 950_000
            and 6_000_000 <= y0 <= y1 <= 6_450_000 else "")
    return at(None, "geometry", f"coordinates are not longitude/latitude degrees (x {x0:,.0f}..{x1:,.0f}, "
              f"y {y0:,.0f}..{y1:,.0f}) but the CRS is {crs.to_string()} (GeoJSON without a 'crs' member is "
              f"WGS84 per RFC 7946).{hint}",
              "reproject to WGS84 (EPSG:4326), or declare the CRS, e.g. \"crs\": {\"type\": \"name\", "
              "\"properties\": {\"name\": \"urn:ogc:def:crs:EPSG::25832\"}}")


def _outside(i: int, b: np.ndarray, bounds, swapped: bool, at) -> Problem:
    where = (f"EPSG:25832 bounds {b[0]:,.0f}, {b[1]:,.0f}, {b[2]:,.0f}, {b[3]:,.0f}" if np.isfinite(b).all()
             else "it cannot be placed in EPSG:25832")
    message = f"the site lies outside Denmark ({where}; Denmark is within {tuple(int(v) for v in bounds)})"
    if swapped:
        return at(i, "geometry", f"{message}; coordinates look like lat/lon swapped; GeoJSON order is "
                  "[longitude, latitude]", "swap the two numbers of every coordinate pair (longitude 8-15 "
                  "first, then latitude 54-58)")
    return at(i, "geometry", message, "check the coordinates and the declared CRS (GeoJSON without 'crs' is "
              "WGS84 longitude/latitude)")


def _as_multipolygons(geoms: np.ndarray) -> np.ndarray:
    """Keep the polygonal parts of each geometry as one MultiPolygon (empty when there are none)."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    sub, sub_index = shapely.get_parts(parts, return_index=True)  # members of collections, too
    keep = shapely.get_type_id(sub) == 3
    out = np.array([shapely.MultiPolygon() for _ in geoms], dtype=object)
    if keep.any():  # with no polygon at all, shapely returns an empty array, not `out`
        shapely.multipolygons(sub[keep], indices=index[sub_index][keep], out=out)
    return out


def _shares(metric: np.ndarray, placed: np.ndarray, kommuner: gpd.GeoDataFrame) -> pd.DataFrame:
    """Share of each placed site's area per municipality it meets: ``feature, kommunekode, share``."""
    idx = np.flatnonzero(placed)
    k_geoms = np.asarray(kommuner.geometry.values, dtype=object)
    k_codes = kommuner["kommunekode"].astype(str).str.zfill(4).to_numpy(dtype=object)
    left, right = shapely.STRtree(k_geoms).query(metric[idx], predicate="intersects")
    overlap = shapely.area(shapely.intersection(metric[idx][left], k_geoms[right]))
    df = pd.DataFrame({"feature": idx[left], "kommunekode": k_codes[right], "share": overlap})
    df = df.groupby(["feature", "kommunekode"], as_index=False)["share"].sum()
    df["share"] /= shapely.area(metric[df["feature"].to_numpy()])
    return df


def _largest(share_df: pd.DataFrame, n: int) -> pd.DataFrame:
    """Per feature 0..n-1 the row of `share_df` with the largest share (NaN where the feature has none)."""
    rows = share_df.sort_values("share").drop_duplicates("feature", keep="last")
    return rows.set_index("feature")[["kommunekode", "share"]].reindex(range(n))


def _applicants_share(share_df: pd.DataFrame, codes: pd.Series, co: pd.Series | None,
                      n: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Share of each site inside its lead municipality plus co-applicants (a joint site may cross their
    border), and the largest other municipality per site (``kommunekode``, ``share``; NaN if none)."""
    applying = codes.astype(object).where(codes.notna(), "").to_numpy(dtype=object)
    if co is not None:
        applying = applying + "," + co.astype(object).where(co.notna(), "").to_numpy(dtype=object)
    owners = applying[share_df["feature"].to_numpy()]
    inside = np.array([code in owner.split(",") for code, owner in  # pairs of site x municipality met
                       zip(share_df["kommunekode"], owners, strict=True)], dtype=bool)
    stated = np.bincount(share_df["feature"][inside], weights=share_df["share"][inside], minlength=n)
    return stated, _largest(share_df[~inside], n)


def _name_checks(attrs: pd.DataFrame, codes: pd.Series, known: np.ndarray, table: pd.DataFrame, at) -> list:
    """Declared kommunenavn and region must agree with the kommunekode (warnings)."""
    def norm(name) -> str:
        return re.sub(r"^region\s+|\s+kommune$", "", str(name).strip().casefold())

    problems = []
    looked_up = table.reindex(codes.where(pd.Series(known, codes.index)))
    for field, truth in (("kommunenavn", "kommunenavn"), ("region", "regionsnavn")):
        declared = attrs[field].to_numpy(dtype=object) if field in attrs else np.full(len(codes), None)
        actual = looked_up[truth].to_numpy(dtype=object)
        problems += [at(i, field, f"'{declared[i]}' does not match kommunekode {codes.iloc[i]} ({actual[i]})",
                        f"correct {field} or kommunekode", "warning")
                     for i in np.flatnonzero(known & pd.notna(declared))
                     if norm(declared[i]) != norm(actual[i])]
    return problems


def _area_rules(attrs: pd.DataFrame, metric: np.ndarray, placed: np.ndarray, rules, at) -> list[Problem]:
    """Area within the plausible range (error); declared area close to the geometry (warning)."""
    areas = np.full(len(metric), np.nan)
    areas[placed] = area_ha(metric[placed])
    problems = []
    for i in np.flatnonzero(placed & ((areas < rules.min_area_ha) | (areas > rules.max_area_ha))):
        limit = (f"below the {rules.min_area_ha:g} ha minimum" if areas[i] < rules.min_area_ha
                 else f"above the {rules.max_area_ha:,.0f} ha maximum")
        problems.append(at(i, "geometry", f"implausible area: {areas[i]:,.2f} ha is {limit} of an industrial "
                           "park site", "check the outline, and that the CRS matches the coordinates"))
    if "area_ha_declared" in attrs:
        declared = attrs["area_ha_declared"].to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            off = np.abs(areas - declared) / areas
        off_limit = placed & ~np.isnan(declared) & (off > rules.declared_area_tolerance)
        problems += [at(i, "area_ha_declared", f"declared {declared[i]:,.2f} ha but the geometry has "
                        f"{areas[i]:,.2f} ha ({off[i]:.0%} off)", "correct the declared area or the outline",
                        "warning") for i in np.flatnonzero(off_limit)]
    return problems


def _candidates(attrs: pd.DataFrame, metric: np.ndarray, table: pd.DataFrame, file: str,
                schema) -> gpd.GeoDataFrame:
    out = attrs.reset_index(drop=True)
    looked_up = table.reindex(out["kommunekode"]).reset_index(drop=True)
    for column in ("kommunenavn", "regionskode", "regionsnavn"):
        out[column] = looked_up[column]
    for column in ("co_applicant_kommunekoder", "site_name"):
        out[column] = out[column].fillna("") if column in out else ""
    out["area_ha"] = area_ha(metric)
    out["source_file"] = file
    gdf = gpd.GeoDataFrame(out, geometry=_as_multipolygons(metric), crs=CRS)
    return order_and_type(gdf, schema)

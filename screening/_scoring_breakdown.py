"""The score of measured criteria and its breakdown: bands, effective weights, the long table and its texts.

Internal to `screening.scoring` (which re-exports `band_score`, `band_text` and `BREAKDOWN_COLUMNS`). The
breakdown is built column by column over all candidates at once (one array per column, candidate-major),
and every text is made once per distinct value (a band per criterion, a capped-bonus note per distinct
amount, a ``not_assessed`` list per distinct pattern), so rescoring thousands of candidates under several
policy scenarios costs no per-row Python. Texts go through `screening.i18n`, in the current language.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from screening.config import Bonus, Criteria, Criterion
from screening.i18n import N_, fmt_number
from screening.i18n import gettext as _
from screening.i18n import text as _text

__all__ = ["BREAKDOWN_COLUMNS", "band_score", "band_text", "assemble", "effective_weights", "score_of", "num"]

log = logging.getLogger("screening.scoring")

BREAKDOWN_COLUMNS = ("application_id", "group", "criterion", "title", "raw_value", "unit", "band", "score",
                     "weight", "contribution", "assessed", "method", "nearest", "note", "layer", "source",
                     "date")
_MEASURED = ("raw_value", "assessed", "method", "nearest", "note", "layer", "source", "date")
"""Breakdown columns taken as they are from each criterion's measured part (and each bonus's rows)."""
_MAPPING_WORDS = {
    "existing": N_("existing"), "planned": N_("planned"), "none": N_("none"), "present": N_("present"),
    "absent": N_("absent"), "owned": N_("owned"), "option": N_("option"), "mixed": N_("mixed"),
    "private": N_("private"), "adopted": N_("adopted"), "proposal_in_hearing": N_("proposal in hearing"),
    "in_preparation": N_("in preparation"),
}
"""The submission values of the attribute criteria in words (band texts); other values are shown as they are."""
_UNIT_WORDS = {"persons": N_("persons"), "institutions": N_("institutions"), "areas": N_("areas"),
               "letters": N_("letters")}
"""Criterion units that are words, in band texts (``m``, ``min``... are symbols)."""


def band_score(points, raw) -> np.ndarray:
    """Piecewise-linear score in 0–1 of `raw` on (raw, score) `points`; flat beyond the ends; NaN stays NaN.

    Examples
    --------
    >>> band_score(((2000, 1.0), (25000, 0.0)), [1000, 2000, 13500, 25000, 30000]).tolist()
    [1.0, 1.0, 0.5, 0.0, 0.0]
    """
    xs, ys = np.asarray(points, dtype=float).T
    raw = np.asarray(raw, dtype=float)
    return np.where(np.isnan(raw), np.nan, np.interp(raw, xs, ys))


def band_text(crit: Criterion) -> str:
    """The band or mapping in words, e.g. ``"≤ 2,000 m → 1.0, ≥ 25,000 m → 0.0"``."""
    if crit.band is not None:
        pts = crit.band.points
        unit = _(_UNIT_WORDS[crit.unit]) if crit.unit in _UNIT_WORDS else crit.unit
        words = [f"{num(x)} {unit} → {_score_txt(y)}" for x, y in pts]
        words[0], words[-1] = f"≤ {words[0]}", f"≥ {words[-1]}"
        return ", ".join(words)
    return ", ".join(f"{_(_MAPPING_WORDS[k]) if k in _MAPPING_WORDS else k} → {_score_txt(v)}"
                     for k, v in (crit.mapping or {}).items())


def score_of(crit: Criterion, part: pd.DataFrame) -> np.ndarray:
    """0–1 score of each row of a measured part: the mapped value, or the band applied to the numeric value;
    NaN where the part is not assessed."""
    if crit.measure == "attribute" and "_value" not in part.columns:  # field absent: nothing to score
        return np.full(len(part), np.nan)
    if "_value" in part.columns:  # attribute criteria carry their numeric value beside the raw text
        value = part["_value"].to_numpy(dtype=float)
        value = value if crit.mapping is not None else band_score(crit.band.points, value)
    else:
        value = band_score(crit.band.points, pd.to_numeric(part["raw_value"], errors="coerce"))
    return np.where(part["assessed"].to_numpy(dtype=bool), value, np.nan)


def effective_weights(assessed: np.ndarray, s: np.ndarray, criteria: Criteria):
    """Effective weights (points of 100), contributions, group scores (0–100); arrays n x criteria/groups.

    `assessed` (bool) and `s` (0–1 scores, NaN where not assessed) are n x criteria, in criterion order.
    """
    gid = [g.id for g in criteria.groups]
    group_w = np.array([g.weight for g in criteria.groups], dtype=float)
    member = np.array([[c.group == g for g in gid] for c in criteria.criteria], dtype=float)  # C x G
    cw = np.array([c.weight for c in criteria.criteria], dtype=float)
    aw = np.where(assessed, cw, 0.0)
    within = aw @ member  # n x G: assessed configured weight per group
    gshare = np.where(within > 0, group_w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        gshare = gshare / gshare.sum(axis=1, keepdims=True)
        weights = 100.0 * (gshare @ member.T) * aw / (within @ member.T)
        weights = np.nan_to_num(weights, nan=0.0)
        contrib = weights * np.where(assessed, s, 0.0)
        group_scores = 100.0 * (aw * np.nan_to_num(s)) @ member / within
    return weights, contrib, group_scores


def assemble(ids: np.ndarray, criteria: Criteria, parts, scores: np.ndarray, arrays, bonus_rows,
             base: np.ndarray, earned: np.ndarray, total: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scores frame and the long breakdown (rows per candidate, in criterion order, bonus last).

    Parameters
    ----------
    ids
        ``application_id`` per candidate (str), positional like every part.
    parts
        Measured part per criterion (`screening.scoring.Measurements` ``parts``), in criterion order.
    scores
        n x criteria 0–1 scores (NaN where not assessed).
    arrays
        ``(weights, contrib, group_scores)`` from `effective_weights`.
    bonus_rows
        Measured rows per bonus with ``earned`` already in the bonus's points, in bonus order.
    base, earned, total
        Per candidate: the weighted total before the bonus, the bonus points earned, the capped total.
    """
    weights, contrib, group_scores = arrays
    n, n_crit = len(ids), len(parts)
    items = [*criteria.criteria, *criteria.bonus]
    frames = [*parts, *bonus_rows]
    room = np.clip(100.0 - np.nan_to_num(base), 0.0, None)
    notes, bonus_scores, applied_cols = [], [], []
    for b, row in zip(criteria.bonus, bonus_rows, strict=True):  # a bonus or two
        got = row["earned"].to_numpy(dtype=float)
        applied = np.minimum(got, room)
        room = room - applied
        notes.append(_capped_notes(row["note"], applied, got, b))
        bonus_scores.append(np.where(row["assessed"].to_numpy(dtype=bool), (got > 0).astype(float), np.nan))
        applied_cols.append(applied)
    # candidate-major order of the rows: row i * items + j is candidate i, item j (criteria, then bonuses)
    order = (np.arange(len(items))[None, :] * n + np.arange(n)[:, None]).ravel()
    item_of_row, cand_of_row = np.tile(np.arange(len(items)), n), np.repeat(np.arange(n), len(items))
    columns = {
        "application_id": _values(list(ids), cand_of_row),
        "group": _values([c.group for c in criteria.criteria] + ["bonus"] * len(criteria.bonus), item_of_row),
        "criterion": _values([item.id for item in items], item_of_row),
        "title": _values([_text(item.title) for item in items], item_of_row),
        "unit": _values([c.unit for c in criteria.criteria] + ["points"] * len(criteria.bonus), item_of_row),
        "band": _values([band_text(c) for c in criteria.criteria] + [_bonus_band(b) for b in criteria.bonus],
                        item_of_row),
        "score": np.column_stack([scores, *bonus_scores]).ravel(),
        "weight": np.column_stack([weights, *(np.full(n, b.points, dtype=float) for b in criteria.bonus)]).ravel(),
        "contribution": np.column_stack([contrib, *applied_cols]).ravel(),
    }
    for col in _MEASURED:  # eight columns, each the items' rows joined (dtype as pandas joins them)
        pieces = [frame[col] for frame in frames]
        if col == "note":
            pieces[n_crit:] = notes
        columns[col] = _joined(pieces, order)
    breakdown = pd.DataFrame(columns)[list(BREAKDOWN_COLUMNS)]
    assessed = np.column_stack([f["assessed"].to_numpy(dtype=bool) for f in frames])
    table = pd.DataFrame({"score_total": total}, index=pd.Index(ids, name="application_id"))
    for g, group in enumerate(criteria.groups):
        table[f"score_{group.id}"] = group_scores[:, g]
    table["bonus_points"] = earned
    table["not_assessed"] = _not_assessed(assessed, [item.id for item in items])
    table["flagged"] = table["not_assessed"] != ""
    log.info("scored %d candidates on %d criteria; %d flagged (something not assessed)",
             n, len(criteria.criteria), int(table["flagged"].sum()))
    return table, breakdown


# --------------------------------------------------------------------------- helpers


def _values(values: list, index: np.ndarray):
    """`values` (one per item or candidate, dtype as pandas infers it) taken at `index`, one per row."""
    return pd.Series(values).array.take(index)


def _joined(pieces: list[pd.Series], order: np.ndarray):
    """The pieces (one per item, n rows each) end to end, then taken in `order`; the dtype as `pd.concat`
    gives it (the pieces' own dtype when they share one)."""
    if len({p.dtype for p in pieces}) == 1:
        arrays = [p.array for p in pieces]
        return type(arrays[0])._concat_same_type(arrays).take(order)
    return pd.concat(pieces, ignore_index=True).array.take(order)


def _capped_notes(note: pd.Series, applied: np.ndarray, got: np.ndarray, b: Bonus) -> pd.Series:
    """The bonus rows' notes, with "total capped at 100" where less than the earned points fits under 100
    (one text per distinct amount applied)."""
    capped = applied < got - 1e-12
    if not capped.any():
        return note
    words = {a: _("total capped at 100: %(applied)s of %(points)s points applied", applied=num(a),
                  points=num(b.points)) for a in np.unique(applied[capped])}
    out = note.copy()
    out[capped] = [words[a] for a in applied[capped]]
    return out


def _not_assessed(assessed: np.ndarray, names: list[str]) -> np.ndarray:
    """Per candidate the ", "-joined ids of the items not assessed (one text per distinct pattern)."""
    n, c = assessed.shape
    bits = np.left_shift(1, np.arange(c) % 62, dtype=np.int64)  # each item a bit of a 62-bit code
    codes = np.column_stack([(~assessed[:, k:k + 62] * bits[k:k + 62]).sum(axis=1) for k in range(0, c, 62)]) \
        if c else np.zeros((n, 1), dtype=np.int64)
    _, first, which = (np.unique(codes[:, 0], return_index=True, return_inverse=True) if codes.shape[1] == 1
                       else np.unique(codes, axis=0, return_index=True, return_inverse=True))
    names_arr = np.array(names, dtype=object)
    texts = np.array([", ".join(names_arr[~assessed[i]]) for i in first], dtype=object)  # distinct patterns (tens)
    return texts[np.asarray(which).ravel()] if n else np.array([], dtype=object)


def _bonus_band(b: Bonus) -> str:
    near = _("within %(limit)s m of %(layer)s", limit=num(b.within_m), layer=b.layer) if b.layer else ""
    declared = _("%(field)s true", field=b.field) if b.field else ""
    ways = _("%(near)s or %(declared)s", near=near, declared=declared) if near and declared else near or declared
    return _("%(ways)s → %(points)s points", ways=ways, points=num(b.points))


def num(x: float) -> str:
    """A number in a text, current language: grouped, no decimals when whole, else up to two."""
    return fmt_number(x, _decimals(x, 2, least=0))


def _score_txt(y: float) -> str:
    """A 0–1 score in a band text: at least one decimal, at most two ("1.0", "0.75")."""
    return fmt_number(y, _decimals(y, 2, least=1))


def _decimals(x: float, most: int, *, least: int) -> int:
    """Decimals `x` needs, between `least` and `most` (trailing zeros dropped)."""
    text = f"{float(x):.{most}f}".rstrip("0")
    return max(least, len(text.split(".")[1]) if "." in text else 0)

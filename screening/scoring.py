"""Scoring: each criterion's raw measure -> 0–1 band -> effective weight -> a 0–100 total with a breakdown."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from screening import _kept
from screening import travel as travel_mod
from screening._geo import require_crs
from screening.config import Bonus, Criteria, Criterion
from screening.errors import ConfigError, LayerDataError, SubmissionError
from screening.i18n import N_, fmt_number
from screening.i18n import gettext as _
from screening.i18n import text as _text

__all__ = ["ScoreResult", "Measurements", "BREAKDOWN_COLUMNS", "score", "measure", "score_measured",
           "measurement_key", "band_score", "band_text"]

log = logging.getLogger(__name__)

BREAKDOWN_COLUMNS = ("application_id", "group", "criterion", "title", "raw_value", "unit", "band", "score",
                     "weight", "contribution", "assessed", "method", "nearest", "note", "layer", "source",
                     "date")
_PER_M = {"m": 1.0, "km": 1000.0}
_DECLARED = N_("declared by municipality")
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
_TRUE = {"true", "1", "yes", "ja", "y"}


@dataclass(frozen=True)
class ScoreResult:
    """Scores per candidate and the long breakdown behind them (see ARCHITECTURE.md, "ScoreResult")."""

    scores: pd.DataFrame
    breakdown: pd.DataFrame


def score(candidates: gpd.GeoDataFrame, layers: Mapping[str, gpd.GeoDataFrame], criteria: Criteria, *,
          catalog_meta: Mapping[str, Mapping[str, str]] | None = None) -> ScoreResult:
    """Score candidate sites on the configured criteria; explain every point.

    Each criterion's raw value (metres, minutes, persons, a declared status) maps to 0–1 through its band
    or mapping. A criterion that cannot be measured (layer missing, field not stated) is *not assessed*:
    its weight goes to the assessed criteria of its group in proportion to their weights, and a group
    with nothing assessed gives its weight to the other groups in proportion, so ``weight`` in the
    breakdown is the effective share of 100 points and ``score_total = Σ contribution`` (bonus row
    included; capped at 100). Distances are site polygon to nearest feature (0 inside or touching).

    Parameters
    ----------
    candidates
        Sites, (multi)polygons in EPSG:25832, with a unique ``application_id`` and whatever submission
        attributes the criteria read (absent column or empty value: see `Criterion` ``mapping``).
    layers
        Loaded layers by catalog id, EPSG:25832; an id absent here is a missing layer.
    criteria
        Groups, criteria, bonus and travel model from ``layers/criteria.yaml``.
    catalog_meta
        Optional per layer id: ``source``, ``date`` (used when the frame's ``attrs`` lack them) and
        ``missing`` (why the layer is absent, quoted in the note).

    Returns
    -------
    ScoreResult
        ``scores`` indexed by ``application_id``: ``score_total`` (0–100; NaN only when no group at
        all is assessed), ``score_<group>`` (0–100, NaN when nothing in it is assessed),
        ``bonus_points`` (earned, before the cap), ``not_assessed`` (", "-joined ids), ``flagged``;
        ``breakdown`` with `BREAKDOWN_COLUMNS`, one row per candidate and criterion plus one per bonus.

    Raises
    ------
    CRSError
        If `candidates` or a used layer is not in EPSG:25832.
    SubmissionError
        If ``application_id`` is missing or not unique.
    ConfigError
        If a criterion's unit cannot be produced by its measure (distance: m/km, travel_time: min).
    """
    return score_measured(measure(candidates, layers, criteria, catalog_meta=catalog_meta), criteria)


@dataclass(frozen=True)
class Measurements:
    """Raw values of every layer-based criterion and bonus for a set of candidates, made by `measure`.

    ``parts``: criterion id -> one row per candidate (positional) with ``raw_value``, ``assessed``,
    ``method``, ``nearest``, ``note``, ``layer``, ``source``, ``date`` and no score; an attribute criterion's
    part is kept with ``attribute_specs`` (what made it: field, mapping, band) and read again from
    ``candidates`` when scoring under another mapping or band. ``bonus_rows``: bonus id -> the bonus measured
    as if it were worth 1 point (``earned`` is 1 where it is earned). ``keys``: criterion or bonus id ->
    `measurement_key`, so rescoring under other rules can tell whether these raw values still apply.
    """

    candidates: gpd.GeoDataFrame
    parts: Mapping[str, pd.DataFrame]
    bonus_rows: Mapping[str, pd.DataFrame]
    keys: Mapping[str, str]
    meta: Mapping[str, Mapping[str, str]]
    attribute_specs: Mapping[str, str] = field(default_factory=dict)


def measure(candidates: gpd.GeoDataFrame, layers: Mapping[str, gpd.GeoDataFrame], criteria: Criteria, *,
            catalog_meta: Mapping[str, Mapping[str, str]] | None = None) -> Measurements:
    """Measure every criterion's raw value (metres, minutes, persons) and every bonus once, without scoring.

    The expensive, rule-independent half of `score`: distances, the travel-time access, reach sums. The
    result can be scored under any criteria that measure the same way (`score_measured`), e.g. policy
    scenarios that change only weights, bands, mappings or bonus points. Parameters and errors as `score`.
    """
    _check_inputs(candidates, criteria)
    meta = dict(catalog_meta or {})
    geoms = candidates.geometry.to_numpy()
    acc = _travel_access(geoms, candidates, layers, criteria)
    parts = {}
    for crit in criteria.criteria:  # a raw value per configured criterion (about 20), each vectorised
        parts[crit.id] = _measure(crit, candidates, geoms, layers, acc, criteria, meta)
    bonus_rows = {b.id: _bonus(b.model_copy(update={"points": 1.0}), candidates, geoms, layers, meta)
                  for b in criteria.bonus}  # a bonus or two
    keys = {item.id: measurement_key(item, criteria) for item in (*criteria.criteria, *criteria.bonus)}
    specs = {c.id: _attribute_spec(c) for c in criteria.criteria if c.measure == "attribute"}
    return Measurements(candidates, parts, bonus_rows, keys, meta, specs)


def score_measured(measured: Measurements, criteria: Criteria) -> ScoreResult:
    """Score already measured candidates under `criteria`: bands, mappings, weights and bonus points.

    ``score(c, layers, crit)`` equals ``score_measured(measure(c, layers, crit), crit)``. `criteria` may
    differ from those measured in anything that does not change a raw value (weights, bands, mappings,
    titles, bonus points, selection and sensitivity rules).

    Raises
    ------
    ConfigError
        If a criterion or bonus of `criteria` is not measured in `measured`, or is measured another way
        (other layer, filter, unit, travel model, ``within_m``...): the message names it; measure again.
    """
    candidates = measured.candidates
    _check_inputs(candidates, criteria)
    _check_measured(measured, criteria)
    geoms = candidates.geometry.to_numpy()
    parts = []
    for crit in criteria.criteria:  # a score per configured criterion (about 20), each vectorised
        fresh = crit.measure == "attribute" and measured.attribute_specs.get(crit.id) != _attribute_spec(crit)
        part = (_measure(crit, candidates, geoms, {}, None, criteria, measured.meta) if fresh
                else measured.parts[crit.id].copy())
        part["score"] = np.where(part["assessed"], _score_of(crit, part), np.nan)
        parts.append(part)
    weights, contrib, group_scores = _effective_weights(parts, criteria)
    base = contrib.sum(axis=1)
    base[np.isnan(group_scores).all(axis=1)] = np.nan
    bonus_rows = [measured.bonus_rows[b.id].assign(earned=measured.bonus_rows[b.id]["earned"] * b.points)
                  for b in criteria.bonus]
    earned = np.sum([r["earned"].to_numpy() for r in bonus_rows] + [np.zeros(len(geoms))], axis=0)
    total = np.minimum(100.0, base + earned)
    return _assemble(candidates, criteria, parts, (weights, contrib, group_scores), bonus_rows,
                     base, earned, total)


_RESCORABLE = {"weight", "band", "mapping", "title", "why", "group", "points"}
"""Fields of a criterion or bonus that change its score but not its raw value."""


def measurement_key(item: Criterion | Bonus, criteria: Criteria) -> str:
    """A text key of everything that decides `item`'s raw value; equal keys mean the same measurement.

    A travel criterion's key includes the travel model and the largest reach cutoff (one shared access
    computation serves them all). Attribute criteria are read when scoring and have the key ``"attribute"``.
    """
    if isinstance(item, Criterion) and item.measure == "attribute":
        return "attribute"
    spec = item.model_dump(mode="json", exclude=_RESCORABLE)
    if isinstance(item, Criterion) and item.measure in ("travel_time", "reach_sum", "reach_count"):
        spec["_travel"] = criteria.travel.model_dump(mode="json")
        spec["_cutoff_min"] = max((c.within_min or 0.0) for c in criteria.criteria
                                  if c.measure in ("travel_time", "reach_sum", "reach_count"))
    return json.dumps(spec, sort_keys=True)


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
        words = [f"{_num(x)} {unit} → {_score_txt(y)}" for x, y in pts]
        words[0], words[-1] = f"≤ {words[0]}", f"≥ {words[-1]}"
        return ", ".join(words)
    return ", ".join(f"{_(_MAPPING_WORDS[k]) if k in _MAPPING_WORDS else k} → {_score_txt(v)}"
                     for k, v in (crit.mapping or {}).items())


# --------------------------------------------------------------------------- helpers


def _attribute_spec(crit: Criterion) -> str:
    """What an attribute criterion's part depends on (field, mapping or band), as text."""
    return json.dumps(crit.model_dump(mode="json", exclude={"weight", "title", "why", "group"}), sort_keys=True)


def _check_measured(measured: Measurements, criteria: Criteria) -> None:
    """ConfigError when `criteria` need a raw value that `measured` does not hold (as measured)."""
    wrong = [item.id for item in (*criteria.criteria, *criteria.bonus)  # about 20 criteria and a bonus
             if measured.keys.get(item.id) != measurement_key(item, criteria)]
    if wrong:
        raise ConfigError(f"criteria/bonus {wrong} are not measured, or are measured another way (layer, "
                          "filter, unit, travel model, within_m...), in these measurements; only weights, "
                          "bands, mappings and bonus points can change without measuring again: call "
                          "scoring.measure with these criteria")


def _check_inputs(candidates: gpd.GeoDataFrame, criteria: Criteria) -> None:
    require_crs(candidates, "candidates")
    if "application_id" not in candidates.columns:
        raise SubmissionError([f"candidates: column 'application_id' is missing; columns are "
                               f"{list(candidates.columns)}; load them with submissions.load_submissions"])
    dupes = candidates["application_id"][candidates["application_id"].duplicated()].unique().tolist()
    if dupes:
        raise SubmissionError([f"candidates: application_id values {dupes} occur more than once; "
                               "make them unique"])
    for c in criteria.criteria:  # validate units before any work
        declared_ok = (not c.declared_field or (c.unit in _PER_M and c.declared_unit in _PER_M)
                       or (c.unit == "min" and c.declared_unit in (*_PER_M, "min")))
        bad = ((c.measure == "distance" and c.unit not in _PER_M)
               or (c.measure == "travel_time" and c.unit != "min") or not declared_ok
               or (c.mapping and any(not 0.0 <= v <= 1.0 for v in c.mapping.values())))
        if bad:
            raise ConfigError(f"criterion {c.id}: unit {c.unit!r} / declared_unit {c.declared_unit!r} does "
                              f"not fit measure {c.measure}; use m or km for distance, min for travel_time, "
                              "declared_unit m or km (or min for a min criterion); mapping scores must lie "
                              "in 0..1")


def _travel_access(geoms, candidates, layers, criteria):
    """The sites' access to the road network (built once per road layer), shared by all travel criteria;
    the straight-line fallback without a road layer; None if no travel criterion is measurable."""
    used = [c for c in criteria.criteria
            if c.measure in ("travel_time", "reach_sum", "reach_count") and c.layer in layers]
    if not used:
        return None
    cfg = criteria.travel
    network = travel_mod.network_for(layers[cfg.road_layer], cfg) if cfg.road_layer in layers else None
    return travel_mod.access(gpd.GeoSeries(geoms, crs=candidates.crs), travel=cfg, network=network,
                             cutoff_min=max((c.within_min or 0.0) for c in used))


def _measure(crit, candidates, geoms, layers, acc, criteria, meta) -> pd.DataFrame:
    """Raw values and their explanation for one criterion, one row per candidate (positional)."""
    n = len(geoms)
    if crit.measure == "attribute":
        return _attribute(crit, candidates)
    if crit.layer not in layers:
        why = meta.get(crit.layer, {}).get("missing")
        missing = (_("layer %(layer)s not available (%(why)s)", layer=crit.layer, why=why) if why
                   else _("layer %(layer)s not available", layer=crit.layer))
        if crit.declared_field:
            return _declared(crit, candidates, criteria.travel, missing)
        return _frame(n, note=missing, layer=crit.layer)
    feats = layers[crit.layer]
    require_crs(feats, f"layer {crit.layer!r}")
    if crit.filter.where or crit.filter.require:

        feats = _kept.filtered(feats, crit.filter, what=f"layer {crit.layer!r} (criterion {crit.id})")
    src, date = _provenance(crit.layer, layers, meta)
    if feats.empty:
        return _frame(n, note=_("no feature of layer %(layer)s passes the filter of %(criterion)s",
                                layer=crit.layer, criterion=crit.id),
                      layer=crit.layer, source=src, date=date)
    out = _frame(n, layer=crit.layer, source=src, date=date)
    fgeoms = feats.geometry.to_numpy()
    if crit.measure == "distance":
        dist, which = travel_mod.nearest_distance(geoms, fgeoms)
        hit = which >= 0
        out.loc[hit, "raw_value"] = dist[hit] / _PER_M[crit.unit]
        out.loc[hit, "nearest"] = _labels(feats, crit)[which[hit]]
        out["method"] = _("straight line")
    elif crit.measure == "travel_time":
        near = travel_mod.nearest_minutes(acc, feats)
        hit = near["target"].to_numpy() >= 0
        out.loc[hit, "raw_value"] = near.loc[hit, "travel_min"]
        out.loc[hit, "nearest"] = _labels(feats, crit)[near.loc[hit, "target"].to_numpy()]
        out["method"] = near["method"]
        out["source"] = travel_mod.with_road_source(src, acc)
    else:
        if crit.measure == "reach_sum" and crit.value_column not in feats.columns:
            raise LayerDataError(f"layer {crit.layer!r} has no column {crit.value_column!r} for criterion "
                                 f"{crit.id}; columns are {list(feats.columns)}")
        values = feats[crit.value_column] if crit.measure == "reach_sum" else None
        got = travel_mod.reach(acc, feats, crit.within_min, values=values,
                               labels=_labels(feats, crit) if crit.label_column else None)
        out["raw_value"] = got["reach_sum" if crit.measure == "reach_sum" else "reach_count"].astype(float)
        out["nearest"] = travel_mod.reach_text(got, crit.layer, crit.within_min)
        out["method"] = got["method"]
        out["source"] = travel_mod.with_road_source(src, acc)
    out["assessed"] = out["raw_value"].notna()
    out.loc[~out["assessed"], "note"] = _("empty site geometry or no reachable feature")
    return out


def _declared(crit: Criterion, candidates, travel, missing: str) -> pd.DataFrame:
    """The submission's declared value stands in for a missing layer (e.g. road km to the motorway)."""
    n = len(candidates)
    why = _("%(missing)s and the submission does not state %(field)s", missing=missing, field=crit.declared_field)
    if crit.declared_field not in candidates.columns:
        return _frame(n, note=why, layer=crit.layer)
    value = pd.to_numeric(candidates[crit.declared_field], errors="coerce").to_numpy(dtype=float)
    out = _frame(n, note=why, layer=crit.layer, source=_submission_source(candidates))
    ok = ~np.isnan(value) & (value >= 0)
    negative = ~np.isnan(value) & (value < 0)
    out.loc[negative, "note"] = _("%(missing)s; the declared %(field)s is negative", missing=missing,
                                  field=crit.declared_field)
    if crit.unit == "min" and crit.declared_unit in _PER_M:
        raw = value * _PER_M[crit.declared_unit] / 1000.0 / travel.fallback_speed_kmh * 60.0
        speed = _num(travel.fallback_speed_kmh)
        method = [_("declared by municipality: %(value)s %(unit)s road distance at %(speed)s km/h", value=_num(v),
                    unit=crit.declared_unit, speed=speed) for v in value]
    else:
        per_unit = {**_PER_M, "min": 1.0}  # same kind by _check_inputs: m/km to m/km, or min to min
        raw = value * per_unit[crit.declared_unit] / per_unit[crit.unit]
        method = [_("declared by municipality: %(value)s %(unit)s", value=_num(v), unit=crit.declared_unit)
                  for v in value]
    out.loc[ok, "raw_value"] = raw[ok]
    out.loc[ok, "method"] = np.asarray(method, dtype=object)[ok]
    out.loc[ok, "note"] = ""
    out["assessed"] = ok
    return out


def _attribute(crit: Criterion, candidates) -> pd.DataFrame:
    """A submission field through ``mapping`` (``present``/``absent`` keys allowed) or a numeric ``band``."""
    n = len(candidates)
    if crit.field not in candidates.columns:
        return _frame(n, note=_("the submission does not state %(field)s", field=crit.field))
    col = candidates[crit.field]
    text = col.astype(object).where(col.notna(), "").astype(str).str.strip()
    empty = (text == "").to_numpy()
    out = _frame(n, source=_submission_source(candidates), method=_(_DECLARED))
    out["raw_value"] = np.where(empty, None, col.astype(object).to_numpy())
    if crit.mapping is not None:
        keys = {k.lower(): k for k in crit.mapping}
        key = text.str.lower().map(keys).to_numpy(dtype=object)
        if "present" in crit.mapping:
            key = np.where(pd.isna(key) & ~empty, "present", key)
        if "absent" in crit.mapping:
            key = np.where(empty, "absent", key)
            out.loc[empty, "raw_value"] = _("(not stated)")
        value = np.array([np.nan if pd.isna(k) else crit.mapping[k] for k in key])
        bad = np.isnan(value) & ~empty
        out.loc[bad, "note"] = [_("value %(value)s of %(field)s is not one of %(allowed)s", value=repr(v),
                                  field=crit.field, allowed=list(crit.mapping)) for v in text[bad]]
    else:
        value = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        bad = np.isnan(value) & ~empty
        out.loc[bad, "note"] = [_("value %(value)s of %(field)s is not a number", value=repr(v), field=crit.field)
                                for v in text[bad]]
    lacking = _file_lacks(candidates, crit.field)  # the row's file has no such column: not assessed, not absent
    value = np.where(lacking, np.nan, value)
    out["assessed"] = ~np.isnan(value)
    out.loc[empty & ~out["assessed"].to_numpy(), "note"] = _("the submission does not state %(field)s",
                                                             field=crit.field)
    if lacking.any():
        out.loc[lacking, "raw_value"] = None
        out.loc[lacking, "note"] = [_("%(file)s has no %(field)s field (not assessed, not 'absent')", file=f,
                                      field=crit.field) for f in candidates["source_file"].to_numpy()[lacking]]
    out.loc[~out["assessed"], "method"] = ""
    out["_value"] = value
    return out


def _file_lacks(candidates, field: str) -> np.ndarray:
    """Rows whose submission file has no `field` column at all, though another file screened with it has
    (``fields_absent``, comma-separated, set by `submissions.load_submissions`)."""
    if "fields_absent" not in candidates.columns:
        return np.zeros(len(candidates), dtype=bool)
    listed = candidates["fields_absent"].fillna("").astype(str).str.split(",")
    return listed.map(lambda names: field in names).to_numpy(dtype=bool)


def _score_of(crit: Criterion, part: pd.DataFrame) -> np.ndarray:
    """0–1 score of each row: the mapped value, or the band applied to the numeric value."""
    if crit.measure == "attribute" and "_value" not in part.columns:  # field absent: nothing to score
        return np.full(len(part), np.nan)
    if "_value" in part.columns:  # attribute criteria carry their numeric value beside the raw text
        value = part["_value"].to_numpy(dtype=float)
        return value if crit.mapping is not None else band_score(crit.band.points, value)
    return band_score(crit.band.points, pd.to_numeric(part["raw_value"], errors="coerce"))


def _effective_weights(parts, criteria: Criteria):
    """Effective weights (points of 100), contributions, group scores (0–100); arrays n x criteria/groups."""
    gid = [g.id for g in criteria.groups]
    group_w = np.array([g.weight for g in criteria.groups], dtype=float)
    member = np.array([[c.group == g for g in gid] for c in criteria.criteria], dtype=float)  # C x G
    cw = np.array([c.weight for c in criteria.criteria], dtype=float)
    assessed = np.column_stack([p["assessed"].to_numpy(dtype=bool) for p in parts])  # n x C
    s = np.column_stack([p["score"].to_numpy(dtype=float) for p in parts])
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


def _bonus(b: Bonus, candidates, geoms, layers, meta) -> pd.DataFrame:
    """Bonus points: within ``within_m`` of a layer feature, or the declared field true."""
    n = len(geoms)
    layer_ok = bool(b.layer) and b.layer in layers
    field_ok = bool(b.field) and b.field in candidates.columns
    hit, known = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    out = _frame(n, layer=b.layer or "")
    methods = np.full(n, "", dtype=object)
    if layer_ok:
        src, date = _provenance(b.layer, layers, meta)
        out["source"], out["date"] = src, date
        dist, which = travel_mod.nearest_distance(geoms, layers[b.layer].geometry.to_numpy())
        known = which >= 0
        out.loc[known, "raw_value"] = dist[known]
        hit = known & (dist <= b.within_m)
        methods[known] = _("straight line, within %(limit)s m of %(layer)s", limit=_num(b.within_m), layer=b.layer)
    if field_ok:
        col = candidates[b.field]
        stated = col.notna().to_numpy() & (col.astype(str).str.strip() != "").to_numpy()
        yes = stated & col.astype(str).str.strip().str.lower().isin(_TRUE).to_numpy()
        methods[yes & ~hit] = _("declared by municipality: %(field)s = true", field=b.field)
        out.loc[yes & ~hit, "raw_value"] = True
        hit |= yes
        known |= stated
    out["assessed"] = known
    out["earned"] = np.where(hit, b.points, 0.0)
    out["method"] = methods
    why = "; ".join(([_("layer %(layer)s not available", layer=b.layer)] if b.layer and not layer_ok else []) +
                    ([_("the submission does not state %(field)s", field=b.field)] if b.field else []))
    out.loc[~known, "note"] = why or _("nothing to assess it on")
    return out


def _assemble(candidates, criteria, parts, arrays, bonus_rows, base, earned, total):
    """The long breakdown (rows per candidate, in criterion order, bonus last) and the scores frame."""
    weights, contrib, group_scores = arrays
    ids = candidates["application_id"].astype(str).to_numpy()
    frames = []
    for j, (crit, part) in enumerate(zip(criteria.criteria, parts, strict=True)):  # criteria, not features
        frames.append(part.assign(group=crit.group, criterion=crit.id, title=_text(crit.title), unit=crit.unit,
                                  band=band_text(crit), weight=weights[:, j], contribution=contrib[:, j],
                                  _order=j))
    room = np.clip(100.0 - np.nan_to_num(base), 0.0, None)
    for k, (b, row) in enumerate(zip(criteria.bonus, bonus_rows, strict=True)):  # a bonus or two
        applied = np.minimum(row["earned"].to_numpy(), room)
        room = room - applied
        capped = applied < row["earned"].to_numpy() - 1e-12
        note = row["note"].where(~capped, [_("total capped at 100: %(applied)s of %(points)s points applied",
                                             applied=_num(a), points=_num(b.points)) for a in applied])
        frames.append(row.assign(group="bonus", criterion=b.id, title=_text(b.title), unit="points",
                                 band=_bonus_band(b),
                                 score=np.where(row["assessed"], (row["earned"] > 0).astype(float), np.nan),
                                 weight=b.points, contribution=applied, note=note, _order=len(parts) + k))
    long = pd.concat(frames, ignore_index=False)
    long["application_id"] = np.tile(ids, len(frames))
    long["_cand"] = np.tile(np.arange(len(ids)), len(frames))
    breakdown = (long.sort_values(["_cand", "_order"], kind="stable")[list(BREAKDOWN_COLUMNS)]
                 .reset_index(drop=True))
    na = pd.Series("", index=pd.RangeIndex(len(ids)), dtype=object)
    for frame in frames:  # criteria and bonuses (about 20), each vectorised over candidates
        na = na + np.where(frame["assessed"].to_numpy(dtype=bool), "", frame["criterion"] + ", ")
    scores = pd.DataFrame({"score_total": total}, index=pd.Index(ids, name="application_id"))
    for g, gid in enumerate(g.id for g in criteria.groups):
        scores[f"score_{gid}"] = group_scores[:, g]
    scores["bonus_points"] = earned
    scores["not_assessed"] = na.str.removesuffix(", ").to_numpy()
    scores["flagged"] = scores["not_assessed"] != ""
    log.info("scored %d candidates on %d criteria; %d flagged (something not assessed)",
             len(ids), len(criteria.criteria), int(scores["flagged"].sum()))
    return ScoreResult(scores=scores, breakdown=breakdown)


def _bonus_band(b: Bonus) -> str:
    near = _("within %(limit)s m of %(layer)s", limit=_num(b.within_m), layer=b.layer) if b.layer else ""
    declared = _("%(field)s true", field=b.field) if b.field else ""
    ways = _("%(near)s or %(declared)s", near=near, declared=declared) if near and declared else near or declared
    return _("%(ways)s → %(points)s points", ways=ways, points=_num(b.points))


def _frame(n: int, *, note: str = "", layer: str = "", source: str = "", date: str = "", method: str = ""):
    """Empty per-candidate rows (not assessed) with the given explanation fields."""
    return pd.DataFrame({"raw_value": pd.Series([None] * n, dtype=object),
                         "assessed": np.zeros(n, dtype=bool), "method": method, "nearest": "", "note": note,
                         "layer": layer, "source": source, "date": date}, index=pd.RangeIndex(n))


def _labels(feats: gpd.GeoDataFrame, crit: Criterion) -> np.ndarray:
    """Label per feature: ``label_column`` value, with the voltage appended where the layer has one; kept per
    layer, criterion labelling and language (`screening._kept`: a preview labels no layer again)."""
    key = (crit.label_template, crit.label_column)
    return _kept.kept("criterion_labels", feats, key, lambda: _feature_labels(feats, crit))


def _feature_labels(feats: gpd.GeoDataFrame, crit: Criterion) -> np.ndarray:
    n = len(feats)
    base = pd.Series([""] * n, dtype=object)
    if crit.label_template:  # e.g. "afkørsel {ref} {name}" for motorway exits
        base = pd.Series(travel_mod.template_labels(feats, crit.label_template), dtype=object)
    elif crit.label_column and crit.label_column in feats.columns:
        col = feats[crit.label_column].reset_index(drop=True)
        base = col.astype(object).where(col.notna(), _("unnamed")).astype(str)
    elif crit.label_column:
        log.warning("criterion %s: label column %r not in layer %s", crit.id, crit.label_column, crit.layer)
    kv_col = next((c for c in ("max_voltage_kv", "voltage_kv") if c in feats.columns), None)
    if kv_col is not None:
        kv = pd.to_numeric(feats[kv_col], errors="coerce").reset_index(drop=True)
        kv_txt = kv.map(lambda v: "" if pd.isna(v) else f"{v:g} kV")
        both = np.where(base == "", kv_txt, base + " (" + kv_txt + ")")
        named = base.str.contains(r"\bkV\b", regex=True).to_numpy()  # "400/132 kV Ishøj" says it already
        base = pd.Series(np.where((kv_txt == "") | named, base, both))
    return base.to_numpy(dtype=object)


def _provenance(layer_id: str, layers, meta) -> tuple[str, str]:
    attrs = getattr(layers.get(layer_id), "attrs", {}) or {}
    extra = meta.get(layer_id, {})
    return (str(attrs.get("source") or extra.get("source", "")),
            str(attrs.get("date") or extra.get("date", "")))


def _submission_source(candidates) -> object:
    if "source_file" in candidates.columns:
        return ("submission " + candidates["source_file"].astype(str)).to_numpy(dtype=object)
    return "submission"


def _num(x: float) -> str:
    """A number in a text, current language: grouped, no decimals when whole, else up to two."""
    return fmt_number(x, _decimals(x, 2, least=0))


def _score_txt(y: float) -> str:
    """A 0–1 score in a band text: at least one decimal, at most two ("1.0", "0.75")."""
    return fmt_number(y, _decimals(y, 2, least=1))


def _decimals(x: float, most: int, *, least: int) -> int:
    """Decimals `x` needs, between `least` and `most` (trailing zeros dropped)."""
    text = f"{float(x):.{most}f}".rstrip("0")
    return max(least, len(text.split(".")[1]) if "." in text else 0)

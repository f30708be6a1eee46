"""Measuring the criteria: each criterion's raw value and its explanation, one row per candidate.

Internal to `screening.scoring` (`scoring.measure` calls it once per criterion and bonus): distances to the
nearest feature, travel minutes and reach sums through `screening.travel`, declared values standing in for
a missing layer, submission attributes through a mapping or band, the bonus; feature labels and provenance
(layer source and date). No score is made here (`screening._scoring_breakdown`). Texts go through
`screening.i18n`, in the current language.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd

from screening import _kept
from screening import travel as travel_mod
from screening._geo import require_crs
from screening._provenance import source_and_date
from screening._scoring_breakdown import num
from screening.config import Bonus, Criterion
from screening.errors import LayerDataError
from screening.i18n import N_
from screening.i18n import gettext as _

__all__ = ["PER_M", "travel_access", "measure_criterion", "measure_bonus"]

log = logging.getLogger(__name__)

PER_M = {"m": 1.0, "km": 1000.0}
"""Metres per distance unit a criterion may use."""
_DECLARED = N_("declared by municipality")
_TRUE = {"true", "1", "yes", "ja", "y"}


def travel_access(geoms, candidates, layers, criteria):
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


def measure_criterion(crit, candidates, geoms, layers, acc, criteria, meta) -> pd.DataFrame:
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
        return _table(_rows(n, note=missing, layer=crit.layer))
    feats = layers[crit.layer]
    require_crs(feats, f"layer {crit.layer!r}")
    if crit.filter.where or crit.filter.require:
        feats = _kept.filtered(feats, crit.filter, what=f"layer {crit.layer!r} (criterion {crit.id})")
    src, date = _provenance(crit.layer, layers, meta)
    if feats.empty:
        return _table(_rows(n, note=_("no feature of layer %(layer)s passes the filter of %(criterion)s",
                                      layer=crit.layer, criterion=crit.id),
                            layer=crit.layer, source=src, date=date))
    out = _rows(n, layer=crit.layer, source=src, date=date)
    fgeoms = feats.geometry.to_numpy()
    if crit.measure == "distance":
        dist, which = travel_mod.nearest_distance(geoms, fgeoms)
        hit = which >= 0
        out["raw_value"][hit] = dist[hit] / PER_M[crit.unit]
        out["nearest"][hit] = _labels(feats, crit)[which[hit]]
        out["method"][:] = _("straight line")
    elif crit.measure == "travel_time":
        near = travel_mod.nearest_minutes(acc, feats)
        target = near["target"].to_numpy()
        hit = target >= 0
        out["raw_value"][hit] = near["travel_min"].to_numpy()[hit]
        out["nearest"][hit] = _labels(feats, crit)[target[hit]]
        out["method"] = near["method"].to_numpy(dtype=object)
        out["source"] = _texts(travel_mod.with_road_source(src, acc), n)
    else:
        if crit.measure == "reach_sum" and crit.value_column not in feats.columns:
            raise LayerDataError(f"layer {crit.layer!r} has no column {crit.value_column!r} for criterion "
                                 f"{crit.id}; columns are {list(feats.columns)}")
        values = feats[crit.value_column] if crit.measure == "reach_sum" else None
        got = travel_mod.reach(acc, feats, crit.within_min, values=values,
                               labels=_labels(feats, crit) if crit.label_column else None)
        out["raw_value"] = got["reach_sum" if crit.measure == "reach_sum" else "reach_count"].to_numpy(dtype=float)
        out["nearest"] = _texts(travel_mod.reach_text(got, crit.layer, crit.within_min), n)
        out["method"] = got["method"].to_numpy(dtype=object)
        out["source"] = _texts(travel_mod.with_road_source(src, acc), n)
    out["assessed"] = pd.notna(out["raw_value"])
    out["note"][~out["assessed"]] = _("empty site geometry or no reachable feature")
    return _table(out)


def _declared(crit: Criterion, candidates, travel, missing: str) -> pd.DataFrame:
    """The submission's declared value stands in for a missing layer (e.g. road km to the motorway)."""
    n = len(candidates)
    why = _("%(missing)s and the submission does not state %(field)s", missing=missing, field=crit.declared_field)
    if crit.declared_field not in candidates.columns:
        return _table(_rows(n, note=why, layer=crit.layer))
    value = pd.to_numeric(candidates[crit.declared_field], errors="coerce").to_numpy(dtype=float)
    out = _rows(n, note=why, layer=crit.layer, source=_submission_source(candidates))
    ok = ~np.isnan(value) & (value >= 0)
    negative = ~np.isnan(value) & (value < 0)
    out["note"][negative] = _("%(missing)s; the declared %(field)s is negative", missing=missing,
                              field=crit.declared_field)
    if crit.unit == "min" and crit.declared_unit in PER_M:
        raw = value * PER_M[crit.declared_unit] / 1000.0 / travel.fallback_speed_kmh * 60.0
        speed = num(travel.fallback_speed_kmh)
        method = [_("declared by municipality: %(value)s %(unit)s road distance at %(speed)s km/h", value=num(v),
                    unit=crit.declared_unit, speed=speed) for v in value]
    else:
        per_unit = {**PER_M, "min": 1.0}  # same kind by scoring._check_inputs: m/km to m/km, or min to min
        raw = value * per_unit[crit.declared_unit] / per_unit[crit.unit]
        method = [_("declared by municipality: %(value)s %(unit)s", value=num(v), unit=crit.declared_unit)
                  for v in value]
    out["raw_value"][ok] = raw[ok]
    out["method"][ok] = np.asarray(method, dtype=object)[ok]
    out["note"][ok] = ""
    out["assessed"] = ok
    return _table(out)


def _attribute(crit: Criterion, candidates) -> pd.DataFrame:
    """A submission field through ``mapping`` (``present``/``absent`` keys allowed) or a numeric ``band``."""
    n = len(candidates)
    if crit.field not in candidates.columns:
        return _table(_rows(n, note=_("the submission does not state %(field)s", field=crit.field)))
    col = candidates[crit.field]
    given = col.astype(object).to_numpy()
    text = np.array(["" if pd.isna(v) else str(v).strip() for v in given], dtype=object)  # a submission's rows
    empty = text == ""
    out = _rows(n, source=_submission_source(candidates), method=_(_DECLARED))
    out["raw_value"] = np.where(empty, None, given)
    if crit.mapping is not None:
        keys = {k.lower(): k for k in crit.mapping}
        key = np.array([keys.get(t.lower()) for t in text], dtype=object)
        if "present" in crit.mapping:
            key[(key == None) & ~empty] = "present"  # noqa: E711 (elementwise on an object array)
        if "absent" in crit.mapping:
            key[empty] = "absent"
            out["raw_value"][empty] = _("(not stated)")
        value = np.array([np.nan if k is None else crit.mapping[k] for k in key], dtype=float)  # NaN: no key
        bad = np.isnan(value) & ~empty
        out["note"][bad] = [_("value %(value)s of %(field)s is not one of %(allowed)s", value=repr(v),
                              field=crit.field, allowed=list(crit.mapping)) for v in text[bad]]
    else:
        value = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        bad = np.isnan(value) & ~empty
        out["note"][bad] = [_("value %(value)s of %(field)s is not a number", value=repr(v), field=crit.field)
                            for v in text[bad]]
    lacking = _file_lacks(candidates, crit.field)  # the row's file has no such column: not assessed, not absent
    value = np.where(lacking, np.nan, value)
    out["assessed"] = ~np.isnan(value)
    out["note"][empty & ~out["assessed"]] = _("the submission does not state %(field)s", field=crit.field)
    if lacking.any():
        out["raw_value"][lacking] = None
        out["note"][lacking] = [_("%(file)s has no %(field)s field (not assessed, not 'absent')", file=f,
                                  field=crit.field) for f in candidates["source_file"].to_numpy()[lacking]]
    out["method"][~out["assessed"]] = ""
    out["_value"] = value
    return _table(out, infer_raw=True)


def _file_lacks(candidates, field: str) -> np.ndarray:
    """Rows whose submission file has no `field` column at all, though another file screened with it has
    (``fields_absent``, comma-separated, set by `submissions.load_submissions`)."""
    if "fields_absent" not in candidates.columns:
        return np.zeros(len(candidates), dtype=bool)
    listed = candidates["fields_absent"].fillna("").astype(str).str.split(",")
    return listed.map(lambda names: field in names).to_numpy(dtype=bool)


def measure_bonus(b: Bonus, candidates, geoms, layers, meta) -> pd.DataFrame:
    """Bonus points: within ``within_m`` of a layer feature, or the declared field true."""
    n = len(geoms)
    layer_ok = bool(b.layer) and b.layer in layers
    field_ok = bool(b.field) and b.field in candidates.columns
    hit, known = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    out = _rows(n, layer=b.layer or "")
    methods = np.full(n, "", dtype=object)
    if layer_ok:
        src, date = _provenance(b.layer, layers, meta)
        out["source"][:], out["date"][:] = src, date
        dist, which = travel_mod.nearest_distance(geoms, layers[b.layer].geometry.to_numpy())
        known = which >= 0
        out["raw_value"][known] = dist[known]
        hit = known & (dist <= b.within_m)
        methods[known] = _("straight line, within %(limit)s m of %(layer)s", limit=num(b.within_m), layer=b.layer)
    if field_ok:
        col = candidates[b.field]
        stated = col.notna().to_numpy() & (col.astype(str).str.strip() != "").to_numpy()
        yes = stated & col.astype(str).str.strip().str.lower().isin(_TRUE).to_numpy()
        methods[yes & ~hit] = _("declared by municipality: %(field)s = true", field=b.field)
        out["raw_value"][yes & ~hit] = True
        hit |= yes
        known |= stated
    out["assessed"] = known
    out["earned"] = np.where(hit, b.points, 0.0)
    out["method"] = methods
    why = "; ".join(([_("layer %(layer)s not available", layer=b.layer)] if b.layer and not layer_ok else []) +
                    ([_("the submission does not state %(field)s", field=b.field)] if b.field else []))
    out["note"][~known] = why or _("nothing to assess it on")
    return _table(out)


def _rows(n: int, *, note: str = "", layer: str = "", source="", date: str = "", method: str = "") -> dict:
    """Empty per-candidate rows (not assessed) with the given explanation fields, as arrays by column (filled
    in place; `_table` makes the frame once: a preview measures one site, where per-call frame edits cost
    more than the measuring)."""
    return {"raw_value": np.full(n, None, dtype=object), "assessed": np.zeros(n, dtype=bool),
            "method": _texts(method, n), "nearest": _texts("", n), "note": _texts(note, n),
            "layer": _texts(layer, n), "source": _texts(source, n), "date": _texts(date, n)}


def _texts(value, n: int) -> np.ndarray:
    """`value` (a text, or one per candidate) as an object array of `n` texts."""
    if isinstance(value, str):
        return np.full(n, value, dtype=object)
    return np.asarray(value, dtype=object).copy()


def _table(rows: dict, *, infer_raw: bool = False) -> pd.DataFrame:
    """The rows as a frame: the texts inferred as str; ``raw_value`` too when `infer_raw` (a submission
    field's values, text when they all are), else as it is (object, or float)."""
    raw = rows["raw_value"]
    keep = raw.dtype == object and not infer_raw
    return pd.DataFrame({**rows, "raw_value": pd.Series(raw, dtype=object) if keep else raw},
                        index=pd.RangeIndex(len(raw)))


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
    source, date_ = source_and_date(attrs)
    return source or str(extra.get("source", "")), date_ or str(extra.get("date", ""))


def _submission_source(candidates) -> object:
    if "source_file" in candidates.columns:
        return ("submission " + candidates["source_file"].astype(str)).to_numpy(dtype=object)
    return "submission"

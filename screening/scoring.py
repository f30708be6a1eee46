"""Scoring: each criterion's raw value -> 0–1 band -> effective weight -> a 0–100 total with a breakdown.

The public face of the scoring: `measure` (raw values, once; the criteria are measured in
`screening._scoring_measure`) and `score_measured` (bands, weights, bonus points; the breakdown and its texts
are made in `screening._scoring_breakdown`), `score` doing both.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from screening._geo import require_crs
from screening._scoring_breakdown import _MAPPING_WORDS as _MAPPING_WORDS  # read by the cards' figures
from screening._scoring_breakdown import BREAKDOWN_COLUMNS, band_score, band_text
from screening._scoring_breakdown import assemble as _assemble
from screening._scoring_breakdown import effective_weights as _effective_weights
from screening._scoring_breakdown import score_of as _score_of
from screening._scoring_measure import PER_M as _PER_M
from screening._scoring_measure import measure_bonus as _bonus
from screening._scoring_measure import measure_criterion as _measure
from screening._scoring_measure import travel_access as _travel_access
from screening.config import Bonus, Criteria, Criterion
from screening.errors import ConfigError, SubmissionError

__all__ = ["ScoreResult", "Measurements", "BREAKDOWN_COLUMNS", "score", "measure", "score_measured",
           "measurement_key", "band_score", "band_text"]

log = logging.getLogger(__name__)


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
    titles, bonus points, selection and sensitivity rules). The measured parts are read, never modified.

    Raises
    ------
    ConfigError
        If a criterion or bonus of `criteria` is not measured in `measured`, or is measured another way
        (other layer, filter, unit, travel model, ``within_m``...): the message names it; measure again.
    """
    candidates = measured.candidates
    _check_inputs(candidates, criteria)
    _check_measured(measured, criteria)
    n = len(candidates)
    parts = []
    for crit in criteria.criteria:  # a part per configured criterion (about 20), each vectorised
        fresh = crit.measure == "attribute" and measured.attribute_specs.get(crit.id) != _attribute_spec(crit)
        parts.append(_measure(crit, candidates, candidates.geometry.to_numpy(), {}, None, criteria, measured.meta)
                     if fresh else measured.parts[crit.id])
    scores = np.column_stack([_score_of(c, p) for c, p in zip(criteria.criteria, parts, strict=True)]) \
        if parts else np.zeros((n, 0))
    assessed = np.column_stack([p["assessed"].to_numpy(dtype=bool) for p in parts]) if parts \
        else np.zeros((n, 0), dtype=bool)
    weights, contrib, group_scores = _effective_weights(assessed, scores, criteria)
    base = contrib.sum(axis=1)
    base[np.isnan(group_scores).all(axis=1)] = np.nan
    bonus_rows = [measured.bonus_rows[b.id].assign(earned=measured.bonus_rows[b.id]["earned"] * b.points)
                  for b in criteria.bonus]  # a bonus or two
    earned = np.sum([r["earned"].to_numpy() for r in bonus_rows] + [np.zeros(n)], axis=0)
    total = np.minimum(100.0, base + earned)
    table, breakdown = _assemble(candidates["application_id"].astype(str).to_numpy(), criteria, parts, scores,
                                 (weights, contrib, group_scores), bonus_rows, base, earned, total)
    return ScoreResult(scores=table, breakdown=breakdown)


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

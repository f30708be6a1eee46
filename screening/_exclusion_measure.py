"""One exclusion rule measured for every candidate: overlap, distance, cut and the features met.

Internal to `screening.exclusion`. `measure` is one STRtree bulk query of the candidates against the
rule's (filtered) layer or its prepared coverage (`screening.coverage`), a vectorised clip and a grouped
union or sum per candidate; `cut_union_m2` unites the cuts of several rules per candidate. All geometries
are EPSG:25832 (metres); areas are square metres here, hectares in the results.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from screening import _kept, _labels, coverage
from screening._geo import M2_PER_HA, require_crs
from screening.config import ExclusionRule
from screening.errors import SubmissionError

__all__ = ["Measure", "check_candidates", "measure", "cut_union_m2"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Measure:
    """Per-candidate measures of one rule (arrays of length n)."""

    overlap_m2: np.ndarray
    distance_m: np.ndarray
    cut_m2: np.ndarray
    cut_geometry: np.ndarray
    features: np.ndarray


def check_candidates(candidates: gpd.GeoDataFrame) -> np.ndarray:
    """The ``application_id`` of each candidate (str); `SubmissionError` listing every missing or repeated
    id and every geometry that is not a valid non-empty (multi)polygon (after `require_crs`)."""
    require_crs(candidates, "candidates")
    if "application_id" not in candidates.columns:
        raise SubmissionError([f"candidates: column 'application_id' is missing; columns are "
                               f"{list(candidates.columns)}. Load them with submissions.load_submissions"])
    ids = candidates["application_id"].astype(str).to_numpy()
    problems = [f"candidates: application_id {d!r} occurs more than once; ids must be unique"
                for d in pd.unique(ids[pd.Series(ids).duplicated().to_numpy()])]
    geoms = candidates.geometry.to_numpy()
    bad_type = ~np.isin(shapely.get_type_id(geoms), [3, 6]) | shapely.is_empty(geoms)
    invalid = ~bad_type & ~shapely.is_valid(geoms)
    problems += [f"candidate {i}: geometry is not a non-empty (multi)polygon" for i in ids[bad_type]]
    problems += [f"candidate {i}: invalid geometry ({r}); repair it (industripark screen --repair)"
                 for i, r in zip(ids[invalid], shapely.is_valid_reason(geoms[invalid]), strict=True)]
    if problems:
        raise SubmissionError(problems)
    return ids


def measure(rule: ExclusionRule, sites: np.ndarray, layer: gpd.GeoDataFrame,
            prepared: gpd.GeoDataFrame | None) -> Measure:
    """The measures of `rule` for each of `sites` (EPSG:25832) against `layer`, or against its `prepared`
    coverage when that was made from this layer version under the same label rules."""
    what = f"rule {rule.id}: layer {rule.layer}"
    if rule.filter.where or rule.filter.require:

        layer = _kept.filtered(layer, rule.filter, what=what)  # the same frame while the layer is loaded
    # kept per layer, rule labelling and language (a preview server labels each layer once)
    labels = _kept.kept("rule_labels", layer, _labels.label_column(rule),
                        lambda: _labels.rule_labels(layer, rule, what=what))
    use_prepared = coverage.usable_prepared(prepared, layer, what=what)
    if use_prepared and prepared.attrs.get("label_column") != _labels.label_column(rule):
        log.warning("%s: prepared layer labels were made under other label rules; using the layer itself", what)
        use_prepared = False
    elif use_prepared and prepared.attrs.get("label_texts") != _labels.label_texts(rule):
        texts, source = _labels.label_texts(rule), prepared  # another language's labels: relabelled once
        key = (id(layer), _labels.label_column(rule), texts)  # the labels of this layer, relabelled once
        prepared = _kept.kept("relabelled", source, key, lambda: _labels.relabelled(source, labels, texts))
    geoms = (prepared if use_prepared else layer).geometry.to_numpy()
    n, buffered = len(sites), rule.buffer_m > 0
    keep_geometry = rule.action == "cut" and not buffered
    hits = coverage.overlap_hits(sites, geoms, disjoint=use_prepared, keep_geometry=keep_geometry)
    distance = np.where(hits.overlap_m2 > 0, 0.0, np.nan)
    pair_site, pair_feature = hits.site, hits.feature
    cut_geometry = hits.geometry if keep_geometry else np.full(n, None, dtype=object)
    if buffered:
        pair_site, pair_feature, dist = coverage.distance_hits(sites, geoms, rule.buffer_m)
        distance = np.full(n, np.inf)
        np.minimum.at(distance, pair_site, dist)
        distance[np.isinf(distance)] = np.nan
        if rule.action == "cut":
            cut_geometry = coverage.buffered_cut(sites, geoms, pair_site, pair_feature, rule.buffer_m)
    has_cut = cut_geometry != None  # noqa: E711 - elementwise test of an object array
    cut_m2 = np.zeros(n)
    cut_m2[has_cut] = shapely.area(cut_geometry[has_cut].astype(object))
    ignored = cut_m2 <= rule.tolerance_ha * M2_PER_HA
    cut_m2[ignored], cut_geometry[ignored] = 0.0, None
    features = _labels.site_labels(sites, layer, labels, prepared if use_prepared else None, pair_site,
                                   pair_feature, rule.buffer_m)
    return Measure(hits.overlap_m2, distance, cut_m2, cut_geometry, features)


def cut_union_m2(cuts: list[Measure], n: int) -> np.ndarray:
    """Area of the union of all cut geometries per candidate, m² (a sum only where one rule cuts)."""
    total = np.zeros(n)
    if not cuts:
        return total
    count = np.sum([m.cut_m2 > 0 for m in cuts], axis=0)
    for m in cuts:  # cut rules: a handful
        total += np.where(count == 1, m.cut_m2, 0.0)
    several = np.flatnonzero(count > 1)
    if len(several):
        geoms = np.concatenate([m.cut_geometry[several] for m in cuts])
        group = np.tile(np.arange(len(several)), len(cuts))
        keep = geoms != None  # noqa: E711
        union = coverage.union_by_group(geoms[keep], group[keep], len(several))
        total[several] = shapely.area(union.astype(object))
    return total

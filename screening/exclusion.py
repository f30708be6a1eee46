"""Exclusion: the declared rules of ``layers/criteria.yaml`` evaluated for all candidates, one pass per rule.

Each rule is one STRtree bulk query of the candidates against the rule's layer (or its prepared coverage,
see `screening.coverage`), a vectorised clip, and a grouped union or sum per candidate; no Python loop
runs over the features of a layer. All geometries are EPSG:25832 (metres); areas are hectares.
A provisional copy of a layer decides like the official one, and every text it takes part in says so; a
copy covering only part of the country makes the rule missing for the sites outside it (see `evaluate`).
Measuring one rule is `screening._exclusion_measure`, its rows and reason texts `screening._exclusion_rows`,
the zonekort shares `screening._zone_shares` (`zone_shares` is re-exported here).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from screening import _exclusion_measure, _labels, _nature_layers
from screening._exclusion_measure import check_candidates, cut_union_m2
from screening._exclusion_rows import ha, metres, rule_rows, source_text
from screening._geo import M2_PER_HA, require_crs
from screening._zone_shares import zone_rows, zone_shares
from screening.config import Exclusions
from screening.coverage import prepare_layer, prepared_layers
from screening.errors import LayerUnavailableError
from screening.i18n import gettext as _

__all__ = ["ExclusionResult", "SUMMARY_COLUMNS", "OVERLAP_COLUMNS", "OUTSIDE_COLUMNS", "evaluate", "zone_shares",
           "prepare_layer", "prepared_layers"]

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ("excluded", "exclusion_reasons", "net_area_ha", "flags", "incomplete", "landzone_share")
OVERLAP_COLUMNS = ("application_id", "rule_id", "layer", "action", "buffer_m", "overlap_ha", "overlap_share",
                   "distance_m", "cut_ha", "features", "decisive", "source", "provisional")
OUTSIDE_COLUMNS = _nature_layers.OUTSIDE_COLUMNS
MAX_LABELS = _labels.MAX_LABELS
"""At most this many feature labels are named per candidate and rule; the rest are counted."""


@dataclass(frozen=True)
class ExclusionResult:
    """What `evaluate` found.

    ``summary``: DataFrame indexed by ``application_id`` with `SUMMARY_COLUMNS`. ``overlaps``: one row per
    (candidate, rule) that overlaps or comes within the rule's buffer, with `OVERLAP_COLUMNS`
    (``provisional``: the note of a provisional copy, "" for an official layer). ``missing``: rule id ->
    reason, for rules whose layer was not loaded. ``outside_coverage``: one row per (candidate, rule)
    where the site lies wholly or partly outside the coverage of the rule's copy, with
    `OUTSIDE_COLUMNS`. ``provisional``: layer id -> note, for the provisional copies the rules used.
    """

    summary: pd.DataFrame
    overlaps: pd.DataFrame
    missing: dict[str, str] = field(default_factory=dict)
    outside_coverage: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(OUTSIDE_COLUMNS)))
    provisional: dict[str, str] = field(default_factory=dict)



def evaluate(candidates: gpd.GeoDataFrame, layers: Mapping[str, gpd.GeoDataFrame], exclusions: Exclusions, *,
             allow_missing: Iterable[str] = (),
             prepared: Mapping[str, gpd.GeoDataFrame] | None = None) -> ExclusionResult:
    """Evaluate every exclusion rule for every candidate.

    Per rule and candidate: ``overlap_ha`` is the area of the candidate inside the union of the rule's
    (filtered) features, so features overlapping each other count once; ``overlap_share`` is that area
    over the candidate's area (0-1); ``features`` names the features whose interior meets the candidate.

    ``buffer_m`` means "the candidate comes within buffer_m of a feature": features are found with
    ``dwithin`` (distance <= buffer_m between the true geometries) and ``distance_m`` is the shortest such
    distance; ``overlap_ha`` stays the true, unbuffered overlap. Without a buffer, an ``exclude`` rule
    rejects the candidate when ``overlap_ha > tolerance_ha``; with one, whenever a feature lies within
    ``buffer_m`` (a sliver overlap lies within any positive distance, so ``tolerance_ha`` no longer
    matters). A ``cut`` rule removes ``cut_ha`` from the usable area: the overlap, or with a buffer the part
    of the candidate within ``buffer_m`` of its features (only those features are grown, never the
    layer); a cut of at most ``tolerance_ha`` is ignored. ``net_area_ha`` is the candidate's area minus
    the area of the union of all cuts (never a sum), and a candidate whose net area is below
    ``exclusions.min_net_area_ha`` is excluded. A ``flag`` rule is reported in ``flags`` when it would
    have triggered as an exclude rule; ``flags`` also lists each cut. The flag rule on the ``zonekort``
    layer reports the zone shares instead (see `zone_shares`): "62 % landzone: needs planning permission
    (landzonetilladelse)".

    A provisional copy (``attrs['provisional']``, see `screening._nature_layers`) decides like the
    official layer; every reason, flag and overlap row it yields carries "provisional copy of <date>,
    check against the official layer". A copy with a coverage (``attrs['coverage']``) is complete only
    inside it. Its rule is evaluated on every feature the copy has (known nature is cut or excludes
    wherever it lies), and a site wholly outside the coverage carries "incomplete: <layer> missing
    (outside the coverage of the available copy)", a site partly outside "incomplete: <layer> missing
    for 35 % of the site (4.2 ha outside the coverage of the available copy)" - never a silent "no
    overlap". That per-site missing rule needs the layer (or rule) in `allow_missing`, like a missing
    layer; a site wholly inside is complete for the rule. Flag rules are not made incomplete.

    Parameters
    ----------
    candidates
        One row per application: ``application_id`` (unique) and (multi)polygons in EPSG:25832.
    layers
        Loaded layers by catalog id, EPSG:25832; provenance (``source``, ``date``) is read from ``attrs``
        when present. A rule's ``filter`` is applied here.
    exclusions
        The rules and ``min_net_area_ha``.
    allow_missing
        Layer (or rule) ids an ``exclude``/``cut`` rule may lack: it is then recorded in ``missing`` and
        every ``incomplete`` says "incomplete: <layer> missing"; for a copy with a coverage, the sites
        outside it may then be screened without the rule (and say so). A ``flag`` rule's missing layer is
        recorded in ``missing`` only; it does not make the screening incomplete.
    prepared
        Prepared coverages by rule id (`prepared_layers`); used when made from the loaded layer version,
        which gives the same areas without the per-candidate union.

    Returns
    -------
    ExclusionResult

    Raises
    ------
    CRSError
        If the candidates or a layer are not in EPSG:25832.
    LayerUnavailableError
        If an ``exclude``/``cut`` rule's layer is absent and not allowed missing, or a site lies outside the
        coverage of its copy and the layer is not allowed missing; names rule, layer, sites and fix.
    LayerDataError
        If a rule's filter or label column names a column the layer lacks.
    SubmissionError
        If ``application_id`` is missing or repeated, or a geometry is not a valid polygon.
    """
    ids = check_candidates(candidates)
    allow = set(allow_missing)
    missing, incomplete = _missing_rules(exclusions, layers, allow)
    sites = candidates.geometry.to_numpy()
    area_m2 = shapely.area(sites)
    prepared = prepared or {}
    rows, cuts, outside, provisional = [], [], [], {}
    landzone_share = np.full(len(sites), np.nan)
    for rule in exclusions.rules:  # a handful of declared rules, not features
        if rule.id in missing:
            continue
        layer = layers[rule.layer]
        require_crs(layer, f"layer {rule.layer}")
        source = source_text(rule.layer, layer)
        note = _nature_layers.provisional_note(layer)
        if note:
            provisional[rule.layer] = note
        if rule.action != "flag":
            outside.append(_nature_layers.outside_rows(rule, ids, sites, area_m2, layer, allow))
        if rule.measure == "zone_shares" and rule.action == "flag":
            shares = zone_shares(candidates, layer)
            landzone_share = shares["landzone_share"].to_numpy()
            rows.append(zone_rows(rule, ids, shares, source, note))
            continue
        measure = _exclusion_measure.measure(rule, sites, layer, prepared.get(rule.id))
        rows.append(rule_rows(rule, ids, area_m2, measure, source, note))
        if rule.action == "cut":
            cuts.append(measure)
    overlaps = pd.concat([r for r in rows if len(r)] or [pd.DataFrame(columns=[*OVERLAP_COLUMNS, "_text"])],
                         ignore_index=True)
    outside_rows = pd.concat([o for o in outside if len(o)] or [pd.DataFrame(columns=[*OUTSIDE_COLUMNS, "_text"])],
                             ignore_index=True)
    cut_ha = cut_union_m2(cuts, len(sites)) / M2_PER_HA
    summary = _summary(ids, area_m2 / M2_PER_HA, cut_ha, overlaps, exclusions.min_net_area_ha,
                       _nature_layers.incomplete_per_site(ids, incomplete, outside_rows), landzone_share)
    log.info("excluded %d of %d candidates (%d overlap rows, %.1f ha overlap; %d rule(s) missing, %d site(s) "
             "outside a copy's coverage)", int(summary["excluded"].sum()), len(summary), len(overlaps),
             float(overlaps["overlap_ha"].sum()) if len(overlaps) else 0.0, len(missing),
             outside_rows["application_id"].nunique())
    return ExclusionResult(summary=summary, overlaps=overlaps.drop(columns="_text")[list(OVERLAP_COLUMNS)],
                           missing=missing,
                           outside_coverage=outside_rows.drop(columns="_text")[list(OUTSIDE_COLUMNS)],
                           provisional=provisional)


# --------------------------------------------------------------------------- helpers


def _missing_rules(exclusions: Exclusions, layers: Mapping[str, gpd.GeoDataFrame],
                   allow: set[str]) -> tuple[dict[str, str], list[str]]:
    """Rules whose layer is absent: recorded when allowed (or a flag), else `LayerUnavailableError`."""
    missing: dict[str, str] = {}
    incomplete: list[str] = []
    for rule in exclusions.rules:  # a handful of declared rules
        if rule.layer in layers:
            continue
        if rule.action == "flag":
            missing[rule.id] = (f"layer {rule.layer} missing: flag rule {rule.id} not reported "
                                "(a missing flag layer does not make the screening incomplete)")
        elif rule.layer in allow or rule.id in allow:
            missing[rule.id] = f"layer {rule.layer} missing (allowed): {rule.action} rule {rule.id} not run"
            incomplete.append(_("incomplete: %(layer)s missing", layer=rule.layer))
        else:
            msg = (f"exclusion rule {rule.id!r} ({rule.action}) needs layer {rule.layer!r}, which is not "
                   f"loaded. Provide it (put the file in the mirror or run 'industripark layers fetch "
                   f"{rule.layer}') or pass --allow-missing {rule.layer} to screen without it (every output "
                   f"then says 'incomplete: {rule.layer} missing')")
            raise LayerUnavailableError(msg)
    for rule_id, reason in missing.items():
        log.warning("exclusion rule %s: %s", rule_id, reason)
    return missing, list(dict.fromkeys(incomplete))


def _summary(ids, area_ha, cut_ha, overlaps, min_net_ha, incomplete, landzone_share) -> pd.DataFrame:
    index = pd.Index(ids, name="application_id")
    reasons = overlaps.loc[overlaps["decisive"].astype(bool) & (overlaps["action"] == "exclude")]
    reported = overlaps.loc[(overlaps["action"] != "exclude") & (overlaps["_text"] != "")]
    text, flags = (_labels.join_groups(index.get_indexer(rows["application_id"]),
                                (rows["_text"] + " — " + rows["source"]).to_numpy(dtype=object), len(ids))
                   for rows in (reasons, reported))
    net_ha = area_ha - cut_ha
    summary = pd.DataFrame(index=index)
    summary["excluded"] = (text != "") | (net_ha < min_net_ha)
    small = [(_("net usable area %(net)s ha is below the %(min)s ha minimum after %(cut)s ha cut", net=ha(net),
                min=metres(min_net_ha), cut=ha(cut)) if cut > 0 else
              _("net usable area %(net)s ha is below the %(min)s ha minimum", net=ha(net), min=metres(min_net_ha)))
             if net < min_net_ha else "" for net, cut in zip(net_ha, cut_ha, strict=True)]
    summary["exclusion_reasons"] = ["; ".join(x for x in pair if x) for pair in zip(text, small, strict=True)]
    summary["net_area_ha"] = net_ha
    summary["flags"] = flags
    summary["incomplete"] = incomplete
    summary["landzone_share"] = landzone_share
    return summary[list(SUMMARY_COLUMNS)]

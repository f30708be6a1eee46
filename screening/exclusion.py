"""Exclusion: the declared rules of ``layers/criteria.yaml`` evaluated for all candidates, one pass per rule.

Each rule is one STRtree bulk query of the candidates against the rule's layer (or its prepared coverage,
see `screening.coverage`), a vectorised clip, and a grouped union or sum per candidate; no Python loop
runs over the features of a layer. All geometries are EPSG:25832 (metres); areas are hectares.
A provisional copy of a layer decides like the official one, and every text it takes part in says so; a
copy covering only part of the country makes the rule missing for the sites outside it (see `evaluate`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from screening import _kept, _labels, _nature_layers, coverage
from screening._geo import M2_PER_HA, require_crs
from screening.config import ExclusionRule, Exclusions
from screening.coverage import prepare_layer, prepared_layers
from screening.errors import LayerDataError, LayerUnavailableError, SubmissionError
from screening.i18n import N_, fmt_number
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
_ZONES = {"landzone_ha": N_("landzone"), "byzone_ha": N_("byzone"), "sommerhus_ha": N_("sommerhusområde"),
          "mixed_ha": N_("mixed zone codes 4-7")}
"""Zone share columns and their names in texts (translated where used)."""


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


@dataclass(frozen=True)
class _Measure:
    """Per-candidate measures of one rule (arrays of length n)."""

    overlap_m2: np.ndarray
    distance_m: np.ndarray
    cut_m2: np.ndarray
    cut_geometry: np.ndarray
    features: np.ndarray


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
    ids = _check_candidates(candidates)
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
        source = _source_text(rule.layer, layer)
        note = _nature_layers.provisional_note(layer)
        if note:
            provisional[rule.layer] = note
        if rule.action != "flag":
            outside.append(_nature_layers.outside_rows(rule, ids, sites, area_m2, layer, allow))
        if rule.measure == "zone_shares" and rule.action == "flag":
            shares = zone_shares(candidates, layer)
            landzone_share = shares["landzone_share"].to_numpy()
            rows.append(_zone_rows(rule, ids, shares, source, note))
            continue
        measure = _measure(rule, sites, layer, prepared.get(rule.id))
        rows.append(_rule_rows(rule, ids, area_m2, measure, source, note))
        if rule.action == "cut":
            cuts.append(measure)
    overlaps = pd.concat([r for r in rows if len(r)] or [pd.DataFrame(columns=[*OVERLAP_COLUMNS, "_text"])],
                         ignore_index=True)
    outside_rows = pd.concat([o for o in outside if len(o)] or [pd.DataFrame(columns=[*OUTSIDE_COLUMNS, "_text"])],
                             ignore_index=True)
    cut_ha = _cut_union_m2(cuts, len(sites)) / M2_PER_HA
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


def zone_shares(candidates: gpd.GeoDataFrame, zonekort: gpd.GeoDataFrame) -> pd.DataFrame:
    """Hectares of each candidate in byzone, sommerhusområde, mixed zone codes and landzone.

    Plandata zone codes: 1 byzone, 2 landzone, 3 sommerhusområde, 4-7 mixed statuses. Land covered by no
    zonekort polygon is landzone. Where polygons overlap, byzone takes precedence over sommerhusområde,
    which takes precedence over the mixed codes, so the four areas sum to the candidate's area.

    Parameters
    ----------
    candidates
        ``application_id`` and (multi)polygons, EPSG:25832.
    zonekort
        Zone polygons with a ``zone`` column, EPSG:25832.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``application_id``: ``byzone_ha``, ``sommerhus_ha``, ``mixed_ha``, ``landzone_ha``
        (hectares) and ``landzone_share`` (0-1).

    Raises
    ------
    LayerDataError
        When `zonekort` has no ``zone`` column.
    """
    ids = _check_candidates(candidates)
    require_crs(zonekort, "layer zonekort")
    if "zone" not in zonekort.columns:
        msg = f"layer zonekort: column 'zone' not found; columns: {list(zonekort.columns)}; see catalog.yaml"
        raise LayerDataError(msg)
    codes = pd.to_numeric(zonekort["zone"], errors="coerce").to_numpy()
    unknown = int((~np.isin(codes, [1, 2, 3, 4, 5, 6, 7])).sum())
    if unknown:
        log.warning("layer zonekort: %d polygons with a zone code outside 1-7 count as landzone", unknown)
    sites, geoms = candidates.geometry.to_numpy(), zonekort.geometry.to_numpy()
    area = shapely.area(sites)
    covered = []
    for codes_so_far in ([1], [1, 3], [1, 3, 4, 5, 6, 7]):  # three nested zone classes, not features
        covered.append(coverage.overlap_hits(sites, geoms[np.isin(codes, codes_so_far)]).overlap_m2)
    by, by_som, by_som_mixed = covered
    land = np.clip(area - by_som_mixed, 0.0, None)
    return pd.DataFrame({
        "byzone_ha": by / M2_PER_HA,
        "sommerhus_ha": np.clip(by_som - by, 0.0, None) / M2_PER_HA,
        "mixed_ha": np.clip(by_som_mixed - by_som, 0.0, None) / M2_PER_HA,
        "landzone_ha": land / M2_PER_HA,
        "landzone_share": np.divide(land, area, out=np.zeros_like(area), where=area > 0),
    }, index=pd.Index(ids, name="application_id"))


# --------------------------------------------------------------------------- helpers


def _check_candidates(candidates: gpd.GeoDataFrame) -> np.ndarray:
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


def _measure(rule: ExclusionRule, sites: np.ndarray, layer: gpd.GeoDataFrame,
             prepared: gpd.GeoDataFrame | None) -> _Measure:
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
    return _Measure(hits.overlap_m2, distance, cut_m2, cut_geometry, features)


def _rule_rows(rule: ExclusionRule, ids: np.ndarray, area_m2: np.ndarray, m: _Measure, source: str,
               note: str = "") -> pd.DataFrame:
    within = ~np.isnan(m.distance_m) & (m.distance_m <= rule.buffer_m)
    hit = (m.overlap_m2 > 0) | (within if rule.buffer_m > 0 else False) | (m.cut_m2 > 0)
    overlap_ha, cut_ha = m.overlap_m2 / M2_PER_HA, m.cut_m2 / M2_PER_HA
    share = np.divide(m.overlap_m2, area_m2, out=np.zeros_like(area_m2), where=area_m2 > 0)
    triggered = within if rule.buffer_m > 0 else overlap_ha > rule.tolerance_ha
    decisive = {"exclude": triggered, "cut": cut_ha > 0, "flag": np.zeros(len(ids), dtype=bool)}[rule.action]
    reported = cut_ha > 0 if rule.action == "cut" else triggered
    text = [_text(rule, f, o, s, d, c, a) + (f" — {note}" if note else "") if r else ""  # one per candidate
            for f, o, s, d, c, a, r in zip(m.features, overlap_ha, share, m.distance_m, cut_ha,
                                           area_m2 / M2_PER_HA, reported, strict=True)]
    return _rows(rule, ids, source, hit, note, overlap_ha=overlap_ha, overlap_share=share,
                 distance_m=m.distance_m, cut_ha=cut_ha, features=m.features, decisive=decisive, _text=text)


def _rows(rule: ExclusionRule, ids: np.ndarray, source: str, keep: np.ndarray, note: str = "",
          **columns) -> pd.DataFrame:
    head = {"application_id": ids, "rule_id": rule.id, "layer": rule.layer, "action": rule.action,
            "buffer_m": float(rule.buffer_m)}
    rows = pd.DataFrame({**head, **columns, "source": source, "provisional": note})
    return rows.loc[keep].reset_index(drop=True)


def _text(rule: ExclusionRule, features: str, overlap_ha: float, share: float, distance_m: float,
          cut_ha: float, area_ha: float) -> str:
    names = features.replace("; ", ", ")
    limit = _metres(rule.buffer_m)
    if rule.action == "cut":
        values = {"ha": _ha(cut_ha), "pct": fmt_number(100 * cut_ha / area_ha, 1), "limit": limit}
        what = (_("%(ha)s ha cut (%(pct)s %%) within %(limit)s m", **values) if rule.buffer_m > 0
                else _("%(ha)s ha cut (%(pct)s %%)", **values))
    elif rule.buffer_m > 0 and overlap_ha > 0:
        what = _("%(ha)s ha overlap (%(pct)s %%), within the %(limit)s m limit", ha=_ha(overlap_ha),
                 pct=fmt_number(100 * share, 1), limit=limit)
    elif rule.buffer_m > 0:
        what = _("%(distance)s m away, within the %(limit)s m limit", distance=fmt_number(distance_m), limit=limit)
    else:
        what = _("%(ha)s ha overlap (%(pct)s %%)", ha=_ha(overlap_ha), pct=fmt_number(100 * share, 1))
    return _("%(features)s: %(what)s", features=names, what=what)


def _zone_rows(rule: ExclusionRule, ids: np.ndarray, shares: pd.DataFrame, source: str, note: str = ""
               ) -> pd.DataFrame:
    ha = shares[list(_ZONES)].to_numpy()
    pct = 100 * ha / np.maximum(ha.sum(axis=1), 1e-12)[:, None]
    names = [_(name) for name in _ZONES.values()]
    features = ["; ".join(_("%(zone)s %(pct)s %%", zone=name, pct=fmt_number(p)) for name, p in
                          zip(names, row, strict=True) if p > 0) for row in pct]  # one string per candidate
    text = [(_("%(pct)s %% landzone: needs planning permission (landzonetilladelse), %(mixed)s %% mixed zone codes: "
               "check", pct=fmt_number(row[0]), mixed=fmt_number(row[3])) if row[3] > 0 else
             _("%(pct)s %% landzone: needs planning permission (landzonetilladelse)", pct=fmt_number(row[0])))
            + (f" — {note}" if note else "") for row in pct]
    land = shares["landzone_ha"].to_numpy()
    return _rows(rule, ids, source, land > rule.tolerance_ha, note, overlap_ha=land,
                 overlap_share=shares["landzone_share"].to_numpy(), distance_m=np.nan, cut_ha=0.0,
                 features=features, decisive=False, _text=text)


def _cut_union_m2(cuts: list[_Measure], n: int) -> np.ndarray:
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
    small = [(_("net usable area %(net)s ha is below the %(min)s ha minimum after %(cut)s ha cut", net=_ha(net),
                min=_metres(min_net_ha), cut=_ha(cut)) if cut > 0 else
              _("net usable area %(net)s ha is below the %(min)s ha minimum", net=_ha(net), min=_metres(min_net_ha)))
             if net < min_net_ha else "" for net, cut in zip(net_ha, cut_ha, strict=True)]
    summary["exclusion_reasons"] = ["; ".join(x for x in pair if x) for pair in zip(text, small, strict=True)]
    summary["net_area_ha"] = net_ha
    summary["flags"] = flags
    summary["incomplete"] = incomplete
    summary["landzone_share"] = landzone_share
    return summary[list(SUMMARY_COLUMNS)]


def _source_text(layer_id: str, layer: gpd.GeoDataFrame) -> str:
    """``natura2000_fuglebeskyttelse (Danmarks Miljøportal, CC0 1.0, 2018-10-31)``; attrs may be absent."""
    details = [str(layer.attrs[k]) for k in ("source", "date") if layer.attrs.get(k)]
    return f"{layer_id} ({', '.join(details)})" if details else layer_id


def _ha(value: float) -> str:
    """Hectares in a text: two decimals below 10 ha, else one, in the current language."""
    return fmt_number(value, 2 if abs(value) < 10 else 1)


def _metres(value: float) -> str:
    """A configured limit (metres, hectares) in a text: no decimals when whole, like ``%g``."""
    return fmt_number(value, 0 if float(value).is_integer() else 2)

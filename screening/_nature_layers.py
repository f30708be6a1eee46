"""What a screening must say about the copies of its nature layers: provisional copies and partial coverage.

A layer's mirror copy may be *provisional* (unofficial or out of date, declared in ``layers/catalog.yaml``
with ``provisional: true`` and a reason) or cover only part of the country (``mirror_coverage``: a polygon
file of where the copy is complete). The loader (`screening.catalog`) records both in ``gdf.attrs``
(`copy_attrs`); the exclusion rules, the manifest, the report, the preview and the surface read them back
with the functions here. Every user-facing phrase about them is in `PHRASES`, in one place.

Both marks follow the origin of the loaded layer: a cached official fetch or an imported official file is
neither provisional nor partial. All geometries are EPSG:25832 (metres).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from screening import i18n
from screening._geo import M2_PER_HA, to_metric
from screening._provenance import source_and_date
from screening.config import ExclusionRule
from screening.errors import LayerDataError, LayerUnavailableError
from screening.i18n import N_, fmt_number
from screening.i18n import gettext as _

__all__ = ["PHRASES", "phrase", "OUTSIDE_COLUMNS", "copy_attrs", "read_coverage", "is_provisional", "provisional_note",
           "coverage_of", "coverage_note", "outside_m2", "outside_rows", "incomplete_per_site",
           "provisional_layers", "partial_layers", "manifest_entries", "partial_banners", "provisional_banners"]

log = logging.getLogger(__name__)

PHRASES = {
    "provisional": N_("provisional copy of %(date)s, check against the official layer"),
    "provisional_undated": N_("provisional copy, check against the official layer"),
    "outside": N_("incomplete: %(layer)s missing (outside the coverage of the available copy)"),
    "partly_outside": N_("incomplete: %(layer)s missing for %(pct)s %% of the site (%(ha)s ha outside the "
                         "coverage of the available copy)"),
    "not_stated": N_("(%(column)s not stated in the layer: counted as %(values)s)"),
    "or": N_("%(first)s or %(last)s"),
    "unnamed": N_("%(prefix)s (no name or number in the layer)"),
    "feature": N_("feature"),
    "part_of_country": N_("part of the country"),
    "partial_outside": N_("incomplete: %(layer)s checked only inside the coverage of the available copy "
                          "(%(where)s): %(n_out)s of %(n)s applications lie wholly or partly outside it"),
    "partial_inside": N_("%(layer)s checked only inside the coverage of the available copy (%(where)s): every "
                         "application lies inside it"),
    "provisional_layer": N_("%(layer)s: %(note)s"),
}
"""Every sentence about provisional copies and partial coverage, in one place: English source texts with
``%(name)s`` placeholders, translated where used (`phrase`)."""


def phrase(key: str, **values) -> str:
    """`PHRASES[key]` in the current language, filled with `values`."""
    return _(PHRASES[key], **values)

OUTSIDE_COLUMNS = ("application_id", "rule_id", "layer", "outside_ha", "outside_share", "coverage_note")
"""Columns of `screening.exclusion.ExclusionResult.outside_coverage`."""

_EPS_M2 = 1.0
"""A site part outside a copy's coverage smaller than this (m²) is float noise, not outside."""


def copy_attrs(spec, origin: str, mirror_root: Path | None) -> dict:
    """The ``attrs`` a layer loaded from `origin` carries about its copy.

    ``provisional`` (bool) and ``provisional_reason`` (str) from the catalog when the layer comes from the
    mirror, else False and ""; ``coverage`` (WKT of the copy's coverage, EPSG:25832, or ""),
    ``coverage_note`` and ``coverage_location`` likewise; ``date_text`` the catalog's ``mirror_date`` in both
    languages (``{da, en}``) when it is words ("about 2013"), else "". Called on every load, also on cache hits, so
    the marks follow the catalog and the origin, never a stale cache entry.

    Raises
    ------
    LayerDataError
        When the catalog declares a coverage file that cannot be read (the copy would otherwise be used
        as if it covered the country).
    """
    from_mirror = origin == "mirror"
    out = {"provisional": bool(from_mirror and spec.provisional),
           "provisional_reason": (spec.provisional_reason.model_dump() if from_mirror and spec.provisional
                                  and spec.provisional_reason else ""),
           "coverage": "", "coverage_note": "", "coverage_location": "",
           "date_text": (spec.mirror_date.model_dump() if from_mirror and hasattr(spec.mirror_date, "model_dump")
                         else "")}
    if from_mirror and spec.mirror_coverage:
        if mirror_root is None:
            raise LayerDataError(f"layer {spec.id!r}: coverage {spec.mirror_coverage} needs a mirror root; "
                                 "set INDUSTRIPARK_MIRROR")
        path = Path(mirror_root) / spec.mirror_coverage
        out.update(coverage=read_coverage(path, what=f"layer {spec.id!r}"),
                   coverage_note=spec.mirror_coverage_note.model_dump(),
                   coverage_location=str(path))
    return out


def read_coverage(path: Path, *, what: str = "layer") -> str:
    """The union of the polygons in `path` as WKT in EPSG:25832 (metres, 3 decimals).

    Raises
    ------
    LayerDataError
        When the file is missing, unreadable, without CRS or without polygons; names the file and the fix.
    """
    path = Path(path)
    fix = "restore the coverage file beside the layer in the mirror, or remove mirror_coverage from catalog.yaml"
    try:
        stat = path.stat()
    except OSError:
        raise LayerDataError(f"{what}: coverage file {path} not found; {fix}") from None
    return _coverage_wkt(str(path), stat.st_mtime_ns, stat.st_size, what, fix)


@lru_cache(maxsize=16)
def _coverage_wkt(path: str, _mtime: int, _size: int, what: str, fix: str) -> str:
    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several DataSourceError types
        raise LayerDataError(f"{what}: cannot read coverage file {path} ({exc}); {fix}") from None
    if gdf.crs is None:
        raise LayerDataError(f"{what}: coverage file {path} has no CRS; {fix}")
    geoms = shapely.make_valid(to_metric(gdf, path).geometry.to_numpy())
    polys = shapely.get_parts(geoms)
    polys = polys[np.isin(shapely.get_type_id(polys), (3, 6)) & (shapely.area(polys) > 0)]
    if len(polys) == 0:
        raise LayerDataError(f"{what}: coverage file {path} holds no polygons; {fix}")
    return shapely.to_wkt(shapely.union_all(polys), rounding_precision=3)


def is_provisional(layer: gpd.GeoDataFrame) -> bool:
    """True when the loaded layer is a provisional copy (``attrs['provisional']``)."""
    return bool(layer.attrs.get("provisional"))


def provisional_note(layer: gpd.GeoDataFrame) -> str:
    """"provisional copy of about 2013, check against the official layer", or "" for an official layer."""
    if not is_provisional(layer):
        return ""
    date = (i18n.text(layer.attrs.get("date_text")) or str(layer.attrs.get("date") or "")).strip()
    return phrase("provisional", date=date) if date else phrase("provisional_undated")


def coverage_of(layer: gpd.GeoDataFrame):
    """The copy's coverage as a shapely geometry (EPSG:25832), or None when the layer covers the country."""
    wkt = layer.attrs.get("coverage") or ""
    return _from_wkt(wkt) if wkt else None


@lru_cache(maxsize=16)
def _from_wkt(wkt: str):
    geom = shapely.from_wkt(wkt)
    shapely.prepare(geom)
    return geom


def coverage_note(layer: gpd.GeoDataFrame) -> str:
    """Where the copy covers, in words (catalog ``mirror_coverage_note``), or ""."""
    return i18n.text(layer.attrs.get("coverage_note") or "")


def outside_m2(sites: np.ndarray, coverage) -> np.ndarray:
    """Area of each site outside `coverage`, m² (0.0 inside; the whole area when disjoint)."""
    area = shapely.area(sites)
    inside = np.zeros(len(sites))
    hit = shapely.intersects(sites, coverage)
    if hit.any():
        inside[hit] = shapely.area(shapely.intersection(sites[hit], coverage))
    return np.clip(area - inside, 0.0, None)


def provisional_layers(layers: Mapping[str, gpd.GeoDataFrame], ids=None) -> dict[str, dict]:
    """Provisional layers among `layers` (restricted to `ids` when given): id -> ``note``, ``reason``,
    ``date``, ``source``, ``location`` - what the manifest, banners and tags say about each."""
    wanted = set(layers) if ids is None else set(ids) & set(layers)
    def entry(layer: gpd.GeoDataFrame) -> dict:
        source, date_ = source_and_date(layer.attrs)  # in the current language
        return {"note": provisional_note(layer), "reason": i18n.text(layer.attrs.get("provisional_reason") or ""),
                "date": date_, "source": source, "location": layer.attrs.get("location", "")}

    return {lid: entry(layers[lid]) for lid in sorted(wanted) if is_provisional(layers[lid])}


def partial_layers(layers: Mapping[str, gpd.GeoDataFrame], ids=None) -> dict[str, dict]:
    """Layers among `layers` (restricted to `ids`) whose copy covers only part of the country:
    id -> ``coverage_note``, ``coverage_location``, ``coverage_km2``."""
    wanted = set(layers) if ids is None else set(ids) & set(layers)
    out = {}
    for lid in sorted(wanted):  # a few dozen layers at most
        geom = coverage_of(layers[lid])
        if geom is not None:
            out[lid] = {"coverage_note": coverage_note(layers[lid]),
                        "coverage_location": layers[lid].attrs.get("coverage_location", ""),
                        "coverage_km2": round(float(shapely.area(geom)) / 1e6, 3)}
    return out


def outside_rows(rule: ExclusionRule, ids: np.ndarray, sites: np.ndarray, area_m2: np.ndarray,
                 layer: gpd.GeoDataFrame, allow: set[str]) -> pd.DataFrame:
    """Rows (`OUTSIDE_COLUMNS` and the incomplete text ``_text``) of the sites wholly or partly outside the
    coverage of the rule's copy of `layer`; none when the copy covers the country.

    Raises
    ------
    LayerUnavailableError
        When a site lies outside the coverage and neither the layer nor the rule is in `allow`.
    """
    cover = coverage_of(layer)
    if cover is None:
        return pd.DataFrame(columns=[*OUTSIDE_COLUMNS, "_text"])
    out_m2 = outside_m2(sites, cover)
    out_m2[out_m2 <= np.maximum(_EPS_M2, 1e-9 * area_m2)] = 0.0
    hit = out_m2 > 0
    where = coverage_note(layer) or phrase("part_of_country")
    if hit.any() and not (rule.layer in allow or rule.id in allow):
        names = ", ".join(ids[hit][:10]) + (f" and {int(hit.sum()) - 10} more" if hit.sum() > 10 else "")
        msg = (f"exclusion rule {rule.id!r} ({rule.action}) needs layer {rule.layer!r}, whose available copy "
               f"covers only {where}; {int(hit.sum())} site(s) lie wholly or partly outside it: {names}. Provide "
               f"the national layer ('industripark layers fetch {rule.layer}' or 'layers import') or pass "
               f"--allow-missing {rule.layer} (those sites then say 'incomplete: {rule.layer} missing (outside "
               "the coverage of the available copy)')")
        raise LayerUnavailableError(msg)
    share = np.divide(out_m2, area_m2, out=np.zeros_like(area_m2), where=area_m2 > 0)
    wholly = share >= 1.0 - 1e-9
    text = [(phrase("outside", layer=rule.layer) if w else
             phrase("partly_outside", layer=rule.layer, pct=fmt_number(100 * sh), ha=_ha(o / M2_PER_HA)))
            if h else "" for h, w, sh, o in zip(hit, wholly, share, out_m2, strict=True)]  # one per candidate
    rows = pd.DataFrame({"application_id": ids, "rule_id": rule.id, "layer": rule.layer,
                         "outside_ha": out_m2 / M2_PER_HA, "outside_share": share, "coverage_note": where,
                         "_text": text})
    if hit.any():
        log.warning("rule %s: %d site(s) outside the coverage of the %s copy (%s): marked incomplete",
                    rule.id, int(hit.sum()), rule.layer, where)
    return rows.loc[hit].reset_index(drop=True)


def incomplete_per_site(ids: np.ndarray, run_wide: list[str], outside: pd.DataFrame) -> np.ndarray:
    """Per site: the run-wide "incomplete: <layer> missing" marks, then its own coverage marks."""
    own = _join_groups(pd.Index(ids).get_indexer(outside["application_id"]),
                       outside["_text"].to_numpy(dtype=object), len(ids))
    head = "; ".join(run_wide)
    return np.array(["; ".join(x for x in (head, o) if x) for o in own], dtype=object)


def _join_groups(keys, texts, n):
    from screening._labels import join_groups  # _labels imports this module

    return join_groups(keys, texts, n)


def _ha(value: float) -> str:
    return fmt_number(value, 2 if abs(value) < 10 else 1)


def manifest_entries(layers: Mapping[str, gpd.GeoDataFrame], criteria, result) -> dict:
    """What a run's ``manifest.json`` says about provisional copies and partial coverage.

    Parameters
    ----------
    layers
        The run's loaded layers by id.
    criteria
        The run's `screening.config.Criteria` (which rules use which layer).
    result
        The run's `screening.exclusion.ExclusionResult`.

    Returns
    -------
    dict
        ``provisional_layers``: id -> ``note``, ``reason``, ``date``, ``source``, ``location``, ``rules``
        for the provisional copies the rules used; ``partial_layers``: id -> ``coverage_note``,
        ``coverage_location``, ``coverage_km2``, ``rules``, ``applications_outside`` (wholly),
        ``applications_partly_outside``, ``applications_inside`` (a count) and ``text`` (the banner line),
        for the ``exclude``/``cut`` rule layers whose copy covers part of the country.
    """
    rules: dict[str, list[str]] = {}
    for rule in criteria.exclusions.rules:  # a handful of rules
        rules.setdefault(rule.layer, []).append(rule.id)
    deciding = {r.layer for r in criteria.exclusions.rules if r.action != "flag"}
    provisional = {lid: entry | {"rules": rules[lid]} for lid, entry in provisional_layers(layers, rules).items()}
    partial = {}
    n = len(result.summary)
    outside = result.outside_coverage
    for lid, entry in partial_layers(layers, deciding).items():  # one or two partial layers
        mine = outside.loc[outside["layer"] == lid]
        wholly = mine["outside_share"].to_numpy(dtype=float) >= 1.0 - 1e-9
        ids_out = sorted(set(mine["application_id"].astype(str)[wholly]))
        ids_part = sorted(set(mine["application_id"].astype(str)[~wholly]) - set(ids_out))
        n_out = len(set(ids_out) | set(ids_part))
        text = phrase("partial_outside" if n_out else "partial_inside", layer=lid, where=entry["coverage_note"],
                      n_out=fmt_number(n_out), n=fmt_number(n))
        partial[lid] = entry | {"rules": rules[lid], "applications_outside": ids_out,
                                "applications_partly_outside": ids_part, "applications_inside": n - n_out,
                                "text": text}
    return {"provisional_layers": provisional, "partial_layers": partial}


def partial_banners(manifest: Mapping) -> list[dict]:
    """Banner rows (``layer``, ``text``, ``reason``, ``short``) of the partial layers some application lies
    outside of: the run is incomplete for those applications."""
    return [{"layer": lid, "text": entry.get("text", ""), "reason": "", "short": ""}
            for lid, entry in (manifest.get("partial_layers") or {}).items()
            if entry.get("applications_outside") or entry.get("applications_partly_outside")]


def provisional_banners(manifest: Mapping) -> list[dict]:
    """One row per provisional copy a run's rules used: ``layer``, ``title``, ``text`` ("<id>: provisional
    copy of about 2013, check against the official layer"), ``note``, ``reason``, ``date``, ``rules``."""
    layers = manifest.get("layers") or {}
    return [{"layer": lid, "title": (layers.get(lid) or {}).get("title", ""), "note": entry.get("note", ""),
             "text": phrase("provisional_layer", layer=lid, note=entry.get("note", "")),
             "reason": entry.get("reason", ""), "date": entry.get("date", ""), "rules": entry.get("rules", [])}
            for lid, entry in (manifest.get("provisional_layers") or {}).items()]

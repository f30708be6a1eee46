"""The surface's nature layers: their provenance (provisional copies) and where a rule was not checked.

Internal to `screening.surface`. A rule whose layer copy covers only part of the country (``attrs
['coverage']``, see `screening._nature_layers`) leaves the cells outside that coverage unchecked: they are
never marked excluded for lack of data, and ``not_checked.tif`` says which rule was not checked where,
with the rule's bit of ``exclusion.tif``. All rasters are on the surface's `screening._raster.Grid`
(EPSG:25832).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely

from screening import _nature_layers, _raster, _raster_io
from screening._raster import EXCLUSION_NODATA, Grid
from screening.errors import LayerUnavailableError

__all__ = ["NOT_CHECKED", "layer_provenance", "check_partial", "partial_rules", "tags", "write_not_checked"]

log = logging.getLogger(__name__)

NOT_CHECKED = "not_checked"
"""Name of the raster (``not_checked.tif``) of the cells a rule was not checked in."""


def layer_provenance(layers: Mapping[str, gpd.GeoDataFrame], criteria, actions=("exclude", "cut")) -> dict:
    """Provenance of the layers of the rules with `actions`, by layer id: ``rules``, ``origin``, ``source``,
    ``date``, ``version``, ``location``, ``provisional`` (bool), ``provisional_note``, ``coverage_note``."""
    out: dict[str, dict] = {}
    for rule in criteria.exclusions.rules:  # a handful of rules
        if rule.action not in actions or rule.layer not in layers:
            continue
        gdf = layers[rule.layer]
        entry = out.setdefault(rule.layer, {
            "rules": [], **{k: gdf.attrs.get(k, "") for k in ("origin", "source", "date", "version", "location")},
            "provisional": _nature_layers.is_provisional(gdf),
            "provisional_note": _nature_layers.provisional_note(gdf),
            "coverage_note": _nature_layers.coverage_note(gdf) if _nature_layers.coverage_of(gdf) is not None
            else ""})
        entry["rules"].append(rule.id)
    return out


def check_partial(rule, layer: gpd.GeoDataFrame, allow: set[str]) -> None:
    """A rule on a copy covering part of the country leaves cells unchecked: allowed only like a missing layer.

    Raises
    ------
    LayerUnavailableError
        When the copy has a coverage and neither the layer nor the rule id is in `allow`.
    """
    if _nature_layers.coverage_of(layer) is None or rule.layer in allow or rule.id in allow:
        return
    raise LayerUnavailableError(
        f"exclusion rule {rule.id!r} needs layer {rule.layer!r}, whose available copy covers only "
        f"{_nature_layers.coverage_note(layer) or 'part of the country'}; the surface covers the whole country. "
        f"Provide the national layer or pass --allow-missing {rule.layer} (the cells outside the copy's "
        f"coverage are then marked in {NOT_CHECKED}.tif, not excluded)")


def partial_rules(layers: Mapping[str, gpd.GeoDataFrame], rule_ids: list[str], criteria) -> list[tuple]:
    """(rule id, layer id, bit, coverage) of the rasterized rules whose layer copy has a coverage; the bit is
    the rule's bit in ``exclusion.tif`` (its position in `rule_ids`)."""
    by_id = {r.id: r for r in criteria.exclusions.rules}
    out = []
    for bit, rule_id in enumerate(rule_ids):  # a handful of rasterized rules
        layer = layers[by_id[rule_id].layer]
        cover = _nature_layers.coverage_of(layer)
        if cover is not None:
            out.append((rule_id, by_id[rule_id].layer, bit, cover))
    return out


def tags(provenance: Mapping[str, dict], partial: list[tuple]) -> dict[str, str]:
    """COG tags: ``exclusion_layers`` (each layer with origin, source and date), ``provisional_layers`` (each
    provisional copy with its note) and ``not_checked`` (rule: where its copy covers, bit)."""
    return {
        "exclusion_layers": "; ".join(f"{lid}: {p['origin']}, {p['source']}, {p['date'] or 'no date'}"
                                      for lid, p in provenance.items()),
        "provisional_layers": "; ".join(f"{lid}: {p['provisional_note']}" for lid, p in provenance.items()
                                        if p["provisional"]),
        "not_checked": "; ".join(f"{rule_id} ({lid}) only inside {_where(provenance, lid)}, bit {2 ** bit} of "
                                 f"{NOT_CHECKED}.tif" for rule_id, lid, bit, _ in partial),
    }


def write_not_checked(grid: Grid, exclusion_tif: Path, partial: list[tuple], out_dir: Path, block: int,
                      tag_values: dict[str, str], provenance: Mapping[str, dict]) -> tuple[Path | None, dict]:
    """Write ``not_checked.tif`` (uint16; bit of a rule set on the land cells it was not checked in, that is
    every cell a part of which lies outside its copy's coverage, ``all_touched``; `EXCLUSION_NODATA` off
    land) when some rule has a partial copy. Land is read back from `exclusion_tif` (not `EXCLUSION_NODATA`).

    Returns
    -------
    tuple
        The COG's path (None without partial rules) and, per rule id, ``layer``, ``bit``, ``coverage_note``,
        ``cells`` (land cells not checked).
    """
    if not partial:
        return None, {}
    x0, y0, x1, y1 = grid.bounds
    frame = shapely.box(x0 - grid.res_m, y0 - grid.res_m, x1 + grid.res_m, y1 + grid.res_m)
    outside = [_raster.burn_shapes(np.array([shapely.difference(frame, cover)]), grid, all_touched=True)
               for *_, cover in partial]
    info = {rule_id: {"layer": lid, "bit": 2 ** bit, "coverage_note": _where(provenance, lid), "cells": 0}
            for rule_id, lid, bit, _ in partial}
    tmp = Path(out_dir) / ".not-checked-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    path = Path(out_dir) / f"{NOT_CHECKED}.tif"
    try:
        with rasterio.open(exclusion_tif) as src, \
                rasterio.open(tmp / "nc.tif", "w", **_raster_io._tmp_profile(grid, "uint16", EXCLUSION_NODATA)) as dst:
            for win in grid.windows(block):  # tiles of the grid, each vectorised
                on_land = src.read(1, window=win) != EXCLUSION_NODATA
                bits = np.zeros(on_land.shape, dtype=np.uint16)
                for (rule_id, _, bit, _), burn in zip(partial, outside, strict=True):  # one or two rules
                    cells = _raster._burn(burn, win) & on_land
                    bits |= cells.astype(np.uint16) << np.uint16(bit)
                    info[rule_id]["cells"] += int(cells.sum())
                dst.write(np.where(on_land, bits, EXCLUSION_NODATA).astype(np.uint16), 1, window=win)
            dst.update_tags(**tag_values)
            dst.set_band_description(1, "not_checked_bits: " + ", ".join(
                f"{2 ** bit}={rule_id}" for rule_id, _, bit, _ in partial))
        with rasterio.Env(GDAL_CACHEMAX=256):
            _raster_io._to_cog(tmp / "nc.tif", path, resampling="NEAREST")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("surface: %s written (%s)", path.name, ", ".join(f"{k}: {v['cells']:,} land cells not checked"
                                                             for k, v in info.items()))
    return path, info


def _where(provenance: Mapping[str, dict], layer_id: str) -> str:
    return (provenance.get(layer_id) or {}).get("coverage_note") or _nature_layers.phrase("part_of_country")

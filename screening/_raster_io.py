"""The finished surface rasters: COG writing, the better-land search and the RGBA map overlay.

Internal to `screening.surface`. `write_surface` consumes the tiles of `screening._raster.run_tiles` and
writes the Cloud-Optimised GeoTIFFs (EPSG:25832, the `screening._raster.Grid`); `best_square` and
`render_rgba` read those files back.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import rasterio
import rasterio.features
import rasterio.shutil
import shapely
from affine import Affine
from rasterio.windows import Window

from screening._raster import EXCLUSION_NODATA, Grid, Tile
from screening.config import CRS

__all__ = [
    "write_surface",
    "best_square",
    "render_rgba",
]

log = logging.getLogger(__name__)

COG_BLOCK = 512


def write_surface(tiles: Iterable[Tile | None], grid: Grid, out_dir: Path, *, criteria_ids: Sequence[str],
                  rule_ids: Sequence[str], tags: dict[str, str]) -> tuple[dict[str, Path], dict[str, int]]:
    """Write tiles as they come into temporary tiled GeoTIFFs, then convert each to a Cloud-Optimised GeoTIFF.

    Writes ``suitability.tif`` (float32 total 0–100, NaN off land), ``exclusion.tif`` (uint16 bit mask,
    ``EXCLUSION_NODATA`` off land) and, when `criteria_ids` is not empty (tiles then carry scores),
    ``criteria/<id>.tif`` (float32 0–1), all single-band (GDAL's multi-band COG copy was 15x slower per
    band here). Every file carries its band description and `tags`. Returns the paths and the counts
    ``land_cells``, ``excluded_cells`` and ``tiles``.
    """
    tmp = out_dir / ".surface-tmp"
    (tmp / "criteria").mkdir(parents=True, exist_ok=True)
    specs = {"suitability": ("float32", np.nan), "exclusion": ("uint16", EXCLUSION_NODATA),
             **{f"criteria/{c}": ("float32", np.nan) for c in criteria_ids}}
    counts = {"land_cells": 0, "excluded_cells": 0, "tiles": 0}
    paths = {}
    try:
        sinks = {name: rasterio.open(tmp / f"{name}.tif", "w", **_tmp_profile(grid, *spec))
                 for name, spec in specs.items()}
        t0 = time.perf_counter()
        try:
            _fill(sinks, tiles, counts, criteria_ids)
            _describe(sinks, rule_ids, tags)
        finally:
            for dst in sinks.values():
                dst.close()
        t1 = time.perf_counter()
        if criteria_ids:
            (out_dir / "criteria").mkdir(parents=True, exist_ok=True)
        # a bounded block cache for the copies only: set around rasterize, it slowed it 20x here
        with rasterio.Env(GDAL_CACHEMAX=256):
            for name in specs:  # two files and one per criterion
                paths[name] = out_dir / f"{name}.tif"
                _to_cog(tmp / f"{name}.tif", paths[name], resampling="NEAREST" if name == "exclusion" else "AVERAGE")
        log.info("surface: %d tiles computed and written in %.1f s, %d COGs in %.1f s", counts["tiles"],
                 t1 - t0, len(paths), time.perf_counter() - t1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return paths, counts


def _tmp_profile(grid: Grid, dtype: str, nodata) -> dict:
    return {"driver": "GTiff", "width": grid.width, "height": grid.height, "count": 1, "dtype": dtype,
            "crs": CRS, "transform": grid.transform, "nodata": nodata, "tiled": True,
            "blockxsize": COG_BLOCK, "blockysize": COG_BLOCK, "compress": "ZSTD", "zstd_level": 1,
            "sparse_ok": True, "bigtiff": "IF_SAFER"}


def _fill(sinks: dict, tiles: Iterable[Tile | None], counts: dict[str, int], criteria_ids) -> None:
    for tile in tiles:
        if tile is None:
            continue
        win = tile.window
        sinks["suitability"].write(tile.total, 1, window=win)
        sinks["exclusion"].write(tile.exclusion, 1, window=win)
        for k, crit in enumerate(criteria_ids):  # only when per-criterion files are asked for
            sinks[f"criteria/{crit}"].write(tile.scores[k], 1, window=win)
        counts["land_cells"] += int(tile.land.sum())
        counts["excluded_cells"] += int(((tile.exclusion != 0) & tile.land).sum())
        counts["tiles"] += 1


def _describe(sinks: dict, rule_ids: Sequence[str], tags: dict[str, str]) -> None:
    bits = {f"bit_{i}": rule for i, rule in enumerate(rule_ids)}
    for name, dst in sinks.items():
        dst.update_tags(**tags)
        dst.set_band_description(1, name.removeprefix("criteria/") if name != "suitability" else "score_total")
    sinks["exclusion"].set_band_description(1, "exclusion_bits: " + (", ".join(
        f"{2 ** i}={rule}" for i, rule in enumerate(rule_ids)) or "none"))
    sinks["exclusion"].update_tags(**bits)
    sinks["exclusion"].update_tags(1, **bits)


def _to_cog(src: Path, dst: Path, *, resampling: str) -> None:
    """Copy `src` to a COG (GDAL >= 3.1 driver): 512-cell tiles, ZSTD (3x faster than DEFLATE here, same
    size), floating-point predictor for scores, overviews by `resampling`."""
    rasterio.shutil.copy(src, dst, driver="COG", COMPRESS="ZSTD", LEVEL=6,
                         PREDICTOR="YES" if resampling == "AVERAGE" else "NO", BLOCKSIZE=COG_BLOCK,
                         OVERVIEW_RESAMPLING=resampling, BIGTIFF="IF_SAFER", NUM_THREADS="ALL_CPUS")


def best_square(suit: Path, excl: Path, site, *, radius_m: float, min_area_ha: float):
    """Best k x k square of free cells near `site` (see `screening.surface.better_land_nearby`).

    Window sums come from integral images, so every square is scored in O(cells). Returns
    ``(best, site_mean)`` or None when no square fits; `best` has ``score_mean``, ``area_ha``, ``cells``,
    ``res_m``, ``centroid_xy`` and ``bounds`` (EPSG:25832 m).
    """
    zone = shapely.buffer(site, radius_m)
    with rasterio.open(suit) as s_ds, rasterio.open(excl) as e_ds:
        res, (left, top) = s_ds.res[0], (s_ds.transform.c, s_ds.transform.f)
        minx, miny, maxx, maxy = zone.bounds
        c0, r0 = max(0, math.floor((minx - left) / res)), max(0, math.floor((top - maxy) / res))
        c1, r1 = min(s_ds.width, math.ceil((maxx - left) / res)), min(s_ds.height, math.ceil((top - miny) / res))
        if c1 <= c0 or r1 <= r0:
            return None
        win = Window(c0, r0, c1 - c0, r1 - r0)
        score, bits = s_ds.read(1, window=win), e_ds.read(1, window=win)
        transform = Affine(res, 0.0, left + c0 * res, 0.0, -res, top - r0 * res)
    near = rasterio.features.geometry_mask([zone], score.shape, transform, invert=True)
    inside = rasterio.features.geometry_mask([site], score.shape, transform, invert=True)
    free = near & ~inside & np.isfinite(score) & (bits == 0)
    site_mean = _site_mean(score, inside, site, transform)
    k = max(1, math.ceil(math.sqrt(min_area_ha * 1e4) / res - 1e-9))
    if k > min(score.shape):
        return None
    count = _box_sum(free.astype(np.int64), k)
    total = _box_sum(np.where(free, score, 0.0).astype(float), k)
    mean = np.where(count == k * k, total / (k * k), -np.inf)
    r, c = np.unravel_index(np.argmax(mean), mean.shape)
    if not np.isfinite(mean[r, c]):
        return None
    x0, y1 = float(transform.c + c * res), float(transform.f - r * res)
    best = {"score_mean": float(mean[r, c]), "area_ha": k * k * res * res / 1e4, "cells": k * k, "res_m": res,
            "centroid_xy": (x0 + k * res / 2, y1 - k * res / 2), "bounds": (x0, y1 - k * res, x0 + k * res, y1)}
    return best, site_mean


def _site_mean(score: np.ndarray, inside: np.ndarray, site, transform: Affine) -> float:
    vals = score[inside & np.isfinite(score)]
    if vals.size:
        return float(vals.mean())
    col, row = ~transform @ (shapely.centroid(site).x, shapely.centroid(site).y)
    r, c = int(math.floor(row)), int(math.floor(col))
    inside_window = 0 <= r < score.shape[0] and 0 <= c < score.shape[1]
    return float(score[r, c]) if inside_window else float("nan")


def _box_sum(a: np.ndarray, k: int) -> np.ndarray:
    """Sums of every k x k window of `a` (shape (h - k + 1, w - k + 1)) from one integral image."""
    s = np.zeros((a.shape[0] + 1, a.shape[1] + 1), dtype=a.dtype)
    s[1:, 1:] = a.cumsum(0).cumsum(1)
    return s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]


def render_rgba(suit: Path, excl: Path, *, max_px: int):
    """RGBA (uint8, EPSG:3857) of the surface at display resolution and its WGS84 bounds ((S, W), (N, E))."""
    import matplotlib
    from rasterio.enums import Resampling
    from rasterio.warp import calculate_default_transform, reproject, transform_bounds

    with rasterio.open(suit) as s_ds, rasterio.open(excl) as e_ds:
        scale = max(1.0, max(s_ds.width, s_ds.height) / max_px)
        h, w = max(1, round(s_ds.height / scale)), max(1, round(s_ds.width / scale))
        score = s_ds.read(1, out_shape=(h, w), resampling=Resampling.average)
        bits = e_ds.read(1, out_shape=(h, w), resampling=Resampling.nearest)
        src_t, src_crs = s_ds.transform @ Affine.scale(s_ds.width / w, s_ds.height / h), s_ds.crs
    dst_t, dw, dh = calculate_default_transform(src_crs, "EPSG:3857", w, h, *_array_bounds(src_t, h, w))
    d_score, d_bits = np.full((dh, dw), np.nan, np.float32), np.full((dh, dw), EXCLUSION_NODATA, np.uint16)
    for src, dst, nodata in ((score, d_score, np.nan), (bits, d_bits, EXCLUSION_NODATA)):
        reproject(src, dst, src_transform=src_t, src_crs=src_crs, dst_transform=dst_t, dst_crs="EPSG:3857",
                  resampling=Resampling.nearest, src_nodata=nodata, dst_nodata=nodata)
    rgba = np.zeros((dh, dw, 4), dtype=np.uint8)
    land = np.isfinite(d_score)
    rgba[land] = (matplotlib.colormaps["RdYlGn"](np.clip(d_score[land] / 100.0, 0, 1)) * 255).astype(np.uint8)
    rgba[land, 3] = 190
    rgba[land & (d_bits != 0) & (d_bits != EXCLUSION_NODATA)] = (70, 70, 70, 210)
    west, south, east, north = transform_bounds("EPSG:3857", "EPSG:4326", *_array_bounds(dst_t, dh, dw))
    return rgba, ((south, west), (north, east))


def _array_bounds(t: Affine, h: int, w: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of an h x w north-up array with transform `t`."""
    return (t.c, t.f + h * t.e, t.c + w * t.a, t.f)

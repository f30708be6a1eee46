"""Raster tiles of the overview map: the suitability surface as PNG tiles in one PMTiles archive.

Internal to `screening.overview`. Per zoom the surface (EPSG:25832 GeoTIFFs of a surface run) is read from
its overviews at about half a pixel's ground size, warped with rasterio onto that zoom's mosaic of XYZ
web-mercator tiles (EPSG:3857, 256 px), coloured and cut into tiles written with the `pmtiles` package.
"""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path

import numpy as np

from screening._tiles import HALF_WORLD_M, TILE_PX, ArchiveStats, pixel_ground_m, tile_bounds_3857, tiles_of_point

SURFACE_TILE_PX = 512
"""Pixels per side of a surface tile. 512 px tiles hold at zoom z what 256 px tiles hold at z + 1, in a quarter
of the tiles: the national view needs 9 tiles instead of 30, and the browser redraws the map for each one that
arrives (measured: the first render 0.45 s shorter in headless Chromium)."""

__all__ = ["SURFACE_TILE_PX", "write_surface_archive", "colour_surface"]

log = logging.getLogger(__name__)


def write_surface_archive(suitability: Path, exclusion: Path, path: Path, *, min_zoom: int, max_zoom: int,
                          attribution: str = "", tile_px: int = SURFACE_TILE_PX) -> ArchiveStats:
    """Render the suitability surface as PNG tiles (`tile_px` square, EPSG:3857) into one raster PMTiles archive.

    Per zoom, the surface (EPSG:25832) is warped once onto the mosaic of the tiles that cover it (score:
    average of the cells under a pixel; exclusion bits: nearest), coloured by `colour_surface` and cut into
    tiles. Every tile within the surface's bounds exists (tiles without land share one transparent PNG): a
    viewer asking for an absent tile inside the bounds may wait for it forever (MapLibre did).

    Parameters
    ----------
    suitability, exclusion
        ``suitability.tif`` (float32 0-100, NaN off land) and ``exclusion.tif`` (uint16 bits, 65535 off land)
        of one surface run.
    path
        The ``.pmtiles`` file to write.
    min_zoom, max_zoom
        Web-map zooms rendered (at 100 m cells and 512 px tiles, zoom 9 is about one pixel per cell in Denmark).
    tile_px
        Pixels per tile side (256 or 512; a viewer's raster source must say the same ``tileSize``).
    """
    import rasterio
    from pmtiles.tile import Compression, TileType
    from pmtiles.writer import Writer
    from rasterio.warp import transform_bounds

    from screening._raster import EXCLUSION_NODATA

    t0 = time.perf_counter()
    with rasterio.open(suitability) as s_ds, rasterio.open(exclusion) as e_ds:
        west, south, east, north = transform_bounds(s_ds.crs, "EPSG:4326", *s_ds.bounds)
        tiles: dict[int, bytes] = {}
        empty = _png(np.zeros((tile_px, tile_px, 4), dtype=np.uint8))  # stored once (the writer dedupes)
        for z in range(min_zoom, max_zoom + 1):  # a handful of zoom levels
            (x0, y0), (x1, y1) = tiles_of_point(west, north, z), tiles_of_point(east, south, z)
            src = _read_for_zoom(s_ds, e_ds, z, (south + north) / 2, tile_px)
            rgba = colour_surface(*_warp_zoom(*src, z, x0, y0, x1, y1, EXCLUSION_NODATA, tile_px))
            _cut(rgba, z, x0, y0, x1, y1, tiles, empty, tile_px)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        writer = Writer(fh)
        for tile_id in sorted(tiles):
            writer.write_tile(tile_id, tiles[tile_id])
        e7 = 10_000_000
        writer.finalize({"tile_type": TileType.PNG, "tile_compression": Compression.NONE,
                         "min_lon_e7": int(west * e7), "min_lat_e7": int(south * e7),
                         "max_lon_e7": int(east * e7), "max_lat_e7": int(north * e7),
                         "center_zoom": min_zoom, "center_lon_e7": int((west + east) / 2 * e7),
                         "center_lat_e7": int((south + north) / 2 * e7)},
                        {"name": "suitability", "attribution": attribution, "format": "png", "tile_px": tile_px})
    stats = ArchiveStats(path, 0, len(tiles), min_zoom, max_zoom, path.stat().st_size,
                         round(time.perf_counter() - t0, 3))
    log.info("surface tiles: %d PNG tiles, zooms %d-%d, %.1f MB in %.1f s", stats.tiles, min_zoom, max_zoom,
             stats.bytes / 1e6, stats.seconds)
    return stats


def _png(rgba: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def colour_surface(score: np.ndarray, bits: np.ndarray, nodata: int = 65535) -> np.ndarray:
    """RGBA (uint8) of scores 0-100 on red-yellow-green, excluded land dark grey, no land transparent.

    The same palette as the report map's overlay (`screening._raster_io.render_rgba`).
    """
    import matplotlib

    rgba = np.zeros((*score.shape, 4), dtype=np.uint8)
    land = np.isfinite(score)
    rgba[land] = (matplotlib.colormaps["RdYlGn"](np.clip(score[land] / 100.0, 0, 1)) * 255).astype(np.uint8)
    rgba[land, 3] = 200
    rgba[land & (bits != 0) & (bits != nodata)] = (70, 70, 70, 210)
    return rgba


# --------------------------------------------------------------------------- helpers


def _read_for_zoom(s_ds, e_ds, z: int, lat: float, tile_px: int):
    """Score and bits read at about half the ground size of a pixel at zoom `z` (from the COG overviews:
    average for scores, nearest for bits), with their transform and CRS."""
    from rasterio.enums import Resampling

    ground_px_m = pixel_ground_m(z, lat) * TILE_PX / tile_px
    factor = max(1, int(ground_px_m / 2 / s_ds.res[0]))
    shape = (max(1, s_ds.height // factor), max(1, s_ds.width // factor))
    score = s_ds.read(1, out_shape=shape, resampling=Resampling.average)
    bits = e_ds.read(1, out_shape=shape, resampling=Resampling.nearest)
    transform = s_ds.transform * s_ds.transform.scale(s_ds.width / shape[1], s_ds.height / shape[0])
    return score, bits, {"src_transform": transform, "src_crs": s_ds.crs}


def _cut(rgba: np.ndarray, z: int, x0: int, y0: int, x1: int, y1: int, tiles: dict, empty: bytes,
         tile_px: int) -> None:
    """Cut a zoom's mosaic into PNG tiles keyed by PMTiles tile id (at most a few hundred per zoom)."""
    from pmtiles.tile import zxy_to_tileid

    for ty in range(y1 - y0 + 1):
        for tx in range(x1 - x0 + 1):
            block = rgba[ty * tile_px:(ty + 1) * tile_px, tx * tile_px:(tx + 1) * tile_px]
            tiles[zxy_to_tileid(z, x0 + tx, y0 + ty)] = _png(block) if block[..., 3].any() else empty


def _warp_zoom(score, bits, src, z, x0, y0, x1, y1, nodata, tile_px):
    """The surface warped onto the tile mosaic x0..x1, y0..y1 of zoom `z` (EPSG:3857, `tile_px` per tile)."""
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    left, _, _, top = tile_bounds_3857(z, x0, y0)
    px = 2 * HALF_WORLD_M / 2 ** z / tile_px
    shape = ((y1 - y0 + 1) * tile_px, (x1 - x0 + 1) * tile_px)
    dst = {"dst_transform": Affine(px, 0, left, 0, -px, top), "dst_crs": "EPSG:3857", "num_threads": 2}
    d_score = np.full(shape, np.nan, np.float32)
    d_bits = np.full(shape, nodata, np.uint16)
    reproject(score, d_score, src_nodata=np.nan, dst_nodata=np.nan, resampling=Resampling.average, **src, **dst)
    reproject(bits, d_bits, src_nodata=nodata, dst_nodata=nodata, resampling=Resampling.nearest, **src, **dst)
    return d_score, d_bits, nodata

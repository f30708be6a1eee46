"""Tile archives of the overview map: vector layers and the suitability surface as PMTiles, and reading them back.

Internal to `screening.overview`. Vector tiles (Mapbox Vector Tiles, gzip) are built by a kept tiler, never
by hand: `freestiler` (a Rust tiler, the default; docs/OVERVIEW.md has the measured comparison) or GDAL's
PMTiles driver through pyogrio (``engine="gdal"``). Both snap geometries to the 4096-unit tile grid of each
zoom (zoom-dependent simplification) and drop no feature. The surface becomes PNG tiles warped with
rasterio and written with the `pmtiles` package. Inputs are EPSG:25832; tiles are XYZ web-mercator
(EPSG:3857) tiles.
"""

from __future__ import annotations

import gzip
import io
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from screening._geo import require_crs
from screening.errors import ConfigError

__all__ = ["ENGINES", "ArchiveStats", "write_vector_archive", "write_surface_archive", "tile_bounds_3857",
           "tiles_of_point", "read_tile", "archive_header", "iter_tiles", "colour_surface"]

log = logging.getLogger(__name__)

ENGINES = ("freestiler", "gdal")
HALF_WORLD_M = 20037508.342789244
"""Half the width of the web-mercator world, metres (EPSG:3857)."""
TILE_PX = 256


@dataclass(frozen=True)
class ArchiveStats:
    """What one archive holds: features (vector) or tiles (raster), zooms, bytes and build seconds."""

    path: Path
    features: int
    tiles: int
    min_zoom: int
    max_zoom: int
    bytes: int
    seconds: float


def write_vector_archive(gdf: gpd.GeoDataFrame, path: Path, *, layer_name: str, min_zoom: int, max_zoom: int,
                         attributes: tuple[str, ...] = (), engine: Literal["freestiler", "gdal"] = "freestiler",
                         ) -> ArchiveStats:
    """Write `gdf` as one PMTiles archive of vector tiles, layer `layer_name`, zooms `min_zoom`..`max_zoom`.

    Only the `attributes` columns present in `gdf` are kept (strings stay strings, numbers numbers, missing
    values are left out of the feature). No feature is dropped at any zoom: every feature that intersects a
    tile is in it (tiles carry a small buffer, so some features just outside are too).

    Parameters
    ----------
    gdf
        Features in EPSG:25832, valid, non-empty.
    path
        The ``.pmtiles`` file to write (replaced if it exists).
    layer_name
        Name of the vector layer inside every tile (the MapLibre ``source-layer``).
    min_zoom, max_zoom
        Web-map zoom levels of the tiles written.
    attributes
        Columns to keep.
    engine
        ``freestiler`` (default) or ``gdal`` (pyogrio's GDAL PMTiles driver; 6x slower on 200,000 polygons).

    Raises
    ------
    CRSError
        If `gdf` is not in EPSG:25832.
    ConfigError
        For an unknown engine or zoom range.
    """
    require_crs(gdf, f"layer {layer_name!r}")
    if engine not in ENGINES:
        raise ConfigError(f"tile engine {engine!r} is not a valid option, must be one of {', '.join(ENGINES)}")
    if not 0 <= min_zoom <= max_zoom <= 16:
        raise ConfigError(f"layer {layer_name!r}: zooms {min_zoom}..{max_zoom} must satisfy 0 <= min <= max <= 16")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    frame = _small_attributes(gdf, attributes)
    t0 = time.perf_counter()
    if engine == "freestiler":
        from freestiler import freestile

        freestile(frame.to_crs(4326), path, layer_name=layer_name, min_zoom=min_zoom, max_zoom=max_zoom,
                  simplification=True, generate_ids=True, quiet=True)
    else:
        import pyogrio

        pyogrio.write_dataframe(frame.to_crs(3857), path, driver="PMTiles", layer=layer_name,
                                dataset_options={"MINZOOM": min_zoom, "MAXZOOM": max_zoom, "NAME": layer_name,
                                                 "MAX_SIZE": 5_000_000, "MAX_FEATURES": 10_000_000})
    header = archive_header(path)
    stats = ArchiveStats(path, len(frame), int(header["addressed_tiles_count"]), min_zoom, max_zoom,
                         path.stat().st_size, round(time.perf_counter() - t0, 3))
    log.info("tiles %s: %s features, %d tiles, zooms %d-%d, %.1f MB in %.1f s (%s)", layer_name,
             f"{stats.features:,}", stats.tiles, min_zoom, max_zoom, stats.bytes / 1e6, stats.seconds, engine)
    return stats


def write_surface_archive(suitability: Path, exclusion: Path, path: Path, *, min_zoom: int, max_zoom: int,
                          attribution: str = "") -> ArchiveStats:
    """Render the suitability surface as PNG tiles (256 px, EPSG:3857) into one raster PMTiles archive.

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
        Web-map zooms rendered (at 100 m cells, zoom 10 is about one pixel per cell in Denmark).
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
        empty = _png(np.zeros((TILE_PX, TILE_PX, 4), dtype=np.uint8))  # stored once (the writer dedupes)
        for z in range(min_zoom, max_zoom + 1):  # a handful of zoom levels
            (x0, y0), (x1, y1) = tiles_of_point(west, north, z), tiles_of_point(east, south, z)
            src = _read_for_zoom(s_ds, e_ds, z, (south + north) / 2)
            rgba = colour_surface(*_warp_zoom(*src, z, x0, y0, x1, y1, EXCLUSION_NODATA))
            _cut(rgba, z, x0, y0, x1, y1, tiles, empty)
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
                        {"name": "suitability", "attribution": attribution, "format": "png"})
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


def tile_bounds_3857(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of XYZ tile (`z`, `x`, `y`) in EPSG:3857 metres.

    Examples
    --------
    >>> tile_bounds_3857(0, 0, 0) == (-HALF_WORLD_M, -HALF_WORLD_M, HALF_WORLD_M, HALF_WORLD_M)
    True
    """
    size = 2 * HALF_WORLD_M / 2 ** z
    return (-HALF_WORLD_M + x * size, HALF_WORLD_M - (y + 1) * size,
            -HALF_WORLD_M + (x + 1) * size, HALF_WORLD_M - y * size)


def tiles_of_point(lon: float, lat: float, z: int) -> tuple[int, int]:
    """XYZ tile (x, y) at zoom `z` that holds the point (`lon`, `lat`) in WGS84 degrees.

    Examples
    --------
    >>> tiles_of_point(12.5683, 55.6761, 10)  # Copenhagen
    (547, 320)
    """
    n = 2 ** z
    lat_r = math.radians(lat)
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(lat_r)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def read_tile(path: Path, z: int, x: int, y: int) -> dict | None:
    """Decode one vector tile of an archive: ``{layer: {"extent", "features": [...]}}`` or None if absent.

    Features carry ``properties`` and ``geometry`` in tile units (0..extent, y down); decoded with
    `mapbox_vector_tile`.
    """
    import mapbox_vector_tile
    from pmtiles.reader import MmapSource, Reader

    with Path(path).open("rb") as fh:
        data = Reader(MmapSource(fh)).get(z, x, y)
    if data is None:
        return None
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


def archive_header(path: Path) -> dict:
    """The PMTiles header of an archive (zooms, bounds, tile counts, tile type)."""
    from pmtiles.reader import MmapSource, Reader

    with Path(path).open("rb") as fh:
        return Reader(MmapSource(fh)).header()


def iter_tiles(path: Path) -> Iterator[tuple[tuple[int, int, int], bytes]]:
    """Every ((z, x, y), bytes) of an archive."""
    from pmtiles.reader import MmapSource, Reader, all_tiles

    with Path(path).open("rb") as fh:
        yield from all_tiles(Reader(MmapSource(fh)).get_bytes)


# --------------------------------------------------------------------------- helpers


def _small_attributes(gdf: gpd.GeoDataFrame, attributes: tuple[str, ...]) -> gpd.GeoDataFrame:
    """Keep `attributes` that exist; text columns as str (missing stays missing), booleans as text."""
    keep = [c for c in dict.fromkeys(attributes) if c in gdf.columns and c != gdf.geometry.name]
    out = gpd.GeoDataFrame(gdf[keep].copy(), geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
    for column in keep:
        series = out[column]
        if pd.api.types.is_bool_dtype(series) or not (pd.api.types.is_numeric_dtype(series)):
            out[column] = series.astype(object).where(series.notna(), None).map(
                lambda v: None if v is None else str(v))
        elif pd.api.types.is_float_dtype(series):
            out[column] = series.round(3)
    return out


def _read_for_zoom(s_ds, e_ds, z: int, lat: float):
    """Score and bits read at about half the ground size of a pixel at zoom `z` (from the COG overviews:
    average for scores, nearest for bits), with their transform and CRS."""
    from rasterio.enums import Resampling

    ground_px_m = 2 * HALF_WORLD_M / 2 ** z / TILE_PX * math.cos(math.radians(lat))
    factor = max(1, int(ground_px_m / 2 / s_ds.res[0]))
    shape = (max(1, s_ds.height // factor), max(1, s_ds.width // factor))
    score = s_ds.read(1, out_shape=shape, resampling=Resampling.average)
    bits = e_ds.read(1, out_shape=shape, resampling=Resampling.nearest)
    transform = s_ds.transform * s_ds.transform.scale(s_ds.width / shape[1], s_ds.height / shape[0])
    return score, bits, {"src_transform": transform, "src_crs": s_ds.crs}


def _cut(rgba: np.ndarray, z: int, x0: int, y0: int, x1: int, y1: int, tiles: dict, empty: bytes) -> None:
    """Cut a zoom's mosaic into 256 px PNG tiles keyed by PMTiles tile id (at most a few hundred per zoom)."""
    from pmtiles.tile import zxy_to_tileid

    for ty in range(y1 - y0 + 1):
        for tx in range(x1 - x0 + 1):
            block = rgba[ty * TILE_PX:(ty + 1) * TILE_PX, tx * TILE_PX:(tx + 1) * TILE_PX]
            tiles[zxy_to_tileid(z, x0 + tx, y0 + ty)] = _png(block) if block[..., 3].any() else empty


def _warp_zoom(score, bits, src, z, x0, y0, x1, y1, nodata):
    """The surface warped onto the tile mosaic x0..x1, y0..y1 of zoom `z` (EPSG:3857, 256 px per tile)."""
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    left, _, _, top = tile_bounds_3857(z, x0, y0)
    px = 2 * HALF_WORLD_M / 2 ** z / TILE_PX
    shape = ((y1 - y0 + 1) * TILE_PX, (x1 - x0 + 1) * TILE_PX)
    dst = {"dst_transform": Affine(px, 0, left, 0, -px, top), "dst_crs": "EPSG:3857", "num_threads": 2}
    d_score = np.full(shape, np.nan, np.float32)
    d_bits = np.full(shape, nodata, np.uint16)
    reproject(score, d_score, src_nodata=np.nan, dst_nodata=np.nan, resampling=Resampling.average, **src, **dst)
    reproject(bits, d_bits, src_nodata=nodata, dst_nodata=nodata, resampling=Resampling.nearest, **src, **dst)
    return d_score, d_bits, nodata

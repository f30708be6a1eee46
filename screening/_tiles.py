"""Vector tile archives of the overview map (PMTiles), tile arithmetic, and reading archives back.

Internal to `screening.overview`. Vector tiles (Mapbox Vector Tiles, gzip) are built by a kept tiler, never
by hand: `freestiler` (a Rust tiler, the default; docs/OVERVIEW.md has the measured comparison) or GDAL's
PMTiles driver through pyogrio (``engine="gdal"``). Both snap geometries to the 4096-unit tile grid of each
zoom and drop no feature. Below `GENERALISE_BELOW_ZOOM` each zoom is first generalised to half a screen
pixel of that zoom (a national view needs no 85 m detail: drawing it cost the browser most of its first
render), tiled zoom by zoom and merged into one archive with the `pmtiles` writer (the tiles themselves are
the tiler's). Inputs are EPSG:25832; tiles are XYZ web-mercator (EPSG:3857) tiles. The surface's raster
tiles are `screening._tiles_surface`.
"""

from __future__ import annotations

import gzip
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

__all__ = ["ENGINES", "ArchiveStats", "write_vector_archive", "join_archives", "generalise", "pixel_ground_m",
           "tile_bounds_3857", "tiles_of_point", "read_tile", "archive_header", "iter_tiles"]

log = logging.getLogger(__name__)

ENGINES = ("freestiler", "gdal")
HALF_WORLD_M = 20037508.342789244
"""Half the width of the web-mercator world, metres (EPSG:3857)."""
TILE_PX = 256
GENERALISE_BELOW_ZOOM = 9
"""Zooms below this are simplified to half a screen pixel before tiling; from it up, tiles keep the full
geometry (at zoom 9 a tile unit is about 10 m on the ground in Denmark)."""


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
    tile is in it (tiles carry a small buffer, so some features just outside are too). Zooms below
    `GENERALISE_BELOW_ZOOM` hold the `generalise`-d geometry (half a pixel; lines of equal attributes merged
    into one feature), each written by its own tiler run and joined into `path` (`join_archives`).

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
    bands = _zoom_bands(frame, min_zoom, max_zoom)
    if len(bands) == 1:
        _tile(frame, path, layer_name, min_zoom, max_zoom, engine)
    else:
        parts = []
        for z0, z1, tolerance_m in bands:  # at most GENERALISE_BELOW_ZOOM + 1 runs of the tiler
            part = path.with_name(f"{path.stem}.z{z0}-{z1}.part.pmtiles")
            band = frame if tolerance_m is None else generalise(frame, tolerance_m)
            _tile(band, part, layer_name, z0, z1, engine)
            parts.append(part)
        join_archives(parts, path)
        for part in parts:
            part.unlink()
    header = archive_header(path)
    stats = ArchiveStats(path, len(frame), int(header["addressed_tiles_count"]), min_zoom, max_zoom,
                         path.stat().st_size, round(time.perf_counter() - t0, 3))
    log.info("tiles %s: %s features, %d tiles, zooms %d-%d, %.1f MB in %.1f s (%s)", layer_name,
             f"{stats.features:,}", stats.tiles, min_zoom, max_zoom, stats.bytes / 1e6, stats.seconds, engine)
    return stats


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


def join_archives(paths: list[Path], path: Path) -> None:
    """Join vector-tile archives into one archive `path` (a tile-join): every tile of every input; tiles of
    the same z/x/y are concatenated, which keeps every layer of each (a Mapbox Vector Tile's ``layers`` is a
    repeated protobuf field, so two encoded tiles one after the other are one tile with the layers of both).

    Header: the inputs' zoom range and bounds widened to cover all; metadata: their ``vector_layers``, one
    entry per layer id with its zooms widened. Used for a layer's per-zoom tiler runs (disjoint zooms) and for
    the overview's shared archive of many layers (one map source: MapLibre redraws its stencil clipping masks
    for every source it switches to, which cost a third of each frame with one source per layer).

    Raises
    ------
    ConfigError
        If the inputs are not all gzip-compressed MVT archives.
    """
    from pmtiles.reader import MmapSource, Reader, all_tiles
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer

    tiles: dict[int, list[bytes]] = {}
    headers, layers = [], {}
    for part in paths:  # a few archives
        with Path(part).open("rb") as fh:
            reader = Reader(MmapSource(fh))
            header = reader.header()
            if (header["tile_type"], header["tile_compression"]) != (TileType.MVT, Compression.GZIP):
                raise ConfigError(f"{part}: only gzip-compressed vector tiles can be joined")
            headers.append(header)
            for layer in reader.metadata().get("vector_layers", []):
                known = layers.setdefault(layer["id"], dict(layer))
                known["minzoom"] = min(known.get("minzoom", 99), layer.get("minzoom", 99))
                known["maxzoom"] = max(known.get("maxzoom", 0), layer.get("maxzoom", 0))
            for zxy, data in all_tiles(reader.get_bytes):
                tiles.setdefault(zxy_to_tileid(*zxy), []).append(data)
    header = dict(headers[-1])
    header["min_zoom"], header["max_zoom"] = min(h["min_zoom"] for h in headers), max(h["max_zoom"] for h in headers)
    for key, pick in (("min_lon_e7", min), ("min_lat_e7", min), ("max_lon_e7", max), ("max_lat_e7", max)):
        header[key] = pick(h[key] for h in headers)
    with Path(path).open("wb") as fh:
        writer = Writer(fh)
        for tile_id in sorted(tiles):
            data = tiles[tile_id]
            writer.write_tile(tile_id, data[0] if len(data) == 1
                              else gzip.compress(b"".join(gzip.decompress(d) for d in data), mtime=0))
        writer.finalize({k: header[k] for k in ("tile_type", "tile_compression", "min_zoom", "max_zoom",
                                                "min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7",
                                                "center_zoom", "center_lon_e7", "center_lat_e7")},
                        {"vector_layers": list(layers.values())})


def pixel_ground_m(z: int, lat: float) -> float:
    """Ground size in metres of one 256 px web-map pixel at zoom `z` and latitude `lat` (degrees).

    Examples
    --------
    >>> round(pixel_ground_m(6, 56.0))
    1368
    """
    return 2 * HALF_WORLD_M / 2 ** z / TILE_PX * math.cos(math.radians(lat))


def generalise(gdf: gpd.GeoDataFrame, tolerance_m: float) -> gpd.GeoDataFrame:
    """`gdf` (EPSG:25832) generalised for a zoom whose half pixel is `tolerance_m` metres.

    Polygons are simplified (Douglas-Peucker keeping topology: no ring collapses, no feature is lost). A
    layer of lines is first merged: the lines of equal attributes become one feature whose touching parts
    are joined (``line_merge``), then simplified; a road network split at every junction draws as a few
    long lines instead of thousands of short ones with a cap at each end. Points are returned unchanged.

    Examples
    --------
    >>> import shapely
    >>> roads = gpd.GeoDataFrame({"ref": ["E45", "E45", "E20"]}, geometry=[shapely.LineString([(0, 0), (10, 0)]),
    ...     shapely.LineString([(10, 0), (20, 1)]), shapely.LineString([(0, 5), (9, 5)])], crs=25832)
    >>> generalise(roads, 5.0).sort_values("ref").geometry.to_wkt().tolist()
    ['LINESTRING (0 5, 9 5)', 'LINESTRING (0 0, 20 1)']
    """
    import shapely

    geoms = gdf.geometry.to_numpy()
    kind = shapely.get_type_id(geoms)
    if len(gdf) and bool(np.isin(kind, (1, 5)).all()):  # lines and multilines only
        return _merge_lines(gdf, tolerance_m)
    out = geoms.copy()
    shaped = ~np.isin(kind, (0, 4))  # not points
    out[shaped] = shapely.simplify(geoms[shaped], tolerance_m, preserve_topology=True)
    return gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name), geometry=out, crs=gdf.crs)


def _merge_lines(gdf: gpd.GeoDataFrame, tolerance_m: float) -> gpd.GeoDataFrame:
    """One feature per distinct attribute row: its lines' parts joined where they touch, then simplified."""
    import shapely

    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    attrs = gdf[columns].astype(object).where(gdf[columns].notna(), None)
    if columns:
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(attrs.astype(str).where(attrs.notna(), "\0")))
        first = pd.Series(np.arange(len(gdf))).groupby(codes).first().to_numpy()
    else:
        codes, first = np.zeros(len(gdf), dtype=int), np.array([0])
    parts, index = shapely.get_parts(gdf.geometry.to_numpy(), return_index=True)
    group = codes[index]
    order = np.argsort(group, kind="stable")  # shapely wants the parts grouped
    merged = shapely.line_merge(shapely.multilinestrings(parts[order], indices=group[order]))
    merged = shapely.simplify(merged, tolerance_m, preserve_topology=True)
    return gpd.GeoDataFrame(attrs.iloc[first].reset_index(drop=True), geometry=merged, crs=gdf.crs)


# --------------------------------------------------------------------------- helpers


def _zoom_bands(frame: gpd.GeoDataFrame, min_zoom: int, max_zoom: int) -> list[tuple[int, int, float | None]]:
    """(first zoom, last zoom, simplification tolerance in metres or None) per tiler run: one run per zoom
    below GENERALISE_BELOW_ZOOM at half a pixel of that zoom, one run at full detail from there on. Points
    need no generalisation (one run)."""
    import shapely

    kinds = shapely.get_type_id(frame.geometry.to_numpy())
    if frame.empty or min_zoom >= GENERALISE_BELOW_ZOOM or bool(((kinds == 0) | (kinds == 4)).all()):
        return [(min_zoom, max_zoom, None)]
    corners = gpd.GeoSeries(gpd.points_from_xy(*frame.total_bounds.reshape(2, 2).T), crs=frame.crs)
    lat = float(corners.to_crs(4326).y.mean())  # the layer's mid-latitude, from two corners
    bands = [(z, z, pixel_ground_m(z, lat) / 2) for z in range(min_zoom, min(max_zoom + 1, GENERALISE_BELOW_ZOOM))]
    if max_zoom >= GENERALISE_BELOW_ZOOM:
        bands.append((GENERALISE_BELOW_ZOOM, max_zoom, None))
    return bands


def _tile(frame: gpd.GeoDataFrame, path: Path, layer_name: str, min_zoom: int, max_zoom: int, engine: str) -> None:
    """One run of the kept tiler: `frame` (EPSG:25832) into `path`, zooms `min_zoom`..`max_zoom`."""
    if engine == "freestiler":
        from freestiler import freestile

        freestile(frame.to_crs(4326), path, layer_name=layer_name, min_zoom=min_zoom, max_zoom=max_zoom,
                  simplification=True, generate_ids=True, quiet=True)
    else:
        import pyogrio

        pyogrio.write_dataframe(frame.to_crs(3857), path, driver="PMTiles", layer=layer_name,
                                dataset_options={"MINZOOM": min_zoom, "MAXZOOM": max_zoom, "NAME": layer_name,
                                                 "MAX_SIZE": 5_000_000, "MAX_FEATURES": 10_000_000})


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

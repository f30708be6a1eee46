"""The overview's vector tile archives (screening._tiles): zoom-banded generalisation (below the zoom of full
detail each zoom holds geometry simplified to half a screen pixel, lines of equal attributes merged; from it
up the tiles keep the full geometry) and the tile-join of many layers into one archive. Answers known by
construction on EPSG:25832 shapes near (X0, Y0)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from screening import _tiles
from screening.errors import ConfigError

X0, Y0 = 550_000, 6_200_000
FULL = _tiles.GENERALISE_BELOW_ZOOM

pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")


def _wiggly_disk(radius_m=5_000.0, n=2_000, wiggle_m=20.0) -> shapely.Polygon:
    """A disk of `radius_m` whose boundary zig-zags by `wiggle_m` over `n` vertices."""
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = radius_m + wiggle_m * (np.arange(n) % 2)
    return shapely.Polygon(np.c_[X0 + r * np.cos(angle), Y0 + r * np.sin(angle)])


def _road() -> gpd.GeoDataFrame:
    """A motorway of three 10 km segments split at junctions, each with a 50 m kink (one ref), and a separate
    primary road."""
    xs = [X0 + 10_000 * i for i in range(4)]
    parts = [shapely.LineString([(xs[i], Y0), (xs[i] + 5_000, Y0 + 50), (xs[i + 1], Y0)]) for i in range(3)]
    return gpd.GeoDataFrame({"ref": ["E45", "E45", "E45", "18"], "road_class": ["motorway"] * 3 + ["primary"]},
                            geometry=[*parts, shapely.LineString([(X0, Y0 + 20_000), (X0 + 5_000, Y0 + 25_000)])],
                            crs=25832)


def _features(path, z: int, gdf: gpd.GeoDataFrame, layer: str) -> list[dict]:
    """Every feature of every tile at zoom `z` over `gdf`'s bounds."""
    west, south, east, north = gdf.to_crs(4326).total_bounds
    (x0, y0), (x1, y1) = _tiles.tiles_of_point(west, north, z), _tiles.tiles_of_point(east, south, z)
    out = []
    for x in range(x0, x1 + 1):  # a handful of tiles
        for y in range(y0, y1 + 1):
            decoded = _tiles.read_tile(path, z, x, y) or {}
            out.extend(decoded.get(layer, {}).get("features", []))
    return out


def _vertices(feature: dict) -> int:
    def count(c):
        return 1 if isinstance(c[0], (int, float)) else sum(count(x) for x in c)
    return count(feature["geometry"]["coordinates"])


@pytest.mark.parametrize("engine", ["freestiler", "gdal"])
def test_low_zooms_are_simplified_to_half_a_pixel_and_full_detail_is_kept_from_nine(tmp_path, engine):
    gdf = gpd.GeoDataFrame({"name": ["disk"]}, geometry=[_wiggly_disk()], crs=25832)
    path = tmp_path / "disk.pmtiles"
    _tiles.write_vector_archive(gdf, path, layer_name="disk", min_zoom=6, max_zoom=FULL + 1, attributes=("name",),
                                engine=engine)
    header = _tiles.archive_header(path)
    assert (header["min_zoom"], header["max_zoom"]) == (6, FULL + 1)  # one archive over every zoom
    assert not list(tmp_path.glob("*.part.pmtiles"))  # the per-zoom parts are merged and gone
    # zoom 6: half a pixel is about 680 m, so a 5 km circle keeps a dozen vertices at most; the 20 m zig-zag goes
    low = _features(path, 6, gdf, "disk")
    assert [f["properties"]["name"] for f in low] == ["disk"]
    assert sum(map(_vertices, low)) <= 20
    # zoom 9 and up: a tile unit is about 10 m, so most of the 2,000 vertices (20 m apart) are still there
    full = _features(path, FULL, gdf, "disk")
    assert sum(map(_vertices, full)) > 1_000
    for z in range(6, FULL + 2):
        assert _features(path, z, gdf, "disk"), f"zoom {z} lost the feature"


def test_lines_of_equal_attributes_are_merged_below_full_detail_and_kept_apart_from_it(tmp_path):
    gdf = _road()
    path = tmp_path / "roads.pmtiles"
    _tiles.write_vector_archive(gdf, path, layer_name="roads", min_zoom=6, max_zoom=FULL, attributes=("ref",))
    def motorway_ids(z):  # a feature crossing tiles is in each of them, under one id
        return {f["id"] for f in _features(path, z, gdf, "roads") if f["properties"]["ref"] == "E45"}

    assert {f["properties"]["ref"] for f in _features(path, 6, gdf, "roads")} == {"E45", "18"}
    assert len(motorway_ids(6)) == 1
    assert len(motorway_ids(FULL)) == 3


def test_generalise_merges_touching_lines_keeps_polygons_and_points():
    merged = _tiles.generalise(_road(), 100.0)
    assert sorted(merged["ref"]) == ["18", "E45"]
    motorway = merged.loc[merged["ref"] == "E45"].geometry.iloc[0]
    assert motorway.geom_type == "LineString" and motorway.length == pytest.approx(30_000, abs=0.01)
    assert shapely.get_num_coordinates(motorway) == 2  # the 50 m kinks are below 100 m
    disks = gpd.GeoDataFrame({"id": [1, 2]}, geometry=[_wiggly_disk(), _wiggly_disk(radius_m=30.0, n=8)], crs=25832)
    simple = _tiles.generalise(disks, 100.0)
    assert list(simple["id"]) == [1, 2] and not simple.geometry.is_empty.any()  # a tiny ring does not vanish
    assert shapely.get_num_coordinates(simple.geometry.iloc[0]) < 100
    points = gpd.GeoDataFrame({"id": [1]}, geometry=[shapely.Point(X0, Y0)], crs=25832)
    assert _tiles.generalise(points, 100.0).geometry.iloc[0].equals(points.geometry.iloc[0])


def test_points_and_high_zoom_layers_are_tiled_in_one_run():
    points = gpd.GeoDataFrame(geometry=[shapely.Point(X0, Y0)], crs=25832)
    assert _tiles._zoom_bands(points, 5, 12) == [(5, 12, None)]
    disk = gpd.GeoDataFrame(geometry=[_wiggly_disk()], crs=25832)
    assert _tiles._zoom_bands(disk, FULL, 12) == [(FULL, 12, None)]
    bands = _tiles._zoom_bands(disk, 7, 12)
    assert [b[:2] for b in bands] == [(7, 7), (8, 8), (FULL, 12)]
    assert bands[0][2] == pytest.approx(2 * bands[1][2])  # half a pixel halves with every zoom


@pytest.mark.parametrize("engine", ["freestiler", "gdal"])
def test_joined_archive_holds_every_layer_of_every_tile(tmp_path, engine):
    disk = gpd.GeoDataFrame({"name": ["disk"]}, geometry=[_wiggly_disk()], crs=25832)
    roads = _road()
    a, b, joined = tmp_path / "a.pmtiles", tmp_path / "b.pmtiles", tmp_path / "joined.pmtiles"
    _tiles.write_vector_archive(disk, a, layer_name="disk", min_zoom=7, max_zoom=10, attributes=("name",),
                                engine=engine)
    _tiles.write_vector_archive(roads, b, layer_name="roads", min_zoom=5, max_zoom=10, attributes=("ref",),
                                engine=engine)
    _tiles.join_archives([a, b], joined)
    header = _tiles.archive_header(joined)
    assert (header["min_zoom"], header["max_zoom"]) == (5, 10)
    tiles_a, tiles_b = dict(_tiles.iter_tiles(a)), dict(_tiles.iter_tiles(b))
    tiles_joined = dict(_tiles.iter_tiles(joined))
    assert set(tiles_joined) == set(tiles_a) | set(tiles_b)
    both = set(tiles_a) & set(tiles_b)
    assert both  # the disk lies on the motorway's tiles
    for z, x, y in both:
        decoded = _tiles.read_tile(joined, z, x, y)
        assert decoded["disk"]["features"][0]["properties"] == {"name": "disk"}
        assert {f["properties"]["ref"] for f in decoded["roads"]["features"]} <= {"E45", "18"}
    for zxy in set(tiles_b) - set(tiles_a):  # e.g. zooms 5 and 6: the roads alone, bytes unchanged
        assert tiles_joined[zxy] == tiles_b[zxy]
    from pmtiles.reader import MmapSource, Reader

    with joined.open("rb") as fh:
        layers = {layer["id"]: (layer["minzoom"], layer["maxzoom"])
                  for layer in Reader(MmapSource(fh)).metadata()["vector_layers"]}
    assert layers == {"disk": (7, 10), "roads": (5, 10)}


def test_join_refuses_raster_archives(tmp_path):
    from pmtiles.tile import Compression, TileType
    from pmtiles.writer import Writer

    png = tmp_path / "raster.pmtiles"
    with png.open("wb") as fh:
        writer = Writer(fh)
        writer.write_tile(0, b"not a tile")
        writer.finalize({"tile_type": TileType.PNG, "tile_compression": Compression.NONE, "min_zoom": 0,
                         "max_zoom": 0, "min_lon_e7": 0, "min_lat_e7": 0, "max_lon_e7": 1, "max_lat_e7": 1,
                         "center_zoom": 0, "center_lon_e7": 0, "center_lat_e7": 0}, {})
    with pytest.raises(ConfigError, match="only gzip-compressed vector tiles can be joined"):
        _tiles.join_archives([png], tmp_path / "joined.pmtiles")

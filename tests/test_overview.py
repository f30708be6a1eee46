"""The overview map's building blocks, with answers known by construction; the site built on the mirror.

Synthetic frames are EPSG:25832 on round coordinates near (X0, Y0). Tiles are XYZ web-mercator tiles; a
tile's features are decoded with mapbox_vector_tile and compared with the polygons that intersect it.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from click.testing import CliRunner
from PIL import Image
from pyproj import Transformer
from shapely.geometry import box

from screening import _point_report, _tiles, _tiles_surface, overview
from screening._overview_config import load_overview_config
from screening.cli import main
from screening.config import PROJECT_ROOT, load_catalog, load_criteria, settings_from_env
from screening.errors import ConfigError, CRSError, LayerUnavailableError
from tests import _overview_fixtures as fx

X0, Y0 = 550_000, 6_200_000  # round EPSG:25832 metres in Jutland
TO_3857 = Transformer.from_crs(25832, 3857, always_xy=True)
TO_4326 = Transformer.from_crs(25832, 4326, always_xy=True)

pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")


def _squares() -> gpd.GeoDataFrame:
    """A 6 x 5 grid of 300 m squares, 400 m apart, from (X0, Y0); attributes of three types."""
    cells = [(i, j) for j in range(5) for i in range(6)]
    return gpd.GeoDataFrame(
        {"name": [f"sq{i}-{j}" for i, j in cells], "value": [10 * i + j for i, j in cells],
         "share": [round(0.125 * (i + j), 3) for i, j in cells]},
        geometry=[box(X0 + 400 * i, Y0 + 400 * j, X0 + 400 * i + 300, Y0 + 400 * j + 300) for i, j in cells],
        crs=25832)


def _tile_boxes(gdf: gpd.GeoDataFrame, z: int):
    """Every XYZ tile at zoom `z` over the bounds of `gdf`, as (x, y, box in EPSG:3857)."""
    west, south, east, north = gdf.to_crs(4326).total_bounds
    (x0, y0), (x1, y1) = _tiles.tiles_of_point(west, north, z), _tiles.tiles_of_point(east, south, z)
    return [(x, y, box(*_tiles.tile_bounds_3857(z, x, y))) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def _check_tiles(path, gdf: gpd.GeoDataFrame, layer: str, key: str, z: int, columns=()) -> int:
    """Every feature of `gdf` intersecting a tile at zoom `z` is in it with its attributes; returns tiles seen."""
    merc = gdf.to_crs(3857)
    tree = shapely.STRtree(merc.geometry.to_numpy())
    rows = gdf.set_index(key)
    seen = 0
    for x, y, tile_box in _tile_boxes(gdf, z):  # a few dozen to a few hundred tiles
        expected = set(merc[key].iloc[tree.query(tile_box, predicate="intersects")])
        decoded = _tiles.read_tile(path, z, x, y)
        features = decoded[layer]["features"] if decoded and layer in decoded else []
        got = {f["properties"][key]: f["properties"] for f in features}
        assert expected <= set(got), f"tile {z}/{x}/{y} lacks {sorted(expected - set(got))[:5]}"
        near = set(merc[key].iloc[tree.query(tile_box.buffer(0.15 * (tile_box.bounds[2] - tile_box.bounds[0])),
                                             predicate="intersects")])
        assert set(got) <= near, f"tile {z}/{x}/{y} holds features far outside it"
        for k in expected:
            for column in columns:
                assert got[k][column] == pytest.approx(rows.at[k, column]), (k, column)
        seen += bool(expected)
    return seen


@pytest.mark.parametrize("engine", ["freestiler", "gdal"])
def test_vector_archive_keeps_every_feature_and_its_attributes(tmp_path, engine):
    gdf = _squares()
    path = tmp_path / "squares.pmtiles"
    stats = _tiles.write_vector_archive(gdf, path, layer_name="squares", min_zoom=10, max_zoom=13,
                                        attributes=("name", "value", "share", "absent"), engine=engine)
    header = _tiles.archive_header(path)
    assert (header["min_zoom"], header["max_zoom"]) == (10, 13)
    assert stats.features == 30
    for z in (10, 13):  # the lowest zoom (most simplified) and the maximum zoom
        assert _check_tiles(path, gdf, "squares", "name", z, columns=("value", "share")) >= 1


def test_vector_archive_refuses_other_crs_and_unknown_engine(tmp_path):
    with pytest.raises(CRSError, match="EPSG:4326"):
        _tiles.write_vector_archive(_squares().to_crs(4326), tmp_path / "x.pmtiles", layer_name="x", min_zoom=5,
                                    max_zoom=6)
    with pytest.raises(ConfigError, match="tippecanoe"):
        _tiles.write_vector_archive(_squares(), tmp_path / "x.pmtiles", layer_name="x", min_zoom=5, max_zoom=6,
                                    engine="tippecanoe")
    with pytest.raises(ConfigError, match="zooms 9..8"):
        _tiles.write_vector_archive(_squares(), tmp_path / "x.pmtiles", layer_name="x", min_zoom=9, max_zoom=8)


def _write(path, array, dtype, nodata, transform):
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[1], height=array.shape[0], count=1,
                       dtype=dtype, nodata=nodata, crs="EPSG:25832", transform=transform) as dst:
        dst.write(array.astype(dtype), 1)


@pytest.fixture
def surface_dir(tmp_path):
    """A surface folder of 8 x 6 cells of 1 km from (X0, Y0 + 6 km): score 10 col + row, col 0 excluded
    (bit 1), row 5 off land; criteria hv_substation = col / 8 and port = row / 10."""
    root = tmp_path / "surface"
    (root / "criteria").mkdir(parents=True)
    rows, cols = np.mgrid[0:6, 0:8]
    transform = Affine(1000, 0, X0, 0, -1000, Y0 + 6000)
    score = (10.0 * cols + rows).astype(float)
    score[5] = np.nan
    bits = np.where(cols == 0, 1, 0)
    bits[5] = 65535
    _write(root / "suitability.tif", score, "float32", np.nan, transform)
    _write(root / "exclusion.tif", bits, "uint16", 65535, transform)
    _write(root / "criteria" / "hv_substation.tif", np.where(rows == 5, np.nan, cols / 8), "float32", np.nan,
           transform)
    _write(root / "criteria" / "port.tif", np.where(rows == 5, np.nan, rows / 10), "float32", np.nan, transform)
    (root / "surface.json").write_text(json.dumps({
        "points": {"hv_substation": 60.0, "port": 40.0}, "rule_bits": {"natura2000_fuglebeskyttelse": 1},
        "not_assessed": {"council_decision": "submission attribute"}, "missing_rules": {},
        "config_hash": "abc"}), encoding="utf-8")
    return root


def _cell_centre(row: int, col: int) -> tuple[float, float]:
    return X0 + 1000 * col + 500, Y0 + 6000 - 1000 * row - 500


@pytest.mark.parametrize(("row", "col", "expected"), [
    (2, 4, "score"),     # free land: score 42 on red-yellow-green
    (3, 0, "excluded"),  # column 0 carries exclusion bit 1: dark grey
    (5, 3, "none"),      # row 5 is off land: transparent
])
def test_surface_tiles_colour_each_cell(surface_dir, tmp_path, row, col, expected):
    path = tmp_path / "surface.pmtiles"
    stats = _tiles_surface.write_surface_archive(surface_dir / "suitability.tif", surface_dir / "exclusion.tif", path,
                                         min_zoom=6, max_zoom=10)
    assert stats.tiles >= 5  # at least one tile per zoom
    lon, lat = TO_4326.transform(*_cell_centre(row, col))
    z = 10
    x, y = _tiles.tiles_of_point(lon, lat, z)
    mx, my = TO_3857.transform(*_cell_centre(row, col))
    left, _, _, top = _tiles.tile_bounds_3857(z, x, y)
    px = 2 * _tiles.HALF_WORLD_M / 2 ** z / _tiles_surface.SURFACE_TILE_PX
    from pmtiles.reader import MmapSource, Reader

    with path.open("rb") as fh:
        png = Reader(MmapSource(fh)).get(z, x, y)
    pixel = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))[int((top - my) / px), int((mx - left) / px)]
    colours = {"score": _tiles_surface.colour_surface(np.array([[10.0 * col + row]]), np.array([[0]]))[0, 0],
               "excluded": np.array([70, 70, 70, 210]), "none": np.array([0, 0, 0, 0])}
    assert pixel.tolist() == colours[expected].tolist()


def test_breakdown_holds_each_cell_exactly(surface_dir, tmp_path):
    criteria = load_criteria(settings=settings_from_env())
    info = _point_report.write_breakdown(surface_dir, tmp_path / "site", criteria=criteria,
                                         titles={"port": "Afstand til havn"})
    assert [c["id"] for c in info["criteria"]] == ["hv_substation", "port"]
    assert info["criteria"][1] == {"id": "port", "title": "Afstand til havn", "points": 40.0,
                                   "group": "transport", "band": 3}
    assert info["rules"][0]["bit"] == 0 and info["rules"][0]["id"] == "natura2000_fuglebeskyttelse"
    with rasterio.open(tmp_path / "site" / "breakdown.tif") as ds:
        values = ds.read()
        assert ds.crs.to_epsg() == 25832 and ds.res == (1000.0, 1000.0)
    assert values[:, 2, 4].tolist() == [4200, 5000, 2000, 0]   # score 42, col 4/8, row 2/10, free
    assert values[:, 3, 0].tolist() == [300, 0, 3000, 1]       # excluded by bit 1
    assert values[:, 5, 3].tolist() == [65535, 65535, 65535, 65535]  # off land


def test_find_surface_refuses_stale_or_bandless_surfaces(surface_dir):
    assert overview.find_surface(surface_dir, expected_hash="abc") == (surface_dir, "")
    path, why = overview.find_surface(surface_dir, expected_hash="other")
    assert path is None and "other rules" in why
    (surface_dir / "criteria" / "port.tif").unlink()
    path, why = overview.find_surface(surface_dir, expected_hash="abc")
    assert path is None and "--criterion-bands" in why


def test_run_layers_status_from_selection_and_exclusion(tmp_path):
    run = overview.run_layers(fx.screening_run(tmp_path))["candidates"]
    assert run.set_index("application_id")["status"].to_dict() == {"A1": "proposed", "A2": "eligible",
                                                                   "A3": "excluded"}
    assert overview.run_layers(tmp_path / "nothing") == {}


def test_overview_config_names_unknown_catalog_layers(tmp_path):
    path = tmp_path / "overview.yaml"
    path.write_text("title: {da: t, en: t}\ngroups: [{id: g, title: {da: G, en: G}}]\nlayers:\n"
                    "  - {id: a, title: {da: A, en: A}, group: g, layer: no_such_layer, kind: fill,"
                    " color: '#000000', min_zoom: 5, max_zoom: 8}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no_such_layer"):
        load_overview_config(path, catalog_ids=("kommuner",))
    path.write_text(path.read_text().replace("#000000", "black"), encoding="utf-8")
    with pytest.raises(ConfigError, match="rrggbb"):
        load_overview_config(path)


def test_the_project_overview_config_resolves_in_the_catalog():
    settings = settings_from_env()
    catalog = load_catalog(settings=settings)
    config = load_overview_config(settings.layers_dir / "overview.yaml", catalog_ids=catalog.ids)
    assert {layer.group for layer in config.layers} <= {g.id for g in config.groups}
    capped = config.with_max_zoom(8)
    assert max(layer.max_zoom for layer in capped.layers) == 8


def test_site_server_answers_range_requests(tmp_path):
    from werkzeug.test import Client

    (tmp_path / "a.bin").write_bytes(bytes(range(256)))
    client = Client(overview.make_app(tmp_path))
    response = client.get("/a.bin", headers={"Range": "bytes=10-19"})
    assert response.status_code == 206 and response.data == bytes(range(10, 20))
    assert client.get("/missing.bin").status_code == 404
    assert client.get("/../etc/passwd").status_code == 404


# --------------------------------------------------------------------------- the site on the mirror


@pytest.fixture(scope="module")
def site(mirror_root, tmp_path_factory):
    """The overview built on the mirror plus Plandata fixtures and a three-site run, tiles up to zoom 9,
    no surface; through the CLI from an empty working folder."""
    tmp = tmp_path_factory.mktemp("overview")
    mirror = fx.plandata_mirror(mirror_root, tmp)
    run = fx.screening_run(tmp)
    out = tmp / "out"
    result = CliRunner().invoke(main, ["overview", "--out", str(out), "--surface", str(tmp / "no-surface"),
                                       "--no-surface-build", "--run", str(run), "--max-zoom", "9",
                                       "--mirror", str(mirror), "--offline"])
    assert result.exit_code == 0, result.output
    return {"dir": (out / "latest").resolve(), "output": result.output, "mirror": mirror}


@pytest.mark.mirror
def test_site_lists_every_layer_drawn_or_missing(site):
    manifest = json.loads((site["dir"] / "overview.json").read_text(encoding="utf-8"))
    config = load_overview_config(PROJECT_ROOT / "layers" / "overview.yaml")
    by_id = {e["id"]: e for e in manifest["layers"]}
    assert set(by_id) == {layer.id for layer in config.layers}
    assert by_id["erhvervsrammer"]["status"] == "ok" and by_id["erhvervsrammer"]["features"] == 2  # anvgen 31
    assert by_id["lokalplaner_vedtaget"]["features"] == 2
    assert by_id["ansoegninger"]["features"] == 3 and by_id["industriparker"]["features"] == 1
    assert by_id["lokalplaner_forslag"]["status"] == "missing" and "planning/lokalplaner_forslag.gpkg" in \
        by_id["lokalplaner_forslag"]["reason"]
    # a published site names the mirror, never this machine's folders
    assert "the layer mirror/planning/lokalplaner_forslag.gpkg" in by_id["lokalplaner_forslag"]["reason"]
    text = (site["dir"] / "overview.json").read_text(encoding="utf-8")
    assert str(site["mirror"]) not in text and str(Path(site["mirror"]).resolve()) not in text
    assert by_id["natura2000_habitat"]["provisional"] is True
    assert by_id["natura2000_fugle"]["provisional"] is False
    assert manifest["surface"] is None and "--criterion-bands" in manifest["surface_missing"]
    html = (site["dir"] / "index.html").read_text(encoding="utf-8")
    for entry in manifest["layers"]:  # missing layers are named on the page, never silently absent
        assert (f'data-missing="{entry["id"]}"' in html) == (entry["status"] != "ok"), entry["id"]
    assert 'class="provisional"' in html and 'data-missing="surface"' in html
    ui = json.loads(html.split('id="ui-text">', 1)[1].split("</script>", 1)[0])
    assert ui["attribution"]["natura2000_habitat"].endswith(" — provisional copy")  # the suite runs in English
    assert "provisional" not in ui["attribution"]["natura2000_fugle"]
    for entry in [manifest["land"], *manifest["layers"]]:
        if entry["status"] == "ok":
            assert (site["dir"] / entry["archive"]).stat().st_size > 0
    assert "missing: lokalplaner_forslag" in site["output"]


@pytest.mark.mirror
def test_site_tiles_hold_the_plandata_fixture_with_attributes(site):
    entry = next(e for e in json.loads((site["dir"] / "overview.json").read_text(encoding="utf-8"))["layers"]
                 if e["id"] == "erhvervsrammer")
    path = site["dir"] / entry["archive"]  # the archive the drawn layers share
    assert entry["archive"] == f"tiles/layers-z{entry['tile_max_zoom']}.pmtiles"
    frames = fx.rammer()
    erhverv = frames[frames["anvgen"] == 31]
    assert _check_tiles(path, erhverv, "erhvervsrammer", "planid", 9, columns=("anvgen",)) >= 1
    names = {f["properties"]["plannavn"] for x, y, _ in _tile_boxes(erhverv, 9)
             for f in (_tiles.read_tile(path, 9, x, y) or {"erhvervsrammer": {"features": []}})
             ["erhvervsrammer"]["features"]}
    assert names == {"Erhvervsområde Vest", "Erhvervsområde Nord"}


@pytest.mark.mirror
def test_every_exclusion_polygon_is_in_its_tiles_at_the_maximum_zoom(mirror_root, tmp_path):
    """The real bird protection areas (125 polygons): every tile at the archive's maximum zoom (10 here, to
    keep the test short; the site uses 12) holds every polygon intersecting it."""
    settings = settings_from_env(mirror_root=mirror_root, online=False)
    from screening.catalog import load_layer

    birds = load_layer("natura2000_fuglebeskyttelse", catalog=load_catalog(settings=settings), settings=settings)
    birds = birds.assign(row=[f"r{i}" for i in range(len(birds))])
    path = tmp_path / "birds.pmtiles"
    _tiles.write_vector_archive(birds, path, layer_name="birds", min_zoom=9, max_zoom=10,
                                attributes=("row", "objektnavn", "site_nr"))
    assert _check_tiles(path, birds, "birds", "row", 10, columns=("site_nr",)) > 50


@pytest.mark.mirror
def test_nearest_and_kommuner_data(site):
    nearest = json.loads((site["dir"] / "data" / "nearest.json").read_text(encoding="utf-8"))
    by_id = {c["id"]: c for c in nearest["criteria"]}
    assert {"hv_substation", "port", "airport", "gas_transmission"} <= set(by_id)
    assert len(by_id["hv_substation"]["points"]) == 57  # the criterion's filter (typ substation) applies
    assert by_id["gas_transmission"]["lines"] and not by_id["gas_transmission"]["points"]
    kommuner = json.loads((site["dir"] / "data" / "kommuner.json").read_text(encoding="utf-8"))
    vejle = next(k for k in kommuner if k["navn"] == "Vejle")
    lon, lat = TO_4326.transform(fx.X0, fx.Y0)
    assert vejle["bbox"][0] < lon < vejle["bbox"][2] and vejle["bbox"][1] < lat < vejle["bbox"][3]


@pytest.mark.mirror
def test_site_is_offline_no_cdn(site):
    html = (site["dir"] / "index.html").read_text(encoding="utf-8")
    script = (site["dir"] / "static" / "overview.js").read_text(encoding="utf-8")
    links = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert links and all(not re.match(r"^(https?:)?//", link) for link in links), links  # nothing from a CDN
    assert "https://" not in script and "http://" not in script
    versions = json.loads((site["dir"] / "vendor" / "versions.json").read_text(encoding="utf-8"))
    lock = json.loads((PROJECT_ROOT / "package-lock.json").read_text(encoding="utf-8"))
    assert versions["maplibre-gl"] == lock["packages"]["node_modules/maplibre-gl"]["version"]


def test_overview_needs_its_land_layer(tmp_path):
    settings = settings_from_env(mirror_root=tmp_path, online=False)
    catalog = load_catalog(settings=settings)
    config = load_overview_config(settings.layers_dir / "overview.yaml")
    with pytest.raises(LayerUnavailableError, match="kommuner"):
        overview.build_overview(tmp_path / "site", settings=settings, catalog=catalog,
                                criteria=load_criteria(settings=settings, catalog=catalog), config=config,
                                surface_dir=None, run_dir=None)


def test_no_build_without_a_site_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["overview", "--out", str(tmp_path), "--no-build", "--serve"])
    assert result.exit_code == 2 and "no built site" in result.output


"""Live loaders against local HTTP servers on 127.0.0.1 serving data shaped like the official sources: downloads,
ArcGIS REST, and a fake GeoServer WFS that pages badly, fails, stalls and cuts answers (tests/_fake_wfs.py)."""

from __future__ import annotations

import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import geopandas as gpd
import pytest
from shapely.geometry import LineString, box

from screening import _fetch, _wfs, catalog
from screening._http import FetchError, RetryPolicy
from screening._partial import PartStore
from screening.config import Catalog, LayerSpec, Settings, load_catalog
from tests._fake_wfs import FakeLayer, FakeWFS, grid_features

X0, Y0 = 550_000, 6_200_000


@pytest.fixture
def geofabrik_zip(tmp_path):
    """A zip laid out like Geofabrik's denmark-latest-free.shp.zip: gis_osm_roads_free_1.* in EPSG:4326
    with the fields osm_id, code, fclass, name, ref, oneway, maxspeed."""
    roads = gpd.GeoDataFrame(
        {"osm_id": ["1", "2", "3"], "code": [5111, 5113, 5115], "fclass": ["motorway", "primary", "tertiary"],
         "name": ["E45", "Vejlevej", "Skovvej"], "ref": ["E45", "18", ""], "oneway": ["F", "B", "B"],
         "maxspeed": [110, 80, 50]},
        geometry=[LineString([(9.0, 55.8), (9.1, 55.8)]), LineString([(9.1, 55.8), (9.1, 55.9)]),
                  LineString([(9.1, 55.9), (9.2, 55.9)])], crs=4326)
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    roads.to_file(shp_dir / "gis_osm_roads_free_1.shp", engine="pyogrio")
    archive = tmp_path / "denmark-latest-free.shp.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in shp_dir.iterdir():
            zf.write(part, part.name)
        zf.writestr("README", "Geofabrik extract (test)")
    return archive


class _Handler(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    rest_features: list = []

    def do_GET(self):  # noqa: N802 (http.server API)
        url = urlparse(self.path)
        if url.path.endswith("/query"):
            q = parse_qs(url.query)
            off, n = int(q["resultOffset"][0]), int(q["resultRecordCount"][0])
            assert q["outSR"] == ["25832"] and q["f"] == ["geojson"]
            body = json.dumps({"type": "FeatureCollection", "features": self.rest_features[off:off + n]}).encode()
        elif url.path in self.files:
            body = self.files[url.path]
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A threaded HTTP server on 127.0.0.1 (an ephemeral port); stopped after the test."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_zip_member_normalised_with_catalog_roads_spec(server, geofabrik_zip, tmp_path):
    _Handler.files = {"/denmark-latest-free.shp.zip": geofabrik_zip.read_bytes()}
    spec = load_catalog().get("roads")
    spec = spec.model_copy(update={"source": spec.source.model_copy(
        update={"url": f"{server}/denmark-latest-free.shp.zip"})})
    settings = Settings(mirror_root=tmp_path / "none", cache_dir=tmp_path / "cache", online=True)
    got = catalog.load_layer("roads", catalog=Catalog(layers=(spec,)), settings=settings)
    assert got.attrs["origin"] == "online" and got.crs.to_epsg() == 25832
    assert got["road_class"].tolist() == ["motorway", "primary", "tertiary"]  # fclass -> road_class
    # 0.1 degree of longitude at 55.8 N is about 6.27 km
    assert got.geometry.length.iloc[0] == pytest.approx(6_270, rel=0.01)


def test_rest_pages_and_energinet_voltage_field(server):
    _Handler.rest_features = [
        {"type": "Feature", "properties": {"OBJECTID": i, "Driftsspænding": 400, "Byggenavn": f"line {i}"},
         "geometry": {"type": "LineString", "coordinates": [[X0, Y0 + i], [X0 + 1000, Y0 + i]]}}
        for i in range(5)]
    raw = _fetch.fetch_rest(f"{server}/arcgis/rest/services/INSPIRE/XP_el_Inspir/MapServer/0", page_size=2)
    out = catalog.normalise(raw, load_catalog().get("hv_lines"), what="rest")
    assert len(out) == 5 and out["voltage_kv"].tolist() == [400] * 5
    assert out.geometry.length.sum() == pytest.approx(5_000.0)


def test_unreachable_source_becomes_unavailable_with_reason(tmp_path):
    spec = load_catalog().get("natura2000_habitat")
    spec = spec.model_copy(update={"source": spec.source.model_copy(update={"url": "http://127.0.0.1:9/wfs"})})
    settings = Settings(mirror_root=tmp_path, cache_dir=tmp_path / "c", online=True, timeout_s=2)
    with pytest.raises(catalog.LayerUnavailableError, match=r"official source http://127.0.0.1:9/wfs .*\("):
        catalog.load_layer("natura2000_habitat", catalog=Catalog(layers=(spec,)), settings=settings)


# --------------------------------------------------------------------------- WFS against a local fake GeoServer

FAST = RetryPolicy(timeout_s=0.5, retries=3, backoff_s=0.01)  # the stall test waits 0.5 s, retries at once


@pytest.fixture
def fake():
    """A fake WFS (tests/_fake_wfs.py) with 57 squares in `test:sites`; stopped after the test."""
    wfs = FakeWFS(layers={"test:sites": FakeLayer(grid_features("sites", 57))})
    wfs.start()
    yield wfs
    wfs.stop()


def _layer(fake, typename="test:sites", policy=FAST) -> _wfs.Layer:
    return _wfs.Layer(fake.url, typename, what=f"sites ({typename})", policy=policy)


def _ids(gdf) -> list[int]:
    return sorted(int(i.split(".")[1]) for i in gdf["id"])


def test_paged_fetch_exact_despite_server_maximum_503_stall_and_cut_answer(fake):
    fake.max_features = 7  # below the page size asked for: pages advance by what came back
    fake.faults = {2: "503", 4: "stall", 6: "cut"}
    got = _wfs.fetch_paged(_layer(fake), key="objekt_id", page_size=10, progress=False)
    assert _ids(got) == list(range(57)) and got["objekt_id"].tolist() == list(range(57))
    assert got.geometry.area.sum() == pytest.approx(57 * 400 * 400)
    asked = fake.getfeature_requests()
    assert all(r["sortby"] == "objekt_id" and r["count"] == "10" for r in asked)
    starts = [int(r["startindex"]) for r in asked]
    # 9 pages of at most 7; requests 2, 4 and 6 failed (503, no answer in time, cut off) and were asked again
    assert sorted(set(starts)) == list(range(0, 57, 7)) and len(starts) == 9 + 3
    assert starts[1] == starts[2] and starts[3] == starts[4] and starts[5] == starts[6]


def test_pages_in_unstable_order_are_caught(fake):
    fake.max_features, fake.ignore_sort = 7, True  # the server reorders every page although sortBy is sent
    with pytest.raises(FetchError, match=r"came twice and \d+ are missing of numberMatched=57: .*sortBy=objekt_id"):
        _wfs.fetch_paged(_layer(fake), key="objekt_id", page_size=7, progress=False)


@pytest.mark.parametrize(("strategy", "message"), [
    ("single", r"one request returned 56 features but the service counts numberMatched=57"),
    # a page one short makes the next start one early: a repeat and a gap
    ("paged", r"1 feature\(s\) came twice and 1 are missing of numberMatched=57"),
    # the tile holding it is split down to the box around the lost square, which is counted but empty
    ("chunks", r"chunk tile-E550-N6200/[0-3/]+: 0 features returned but the service counts numberMatched=1"),
])
def test_feature_silently_left_out_is_caught(fake, strategy, message):
    fake.lose = {"sites.13"}  # hits counts 57, GetFeature returns 56 in a consistent document
    layer = _layer(fake)
    with pytest.raises(FetchError, match=message):
        if strategy == "single":
            _wfs.fetch_single(layer, progress=False)
        elif strategy == "paged":
            _wfs.fetch_paged(layer, key="objekt_id", page_size=20, progress=False)
        else:
            _wfs.fetch_chunks(layer, _wfs.tile_chunks((X0, Y0, X0 + 10_000, Y0 + 6_000), tile_km=5),
                              key="id", page_size=100, progress=False)


def test_single_request_cut_by_server_maximum_is_caught(fake):
    fake.max_features = 50
    with pytest.raises(FetchError, match=r"returned 50 features but the service counts numberMatched=57"):
        _wfs.fetch_single(_layer(fake), progress=False)


def test_chunks_exact_deduplicated_split_and_retried(fake):
    """Tiles of 2.2 km cut through squares (repeated across tiles); the server caps answers at 4, below
    the page size of 6, so crowded tiles are split into quadrants; two requests fail and are retried."""
    fake.max_features = 4
    fake.faults = {3: "503", 8: "stall"}
    chunks = _wfs.tile_chunks((X0, Y0, X0 + 10_000, Y0 + 6_000), tile_km=2.2)
    got = _wfs.fetch_chunks(_layer(fake), chunks, key="id", page_size=6, workers=3, progress=False)
    assert _ids(got) == list(range(57))
    assert got.attrs["fetch"]["rows"] > 57  # squares across tile edges came more than once
    assert got.geometry.area.sum() == pytest.approx(57 * 400 * 400)


def test_chunks_that_miss_features_are_caught(fake):
    chunks = [_wfs.Chunk("west", (X0, Y0, X0 + 4_500, Y0 + 6_000))]  # the eastern half is outside
    with pytest.raises(FetchError, match=r"distinct features from 1 chunks, but the service counts "
                                         r"numberMatched=57 .*lie outside every chunk"):
        _wfs.fetch_chunks(_layer(fake), chunks, key="id", page_size=100, progress=False)


def test_resume_fetches_only_the_missing_chunk(fake, tmp_path):
    chunks = _wfs.tile_chunks((X0, Y0, X0 + 10_000, Y0 + 6_000), tile_km=5)  # 2 x 2 tiles
    broken = chunks[2]
    fake.down_bboxes = {tuple(round(v, 2) for v in broken.bbox)}  # every request for this tile: 503
    store = PartStore(tmp_path / "partial", {"number_matched": 57})
    with pytest.raises(FetchError, match=rf"1 of 4 chunks failed: {broken.name} .*3 finished chunks are kept"):
        _wfs.fetch_chunks(_layer(fake), chunks, key="id", page_size=100, workers=2, store=store, progress=False)
    assert sorted(store.names()) == sorted(c.name for c in chunks if c != broken)
    fake.down_bboxes, fake.log = set(), []  # the service is back; run again
    store = PartStore(tmp_path / "partial", {"number_matched": 57})
    got = _wfs.fetch_chunks(_layer(fake), chunks, key="id", page_size=100, workers=2, store=store, progress=False)
    assert _ids(got) == list(range(57))
    assert {r["bbox"] for r in fake.getfeature_requests()} == {f"{_wfs._bbox_text(broken.bbox)},EPSG:25832"}
    assert not (tmp_path / "partial").exists()  # parts removed once the layer is whole


def test_resume_paged_fetch_after_interruption(fake, tmp_path):
    fake.faults = {3: "503", 4: "503", 5: "503", 6: "503"}  # the third page fails beyond the retries
    store = PartStore(tmp_path / "partial", {"number_matched": 57})
    with pytest.raises(FetchError, match="HTTP 503 after 3 retries"):
        _wfs.fetch_paged(_layer(fake), key="objekt_id", page_size=20, store=store, progress=False)
    fake.log = []
    store = PartStore(tmp_path / "partial", {"number_matched": 57})
    got = _wfs.fetch_paged(_layer(fake), key="objekt_id", page_size=20, store=store, progress=False)
    assert _ids(got) == list(range(57))
    assert [r["startindex"] for r in fake.getfeature_requests()] == ["40"]  # pages 0 and 20 were kept


def test_parts_of_a_changed_layer_are_not_reused(tmp_path):
    store = PartStore(tmp_path / "p", {"number_matched": 57})
    store.put("tile-a", gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], crs=25832), covers=[0, 0, 1, 1])
    assert PartStore(tmp_path / "p", {"number_matched": 57}).get("tile-a", covers=[0, 0, 1, 1]) is not None
    assert PartStore(tmp_path / "p", {"number_matched": 57}).get("tile-a", covers=[0, 0, 2, 2]) is None
    assert PartStore(tmp_path / "p", {"number_matched": 58}).get("tile-a", covers=[0, 0, 1, 1]) is None


def test_http_400_is_clear_and_not_retried(fake):
    with pytest.raises(FetchError, match=r"answered HTTP 400 Feature type dai:nope unknown \(not retried"):
        _wfs.fetch_paged(_layer(fake, "dai:nope"), key="objekt_id", page_size=10, progress=False)
    assert len(fake.log) == 1


def test_unknown_sort_key_is_clear(fake):
    with pytest.raises(FetchError, match="Illegal property name: Objekt_id"):
        _wfs.fetch_paged(_layer(fake), key="Objekt_id", page_size=10, progress=False)


def test_refused_connection_is_not_retried():
    layer = _wfs.Layer("http://127.0.0.1:9/wfs", "t:x", what="x", policy=RetryPolicy(timeout_s=2, retries=3,
                                                                                      backoff_s=5))
    with pytest.raises(FetchError, match="cannot connect to 127.0.0.1:9"):
        _wfs.fetch_single(layer, progress=False)  # no 5 + 10 + 20 s of backoff: refused is final


def test_kommune_chunks_are_bounding_boxes_named_by_code():
    kommuner = gpd.GeoDataFrame({"kommunekode": ["101", "0147"]},
                                geometry=[box(X0, Y0, X0 + 3000, Y0 + 2000), box(X0 + 5000, Y0, X0 + 6000, Y0 + 900)],
                                crs=25832)
    assert _wfs.kommune_chunks(kommuner, pad_m=0) == [
        _wfs.Chunk("kommune-0101", (X0, Y0, X0 + 3000.0, Y0 + 2000.0)),
        _wfs.Chunk("kommune-0147", (X0 + 5000.0, Y0, X0 + 6000.0, Y0 + 900.0))]
    assert _wfs.kommune_chunks(kommuner)[1].bbox == (X0 + 4000.0, Y0 - 1000.0, X0 + 7000.0, Y0 + 1900.0)  # 1 km pad


def _wfs_spec(fake, *, typename="test:sites", fetch=None, alternatives=()):
    return LayerSpec.model_validate({
        "id": "sites", "title": "Test sites", "theme": "protected_nature", "role": "exclude",
        "geometry_type": "Polygon",
        "source": {"kind": "wfs", "url": fake.url, "typename": typename, "publisher": "Fake Miljøportal",
                   "licence": "CC0", "evidence": "C", "fetch": fetch or {}},
        "alternatives": list(alternatives),
        "columns": {"objekt_id": {"aliases": ["id"], "meaning": "feature id"}, "navn": {"meaning": "name"}}})


def test_catalog_loads_chunks_by_municipality_with_provenance(fake, tmp_path):
    """Chunks by municipality read the kommuner layer from the mirror; the result is normalised and
    says where it came from and how it was proven complete."""
    mirror = tmp_path / "mirror"
    (mirror / "boundaries").mkdir(parents=True)
    gpd.GeoDataFrame({"kommunekode": ["0101", "0147"]},
                     geometry=[box(X0 - 1, Y0 - 1, X0 + 5_000, Y0 + 6_000), box(X0 + 4_000, Y0 - 1, X0 + 10_000,
                                                                                Y0 + 6_000)],
                     crs=25832).to_file(mirror / "boundaries" / "kommuner.gpkg", layer="kommuner")
    kommuner = LayerSpec.model_validate({  # two municipalities; the real entry expects all 99
        "id": "kommuner", "title": "Kommuner", "theme": "boundaries", "role": "boundary", "geometry_type": "Polygon",
        "mirror": "boundaries/kommuner.gpkg", "mirror_layer": "kommuner",
        "source": {"kind": "none", "publisher": "test", "licence": "CC0"},
        "columns": {"kommunekode": {"meaning": "4-digit code"}}})
    spec = _wfs_spec(fake, fetch={"strategy": "chunks", "chunks": "kommuner", "key": "id", "workers": 2})
    cat = Catalog(layers=(kommuner, spec))
    settings = Settings(mirror_root=mirror, cache_dir=tmp_path / "cache", online=True)
    raw = _fetch.fetch(spec, settings=settings, catalog=cat, progress=False)
    prov = raw.attrs["provenance"]
    assert prov["fetched_from"] == f"{fake.url} typename=test:sites" and prov["number_matched"] == 57
    assert prov["chunks"] == 2 and prov["rows_before_dedup"] > 57 and prov["source"] == "Fake Miljøportal, CC0"
    out = catalog.normalise(raw, spec, what="fake")
    assert sorted(out["objekt_id"]) == list(range(57)) and out.crs.to_epsg() == 25832


def test_alternative_source_used_when_the_preferred_fails(fake, tmp_path):
    dead = {"kind": "wfs", "url": fake.url, "typename": "dai:gone", "publisher": "Gone", "licence": "CC0"}
    spec = _wfs_spec(fake, typename="dai:gone", alternatives=[
        {"kind": "wfs", "url": fake.url, "typename": "test:sites", "publisher": "MiljøGIS", "licence": "PSI",
         "fetch": {"strategy": "paged", "key": "objekt_id", "page_size": 25}}])
    assert dead["typename"] in _fetch.describe(spec) and "or 1 alternative source" in _fetch.describe(spec)
    settings = Settings(mirror_root=tmp_path, cache_dir=tmp_path / "cache", online=True)
    got = catalog.load_layer("sites", catalog=Catalog(layers=(spec,)), settings=settings)
    assert got.attrs["origin"] == "online" and got.attrs["fetched_from"] == f"{fake.url} typename=test:sites"
    assert got.attrs["source"] == "MiljøGIS, PSI" and got.attrs["fetch_strategy"] == "paged by objekt_id"
    assert sorted(got["objekt_id"]) == list(range(57))


def test_every_source_failing_names_each(fake, tmp_path):
    spec = _wfs_spec(fake, typename="dai:gone", alternatives=[
        {"kind": "wfs", "url": fake.url, "typename": "dai:also_gone", "publisher": "x", "licence": "y"}])
    with pytest.raises(FetchError, match=r"typename=dai:gone: .*HTTP 400.*; .*typename=dai:also_gone: .*HTTP 400"):
        _fetch.fetch(spec, settings=Settings(cache_dir=tmp_path, online=True), progress=False)


def test_layer_fetch_resumes_through_the_catalog(fake, tmp_path):
    """A chunk that fails permanently makes the layer unavailable, naming the chunk; the next load (the
    service is back) asks only for that chunk and caches the whole, proven-complete layer."""
    extent = [X0, Y0, X0 + 10_000, Y0 + 6_000]
    spec = _wfs_spec(fake, fetch={"strategy": "chunks", "chunks": "tiles", "tile_km": 5, "extent": extent,
                                  "key": "id", "workers": 2, "retries": 0})
    settings = Settings(mirror_root=tmp_path, cache_dir=tmp_path / "cache", online=True, timeout_s=5)
    cat = Catalog(layers=(spec,))
    broken = _wfs.tile_chunks(extent, tile_km=5)[1]
    fake.down_bboxes = {tuple(round(v, 2) for v in broken.bbox)}
    with pytest.raises(catalog.LayerUnavailableError, match=rf"1 of 4 chunks failed: {broken.name} .*HTTP 503.*"
                                                            r"3 finished chunks are kept in .*partial"):
        catalog.load_layer("sites", catalog=cat, settings=settings)
    fake.down_bboxes, fake.log = set(), []
    got = catalog.load_layer("sites", catalog=cat, settings=settings)
    assert sorted(got["objekt_id"]) == list(range(57)) and got.attrs["origin"] == "online"
    assert got.attrs["number_matched"] == 57 and got.attrs["chunks"] == 4
    assert {r["bbox"] for r in fake.getfeature_requests()} == {f"{_wfs._bbox_text(broken.bbox)},EPSG:25832"}
    assert not (tmp_path / "cache" / "partial").exists() or not any((tmp_path / "cache" / "partial").iterdir())

"""Live loaders against a local HTTP server on 127.0.0.1 serving data shaped like the official sources."""

from __future__ import annotations

import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import geopandas as gpd
import pytest
from shapely.geometry import LineString

from screening import _fetch, catalog
from screening.config import Catalog, Settings, load_catalog

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

"""``industripark layers verify`` against a fake GeoServer on 127.0.0.1 (tests/_fake_wfs.py): what it reports
per source, its exit code (exclusion layers decide it) and what it says offline or without a network."""

from __future__ import annotations

import socket

import pytest
import yaml
from click.testing import CliRunner

from screening import _verify
from screening.cli import main
from screening.config import Catalog
from tests._fake_wfs import FakeLayer, FakeWFS, grid_features


@pytest.fixture
def fake():
    """`test:sites` (57 squares, EPSG:25832 offered), `test:wgs84only` (EPSG:4326 only) and
    `test:fred` (properties objekt_id, navn: no fred_navn), Last-Modified set."""
    wfs = FakeWFS(layers={
        "test:sites": FakeLayer(grid_features("sites", 57)),
        "test:wgs84only": FakeLayer(grid_features("w", 3), crs=("urn:ogc:def:crs:EPSG::4326",)),
        "test:fred": FakeLayer(grid_features("fred", 4)),
    }, last_modified="Tue, 01 Dec 2026 08:00:00 GMT")
    wfs.start()
    yield wfs
    wfs.stop()


def _entry(layer_id, role, source, columns=None, alternatives=()):
    return {"id": layer_id, "title": {"da": layer_id, "en": layer_id}, "theme": "protected_nature", "role": role,
            "geometry_type": "Polygon",
            "source": source, "alternatives": list(alternatives),
            "columns": columns or {"objekt_id": {"aliases": ["id"], "meaning": "id"}, "navn": {"meaning": "name"}}}


def _wfs_source(fake, typename, **fetch):
    return {"kind": "wfs", "url": fake.url, "typename": typename, "publisher": "Fake", "licence": "CC0",
            "fetch": fetch or {"strategy": "single"}}


@pytest.fixture
def layers_dir(tmp_path, fake):
    """A catalog of five layers on the fake: two exclusion layers that pass (one only through its
    alternative), one exclusion layer whose typename is gone, a flag layer lacking a column and using a
    sort key in the wrong case, one flag layer whose service lacks EPSG:25832, and a layer without source."""
    host = fake.url.rsplit("/geoserver", 1)[0]
    layers = [
        _entry("habitat", "exclude", _wfs_source(fake, "test:sites", strategy="paged", key="objekt_id")),
        _entry("section3", "exclude", _wfs_source(fake, "dai:gone"),
               alternatives=[_wfs_source(fake, "test:sites", strategy="chunks", key="id")]),
        _entry("ramsar", "exclude", _wfs_source(fake, "test:site")),
        _entry("fredninger", "flag", _wfs_source(fake, "test:fred", strategy="paged", key="Objekt_id"),
               columns={"fred_navn": {"meaning": "name"}}),
        _entry("wgs", "flag", _wfs_source(fake, "test:wgs84only")),
        _entry("kommuner", "boundary", {"kind": "download", "url": f"{host}/kommuner.geojson", "publisher": "DAWA",
                                        "licence": "CC BY 4.0"}),
        _entry("nnp", "exclude", {"kind": "none", "publisher": "Naturstyrelsen", "licence": "unknown"}),
    ]
    path = tmp_path / "layers"
    path.mkdir()
    (path / "catalog.yaml").write_text(yaml.safe_dump({"layers": layers}, allow_unicode=True), encoding="utf-8")
    return path


def _run(layers_dir, *args, offline=False):
    env = {"INDUSTRIPARK_LAYERS": str(layers_dir), "INDUSTRIPARK_OFFLINE": "1" if offline else None}
    return CliRunner().invoke(main, ["layers", "verify", *args], env=env)


def _rows(output: str) -> dict[tuple[str, str], list[str]]:
    rows = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[1] in ("exclude", "flag", "boundary"):
            rows[(parts[0], parts[3])] = parts
    return rows


def test_verify_table_and_exit_code(layers_dir, fake):
    res = _run(layers_dir, "--timeout", "5")
    assert res.exit_code == 1, res.output
    rows = _rows(res.output)
    host = fake.url.split("/")[2]
    # layer, role, source (host typename), reachable, typename, EPSG:25832, columns, count, last modified
    assert rows[("habitat", "test:sites")][4:9] == ["yes", "yes", "yes", "ok", "57"]
    assert rows[("habitat", "test:sites")][9:] == ["Tue,", "01", "Dec", "2026", "08:00:00", "GMT"]
    assert rows[("section3", "dai:gone")][4:7] == ["yes", "NO", "-"]
    assert rows[("section3", "test:sites")][4:9] == ["yes", "yes", "yes", "ok", "57"]
    assert rows[("ramsar", "test:site")][4:6] == ["yes", "NO"]
    assert rows[("wgs", "test:wgs84only")][4:9] == ["yes", "yes", "NO", "ok", "3"]
    assert "missing: fred_navn, sort key Objekt_id (the service says objekt_id)" in res.output
    assert f"{host} dai:gone" in res.output
    assert "typename test:site not in GetCapabilities (close: test:sites" in res.output
    assert "Not checked (no official source known): nnp" in res.output
    # only the exclusion layer without a passing source fails the run; the flag layers are reported only
    assert "1 exclusion layer(s) have no official source that passes every check: ramsar." in res.output
    assert not fake.getfeature_requests()  # nothing but capabilities, schema and hits was asked


def test_verify_passes_when_every_exclusion_layer_has_a_good_source(layers_dir):
    res = _run(layers_dir, "habitat", "section3", "fredninger")
    assert res.exit_code == 0, res.output
    assert "every exclusion layer has a source that passes" in res.output


@pytest.mark.parametrize("how", ["env", "flag"])
def test_verify_offline_says_it_cannot_check(layers_dir, fake, how):
    res = _run(layers_dir, offline=True) if how == "env" else _run(layers_dir, "--offline")
    assert res.exit_code == 0 and "Cannot check the official sources: offline" in res.output
    assert fake.log == []


def test_verify_without_network_says_it_cannot_check(layers_dir, fake, monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    res = _run(layers_dir)
    assert res.exit_code == 0 and "no network here (none of the 1 source hosts' names resolve)" in res.output
    assert fake.log == []


def test_verify_unknown_layer_id_is_a_clear_error(layers_dir):
    res = _run(layers_dir, "nope")
    assert res.exit_code == 1 and "unknown layer id 'nope'" in res.output


def test_columns_fall_back_to_one_feature_when_describefeaturetype_fails(fake, monkeypatch):
    import owslib.feature.schema

    def broken(*args, **kwargs):
        raise ValueError("no schema")

    monkeypatch.setattr(owslib.feature.schema, "get_schema", broken)
    spec = _entry("habitat", "exclude", _wfs_source(fake, "test:sites"),
                  columns={"navn": {"meaning": "name"}, "a_type": {"meaning": "type code"}})
    (check,) = _verify.verify(Catalog.model_validate({"layers": [spec]}), timeout_s=5)
    assert check.missing == ["a_type"] and check.count == 57
    assert fake.getfeature_requests(count="1")  # one feature read for its columns

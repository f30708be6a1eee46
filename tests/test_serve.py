"""The preview web app through Flask's test client on the real mirror: a good upload and every bad kind."""

from __future__ import annotations

import io
import json
import logging

import pytest

from screening import cards, serve
from screening import preview as preview_mod
from tests import _preview_fixtures as fx

pytestmark = pytest.mark.mirror


@pytest.fixture(scope="module")
def loaded(mirror_root):
    """Settings, criteria and the preview context on the mirror (layers loaded once per session)."""
    settings, _, criteria, ctx = fx.mirror_context()
    return settings, criteria, ctx


def _app(loaded, **limits):
    settings, criteria, ctx = loaded
    return serve.create_app(layer_set=ctx.layer_set, criteria=criteria, settings=settings,
                            reference=ctx.reference, **limits)


@pytest.fixture(scope="module")
def client(loaded):
    """A test client of the app with the default limits (20 MB, 200,000 vertices, 60 s)."""
    return _app(loaded).test_client()


def _post(client, name: str, data: bytes, route: str = "/api/preview", **form):
    return client.post(route, data={"file": (io.BytesIO(data), name), **form},
                       content_type="multipart/form-data")


def _still_up(client):
    assert client.get("/health").status_code == 200


def test_form_and_template(client):
    page = client.get("/").get_data(as_text=True)
    assert 'name="file"' in page and 'href="/template"' in page
    assert "incomplete: natura2000_habitat missing" in page
    answer = client.get("/template")
    assert answer.status_code == 200 and "attachment" in answer.headers["Content-Disposition"]
    assert json.loads(answer.data)["features"][0]["geometry"]["type"] == "Polygon"


def test_good_upload_json_and_page_agree(client):
    api = _post(client, "draft.geojson", fx.good_geojson_bytes())
    assert api.status_code == 200
    body = api.get_json()
    app = body["applications"][0]
    assert body["ok"] is True and app["application_id"] == "VEJ-2026-01" and app["eligible"] is True
    assert 0 < app["score_total"] <= 100 and app["rank"]["rank"] >= 1
    assert sum(r["contribution"] for r in app["breakdown"]) == pytest.approx(app["score_total"])
    assert body["incomplete"].startswith("incomplete: bes_naturtyper missing")
    page = _post(client, "draft.geojson", fx.good_geojson_bytes(), route="/preview")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'data-score="{app["score_total"]}"' in html and "Eligible" in html and "Would rank" in html
    assert 'id="card-1"' in html and 'id="map"' in html and "incomplete: natura2000_habitat missing" in html
    assert f'download="{cards.card_filename("VEJ-2026-01")}"' in html
    assert "industripark-preview-" not in html and "industripark-preview-" not in api.get_data(as_text=True)


BAD = {  # kind -> (field of the first problem or "", words its message contains)
    "corrupt": ("", "cannot be read as GeoJSON"),
    "empty_file": ("file", "the file is empty"),
    "empty_collection": ("", "no features"),
    "no_crs": ("", "no .prj file"),
    "swapped_lon_lat": ("geometry", "swapped"),
    "unknown_kommunekode": ("kommunekode", "'9999'"),
    "invalid_geometry": ("geometry", "Self-intersection"),
    "zip_slip": ("file", "unsafe path"),
    "zip_bomb": ("file", "archive bomb"),
    "wrong_extension": ("file", "not accepted"),
    "renamed_content": ("file", "not a GeoPackage"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_upload_gets_a_clear_message_and_the_server_stays_up(client, kind):
    name, data = fx.bad_uploads()[kind]
    field, words = BAD[kind]
    api = _post(client, name, data)
    assert api.status_code == 422
    first = api.get_json()["problems"][0]
    assert first["field"] == field and words in first["message"] and first["fix"]
    assert first["file"] == name
    page = _post(client, name, data, route="/preview")
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "How to fix" in html and "Traceback" not in html
    assert "industripark-preview-" not in html
    _still_up(client)


def test_problem_names_the_feature_and_the_fix(client):
    name, data = fx.bad_uploads()["unknown_kommunekode"]
    html = _post(client, name, data, route="/preview").get_data(as_text=True)
    assert "feature 1" in html and "VEJ-2026-01" in html and "<code>kommunekode</code>" in html
    assert "0630" in html  # the validator suggests the municipality the site lies in


def test_repair_makes_an_invalid_geometry_previewable(client):
    name, data = fx.bad_uploads()["invalid_geometry"]
    answer = _post(client, name, data, repair="1")
    assert answer.status_code == 200
    assert any("make_valid" in w or "repair" in w for w in answer.get_json()["warnings"])


def test_oversized_upload_gets_413_and_a_friendly_page(client):
    big = b"{" + b" " * (21 * 2**20) + b"}"
    api = _post(client, "big.geojson", big)
    assert api.status_code == 413 and "exceeds 20 MB" in api.get_json()["problems"][0]["message"]
    page = _post(client, "big.geojson", big, route="/preview")
    assert page.status_code == 413 and "The file is too large" in page.get_data(as_text=True)
    _still_up(client)


def test_vertex_cap(loaded):
    answer = _post(_app(loaded, max_vertices=4).test_client(), "draft.geojson", fx.good_geojson_bytes())
    assert answer.status_code == 422 and "vertices" in answer.get_json()["problems"][0]["message"]


def test_time_limit_answers_503_and_the_server_stays_up(loaded):
    client = _app(loaded, request_timeout_s=0.001).test_client()
    answer = _post(client, "draft.geojson", fx.good_geojson_bytes())
    assert answer.status_code == 503 and "took too long" in answer.get_json()["title"]
    _still_up(client)


def test_unexpected_error_is_logged_not_shown(client, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret detail /srv/private")

    monkeypatch.setattr(preview_mod, "preview", broken)
    with caplog.at_level(logging.ERROR, logger="screening.serve"):
        page = _post(client, "draft.geojson", fx.good_geojson_bytes(), route="/preview")
        api = _post(client, "draft.geojson", fx.good_geojson_bytes())
    html = page.get_data(as_text=True)
    assert page.status_code == 500 and "Something went wrong" in html
    assert "secret" not in html and "Traceback" not in html
    assert api.status_code == 500 and "secret" not in api.get_data(as_text=True)
    assert "secret detail" in caplog.text  # the traceback goes to the server log
    monkeypatch.undo()
    _still_up(client)


def test_nothing_is_kept_after_the_response(client, monkeypatch, tmp_path):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    _post(client, "draft.geojson", fx.good_geojson_bytes(), route="/preview")
    _post(client, *fx.bad_uploads()["zip_slip"])
    _post(client, *fx.bad_uploads()["no_crs"])
    assert list(tmp_path.iterdir()) == []


def test_file_name_is_escaped(client):
    html = _post(client, "<img src=x onerror=alert(1)>.geojson", b"", route="/preview").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x" in html


def test_unknown_route_and_method_get_friendly_answers(client):
    assert client.get("/nothing").status_code == 404
    assert client.get("/api/nothing").get_json()["ok"] is False
    wrong = client.get("/preview")
    assert wrong.status_code == 405 and "Method Not Allowed" in wrong.get_data(as_text=True)
    no_file = client.post("/api/preview", data={}, content_type="multipart/form-data")
    assert no_file.status_code == 400 and no_file.get_json()["title"] == "No file chosen"

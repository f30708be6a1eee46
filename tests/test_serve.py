"""The preview web app through Flask's test client on the real mirror: a good upload and every bad kind."""

from __future__ import annotations

import html as htmllib
import io
import json
import logging
import os
import re
import time

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
                            reference=ctx.reference, prepared=ctx.prepared, **limits)


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
    assert 'id="partial-bes_naturtyper"' in page and "six municipalities west of Copenhagen" in page
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
    assert app["incomplete"] == fx.GIVE_INCOMPLETE
    page = _post(client, "draft.geojson", fx.good_geojson_bytes(), route="/preview")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'data-score="{app["score_total"]}"' in html and "Eligible" in html and "Would rank" in html
    assert 'id="card-1"' in html and 'id="map"' in html and fx.GIVE_INCOMPLETE in html
    assert f'download="{cards.card_filename("VEJ-2026-01")}"' in html
    assert "industripark-preview-" not in html and "industripark-preview-" not in api.get_data(as_text=True)


BAD = {  # kind -> (field of the first problem or "", words its message contains)
    "corrupt": ("", "JSON"),
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


@pytest.mark.parametrize("where", ["worker", "server"])
def test_unexpected_error_is_logged_not_shown(loaded, monkeypatch, caplog, where):
    """An internal error in the preview worker or in the server itself: a short page or JSON (as the request
    asked) with a reference that the log line carries with the traceback; never a bare 500."""
    def broken(*args, **kwargs):
        raise RuntimeError("secret detail /srv/private")

    if where == "worker":
        monkeypatch.setattr(preview_mod, "preview", broken)  # before the app forks its workers
    else:
        monkeypatch.setattr(serve._serve_worker.WorkerPool, "run", broken)  # the server's own part
    client = _app(loaded).test_client()
    with caplog.at_level(logging.ERROR, logger="screening.serve"):
        page = _post(client, "draft.geojson", fx.good_geojson_bytes(), route="/preview")
        api = _post(client, "draft.geojson", fx.good_geojson_bytes())
    html = page.get_data(as_text=True)
    assert page.status_code == 500 and "Something went wrong" in html and page.mimetype == "text/html"
    assert "secret" not in html and "Traceback" not in html
    body = api.get_json()
    assert api.status_code == 500 and body["ok"] is False and "secret" not in api.get_data(as_text=True)
    ref = body["reference"]
    assert re.fullmatch(r"[0-9a-f]{8}", ref) and f"error {ref}" in caplog.text  # the answer names the log line
    assert "secret detail" in caplog.text and "Traceback" in caplog.text  # which holds the traceback
    monkeypatch.undo()
    _still_up(client)


def test_whatever_the_reader_raises_is_a_listed_problem(loaded, monkeypatch):
    """A reader failure that is not a SubmissionError (GEOS on all-NaN coordinates, say) is a problem of the
    file: listed with the file's name and a fix, HTTP 422 like every bad file, never a 500."""
    import shapely

    def geos(*args, **kwargs):
        raise shapely.errors.GEOSException("IllegalArgumentException: Points of LinearRing do not form a "
                                           "closed linestring")

    monkeypatch.setattr("screening.submissions.load_submissions", geos)
    client = _app(loaded).test_client()  # its workers are forked after the change
    api = _post(client, "draft.geojson", fx.good_geojson_bytes())
    assert api.status_code == 422
    problem = api.get_json()["problems"][0]
    assert problem["file"] == "draft.geojson" and problem["fix"]
    assert "cannot be read" in problem["message"] and "closed linestring" in problem["message"]
    page = _post(client, "draft.geojson", fx.good_geojson_bytes(), route="/preview")
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "closed linestring" in html and "How to fix" in html


def test_nan_coordinates_are_a_listed_problem(client):
    nan = [[float("nan"), float("nan")]] * 5
    data = json.dumps(fx.feature_collection(ring=nan)).encode()  # NaN tokens, as a hostile file has them
    for route in ("/api/preview", "/preview"):
        answer = _post(client, "nan.geojson", data, route=route)
        assert answer.status_code == 422, (route, answer.get_data(as_text=True)[:500])
    assert _post(client, "nan.geojson", data).get_json()["problems"][0]["message"]


def test_json_is_answered_when_asked_for(client):
    answer = client.get("/nothing", headers={"Accept": "application/json"})
    assert answer.status_code == 404 and answer.get_json()["ok"] is False


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


# --------------------------------------------------------------------------- script injection, headers

PAYLOAD = "<img src=x onerror=\"window.__pwned=1;document.title='pwned'\">"


def _injected_draft() -> bytes:
    return json.dumps(fx.feature_collection(dict(fx.GOOD_PROPERTIES, area_name=PAYLOAD))).encode()


def _policy(answer) -> dict[str, str]:
    header = answer.headers.get("Content-Security-Policy", "")
    return dict((d.strip().split(" ", 1) + [""])[:2] for d in header.split(";") if d.strip())


def test_every_answer_carries_the_security_headers(client):
    answers = [client.get("/"), client.get("/health"), client.get("/nothing"), client.get("/api/nothing"),
               _post(client, "draft.geojson", b"", route="/preview"), _post(client, *fx.bad_uploads()["corrupt"])]
    nonces = set()
    for answer in answers:
        policy = _policy(answer)
        assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
        assert policy["base-uri"] == "'none'" and policy["object-src"] == "'none'"
        assert re.fullmatch(r"'nonce-[\w-]{16,}'", policy["script-src"])  # no 'unsafe-inline', no hosts
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        nonces.add(policy["script-src"])
    assert len(nonces) == len(answers)  # a fresh nonce per answer


def test_result_page_escapes_and_only_its_own_scripts_carry_the_nonce(client):
    page = _post(client, "draft.geojson", _injected_draft(), route="/preview")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    nonce = _policy(page)["script-src"][len("'nonce-"):-1]
    assert "<img src=x" not in html and PAYLOAD not in html
    tags = re.findall(r"<script\b[^>]*>", html)
    assert tags and all(f'nonce="{nonce}"' in t for t in tags)
    assert not [a for a in _attributes(html) if a.startswith("on")]  # no inline event handler on the page
    frames = dict(re.findall(r'<iframe class="(\w+)"[^>]*?sandbox="([^"]*)"', html))
    assert frames == {"card": "allow-same-origin", "map": "allow-scripts"}
    map_doc = htmllib.unescape(re.search(r'<iframe class="map"[^>]*srcdoc="([^"]*)"', html).group(1))
    card_doc = htmllib.unescape(re.search(r'<iframe class="card"[^>]*srcdoc="([^"]*)"', html).group(1))
    for doc in (map_doc, card_doc):  # the documents inside the frames: the payload is text there too
        assert "<img src=x" not in doc and "\\u003cimg src=x" not in doc
    map_tags = re.findall(r"<script\b[^>]*>", map_doc)
    assert map_tags and all(f'nonce="{nonce}"' in t for t in map_tags)
    assert "&lt;img src=x" in card_doc


def _attributes(html: str) -> list[str]:
    """The attribute names of every element of a page, as a browser parses it."""
    from html.parser import HTMLParser

    names = []
    parser = HTMLParser()
    parser.handle_starttag = lambda tag, attrs: names.extend(name for name, _ in attrs)
    parser.feed(html)
    return names


def test_flask_templates_escape(loaded):
    env = _app(loaded).jinja_env
    assert env.autoescape is True or env.autoescape("serve_result.html.j2")
    assert env.from_string("{{ x }}").render(x=PAYLOAD).startswith("&lt;img")


# --------------------------------------------------------------------------- load: limits, cancelling, server


def test_a_preview_takes_a_handful_of_features(client):
    data = fx.many_features_bytes()
    assert 8 * 2**20 < len(data) < 20 * 2**20  # the campaign's ~10 MB file, under the upload limit
    api = _post(client, "many.geojson", data)
    assert api.status_code == 422
    problem = api.get_json()["problems"][0]
    assert problem["file"] == "many.geojson" and problem["field"] == "file"
    assert f"5,000 features; a preview takes at most {preview_mod.MAX_PREVIEW_FEATURES}" in problem["message"]
    assert "industripark screen" in problem["fix"]
    _still_up(client)


def test_a_preview_over_its_time_is_stopped_and_cleaned_up(loaded, monkeypatch, tmp_path):
    """The worker of a preview past its time is killed (its process is gone), its folder removed, and the
    next preview is answered."""
    import psutil

    work, flag, pid_file = tmp_path / "tmp", tmp_path / "slow-once", tmp_path / "worker.pid"
    work.mkdir()
    flag.touch()
    monkeypatch.setattr("tempfile.tempdir", str(work))
    real = preview_mod.preview

    def slow_once(*args, **kwargs):  # runs in the worker process
        pid_file.write_text(str(os.getpid()))
        if flag.exists():
            flag.unlink()
            time.sleep(300)
        return real(*args, **kwargs)

    monkeypatch.setattr(preview_mod, "preview", slow_once)
    client = _app(loaded, request_timeout_s=15).test_client()
    answer = _post(client, "draft.geojson", fx.good_geojson_bytes())
    assert answer.status_code == 503 and "took too long" in answer.get_json()["title"]
    pid = int(pid_file.read_text())
    assert pid != os.getpid() and not psutil.pid_exists(pid)  # killed and reaped
    assert [p for p in work.rglob("*")] == []  # its work folder is gone
    again = _post(client, "draft.geojson", fx.good_geojson_bytes())
    assert again.status_code == 200 and again.get_json()["applications"][0]["score_total"] > 0
    assert int(pid_file.read_text()) != pid and [p for p in work.rglob("*")] == []


def test_stale_work_folders_of_dead_servers_are_swept_at_start(loaded, monkeypatch, tmp_path):
    import subprocess
    import sys

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    stale = tmp_path / f"industripark-preview-{dead}" / ".partial" / "20260101T000000Z"
    stale.mkdir(parents=True)
    (stale / "upload.geojson").write_bytes(b"{}" * 1000)
    alive = tmp_path / f"industripark-preview-{os.getppid()}"  # another server, still running
    alive.mkdir()
    other = tmp_path / "someone-else"
    other.mkdir()
    old_style, fresh_old_style = tmp_path / "industripark-preview-k3j9x2q1", tmp_path / "industripark-preview-a8b7c6d5"
    old_style.mkdir()
    fresh_old_style.mkdir()  # an earlier version's per-request folder: removed only once untouched for an hour
    os.utime(old_style, (time.time() - 7200, time.time() - 7200))
    _app(loaded)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name, fresh_old_style.name])


def test_the_production_server_serves_while_a_client_stalls(loaded):
    """waitress with several threads: a client that sends half a request and stalls does not hold up the
    others, and is dropped after the slow-client timeout."""
    import socket
    import threading

    import requests

    server = serve.make_server(_app(loaded), host="127.0.0.1", port=0, channel_timeout_s=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        port = server.effective_port
        slow = socket.create_connection(("127.0.0.1", port), timeout=20)
        slow.sendall(b"POST /api/preview HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{")
        answer = requests.get(f"http://127.0.0.1:{port}/health", timeout=10)
        assert answer.status_code == 200 and answer.json()["ok"] is True
        t0 = time.monotonic()
        assert slow.recv(1024) == b""  # the server closed the stalled connection
        assert time.monotonic() - t0 < 15
        slow.close()
    finally:
        server.close()
        thread.join(10)


# --------------------------------------------------------------------------- no server paths


def test_no_path_of_the_server_in_any_answer(loaded, tmp_path):
    """Ranked against a run folder and on the mirror: no answer shows the mirror, the run folder, the cache,
    the project or a home folder; layers are named by id, publisher and date instead."""
    import base64
    from pathlib import Path

    import geopandas as gpd

    from screening.config import PROJECT_ROOT

    settings, criteria, ctx = loaded
    run = tmp_path / "20260301T120000Z"
    run.mkdir()
    table = ctx.reference.table.assign(geometry=None)
    gpd.GeoDataFrame(table, geometry="geometry", crs=25832).to_parquet(run / "candidates.parquet")
    from screening.config import load_catalog

    reference = preview_mod.load_reference(run, layer_set=ctx.layer_set, catalog=load_catalog(settings=settings),
                                           criteria=criteria, settings=settings)
    client = serve.create_app(layer_set=ctx.layer_set, criteria=criteria, settings=settings,
                              reference=reference).test_client()
    page = _post(client, "draft.geojson", fx.good_geojson_bytes(), route="/preview").get_data(as_text=True)
    cards_b64 = re.findall(r"base64,([A-Za-z0-9+/=]+)", page)
    answers = [client.get("/").get_data(as_text=True), client.get("/health").get_data(as_text=True),
               _post(client, "draft.geojson", fx.good_geojson_bytes()).get_data(as_text=True), page,
               *(base64.b64decode(c).decode("utf-8", "replace") for c in cards_b64),
               _post(client, *fx.bad_uploads()["unknown_kommunekode"]).get_data(as_text=True),
               _post(client, *fx.bad_uploads()["no_crs"], route="/preview").get_data(as_text=True),
               client.get("/nothing").get_data(as_text=True)]
    forbidden = {str(settings.mirror_root), str(Path(settings.mirror_root).resolve()), str(settings.cache_dir),
                 str(PROJECT_ROOT), str(run), "/work/", str(Path.home()) + "/", "/tmp/"}
    for text in answers:
        for path in forbidden:
            assert htmllib.unescape(text).find(path) < 0, (path, text[max(0, text.find(path) - 200):][:400])
    assert "20260301T120000Z" in answers[0]  # the reference run is named by its id
    assert "Danmarks Miljøportal" in page or "OpenStreetMap" in page  # layers by their publisher


@pytest.mark.parametrize("given", [True, False])
def test_prepared_coverages_are_loaded_once_not_per_request(loaded, monkeypatch, given):
    """The server holds the prepared exclusion coverages (given, or read once when the app is made); a
    preview never reads them from the cache again."""
    from screening import exclusion

    settings, criteria, ctx = loaded
    app = serve.create_app(layer_set=ctx.layer_set, criteria=criteria, settings=settings, reference=ctx.reference,
                           prepared=ctx.prepared if given else None)

    def not_again(*args, **kwargs):
        raise AssertionError("prepared coverages read again for a request")

    monkeypatch.setattr(exclusion, "prepared_layers", not_again)
    answer = _post(app.test_client(), "draft.geojson", fx.good_geojson_bytes())
    assert answer.status_code == 200, answer.get_json()
    assert ctx.prepared and set(ctx.prepared) <= {r.id for r in criteria.exclusions.rules}


def test_scrub_replaces_folders_as_paths_only():
    from screening._serve_answer import scrub

    roots = {"/srv/mirror": "the layer mirror", "/root": "the home folder"}
    texts = {"tried /srv/mirror/nature/x.gpkg": "tried the layer mirror/nature/x.gpkg",
             "(see /root/.cache)": "(see the home folder/.cache)",
             "data:image/png;base64,QUJD/rootQUJD": "data:image/png;base64,QUJD/rootQUJD",  # an image stays
             "/srv/mirrors/other": "/srv/mirrors/other"}
    assert scrub({"a": [*texts]}, roots) == {"a": list(texts.values())}

"""The local preview web page (``industripark serve``): upload a draft submission, see how it would fare.

A Flask app served by waitress. The layers, the reference set and the prepared exclusion coverages are
loaded once, before the app is made (`screening.preview.preview_context`). A request only reads the
upload and waits: the preview itself runs in a forked worker process (`screening._serve_worker`) that
shares the loaded layers and is killed when the request's time is up, so a file that takes too long
costs its time budget and nothing more. Each preview works in its own folder (`pipeline.run_folder`,
under the server's work root), removed when the answer is made; folders of servers that were killed are
removed when the next server starts. What a preview answers, and every message, is in
`screening._serve_answer`.

Every answer is in the request's language (`request_language`): ``?lang=da|en``, else the browser's
``Accept-Language`` (Danish whenever it is accepted at all), else the server's language (``--lang``); the
worker's preview runs in it too. The language, the security headers and the error answers every route
shares are in `screening._serve_http`.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, abort, jsonify, render_template, request, send_file
from werkzeug.exceptions import HTTPException

from screening import _nature_layers, _serve_http, _serve_worker, _upload, i18n
from screening import catalog as catalog_mod
from screening import preview as preview_mod
from screening._run_folder import PARTIAL_DIR, run_folder
from screening._serve_answer import MAP_CONTEXT_M, WorkContext, answer, error_body, public_layer_set
from screening._serve_http import CONTENT_SECURITY_POLICY, LANGUAGE_NAMES, request_language
from screening.config import PROJECT_ROOT, Criteria, Settings
from screening.errors import OutputError
from screening.i18n import gettext as _

__all__ = ["TEMPLATE_FILES", "MAP_CONTEXT_M", "CONTENT_SECURITY_POLICY", "SERVER_THREADS", "CHANNEL_TIMEOUT_S",
           "LANGUAGE_NAMES", "create_app", "make_server", "serve", "request_language"]

log = logging.getLogger(__name__)

TEMPLATE_FILES = (PROJECT_ROOT / "data" / "template_submission.geojson",
                  Path("submissions") / "template_submission.geojson")
"""The submission template offered at ``GET /template``: the project's own, else the mirror's (relative)."""

SERVER_THREADS = 8
"""waitress threads: requests read, waiting for a worker, or answered at once (forms, health, errors)."""

CHANNEL_TIMEOUT_S = 30
"""A connection that sends or takes nothing for this long is closed (a slow or stalled client)."""

_TEMPLATES = Path(__file__).parent / "templates"
_MIN_FREE_MB = 20.0  # room a preview's work folder needs (an upload of at most 20 MB is refused before)


@dataclass(frozen=True)
class _Service:
    """What every request uses: the work context, the time budget, the worker and queue slots and the worker
    processes (`_serve_worker.WorkerPool`, each holding the work context since its fork)."""

    work: WorkContext
    timeout_s: float
    slots: threading.BoundedSemaphore
    queue: threading.BoundedSemaphore
    pool: _serve_worker.WorkerPool


def create_app(*, layer_set: catalog_mod.LayerSet, criteria: Criteria, settings: Settings,
               reference: preview_mod.Reference, prepared: dict | None = None, max_upload_mb: float = 20,
               max_vertices: int = 200_000, max_features: int = preview_mod.MAX_PREVIEW_FEATURES,
               request_timeout_s: float = 60, workers: int = 2, lang: str | None = None) -> Flask:
    """Make the preview web app.

    Routes: ``GET /`` (upload form), ``POST /preview`` (multipart field ``file``; the HTML result),
    ``POST /api/preview`` (same field; JSON with the verdict, scores and breakdown), ``GET /template``
    (the submission template), ``GET /health``. Work folders of preview servers that no longer run are
    removed first (`screening._serve_worker.sweep_stale`).

    Parameters
    ----------
    layer_set
        Layers loaded once at start-up; exclusion layers absent from it were allowed missing and every
        page says "incomplete: <id> missing".
    reference
        The scored applications a draft is ranked against.
    prepared
        The prepared exclusion coverages (`exclusion.prepared_layers`, as `preview.preview_context` loads
        them); None reads them from the cache once, here.
    max_upload_mb
        Largest request body; a larger upload gets HTTP 413 and a friendly page.
    max_vertices, max_features
        Largest total number of vertices, and of features (areas), of an upload.
    request_timeout_s
        Time budget of one preview, waiting for a worker included; past it the worker is killed and the
        answer is HTTP 503.
    workers
        Previews screened at the same time (worker processes); at most ``8 x workers`` requests wait
        for one, others get HTTP 503 at once.
    lang
        Language of requests that name none the server has (no ``?lang=``, no Danish or English in
        ``Accept-Language``); None: the current language (`screening.i18n.current`).
    """
    _serve_worker.sweep_stale()
    if prepared is None:
        from screening import exclusion

        prepared = exclusion.prepared_layers(layer_set.layers, criteria.exclusions, cache_dir=settings.cache_dir)
    app = Flask(__name__, template_folder=str(_TEMPLATES))
    app.config["MAX_CONTENT_LENGTH"] = int(max_upload_mb * 2**20)
    app.jinja_env.autoescape = True  # the templates end in .j2, which Flask would not escape by default
    app.jinja_env.filters["b64"] = lambda text: base64.b64encode(text.encode()).decode()
    i18n.install_jinja(app.jinja_env)  # _(), {% trans %} and the number filters follow the request's language
    default_lang = i18n.check_lang(lang or i18n.current())
    app.wsgi_app = _serve_http.in_language(app.wsgi_app, default_lang)
    work = WorkContext(public_layer_set(layer_set), criteria, settings, reference, dict(prepared), max_vertices,
                       max_features)  # held by the workers from their fork, never sent to them
    svc = _Service(work, request_timeout_s, threading.BoundedSemaphore(workers),
                   threading.BoundedSemaphore(8 * workers), _serve_worker.WorkerPool(answer, (work,), size=workers))
    limits = {"max_features": max_features, "max_upload_mb": max_upload_mb, "max_vertices": max_vertices}
    pages = {code: _page_values(code, layer_set, criteria, reference, limits) for code in i18n.LANGUAGES}

    def page():
        return pages[i18n.current()]

    _serve_http.secure(app)
    _serve_http.languages(app)
    app.extensions["industripark_preview"] = svc
    weakref.finalize(app, svc.pool.close).atexit = False  # an app dropped (tests) retires its workers

    @app.get("/")
    def index():
        return render_template("serve_form.html.j2", page=page())

    @app.get("/health")
    def health():
        return {"ok": True, "layers": len(layer_set.layers), "reference": reference.label_text()}

    @app.get("/template")
    def template():
        path = _template_file(settings)
        if path is None:
            abort(404, description=_("no submission template is installed (data/template_submission.geojson)"))
        return send_file(path, mimetype="application/geo+json", as_attachment=True,
                         download_name="industripark_submission_template.geojson")

    @app.post("/preview")
    def preview_page():
        status, body = _handle(svc, html=True)
        if status != 200:
            return render_template("serve_error.html.j2", page=page(), error=body), status
        return render_template("serve_result.html.j2", page=page(), data=body,
                               map_html=_serve_http.with_nonce(body.pop("map_html"), _serve_http.nonce()))

    @app.post("/api/preview")
    def preview_api():
        status, body = _handle(svc, html=False)
        return jsonify({"ok": status == 200, **body}), status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _serve_http.error_answer(page(), _serve_http.http_error(exc, max_upload_mb), exc.code or 500)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        reference_id = secrets.token_hex(4)
        log.error("error %s while answering %s %s", reference_id, request.method, request.path, exc_info=exc)
        body = {**error_body("internal", reference=reference_id), "reference": reference_id}
        return _serve_http.error_answer(page(), body, 500)

    log.info("preview app ready: %d layers, reference %s, limits %g MB / %d vertices / %d features / %g s, "
             "%d worker(s)", len(layer_set.layers), reference.label, max_upload_mb, max_vertices, max_features,
             request_timeout_s, workers)
    return app


def make_server(app: Flask, *, host: str = "127.0.0.1", port: int = 8000, threads: int = SERVER_THREADS,
                channel_timeout_s: int = CHANNEL_TIMEOUT_S):
    """The production WSGI server (waitress) for `app`, bound but not yet running: ``.run()``, ``.close()``,
    ``.effective_port`` (`port` 0 picks a free one).

    waitress reads each request whole (the body spooled to disk when large) before a thread takes it, so a
    slow client holds no thread; a connection silent for `channel_timeout_s` is closed. One preview of the
    submission template's example is made first, in this process (`_warm_up`): what the code builds and
    caches on first use is then built once and inherited by every worker. The loaded objects are frozen
    for the garbage collector (`screening._serve_worker.freeze_loaded`), so forked workers share them.
    """
    import waitress

    if not ipaddress.ip_address(host).is_loopback:
        log.warning("serving on %s: the preview is reachable from other machines", host)
    _warm_up(app)
    _serve_worker.freeze_loaded()
    app.extensions["industripark_preview"].pool.start()  # the workers, forked warm before the first request
    body_limit = 2 * int(app.config["MAX_CONTENT_LENGTH"] or 20 * 2**20)  # Flask answers 413 below it
    return waitress.create_server(app, host=host, port=port, threads=threads, channel_timeout=channel_timeout_s,
                                  cleanup_interval=max(1, min(30, channel_timeout_s // 2)),
                                  connection_limit=100, max_request_body_size=body_limit,
                                  ident="industripark-preview")


def serve(app: Flask, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve `app` with waitress (`make_server`) until interrupted (local use; loopback by default)."""
    server = make_server(app, host=host, port=port)
    log.warning("industripark preview on http://%s:%s/ (Ctrl+C stops it)", host, server.effective_port)
    try:
        server.run()
    except KeyboardInterrupt:
        log.warning("stopped")
    finally:
        server.close()
        app.extensions["industripark_preview"].pool.close()
        shutil.rmtree(_serve_worker.work_root(), ignore_errors=True)


# --------------------------------------------------------------------------- helpers


def _handle(svc: _Service, *, html: bool) -> tuple[int, dict]:
    """Read the upload, wait for a worker slot, screen it in a worker process within the time budget."""
    started = time.monotonic()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return 400, error_body("no_file")
    data, name = upload.read(), upload.filename
    repair = request.form.get("repair", "").lower() in ("1", "true", "on", "yes")
    if not svc.queue.acquire(blocking=False):
        return 503, error_body("busy")
    try:
        if not svc.slots.acquire(timeout=svc.timeout_s):
            return 503, error_body("busy")
        try:
            left = svc.timeout_s - (time.monotonic() - started)
            if left <= 0:  # the budget went on waiting for a worker
                return 503, error_body("too_long", seconds=svc.timeout_s)
            return _in_worker(svc, data, name, repair, html, left)
        finally:
            svc.slots.release()
    finally:
        svc.queue.release()


def _in_worker(svc: _Service, data: bytes, name: str, repair: bool, html: bool,
               seconds: float) -> tuple[int, dict]:
    """Run `answer` in a worker process in a fresh work folder, in the request's language; the folder is gone
    when this returns."""
    root = _serve_worker.work_root()
    try:
        with run_folder(root, latest=False, min_free_mb=_MIN_FREE_MB) as folder:
            outcome, value = svc.pool.run(
                (data, name), {"repair": repair, "html": html, "workdir": folder.path, "lang": i18n.current()},
                timeout_s=seconds)
        shutil.rmtree(folder.final, ignore_errors=True)
    except _serve_worker.WorkerTimeout as exc:
        log.warning("preview of %r stopped after %g s: %s", _upload.display_name(name), svc.timeout_s, exc)
        return 503, error_body("too_long", seconds=svc.timeout_s)
    except OutputError as exc:
        log.error("no room for the work folder of a preview: %s", exc)
        return 503, error_body("no_room")
    except _serve_worker.WorkerDied as exc:
        outcome, value = "error", str(exc)
    finally:
        _remove_if_empty(root)
    if outcome == "ok":
        return value
    reference_id = secrets.token_hex(4)
    log.error("error %s in the preview of %r:\n%s", reference_id, _upload.display_name(name), value)
    return 500, {**error_body("internal", reference=reference_id), "reference": reference_id}


def _warm_up(app: Flask) -> None:
    """Preview the template's example once in this process, page and all, so the caches the code fills on
    first use (projections, fonts, templates) are filled before workers are forked; best effort."""
    svc: _Service = app.extensions["industripark_preview"]
    path = _template_file(svc.work.settings)
    if path is None:
        return
    started = time.perf_counter()
    for code in i18n.LANGUAGES:  # compile the catalogs once, before the workers are forked
        i18n.translations(code)
    try:
        draft = json.loads(path.read_text(encoding="utf-8"))
        for feature in draft.get("features", []):  # the template's one example
            feature.setdefault("properties", {})["is_example"] = False
        with tempfile.TemporaryDirectory(prefix="industripark-warm-up-") as tmp:
            status, _ = answer(svc.work, json.dumps(draft).encode(), "warm-up.geojson", repair=False, html=True,
                               workdir=Path(tmp))
        log.info("warm-up preview of the template: HTTP %d in %.1f s", status, time.perf_counter() - started)
    except Exception:  # the server works without it, only each worker starts colder
        log.warning("the warm-up preview of %s failed", path.name, exc_info=True)


def _page_values(lang: str, layer_set: catalog_mod.LayerSet, criteria: Criteria,
                 reference: preview_mod.Reference, limits: dict) -> dict:
    """What every page of the app shows (banners, reference, limits), in `lang`."""
    with i18n.use(lang):
        return {
            "incomplete": "; ".join(_("incomplete: %(layer)s missing", layer=lid)
                                    for lid in preview_mod.incomplete_layers(layer_set, criteria)),
            "partial": _nature_layers.partial_layers(layer_set.layers, preview_mod.rule_layers(criteria)),
            "provisional": _nature_layers.provisional_layers(
                layer_set.layers, {r.layer for r in criteria.exclusions.rules}),
            "reference_label": reference.label_text(), "reference_note": reference.note_text(),
            "group_titles": {g.id: i18n.text(g.title).split(" (")[0] for g in criteria.groups},
            "top_k": criteria.sensitivity.top_k, "extensions": ", ".join(_upload.ALLOWED_EXTENSIONS), **limits}


def _remove_if_empty(root: Path) -> None:
    for folder in (root / PARTIAL_DIR, root):  # the work root when no preview is running
        try:
            folder.rmdir()
        except OSError:
            pass


def _template_file(settings: Settings) -> Path | None:
    own, mirrored = TEMPLATE_FILES
    if own.is_file():
        return own
    if settings.mirror_root is not None and (Path(settings.mirror_root) / mirrored).is_file():
        return Path(settings.mirror_root) / mirrored
    return None

"""The local preview web page (``industripark serve``): upload a draft submission, see how it would fare.

A Flask app: synchronous views, the upload size limit built in (``MAX_CONTENT_LENGTH``), a test client
without extra dependencies, and the jinja2 of the reports. The layers and the reference set are loaded
once, before the app is made (`screening.preview.preview_context`); a request only reads the upload,
screens it with `screening.preview.preview` in a worker thread under a time limit, and answers. Each
upload lives in its own temporary folder, deleted when the work ends.
"""

from __future__ import annotations

import base64
import concurrent.futures
import ipaddress
import logging
import re
import secrets
import tempfile
import threading
from dataclasses import dataclass
from html import escape as html_escape
from pathlib import Path

from flask import Flask, abort, g, jsonify, render_template, request, send_file
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.serving import make_server

from screening import _nature_layers, _upload, maps, preview_card, report
from screening import catalog as catalog_mod
from screening import preview as preview_mod
from screening.config import PROJECT_ROOT, Criteria, Settings
from screening.errors import ScreeningError, SubmissionError

__all__ = ["TEMPLATE_FILES", "MAP_CONTEXT_M", "create_app", "serve"]

log = logging.getLogger(__name__)

TEMPLATE_FILES = (PROJECT_ROOT / "data" / "template_submission.geojson",
                  Path("submissions") / "template_submission.geojson")
"""The submission template offered at ``GET /template``: the project's own, else the mirror's (relative)."""

MAP_CONTEXT_M = 20_000.0
"""Protected nature and infrastructure within this distance (metres) of the draft are drawn on its map."""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
    "img-src 'self' data: https://tile.openstreetmap.org; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors 'none'")
"""The policy of every answer: only scripts carrying this answer's nonce run (no inline event handlers, no
injected ``<script>``); the framed map and card inherit it. Styles stay open (Leaflet and the cards set
inline styles); images may be data URIs and the optional basemap's tiles."""

_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class _Service:
    """What every request uses: the loaded layers, rules, reference, limits and the worker pool."""

    layer_set: catalog_mod.LayerSet
    criteria: Criteria
    settings: Settings
    reference: preview_mod.Reference
    max_vertices: int
    timeout_s: float
    pool: concurrent.futures.ThreadPoolExecutor
    slots: threading.BoundedSemaphore


def create_app(*, layer_set: catalog_mod.LayerSet, criteria: Criteria, settings: Settings,
               reference: preview_mod.Reference, max_upload_mb: float = 20, max_vertices: int = 200_000,
               request_timeout_s: float = 60, workers: int = 2) -> Flask:
    """Make the preview web app.

    Routes: ``GET /`` (upload form), ``POST /preview`` (multipart field ``file``; the HTML result),
    ``POST /api/preview`` (same field; JSON with the verdict, scores and breakdown), ``GET /template``
    (the submission template), ``GET /health``.

    Parameters
    ----------
    layer_set
        Layers loaded once at start-up; exclusion layers absent from it were allowed missing and every
        page says "incomplete: <id> missing".
    reference
        The scored applications a draft is ranked against.
    max_upload_mb
        Largest request body; a larger upload gets HTTP 413 and a friendly page.
    max_vertices
        Largest total number of vertices of the uploaded geometries.
    request_timeout_s
        Time limit of one preview; beyond it the answer is HTTP 503 (the work is abandoned, the server
        keeps running).
    workers
        Previews screened at the same time; at most ``8 x workers`` wait, others get HTTP 503 at once.
    """
    app = Flask(__name__, template_folder=str(_TEMPLATES))
    app.config["MAX_CONTENT_LENGTH"] = int(max_upload_mb * 2**20)
    app.jinja_env.autoescape = True  # the templates end in .j2, which Flask would not escape by default
    app.jinja_env.filters["b64"] = lambda text: base64.b64encode(text.encode()).decode()
    svc = _Service(layer_set, criteria, settings, reference, max_vertices, request_timeout_s,
                   concurrent.futures.ThreadPoolExecutor(workers, "preview"),
                   threading.BoundedSemaphore(8 * workers))
    page = {"incomplete": "; ".join(f"incomplete: {lid} missing"
                                    for lid in preview_mod.incomplete_layers(layer_set, criteria)),
            "partial": _nature_layers.partial_layers(layer_set.layers, preview_mod.rule_layers(criteria)),
            "provisional": _nature_layers.provisional_layers(
                layer_set.layers, {r.layer for r in criteria.exclusions.rules}),
            "reference": reference,
            "max_upload_mb": max_upload_mb, "max_vertices": max_vertices, "top_k": criteria.sensitivity.top_k,
            "extensions": ", ".join(_upload.ALLOWED_EXTENSIONS)}

    @app.before_request
    def fresh_nonce():
        g.csp_nonce = secrets.token_urlsafe(18)

    @app.context_processor
    def nonce_in_templates():
        return {"csp_nonce": _nonce()}

    @app.after_request
    def security_headers(answer):
        answer.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(nonce=_nonce())
        answer.headers["X-Content-Type-Options"] = "nosniff"
        answer.headers["X-Frame-Options"] = "DENY"
        answer.headers["Referrer-Policy"] = "no-referrer"
        return answer

    @app.get("/")
    def index():
        return render_template("serve_form.html.j2", page=page)

    @app.get("/health")
    def health():
        return {"ok": True, "layers": len(layer_set.layers), "reference": reference.label}

    @app.get("/template")
    def template():
        path = _template_file(settings)
        if path is None:
            abort(404, description="no submission template is installed (data/template_submission.geojson)")
        return send_file(path, mimetype="application/geo+json", as_attachment=True,
                         download_name="industripark_submission_template.geojson")

    @app.post("/preview")
    def preview_page():
        status, body = _handle(svc, html=True)
        if status != 200:
            return render_template("serve_error.html.j2", page=page, error=body), status
        return render_template("serve_result.html.j2", page=page, data=body,
                               map_html=_with_nonce(body.pop("map_html"), _nonce()))

    @app.post("/api/preview")
    def preview_api():
        status, body = _handle(svc, html=False)
        return jsonify({"ok": status == 200, **body}), status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if isinstance(exc, RequestEntityTooLarge):
            error = _error("The file is too large", f"the upload exceeds {max_upload_mb:g} MB",
                           "simplify the site boundaries or upload one application at a time")
        else:
            error = _error(f"{exc.code} {exc.name}", exc.description)
        return _error_answer(page, error, exc.code or 500)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unexpected error while answering %s %s", request.method, request.path)
        return _error_answer(page, _error(
            "Something went wrong on our side", "the preview failed with an internal error; it was logged",
            "try again; if it happens again, send the file to the screening team"), 500)

    log.info("preview app ready: %d layers, reference %s, limits %g MB / %d vertices / %g s",
             len(layer_set.layers), reference.label, max_upload_mb, max_vertices, request_timeout_s)
    return app


def serve(app: Flask, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve `app` with werkzeug's threaded server until interrupted (local use; loopback by default)."""
    if not ipaddress.ip_address(host).is_loopback:
        log.warning("serving on %s: the preview is reachable from other machines", host)
    server = make_server(host, port, app, threaded=True)
    log.warning("industripark preview on http://%s:%d/ (Ctrl+C stops it)", host, server.server_port)
    try:
        server.serve_forever()
    finally:
        server.server_close()


# --------------------------------------------------------------------------- helpers


def _handle(svc: _Service, *, html: bool) -> tuple[int, dict]:
    """Read the upload, screen it in the pool under the time limit; (HTTP status, answer body)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return 400, _error("No file chosen", "the form was sent without a file",
                           "choose a submission file and send again")
    data, name = upload.read(), upload.filename
    repair = request.form.get("repair", "").lower() in ("1", "true", "on", "yes")
    if not svc.slots.acquire(blocking=False):
        return 503, _error("The server is busy", "too many previews are running", "try again in a minute")
    future = svc.pool.submit(_work, svc, data, name, repair, html)
    future.add_done_callback(lambda _f: svc.slots.release())
    try:
        return future.result(timeout=svc.timeout_s)
    except concurrent.futures.TimeoutError:
        log.warning("preview of %r exceeded %g s; answered 503", name, svc.timeout_s)
        return 503, _error("The preview took too long",
                           f"screening this file took more than {svc.timeout_s:g} s and was stopped",
                           "simplify the site boundaries or upload fewer applications at a time")


def _work(svc: _Service, data: bytes, name: str, repair: bool, html: bool) -> tuple[int, dict]:
    """Runs in a worker thread: store, screen, render; the temporary folder is gone when it returns."""
    shown = _upload.display_name(name)
    with tempfile.TemporaryDirectory(prefix="industripark-preview-") as tmp:
        try:
            path = _upload.store_upload(data, name, Path(tmp))
            result = preview_mod.preview([path], layer_set=svc.layer_set, criteria=svc.criteria,
                                         settings=svc.settings, reference=svc.reference, repair=repair,
                                         max_vertices=svc.max_vertices, names={str(path): shown})
        except SubmissionError as exc:
            problems = [_problem(p, tmp, shown) for p in exc.problems]
            return 422, {"title": f"{shown}: {len(problems)} problem(s) to fix", "problems": problems}
        except ScreeningError as exc:
            return 422, _error(f"{shown} cannot be screened", _clean(str(exc), tmp, shown))
        body = preview_mod.to_dict(result)
        body["warnings"] = [_clean(w, tmp, shown) for w in body["warnings"]]
        body["file"] = shown
        if html:
            page = preview_card.page_values(svc.layer_set, svc.criteria, run_id="draft", detail=False,
                                            config_hash=svc.reference.config_hash)
            card_files = preview_card.write_card(result, Path(tmp) / "card", layer_set=svc.layer_set,
                                                 criteria=svc.criteria, page=page)
            for app in body["applications"]:  # a handful of applications
                card = card_files[str(app["application_id"])]
                app["card_html"], app["card_file"] = _self_contained(card), card.name
            body["map_html"] = _site_map(result, svc, Path(tmp), page)
    return 200, body


def _nonce() -> str:
    """This answer's script nonce (made before the request; a fresh one if that step did not run)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def _with_nonce(html: str, nonce: str) -> str:
    """The map's own ``<script>`` tags with this answer's nonce (the framed map inherits the page's policy).

    Every value from the upload is escaped before it reaches the map, so the only tags here are the map's.
    """
    return re.sub(r"<script\b", f'<script nonce="{nonce}"', html, flags=re.I)


def _error(title: str, message: str, fix: str = "") -> dict:
    """An answer body with one problem: what the error page and the API show."""
    return {"title": title, "problems": [{"message": message, "fix": fix}]}


def _problem(p, tmp: str, shown: str) -> dict:
    """A problem as shown to the user: the temporary path replaced by the uploaded file's name."""
    feature = getattr(p, "feature_index", None)
    return {"file": shown, "feature_index": feature,
            "feature": "" if feature is None else f"feature {int(feature) + 1}",
            "application_id": getattr(p, "application_id", None) or "",
            "field": getattr(p, "field", None) or "",
            "message": _clean(str(getattr(p, "message", p)), tmp, shown),
            "fix": _clean(str(getattr(p, "fix", "")), tmp, shown),
            "severity": getattr(p, "severity", "error")}


def _clean(text: str, tmp: str, shown: str) -> str:
    """Never show a server path: any path inside the temporary folder becomes the uploaded file's name."""
    for form in {str(Path(tmp).resolve()), tmp}:
        text = re.sub(r"(/vsizip/)?" + re.escape(form) + r"[^\s'\",;:)]*", lambda _m: shown, text)
    return text


def _error_answer(page: dict, error: dict, status: int):
    if request.path.startswith("/api/"):
        return jsonify({"ok": False, **error}), status
    return render_template("serve_error.html.j2", page=page, error=error), status


def _template_file(settings: Settings) -> Path | None:
    own, mirrored = TEMPLATE_FILES
    if own.is_file():
        return own
    if settings.mirror_root is not None and (Path(settings.mirror_root) / mirrored).is_file():
        return Path(settings.mirror_root) / mirrored
    return None


def _site_map(result: preview_mod.PreviewResult, svc: _Service, workdir: Path, page: dict) -> str:
    """The reports' folium map (`maps.write_map`) of the draft and the context within `MAP_CONTEXT_M`."""
    sites = result.candidates
    context = preview_card.context_layers(svc.layer_set, sites, distance_m=MAP_CONTEXT_M)
    cand = sites.assign(status=maps.candidate_status(sites))
    popups = {str(a): f"<b>{html_escape(str(a))}</b>" for a in cand["application_id"]}
    path = maps.write_map(workdir / "map.html", cand, popups, context=context, env=report.template_env(),
                          page=page)
    return path.read_text(encoding="utf-8")


def _self_contained(card: Path) -> str:
    """A card's HTML with its images (``img/...`` beside it) inlined as data URIs, to show and download."""
    root = card.parent.resolve()

    def inline(match: re.Match) -> str:
        target = (root / match.group(2)).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return match.group(0)
        mime = "image/svg+xml" if target.suffix == ".svg" else "image/png"
        return f'{match.group(1)}"data:{mime};base64,{base64.b64encode(target.read_bytes()).decode()}"'

    return re.sub(r'(src=)"(img/[^"]+)"', inline, card.read_text(encoding="utf-8"))

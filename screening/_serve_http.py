"""What every answer of the preview server carries: the request's language, the security headers and
the script nonce, and errors as JSON or as the error page — never a bare 500.

The language of a request (`request_language`): ``?lang=da|en``, else the browser's ``Accept-Language``
(Danish whenever it is accepted at all), else the server's language (``--lang``). The whole request runs
inside ``i18n.use(lang)`` (`in_language`); the answer says ``Content-Language`` and each page offers a
Dansk/English switch (`languages`). `secure` gives every answer a fresh script nonce and the
`CONTENT_SECURITY_POLICY`.
"""

from __future__ import annotations

import logging
import re
import secrets
from urllib.parse import parse_qs

from flask import Flask, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from screening import i18n
from screening._serve_answer import error_body
from screening.i18n import N_
from screening.i18n import gettext as _

__all__ = ["CONTENT_SECURITY_POLICY", "LANGUAGE_NAMES", "request_language", "in_language", "languages", "secure",
           "nonce", "with_nonce", "http_error", "error_answer"]

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
    "img-src 'self' data: https://tile.openstreetmap.org; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors 'none'")
"""The policy of every answer: only scripts carrying this answer's nonce run (no inline event handlers, no
injected ``<script>``); the framed map and card inherit it. Styles stay open (Leaflet and the cards set
inline styles); images may be data URIs and the optional basemap's tiles."""

LANGUAGE_NAMES = (("da", "Dansk"), ("en", "English"))
"""The language switch of every page: each language named in itself."""

def http_error(exc: HTTPException, max_upload_mb: float) -> dict:
    """The answer body of an HTTP error, in the request's language."""
    if isinstance(exc, RequestEntityTooLarge):
        return error_body("too_large", mb=max_upload_mb)
    if exc.code == 404 and request.endpoint is None:  # no such page (not a view's own 404)
        return error_body("not_found")
    if exc.code == 405:
        return error_body("method_not_allowed", method=request.method)
    return error_body("http", code=exc.code, name=_(_HTTP_NAMES.get(exc.code, exc.name)),
                      description=exc.description)


def request_language(accept_language: str | None, query_lang: str | None, default: str) -> str:
    """The language of a request: ``?lang=`` when it names one we have, else the browser's
    ``Accept-Language`` (Danish first: `screening.i18n.negotiate`) when it names Danish or English at all,
    else `default` (the server's ``--lang``).

    Examples
    --------
    >>> request_language("en-GB,en;q=0.9", None, "da"), request_language("de-DE", None, "en")
    ('en', 'en')
    >>> request_language("en", "da", "en"), request_language(None, "xx", "da")
    ('da', 'da')
    """
    if query_lang and query_lang.strip().lower() in i18n.LANGUAGES:
        return query_lang.strip().lower()
    named = {part.split(";")[0].strip().split("-")[0].lower() for part in (accept_language or "").split(",")}
    return i18n.negotiate(accept_language) if named & set(i18n.LANGUAGES) else default


_HTTP_NAMES = {400: N_("Bad Request"), 403: N_("Forbidden"), 404: N_("Not Found"), 500: N_("Internal Server Error")}
"""Names of the HTTP errors the server may answer besides those of `screening._serve_answer.MESSAGES`."""


def in_language(wsgi_app, default: str):
    """`wsgi_app` answering each request inside ``i18n.use(<the request's language>)`` (`request_language`)."""

    def app(environ, start_response):
        query = parse_qs(environ.get("QUERY_STRING", "")).get("lang", [None])[0]
        with i18n.use(request_language(environ.get("HTTP_ACCEPT_LANGUAGE"), query, default)):
            return wsgi_app(environ, start_response)

    return app


def languages(app: Flask) -> None:
    """The language switch in the templates (`LANGUAGE_NAMES`, ``switch_url``) and ``Content-Language`` on
    every answer."""

    @app.context_processor
    def language_switch():
        def switch_url(code: str) -> str:
            path = request.path if request.method == "GET" and request.endpoint else "/"
            return f"{path}?lang={code}"

        return {"languages": LANGUAGE_NAMES, "switch_url": switch_url}

    @app.after_request
    def content_language(answer):
        answer.headers["Content-Language"] = i18n.current()
        answer.vary.add("Accept-Language")
        return answer


def secure(app: Flask) -> None:
    """A fresh script nonce per request, in the templates and in the policy header of every answer."""

    @app.before_request
    def fresh_nonce():
        g.csp_nonce = secrets.token_urlsafe(18)

    @app.context_processor
    def nonce_in_templates():
        return {"csp_nonce": nonce()}

    @app.after_request
    def security_headers(answer):
        answer.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(nonce=nonce())
        answer.headers["X-Content-Type-Options"] = "nosniff"
        answer.headers["X-Frame-Options"] = "DENY"
        answer.headers["Referrer-Policy"] = "no-referrer"
        return answer


def nonce() -> str:
    """This answer's script nonce (made before the request; a fresh one if that step did not run)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def with_nonce(html: str, nonce: str) -> str:
    """The map's own ``<script>`` tags with this answer's nonce (the framed map inherits the page's policy).

    Every value from the upload is escaped before it reaches the map, so the only tags here are the map's.
    """
    return re.sub(r"<script\b", f'<script nonce="{nonce}"', html, flags=re.I)


def _wants_json() -> bool:
    """The API, or a client that prefers JSON to HTML (``Accept``)."""
    accept = request.accept_mimetypes
    return request.path.startswith("/api/") or (
        accept.best_match(["text/html", "application/json"]) == "application/json" and accept["text/html"] == 0)


def error_answer(page: dict, error: dict, status: int):
    """The error in the request's format: JSON for the API (or when asked for), else the error page."""
    if _wants_json():
        return jsonify({"ok": False, **error}), status
    try:
        return render_template("serve_error.html.j2", page=page, error=error), status
    except Exception:  # the error page itself failed: still no bare 500
        log.exception("the error page could not be rendered")
        text = "\n".join([error["title"], *(p["message"] for p in error["problems"])])
        return text, status, {"Content-Type": "text/plain; charset=utf-8"}

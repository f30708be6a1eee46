"""What the preview server answers: the body of a preview (run in a worker process) and every message.

`answer` stores an upload, screens it with `screening.preview.preview` and renders the card and the map;
it runs in the forked worker (`screening._serve_worker`) and returns ``(HTTP status, body)``. Every
sentence the server shows (titles, messages, fixes) is in `MESSAGES`, in one place: English source texts
translated into the request's language where used (`screening.i18n`; `answer` runs in the language it is given).
No answer shows a path of the server: temporary paths become the uploaded file's name (`clean`), layers
are named by id, publisher and date.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import re
from dataclasses import dataclass
from html import escape as html_escape
from pathlib import Path

from screening import _upload, i18n, maps, preview_card, report
from screening import catalog as catalog_mod
from screening import preview as preview_mod
from screening._machine_paths import scrub, server_roots
from screening.config import Criteria, Settings
from screening.errors import ScreeningError, SubmissionError
from screening.i18n import N_
from screening.i18n import gettext as _

__all__ = ["MESSAGES", "MAP_CONTEXT_M", "WorkContext", "answer", "error_body", "clean", "public_layer_set",
           "scrub", "server_roots"]

log = logging.getLogger(__name__)

MAP_CONTEXT_M = 20_000.0
"""Protected nature and infrastructure within this distance (metres) of the draft are drawn on its map."""

MESSAGES = {
    "no_file": (N_("No file chosen"), N_("the form was sent without a file"),
                N_("choose a submission file and send again")),
    "busy": (N_("The server is busy"), N_("too many previews are running or waiting"), N_("try again in a minute")),
    "too_long": (N_("The preview took too long"),
                 N_("screening this file took more than %(seconds)s s and was stopped"),
                 N_("simplify the site boundaries or upload fewer areas at a time")),
    "too_large": (N_("The file is too large"), N_("the upload exceeds %(mb)s MB"),
                  N_("simplify the site boundaries or upload one application at a time")),
    "internal": (N_("Something went wrong on our side"),
                 N_("the preview failed with an internal error; it was logged with reference %(reference)s"),
                 N_("try again; if it happens again, send the file and the reference to the screening team")),
    "no_room": (N_("The server cannot take uploads right now"), N_("it has no room to store the upload"),
                N_("try again later, or tell the screening team")),
    "cannot_screen": (N_("%(file)s cannot be screened"), "%(message)s", ""),
    "problems": (lambda n, **v: i18n.ngettext("%(file)s: %(num)s problem to fix", "%(file)s: %(num)s problems to fix",
                                              n, **v), "", ""),
    "not_found": (N_("404 Not Found"), N_("there is no page at this address"),
                  N_("start again from the upload form")),
    "method_not_allowed": (N_("405 Method Not Allowed"), N_("this address does not answer a %(method)s request"),
                           N_("send files with the upload form, or POST them to /api/preview")),
    "http": ("%(code)s %(name)s", "%(description)s", ""),
    "unavailable": (N_("layer '%(layer)s' is not available on this server"), "", ""),
    "feature": (N_("feature %(num)s"), "", ""),
}
"""Title, message and fix of every answer that is not a preview: English source texts with ``%(name)s``
placeholders, translated into the request's language and filled in by `error_body` (the title of
``problems`` is counted: ``MESSAGES["problems"][0](n, file=...)``)."""


@dataclass(frozen=True)
class WorkContext:
    """What a preview needs, loaded once by the server: layers, rules, reference, prepared coverages, limits."""

    layer_set: catalog_mod.LayerSet
    criteria: Criteria
    settings: Settings
    reference: preview_mod.Reference
    prepared: dict
    max_vertices: int
    max_features: int


def answer(ctx: WorkContext, data: bytes, name: str, *, repair: bool, html: bool,
           workdir: Path, lang: str | None = None) -> tuple[int, dict]:
    """Store the upload in `workdir`, screen it and build the answer body; ``(HTTP status, body)``.

    422 with the file's problems (every problem `submissions check` would report, or what the reader
    raised), else 200 with `preview.to_dict` and, for the page, each card as self-contained HTML and the
    map. Every text is in `lang` (None: the current language). Runs in a worker process; `workdir` is
    removed by the server.
    """
    with i18n.use(lang or i18n.current()):
        status, body = _answer(ctx, data, name, repair=repair, html=html, workdir=workdir)
    return status, scrub(body, server_roots(ctx.settings))


def public_layer_set(layer_set: catalog_mod.LayerSet) -> catalog_mod.LayerSet:
    """The layer set as the web may describe it: a missing layer's reason (which names the paths and
    addresses tried) becomes "layer '<id>' is not available on this server"; notes of damaged layers keep
    their words but lose paths (`scrub`)."""
    return dataclasses.replace(
        layer_set, missing={lid: _(MESSAGES["unavailable"][0], layer=lid) for lid in layer_set.missing},
        damaged={lid: str(note) for lid, note in layer_set.damaged.items()})


def _answer(ctx: WorkContext, data: bytes, name: str, *, repair: bool, html: bool,
            workdir: Path) -> tuple[int, dict]:
    shown = _upload.display_name(name)
    tmp = str(workdir)
    try:
        path = _upload.store_upload(data, name, Path(workdir))
        result = preview_mod.preview([path], layer_set=ctx.layer_set, criteria=ctx.criteria,
                                     settings=ctx.settings, reference=ctx.reference, repair=repair,
                                     max_vertices=ctx.max_vertices, max_features=ctx.max_features,
                                     prepared=ctx.prepared, names={str(path): shown})
    except SubmissionError as exc:
        problems = [_problem(p, tmp, shown) for p in exc.problems]
        return 422, {"title": MESSAGES["problems"][0](len(problems), file=shown),
                     "problems": problems}
    except ScreeningError as exc:
        return 422, error_body("cannot_screen", file=shown, message=clean(str(exc), tmp, shown))
    body = preview_mod.to_dict(result)
    body["warnings"] = [clean(w, tmp, shown) for w in body["warnings"]]
    body["file"] = shown
    if html:
        page = preview_card.page_values(ctx.layer_set, ctx.criteria, run_id=_("draft"), detail=False,
                                        config_hash=ctx.reference.config_hash)
        card_files = preview_card.write_card(result, Path(workdir) / "card", layer_set=ctx.layer_set,
                                             criteria=ctx.criteria, page=page)
        for app in body["applications"]:  # a handful of applications
            card = card_files[str(app["application_id"])]
            app["card_html"], app["card_file"] = clean(_self_contained(card), tmp, shown), card.name
        body["map_html"] = _site_map(result, ctx, Path(workdir), page)
    return 200, body


def error_body(kind: str, **values) -> dict:
    """An answer body with one problem, worded by `MESSAGES[kind]` in the current language with `values`
    filled in (numbers formatted for the language).

    Examples
    --------
    >>> with i18n.use("da"):
    ...     error_body("too_large", mb=20.0)["problems"][0]["message"]
    'uploaden er større end 20 MB'
    """
    shown = {k: _number(v) for k, v in values.items()}
    title, message, fix = (_(text, **shown) if text else "" for text in MESSAGES[kind])
    return {"title": title, "problems": [{"message": message, "fix": fix}]}


def clean(text: str, tmp: str, shown: str) -> str:
    """Never show a server path: any path inside the temporary folder becomes the uploaded file's name."""
    for form in {str(Path(tmp).resolve()), tmp}:
        text = re.sub(r"(/vsizip/)?" + re.escape(form) + r"[^\s'\",;:)<]*", lambda _m: shown, text)
    return text


# --------------------------------------------------------------------------- helpers


def _problem(p, tmp: str, shown: str) -> dict:
    """A problem as shown to the user: the temporary path replaced by the uploaded file's name."""
    feature = getattr(p, "feature_index", None)
    return {"file": shown, "feature_index": feature,
            "feature": "" if feature is None else _(MESSAGES["feature"][0], num=int(feature) + 1),
            "application_id": getattr(p, "application_id", None) or "",
            "field": getattr(p, "field", None) or "",
            "message": clean(str(getattr(p, "message", p)), tmp, shown),
            "fix": clean(str(getattr(p, "fix", "")), tmp, shown),
            "severity": getattr(p, "severity", "error")}


def _number(value):
    """A number as text for the language (whole numbers without decimals); other values as they are."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return i18n.fmt_number(value, 0 if float(value).is_integer() else (3 if abs(value) < 1 else 1))


def _site_map(result: preview_mod.PreviewResult, ctx: WorkContext, workdir: Path, page: dict) -> str:
    """The reports' folium map (`maps.write_map`) of the draft and the context within `MAP_CONTEXT_M`."""
    sites = result.candidates
    context = preview_card.context_layers(ctx.layer_set, sites, distance_m=MAP_CONTEXT_M)
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

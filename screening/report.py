"""The human-readable report of a run: ``index.html``, ``map.html`` and one score card per application.

`write_report` is called by `screening.pipeline.screen` after the machine-readable files are written; it
reads nothing from disk but the templates, and every page says so prominently when the screening is
incomplete (an exclusion layer was missing). Pages are written in the current language (`screening.i18n`:
the templates' texts through ``_()``/``{% trans %}``, numbers, areas, shares and dates through its filters).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd

from screening import _nature_layers, cards, i18n, maps, selection_explain
from screening._geo import require_crs
from screening.config import Criteria
from screening.errors import ScreeningError
from screening.i18n import N_, fmt_number
from screening.i18n import gettext as _

__all__ = [
    "REQUIRED_COLUMNS", "DOWNLOADS", "BACKTEST_HEADINGS", "write_report", "template_env", "page_values",
    "incomplete_banners"
]

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = (
    "application_id", "site_name", "kommunenavn", "regionsnavn", "area_ha", "excluded", "score_total"
)
"""Candidate columns the report cannot do without; the other contract columns default when absent."""

_DEFAULTS = {
    "kommunekode": "", "regionskode": "", "net_area_ha": np.nan, "exclusion_reasons": "", "flags": "",
    "incomplete": "", "score_infrastructure": np.nan, "score_transport": np.nan, "score_labour": np.nan,
    "score_commitment": np.nan, "bonus_points": 0.0, "not_assessed": "", "rank": np.nan, "rank_min": np.nan,
    "rank_max": np.nan, "top_k_probability": np.nan, "selected": False, "selection_reason": "",
    "proposal_rank": np.nan
}

_BREAKDOWN_COLUMNS = (
    "application_id", "group", "criterion", "title", "raw_value", "unit", "band", "score", "weight",
    "contribution", "assessed", "method", "nearest", "note", "layer", "source", "date"
)
_OVERLAP_COLUMNS = (
    "application_id", "rule_id", "layer", "action", "buffer_m", "overlap_ha", "overlap_share", "features",
    "decisive", "source", "provisional"
)

DOWNLOADS = (
    ("candidates.csv", N_("the candidate table (one row per application), CSV")),
    ("candidates.gpkg", N_("the candidate table with site polygons, GeoPackage (EPSG:25832)")),
    ("candidates.parquet", N_("the candidate table with site polygons, GeoParquet")),
    ("screening.gpkg", N_("all results in one GeoPackage")),
    ("selection.json", N_("the proposal: solver status, selected ids, alternatives, back-test")),
    ("explanations.json", N_("per application: overlaps, score breakdown, selection reason")),
    ("manifest.json", N_("inputs with checksums, layers with sources and dates, config hash, versions")),
)
"""Files of the run folder linked from the index, when they exist (descriptions translated where shown)."""
BACKTEST_HEADINGS = {
    "designated": N_("Designated in 2025"), "proposed": N_("Proposed"), "both": N_("Designated and proposed"),
    "designated_not_proposed": N_("Designated in 2025, not proposed"),
    "proposed_not_designated": N_("Proposed, not designated in 2025"),
    "spacing_choice": N_("Choice of the spacing"), "caveat": N_("Caveat"),
    "spacing_sweep": N_("Agreement at other spacings"),
}
"""Headings of the parts of ``selection.json``'s back-test on the index; other keys are shown as they are."""
ORIGIN_WORDS = {"mirror": N_("mirror"), "online": N_("online"), "imported": N_("imported"), "cache": N_("cache")}
"""Where a layer was read from (the manifest's ``origin``), in words; other values are shown as they are."""
BANNER_KINDS = ("missing", "partial", "damaged")
"""Kinds of the banners of an incomplete run (`incomplete_banners`), each worded on its own on the pages."""
SCENARIOS_PAGE = "scenarios/scenarios.html"
"""The policy-scenario comparison (`screening.scenarios`), linked from the index when the run has it."""


def write_report(
    run_dir: Path, candidates: gpd.GeoDataFrame, breakdown: pd.DataFrame, overlaps: pd.DataFrame,
    selection: dict, manifest: dict, *, context: Mapping[str, gpd.GeoDataFrame], criteria: Criteria,
    surface_overlay: tuple[Path, tuple] | None = None, cache_dir: Path | None = None
) -> dict[str, Path]:
    """Write ``index.html``, ``map.html`` and a card per application (``cards/`` + `cards.card_filename`).

    Parameters
    ----------
    run_dir
        The run folder; the machine-readable files (csv, gpkg, json) are linked when present.
    candidates
        One row per application in EPSG:25832 with the candidate contract's columns (see
        ``docs/ARCHITECTURE.md``); at least `REQUIRED_COLUMNS`.
    breakdown, overlaps
        The score breakdown (long) and the exclusion overlaps of the run.
    selection
        The content of ``selection.json`` (``{}`` when no selection was run).
    manifest
        The run manifest; ``incomplete`` and ``missing_layers`` drive the banner on every page.
    context
        Layer id -> EPSG:25832 GeoDataFrame drawn on the map and the site maps; absent ids are skipped.
    criteria
        The run's criteria (groups, bands, exclusion rules, sensitivity settings).
    surface_overlay
        Optional ``(png, ((south, west), (north, east)))`` from `screening.surface.overlay_png`.
    cache_dir
        Folder of the display cache (`screening._display_cache`: the map's context GeoJSON); None for none.

    Returns
    -------
    dict of str to pathlib.Path
        ``index``, ``map``, and ``card_<id>``, ``chart_<id>``, ``site_map_<id>`` per application.

    Raises
    ------
    CRSError
        If `candidates` or a context layer is not in EPSG:25832.
    ScreeningError
        If `candidates` lacks a required column or an application id is repeated.
    """
    run_dir = Path(run_dir)
    cand = _prepare(candidates)
    breakdown = _with_columns(breakdown, _BREAKDOWN_COLUMNS)
    overlaps = _with_columns(overlaps, _OVERLAP_COLUMNS)
    context = {k: v for k, v in context.items() if v is not None and len(v)}
    env = template_env()
    page = page_values(manifest, criteria)
    out = cards.write_cards(run_dir / "cards", cand, breakdown, overlaps, context=context, criteria=criteria,
                            env=env, page=page)
    out["map"] = maps.write_map(run_dir / "map.html", cand, _popups(cand, breakdown, env), context=context,
                                env=env, page=page, surface_overlay=surface_overlay, cache_dir=cache_dir)
    out["index"] = _write_index(run_dir, cand, selection, manifest, env=env, page=page)
    log.info("report written to %s: index, map and %d cards%s", run_dir, len(cand),
             " (INCOMPLETE screening)" if page["banners"] else "")
    return out


def template_env() -> jinja2.Environment:
    """The jinja2 environment of the report's templates (``screening/templates``), autoescaping on.

    The texts follow the current language (`screening.i18n.install_jinja`: ``_()``, ``ngettext()``,
    ``{% trans %}``, ``html_lang()``). Filters, all in the current language: ``value(unit)`` a raw value with
    its unit, ``pts`` points with one decimal, ``score`` a 0-100 score or "not
    assessed", ``pct`` a 0-1 share as a percentage, ``num(decimals)`` a number, ``when`` an ISO date in words
    (other text as it is), ``plain`` a JSON-like value as short text, ``t`` a text given in both languages,
    ``origin`` where a layer was read from (`ORIGIN_WORDS`).
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("screening", "templates"), autoescape=True,
        undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True
    )
    i18n.install_jinja(env)
    env.filters |= {
        "value": cards.format_value, "pts": _pts, "score": _score, "pct": _pct, "num": _num,
        "present": _present, "plain": _plain, "when": _when,
        "origin": lambda value: _(ORIGIN_WORDS[value]) if value in ORIGIN_WORDS else (value or "")
    }
    return env


def page_values(manifest: Mapping, criteria: Criteria) -> dict:
    """Values every page shows: run id, date, config hash, layer provenance and the incomplete banners."""
    return {
        "run_id": manifest.get("run_id", ""),
        "created": manifest.get("created", ""),
        "config_hash": manifest.get("config_hash", ""),
        "layers": manifest.get("layers", {}) or {},
        "top_k": criteria.sensitivity.top_k,
        "draws": criteria.sensitivity.draws,
        "banners": incomplete_banners(manifest, criteria),
        "provisional": [b | {"date": _layer_date(manifest, b["layer"]) or b["date"]}
                        for b in _nature_layers.provisional_banners(manifest)],
        "other_missing": {
            k: v
            for k, v in (manifest.get("missing_layers") or {}).items()
            if k not in {b["layer"] for b in incomplete_banners(manifest, criteria)}
        },
    }


def incomplete_banners(manifest: Mapping, criteria: Criteria) -> list[dict]:
    """The banners of an incomplete run: one per missing exclusion layer, none when complete.

    Each is ``{"layer", "kind", "text", "reason", "short"}``: ``kind`` is ``missing`` (an exclusion layer
    was not available), ``partial`` (its copy covers only part of the country) or ``damaged`` (a layer loaded
    with unreadable features left out, ``--allow-damaged``); ``text`` reads "incomplete: <id> missing" in the
    current language; ``short`` is the reason without its leading "layer '<id>'". An exclusion layer is one
    an ``exclude`` or ``cut`` rule rests on. When the manifest is marked incomplete but names no such layer,
    every missing layer gets a banner, so the mark is never lost. A layer whose copy covers only part of the
    country and leaves some application outside gets its banner from the manifest's ``partial_layers``
    ("incomplete: bes_naturtyper checked only inside the coverage of the available copy (...): 15 of 15
    applications lie ... outside it").

    Examples
    --------
    >>> from screening.config import load_criteria
    >>> m = {"incomplete": True, "missing_layers": {"natura2000_habitat": "not in the mirror", "roads": "x"}}
    >>> with i18n.use("en"):
    ...     [(b["kind"], b["text"], b["reason"]) for b in incomplete_banners(m, load_criteria())]
    [('missing', 'incomplete: natura2000_habitat missing', 'not in the mirror')]
    >>> with i18n.use("da"):
    ...     [b["text"] for b in incomplete_banners(m, load_criteria())]
    ['ufuldstændig: natura2000_habitat mangler']
    """
    damaged = [{"layer": k, "kind": "damaged", "text": _("incomplete: %(layer)s damaged", layer=k),
                "reason": str(v), "short": str(v)}
               for k, v in (manifest.get("damaged_layers") or {}).items()]  # --allow-damaged (H1)
    if not manifest.get("incomplete"):
        return damaged
    missing = dict(manifest.get("missing_layers") or {})
    rule_layers = {r.layer for r in criteria.exclusions.rules if r.action in ("exclude", "cut")}
    partial = [b | {"kind": "partial"} for b in _nature_layers.partial_banners(manifest)]  # part of the country
    damaged = [*partial, *damaged]
    ids = [k for k in missing if k in rule_layers] or ([] if partial else list(missing))
    if not ids and partial:
        return damaged
    if not ids:
        text = _("incomplete: %(text)s", text=manifest.get("incomplete_text") or _("layers missing"))
        return [{"layer": "", "kind": "missing", "text": text, "reason": "", "short": ""}, *damaged]
    return [{"layer": k, "kind": "missing", "text": _("incomplete: %(layer)s missing", layer=k),
             "reason": str(missing.get(k) or ""), "short": _short_reason(k, str(missing.get(k) or ""))}
            for k in ids] + damaged


# --------------------------------------------------------------------------- helpers


def _layer_date(manifest: Mapping, layer_id: str) -> str:
    """A layer's data date in words in the run's language ("omkring 2013"), when the manifest has it."""
    return str(((manifest.get("layers") or {}).get(layer_id) or {}).get("date_text") or "")


def _short_reason(layer_id: str, reason: str) -> str:
    """The reason without its leading "layer '<id>' " (the banner names the layer already)."""
    return reason.removeprefix(f"layer '{layer_id}' ").strip() or reason


def _prepare(candidates: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Validate the candidate table, add defaults for optional columns and the ``status`` column."""
    require_crs(candidates, "candidates")
    missing = [c for c in REQUIRED_COLUMNS if c not in candidates.columns]
    if missing:
        msg = (
            f"candidates lack column(s) {missing} needed by the report; columns are "
            f"{list(candidates.columns)}; pass the table made by pipeline.assess"
        )
        raise ScreeningError(msg)
    dupes = candidates["application_id"][candidates["application_id"].duplicated()].unique().tolist()
    if dupes:
        msg = f"candidates repeat application_id {dupes}; each application needs its own id"
        raise ScreeningError(msg)
    cand = candidates.copy()
    for col, default in _DEFAULTS.items():
        if col not in cand.columns:
            cand[col] = default
    for col in ("exclusion_reasons", "flags", "incomplete", "not_assessed", "selection_reason"):
        cand[col] = cand[col].fillna("").astype(str)
    cand["application_id"] = cand["application_id"].astype(str)
    cand["status"] = maps.candidate_status(cand)
    return cand


def _popups(cand: gpd.GeoDataFrame, breakdown: pd.DataFrame, env: jinja2.Environment) -> dict[str, str]:
    """application_id -> the map popup: verdict, reasons, the criterion breakdown and a link to the card."""
    template = env.get_template("popup.html.j2")
    labels = maps.status_labels()
    ids = breakdown["application_id"].astype(str)
    out = {}
    for _row, row in cand.iterrows():  # one popup per application (tens)
        aid = str(row["application_id"])
        out[aid] = template.render(c=row.drop(labels=cand.geometry.name).to_dict(),
                                   rows=breakdown.loc[ids == aid].to_dict("records"),
                                   card=f"cards/{cards.card_filename(aid)}", colours=maps.STATUS_COLOURS,
                                   labels=labels)
    return out


def _with_columns(frame: pd.DataFrame | None, columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(columns=list(columns)) if frame is None else frame.copy()
    for col in columns:
        if col not in frame.columns:
            frame[col] = np.nan
    return frame


def _write_index(
    run_dir: Path, cand: gpd.GeoDataFrame, selection: Mapping, manifest: Mapping, *, env: jinja2.Environment,
    page: Mapping
) -> Path:
    order = cand.assign(_excl=cand["status"] == "excluded", _rank=cand["rank"].astype(float))
    order = order.sort_values(
        ["_excl", "_rank", "score_total"], ascending=[True, True, False], na_position="last"
    )
    proposed = cand.loc[cand["status"] == "proposed"].sort_values("proposal_rank", na_position="last")
    downloads = [
        {"file": name, "what": _(what), "size_kb": (run_dir / name).stat().st_size / 1024}
        for name, what in DOWNLOADS
        if (run_dir / name).exists()
    ]
    inputs = manifest.get("inputs") or []
    inputs = [{"path": k, "sha256": v} for k, v in inputs.items()] if isinstance(inputs, Mapping) else inputs
    html = env.get_template("index.html.j2").render(
        page=page, root="", rows=order.drop(columns=cand.geometry.name).to_dict("records"),
        proposed=proposed.drop(columns=cand.geometry.name).to_dict("records"), selection=selection or {},
        manifest=manifest, inputs=inputs, downloads=downloads, colours=maps.STATUS_COLOURS,
        labels=maps.status_labels(), words=maps.status_labels(words=True), card=cards.card_filename,
        solver_status=selection_explain.status_text((selection or {}).get("status") or ""),
        headings={k: _(v) for k, v in BACKTEST_HEADINGS.items()},
        counts={s: int((cand["status"] == s).sum()) for s in ("proposed", "eligible", "excluded")},
        scenarios_page=SCENARIOS_PAGE if (run_dir / SCENARIOS_PAGE).exists() else None
    )
    path = run_dir / "index.html"
    path.write_text(html, encoding="utf-8")
    return path


def _isnan(value) -> bool:
    """True for a value that is not there: None, NaN, pandas NA or a template's undefined attribute."""
    return (value is None or value is pd.NA or isinstance(value, jinja2.Undefined)
            or (isinstance(value, (float, np.floating)) and math.isnan(value)))


def _pts(value) -> str:
    return "–" if _isnan(value) else fmt_number(float(value), 1)


def _score(value) -> str:
    return _("not assessed") if _isnan(value) else fmt_number(float(value), 1)


def _pct(value, decimals: int = 0) -> str:
    return "–" if _isnan(value) else i18n.fmt_percent(float(value), decimals)


def _num(value, decimals: int = 0) -> str:
    return "–" if _isnan(value) else fmt_number(float(value), decimals)


def _when(value) -> str:
    """A date (ISO text, or words in both languages) in the current language; other text as it is; "" when
    absent."""
    if _isnan(value) or value == "":
        return ""
    if isinstance(value, Mapping):
        return i18n.text(value)
    try:
        return i18n.fmt_date(value)
    except (TypeError, ValueError):
        return str(value)


def _present(value) -> bool:
    """True for a value worth showing: not None/NaN/empty text."""
    return not (_isnan(value) or (isinstance(value, str) and not value.strip()))


def _plain(value) -> str:
    """A JSON-like value as short plain text in the current language (lists joined with commas, floats with 2
    decimals, a text given in both languages in the current one)."""
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, Mapping) and value and set(value) <= set(i18n.LANGUAGES):
        return i18n.text(value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, float):
        return "–" if math.isnan(value) else fmt_number(value, 2)
    if isinstance(value, (int, np.integer)):
        return fmt_number(value)
    return "–" if _isnan(value) else str(value)

"""The comparison page ``scenarios/scenarios.html``: matrix, stability, maps, differences, robust proposal.

Internal to `screening.scenarios`. The words are in the template ``templates/scenarios.html.j2`` (``_()``,
``{% trans %}``) and in `screening._scenario_words` (reasons, statuses, the table of changes), all in the
current language (`screening.i18n`); the reasons come as sentences from `screening._scenario_compare`.
The maps are small multiples drawn here as inline SVG in EPSG:25832 metres (one panel per scenario and
one for the robust proposal), coloured like the main map (`screening.maps.STATUS_COLOURS`), so the page
works offline without a map library. The only script (sorting the matrix) is allowed by its SHA-256 in
the page's Content Security Policy; nothing else can run.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from markupsafe import Markup, escape

from screening import cards, i18n, maps, report
from screening._scenario_words import CHANGE_TEXT, STATUS_TEXT, solver_status
from screening.i18n import gettext

__all__ = ["SCRIPT_TEMPLATE", "write_page", "page_context", "svg_panels"]

log = logging.getLogger(__name__)

SCRIPT_TEMPLATE = "_scenarios_sort.js.j2"
"""The matrix-sorting script (plain JavaScript), inlined and allowed by its hash."""
COLOURS = {"chosen": maps.STATUS_COLOURS["proposed"], "eligible": maps.STATUS_COLOURS["eligible"],
           "excluded": maps.STATUS_COLOURS["excluded"]}
"""Matrix and map colour per status: the main map's proposed / eligible / excluded colours."""
PANEL_WIDTH_PX = 330
OUTLINE_TOLERANCE_M = 800.0
"""Simplification of the region outlines drawn under the small maps (EPSG:25832 metres)."""


def write_page(path: Path, result, *, context: Mapping[str, gpd.GeoDataFrame], cards_written: bool = True
               ) -> Path:
    """Render ``scenarios.html`` for a `screening.scenarios.ScenariosResult` to `path` and return it.

    Parameters
    ----------
    path
        ``<run>/scenarios/scenarios.html``; links to the run's index and cards are relative (``../``).
    context
        Context layers (EPSG:25832); ``regioner`` gives the outline under the small maps.
    cards_written
        Whether the run folder has score cards to link to.
    """
    env = report.template_env()
    if "jinja2.ext.InternationalizationExtension" not in env.extensions:  # the report's may already have it
        i18n.install_jinja(env)
    script = env.loader.get_source(env, SCRIPT_TEMPLATE)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    values = page_context(result, context=context, cards_written=cards_written)
    html = env.get_template("scenarios.html.j2").render(**values, script=Markup(script), script_hash=digest)
    path = Path(path)
    path.write_text(html, encoding="utf-8")
    log.info("wrote %s (%d applications x %d scenarios)", path, len(values["rows"]), len(values["scenarios"]))
    return path


def page_context(result, *, context: Mapping[str, gpd.GeoDataFrame], cards_written: bool = True) -> dict:
    """Everything the template shows, as plain values (also usable to test the page's content)."""
    comp, robust = result.comparison, result.robust
    base = result.base
    page = report.page_values(result.manifest, base.scenario.criteria)
    cells = comp.matrix.set_index(["application_id", "scenario"])
    members = set(robust.selected)
    rows = []
    for aid, row in comp.stability.iterrows():  # one row per application (tens)
        per = []
        for sid in comp.scenario_ids:  # a handful of scenarios
            cell = cells.loc[(aid, sid)]
            order = {"chosen": 0, "eligible": 1, "excluded": 2}[cell["status"]]
            score = cell["score_total"]
            per.append({"scenario": sid, "status": cell["status"], "rank": cell["rank"], "score": score,
                        "sort": order * 1000 + (100 - (0 if pd.isna(score) else float(score)))})
        rows.append({"application_id": aid, "site_name": row["site_name"], "kommunenavn": row["kommunenavn"],
                     "region": str(row["regionsnavn"]).removeprefix("Region "), "chosen_in": row["chosen_in"],
                     "stability": row["stability"], "reason": row["reason"], "robust": aid in members,
                     "card": f"../cards/{cards.card_filename(aid)}" if cards_written else None, "cells": per})
    scenarios = [_scenario_values(r, comp, base) for r in result.runs]
    panels, land = svg_panels(result, regioner=context.get("regioner"))
    return {
        "page": page, "root": "../", "smoke_test": result.smoke_test, "rows": rows, "scenarios": scenarios,
        "core": [r for r in rows if r["stability"] == "core"], "swing": [r for r in rows if r["stability"] == "swing"],
        "never": [r for r in rows if r["stability"] == "never"],
        "excluded": [r for r in rows if r["stability"] == "excluded"],
        "differences": comp.differences, "robust": _robust_values(robust, comp), "panels": panels, "land": land,
        "colours": COLOURS, "not_assessed": _not_assessed(base.result.scores.breakdown),
        "status_words": {k: gettext(v) for k, v in STATUS_TEXT.items()},
        "inputs": result.manifest.get("inputs", []), "timings": result.timings,
    }


def svg_panels(result, *, regioner: gpd.GeoDataFrame | None) -> tuple[list[dict], Markup]:
    """One small map per scenario and one for the robust proposal, and the shared land outline.

    Returns ``([{id, title, chosen, svg}, ...], defs)``: each panel's ``<svg>`` draws the land by
    reference (``<use href="#scenario-land">``) from `defs`, which the page includes once. Sites are
    drawn at their polygon centroids (EPSG:25832), chosen ones larger and on top; the outline is the
    regions layer simplified by `OUTLINE_TOLERANCE_M`, islands under 1 km² left out. Coordinates are
    scaled metres (y flipped).
    """
    comp = result.comparison
    base = result.base.result.candidates.set_index("application_id").loc[comp.stability.index]
    xy = shapely.get_coordinates(shapely.centroid(base.geometry.to_numpy()))
    outline = None
    if regioner is not None and len(regioner):
        outline = shapely.simplify(shapely.union_all(regioner.geometry.to_numpy()), OUTLINE_TOLERANCE_M)
        pieces = shapely.get_parts(outline)
        outline = shapely.multipolygons(pieces[shapely.area(pieces) >= 1e6])
    x0, y0, x1, y1 = outline.bounds if outline is not None else (*xy.min(axis=0), *xy.max(axis=0))
    pad = 10_000.0
    x0, y0, x1, y1 = min(x0, xy[:, 0].min()) - pad, min(y0, xy[:, 1].min()) - pad, \
        max(x1, xy[:, 0].max()) + pad, max(y1, xy[:, 1].max()) + pad
    scale = PANEL_WIDTH_PX / (x1 - x0)
    height = (y1 - y0) * scale
    px = np.c_[(xy[:, 0] - x0) * scale, (y1 - xy[:, 1]) * scale]
    land = _svg_path(outline, x0, y1, scale) if outline is not None else ""
    names = (comp.stability.index + " " + comp.stability["site_name"].astype(str)).to_numpy()
    words = {k: gettext(v) for k, v in STATUS_TEXT.items()}
    statuses = comp.matrix.pivot(index="application_id", columns="scenario", values="status").loc[
        comp.stability.index]
    members = comp.stability.index.isin(result.robust.selected)
    robust_status = np.where(comp.stability["stability"] == "excluded", "excluded",
                             np.where(members, "chosen", "eligible"))
    panels = [(sid, comp.titles[sid], statuses[sid].to_numpy()) for sid in comp.scenario_ids]
    panels.append(("robust", None, robust_status))
    out = []
    for sid, title, status in panels:  # a handful of panels
        dots = []
        for k in np.argsort(status == "chosen", kind="stable"):  # chosen drawn last (on top)
            r = 6.5 if status[k] == "chosen" else 4.0
            dots.append(f'<circle class="site site-{status[k]}" data-application="{escape(comp.stability.index[k])}" '
                        f'cx="{px[k, 0]:.1f}" cy="{px[k, 1]:.1f}" r="{r}" fill="{COLOURS[status[k]]}" '
                        f'stroke="#fff" stroke-width="1"><title>{escape(names[k])}: {escape(words[status[k]])}'
                        '</title></circle>')
        svg = (f'<svg class="scenario-map" data-scenario="{escape(sid)}" viewBox="0 0 {PANEL_WIDTH_PX} '
               f'{height:.0f}" width="{PANEL_WIDTH_PX}" height="{height:.0f}" role="img">'
               '<use href="#scenario-land"/>' + "".join(dots) + "</svg>")
        out.append({"id": sid, "title": title, "chosen": int((status == "chosen").sum()), "svg": Markup(svg)})
    defs = (f'<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs><path id="scenario-land" '
            f'd="{land}" fill="#f7f6f0" stroke="#8c8c8c" stroke-width="0.7"/></defs></svg>')
    return out, Markup(defs)


# --------------------------------------------------------------------------- helpers


def _scenario_values(r, comp, base) -> dict:
    sel = r.result.selection
    crit = r.scenario.criteria
    titles = {("groups", g.id): str(g.title) for g in crit.groups} | {
        ("criteria", c.id): str(c.title) for c in crit.criteria} | {("bonus", b.id): str(b.title) for b in crit.bonus}
    changes = []
    for c in r.scenario.changes:  # the values an overlay sets (a dozen at most)
        parts = c.path.split(".")
        what = titles.get(tuple(parts[:2]))
        field = parts[2:] if what else parts[1:]
        changes.append({"what": what or _change_word(parts[0]) or parts[0], "field": ".".join(field),
                        "label": _field_label(field), "before": _value(c.before), "after": _value(c.after)})
    diff = next((d for d in comp.differences if d["scenario"] == r.id), None)
    return {"id": r.id, "title": str(r.scenario.title), "rationale": str(r.scenario.rationale),
            "basis": str(r.scenario.basis), "file": r.scenario.path.name, "changes": changes, "status": sel.status,
            "status_text": solver_status(sel.status),
            "proven_optimal": sel.proven_optimal, "objective": sel.objective, "mip_gap": sel.mip_gap,
            "selected": sel.selected_ids, "infeasibility": sel.infeasibility or [], "is_base": r is base,
            "k_range": (crit.selection.k_min, crit.selection.k_max), "difference": diff,
            "folder": f"{r.id}/"}


def _robust_values(robust, comp) -> dict:
    table = robust.table.join(comp.stability[["site_name", "kommunenavn", "regionsnavn"]])
    rows = table.loc[[a for a in comp.stability.index if table.at[a, "chosen_in"] > 0]]
    return {"objective": robust.to_dict()["objective"], "status": robust.status,
            "status_text": solver_status(robust.status),
            "proven_optimal": robust.proven_optimal, "mip_gap": robust.mip_gap, "selected": robust.selected,
            "chosen_pairs": robust.chosen_pairs, "best_possible": robust.best_possible,
            "scenarios": robust.scenarios, "solver": robust.solver,
            "rows": [{"application_id": a, **r} for a, r in rows.to_dict("index").items()]}


def _change_word(key: str) -> str:
    """A section or field of criteria.yaml in words (`CHANGE_TEXT`), "" when it has none."""
    return gettext(CHANGE_TEXT[key]) if key in CHANGE_TEXT else ""


def _field_label(field: list[str]) -> str:
    """The changed field in words: "most parks", "most parks in Region Sjælland"; "" for one without words."""
    if len(field) == 3 and field[0] == "regions" and f"regions.{field[2]}" in CHANGE_TEXT:
        return gettext(CHANGE_TEXT[f"regions.{field[2]}"], region=field[1])
    return _change_word(field[-1]) if len(field) == 1 else ""


def _value(value) -> str:
    """A configuration value as short text in the current language: 0.3 (0,3), 5, 100,000 (100.000), none, a
    list joined by commas."""
    if value is None:
        return _change_word("none")
    if isinstance(value, bool):
        return _change_word("yes" if value else "no")
    if isinstance(value, (int, float)):
        plain = f"{value:g}"
        decimals = len(plain.split(".")[1]) if "." in plain and "e" not in plain else 0
        return i18n.fmt_number(value, decimals)
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_value(v)}" for k, v in value.items())
    return str(value)


def _not_assessed(breakdown: pd.DataFrame) -> list[dict]:
    """Criteria and bonuses assessed for no application (a missing layer or field), with the reason."""
    if breakdown is None or breakdown.empty:
        return []
    grouped = breakdown.groupby("criterion", sort=False)
    never = grouped["assessed"].sum() == 0
    notes = grouped["note"].first()
    titles = grouped["title"].first()
    return [{"criterion": c, "title": titles[c], "note": notes[c]} for c in never.index[never]]


def _svg_path(geom, x0: float, y1: float, scale: float) -> str:
    """SVG path data of (multi)polygon `geom` (EPSG:25832) scaled to pixels, y flipped."""
    parts = []
    for poly in getattr(geom, "geoms", [geom]):  # the regions' polygons (islands: a few hundred)
        for ring in (poly.exterior, *poly.interiors):
            c = np.asarray(ring.coords)
            pts = np.c_[(c[:, 0] - x0) * scale, (y1 - c[:, 1]) * scale]
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "Z")
    return "".join(parts)

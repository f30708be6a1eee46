"""Value formatting and the contribution chart of the score cards (matplotlib, Agg).

`contribution_charts` draws the criterion contributions of every application on one reused figure (tens
of cards within seconds); `format_value` writes a raw value with its unit in plain words for the cards,
the popups and the index. The site maps are in `screening._sitemap`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure

from screening import i18n
from screening.config import Criteria
from screening.i18n import fmt_number, ngettext
from screening.i18n import gettext as _
from screening.scoring import _MAPPING_WORDS as MAPPING_WORDS

__all__ = ["GROUP_COLOURS", "UNIT_WORDS", "nominal_points", "contribution_charts", "format_value", "unit_word"]

log = logging.getLogger(__name__)

GROUP_COLOURS = {"infrastructure": "#7570b3", "transport": "#d95f02", "labour": "#1b9e77",
                 "commitment": "#e7298a"}
"""Bar colour of each criterion group in the contribution chart (other groups are grey)."""

UNIT_WORDS = {
    "persons": lambda n, **v: ngettext("%(num)s person", "%(num)s persons", n, **v),
    "institutions": lambda n, **v: ngettext("%(num)s institution", "%(num)s institutions", n, **v),
    "areas": lambda n, **v: ngettext("%(num)s area", "%(num)s areas", n, **v),
    "letters": lambda n, **v: ngettext("%(num)s letter of intent", "%(num)s letters of intent", n, **v),
}
"""Criterion units that are counted things, shown in words: ``UNIT_WORDS[unit](n, num=<n formatted>)`` in
the current language; other units are symbols (m, min, km)."""
_SHORT_PREFIXES = (("Distance to nearest ", ""), ("Distance to ", ""), ("Travel time to nearest ", "Travel time: "),
                   ("Travel time from the nearest ", "Travel time: "), ("Afstand til nærmeste ", ""),
                   ("Afstand til ", ""), ("Køretid fra nærmeste ", "Køretid: "), ("Køretid til nærmeste ", "Køretid: "))
"""Leading words the chart drops from criterion titles (English and Danish) to keep its labels short."""

def nominal_points(criteria: Criteria) -> dict[str, float]:
    """Points each criterion carries when all criteria are assessed: group weight x 100 x its share.

    Examples
    --------
    >>> from screening.config import load_criteria
    >>> round(nominal_points(load_criteria())["hv_substation"], 2)  # 0.30 x 100 x 3/8
    11.25
    """
    out = {}
    for group in criteria.groups:  # four groups
        members = [c for c in criteria.criteria if c.group == group.id]
        total = sum(c.weight for c in members)
        out |= {c.id: group.weight * 100.0 * c.weight / total for c in members}
    return out


def contribution_charts(
    breakdown: pd.DataFrame, paths: Mapping[str, Path], *, criteria: Criteria
) -> dict[str, Path]:
    """Draw, per application, horizontal bars per criterion: points earned over the most it could give.

    Parameters
    ----------
    breakdown
        The long breakdown (``application_id``, ``criterion``, ``title``, ``group``, ``weight``,
        ``contribution``, ``assessed``); bars follow its row order.
    paths
        application_id -> output file; the suffix (``.svg`` or ``.png``) picks the format. SVG keeps the
        text as text (small files).
    criteria
        Gives the nominal points of criteria that were not assessed (drawn hatched).

    Returns
    -------
    dict of str to pathlib.Path
        `paths`, once written.
    """
    nominal = nominal_points(criteria)
    ids = breakdown["application_id"].astype(str)
    key, parts = None, None
    for aid, path in paths.items():  # one chart per application (tens), all on one reused figure
        rows = breakdown.loc[ids == aid].reset_index(drop=True)
        layout = tuple(rows["title"].astype(str)) + tuple(rows["group"].astype(str))
        if layout != key:  # a new set of criteria: lay the figure out again
            key, parts = layout, _chart_figure(rows)
        _chart_update(parts, rows, nominal)
        fmt = Path(path).suffix.lstrip(".") or "svg"
        with rc_context({"svg.fonttype": "none", "svg.hashsalt": "industripark"}):
            parts["fig"].savefig(path, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return dict(paths)


def format_value(value, unit: str | None = "") -> str:
    """A raw criterion value with its unit in plain words, in the current language (`screening.i18n`):
    metres above 1 km as km, counts with separators and a unit word, submission values in words.

    Examples
    --------
    >>> with i18n.use("en"):
    ...     format_value(14213.0, "m"), format_value(850, "m"), format_value(85000, "persons")
    ('14.2 km', '850 m', '85,000 persons')
    >>> with i18n.use("en"):
    ...     format_value(None, "m"), format_value("in_preparation", "status")
    ('not stated', 'in preparation')
    >>> with i18n.use("da"):
    ...     format_value(14213.0, "m"), format_value(85000, "persons"), format_value("in_preparation", "status")
    ('14,2 km', '85.000 personer', 'under udarbejdelse')
    """
    unit = unit or ""
    if _missing(value) or (isinstance(value, str) and not value.strip()):
        return _("not stated")
    if isinstance(value, (bool, np.bool_)):
        return _("yes") if value else _("no")
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if unit == "m" and abs(v) >= 1000:
            km = round(v / 1000, 1)
            return f"{fmt_number(km, 0 if km == round(km) else 1)} km"
        if unit == "m":
            return f"{fmt_number(v)} m"
        if unit in ("min", "km"):
            return f"{fmt_number(v, 1 if abs(v) < 10 and v != round(v) else 0)} {unit}"
        shown = fmt_number(v, 0 if v == round(v) or abs(v) >= 100 else 2)
        if unit in UNIT_WORDS:
            return UNIT_WORDS[unit](int(round(abs(v))), num=shown)
        return f"{shown} {unit}".strip()
    if unit == "date":
        return _date_text(value)
    text = str(value)
    return _(MAPPING_WORDS[text]) if text in MAPPING_WORDS else text.replace("_", " ")


def unit_word(unit: str | None) -> str:
    """A criterion unit for display: count units in words (``persons`` -> "personer" in Danish), symbols as
    they are (``m``, ``min``)."""
    unit = unit or ""
    return UNIT_WORDS[unit](2, num="").strip() if unit in UNIT_WORDS else unit


# --------------------------------------------------------------------------- helpers


def _chart_figure(rows: pd.DataFrame) -> dict:
    """Lay out a chart for these criteria: bars and labels exist once, `_chart_update` sets their values."""
    n = max(len(rows), 1)
    height = 0.30 * n + 0.9
    fig = Figure(figsize=(7.2, height), dpi=100)
    ax = fig.add_axes((0.42, 0.75 / height, 0.5, 1 - 0.9 / height))
    y = np.arange(len(rows))[::-1]
    colours = rows["group"].map(GROUP_COLOURS).fillna("#737373").tolist()
    zeros = np.zeros(len(rows))
    parts = {
        "fig": fig,
        "ax": ax,
        "weight": ax.barh(y, zeros, color="#ececec", edgecolor="#bdbdbd", linewidth=0.6, height=0.7),
        "contrib": ax.barh(y, zeros, color=colours, height=0.7),
        "hatch": ax.barh(y, zeros, color="none", edgecolor="#969696", hatch="///", linewidth=0, height=0.7),
        "notes": [ax.text(0, yi, "", va="center", fontsize=7.5, color="#404040") for yi in y],
    }
    ax.set_yticks(y, labels=[_short(t) for t in rows["title"].astype(str)], fontsize=8)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel(_("points: coloured = earned, grey = the most this criterion can give"), fontsize=8)
    ax.tick_params(axis="x", labelsize=7.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return parts


def _chart_update(parts: dict, rows: pd.DataFrame, nominal: Mapping[str, float]) -> None:
    weight = rows["weight"].astype(float).fillna(0.0).to_numpy()
    assessed = rows["assessed"].astype("boolean").fillna(False).astype(bool).to_numpy()
    fallback = rows["criterion"].astype(str).map(nominal).fillna(0.0).to_numpy()
    weight = np.where(~assessed & (weight <= 0), fallback, weight)
    contrib = np.where(assessed, rows["contribution"].astype(float).fillna(0.0).to_numpy(), 0.0)
    top = max(float(weight.max(initial=0.0)), 1.0)
    for i in range(len(rows)):  # the criteria of one application (about twenty)
        parts["weight"][i].set_width(weight[i])
        parts["contrib"][i].set_width(contrib[i])
        parts["hatch"][i].set_width(weight[i] if not assessed[i] else 0.0)
        note = parts["notes"][i]
        note.set_x(weight[i] + top * 0.02)
        note.set_text(
            _("%(earned)s of %(most)s", earned=fmt_number(contrib[i], 1), most=fmt_number(weight[i], 1))
            if assessed[i] else _("not assessed (%(most)s)", most=fmt_number(weight[i], 1))
        )
    parts["ax"].set_xlim(0, top * 1.32)


def _short(title: str, width: int = 44) -> str:
    for prefix, shorter in _SHORT_PREFIXES:  # a handful of prefixes
        if title.startswith(prefix):
            title = shorter + title[len(prefix):]
            break
    return title if len(title) <= width else title[: width - 1] + "…"


def _date_text(value) -> str:
    """A date value (ISO text or date) in words for the language; other text as it is."""
    try:
        return i18n.fmt_date(value)
    except (TypeError, ValueError):
        return str(value)


def _missing(value) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)) or value is pd.NA

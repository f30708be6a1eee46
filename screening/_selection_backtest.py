"""The back-test's spacing sweep and what the back-test is worth (internal to `screening.selection`).

The proposal is compared with the 2025 designations (`screening.selection_explain.backtest`). Because the
configured spacing was itself chosen by looking at that comparison, the back-test also shows how many of
the designated applications are picked at a range of spacings, and says plainly that it is a smoke test:
the approximate 2025 applications are invented squares whose positions are mostly guesses.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pandas as pd

from screening import i18n
from screening import selection_explain as explain
from screening._selection_model import Limits, Problem, build_rows, solve
from screening.config import Selection
from screening.i18n import N_, fmt_number
from screening.i18n import gettext as _

__all__ = ["SPACINGS_KM", "MAX_SWEEP_CANDIDATES", "CAVEAT", "SHORT_CAVEAT", "backtest", "spacing_sweep", "notes"]

log = logging.getLogger(__name__)

SPACINGS_KM = (0.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0)
"""Spacings (km) the back-test is repeated at; the configured one is added when it is not among them."""

MAX_SWEEP_CANDIDATES = 500
"""Above this many eligible candidates the sweep is skipped (one more solve per spacing; said in the output)."""

SHORT_CAVEAT = N_("the spacing was chosen to fit it, and the approximate 2025 positions are guesses: a smoke test, "
                   "not evidence (selection.json: spacing sweep)")
"""The back-test's caveat in one line, for the terminal (translate where shown: ``gettext(SHORT_CAVEAT)``)."""

CAVEAT = N_("The back-test compares the proposal with the designated_2025 field of the input. The mirror's "
            "applications_2025_approx.gpkg holds invented squares whose positions are mostly guesses: on those, "
            "this back-test is a smoke test of the method, not evidence about the real 2025 decision.")
"""The back-test's caveat (``caveat`` of the back-test, in the run's language)."""


def backtest(back: pd.DataFrame, breakdown: pd.DataFrame | None, problem: Problem, limits: Limits,
             rules: Selection, *, mode: str) -> dict:
    """The whole back-test of a proposal: `selection_explain.backtest` plus `notes` and the sweep.

    `back` is indexed by ``application_id`` with ``designated_2025``, ``selected``, ``score_total``,
    ``regionsnavn`` and ``selection_reason`` for every candidate.
    """
    result = explain.backtest(back, breakdown)
    sweep, skipped = None, ""
    if mode != "score":
        skipped = _("the spacing sweep is made in score mode only (this is %(mode)s mode)", mode=mode)
    elif problem.n > MAX_SWEEP_CANDIDATES:
        skipped = _("%(n)s eligible candidates: above %(max)s, the spacing sweep is not made",
                    n=fmt_number(problem.n), max=fmt_number(MAX_SWEEP_CANDIDATES))
    else:
        designated = back["designated_2025"].fillna(False).astype(bool).reindex(problem.ids).to_numpy()
        sweep = spacing_sweep(problem, limits, designated, time_limit_s=rules.time_limit_s,
                              configured_km=rules.spacing_km)
    return result | notes(sweep, configured_km=rules.spacing_km, reason=i18n.text(rules.spacing_reason),
                          picked=result["both"], designated=result["designated"], skipped=skipped)


def spacing_sweep(problem: Problem, limits: Limits, designated: np.ndarray, *, time_limit_s: float,
                  configured_km: float) -> list[dict]:
    """How many designated candidates the optimal proposal picks at each spacing of `SPACINGS_KM`.

    Parameters
    ----------
    problem, limits
        The selection model of the eligible candidates; only the spacing is changed.
    designated
        Boolean per eligible candidate (`Problem` order): designated in 2025.

    Returns
    -------
    list of dict
        ``spacing_km``, ``designated_picked`` (None when the rules cannot be met), ``proposed``, ``status``,
        ``proven_optimal``, ``configured`` and ``text``, in increasing spacing.
    """
    spacings = sorted({*SPACINGS_KM, float(configured_km)})
    total = int(designated.sum())
    out = []
    for km in spacings:  # a handful of spacings, one solve each
        rows = build_rows(problem, replace(limits, spacing_m=km * 1000))
        res = solve(rows, problem.weight, maximize=True, time_limit_s=time_limit_s)
        chosen = res.values[: problem.n] > 0.5 if res.values is not None else None
        picked = None if chosen is None else int((chosen & designated).sum())
        proposed = None if chosen is None else int(chosen.sum())
        values = {"km": _g(km), "picked": picked, "total": total, "proposed": proposed,
                  "status": explain.status_text(res.status)}
        text = (_("%(km)s km: no proposal (%(status)s)", **values) if picked is None else
                _("%(km)s km: picks %(picked)s of the %(total)s designated (%(proposed)s proposed) (configured)",
                  **values) if km == configured_km else
                _("%(km)s km: picks %(picked)s of the %(total)s designated (%(proposed)s proposed)", **values))
        out.append({"spacing_km": km, "designated_picked": picked, "proposed": proposed, "status": res.status,
                    "proven_optimal": res.proven_optimal, "configured": km == configured_km, "text": text})
    return out


def notes(sweep: list[dict] | None, *, configured_km: float, reason: str, picked: int, designated: int,
          skipped: str = "") -> dict:
    """``spacing_choice`` (why the spacing is what it is, and what the back-test then shows), ``caveat``
    (`CAVEAT`) and ``spacing_sweep`` (or ``spacing_sweep_skipped``), for ``selection.json`` and the index; in
    the current language."""
    choice = (f"{reason.strip()} " if reason.strip() else "") + _(
        "At the configured spacing of %(km)s km the proposal picks %(picked)s of the %(designated)s designated "
        "applications. A spacing chosen to fit this back-test cannot also be evidence for it; the sweep shows how "
        "the agreement changes with the spacing.", km=_g(configured_km), picked=fmt_number(picked),
        designated=fmt_number(designated))
    out = {"spacing_choice": choice, "caveat": _(CAVEAT)}
    if sweep is not None:
        out["spacing_sweep"] = sweep
    else:
        out["spacing_sweep_skipped"] = skipped
    return out


def _g(x: float) -> str:
    """A spacing in km in a text, like ``%g``: no decimals when whole."""
    return fmt_number(x, 0 if float(x).is_integer() else 1)

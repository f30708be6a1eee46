"""The proposal: choose parks among the screened candidates by integer programming, and explain it.

The rules' interpretations are stated in `NOTES` and written into ``selection.json`` (``rules.notes``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from importlib import metadata
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from screening import _selection_backtest
from screening import selection_explain as explain
from screening._selection_input import REGIONS, _limits, _prepare, _problem
from screening._selection_model import MIP_REL_GAP, build_rows, greedy, solve
from screening._selection_search import (
    alternatives,
    counterfactuals,
    infeasibility,
    max_dispersion,
    min_distance_m,
)
from screening.config import Selection
from screening.errors import SelectionError
from screening.i18n import N_
from screening.i18n import gettext as _

__all__ = ["REGIONS", "NOTES", "SelectionResult", "select", "apply_selection", "rules_with"]

log = logging.getLogger(__name__)

NOTES = (
    N_("Spacing is the straight-line distance between polygon centroids in km (EPSG:25832); two chosen parks "
       "must be at least spacing_km apart."),
    N_("An application is one park whatever its co-applicants: it counts once toward the number of parks and "
       "toward the region of its lead municipality."),
    N_("max_per_kommune: a municipality is used by every chosen park it leads OR co-applies for."),
    N_("Proportional targets: the overview note's shares of production firms map one to one onto the five "
       "regions; 'Sydjylland+Fyn' is Region Syddanmark (South Jutland and Funen). With N parks chosen, each "
       "targeted region gets share x N +- proportional_tolerance_parks parks."),
    N_("A candidate is urban when its centroid lies within urban_radius_km of a town with at least "
       "urban_town_min_population inhabitants."),
    N_("Dispersion mode: among eligible candidates scoring at least dispersion_min_score, the largest minimum "
       "distance between chosen parks is found first (binary search over pairwise distances, each probe a "
       "feasibility solve), then the total score is maximised at that spacing."),
)
"""How the rules are read; part of ``selection.json`` (in the run's language)."""
COUNTERFACTUAL_MAX = 60
"""Up to this many eligible candidates, each reason includes the best objective with the decision flipped."""
@dataclass(frozen=True)
class SelectionResult:
    """The proposal, its proof and its explanations.

    ``table`` is indexed by ``application_id`` (every candidate): ``selected`` (bool), ``selection_reason``
    (str, in the current language), ``proposal_rank`` (Int64, 1 = highest objective weight among the chosen,
    NA otherwise), ``eligible`` (bool: took part in the model).
    ``status`` is HiGHS's model status text in lower case ("optimal", "infeasible", "time limit reached"),
    suffixed "; greedy fallback (not proven optimal)" when the heuristic had to stand in.
    ``proven_optimal`` comes from the model status AND the reported MIP gap, never from a return code.
    """

    table: pd.DataFrame
    status: str
    proven_optimal: bool
    objective: float | None
    mip_gap: float | None
    solve_s: float
    rules: dict
    alternatives: list[dict] = field(default_factory=list)
    backtest: dict | None = None
    infeasibility: list[str] | None = None
    mode: str = "score"
    min_distance_km: float | None = None
    greedy_objective: float | None = None
    solver: dict = field(default_factory=dict)

    @property
    def selected_ids(self) -> list[str]:
        """Chosen application ids in proposal-rank order."""
        chosen = self.table[self.table["selected"]]
        return list(chosen.sort_values("proposal_rank").index)

    def to_dict(self) -> dict:
        """Plain JSON-able content of ``selection.json``."""
        return _json({
            "mode": self.mode, "status": self.status, "proven_optimal": self.proven_optimal,
            "objective": self.objective, "mip_gap": self.mip_gap, "solve_s": round(self.solve_s, 3),
            "min_distance_km": self.min_distance_km, "greedy_objective": self.greedy_objective,
            "solver": self.solver, "rules": self.rules, "selected": self.selected_ids,
            "reasons": self.table["selection_reason"].to_dict(), "alternatives": self.alternatives,
            "backtest": self.backtest, "infeasibility": self.infeasibility,
        })

    def summary_text(self) -> str:
        """A readable summary for the terminal."""
        return explain.summary_text(self)


def select(candidates: gpd.GeoDataFrame, rules: Selection, *, breakdown: pd.DataFrame | None = None,
           towns: gpd.GeoDataFrame | None = None,
           mode: Literal["score", "dispersion"] = "score") -> SelectionResult:
    """Choose the proposal that maximises total score under the spread rules, and prove it optimal.

    Parameters
    ----------
    candidates
        One row per application, EPSG:25832 polygons, with ``application_id, score_total (0-100),
        excluded, regionsnavn, kommunekode, co_applicant_kommunekoder`` (``net_area_ha`` for the
        ``score_x_area`` objective); optional ``designated_2025`` (enables the back-test).
    rules
        The ``selection`` section of ``layers/criteria.yaml``.
    breakdown
        The scoring's long table; gives the back-test its criterion-level reasons.
    towns
        Town points (EPSG:25832) with ``population``; needed when ``rules.min_outside_urban > 0``.
    mode
        ``score``: maximise the total weight. ``dispersion``: among candidates scoring at least
        ``rules.dispersion_min_score``, maximise the smallest distance between chosen parks (binary search
        over pairwise distances), then the total score at that spacing.

    Returns
    -------
    SelectionResult
        When the rules cannot be met the status is "infeasible", nothing is selected and
        ``infeasibility`` names the conflicting rules and the smallest relaxation; no exception is raised.

    Raises
    ------
    SelectionError
        On invalid input: missing columns, duplicate ids, scores outside 0-100, unknown region names,
        malformed municipality codes, a rule that needs `towns` without it.
    CRSError
        If `candidates` or `towns` is not in EPSG:25832.

    Notes
    -----
    Eligible: not excluded, with a score (and, in dispersion mode, at or above the threshold). Spacing is
    measured between polygon centroids. An application is one park whatever its co-applicants: it counts
    once toward the number of parks and toward the region of its lead municipality; for
    ``max_per_kommune`` a municipality is used by every chosen park it leads or co-applies for. The model
    (one binary column per eligible candidate, spacing as clique rows) is built from ``scipy.sparse`` arrays
    and solved by HiGHS through highspy; a greedy heuristic stands in, labelled, only when HiGHS returns no
    solution. Every reason, the next-best proposals (no-good cuts) and the back-test come with the result;
    with at most `COUNTERFACTUAL_MAX` eligible candidates each reason also gives the best objective with
    that decision flipped. See `NOTES` for the proportional targets and the urban rule.
    """
    frame, eligible, not_eligible = _prepare(candidates, rules, towns, mode)
    problem = _problem(frame[eligible], rules, towns)
    limits = _limits(problem, rules)
    log.info("selection (%s): %d eligible of %d candidates", mode, problem.n, len(frame))
    spacing = None
    if mode == "dispersion":  # the configured spacing gives way to the largest one possible
        limits = replace(limits, spacing_m=0.0)
        spacing = max_dispersion(problem, limits, time_limit_s=rules.time_limit_s) if problem.n else None
        if spacing is not None:
            limits = replace(limits, spacing_m=spacing.distance_m)
    rows = build_rows(problem, limits)
    out = solve(rows, problem.weight, maximize=True, time_limit_s=rules.time_limit_s) if problem.n else None
    solver = {"name": "HiGHS", "version": metadata.version("highspy"), "interface": "highspy array API",
              "time_limit_s": rules.time_limit_s, "mip_rel_gap": MIP_REL_GAP}
    notes = _rules_dict(rules, mode)
    if out is None or out.infeasible or (mode == "dispersion" and spacing is None):
        statements = infeasibility(problem, limits, time_limit_s=rules.time_limit_s)
        none = [_("no proposal: the rules cannot all be met")] * problem.n
        table = _table(frame, not_eligible, problem, None, none)
        return SelectionResult(table, "infeasible", False, None, None, out.solve_s if out else 0.0, notes,
                               infeasibility=statements, mode=mode, solver=solver)
    chosen_greedy = greedy(problem, limits, rows)
    greedy_obj = float(problem.weight @ chosen_greedy) if chosen_greedy is not None else None
    status, proven, objective, gap = out.status, out.proven_optimal, out.objective, out.mip_gap
    if out.values is not None:
        chosen = out.values[: problem.n] > 0.5
    elif chosen_greedy is not None:
        chosen, proven, gap, objective = chosen_greedy, False, None, greedy_obj
        status = f"{status}; greedy fallback (not proven optimal)"
        log.warning("selection: HiGHS found no solution (%s); using the greedy heuristic", out.status)
    else:
        table = _table(frame, not_eligible, problem, None,
                       [_("no proposal found (%(status)s)", status=explain.status_text(status))] * problem.n)
        return SelectionResult(table, f"{status}; no proposal found", False, None, None, out.solve_s, notes,
                               mode=mode, solver=solver)
    if spacing is not None and not spacing.proven:
        proven, status = False, f"{status}; dispersion search stopped at the time limit"
    flipped = None
    if proven and problem.n <= COUNTERFACTUAL_MAX:
        flipped, _objectives = counterfactuals(rows, problem.weight, chosen, time_limit_s=rules.time_limit_s)
    reasons = explain.reasons(problem, limits, rows, chosen, objective=objective, counterfactual=flipped)
    table = _table(frame, not_eligible, problem, chosen, reasons)
    alts = _alternatives(problem, rows, chosen, objective, rules) if out.values is not None else []
    result = SelectionResult(
        table, status, proven, objective, gap, out.solve_s, notes, alts, mode=mode,
        min_distance_km=_km(min_distance_m(problem.xy, chosen)), greedy_objective=greedy_obj, solver=solver)
    if "designated_2025" in frame and frame["designated_2025"].notna().any():
        back = frame[["designated_2025", "score_total", "regionsnavn"]].join(table)
        result = replace(result, backtest=_selection_backtest.backtest(back, breakdown, problem, limits, rules,
                                                                       mode=mode))
    log.info("selection: %s, proven optimal %s, objective %.2f, %d parks", status, proven, objective,
             int(chosen.sum()))
    return result


def apply_selection(candidates: gpd.GeoDataFrame, result: SelectionResult) -> gpd.GeoDataFrame:
    """Return a copy of `candidates` with ``selected``, ``selection_reason`` and ``proposal_rank`` columns.

    Rows are matched on ``application_id``; the candidates' index and row order are kept.
    """
    out = candidates.drop(columns=["selected", "selection_reason", "proposal_rank"], errors="ignore").copy()
    table = result.table.reindex(out["application_id"].astype(str).to_numpy())
    out["selected"] = table["selected"].fillna(False).astype(bool).to_numpy()
    out["selection_reason"] = table["selection_reason"].fillna("").astype(str).to_numpy()
    out["proposal_rank"] = pd.array(table["proposal_rank"].to_numpy(), dtype="Int64")
    return out


def rules_with(rules: Selection, *, k_min: int | None = None, k_max: int | None = None,
               spacing_km: float | None = None, time_limit_s: float | None = None) -> Selection:
    """Return `rules` with the given values replaced and validated again (for CLI options).

    Raises
    ------
    SelectionError
        If the result breaks the `Selection` schema (e.g. k_min above k_max).
    """
    changes = {"k_min": k_min, "k_max": k_max, "spacing_km": spacing_km, "time_limit_s": time_limit_s}
    data = rules.model_dump() | {k: v for k, v in changes.items() if v is not None}
    try:
        return Selection.model_validate(data)
    except ValueError as exc:
        msg = f"selection rules {changes}: {exc}"
        raise SelectionError(msg) from None


# --------------------------------------------------------------------------- helpers


def _table(frame, not_eligible, problem, chosen, reasons) -> pd.DataFrame:
    table = pd.DataFrame({"selected": False, "selection_reason": "", "proposal_rank": pd.NA, "eligible": False},
                         index=frame.index)
    table["proposal_rank"] = table["proposal_rank"].astype("Int64")
    table.loc[not_eligible.index, "selection_reason"] = not_eligible
    table.loc[problem.ids, "selection_reason"] = reasons
    table.loc[problem.ids, "eligible"] = True
    if chosen is not None:
        picked = problem.ids[chosen]
        order = np.lexsort((picked, -problem.weight[chosen]))
        table.loc[picked, "selected"] = True
        table.loc[picked[order], "proposal_rank"] = np.arange(1, len(picked) + 1)
    table["selected"] = table["selected"].astype(bool)
    return table


def _alternatives(problem, rows, chosen, objective, rules) -> list[dict]:
    best = set(problem.ids[chosen])
    out = []
    for rank, (alt, o) in enumerate(alternatives(rows, problem.weight, chosen, rules.alternatives,
                                                 time_limit_s=rules.time_limit_s), start=2):
        ids = sorted(problem.ids[alt], key=lambda a: -problem.weight[problem.ids == a][0])
        out.append({"rank": rank, "objective": o.objective, "delta": o.objective - objective,
                    "proven_optimal": o.proven_optimal, "selected": ids,
                    "differs_from_best": {"out": sorted(best - set(ids)), "in": sorted(set(ids) - best)}})
    return out


def _rules_dict(rules: Selection, mode: str) -> dict:
    return rules.model_dump(mode="json") | {"mode": mode, "notes": [_(note) for note in NOTES]}


def _km(m: float) -> float | None:
    return round(m / 1000, 3) if np.isfinite(m) else None


def _json(value):
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA or (isinstance(value, float) and not np.isfinite(value)):
        return None
    return value

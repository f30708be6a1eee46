"""Searches over the selection model: next-best proposals, counterfactuals, p-dispersion, infeasibility.

Internal to `screening.selection`; every search re-solves the array model of `screening._selection_model`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.spatial.distance import pdist

from screening._selection_model import (
    SOFT_KINDS,
    Limits,
    Outcome,
    Problem,
    Rows,
    build_rows,
    clique_rows,
    no_good_row,
    solve,
)
from screening.i18n import N_, fmt_number, ngettext
from screening.i18n import gettext as _

__all__ = ["Slack", "Dispersion", "alternatives", "counterfactuals", "max_dispersion", "elastic", "max_count",
           "min_distance_m", "infeasibility"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Slack:
    """A relaxed rule of the elastic model: by how much its lower/upper bound must move (parks)."""

    kind: str
    key: str
    lower: float
    upper: float
    relax_lower: float
    relax_upper: float
    activity: float


@dataclass(frozen=True)
class Dispersion:
    """Largest minimum spacing (metres) a proposal can have, the proposal reaching it, and the proof."""

    distance_m: float
    chosen: np.ndarray | None
    proven: bool
    solves: int


def alternatives(rows: Rows, cost: np.ndarray, best: np.ndarray, count: int, *,
                 time_limit_s: float) -> list[tuple[np.ndarray, Outcome]]:
    """The next `count` best distinct proposals: re-solve with a no-good cut for every proposal found.

    Parameters
    ----------
    rows, cost
        The selection model (maximised).
    best
        Boolean per column: the optimal proposal.

    Returns
    -------
    list of (chosen, Outcome)
        In order of decreasing objective; shorter than `count` when no further feasible proposal exists.
    """
    found: list[tuple[np.ndarray, Outcome]] = []
    cuts = [no_good_row(best, len(cost))]
    for _k in range(count):  # a handful of re-solves
        matrix = sp.vstack([rows.matrix] + [c[0] for c in cuts], format="csr")
        extended = Rows(matrix, np.r_[rows.lower, np.full(len(cuts), -np.inf)],
                        np.r_[rows.upper, [c[1] for c in cuts]], rows.kind + ("no_good",) * len(cuts),
                        rows.key + ("",) * len(cuts))
        out = solve(extended, cost, maximize=True, time_limit_s=time_limit_s)
        if out.values is None:
            break
        chosen = out.values > 0.5
        found.append((chosen, out))
        cuts.append(no_good_row(chosen, len(cost)))
    return found


def counterfactuals(rows: Rows, cost: np.ndarray, chosen: np.ndarray, *,
                    time_limit_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Best objective with each candidate's decision flipped: chosen ones forced out, others forced in.

    Returns
    -------
    objective, proven
        Arrays per column; objective NaN where the flipped model is infeasible.
    """
    n = len(cost)
    objective = np.full(n, np.nan)
    proven = np.zeros(n, dtype=bool)
    for c in range(n):  # one small re-solve per candidate; only called for tens of candidates
        lower, upper = np.zeros(n), np.ones(n)
        if chosen[c]:
            upper[c] = 0.0  # the best proposal without it
        else:
            lower[c] = 1.0  # the best proposal with it
        out = solve(rows, cost, maximize=True, time_limit_s=time_limit_s, col_lower=lower, col_upper=upper)
        proven[c] = out.proven_optimal or out.infeasible
        if out.objective is not None:
            objective[c] = out.objective
    return objective, proven


def max_dispersion(problem: Problem, limits: Limits, *, time_limit_s: float) -> Dispersion | None:
    """Largest D such that a proposal obeying every other rule has all pairwise distances >= D.

    Binary search over the sorted pairwise centroid distances (the optimum is one of them) with the
    feasibility version of the model (zero objective, spacing rows for D). After each feasible probe the
    lower end jumps to the proposal's realised minimum distance. `time_limit_s` bounds the whole search;
    each probe gets what is left.

    Returns
    -------
    Dispersion or None
        None when no proposal exists even without spacing. ``proven`` is False when the budget ran out or
        a probe hit its time limit (then treated as infeasible); ``distance_m`` is then only a lower bound.
    """
    deadline = time.perf_counter() + time_limit_s
    out = _feasible(problem, limits, 0.0, time_limit_s)
    if out.values is None:
        return None
    distances = np.unique(pdist(problem.xy))
    chosen = out.values[: problem.n] > 0.5
    lo, hi, proven, solves = _index_of(distances, min_distance_m(problem.xy, chosen)), len(distances), True, 1
    while hi - lo > 1:  # about log2(n^2 / 2) probes
        left = deadline - time.perf_counter()
        if left <= 0:
            proven = False
            break
        mid = (lo + hi) // 2
        out = _feasible(problem, limits, float(distances[mid]), left)
        solves += 1
        if out.values is not None:
            chosen = out.values[: problem.n] > 0.5
            lo = max(mid, _index_of(distances, min_distance_m(problem.xy, chosen)))
        else:
            proven = proven and out.infeasible
            hi = mid
    best = float(distances[lo])
    log.info("p-dispersion: largest minimum spacing %.1f km after %d feasibility solves (proven %s)",
             best / 1000, solves, proven)
    return Dispersion(best, chosen, proven, solves)


def elastic(problem: Problem, limits: Limits, *, time_limit_s: float) -> tuple[list[Slack], Outcome]:
    """Smallest relaxation (in parks, summed over rules) that makes the rules feasible.

    Every soft row (count, region, municipality, outside-urban, share) gets non-negative slack columns
    that move its lower and/or upper bound; spacing stays hard. Minimising the total slack gives the
    smallest relaxation; each non-zero slack is one rule and the amount it must give.
    """
    rows = build_rows(problem, limits)
    soft = np.isin(np.array(rows.kind), SOFT_KINDS)
    lower_soft = np.flatnonzero(soft & np.isfinite(rows.lower) & ((rows.lower > 0) |
                                                                 (np.array(rows.kind) == "share")))
    upper_soft = np.flatnonzero(soft & np.isfinite(rows.upper))
    m = rows.matrix.shape[0]
    s_lo = sp.csr_array((np.ones(len(lower_soft)), (lower_soft, np.arange(len(lower_soft)))),
                        shape=(m, len(lower_soft)))
    s_hi = sp.csr_array((-np.ones(len(upper_soft)), (upper_soft, np.arange(len(upper_soft)))),
                        shape=(m, len(upper_soft)))
    matrix = sp.hstack([rows.matrix, s_lo, s_hi], format="csr")
    nslack = len(lower_soft) + len(upper_soft)
    # unit cost per park of relaxation; ties prefer changing the number of parks over the other rules
    kinds = np.array(rows.kind)[np.r_[lower_soft, upper_soft]]
    cost = np.r_[np.zeros(problem.n), np.where(kinds == "count", 1.0, 1.001)]
    out = solve(Rows(matrix, rows.lower, rows.upper, rows.kind, rows.key), cost, maximize=False,
                time_limit_s=time_limit_s, col_upper=np.r_[np.ones(problem.n), np.full(nslack, np.inf)],
                integer=np.r_[np.ones(problem.n, dtype=bool), np.zeros(nslack, dtype=bool)])
    if out.values is None:
        return [], out
    x = out.values[: problem.n]
    activity = rows.matrix @ x
    relax = np.zeros((m, 2))
    relax[lower_soft, 0] = out.values[problem.n: problem.n + len(lower_soft)]
    relax[upper_soft, 1] = out.values[problem.n + len(lower_soft):]
    slacks = [Slack(rows.kind[r], rows.key[r], float(rows.lower[r]), float(rows.upper[r]),
                    float(relax[r, 0]), float(relax[r, 1]), float(activity[r]))
              for r in np.flatnonzero(relax.max(axis=1) > 1e-6)]
    return slacks, out


def max_count(problem: Problem, spacing_m: float, *, region: int | None = None,
              time_limit_s: float) -> tuple[int, bool]:
    """Most parks that fit the spacing rule alone (optionally within one region index).

    Returns
    -------
    count, proven
        An upper bound on the number of parks (the floor of HiGHS's dual bound), and whether it is attained.
    """
    matrix = clique_rows(problem.xy, spacing_m)
    rows = Rows(matrix, np.full(matrix.shape[0], -np.inf), np.ones(matrix.shape[0]),
                ("spacing",) * matrix.shape[0], ("",) * matrix.shape[0])
    upper = np.ones(problem.n) if region is None else (problem.region == region).astype(float)
    out = solve(rows, np.ones(problem.n), maximize=True, time_limit_s=time_limit_s, col_upper=upper)
    bound = out.bound if out.bound is not None and np.isfinite(out.bound) else float(upper.sum())
    return int(np.floor(bound + 1e-6)), out.proven_optimal


def min_distance_m(xy: np.ndarray, chosen: np.ndarray) -> float:
    """Smallest distance in metres between two chosen points; inf with fewer than two."""
    pts = xy[np.asarray(chosen, dtype=bool)]
    return float(pdist(pts).min()) if len(pts) > 1 else np.inf


def infeasibility(problem: Problem, limits: Limits, *, time_limit_s: float) -> list[str]:
    """Explain why no proposal meets the rules: the rules in conflict and the smallest relaxation.

    First the direct conflicts found by counting (eligible candidates against minimums, minimums against
    maximums). Then the elastic model: every count, region, municipality, urban and share rule gets slack
    (spacing does not), and the least total slack in parks is the smallest relaxation; each relaxed rule is
    one statement (ties prefer changing the number of parks). With a spacing set, it also states how many
    parks the spacing alone allows (in total, and in each region with a minimum) and the largest spacing
    under which the other rules can be met.

    Returns
    -------
    list of str
        Statements such as "Region Hovedstaden: 0 eligible candidates, minimum 1",
        "smallest relaxation: relax the Region Hovedstaden minimum from 1 to 0" or
        "spacing 90 km allows at most 6 parks (minimum 11)".
    """
    eligible = np.bincount(problem.region, minlength=len(problem.region_names))
    out = _conflicts(problem, limits, eligible)
    slacks, found = elastic(problem, limits, time_limit_s=time_limit_s)
    prefix = (N_("smallest relaxation: %(change)s") if found.proven_optimal
              else N_("a relaxation (time limit, not proven smallest): %(change)s"))
    out += [_(prefix, change=_slack_text(s, limits)) for s in slacks]  # a handful of rules
    if limits.spacing_m > 0 and problem.n > 1:
        deadline = time.perf_counter() + time_limit_s  # one budget for the spacing searches together
        out += _spacing_statements(problem, limits, eligible,
                                   lambda: max(deadline - time.perf_counter(), 0.1))
    if not out:
        out.append(_("no relaxation found within the solver's time limit"))
    log.info("selection infeasible: %s", "; ".join(out))
    return out


# --------------------------------------------------------------------------- helpers


def _feasible(problem: Problem, limits: Limits, spacing_m: float, time_limit_s: float) -> Outcome:
    rows = build_rows(problem, limits, spacing_m=spacing_m)
    return solve(rows, np.zeros(problem.n), maximize=True, time_limit_s=time_limit_s)


def _index_of(distances: np.ndarray, value: float) -> int:
    """Index of the largest sorted distance <= `value` (len - 1 for inf, -1 below all)."""
    return int(np.searchsorted(distances, value, side="right")) - 1


def _conflicts(problem, limits, eligible) -> list[str]:
    """Conflicts visible by counting alone."""
    out = []
    if problem.n < limits.k_min:
        out.append(ngettext("%(num)s eligible candidate, minimum %(k)s parks",
                            "%(num)s eligible candidates, minimum %(k)s parks", problem.n, k=_g(limits.k_min)))
    for r, name in enumerate(problem.region_names):  # the five regions
        if eligible[r] < limits.region_min[r]:
            out.append(ngettext("%(region)s: %(num)s eligible candidate, minimum %(min)s",
                                "%(region)s: %(num)s eligible candidates, minimum %(min)s", int(eligible[r]),
                                region=name, min=_g(limits.region_min[r])))
    if limits.region_min.sum() > limits.k_max:
        out.append(_("regional minimums sum to %(sum)s parks, more than the maximum of %(max)s",
                     sum=_g(limits.region_min.sum()), max=_g(limits.k_max)))
    cap = np.minimum(eligible, limits.region_max).sum()
    if eligible.sum() >= limits.k_min > cap:
        out.append(_("regional maximums allow at most %(cap)s parks, minimum %(min)s", cap=_g(cap),
                     min=_g(limits.k_min)))
    rural = int((~problem.urban).sum())
    if rural < limits.min_outside_urban:
        out.append(ngettext("outside the largest urban areas: %(num)s eligible candidate, minimum %(min)s",
                            "outside the largest urban areas: %(num)s eligible candidates, minimum %(min)s", rural,
                            min=_g(limits.min_outside_urban)))
    return out


def _spacing_statements(problem, limits, eligible, left) -> list[str]:
    """How many parks the spacing alone allows, and the largest spacing the other rules can live with."""
    km = _km(limits.spacing_m)
    out = []
    most, _chosen = max_count(problem, limits.spacing_m, time_limit_s=left())
    if most < limits.k_min:
        out.append(_("spacing %(km)s km allows at most %(most)s parks (minimum %(min)s)", km=km, most=_g(most),
                     min=_g(limits.k_min)))
    for r, name in enumerate(problem.region_names):  # the five regions
        need = int(limits.region_min[r])
        if need > 0 and eligible[r] >= need:
            in_region, _chosen = max_count(problem, limits.spacing_m, region=r, time_limit_s=left())
            if in_region < need:
                out.append(_("%(region)s: spacing %(km)s km allows at most %(most)s parks there, minimum %(min)s",
                             region=name, km=km, most=_g(in_region), min=_g(need)))
    widest = max_dispersion(problem, limits, time_limit_s=left()) if limits.k_min >= 2 else None
    if widest is not None and widest.distance_m < limits.spacing_m:
        values = {"km": km, "widest": _g(math.floor(widest.distance_m / 100) / 10)}
        out.append(_("smallest relaxation of the spacing: from %(km)s km to %(widest)s km lets the other rules "
                     "be met", **values) if widest.proven else
                   _("spacing from %(km)s km to %(widest)s km lets the other rules be met (search stopped at the "
                     "time limit; a larger spacing may also work)", **values))
    return out


def _slack_text(s, limits) -> str:
    lo, hi = s.relax_lower, s.relax_upper
    if s.kind == "count":
        return (_("relax k_min from %(before)s to %(after)s (at most %(fit)s parks fit the other rules)",
                  before=_g(limits.k_min), after=_g(limits.k_min - lo), fit=_g(s.activity)) if lo else
                _("raise k_max from %(before)s to %(after)s", before=_g(limits.k_max), after=_g(limits.k_max + hi)))
    if s.kind == "region":
        return (_("relax the %(region)s minimum from %(before)s to %(after)s", region=s.key, before=_g(s.lower),
                  after=_g(s.lower - lo)) if lo else
                _("raise the %(region)s maximum from %(before)s to %(after)s", region=s.key, before=_g(s.upper),
                  after=_g(s.upper + hi)))
    if s.kind == "kommune":
        return _("allow %(parks)s parks in municipality %(code)s (max_per_kommune %(max)s)", parks=_g(s.upper + hi),
                 code=s.key, max=_g(s.upper))
    if s.kind == "urban":
        return _("relax min_outside_urban from %(before)s to %(after)s", before=_g(s.lower), after=_g(s.lower - lo))
    return _("widen the %(region)s proportional tolerance by %(parks)s parks", region=s.key,
             parks=fmt_number(max(lo, hi), 2))


def _g(x: float) -> str:
    """A count or limit in a text, like ``%g``: no decimals when whole, in the current language."""
    return fmt_number(x, 0 if float(x).is_integer() else 2)


def _km(m: float) -> str:
    km = round(m / 1000, 1)
    return fmt_number(km, 0 if km.is_integer() else 1)

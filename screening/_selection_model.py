"""The selection's integer programme as arrays: spacing cliques, constraint rows, HiGHS runs, greedy.

Internal to `screening.selection`. Columns are the eligible candidates in `Problem` order (sorted by
``application_id``); a column is 1 when the candidate is in the proposal. The model is built from
``scipy.sparse`` arrays and passed to HiGHS through highspy's array API in one call.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp
import shapely

__all__ = [
    "MIP_REL_GAP",
    "Problem",
    "Limits",
    "Rows",
    "Outcome",
    "build_rows",
    "solve",
    "no_good_row",
    "conflict_pairs",
    "clique_rows",
    "conflicts",
    "greedy",
]

log = logging.getLogger(__name__)

MIP_REL_GAP = 1e-6
"""Relative gap below which HiGHS may stop with "Optimal"; `Outcome.proven_optimal` checks it again."""

SOFT_KINDS = ("count", "region", "kommune", "urban", "share")
"""Row kinds the elastic model may relax; ``spacing`` (clique) rows stay hard."""


@dataclass(frozen=True)
class Problem:
    """Eligible candidates as arrays, one per model column, sorted by ``application_id``.

    ``xy`` are centroids in EPSG:25832 metres, shape (n, 2); ``region`` indexes ``region_names``;
    ``kommune`` is a 0/1 (n_kommuner, n) matrix, 1 where the municipality is lead OR co-applicant;
    ``urban`` is True within the urban radius of a large town; ``weight`` is the objective coefficient.
    """

    ids: np.ndarray
    weight: np.ndarray
    score: np.ndarray
    xy: np.ndarray
    region: np.ndarray
    region_names: tuple[str, ...]
    kommune: sp.csr_array
    kommune_codes: tuple[str, ...]
    urban: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Limits:
    """The rules as numbers: counts are parks, ``spacing_m`` metres, arrays aligned to ``region_names``
    (``region_max`` inf where unbounded, ``shares`` NaN where no proportional target applies)."""

    k_min: int
    k_max: int
    spacing_m: float
    region_min: np.ndarray
    region_max: np.ndarray
    max_per_kommune: float
    shares: np.ndarray
    share_tol: float
    min_outside_urban: int


@dataclass(frozen=True)
class Rows:
    """Constraint rows ``lower <= matrix @ x <= upper``; ``kind``/``key`` name each row's rule."""

    matrix: sp.csr_array
    lower: np.ndarray
    upper: np.ndarray
    kind: tuple[str, ...]
    key: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """One HiGHS run: lower-case model status text, proof flag, column values, objective and bound."""

    status: str
    proven_optimal: bool
    values: np.ndarray | None
    objective: float | None
    bound: float | None
    mip_gap: float | None
    solve_s: float

    @property
    def infeasible(self) -> bool:
        return self.status == "infeasible"


def build_rows(problem: Problem, limits: Limits, *, spacing_m: float | None = None) -> Rows:
    """Return every constraint row of the selection model for `problem` under `limits`.

    Parameters
    ----------
    problem
        The eligible candidates.
    limits
        The rules; `spacing_m` (metres) overrides ``limits.spacing_m`` (the dispersion search uses this).

    Returns
    -------
    Rows
        Count row, region min/max rows, municipality rows (only where a municipality is touched by more
        candidates than allowed), the outside-urban row, proportional-share rows and the spacing cliques.
    """
    n = problem.n
    spacing_m = limits.spacing_m if spacing_m is None else spacing_m
    blocks, lower, upper, kind, key = [], [], [], [], []

    def add(matrix, lo, hi, what, names):
        blocks.append(sp.csr_array(matrix, shape=(len(lo), n)))
        lower.append(np.asarray(lo, dtype=float))
        upper.append(np.asarray(hi, dtype=float))
        kind.extend([what] * len(lo))
        key.extend(names)

    add(np.ones((1, n)), [limits.k_min], [limits.k_max], "count", [""])
    members = sp.csr_array((np.ones(n), (problem.region, np.arange(n))), shape=(len(problem.region_names), n))
    ruled = np.flatnonzero((limits.region_min > 0) | np.isfinite(limits.region_max))
    add(members[ruled], limits.region_min[ruled], limits.region_max[ruled], "region",
        [problem.region_names[r] for r in ruled])
    if np.isfinite(limits.max_per_kommune):
        crowded = np.flatnonzero(problem.kommune.sum(axis=1) > limits.max_per_kommune)
        cap = np.full(len(crowded), limits.max_per_kommune)
        add(problem.kommune[crowded], np.full(len(crowded), -np.inf), cap, "kommune",
            [problem.kommune_codes[k] for k in crowded])
    if limits.min_outside_urban > 0:
        add((~problem.urban).astype(float)[None, :], [limits.min_outside_urban], [np.inf], "urban", [""])
    targeted = np.flatnonzero(np.isfinite(limits.shares))
    if len(targeted):
        # n_r - share_r * N within +- tol  <=>  sum_i (1[i in r] - share_r) x_i within +- tol
        share_rows = members[targeted].toarray() - limits.shares[targeted, None]
        tol = np.full(len(targeted), limits.share_tol)
        add(share_rows, -tol, tol, "share", [problem.region_names[r] for r in targeted])
    if spacing_m > 0 and n > 1:
        cliques = clique_rows(problem.xy, spacing_m)
        add(cliques, np.full(cliques.shape[0], -np.inf), np.ones(cliques.shape[0]), "spacing",
            [""] * cliques.shape[0])
    matrix = sp.vstack(blocks, format="csr") if blocks else sp.csr_array((0, n))
    return Rows(matrix, np.concatenate(lower), np.concatenate(upper), tuple(kind), tuple(key))


def solve(rows: Rows, cost: np.ndarray, *, maximize: bool, time_limit_s: float,
          col_lower: np.ndarray | None = None, col_upper: np.ndarray | None = None,
          integer: np.ndarray | None = None, presolve: bool = False) -> Outcome:
    """Solve ``max/min cost @ x`` subject to `rows` with HiGHS (binary columns unless `integer` says not).

    Parameters
    ----------
    rows
        Constraint rows; the matrix may have more columns than candidates (elastic slacks).
    cost
        Objective coefficient per column.
    time_limit_s
        Wall-clock limit in seconds; on reaching it the status is "time limit reached" and the
        incumbent (if any) is returned, not proven optimal.
    col_lower, col_upper
        Column bounds (default 0 and 1); fixing a column to 0 or 1 expresses "without" / "with" a park.
    integer
        Boolean per column, True for integer columns (default: all).
    presolve
        Run HiGHS presolve. Off by default: on the strong clique rows it spends minutes merging rows
        (seen: 94 s on 2,000 candidates) while the branch-and-bound itself needs under a second.

    Returns
    -------
    Outcome
        ``proven_optimal`` is True only when HiGHS's model status is Optimal, a feasible solution exists
        and the reported MIP gap is within `MIP_REL_GAP` (or the absolute gap within 1e-6); a return code
        alone is never taken as proof.
    """
    t0 = time.perf_counter()
    ncol = len(cost)
    col_lower = np.zeros(ncol) if col_lower is None else np.asarray(col_lower, dtype=float)
    col_upper = np.ones(ncol) if col_upper is None else np.asarray(col_upper, dtype=float)
    integer = np.ones(ncol, dtype=bool) if integer is None else np.asarray(integer, dtype=bool)
    mat = rows.matrix.tocsr()
    h = _QuietHighs()
    for name, value in (("time_limit", float(time_limit_s)),
                        ("mip_rel_gap", MIP_REL_GAP), ("random_seed", 0),
                        ("presolve", "choose" if presolve else "off")):
        h.setOptionValue(name, value)
    h.passModel(ncol, mat.shape[0], int(mat.nnz), int(highspy.MatrixFormat.kRowwise),
                int(highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize), 0.0,
                np.asarray(cost, dtype=float), col_lower, col_upper,
                rows.lower.astype(float), rows.upper.astype(float),
                mat.indptr.astype(np.int32), mat.indices.astype(np.int32), mat.data.astype(float),
                integer.astype(np.int32))
    h.run()
    return _outcome(h, has_integer=bool(integer.any()), t0=t0)


class _QuietHighs(highspy.Highs):
    """`highspy.Highs` with ``output_flag`` off before its first call that logs.

    ``Highs.__init__`` enables the callbacks, which writes the "Running HiGHS ..." banner to stdout unless
    ``output_flag`` is already false; HiGHS documents that the option must be set before any other method
    (ERGO-Code/HiGHS#1702). `enableCallbacks` is that first call, so the public option is set there.
    """

    def enableCallbacks(self):  # noqa: N802 - highspy's name
        self.setOptionValue("output_flag", False)
        return super().enableCallbacks()


def no_good_row(chosen: np.ndarray, ncol: int) -> tuple[sp.csr_array, float]:
    """Return the no-good cut excluding exactly the 0/1 vector `chosen`: row and its upper bound.

    ``sum_{i in S} x_i - sum_{i not in S} x_i <= |S| - 1`` forbids the set S and no other.
    """
    coef = np.where(chosen, 1.0, -1.0)
    if len(coef) < ncol:
        coef = np.r_[coef, np.zeros(ncol - len(coef))]
    return sp.csr_array(coef[None, :]), float(chosen.sum() - 1)


def conflict_pairs(xy: np.ndarray, spacing_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of points closer than `spacing_m`, found with an STRtree (never an n x n matrix).

    Parameters
    ----------
    xy
        Points in EPSG:25832 metres, shape (n, 2).
    spacing_m
        Minimum spacing in metres; a pair conflicts when its distance is strictly below it.

    Returns
    -------
    i, j, distance_m
        Index arrays with ``i < j`` and the distance of each pair in metres.
    """
    if spacing_m <= 0 or len(xy) < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    points = shapely.points(xy)
    i, j = shapely.STRtree(points).query(points, predicate="dwithin", distance=spacing_m)
    keep = i < j
    i, j = i[keep], j[keep]
    dist = np.hypot(*(xy[j] - xy[i]).T)
    keep = dist < spacing_m
    return i[keep], j[keep], dist[keep]


def clique_rows(xy: np.ndarray, spacing_m: float) -> sp.csr_array:
    """Spacing rows in strong form: cliques of mutually conflicting points, covering every conflict.

    For each point v and each of three 60-degree sectors of the upper half plane (directions [0, 60),
    [60, 120), [120, 180) degrees), v together with its conflicting neighbours in that sector is a clique:
    two points within distance s of v and at most 60 degrees apart (seen from v) are closer than s to each
    other. Every conflicting pair (v, u) lies in such a sector of exactly one of its ends, so the rows
    ``sum_{C} x <= 1`` imply every pair row while being far fewer and tighter in the LP relaxation.

    Returns
    -------
    scipy.sparse.csr_array
        0/1 matrix (n_cliques, n); at most 3n rows.
    """
    i, j, _ = conflict_pairs(xy, spacing_m)
    d = xy[j] - xy[i]
    angle = np.arctan2(d[:, 1], d[:, 0])
    # orient each pair so its direction lies in [0, pi): apex = the end from which the other is "above"
    flip = (angle < 0) | (angle >= np.pi)
    apex, other = np.where(flip, j, i), np.where(flip, i, j)
    angle = np.where(flip, np.where(angle < 0, angle + np.pi, angle - np.pi), angle)
    sector = np.minimum((angle / (np.pi / 3)).astype(np.int64), 2)
    row = 3 * apex + sector
    heads = np.unique(row)
    all_rows = np.r_[row, heads]
    all_cols = np.r_[other, heads // 3]
    _, row_id = np.unique(all_rows, return_inverse=True)
    return sp.csr_array((np.ones(len(all_rows)), (row_id, all_cols)), shape=(len(heads), len(xy)))


def conflicts(rows: Rows, columns: np.ndarray | None = None) -> sp.csr_array:
    """Conflict matrix from the spacing rows: entry (a, b) > 0 when a and b share a clique (b in `columns`).

    Returns
    -------
    scipy.sparse.csr_array
        (n, n) or (n, len(columns)); the diagonal is set for candidates in any clique.
    """
    cliques = rows.matrix[np.flatnonzero(np.array(rows.kind) == "spacing")]
    right = cliques if columns is None else cliques[:, columns]
    return (cliques.T @ right).tocsr()


def greedy(problem: Problem, limits: Limits, rows: Rows) -> np.ndarray | None:
    """Greedy proposal, a labelled fallback: region minimums first, then the best that still fit.

    Candidates are taken in order of weight (ties by ``application_id``): first the best of each region
    with a minimum (regions with fewest candidates first), then the best outside urban areas up to that
    minimum, then the best of all up to ``k_max``. A candidate fits when it breaks no spacing,
    municipality, region-maximum or count rule with those already taken. `rows` (from `build_rows`) give
    the conflicts (two candidates conflict when they share a clique row) and the final check.

    Returns
    -------
    numpy.ndarray or None
        Boolean per column, or None when the result breaks a minimum or a proportional target.
    """
    n = problem.n
    order = np.lexsort((problem.ids, -problem.weight))
    adjacency = conflicts(rows)
    kommune_cols = problem.kommune.T.tocsr()
    state = {"chosen": np.zeros(n, dtype=bool), "blocked": np.zeros(n, dtype=bool),
             "region_n": np.zeros(len(problem.region_names)),
             "kommune_n": np.zeros(len(problem.kommune_codes))}
    sizes = np.bincount(problem.region, minlength=len(problem.region_names))
    for r in np.argsort(sizes, kind="stable"):  # loop over the five regions
        if limits.region_min[r] > 0:
            _take(order[problem.region[order] == r], int(limits.region_min[r]), state, problem, limits,
                  adjacency, kommune_cols)
    rural = order[~problem.urban[order]]
    need = limits.min_outside_urban - int(state["chosen"][~problem.urban].sum())
    _take(rural, need, state, problem, limits, adjacency, kommune_cols)
    _take(order, limits.k_max, state, problem, limits, adjacency, kommune_cols)
    chosen = state["chosen"]
    activity = rows.matrix @ chosen.astype(float)
    if np.all(activity >= rows.lower - 1e-9) and np.all(activity <= rows.upper + 1e-9):
        return chosen
    return None


# --------------------------------------------------------------------------- helpers


def _outcome(h, *, has_integer: bool, t0: float) -> Outcome:
    model_status = h.getModelStatus()
    status = h.modelStatusToString(model_status).lower()
    info = h.getInfo()
    has_solution = int(info.primal_solution_status) == int(highspy.SolutionStatus.kSolutionStatusFeasible)
    values = np.asarray(h.getSolution().col_value) if has_solution else None
    objective = float(info.objective_function_value) if has_solution else None
    bound = float(info.mip_dual_bound) if has_integer else objective
    gap = float(info.mip_gap) if has_integer and has_solution else (0.0 if has_solution else None)
    proven = model_status == highspy.HighsModelStatus.kOptimal and has_solution
    if proven and has_integer:
        abs_gap = abs(bound - objective) if np.isfinite(bound) else np.inf
        proven = gap <= MIP_REL_GAP * (1 + 1e-9) or abs_gap <= 1e-6
    return Outcome(status, bool(proven), values, objective, bound, gap, time.perf_counter() - t0)


def _take(order, count, state, problem, limits, adjacency, kommune_cols) -> None:
    """Add up to `count` more candidates from `order` that fit the rules; updates `state` in place."""
    taken = 0
    for c in order:  # candidates in weight order; stops after `count` taken (a handful of parks)
        if taken >= count or state["chosen"].sum() >= limits.k_max:
            return
        if state["chosen"][c] or state["blocked"][c]:
            continue
        r = problem.region[c]
        if state["region_n"][r] + 1 > limits.region_max[r]:
            continue
        ks = kommune_cols.indices[kommune_cols.indptr[c]:kommune_cols.indptr[c + 1]]
        if np.any(state["kommune_n"][ks] + 1 > limits.max_per_kommune):
            continue
        state["chosen"][c] = True
        state["region_n"][r] += 1
        state["kommune_n"][ks] += 1
        state["blocked"][adjacency.indices[adjacency.indptr[c]:adjacency.indptr[c + 1]]] = True
        taken += 1

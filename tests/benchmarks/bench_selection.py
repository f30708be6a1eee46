"""Selector benchmark: 2,000 synthetic candidates over Denmark, k = 11, 1-3 parks per region, 40 km spacing.

Figures: time to a proven optimum (validation, candidate arrays, constraint rows with the spacing cliques,
HiGHS; target <= 3 s on 2 cores), the full `selection.select` with a reason for every candidate, the greedy
heuristic's objective gap in the same run, the next-best proposals, and for comparison the plain form
(one row per conflicting pair) with HiGHS presolve off and on. Medians of three runs where stated; the
machine may be shared, so `wall_s` and the spread of runs are part of the record.

Synthetic candidates: centres drawn uniformly over the land of the 98 municipalities
(``boundaries/kommuner.gpkg`` of the mirror; region from the municipality), squares of 50-800 ha,
``score_total`` ~ Normal(55, 15) clipped to 0-100 and rounded to 0.1, 10 % excluded, 10 % with one
co-applicant from the same region; seed 2025.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from screening import selection
from screening._selection_model import Rows, build_rows, conflict_pairs, greedy, solve
from screening.config import RegionRule, Selection

N_CANDIDATES = 2_000
SEED = 2025
REPEATS = 3


def run(mirror_root: Path) -> dict:
    """Build the case from the mirror's municipalities, time the selector, return the figures."""
    kommuner = gpd.read_file(mirror_root / "boundaries" / "kommuner.gpkg").to_crs(25832)
    candidates = synthetic_candidates(kommuner, n=N_CANDIDATES, seed=SEED)
    rules = Selection(k_min=11, k_max=11, spacing_km=40, max_per_kommune=1, alternatives=0, time_limit_s=60,
                      regions={r: RegionRule(min=1, max=3) for r in selection.REGIONS})

    select_s, optimum_s, result = [], [], None
    for _ in range(REPEATS):  # median of a few runs
        t0 = time.perf_counter()
        frame, eligible, _ = selection._prepare(candidates, rules, None, "score")
        problem = selection._problem(frame[eligible], rules, None)
        limits = selection._limits(problem, rules)
        rows = build_rows(problem, limits)
        build_s = time.perf_counter() - t0
        out = solve(rows, problem.weight, maximize=True, time_limit_s=rules.time_limit_s)
        optimum_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        result = selection.select(candidates, rules)
        select_s.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    chosen_greedy = greedy(problem, limits, rows)
    greedy_s = time.perf_counter() - t0
    greedy_obj = float(problem.weight @ chosen_greedy) if chosen_greedy is not None else None

    t0 = time.perf_counter()
    with_alts = selection.select(candidates, rules.model_copy(update={"alternatives": 3}))
    alternatives_s = time.perf_counter() - t0

    wide = rules.model_copy(update={"spacing_km": 60.0})  # a tighter variant: does the greedy fall behind?
    wide_limits = selection._limits(problem, wide)
    t0 = time.perf_counter()
    wide_rows = build_rows(problem, wide_limits)
    wide_out = solve(wide_rows, problem.weight, maximize=True, time_limit_s=rules.time_limit_s)
    wide_s = time.perf_counter() - t0
    wide_greedy = greedy(problem, wide_limits, wide_rows)
    wide_gap = (None if wide_greedy is None or wide_out.objective is None
                else (wide_out.objective - float(problem.weight @ wide_greedy)) / wide_out.objective)

    pairs = _pair_form(problem, limits, rows)
    plain = {}
    for presolve in (False, True):  # the formulation the issue measured, for comparison
        t0 = time.perf_counter()
        o = solve(pairs, problem.weight, maximize=True, time_limit_s=120, presolve=presolve)
        plain[presolve] = (time.perf_counter() - t0, o)

    spacing_rows = sum(k == "spacing" for k in rows.kind)
    n_pairs = len(conflict_pairs(problem.xy, limits.spacing_m)[0])
    gap = None if greedy_obj is None else (out.objective - greedy_obj) / out.objective
    figures = {
        "case": (f"{N_CANDIDATES} synthetic candidates over Denmark ({problem.n} eligible), k = 11, "
                 "1-3 per region, 40 km spacing, <= 1 per municipality; seed 2025"),
        "times_s": {
            "to_proven_optimum_median": round(statistics.median(optimum_s), 3),
            "to_proven_optimum_runs": [round(t, 3) for t in optimum_s],
            "model_build_last": round(build_s, 3),
            "highs_solve_last": round(out.solve_s, 3),
            "select_with_explanations_median": round(statistics.median(select_s), 3),
            "greedy": round(greedy_s, 4),
            "select_with_3_alternatives": round(alternatives_s, 3),
            "spacing_60km_to_proven_optimum": round(wide_s, 3),
            "pair_rows_presolve_off": round(plain[False][0], 3),
            "pair_rows_presolve_on": round(plain[True][0], 3),
        },
        "ratios": {
            "greedy_gap": None if gap is None else round(gap, 5),
            "greedy_gap_spacing_60km": None if wide_gap is None else round(wide_gap, 5),
            "pair_rows_per_clique_row": round(n_pairs / max(spacing_rows, 1), 1),
            "target_3s_met": statistics.median(optimum_s) <= 3.0,
        },
        "status": result.status, "proven_optimal": result.proven_optimal, "objective": result.objective,
        "mip_gap": result.mip_gap, "greedy_objective": greedy_obj,
        "pair_rows_status": {f"presolve_{'on' if k else 'off'}": [o.status, o.proven_optimal, o.objective]
                             for k, (_, o) in plain.items()},
        "model": {"columns": problem.n, "conflicting_pairs": n_pairs, "clique_rows": spacing_rows,
                  "rows": int(rows.matrix.shape[0]), "nonzeros": int(rows.matrix.nnz)},
        "alternatives": [{k: a[k] for k in ("rank", "objective", "delta", "proven_optimal")}
                         for a in with_alts.alternatives],
        "selected": result.selected_ids,
    }
    print(f"  {figures['case']}")
    print(f"  time to proven optimum (validation, arrays, rows, HiGHS): median "
          f"{figures['times_s']['to_proven_optimum_median']} s over {REPEATS} runs "
          f"({out.status}, proven optimal: {out.proven_optimal}, objective {out.objective:.1f})")
    print(f"    last run: model build {build_s:.3f} s, HiGHS {out.solve_s:.3f} s; "
          f"{n_pairs:,} conflicting pairs -> {spacing_rows:,} clique rows")
    print(f"  select() with reasons for all {problem.n} eligible: median "
          f"{figures['times_s']['select_with_explanations_median']} s ({result.status})")
    if greedy_obj is not None:
        print(f"  greedy heuristic: {greedy_obj:.1f} (gap {100 * gap:.2f} %), {greedy_s * 1000:.1f} ms")
    else:
        print("  greedy heuristic: no feasible proposal")
    print(f"  60 km spacing variant: proven optimum in {wide_s:.2f} s ({wide_out.status}), greedy gap "
          + ("no feasible proposal" if wide_gap is None else f"{100 * wide_gap:.2f} %"))
    print(f"  with 3 next-best proposals: {alternatives_s:.2f} s; "
          + ", ".join(f"#{a['rank']} {a['delta']:+.1f}" for a in figures["alternatives"]))
    print(f"  plain pair rows: presolve off {plain[False][0]:.2f} s, presolve on {plain[True][0]:.2f} s")
    return figures


def synthetic_candidates(kommuner: gpd.GeoDataFrame, *, n: int, seed: int) -> gpd.GeoDataFrame:
    """`n` candidate squares over the land of `kommuner` (EPSG:25832); see the module docstring."""
    rng = np.random.default_rng(seed)
    tree = shapely.STRtree(kommuner.geometry.to_numpy())
    minx, miny, maxx, maxy = kommuner.total_bounds
    found_xy, found_k = [], []
    while sum(len(a) for a in found_xy) < n:  # rejection sampling in batches
        xy = np.c_[rng.uniform(minx, maxx, 4 * n), rng.uniform(miny, maxy, 4 * n)]
        point_i, kommune_i = tree.query(shapely.points(xy), predicate="within")
        _, first = np.unique(point_i, return_index=True)
        found_xy.append(xy[point_i[first]])
        found_k.append(kommune_i[first])
    xy, k = np.vstack(found_xy)[:n], np.concatenate(found_k)[:n]
    side = np.sqrt(rng.uniform(50, 800, n) * 10_000)
    codes = kommuner["kommunekode"].to_numpy()[k]
    regions = kommuner["regionsnavn"].to_numpy()[k]
    co = np.full(n, "", dtype=object)
    with_co = np.flatnonzero(rng.random(n) < 0.10)
    for c in with_co:  # a co-applicant from the same region (a few hundred draws)
        same = kommuner["kommunekode"][(kommuner["regionsnavn"] == regions[c])
                                       & (kommuner["kommunekode"] != codes[c])]
        co[c] = str(rng.choice(same.to_numpy()))
    return gpd.GeoDataFrame({
        "application_id": [f"SYN-{i:04d}" for i in range(n)],
        "score_total": np.clip(rng.normal(55, 15, n), 0, 100).round(1),
        "excluded": rng.random(n) < 0.10,
        "regionsnavn": regions, "kommunekode": codes, "co_applicant_kommunekoder": co,
        "net_area_ha": (side ** 2 / 10_000).round(1),
    }, geometry=shapely.box(*(xy - side[:, None] / 2).T, *(xy + side[:, None] / 2).T), crs=25832)


def _pair_form(problem, limits, rows) -> Rows:
    """The same model with one row per conflicting pair instead of the clique rows."""
    keep = np.array([k != "spacing" for k in rows.kind])
    i, j, _ = conflict_pairs(problem.xy, limits.spacing_m)
    pair = sp.csr_array((np.ones(2 * len(i)), (np.r_[np.arange(len(i)), np.arange(len(i))], np.r_[i, j])),
                        shape=(len(i), problem.n))
    return Rows(sp.vstack([rows.matrix[keep], pair], format="csr"),
                np.r_[rows.lower[keep], np.full(len(i), -np.inf)], np.r_[rows.upper[keep], np.ones(len(i))],
                tuple(np.array(rows.kind)[keep]) + ("pair",) * len(i),
                tuple(np.array(rows.key)[keep]) + ("",) * len(i))


if __name__ == "__main__":  # pragma: no cover
    from screening.config import settings_from_env

    print(pd.Series(run(settings_from_env().mirror_root)["times_s"]))

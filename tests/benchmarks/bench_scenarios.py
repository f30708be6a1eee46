"""Scenario benchmark: 2,000 synthetic candidates x the shipped scenarios, exclusion and measurement shared.

Figures (one run each; the machine may be shared, so the naive figure and the split are in the same run):

- shared work, once: the exclusion (prepared layers + evaluate) and every raw measurement (`scoring.measure`);
- per scenario: rescoring (`scoring.score_measured`), ranking (sensitivity) and the selection, through
  `pipeline.assess` with the shared exclusion and measurements (rescoring and ranking also summed on their
  own); then the comparison and the robust proposal;
- one selection on its own (`selection.select` under the base rules, on the base scenario's table);
- the naive way for comparison: every scenario run from scratch (`pipeline.assess`: exclusion, scoring,
  ranking, selection each time).

Target (issue 14: "total <= 5 x (one selection) + 2 s, i.e. exclusion and raw measures are not repeated"):
each scenario has its own rules and so its own selection time, so the target is read as: the work after
the shared part <= the selections made (one per scenario under its own rules, and the robust proposal's)
+ 2 s, i.e. rescoring, ranking, the comparison and the reasons together add at most 2 s. Checked on
wall-clock and on CPU seconds (the machine may be shared); the literal form with five times the base
selection and the shared part are printed beside it.

Candidates: centres drawn uniformly over the land of the mirror's municipalities (as in bench_selection:
region and municipality from the point, 10 % with a co-applicant of the same region), squares of 50-800 ha,
random submission attributes; seed 2025. Layers: the real mirror, missing exclusion layers allowed.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np

from screening import catalog, exclusion, pipeline, selection
from screening._scenario_compare import compare
from screening._scenario_config import load_scenarios
from screening._scenario_robust import robust_proposal
from screening.config import PROJECT_ROOT, load_catalog, load_criteria, settings_from_env
from screening.scenarios import ScenarioRun, evaluate
from tests.benchmarks.bench_selection import synthetic_candidates

N_CANDIDATES = 2_000
SEED = 2025
SLACK_S = 2.0


def run(mirror_root: Path) -> dict:
    """Build the case, time the shared work, the scenarios, one selection and the naive way."""
    settings = settings_from_env(mirror_root=mirror_root, online=False)
    cat = load_catalog()
    criteria = load_criteria(catalog=cat)
    scenarios = load_scenarios(PROJECT_ROOT / "layers" / "scenarios", criteria, catalog=cat)
    allow = [r.layer for r in criteria.exclusions.rules]
    used = sorted(set().union(*(s.criteria.layer_ids() for s in scenarios)))
    layer_set = catalog.load_layers(["kommuner", "regioner", *used], catalog=cat, settings=settings,
                                    allow_missing=allow)
    candidates = _candidates(layer_set.layers["kommuner"])
    exclusion.prepared_layers(layer_set.layers, criteria.exclusions, cache_dir=settings.cache_dir)  # warm cache

    timings: dict[str, float] = {}
    calls: list[tuple[float, float]] = []
    with _timed_selections(calls):
        w0, c0 = time.perf_counter(), time.process_time()
        runs = evaluate(candidates, layer_set, scenarios, settings=settings, allow_missing=allow, timings=timings)
        w1, c1 = time.perf_counter(), time.process_time()
        comparison = compare(runs, towns=layer_set.layers.get("towns"))
        w2, c2 = time.perf_counter(), time.process_time()
        robust = robust_proposal(runs, towns=layer_set.layers.get("towns"))
        w3, c3 = time.perf_counter(), time.process_time()
    shared = timings["exclusion"] + timings["measure"]
    shared_cpu = timings["cpu_exclusion"] + timings["cpu_measure"]
    per_scenario = {r.id: timings[f"scenario:{r.id}"] for r in runs}
    after_shared, after_shared_cpu = w3 - w0 - shared, c3 - c0 - shared_cpu
    sel_wall, sel_cpu = (sum(c[k] for c in calls) for k in (0, 1))  # the scenarios' and the robust selection
    overhead, overhead_cpu = after_shared - sel_wall, after_shared_cpu - sel_cpu

    base = runs[0].result
    w0, c0 = time.perf_counter(), time.process_time()
    selection.select(base.candidates, scenarios[0].criteria.selection, breakdown=base.scores.breakdown,
                     towns=layer_set.layers.get("towns"))
    one_selection, one_selection_cpu = time.perf_counter() - w0, time.process_time() - c0

    t0 = time.perf_counter()
    naive = [ScenarioRun(s, pipeline.assess(candidates, layer_set, s.criteria, settings=settings,
                                            allow_missing=allow)) for s in scenarios]
    naive_s = time.perf_counter() - t0
    same = all(sorted(a.result.selection.selected_ids) == sorted(b.result.selection.selected_ids)
               for a, b in zip(runs, naive, strict=True))

    n = len(scenarios)
    figures = {
        "case": (f"{N_CANDIDATES} synthetic candidates over Denmark (seed {SEED}) x {n} scenarios "
                 f"({', '.join(s.id for s in scenarios)}); real mirror layers, missing: "
                 f"{', '.join(sorted(layer_set.missing)) or 'none'}"),
        "times_s": {
            "shared_exclusion": round(timings["exclusion"], 3),
            "shared_measure": round(timings["measure"], 3),
            **{f"scenario_{k}": round(v, 3) for k, v in per_scenario.items()},
            **{f"selection_{r.id}": round(c[0], 3) for r, c in zip(runs, calls, strict=False)},
            "rescoring_total": round(sum(r.timings.get("scoring", 0.0) for r in runs), 3),
            "ranking_total": round(sum(r.timings.get("sensitivity", 0.0) for r in runs), 3),
            "compare": round(w2 - w1, 3),
            "robust_proposal": round(w3 - w2, 3),
            "after_shared_total": round(after_shared, 3),
            "with_shared_total": round(after_shared + shared, 3),
            "selections_total": round(sel_wall, 3),
            "robust_selection": round(calls[-1][0], 3),
            "overhead_beyond_selections": round(overhead, 3),
            "one_selection_base": round(one_selection, 3),
            "naive_every_scenario_from_scratch": round(naive_s, 3),
        },
        "cpu_s": {
            "shared": round(shared_cpu, 3), "after_shared_total": round(after_shared_cpu, 3),
            "selections_total": round(sel_cpu, 3), "overhead_beyond_selections": round(overhead_cpu, 3),
            "compare": round(c2 - c1, 3), "robust_proposal": round(c3 - c2, 3),
            "one_selection_base": round(one_selection_cpu, 3),
        },
        "ratios": {
            "target": (f"after the shared part <= the selections made ({n} scenarios, each under its own "
                       f"rules, and the robust proposal's) + {SLACK_S:g} s"),
            "target_met_wall": bool(overhead <= SLACK_S),
            "target_met_cpu": bool(overhead_cpu <= SLACK_S),
            "literal_5x_base_selection_plus_2s_met_wall": bool(after_shared <= n * one_selection + SLACK_S),
            "naive_over_shared": round(naive_s / (after_shared + shared), 2),
        },
        "checks": {
            "same_proposals_as_naive": bool(same),
            "measurements_made": len({r.timings["measurement"] for r in runs}),
            "all_proven_optimal": all(r.result.selection.proven_optimal for r in runs),
            "robust_proven_optimal": bool(robust.proven_optimal),
            "robust_core": int((comparison.stability["stability"] == "core").sum()),
            "swing": int((comparison.stability["stability"] == "swing").sum()),
        },
    }
    t, c = figures["times_s"], figures["cpu_s"]
    print(f"  {figures['case']}")
    print(f"  shared once: exclusion {t['shared_exclusion']:.2f} s + measurements {t['shared_measure']:.2f} s "
          f"(CPU {c['shared']:.2f} s)")
    print("  per scenario (rescore, rank, select): " + ", ".join(
        f"{k} {v:.2f} s (selection {cw:.2f})" for (k, v), (cw, _) in zip(per_scenario.items(), calls, strict=False)))
    print(f"  rescoring (scoring.score_measured) {t['rescoring_total']:.2f} s and ranking (sensitivity) "
          f"{t['ranking_total']:.2f} s over the {n} scenarios")
    print(f"  compare {t['compare']:.2f} s, robust proposal {t['robust_proposal']:.2f} s "
          f"({robust.status}, proven optimal {robust.proven_optimal})")
    print(f"  after the shared part: {after_shared:.2f} s = the selections {sel_wall:.2f} s ({n} scenarios and the "
          f"robust proposal's {calls[-1][0]:.2f} s) + {overhead:.2f} s (rescoring, ranking, comparison, "
          f"reasons; CPU {overhead_cpu:.2f} s) -> "
          f"target <= +{SLACK_S:g} s {'met' if overhead <= SLACK_S else 'NOT met'} (wall), "
          f"{'met' if overhead_cpu <= SLACK_S else 'NOT met'} (CPU)")
    print(f"  literal form: {n} x one base selection ({one_selection:.2f} s) + {SLACK_S:g} s = "
          f"{n * one_selection + SLACK_S:.2f} s vs {after_shared:.2f} s; with the shared part "
          f"{after_shared + shared:.2f} s")
    print(f"  naive (every scenario from scratch): {naive_s:.2f} s, same proposals: {same}")
    return figures


@contextmanager
def _timed_selections(calls: list):
    """Record (wall, CPU) seconds of every `selection.select` call made inside the block."""
    original = selection.select

    def timed(*args, **kwargs):
        w, c = time.perf_counter(), time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            calls.append((time.perf_counter() - w, time.process_time() - c))

    selection.select = timed
    try:
        yield
    finally:
        selection.select = original


def _candidates(kommuner: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """bench_selection's synthetic candidates with the submission columns the scoring reads."""
    cand = synthetic_candidates(kommuner, n=N_CANDIDATES, seed=SEED).drop(
        columns=["score_total", "excluded", "net_area_ha"])
    rng = np.random.default_rng(SEED)
    n = len(cand)
    status = np.array(["existing", "planned", "none", None], dtype=object)
    names = kommuner.set_index("kommunekode")["kommunenavn"]
    return cand.assign(
        site_name=[f"Synthetic site {i}" for i in range(n)], kommunenavn=cand["kommunekode"].map(names),
        regionskode="", area_ha=cand.area / 10_000, source_file="synthetic",
        infra_vand_status=rng.choice(status, n), infra_spildevand_status=rng.choice(status, n),
        kb_decision_date=np.where(rng.random(n) < 0.7, "2025-03-01", None),
        business_loi_count=rng.integers(0, 8, n).astype(float))


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(settings_from_env().mirror_root), indent=2))

"""Selector: optimum against exhaustive enumeration, rules checked on the output, explanations, back-test."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from screening import selection
from screening._selection_model import Outcome
from screening.config import RegionRule, Selection, load_criteria
from screening.errors import CRSError, SelectionError
from screening.selection import REGIONS, apply_selection, rules_with, select

X0, Y0 = 500_000, 6_150_000  # round EPSG:25832 coordinates (metres) inside Denmark
NORD, MIDT, SYD, HOVED, SJAEL = REGIONS


def _candidates(rows, **columns) -> gpd.GeoDataFrame:
    """Candidates from (id, x_km, y_km, score, region, kommunekode[, co-applicants]) tuples.

    Each is a 1 km square centred on (X0 + x_km * 1000, Y0 + y_km * 1000), so its centroid - the point the
    spacing is measured from - is exactly that; EPSG:25832, not excluded, 100 ha net area.
    """
    ids, xs, ys, scores, regions, kommuner, co = [], [], [], [], [], [], []
    for row in rows:
        aid, x, y, score, region, kode, *rest = row
        ids.append(aid)
        xs.append(X0 + x * 1000)
        ys.append(Y0 + y * 1000)
        scores.append(score)
        regions.append(region)
        kommuner.append(kode)
        co.append(rest[0] if rest else "")
    data = {"application_id": ids, "score_total": scores, "excluded": False, "regionsnavn": regions,
            "kommunekode": kommuner, "co_applicant_kommunekoder": co, "net_area_ha": 100.0} | columns
    squares = [box(x - 500, y - 500, x + 500, y + 500) for x, y in zip(xs, ys, strict=True)]
    return gpd.GeoDataFrame(data, geometry=squares, crs=25832)


def _random_instance(seed: int):
    """12-18 candidates on a 150 km x 150 km grid of 10 km steps with random scores, regions, municipalities,
    co-applicants, areas and exclusions; rules drawn at random (spacing 0-40 km, regional minimums and
    maximums, 1 per municipality or unlimited, score or score x area, proportional targets)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(12, 19))
    cells = rng.choice(16 * 16, size=n, replace=False)
    kommuner = [f"{k:04d}" for k in range(101, 109)]
    rows = []
    for i, cell in enumerate(cells):
        co = ",".join(rng.choice(kommuner, size=int(rng.random() < 0.25), replace=False))
        rows.append((f"C{i:02d}", int(cell % 16) * 10, int(cell // 16) * 10, float(rng.integers(10, 100)),
                     REGIONS[int(rng.integers(0, 5))], str(rng.choice(kommuner)), co))
    cands = _candidates(rows, net_area_ha=rng.integers(20, 400, n).astype(float),
                        excluded=rng.random(n) < 0.1)
    k_max = int(rng.integers(2, 7))
    regions = {r: RegionRule(min=int(rng.random() < 0.3), max=int(rng.integers(1, 3))) for r in REGIONS
               if rng.random() < 0.6}
    spacing_km = float(rng.choice([0, 20, 30, 40], p=[0.2, 0.3, 0.25, 0.25]))
    shares = {NORD: 0.115, MIDT: 0.2489, SYD: 0.2225, HOVED: 0.2724, SJAEL: 0.1412}  # the overview note
    rules = Selection(k_min=int(rng.integers(1, k_max + 1)), k_max=k_max, spacing_km=spacing_km,
                      max_per_kommune=[1, None][int(rng.random() < 0.3)], regions=regions,
                      objective=["score", "score_x_area"][int(rng.random() < 0.3)],
                      use_proportional_targets=bool(rng.random() < 0.2), proportional_tolerance_parks=1.0,
                      proportional_targets=shares,
                      alternatives=3, time_limit_s=20)
    return cands, rules


def _violations(cands: gpd.GeoDataFrame, chosen: list[str], rules: Selection, towns=None) -> list[str]:
    """Every rule the set `chosen` breaks, checked directly on the candidates (independent of the model)."""
    c = cands.set_index("application_id").loc[list(chosen)]
    out = []
    if c["excluded"].any():
        out.append("excluded chosen")
    if not rules.k_min <= len(c) <= rules.k_max:
        out.append(f"count {len(c)}")
    pts = np.c_[c.geometry.centroid.x, c.geometry.centroid.y]
    for a, b in itertools.combinations(range(len(c)), 2):
        if np.hypot(*(pts[a] - pts[b])) < rules.spacing_km * 1000 - 1e-6:
            out.append(f"spacing {c.index[a]}-{c.index[b]}")
    per_region = c["regionsnavn"].value_counts()
    for name, rule in rules.regions.items():
        n = int(per_region.get(name, 0))
        if n < rule.min or (rule.max is not None and n > rule.max):
            out.append(f"region {name}: {n}")
    if rules.max_per_kommune is not None:
        used = [k for lead, co in zip(c["kommunekode"], c["co_applicant_kommunekoder"], strict=True)
                for k in {lead} | {x for x in co.split(",") if x}]
        out += [f"kommune {k}" for k, n in Counter(used).items() if n > rules.max_per_kommune]
    if rules.use_proportional_targets:
        for name, share in rules.proportional_targets.items():
            if abs(per_region.get(name, 0) - share * len(c)) > rules.proportional_tolerance_parks + 1e-9:
                out.append(f"share {name}")
    if rules.min_outside_urban:
        big = towns[towns["population"] >= rules.urban_town_min_population]
        urban = [big.distance(Point(p)).min() <= rules.urban_radius_km * 1000 for p in pts]
        if len(c) - sum(urban) < rules.min_outside_urban:
            out.append("outside urban")
    return out


def _weight(cands, rules) -> pd.Series:
    c = cands.set_index("application_id")
    return c["score_total"] * (c["net_area_ha"] if rules.objective == "score_x_area" else 1.0)


def _enumerate(cands, rules) -> list[tuple[float, frozenset]]:
    """All feasible proposals by brute force (depth-first over subsets, pruned by spacing, municipality and
    region maximum as parks are added; minimums and shares checked on each complete subset), best first."""
    c = cands[~cands["excluded"]].reset_index(drop=True)
    ids = list(c["application_id"])
    weight = _weight(cands, rules)[ids].to_numpy()
    xy = np.c_[c.geometry.centroid.x, c.geometry.centroid.y]
    dist = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    uses = [{lead} | {k for k in co.split(",") if k} for lead, co in
            zip(c["kommunekode"], c["co_applicant_kommunekoder"], strict=True)]
    region = list(c["regionsnavn"])
    cap = rules.max_per_kommune or math.inf
    found = []

    def fits(subset, i):
        if any(dist[i, j] < rules.spacing_km * 1000 - 1e-6 for j in subset):
            return False
        used = [k for j in subset for k in uses[j]]
        if any(used.count(k) + 1 > cap for k in uses[i]):
            return False
        rule = rules.regions.get(region[i])
        same = sum(region[j] == region[i] for j in subset)
        return not (rule and rule.max is not None and same + 1 > rule.max)

    def complete(subset):
        if not rules.k_min <= len(subset) <= rules.k_max:
            return False
        counts = Counter(region[j] for j in subset)
        if any(counts.get(r, 0) < rule.min for r, rule in rules.regions.items()):
            return False
        return not rules.use_proportional_targets or all(
            abs(counts.get(r, 0) - share * len(subset)) <= rules.proportional_tolerance_parks + 1e-9
            for r, share in rules.proportional_targets.items())

    def walk(subset, start):
        if complete(subset):
            found.append((float(weight[subset].sum()), frozenset(ids[j] for j in subset)))
        if len(subset) < rules.k_max:
            for i in range(start, len(ids)):  # depth-first over the remaining candidates
                if fits(subset, i):
                    walk(subset + [i], i + 1)

    walk([], 0)
    return sorted(found, key=lambda t: -t[0])


@pytest.mark.parametrize("seed", range(12))
def test_optimum_matches_exhaustive_enumeration(seed):
    cands, rules = _random_instance(seed)
    result = select(cands, rules)
    feasible = _enumerate(cands, rules)
    if not feasible:
        assert result.status == "infeasible"
        assert result.infeasibility and not result.table["selected"].any()
        return
    assert result.proven_optimal and result.status == "optimal"
    assert result.objective == pytest.approx(feasible[0][0], rel=1e-9)
    assert _violations(cands, result.selected_ids, rules) == []
    assert float(_weight(cands, rules)[result.selected_ids].sum()) == pytest.approx(result.objective)
    # next-best proposals: distinct, feasible, and exactly the enumeration's next objective values
    expected = [obj for obj, _ in feasible[1:1 + rules.alternatives]]
    assert [a["objective"] for a in result.alternatives] == pytest.approx(expected, rel=1e-9)
    sets = {frozenset(result.selected_ids)} | {frozenset(a["selected"]) for a in result.alternatives}
    assert len(sets) == 1 + len(result.alternatives)
    for alt in result.alternatives:
        assert _violations(cands, alt["selected"], rules) == []
        assert set(alt["differs_from_best"]["in"]) == set(alt["selected"]) - set(result.selected_ids)


@pytest.mark.parametrize("seed", range(4))
def test_dispersion_maximises_the_smallest_distance(seed):
    cands, rules = _random_instance(100 + seed)
    rules = rules_with(rules, k_min=max(rules.k_min, 2), k_max=max(rules.k_max, 2))
    rules = Selection.model_validate(rules.model_dump() | {"spacing_km": 0.0, "dispersion_min_score": 30.0})
    pool = cands[cands["score_total"] >= 30].copy()
    feasible = _enumerate(pool, rules)
    result = select(cands, rules, mode="dispersion")
    if not feasible:
        assert result.status == "infeasible"
        return
    xy = pool.set_index("application_id").geometry.centroid
    best = max(min(xy[a].distance(xy[b]) for a, b in itertools.combinations(sorted(s), 2))
               for _, s in feasible)
    assert result.min_distance_km == pytest.approx(best / 1000, abs=1e-3)
    assert result.proven_optimal
    assert set(result.selected_ids) <= set(pool["application_id"])


@pytest.fixture
def line():
    """Ten candidates 10 km apart on a west-east line, all in Region Midtjylland, separate municipalities;
    scores 90, 89, ..., 81 from west to east."""
    return _candidates([(f"L{i}", 10 * i, 0, 90.0 - i, MIDT, f"{700 + i:04d}") for i in range(10)])


def test_spacing_infeasibility_is_explained(line):
    rules = Selection(k_min=5, k_max=6, spacing_km=25)  # on a 10 km line: at most 4 parks (0, 30, 60, 90)
    result = select(line, rules)
    assert result.status == "infeasible" and not result.proven_optimal and result.objective is None
    assert "spacing 25 km allows at most 4 parks (minimum 5)" in result.infeasibility
    assert ("smallest relaxation: relax k_min from 5 to 4 (at most 4 parks fit the other rules)"
            in result.infeasibility)
    # five parks on the line are at best 20 km apart (0, 20, 40, 60, 80)
    assert ("smallest relaxation of the spacing: from 25 km to 20 km lets the other rules be met"
            in result.infeasibility)
    assert not result.table["selected"].any()
    assert "INFEASIBLE" in result.summary_text()


def test_region_without_candidates_is_explained(line):
    rules = Selection(k_min=1, k_max=3, regions={HOVED: RegionRule(min=1, max=2)})
    result = select(line, rules)
    assert result.status == "infeasible"
    assert "Region Hovedstaden: 0 eligible candidates, minimum 1" in result.infeasibility
    assert "smallest relaxation: relax the Region Hovedstaden minimum from 1 to 0" in result.infeasibility


def test_minimums_above_maximum_are_explained(line):
    rules = Selection(k_min=1, k_max=2, regions={r: RegionRule(min=1) for r in REGIONS})
    result = select(line, rules)
    assert "regional minimums sum to 5 parks, more than the maximum of 2" in result.infeasibility
    assert json.dumps(result.to_dict())


def test_reasons_name_spacing_and_outscoring(line):
    rules = Selection(k_min=1, k_max=2, spacing_km=15)
    result = select(line, rules)
    assert result.selected_ids == ["L0", "L2"]  # 90 + 88; L1 (89) is 10 km from L0
    reasons = result.table["selection_reason"]
    assert reasons["L1"].startswith(
        "not chosen: within 10.0 km of chosen L0 (spacing 15 km; L0 scores 90.0 vs 89.0)")
    assert reasons["L5"].startswith("not chosen: outscored in the proposal by L2 (88.0 vs 85.0, +3.0): "
                                    "the proposal is full (2 parks)")
    assert "forcing it in the best proposal scores 3.0 less (175.0)" in reasons["L5"]  # 90 + 85, not 178
    assert reasons["L0"].startswith("chosen: score 90.0 (1st of 10 eligible, 1st in Region Midtjylland)")
    assert result.table.loc["L0", "proposal_rank"] == 1 and result.table.loc["L2", "proposal_rank"] == 2


def test_region_maximum_reason():
    cands = _candidates([("A", 0, 0, 90.0, NORD, "0851"), ("B", 100, 0, 80.0, NORD, "0860"),
                         ("C", 200, 0, 50.0, SYD, "0561")])
    result = select(cands, Selection(k_min=1, k_max=3, regions={NORD: RegionRule(min=0, max=1)}))
    assert result.selected_ids == ["A", "C"]
    assert result.table.loc["B", "selection_reason"].startswith(
        "not chosen: outscored within Region Nordjylland by A (90.0 vs 80.0, +10.0): "
        "the region maximum of 1 is reached")


def test_co_applicant_uses_its_municipality():
    """B is led by 0202 with co-applicant 0101, the lead municipality of A: with one park per municipality
    they exclude each other, although their lead codes differ; B still counts once, in its lead's region."""
    cands = _candidates([("A", 0, 0, 70.0, NORD, "0101"), ("B", 100, 0, 90.0, SYD, "0202", "0101"),
                         ("C", 200, 0, 60.0, SYD, "0303")])
    result = select(cands, Selection(k_min=1, k_max=3, max_per_kommune=1))
    assert result.selected_ids == ["B", "C"]
    assert "municipality 0101 already has chosen B" in result.table.loc["A", "selection_reason"]
    unlimited = select(cands, Selection(k_min=1, k_max=3, max_per_kommune=None))
    assert sorted(unlimited.selected_ids) == ["A", "B", "C"]


def test_outside_urban_minimum():
    """A town of 200,000 at the origin; A (95) and B (90) lie 5 km and 20 km from it, urban radius 10 km."""
    towns = gpd.GeoDataFrame({"population": [200_000, 5_000]},
                             geometry=[Point(X0, Y0), Point(X0 + 20_000, Y0)], crs=25832)
    cands = _candidates([("A", 5, 0, 95.0, NORD, "0101"), ("B", 20, 0, 90.0, NORD, "0102")])
    rules = Selection(k_min=1, k_max=1, min_outside_urban=1, urban_radius_km=10)
    result = select(cands, rules, towns=towns)
    assert result.selected_ids == ["B"]
    assert _violations(cands, ["B"], rules, towns) == [] and _violations(cands, ["A"], rules, towns) != []
    with pytest.raises(SelectionError, match="needs the towns layer"):
        select(cands, rules)


def test_rules_hold_on_a_larger_random_instance():
    """300 candidates on a 400 km square, 40 km spacing, 1-3 per region; the output is checked directly."""
    rng = np.random.default_rng(7)
    rows = [(f"R{i:03d}", float(rng.uniform(0, 400)), float(rng.uniform(0, 400)), float(rng.integers(0, 101)),
             REGIONS[i % 5], f"{100 + i % 90:04d}") for i in range(300)]
    cands = _candidates(rows)
    rules = Selection(k_min=11, k_max=11, spacing_km=40, alternatives=1,
                      regions={r: RegionRule(min=1, max=3) for r in REGIONS})
    result = select(cands, rules)
    assert result.proven_optimal
    assert _violations(cands, result.selected_ids, rules) == []
    assert result.greedy_objective is None or result.greedy_objective <= result.objective + 1e-9
    assert result.min_distance_km >= 40


def test_same_input_same_proposal(line):
    rules = Selection(k_min=2, k_max=4, spacing_km=15)
    first = select(line, rules)
    again = select(line.iloc[::-1].reset_index(drop=True), rules)
    assert first.selected_ids == again.selected_ids
    pd.testing.assert_frame_equal(first.table.sort_index(), again.table.sort_index())
    assert first.to_dict()["alternatives"] == again.to_dict()["alternatives"]


def test_greedy_fallback_is_labelled(line, monkeypatch):
    def no_solution(rows, cost, **kwargs):
        return Outcome("time limit reached", False, None, None, np.inf, None, 1.0)

    monkeypatch.setattr(selection, "solve", no_solution)
    result = select(line, Selection(k_min=1, k_max=2, spacing_km=15))
    assert result.status == "time limit reached; greedy fallback (not proven optimal)"
    assert not result.proven_optimal
    assert result.selected_ids == ["L0", "L2"] and result.objective == pytest.approx(178.0)


def test_excluded_and_unscored_are_not_eligible(line):
    cands = line.copy()
    cands.loc[0, "excluded"] = True
    cands["exclusion_reasons"] = ["Natura 2000 F-område 'Vejlerne'"] + [""] * 9
    cands.loc[1, "score_total"] = np.nan
    result = select(cands, Selection(k_min=1, k_max=1))
    assert result.selected_ids == ["L2"]
    assert (result.table.loc["L0", "selection_reason"]
            == "excluded by screening: Natura 2000 F-område 'Vejlerne'")
    assert result.table.loc["L1", "selection_reason"] == "not eligible: no score"


def test_apply_selection_adds_three_columns(line):
    result = select(line, Selection(k_min=1, k_max=2, spacing_km=15))
    out = apply_selection(line, result)
    assert list(out.columns[-3:]) == ["selected", "selection_reason", "proposal_rank"]
    assert out["selected"].tolist() == [True, False, True] + [False] * 7
    assert out["proposal_rank"].dtype == "Int64" and out["proposal_rank"].tolist()[:3] == [1, pd.NA, 2]
    assert out.crs == line.crs and list(out["application_id"]) == list(line["application_id"])


def test_backtest_reports_differences_with_criteria():
    """A and B designated; the proposal takes A and C (C outscores B by 20 points on the port criterion)."""
    cands = _candidates([("A", 0, 0, 90.0, NORD, "0101"), ("B", 100, 0, 50.0, SYD, "0102"),
                         ("C", 200, 0, 70.0, SYD, "0103")], designated_2025=[True, True, False])
    breakdown = pd.DataFrame({
        "application_id": ["B", "B", "C", "C"], "group": "transport",
        "criterion": ["port", "rail", "port", "rail"],
        "title": ["Distance to nearest port", "Distance to nearest rail station"] * 2,
        "raw_value": [25_000.0, 4_000.0, 3_000.0, 4_000.0], "unit": "m", "score": [0.0, 0.5, 1.0, 0.5],
        "weight": [20.0, 10.0, 20.0, 10.0], "contribution": [0.0, 5.0, 20.0, 5.0], "assessed": True})
    result = select(cands, Selection(k_min=2, k_max=2, max_per_kommune=None,
                                     regions={SYD: RegionRule(min=0, max=1)}), breakdown=breakdown)
    bt = result.backtest
    assert (bt["designated"], bt["proposed"], bt["both"]) == (2, 2, 1)
    assert bt["text"] == "The proposal picks 1 of the 2 applications designated in 2025."
    [missed] = bt["designated_not_proposed"]
    [extra] = bt["proposed_not_designated"]
    assert missed["application_id"] == "B" and missed["compared_with"] == "C"
    assert extra["differences"] == [{"criterion": "port", "title": "Distance to nearest port",
                                     "group": "transport", "points": 20.0, "unit": "m",
                                     "raw": ["3,000", "25,000"]}]
    assert ("C scores +20.0 points (70.0 vs 50.0), mostly transport: Distance to nearest port +20.0 "
            "(3,000 vs 25,000 m)") in extra["text"]
    assert "Back-test" in result.summary_text()


@pytest.mark.parametrize(("change", "error", "match"), [
    (lambda c: c.drop(columns="regionsnavn"), SelectionError, "lack column"),
    (lambda c: c.assign(application_id="X"), SelectionError, "unique"),
    (lambda c: c.assign(score_total=120.0), SelectionError, "0..100"),
    (lambda c: c.assign(co_applicant_kommunekoder="Aarhus"), SelectionError, "not 4 digits"),
    (lambda c: c.to_crs(4326), CRSError, "EPSG:4326"),
])
def test_invalid_input_is_refused(line, change, error, match):
    with pytest.raises(error, match=match):
        select(change(line), Selection(k_min=1, k_max=2))


def test_unknown_region_and_mode_are_refused(line):
    with pytest.raises(SelectionError, match="unknown region"):
        select(line, Selection(k_min=1, k_max=2, regions={"Region Østjylland": RegionRule(min=1)}))
    with pytest.raises(SelectionError, match="must be one of"):
        select(line, Selection(k_min=1, k_max=2), mode="fast")
    with pytest.raises(SelectionError, match="k_min"):
        rules_with(Selection(k_min=1, k_max=2), k_min=5)


@pytest.mark.mirror
def test_approximate_2025_applications(mirror_root):
    """The 15 approximate 2025 applications with the project's rules and a deterministic STAND-IN score
    (40 + new plots in ha / 10, capped at 100; 40 where unknown) - not the real scoring."""
    apps = gpd.read_file(mirror_root / "submissions" / "applications_2025_approx.gpkg")
    kommuner = gpd.read_file(mirror_root / "boundaries" / "kommuner.gpkg")
    code = dict(zip(kommuner["kommunenavn"], kommuner["kommunekode"], strict=True))
    cands = apps.merge(kommuner[["kommunekode", "regionsnavn"]], on="kommunekode", how="left")
    cands["co_applicant_kommunekoder"] = [",".join(code[n.strip()] for n in s.split(",") if n.strip())
                                          for s in cands["co_applicants"].fillna("")]
    cands["score_total"] = np.minimum(100, 40 + cands["new_plots_ha"].fillna(0) / 10).round(1)
    cands["excluded"] = False
    cands["net_area_ha"] = cands["area_ha"]
    rules = load_criteria().selection
    result = select(gpd.GeoDataFrame(cands, crs=apps.crs), rules)
    assert result.proven_optimal and rules.k_min <= len(result.selected_ids) <= rules.k_max
    assert _violations(cands, result.selected_ids, rules) == []
    assert result.backtest["designated"] == 11
    assert len(result.alternatives) == rules.alternatives
    assert math.isfinite(result.objective) and json.dumps(result.to_dict())


def test_backtest_sweeps_the_spacing_and_says_what_it_is_worth(monkeypatch):
    """Known by construction: A, B, C designated at 0, 30 and 60 km; D (not designated) far away. No spacing
    picks all three; 40 km keeps A and C (B is within 40 km of both); 70 km keeps A only."""
    from screening import _selection_backtest

    monkeypatch.setattr(_selection_backtest, "SPACINGS_KM", (0.0, 40.0, 70.0))
    cands = _candidates([("A", 0, 0, 90.0, NORD, "0101"), ("B", 30, 0, 80.0, NORD, "0102"),
                         ("C", 60, 0, 70.0, NORD, "0103"), ("D", 300, 0, 10.0, SYD, "0104")],
                        designated_2025=[True, True, True, False])
    rules = Selection(k_min=1, k_max=3, spacing_km=40, max_per_kommune=None,
                      spacing_reason="40 km because the back-test then picks most designations.")
    bt = select(cands, rules).backtest
    sweep = {row["spacing_km"]: row["designated_picked"] for row in bt["spacing_sweep"]}
    assert sweep == {0.0: 3, 40.0: 2, 70.0: 1}
    assert all(row["text"].startswith(f"{row['spacing_km']:g} km:") for row in bt["spacing_sweep"])
    assert bt["both"] == sweep[40.0]  # the configured spacing's row is the proposal's
    assert "40 km because the back-test" in bt["spacing_choice"] and "2 of the 3" in bt["spacing_choice"]
    assert "guesses" in bt["caveat"] and "smoke test" in bt["caveat"] and "not evidence" in bt["caveat"]
    assert json.loads(json.dumps(select(cands, rules).to_dict()))["backtest"]["spacing_sweep"][0]["spacing_km"] == 0


def test_highs_is_silenced_through_the_public_api(capfd):
    """No import of highspy's private _core; the banner never reaches stdout (captured at the fd level)."""
    import ast
    import inspect

    from screening import _selection_model

    tree = ast.parse(inspect.getsource(_selection_model))
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom | ast.Import) for a in n.names}
    assert not any("_core" in (m or "") for m in modules) and "_Highs" not in names
    select(_candidates([("A", 0, 0, 90.0, NORD, "0101"), ("B", 100, 0, 50.0, SYD, "0102")]),
           Selection(k_min=1, k_max=2))
    assert "HiGHS" not in capfd.readouterr().out

"""Kept target times (`screening._target_times`): computed once per network and targets, the same answers.

On the synthetic networks of tests/test_travel.py (exact minutes). Kept times must be the very arrays a
fresh `routing.target_times` / `routing.nearest_times` gives, a smaller limit served by a larger one must
count exactly the same targets, other targets must not hit another's times, and after `prepare` the scoring
must not run a single Dijkstra from the targets.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, box

from screening import _target_times, road_network, routing, scoring
from screening.config import Criteria
from tests.test_travel import X0, Y0, _random_network, _xy


@pytest.fixture(autouse=True)
def _fresh():
    _target_times.clear()
    yield
    _target_times.clear()


@pytest.fixture(scope="module")
def net():
    return _random_network(np.random.default_rng(11))


@pytest.fixture(scope="module")
def targets():
    return np.array([Point(_xy(*p)) for p in np.random.default_rng(12).uniform(0, 20_000, (30, 2))])


def _counting(monkeypatch, name):
    """Count the calls of routing.<name> (still computing)."""
    calls = []
    real = getattr(routing, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(routing, name, counted)
    return calls


def test_target_times_are_computed_once_and_equal_fresh_ones(net, targets, monkeypatch):
    calls = _counting(monkeypatch, "target_times")
    first = _target_times.target_times(net, targets, 25.0)
    again = _target_times.target_times(net, list(targets), 20.0)  # same targets, smaller limit: kept ones
    assert again is first and len(calls) == 1
    fresh = routing.target_times(net, routing.access(net, targets, role="depart", on_node=True), 25.0)
    for name in ("ptr", "target", "minutes"):
        np.testing.assert_array_equal(getattr(first, name), getattr(fresh, name))
    assert first.limit_min == 25.0 and first.n_targets == targets.size
    wider = _target_times.target_times(net, targets, 40.0)  # a larger limit is computed and kept instead
    assert wider.limit_min == 40.0 and len(calls) == 3  # (the fresh call above counted too)
    assert _target_times.target_times(net, targets, 30.0) is wider


def test_nearest_times_are_kept_and_equal_fresh_ones(net, targets, monkeypatch):
    calls = _counting(monkeypatch, "nearest_times")
    kept = _target_times.nearest_times(net, targets)
    assert _target_times.nearest_times(net, targets) is kept and len(calls) == 1
    fresh = routing.nearest_times(net, routing.access(net, targets, role="depart", on_node=True))
    np.testing.assert_array_equal(kept.minutes, fresh.minutes)
    np.testing.assert_array_equal(kept.target, fresh.target)


@pytest.mark.parametrize("within_min", [5.0, 12.5, 20.0, 25.0])
def test_a_smaller_limit_counts_exactly_what_its_own_times_count(net, targets, within_min):
    """Catchments from times bounded at 25 min equal those from times bounded at the criterion's own limit."""
    rng = np.random.default_rng(13)
    sites = np.array([box(X0 + x, Y0 + y, X0 + x + 400, Y0 + y + 300) for x, y in rng.uniform(-500, 21_000, (80, 2))])
    places = routing.access(net, sites, role="arrive")
    values = rng.integers(1, 100, targets.size).astype(float)
    direct = routing.direct_for(net, targets, place_geoms=sites)
    kept = _target_times.target_times(net, targets, 25.0)
    own = routing.target_times(net, routing.access(net, targets, role="depart", on_node=True), within_min)
    a = routing.catchment(kept, values, places, within_min, direct=direct, with_pairs=True)
    b = routing.catchment(own, values, places, within_min, direct=direct, with_pairs=True)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert sorted(zip(*a[2], strict=True)) == sorted(zip(*b[2], strict=True))
    assert 0 < a[1].sum() < a[1].size * targets.size or within_min == 5.0


def test_other_targets_or_another_network_are_kept_apart(net, targets):
    some = _target_times.target_times(net, targets[:10], 20.0)
    every = _target_times.target_times(net, targets, 20.0)
    assert some is not every and (some.n_targets, every.n_targets) == (10, 30)
    assert _target_times.target_key(targets[:10]) != _target_times.target_key(targets)
    other = _random_network(np.random.default_rng(11))  # equal content, another network object
    assert _target_times.target_times(other, targets, 20.0) is not every
    assert len(_target_times.kept(net)) == 2 and len(_target_times.kept(other)) == 1


def test_the_oldest_target_sets_are_dropped(net, targets, monkeypatch):
    monkeypatch.setattr(_target_times, "PER_NETWORK", 3)
    for i in range(5):  # five target sets, three kept
        _target_times.target_times(net, targets[i:i + 5], 10.0)
    assert len(_target_times.kept(net)) == 3
    assert ("target", _target_times.target_key(targets[4:9])) in _target_times.kept(net)
    assert ("target", _target_times.target_key(targets[0:5])) not in _target_times.kept(net)


def _criteria():
    travel = {"speeds_kmh": {"trunk": 110}, "default_speed_kmh": 30, "detour_factor": 1.3,
              "fallback_speed_kmh": 60, "access_snap_max_m": 5000}
    crit = [
        {"id": "mw", "group": "a", "title": "motorway", "measure": "travel_time", "layer": "junctions",
         "unit": "min", "weight": 1, "band": {"points": [[5, 1.0], [30, 0.0]]}},
        {"id": "pop30", "group": "a", "title": "pop", "measure": "reach_sum", "layer": "towns",
         "unit": "persons", "value_column": "population", "within_min": 30, "weight": 1,
         "band": {"points": [[0, 0.0], [1000, 1.0]]}},
        {"id": "big", "group": "a", "title": "big towns", "measure": "reach_count", "layer": "towns",
         "filter": {"where": {"kind": ["city"]}}, "unit": "areas", "within_min": 5, "weight": 1,
         "band": {"points": [[0, 0.0], [2, 1.0]]}},
    ]
    return Criteria.model_validate({
        "exclusions": {"min_net_area_ha": 10, "rules": []}, "groups": [{"id": "a", "title": "A", "weight": 1.0}],
        "criteria": crit, "travel": travel, "selection": {"k_min": 1, "k_max": 1}})


def _layers():
    """A trunk road of 11 km (6 min at 110 km/h) with towns and an exit along it; versioned like catalog
    layers, so the network is built once (`road_network.network_for`)."""
    trunk = LineString([(X0 + 500, Y0 + 500), (X0 + 11_500, Y0 + 500)])
    roads = gpd.GeoDataFrame({"road_class": ["trunk"], "maxspeed_kph": [110]}, geometry=[trunk], crs=25832)
    roads.attrs["version"] = "test-target-times"
    towns = gpd.GeoDataFrame({"population": [700, 50, 9], "kind": ["city", "village", "city"]},
                             geometry=[Point(X0 + 11_500, Y0 + 500), Point(X0 + 6_000, Y0 + 500),
                                       Point(X0 + 3_000, Y0 + 520)], crs=25832)
    junctions = gpd.GeoDataFrame({"ref": ["57"]}, geometry=[Point(X0 + 11_500, Y0 + 500)], crs=25832)
    return {"roads": roads, "towns": towns, "junctions": junctions}


def test_after_prepare_the_scoring_runs_no_dijkstra_from_targets(monkeypatch):
    layers, criteria = _layers(), _criteria()
    sites = gpd.GeoDataFrame({"application_id": ["s0", "s1"]},
                             geometry=[box(X0, Y0, X0 + 1_000, Y0 + 1_000), box(X0 + 5_000, Y0, X0 + 6_000, Y0 + 900)],
                             crs=25832)
    cold = scoring.score(sites, layers, criteria)  # computed as the scoring asks, then kept
    _target_times.clear()
    road_network._CACHE.clear()
    assert _target_times.prepare(layers, criteria) == 3  # nearest exits, all towns, the filtered cities
    assert _target_times.prepare(layers, criteria) == 0  # already kept

    def refuse(*args, **kwargs):
        raise AssertionError("a target Dijkstra ran after prepare")

    monkeypatch.setattr(routing, "target_times", refuse)
    monkeypatch.setattr(routing, "nearest_times", refuse)
    warm = scoring.score(sites, layers, criteria)
    assert warm.scores.equals(cold.scores)
    assert warm.breakdown.equals(cold.breakdown)
    rows = warm.breakdown.set_index(["application_id", "criterion"])
    assert rows.loc[("s0", "mw"), "raw_value"] == pytest.approx(6.0)  # 11 km at 110 km/h from the exit
    assert rows.loc[("s0", "pop30"), "raw_value"] == 759.0  # every town within 30 min

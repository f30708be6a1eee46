"""Scoring split in two: `measure` (raw values, once) and `score_measured` (bands, weights, bonus points).

Synthetic sites on round EPSG:25832 coordinates; every expected value is known by construction: the
substation lies 13,500 m from site s0's edge (band 2,000 -> 1.0, 25,000 -> 0.0 gives 0.5) and 500 m from
site s1's edge (1.0).
"""

from __future__ import annotations

import geopandas as gpd
import pytest
from pandas.testing import assert_frame_equal
from shapely.geometry import Point, box

from screening import scoring
from screening import travel as travel_mod
from screening.config import Criteria
from screening.errors import ConfigError

X0, Y0 = 550_000, 6_200_000
TRAVEL = {"speeds_kmh": {"motorway": 110}, "default_speed_kmh": 30, "detour_factor": 1.3,
          "fallback_speed_kmh": 60, "access_snap_max_m": 5000}


def _criteria(*, sub_band=((2000, 1.0), (25000, 0.0)), weights=(0.6, 0.4), mapping=None, points=5.0,
              within_m=1000.0, sub_filter=None) -> Criteria:
    """Group `infra` (substation distance, weight 3; line distance, weight 1) and `commit` (an attribute)."""
    sub = {"id": "sub", "group": "infra", "title": "Substation", "measure": "distance", "layer": "subs",
           "unit": "m", "weight": 3, "band": {"points": [list(p) for p in sub_band]}}
    if sub_filter:
        sub["filter"] = sub_filter
    return Criteria.model_validate({
        "exclusions": {"min_net_area_ha": 10, "rules": []},
        "groups": [{"id": "infra", "title": "Infrastructure", "weight": weights[0]},
                   {"id": "commit", "title": "Commitment", "weight": weights[1]}],
        "criteria": [
            sub,
            {"id": "line", "group": "infra", "title": "Line", "measure": "distance", "layer": "lines",
             "unit": "m", "weight": 1, "band": {"points": [[1000, 1.0], [15000, 0.0]]}},
            {"id": "plan", "group": "commit", "title": "Plan", "measure": "attribute", "field": "plan",
             "unit": "status", "weight": 1, "mapping": mapping or {"adopted": 1.0, "none": 0.0}},
        ],
        "bonus": [{"id": "park", "title": "Energy park", "points": points, "layer": "parks",
                   "within_m": within_m}],
        "travel": TRAVEL, "selection": {"k_min": 1, "k_max": 1}})


@pytest.fixture
def sites():
    """Two 1 km squares: s0 at (X0, Y0), s1 100 km east; s0 has an adopted plan, s1 none."""
    return gpd.GeoDataFrame({"application_id": ["s0", "s1"], "plan": ["adopted", "none"]},
                            geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000),
                                      box(X0 + 100_000, Y0, X0 + 101_000, Y0 + 1000)], crs=25832)


@pytest.fixture
def layers():
    """A substation 13,500 m east of s0's edge and 500 m north of s1; a line 1 km from both; a park by s1."""
    def points(xy, **cols):
        return gpd.GeoDataFrame(cols, geometry=[Point(p) for p in xy], crs=25832)

    return {"subs": points([(X0 + 14_500, Y0 + 500), (X0 + 100_500, Y0 + 1_500)], typ=["a", "b"]),
            "lines": points([(X0 + 500, Y0 + 2_000), (X0 + 100_500, Y0 + 2_000)]),
            "parks": points([(X0 + 100_500, Y0 - 800)])}


def test_score_is_measure_then_score_measured(sites, layers):
    crit = _criteria()
    whole = scoring.score(sites, layers, crit)
    split = scoring.score_measured(scoring.measure(sites, layers, crit), crit)
    assert_frame_equal(whole.scores, split.scores)
    assert_frame_equal(whole.breakdown, split.breakdown)


@pytest.mark.parametrize("change", [
    {"sub_band": ((2000, 1.0), (13500, 0.0))},      # a band: s0's substation score 0.5 -> 0.0
    {"weights": (0.2, 0.8)},                         # group weights
    {"mapping": {"adopted": 0.5, "none": 0.25}},     # an attribute's mapping
    {"points": 12.0},                                # bonus points
])
def test_rescoring_equals_scoring_under_the_changed_rules(sites, layers, change):
    measured = scoring.measure(sites, layers, _criteria())
    other = _criteria(**change)
    got = scoring.score_measured(measured, other)
    expected = scoring.score(sites, layers, other)
    assert_frame_equal(got.scores, expected.scores)
    assert_frame_equal(got.breakdown, expected.breakdown)


def test_rescoring_known_values(sites, layers):
    measured = scoring.measure(sites, layers, _criteria())
    base = scoring.score_measured(measured, _criteria()).breakdown.set_index(["application_id", "criterion"])
    steep = scoring.score_measured(measured, _criteria(sub_band=((2000, 1.0), (13500, 0.0)))).breakdown
    steep = steep.set_index(["application_id", "criterion"])
    assert base.loc[("s0", "sub"), "raw_value"] == pytest.approx(13_500.0)
    assert base.loc[("s0", "sub"), "score"] == pytest.approx(0.5)
    assert steep.loc[("s0", "sub"), "score"] == pytest.approx(0.0)
    assert steep.loc[("s1", "sub"), "score"] == pytest.approx(1.0)
    bonus = scoring.score_measured(measured, _criteria(points=12.0)).scores["bonus_points"]
    assert bonus.to_dict() == {"s0": 0.0, "s1": 12.0}


def test_bonus_measured_at_zero_points_can_be_worth_points(sites, layers):
    measured = scoring.measure(sites, layers, _criteria(points=0.0))
    got = scoring.score_measured(measured, _criteria(points=7.0)).scores["bonus_points"]
    assert got.to_dict() == {"s0": 0.0, "s1": 7.0}


def test_rescoring_does_not_measure_again(sites, layers, monkeypatch):
    measured = scoring.measure(sites, layers, _criteria())
    calls = []
    original = travel_mod.nearest_distance
    monkeypatch.setattr(travel_mod, "nearest_distance", lambda *a, **k: calls.append(1) or original(*a, **k))
    scoring.score_measured(measured, _criteria(weights=(0.9, 0.1), points=2.0))
    assert calls == []
    scoring.measure(sites, layers, _criteria())
    assert len(calls) == 3  # substations, lines, the energy park


@pytest.mark.parametrize(("change", "named"), [
    ({"within_m": 5000.0}, "park"),                              # the bonus reaches further: a new measure
    ({"sub_filter": {"where": {"typ": ["a"]}}}, "sub"),          # another set of features
])
def test_rescoring_refuses_a_changed_measurement(sites, layers, change, named):
    measured = scoring.measure(sites, layers, _criteria())
    with pytest.raises(ConfigError, match=rf"\['{named}'\].*measure"):
        scoring.score_measured(measured, _criteria(**change))


def test_measurement_key_ignores_what_only_rescores():
    a, b = _criteria(), _criteria(weights=(0.1, 0.9), sub_band=((1, 1.0), (2, 0.0)), points=9.0)
    assert [scoring.measurement_key(c, a) for c in a.criteria] == [scoring.measurement_key(c, b)
                                                                    for c in b.criteria]
    assert scoring.measurement_key(a.bonus[0], a) == scoring.measurement_key(b.bonus[0], b)
    far = _criteria(within_m=5000.0)
    assert scoring.measurement_key(far.bonus[0], far) != scoring.measurement_key(a.bonus[0], a)

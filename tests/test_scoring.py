"""Scoring: band edges, distances, redistributed missing weight, attributes, bonus, travel, explanations."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from screening import scoring
from screening.config import Criteria, Criterion
from screening.errors import ConfigError, CRSError, SubmissionError

X0, Y0 = 550_000, 6_200_000  # round EPSG:25832 coordinates (metres) inside Denmark
SQUARE = box(X0, Y0, X0 + 1_000, Y0 + 1_000)  # a 1 km square site

TRAVEL = {"speeds_kmh": {"motorway": 110, "residential": 30}, "default_speed_kmh": 30,
          "detour_factor": 1.3, "fallback_speed_kmh": 60, "access_snap_max_m": 5000}


def _criteria(criteria, *, groups=None, bonus=()):
    """A Criteria model with no exclusion rules, groups `a` (0.6) and `b` (0.4) unless given."""
    groups = groups or [{"id": "a", "title": "Group A", "weight": 0.6},
                        {"id": "b", "title": "Group B", "weight": 0.4}]
    return Criteria.model_validate({
        "exclusions": {"min_net_area_ha": 10, "rules": []}, "groups": groups, "criteria": criteria,
        "bonus": list(bonus), "travel": TRAVEL, "selection": {"k_min": 1, "k_max": 1}})


def _dist(cid, group, layer, weight, band=((2000, 1.0), (25000, 0.0)), **extra):
    return {"id": cid, "group": group, "title": cid, "measure": "distance", "layer": layer, "unit": "m",
            "weight": weight, "band": {"points": [list(p) for p in band]}, **extra}


def _attr(cid, group, field, weight, mapping=None, band=None):
    out = {"id": cid, "group": group, "title": cid, "measure": "attribute", "field": field, "unit": "status",
           "weight": weight}
    if mapping is not None:
        out["mapping"] = mapping
    if band is not None:
        out["band"] = {"points": [list(p) for p in band]}
    return out


def _sites(n=1, **columns):
    """`n` 1 km squares 10 km apart along x, EPSG:25832, ids s0, s1, ..."""
    geoms = [box(X0 + 10_000 * i, Y0, X0 + 10_000 * i + 1_000, Y0 + 1_000) for i in range(n)]
    return gpd.GeoDataFrame({"application_id": [f"s{i}" for i in range(n)], **columns}, geometry=geoms,
                            crs=25832)


def _points(xy, crs=25832, **columns):
    return gpd.GeoDataFrame(columns, geometry=[Point(p) for p in xy], crs=crs)


def _rows(result, criterion):
    return result.breakdown.loc[result.breakdown["criterion"] == criterion].reset_index(drop=True)


# --------------------------------------------------------------------------- bands


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (500.0, 1.0),     # below the first point: first score holds
        (2_000.0, 1.0),   # at the first point
        (13_500.0, 0.5),  # midpoint
        (25_000.0, 0.0),  # at the last point
        (90_000.0, 0.0),  # beyond: last score holds
        (np.nan, np.nan),  # unknown stays unknown
    ],
)
def test_band_edges_decreasing(raw, expected):
    got = scoring.band_score(((2000, 1.0), (25000, 0.0)), [raw])[0]
    assert got == pytest.approx(expected, nan_ok=True)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(0, 0.0), (10_000, 0.0), (130_000, 0.5), (250_000, 1.0), (1e7, 1.0)],
)
def test_band_edges_increasing(raw, expected):
    assert scoring.band_score(((10_000, 0.0), (250_000, 1.0)), [raw])[0] == pytest.approx(expected)


def test_band_three_points():
    pts = ((0, 0.0), (10, 0.8), (20, 1.0))
    assert scoring.band_score(pts, [5, 10, 15]).tolist() == pytest.approx([0.4, 0.8, 0.9])


def test_band_text():
    crit = Criterion.model_validate(_dist("x", "a", "l", 1))
    assert scoring.band_text(crit) == "≤ 2,000 m → 1.0, ≥ 25,000 m → 0.0"
    crit = Criterion.model_validate(_attr("y", "a", "f", 1, mapping={"existing": 1.0, "planned": 0.5}))
    assert scoring.band_text(crit) == "existing → 1.0, planned → 0.5"


# --------------------------------------------------------------------------- distances


@pytest.mark.parametrize(("name", "expected"), [("near", "near (400 kV)"), ("400/132 kV Ishøj", "400/132 kV Ishøj")])
def test_nearest_label_adds_voltage_only_when_the_name_lacks_it(name, expected):
    layer = _points([(X0 + 3_500, Y0 + 500)], name=[name], max_voltage_kv=[400.0])
    crit = _criteria([_dist("sub", "a", "subs", 1, label_column="name")])
    assert _rows(scoring.score(_sites(), {"subs": layer}, crit), "sub").iloc[0]["nearest"] == expected


@pytest.mark.parametrize(
    ("xy", "expected_m"),
    [
        ((X0 + 3_500, Y0 + 500), 2_500.0),  # 3 km east of the square's centre: 2.5 km from its east edge
        ((X0 + 500, Y0 + 500), 0.0),        # inside
        ((X0 + 1_000, Y0 + 200), 0.0),      # on the boundary
        ((X0 + 4_000, Y0 + 5_000), 5_000.0),  # 3-4-5 triangle from the corner (X0+1000, Y0+1000)
    ],
)
def test_distance_to_nearest_feature(xy, expected_m):
    layer = _points([xy, (X0 + 50_000, Y0)], name=["near", "far"], max_voltage_kv=[400.0, 150.0])
    crit = _criteria([_dist("sub", "a", "subs", 1, label_column="name")])
    res = scoring.score(_sites(), {"subs": layer}, crit)
    row = _rows(res, "sub").iloc[0]
    assert row["raw_value"] == pytest.approx(expected_m, abs=1e-6)
    assert row["nearest"] == "near (400 kV)"
    assert row["method"] == "straight line"
    assert row["score"] == pytest.approx(1.0 if expected_m <= 2000 else (25_000 - expected_m) / 23_000)


def test_distance_to_line_in_km_and_filter():
    lines = gpd.GeoDataFrame({"kind": ["keep", "drop"]},
                             geometry=[LineString([(X0 + 3_000, Y0 - 5_000), (X0 + 3_000, Y0 + 5_000)]),
                                       LineString([(X0 + 1_100, Y0), (X0 + 1_100, Y0 + 100)])], crs=25832)
    keep = {"where": {"kind": ["keep"]}}
    line = _dist("line", "a", "lines", 1, band=((1, 1.0), (3, 0.0)), filter=keep)
    crit = _criteria([{**line, "unit": "km"}])
    row = _rows(scoring.score(_sites(), {"lines": lines}, crit), "line").iloc[0]
    assert row["raw_value"] == pytest.approx(2.0)
    assert row["score"] == pytest.approx(0.5)
    assert row["band"] == "≤ 1 km → 1.0, ≥ 3 km → 0.0"


# --------------------------------------------------------------------------- redistribution


@pytest.fixture
def two_group_criteria():
    """Group a (0.6): a1 (weight 3, layer L1) and a2 (weight 1, layer L2); group b (0.4): b1 (1, layer L3) and
    b2 (1, field status)."""
    return _criteria([_dist("a1", "a", "L1", 3), _dist("a2", "a", "L2", 1), _dist("b1", "b", "L3", 1),
                      _attr("b2", "b", "status", 1, mapping={"existing": 1.0, "planned": 0.5, "none": 0.0})])


@pytest.fixture
def near_layer():
    """One point 2.5 km east of the first site's east edge (raw 2,500 m on every distance criterion)."""
    return _points([(X0 + 3_500, Y0 + 500)])


def test_all_assessed_weights(two_group_criteria, near_layer):
    layers = {k: near_layer for k in ("L1", "L2", "L3")}
    res = scoring.score(_sites(status=["planned"]), layers, two_group_criteria)
    b = res.breakdown.set_index("criterion")
    assert b.loc[["a1", "a2", "b1", "b2"], "weight"].tolist() == pytest.approx([45.0, 15.0, 20.0, 20.0])
    assert not res.scores.loc["s0", "flagged"]


def test_missing_layer_renormalises_within_group(two_group_criteria, near_layer):
    layers = {"L1": near_layer, "L3": near_layer}
    res = scoring.score(_sites(status=["planned"]), layers, two_group_criteria,
                        catalog_meta={"L2": {"missing": "not in the mirror"}})
    b = res.breakdown.set_index("criterion")
    assert b.loc[["a1", "a2", "b1", "b2"], "weight"].tolist() == pytest.approx([60.0, 0.0, 20.0, 20.0])
    assert b.loc["a2", "note"] == "layer L2 not available (not in the mirror)"
    assert not b.loc["a2", "assessed"] and np.isnan(b.loc["a2", "score"])
    assert res.scores.loc["s0", "not_assessed"] == "a2"
    assert res.scores.loc["s0", "flagged"]


def test_whole_group_missing_gives_weight_to_other_groups(two_group_criteria, near_layer):
    layers = {"L1": near_layer, "L2": near_layer}
    sites = _sites(n=2, status=[None, ""])  # the field exists but neither site states it
    res = scoring.score(sites, layers, two_group_criteria)
    b = res.breakdown.loc[res.breakdown["application_id"] == "s0"].set_index("criterion")
    assert b.loc[["a1", "a2", "b1", "b2"], "weight"].tolist() == pytest.approx([75.0, 25.0, 0.0, 0.0])
    assert b.loc["b2", "note"] == "the submission does not state status"
    assert np.isnan(res.scores.loc["s0", "score_b"])
    assert res.scores.loc["s0", "not_assessed"] == "b1, b2"


def test_nothing_assessed_is_nan_not_zero():
    crit = _criteria([_dist("a1", "a", "L1", 1), _dist("b1", "b", "L2", 1)])
    res = scoring.score(_sites(), {}, crit)
    assert np.isnan(res.scores.loc["s0", "score_total"])
    assert res.breakdown["weight"].tolist() == [0.0, 0.0]


def test_contributions_sum_to_total_for_every_candidate():
    """Five sites at various distances, one attribute stated by some, a bonus that caps one total at 100."""
    crit = _criteria([_dist("a1", "a", "L1", 3), _dist("a2", "a", "L2", 1), _dist("b1", "b", "L1", 1),
                      _attr("b2", "b", "status", 1, mapping={"existing": 1.0, "planned": 0.5, "none": 0.0})],
                     bonus=[{"id": "ep", "title": "energy park", "points": 5, "layer": "EP",
                             "within_m": 1000}])
    sites = _sites(n=5, status=["existing", "planned", None, "none", "existing"])
    pts = _points([(X0 + 10_000 * i + 500, Y0 + 500 + 4_000 * i) for i in range(5)])
    layers = {"L1": pts, "L2": pts.iloc[[0, 4]], "EP": _points([(X0, Y0)])}
    res = scoring.score(sites, layers, crit)
    summed = res.breakdown.groupby("application_id")["contribution"].sum()
    total = res.scores["score_total"].to_numpy()
    assert summed.reindex(res.scores.index).to_numpy() == pytest.approx(total, abs=1e-9)
    assert res.scores.loc["s0", "score_total"] == 100.0  # 100 points + 5 bonus, capped
    b = res.breakdown
    bonus_row = b.loc[(b["application_id"] == "s0") & (b["group"] == "bonus")]
    assert bonus_row["contribution"].item() == 0.0
    assert bonus_row["note"].item() == "total capped at 100: 0 of 5 points applied"
    assert res.scores.loc["s0", "bonus_points"] == 5.0
    weights = res.breakdown.loc[res.breakdown["group"] != "bonus"].groupby("application_id")["weight"].sum()
    assert weights.to_numpy() == pytest.approx(np.full(5, 100.0))
    assert list(res.breakdown.columns) == list(scoring.BREAKDOWN_COLUMNS)


# --------------------------------------------------------------------------- attributes


@pytest.mark.parametrize(
    ("value", "expected", "note"),
    [
        ("existing", 1.0, ""),
        ("Planned ", 0.5, ""),   # case and blanks do not matter
        ("none", 0.0, ""),
        (None, np.nan, "the submission does not state status"),
        ("", np.nan, "the submission does not state status"),
        ("soon", np.nan, "value 'soon' of status is not one of ['existing', 'planned', 'none']"),
    ],
)
def test_attribute_mapping(value, expected, note):
    crit = _criteria([_attr("x", "a", "status", 1, mapping={"existing": 1.0, "planned": 0.5, "none": 0.0}),
                      _attr("y", "b", "other", 1, mapping={"present": 1.0})])
    row = _rows(scoring.score(_sites(status=[value], other=["x"]), {}, crit), "x").iloc[0]
    assert row["score"] == pytest.approx(expected, nan_ok=True)
    assert row["note"] == note
    assert row["assessed"] == (not np.isnan(expected))
    assert row["method"] == ("declared by municipality" if row["assessed"] else "")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2025-03-12", 1.0), (None, 0.0), ("", 0.0)],  # present -> 1; a stated-empty field is 'absent' -> 0
)
def test_attribute_present_absent(value, expected):
    crit = _criteria([_attr("kb", "a", "kb_decision_date", 1, mapping={"present": 1.0, "absent": 0.0}),
                      _attr("y", "b", "other", 1, mapping={"present": 1.0})])
    row = _rows(scoring.score(_sites(kb_decision_date=[value], other=["x"]), {}, crit), "kb").iloc[0]
    assert row["assessed"]
    assert row["score"] == expected


def test_attribute_column_absent_is_not_assessed_even_with_absent_key():
    crit = _criteria([_attr("kb", "a", "kb_decision_date", 1, mapping={"present": 1.0, "absent": 0.0}),
                      _attr("y", "b", "other", 1, mapping={"present": 1.0})])
    row = _rows(scoring.score(_sites(other=["x"]), {}, crit), "kb").iloc[0]
    assert not row["assessed"]
    assert row["note"] == "the submission does not state kb_decision_date"


@pytest.mark.parametrize(("value", "expected"), [(0, 0.0), (2.5, 0.5), (5, 1.0), (12, 1.0), ("many", np.nan)])
def test_attribute_band(value, expected):
    crit = _criteria([_attr("loi", "a", "business_loi_count", 1, band=((0, 0.0), (5, 1.0))),
                      _attr("y", "b", "other", 1, mapping={"present": 1.0})])
    sites = _sites(business_loi_count=pd.Series([value], dtype=object), other=["x"])
    row = _rows(scoring.score(sites, {}, crit), "loi").iloc[0]
    assert row["score"] == pytest.approx(expected, nan_ok=True)


# --------------------------------------------------------------------------- bonus


@pytest.mark.parametrize(
    ("layer_dx", "declared", "expected_points", "assessed"),
    [
        (1_800, None, 5.0, True),    # 800 m from the site: within 1,000 m
        (2_500, None, 0.0, True),    # 1,500 m away
        (2_500, "true", 5.0, True),  # far from the layer but declared adjacent
        (None, None, 0.0, False),    # neither layer nor a stated field: not assessed
        (None, False, 0.0, True),    # no layer, declared false
    ],
)
def test_bonus(layer_dx, declared, expected_points, assessed):
    crit = _criteria([_dist("a1", "a", "L1", 1)], groups=[{"id": "a", "title": "A", "weight": 1}],
                     bonus=[{"id": "ep", "title": "energy park", "points": 5, "layer": "EP", "within_m": 1000,
                             "field": "energy_park_adjacent"}])
    layers = {"L1": _points([(X0 + 20_000, Y0)])}
    if layer_dx is not None:
        layers["EP"] = _points([(X0 + layer_dx, Y0 + 500)])
    res = scoring.score(_sites(energy_park_adjacent=pd.Series([declared], dtype=object)), layers, crit)
    row = _rows(res, "ep").iloc[0]
    assert res.scores.loc["s0", "bonus_points"] == expected_points
    assert row["assessed"] == assessed
    if not assessed:
        assert row["note"] == "layer EP not available; the submission does not state energy_park_adjacent"
        assert "ep" in res.scores.loc["s0", "not_assessed"]


# --------------------------------------------------------------------------- travel


def _travel_criteria():
    return _criteria([
        {"id": "mw", "group": "a", "title": "motorway", "measure": "travel_time", "layer": "junctions",
         "unit": "min", "declared_field": "transport_motorway_km", "declared_unit": "km", "weight": 1,
         "band": {"points": [[5, 1.0], [30, 0.0]]}},
        {"id": "pop", "group": "b", "title": "pop", "measure": "reach_sum", "layer": "towns",
         "unit": "persons", "value_column": "population", "within_min": 30, "weight": 1,
         "band": {"points": [[0, 0.0], [1000, 1.0]]}},
    ])


def test_travel_fallback_in_explanations():
    towns = _points([(X0 + 1_000 + 23_000, Y0), (X0 + 1_000 + 23_100, Y0)], population=[600, 400])
    junctions = _points([(X0 + 3_500, Y0 + 500)])  # 2,500 m from the site -> 3,250 m at 60 km/h = 3.25 min
    res = scoring.score(_sites(), {"towns": towns, "junctions": junctions}, _travel_criteria())
    mw, pop = _rows(res, "mw").iloc[0], _rows(res, "pop").iloc[0]
    assert mw["raw_value"] == pytest.approx(3.25)
    assert pop["raw_value"] == pytest.approx(600.0)
    for row in (mw, pop):
        assert row["method"] == "straight line × 1.3 at 60 km/h (no road layer)"


def test_travel_on_road_graph():
    """A trunk road of 11 km at 110 km/h = 6 min from the exit (on its far node) to the node inside the site;
    the town at the same node is 6 min away too. The method names the network and the access leg."""
    trunk = LineString([(X0 + 500, Y0 + 500), (X0 + 11_500, Y0 + 500)])
    roads = gpd.GeoDataFrame({"road_class": ["trunk"], "maxspeed_kph": [110]}, geometry=[trunk], crs=25832)
    towns = _points([(X0 + 11_500, Y0 + 500)], population=[700])
    junctions = _points([(X0 + 11_500, Y0 + 500)], ref=["57"])
    layers = {"roads": roads, "towns": towns, "junctions": junctions}
    res = scoring.score(_sites(), layers, _travel_criteria())
    mw, pop = _rows(res, "mw").iloc[0], _rows(res, "pop").iloc[0]
    assert mw["raw_value"] == pytest.approx(6.0)
    assert mw["score"] == pytest.approx(24 / 25)
    assert pop["raw_value"] == 700.0
    assert mw["method"] == pop["method"] == "road network, OSM, + 0.0 km access leg"


@pytest.mark.parametrize(
    ("km", "assessed", "raw", "method"),
    [
        (2.5, True, 2.5, "declared by municipality: 2.5 km road distance at 60 km/h"),
        (None, False, None, ""),
    ],
)
def test_declared_motorway_distance(km, assessed, raw, method):
    res = scoring.score(_sites(transport_motorway_km=[km]), {"towns": _points([(X0, Y0)], population=[1])},
                        _travel_criteria(), catalog_meta={"junctions": {"missing": "not in the mirror"}})
    row = _rows(res, "mw").iloc[0]
    assert row["assessed"] == assessed
    if assessed:
        assert row["raw_value"] == pytest.approx(raw)
        assert row["method"] == method
    else:
        assert row["note"] == ("layer junctions not available (not in the mirror) and the submission "
                               "does not state transport_motorway_km")


# --------------------------------------------------------------------------- errors


def test_candidates_in_other_crs():
    sites = gpd.GeoDataFrame({"application_id": ["x"]}, geometry=[box(9.5, 56.1, 9.51, 56.11)], crs=4326)
    with pytest.raises(CRSError, match="EPSG:4326"):
        scoring.score(sites, {}, _criteria([_dist("a1", "a", "L1", 1)]))


def test_duplicate_application_ids():
    sites = pd.concat([_sites(), _sites()])
    with pytest.raises(SubmissionError, match="occur more than once"):
        scoring.score(sites, {}, _criteria([_dist("a1", "a", "L1", 1)]))


def test_distance_unit_must_be_metric():
    with pytest.raises(ConfigError, match="criterion a1: unit 'min'"):
        scoring.score(_sites(), {}, _criteria([{**_dist("a1", "a", "L1", 1), "unit": "min"}]))


# --------------------------------------------------------------------------- real layers


@pytest.mark.mirror
def test_mirror_applications_2025(mirror_root):
    """The 15 approximate 2025 applications on the mirrored layers: travel criteria on the road network."""
    from screening import catalog
    from screening.config import load_catalog, load_criteria, settings_from_env

    settings = settings_from_env(mirror_root=mirror_root, online=False)
    cat = load_catalog()
    crit = load_criteria(catalog=cat)
    used = sorted({c.layer for c in crit.criteria if c.layer} | {b.layer for b in crit.bonus if b.layer}
                  | {crit.travel.road_layer})
    layer_set = catalog.load_layers(used, catalog=cat, settings=settings)
    sites = gpd.read_file(mirror_root / "submissions" / "applications_2025_approx.gpkg")
    res = scoring.score(sites, layer_set.layers, crit,
                        catalog_meta={k: {"missing": "not in the mirror"} for k in layer_set.missing})
    scores, b = res.scores, res.breakdown
    assert len(scores) == 15
    assert scores["score_total"].notna().all()
    assert scores["score_total"].between(0, 100).all()
    summed = b.groupby("application_id")["contribution"].sum().reindex(scores.index)
    assert summed.to_numpy() == pytest.approx(scores["score_total"].to_numpy(), abs=1e-9)
    mw = b.loc[b["criterion"] == "motorway_access"]
    assert mw["assessed"].all() and mw["nearest"].str.startswith("afkørsel").all()
    assert mw["source"].str.contains("© OpenStreetMap contributors").all()
    labour = b.loc[(b["group"] == "labour") & b["assessed"]]
    assert set(labour["criterion"]) == {"population_30min", "population_45min", "education_30min"}
    assert pd.concat([mw, labour])["method"].str.fullmatch(
        r"road network, OSM 2023-03-21(, \+ \d+\.\d km access leg"
        r"|: direct, \d+\.\d km straight line × 1.3 at 50 km/h \(local roads\))").all()
    assert scores["flagged"].all()


def test_any_index_and_order_of_candidates():
    """Scores follow application_id, not the frame index: a shuffled, non-range index gives the same."""
    crit = _criteria([_dist("a1", "a", "L1", 1), _attr("b2", "b", "status", 1, mapping={"existing": 1.0})])
    layers = {"L1": _points([(X0 + 3_500, Y0 + 500)])}
    sites = _sites(n=3, status=["existing", None, "existing"])
    plain = scoring.score(sites, layers, crit)
    shuffled = scoring.score(sites.iloc[[2, 0, 1]].set_axis([70, 10, 40]), layers, crit)
    pd.testing.assert_frame_equal(plain.scores, shuffled.scores.loc[plain.scores.index])


def test_no_candidates():
    crit = _criteria([_dist("a1", "a", "L1", 1), _dist("b1", "b", "L1", 1)])
    res = scoring.score(_sites(n=0), {"L1": _points([(X0, Y0)])}, crit)
    assert res.scores.empty and res.breakdown.empty
    assert list(res.breakdown.columns) == list(scoring.BREAKDOWN_COLUMNS)


def test_negative_declared_distance_is_not_assessed():
    res = scoring.score(_sites(transport_motorway_km=[-1.0]), {"towns": _points([(X0, Y0)], population=[1])},
                        _travel_criteria())
    row = _rows(res, "mw").iloc[0]
    assert not row["assessed"]
    assert row["note"].endswith("the declared transport_motorway_km is negative")

"""Travel minutes: a synthetic road network with known minutes, snapping, and the straight-line fallback."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, box

from screening import travel
from screening.config import Travel
from screening.errors import CRSError, LayerDataError

X0, Y0 = 550_000, 6_200_000  # round EPSG:25832 coordinates (metres) inside Denmark

TRAVEL = Travel(speeds_kmh={"motorway": 110, "primary": 70, "secondary": 60, "tertiary": 50,
                            "unclassified": 40, "residential": 30},
                default_speed_kmh=30, detour_factor=1.3, fallback_speed_kmh=60, access_snap_max_m=5000)

# Nodes of the network (EPSG:25832 metres) and the minutes from A, known by construction:
A = (X0, Y0)                  # 0 min
M = (X0 + 5_500, Y0)          # 3 min: 5.5 km motorway at 110 km/h (an interior vertex of the A-B line)
B = (X0 + 11_000, Y0)         # 6 min: 11 km motorway at 110 km/h
C = (X0 + 11_000, Y0 + 7_000)  # 12 min: B + 7 km primary at 70 km/h (6 min)
D = (X0, Y0 + 3_000)          # 6 min: 3 km residential at 30 km/h
E = (X0 + 11_000, Y0 + 11_000)  # 18 min: C + 4 km unclassified at 40 km/h (6 min)
F = (X0 + 5_500, Y0 + 5_000)  # 9 min: M + 5 km tertiary at 50 km/h (6 min)


@pytest.fixture
def roads():
    """Seven-node road network; A-M-B is ONE motorway line whose interior vertex M is a junction with M-F;
    D-C is a slow detour (11.7 km secondary, 11.7 min) never on a shortest path; two far-away lines form a
    separate component that nothing may snap to. EPSG:25832."""
    lines = [
        (LineString([A, M, B]), "motorway"),
        (LineString([B, C]), "primary"),
        (LineString([A, D]), "residential"),
        (LineString([D, C]), "secondary"),
        (LineString([C, E]), "unclassified"),
        (LineString([M, F]), "tertiary"),
        (LineString([(X0 + 60_000, Y0), (X0 + 61_000, Y0)]), "track"),  # island, default speed
        (LineString([(X0 + 61_000, Y0), (X0 + 61_000, Y0 + 500)]), "track"),
    ]
    return gpd.GeoDataFrame({"road_class": [c for _, c in lines]}, geometry=[g for g, _ in lines], crs=25832)


@pytest.fixture
def network(roads):
    """The road graph built from `roads`."""
    return travel.build_network(roads, TRAVEL)


def _sites(*geoms):
    return gpd.GeoSeries(list(geoms), crs=25832)


def _points(*xy):
    return gpd.GeoSeries([Point(p) for p in xy], crs=25832)


def test_graph_nodes_edges_and_minutes(network):
    g = network.graph
    assert g.number_of_nodes() == 7 + 3
    assert g.number_of_edges() == 7 + 2  # A-M and M-B are separate edges: M is shared with M-F
    node = {tuple(network.node_xy[k]): k for k in g.nodes}
    assert g[node[A]][node[M]]["minutes"] == pytest.approx(3.0, abs=1e-12)
    assert g[node[M]][node[B]]["minutes"] == pytest.approx(3.0, abs=1e-12)
    assert g[node[B]][node[C]]["minutes"] == pytest.approx(6.0, abs=1e-12)
    assert g[node[A]][node[D]]["minutes"] == pytest.approx(6.0, abs=1e-12)
    assert sorted(network.snap_nodes.tolist()) == sorted(node[p] for p in (A, M, B, C, D, E, F))


def test_parallel_edges_keep_the_fastest():
    roads = gpd.GeoDataFrame({"road_class": ["residential", "motorway"]},
                             geometry=[LineString([A, B]), LineString([A, B])], crs=25832)
    net = travel.build_network(roads, TRAVEL)
    assert [d["minutes"] for *_, d in net.graph.edges(data=True)] == pytest.approx([6.0])


@pytest.mark.parametrize(
    ("site", "expected_min", "expected_target"),
    [
        (box(X0 - 500, Y0 - 500, X0 + 500, Y0 + 500), 6.0, 0),    # A inside the site: B is 6 min away
        (box(X0 - 2_000, Y0 - 500, X0 - 1_000, Y0 + 500), 8.0, 0),  # 1 km access leg at 30 km/h = 2 min
        (box(X0 + 10_500, Y0 + 10_500, X0 + 11_500, Y0 + 11_500), 0.0, 1),  # E inside the site, E a target
        (box(X0 + 5_000, Y0 + 4_500, X0 + 6_000, Y0 + 5_500), 9.0, 0),  # F: 6 + 3 min to B over M
    ],
)
def test_nearest_minutes_on_the_graph(network, site, expected_min, expected_target):
    acc = travel.access(_sites(site), travel=TRAVEL, network=network)
    got = travel.nearest_minutes(acc, _points(B, E))
    assert got.loc[0, "travel_min"] == pytest.approx(expected_min, abs=1e-9)
    assert got.loc[0, "target"] == expected_target
    assert got.loc[0, "method"] == "road graph"


def test_nearest_leaves_the_graph_unchanged(network):
    before = (network.graph.number_of_nodes(), network.graph.number_of_edges())
    acc = travel.access(_sites(box(X0 - 500, Y0 - 500, X0 + 500, Y0 + 500)), travel=TRAVEL, network=network)
    travel.nearest_minutes(acc, _points(B))
    assert (network.graph.number_of_nodes(), network.graph.number_of_edges()) == before


@pytest.mark.parametrize(
    ("within_min", "expected_sum", "expected_count"),
    [
        (5.0, 0.0, 0),        # nothing within 5 min of A
        (6.0, 1_000.0, 1),    # B at exactly 6 min counts (inclusive)
        (10.0, 5_000.0, 2),   # + F at 9 min
        (12.0, 7_000.0, 3),   # + C at exactly 12 min
        (20.0, 15_000.0, 4),  # + E at 18 min
    ],
)
def test_reach_within_cutoff(network, within_min, expected_sum, expected_count):
    towns = gpd.GeoDataFrame({"population": [1_000, 2_000, 4_000, 8_000]},
                             geometry=[Point(B), Point(C), Point(F), Point(E)], crs=25832)
    acc = travel.access(_sites(box(X0 - 500, Y0 - 500, X0 + 500, Y0 + 500)), travel=TRAVEL, network=network,
                        cutoff_min=20.0)
    got = travel.reach(acc, towns, within_min, values=towns["population"])
    assert got.loc[0, "reach_sum"] == pytest.approx(expected_sum)
    assert got.loc[0, "reach_count"] == expected_count
    assert got.loc[0, "method"] == "road graph"


def test_reach_beyond_cutoff_refused(network):
    acc = travel.access(_sites(box(X0 - 500, Y0 - 500, X0 + 500, Y0 + 500)), travel=TRAVEL, network=network,
                        cutoff_min=10.0)
    with pytest.raises(ValueError, match="cutoff_min=10.0"):
        travel.reach(acc, _points(B), 30.0)


def test_site_beyond_snap_radius_uses_fallback(network):
    far = box(X0 - 10_500, Y0 - 500, X0 - 9_500, Y0 + 500)  # 9.5 km west of A: beyond 5,000 m
    acc = travel.access(_sites(far), travel=TRAVEL, network=network)
    got = travel.nearest_minutes(acc, _points(A))
    assert got.loc[0, "method"] == ("straight line × 1.3 at 60 km/h "
                                    "(site more than 5,000 m from the road graph)")
    assert got.loc[0, "travel_min"] == pytest.approx(9_500 * 1.3 / 1000)  # 60 km/h = 1 km/min


@pytest.mark.parametrize(
    ("dx", "expected_min"),
    [
        (0, 0.0),          # target inside the site
        (500, 0.0),        # target on the site boundary
        (3_000, 3.25),     # 2,500 m straight x 1.3 = 3,250 m at 60 km/h
    ],
)
def test_fallback_nearest_minutes(dx, expected_min):
    acc = travel.access(_sites(box(X0 - 500, Y0 - 500, X0 + 500, Y0 + 500)), travel=TRAVEL)
    got = travel.nearest_minutes(acc, _points((X0 + dx, Y0)))
    assert got.loc[0, "travel_min"] == pytest.approx(expected_min, abs=1e-9)
    assert got.loc[0, "method"] == "straight line × 1.3 at 60 km/h (no road layer)"


def test_fallback_reach_radius():
    """30 min at 60 km/h over a detour of 1.3: straight-line reach 30,000 / 1.3 = 23,076.9 m from the edge."""
    acc = travel.access(_sites(box(X0 - 500, Y0 - 500, X0 + 500, Y0 + 500)), travel=TRAVEL)
    towns = gpd.GeoDataFrame({"population": [100, 200, np.nan]},
                             geometry=[Point(X0 + 500 + 23_000, Y0), Point(X0 + 500 + 23_100, Y0),
                                       Point(X0, Y0)], crs=25832)
    got = travel.reach(acc, towns, 30.0, values=towns["population"])
    assert got.loc[0, "reach_sum"] == pytest.approx(100.0)  # the NaN population counts as 0
    assert got.loc[0, "reach_count"] == 2


def test_fallback_method_text():
    assert travel.fallback_method(TRAVEL) == "straight line × 1.3 at 60 km/h (no road layer)"


def test_roads_without_class_column():
    roads = gpd.GeoDataFrame({"kind": ["motorway"]}, geometry=[LineString([A, B])], crs=25832)
    with pytest.raises(LayerDataError, match="road_class"):
        travel.build_network(roads, TRAVEL)


def test_roads_in_other_crs():
    roads = gpd.GeoDataFrame({"road_class": ["motorway"]}, geometry=[LineString([(9.5, 56.1), (9.6, 56.1)])],
                             crs=4326)
    with pytest.raises(CRSError, match="EPSG:4326"):
        travel.build_network(roads, TRAVEL)


SQUARE = box(X0, Y0, X0 + 1_000, Y0 + 1_000)  # a 1 km square site


@pytest.mark.parametrize(
    ("site", "features", "expected_m", "expected_pos"),
    [
        (SQUARE, [Point(X0 + 3_500, Y0 + 500), Point(X0, Y0 + 9_000)], 2_500.0, 0),  # 3 km east of the centre
        (SQUARE, [LineString([(X0 + 500, Y0 - 10), (X0 + 500, Y0 - 4_000)])], 10.0, 0),  # a line 10 m south
        (SQUARE, [Point(X0 + 9_000, Y0), Point(X0 + 500, Y0 + 500)], 0.0, 1),  # the second point is inside
        (SQUARE, [], np.nan, -1),                                             # no features
        (Point(X0, Y0).buffer(-1), [Point(X0, Y0)], np.nan, -1),              # empty site
    ],
)
def test_nearest_distance(site, features, expected_m, expected_pos):
    dist, pos = travel.nearest_distance([site], features)
    assert dist[0] == pytest.approx(expected_m, nan_ok=True)
    assert pos[0] == expected_pos


def test_nearest_distance_to_long_lines_is_exact_and_names_the_line():
    """Long lines are split into segments inside nearest_distance; the answer must equal GEOS's distance
    to the whole line and name the right feature (EPSG:25832 metres)."""
    import numpy as np
    import shapely

    from screening.travel import nearest_distance

    zigzag = shapely.LineString([(i * 1000.0, (i % 2) * 1000.0) for i in range(40)])  # 40 vertices
    far = shapely.MultiLineString([[(0, 9000), (39_000, 9000)], [(0, 9500), (5000, 9500)]])
    point = shapely.Point(20_000, -3000)
    sites = np.array([shapely.box(x, 2000, x + 500, 2500) for x in range(0, 40_000, 3700)]
                     + [shapely.box(19_800, -3500, 20_100, -3400)])
    feats = np.array([far, zigzag, point], dtype=object)
    dist, which = nearest_distance(sites, feats)
    naive = np.array([[s.distance(f) for f in feats] for s in sites])
    np.testing.assert_allclose(dist, naive.min(axis=1), atol=1e-9)
    assert (naive[np.arange(len(sites)), which] == naive.min(axis=1)).all()
    assert which[-1] == 2 and dist[-1] == 400.0  # the point lies 400 m north of the last site

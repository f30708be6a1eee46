"""Travel minutes on synthetic road networks with answers known by construction, and the fallback.

Every network here is in EPSG:25832 around (X0, Y0). The test travel model drives primary roads at
60 km/h (1 km per minute), motorways at 120 km/h, ferries at 30 km/h with 20 minutes boarding, and access
legs (and direct legs between place and target) as straight lines (detour 1.0) at 6 km/h (10 minutes per
km), so every answer is exact.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, box

from screening import road_network, routing, travel
from screening.config import Travel
from screening.errors import CRSError, LayerDataError

X0, Y0 = 550_000, 6_200_000  # round EPSG:25832 coordinates (metres) inside Denmark

TRAVEL = Travel(speeds_kmh={"motorway": 120, "motorway_link": 60, "primary": 60, "trunk": 90},
                default_speed_kmh=30, detour_factor=1.3, fallback_speed_kmh=60, access_snap_max_m=50_000,
                access_k=1, access_speed_kmh=6, access_detour_factor=1.0, ferry_speed_kmh=30,
                ferry_boarding_min=20, ferry_snap_max_m=1_000, local_link_k=0)


def _xy(x, y):
    return (X0 + x, Y0 + y)


def _roads(*lines, **columns):
    """Road lines given as ((x, y) ..., class[, oneway[, junction]]) in metres from (X0, Y0)."""
    geoms = [LineString([_xy(*p) for p in line[0]]) for line in lines]
    data = {"road_class": [line[1] for line in lines],
            "oneway": [line[2] if len(line) > 2 else None for line in lines],
            "junction": [line[3] if len(line) > 3 else None for line in lines], **columns}
    return gpd.GeoDataFrame(data, geometry=geoms, crs=25832)


def _around(x, y, half=100):
    """A small square site around (x, y)."""
    return gpd.GeoSeries([box(X0 + x - half, Y0 + y - half, X0 + x + half, Y0 + y + half)], crs=25832)


def _points(*xy, **columns):
    return gpd.GeoDataFrame(columns, geometry=[Point(_xy(*p)) for p in xy], crs=25832)


def _node_minutes(net, a_xy, b_xy):
    """Minutes on the graph alone from the node at one point to the node at another (no access legs)."""
    from scipy.sparse.csgraph import dijkstra

    node = {tuple(np.round(xy - (X0, Y0))): i for i, xy in enumerate(net.node_xy)}
    return dijkstra(net.graph, indices=node[a_xy])[node[b_xy]]


def _minutes(net, target_xy, site_xy):
    """Minutes from a target point to a small site around another point (nearest_minutes)."""
    acc = travel.access(_around(*site_xy), travel=net.travel, network=net)
    return travel.nearest_minutes(acc, _points(target_xy)).loc[0, "travel_min"]


# --------------------------------------------------------------------------- one-way rules


A, B, C = (0, 0), (6_000, 0), (6_000, 8_000)  # A-B 6 km, B-C 8 km, C-A 10 km (1 km per minute)


@pytest.mark.parametrize(
    ("road_class", "oneway", "junction", "a_to_b", "b_to_a"),
    [
        ("primary", None, None, 6.0, 6.0),          # two-way
        ("primary", "yes", None, 6.0, 18.0),        # one-way: B to A goes round by C (8 + 10)
        ("primary", "-1", None, 18.0, 6.0),         # against the drawing direction
        ("primary", "F", None, 6.0, 18.0),          # Geofabrik F: with the drawing direction
        ("primary", "T", None, 18.0, 6.0),          # Geofabrik T: against it
        ("primary", "B", None, 6.0, 6.0),           # Geofabrik B: both
        ("primary", None, "roundabout", 6.0, 18.0),  # roundabouts are one-way
        ("motorway", None, None, 3.0, 18.0),        # motorways are one-way (120 km/h: 3 min)
        ("motorway", "no", None, 3.0, 3.0),         # ... unless oneway=no
        ("motorway_link", None, None, 6.0, 18.0),   # so are their links
    ],
)
def test_one_way_rules(road_class, oneway, junction, a_to_b, b_to_a):
    roads = _roads(([A, B], road_class, oneway, junction), ([B, C], "primary"), ([C, A], "primary"))
    net = road_network.build_network(roads, TRAVEL)
    assert _node_minutes(net, A, B) == pytest.approx(a_to_b, abs=1e-9)
    assert _node_minutes(net, B, A) == pytest.approx(b_to_a, abs=1e-9)


def test_maxspeed_and_speed_factor():
    """maxspeed_kph (80) beats the class speed; the class factor 0.75 makes 60 km/h: 6 km in 6 min."""
    roads = _roads(([A, B], "primary"), ([B, C], "primary"), maxspeed_kph=[80, 0])
    model = TRAVEL.model_copy(update={"speed_factors": {"primary": 0.75}})
    net = road_network.build_network(roads, model)
    assert _minutes(net, A, B) == pytest.approx(6.0, abs=1e-9)
    assert _minutes(net, B, C) == pytest.approx(8 / 45 * 60, abs=1e-9)  # 0 = unknown: 60 x 0.75 km/h


def test_parallel_edges_keep_the_fastest():
    roads = _roads(([A, B], "primary"), ([A, B], "motorway", "no"), ([B, C], "primary"))
    net = road_network.build_network(roads, TRAVEL)
    assert _node_minutes(net, A, B) == pytest.approx(3.0, abs=1e-9)


def test_lines_sharing_an_inner_vertex_meet_there():
    """A Geofabrik-style line A-M-B (not split at M) meets M-D: M is a node, D is 3 + 4 min from A."""
    m, d = (3_000, 0), (3_000, -4_000)
    roads = _roads(([A, m, B], "primary"), ([m, d], "primary"))
    net = road_network.build_network(roads, TRAVEL)
    assert net.n_nodes == 4
    assert _minutes(net, A, d) == pytest.approx(7.0, abs=1e-9)


# --------------------------------------------------------------------------- ferries


MAIN, MAIN2, MAIN3 = (0, 0), (0, -5_000), (-5_000, -5_000)
HARBOUR, ISLAND_HARBOUR = (500, 0), (10_500, 0)
I1, I2 = (11_000, 0), (15_000, 0)


@pytest.fixture
def ferry_net():
    """Mainland roads, a 10 km ferry whose ends lie 500 m from a road node on each side, an island road."""
    roads = _roads(([MAIN, MAIN2], "primary"), ([MAIN2, MAIN3], "primary"), ([HARBOUR, ISLAND_HARBOUR], "ferry"),
                   ([I1, I2], "primary"), name=["a", "b", "Testfærgen", "c"])
    return road_network.build_network(roads, TRAVEL)


@pytest.mark.parametrize(("target", "site"), [(MAIN, I2), (I2, MAIN)])
def test_ferry_crossing_time(ferry_net, target, site):
    """5 min connector (500 m) + 20 min boarding + 10 km at 30 km/h (20 min) + 5 min connector + 4 km road."""
    assert _minutes(ferry_net, target, site) == pytest.approx(54.0, abs=1e-9)


def test_island_site_method_names_the_ferry(ferry_net):
    acc = travel.access(_around(*I2), travel=TRAVEL, network=ferry_net)
    got = travel.nearest_minutes(acc, _points(MAIN))
    assert got.loc[0, "method"] == ("road network, OSM, + 0.0 km access leg; its roads reach the rest of "
                                    "Denmark only by ferry (Testfærgen)")


def test_ferry_end_beyond_snap_distance_stays_unjoined():
    roads = _roads(([MAIN, MAIN2], "primary"), ([(1_500, 0), ISLAND_HARBOUR], "ferry"), ([I1, I2], "primary"))
    net = road_network.build_network(roads, TRAVEL)
    assert np.isnan(_minutes(net, MAIN, I2))  # no ferry (1.5 km from a node); 15 km is beyond a direct leg
    far = road_network.build_network(roads, TRAVEL.model_copy(update={"direct_max_m": 20_000}))
    assert _minutes(far, MAIN, I2) == pytest.approx(149.0)  # direct legs up to 20 km: 14.9 km at 10 min/km


def test_route_reports_classes_ferries_and_legs(ferry_net):
    origin = routing.access(ferry_net, np.array([Point(_xy(-2_000, 0))]), role="depart")
    dest = routing.access(ferry_net, np.array([Point(_xy(15_000, 300))]), role="arrive")
    r = routing.route(ferry_net, origin, dest)
    assert r.minutes == pytest.approx(20.0 + 54.0 + 3.0, abs=1e-9)  # 2 km leg, the crossing, 0.3 km leg
    assert r.ferries == ("Testfærgen",)
    assert (r.origin_leg_m, r.destination_leg_m) == (2_000.0, 300.0)
    assert r.by_class.loc["ferry", "km"] == pytest.approx(10.0)
    assert r.by_class.loc["primary", "minutes"] == pytest.approx(4.0)


# --------------------------------------------------------------------------- access legs


def test_access_leg_and_fastest_of_k_nodes():
    """A site 100 m beside a motorway is not on it: motorway nodes are no access nodes. Legs at 30 km/h
    (2 min per km): through B (4.05 km, then 6 min from A) rather than straight to A (9.96 km)."""
    roads = _roads(([(0, 1_000), (20_000, 1_000)], "motorway", "no"), ([A, B], "primary"), ([B, C], "primary"))
    net = road_network.build_network(roads, TRAVEL.model_copy(update={"access_k": 3, "access_speed_kmh": 30}))
    site = gpd.GeoSeries([box(X0 + 9_900, Y0 + 1_100, X0 + 10_100, Y0 + 1_300)], crs=25832)
    acc = travel.access(site, travel=net.travel, network=net)
    got = travel.nearest_minutes(acc, _points(A))
    leg = np.hypot(9_900 - 6_000, 1_100)  # to B, the nearest access node
    assert got.loc[0, "travel_min"] == pytest.approx(6.0 + 2 * leg / 1000, abs=1e-9)
    assert got.loc[0, "method"] == f"road network, OSM, + {leg / 1000:.1f} km access leg"


@pytest.mark.parametrize(("k", "expected"), [(1, 30 + 93 + 39.0), (2, 30 + 49.0)])
def test_fastest_of_k_nodes_not_the_nearest(k, expected):
    """From Z, 30 km west of A: the node nearest to the site (3.9 km, 39 min) is 93 km beyond A by road;
    the second (A itself, 4.9 km, 49 min) wins once k = 2: the fastest of the k nearest, not the nearest."""
    roads = _roads(([(-30_000, 0), A], "primary"), ([A, (-1_000, 0)], "primary"),
                   ([(9_000, 0), (30_000, 0)], "primary"),
                   ([(-1_000, 0), (-1_000, 20_000), (30_000, 20_000), (30_000, 0)], "primary"))
    net = road_network.build_network(roads, TRAVEL.model_copy(update={"access_k": k}))
    assert _minutes(net, (-30_000, 0), (5_000, 0)) == pytest.approx(expected, abs=1e-9)


def test_target_on_a_node_enters_there():
    """An exit on a motorway node departs from that node (leg 0), although motorway nodes are no access nodes."""
    roads = _roads(([(-5_000, 0), A], "motorway"), ([A, B], "motorway"), ([B, C], "primary"))
    net = road_network.build_network(roads, TRAVEL)
    assert A not in [tuple(xy - (X0, Y0)) for xy in net.node_xy[net.access_nodes]]
    assert _minutes(net, A, C) == pytest.approx(3.0 + 8.0, abs=1e-9)  # not 6 km leg to B + 8


# --------------------------------------------------------------------------- catchments


@pytest.fixture
def line_30():
    """A primary road P0-P30 of exactly 30 km: 30.0 minutes end to end."""
    return road_network.build_network(_roads(([(0, 0), (30_000, 0)], "primary")), TRAVEL)


@pytest.mark.parametrize(
    ("within_min", "expected_sum", "expected_count"),
    [
        (30.0, 100 + 4, 2),    # the town on P30 at exactly 30.0 min counts; 1 m beyond it (30.01) does not
        (29.999, 4, 1),        # only the town 1 km north of P0 (a 10 min leg)
        (30.02, 100 + 10 + 4, 3),  # now the town 1 m beyond P30 too (0.01 min leg)
        (8.9, 0, 0),          # the north town's direct leg to the site is 900 m: 9 min
    ],
)
def test_catchment_boundary_at_exactly_30_min(line_30, within_min, expected_sum, expected_count):
    towns = _points((30_000, 0), (30_000, 1), (0, 1_000), population=[100, 10, 4])
    acc = travel.access(_around(0, 0), travel=TRAVEL, network=line_30)
    got = travel.reach(acc, towns, within_min, values=towns["population"], labels=["P30", "beyond", "north"])
    assert got.loc[0, "reach_sum"] == expected_sum
    assert got.loc[0, "reach_count"] == expected_count


def test_reach_names_the_largest_towns(line_30):
    towns = _points((30_000, 0), (0, 1_000), (0, 100), (0, 200), population=[100, 4, 50, 7])
    acc = travel.access(_around(0, 0), travel=TRAVEL, network=line_30)
    got = travel.reach(acc, towns, 30.0, values=towns["population"], labels=["P30", "north", "near", "near2"])
    assert got.loc[0, "counted"] == "P30, near, near2"
    assert travel.reach_text(got, "towns", 30.0) == ["4 of towns within 30 min: P30, near, near2, …"]


def test_catchment_by_groups_equals_catchment_by_place():
    """Cells grouped by their node tuple (as the surface does) count exactly what they count one by one."""
    rng = np.random.default_rng(7)
    net = _random_network(rng)
    cells = rng.uniform(0, 20_000, (3_000, 2))
    places = routing.access(net, np.array([Point(_xy(*p)) for p in cells]), role="arrive")
    values = rng.integers(1, 1000, 40).astype(float)
    order = np.argsort(places.node, axis=1)
    sorted_places = routing.Access(*(np.take_along_axis(a, order, 1) for a in (places.node, places.leg_m,
                                                                                places.leg_min)))
    block = (cells[:, 0] // 2_000).astype(np.int64) * 100 + (cells[:, 1] // 2_000).astype(np.int64)
    key = np.c_[block, sorted_places.node]
    _, groups = np.unique(key, axis=0, return_inverse=True)
    tgeoms = np.array([Point(_xy(*p)) for p in rng.uniform(0, 20_000, (40, 2))])
    targets = routing.access(net, tgeoms, role="depart")
    times = routing.target_times(net, targets, 25.0)
    direct = routing.direct_for(net, tgeoms, place_xy=cells + (X0, Y0))
    for d in (None, direct):  # without and with direct legs
        one = routing.catchment(times, values, sorted_places, 20.0, direct=d)
        grouped = routing.catchment(times, values, sorted_places, 20.0, groups=groups.ravel(), direct=d)
        np.testing.assert_array_equal(one[0], grouped[0])
        np.testing.assert_array_equal(one[1], grouped[1])
    assert groups.max() < cells.shape[0] - 100  # groups do hold several cells


# --------------------------------------------------------------------------- the networkx reference


def _random_network(rng, n=8, step=2_500.0):
    """An n x n grid of primary roads, some one-way, some trunk, plus a ferry and a motorway with an exit."""
    lines = []
    for i in range(n):  # a few dozen synthetic lines
        for j in range(n):
            x, y = i * step + rng.uniform(-300, 300), j * step + rng.uniform(-300, 300)
            if i + 1 < n:
                lines.append(([(i * step, j * step), ((i + 1) * step, j * step)],
                              rng.choice(["primary", "trunk"]), rng.choice([None, None, "yes", "-1"])))
            if j + 1 < n:
                lines.append(([(i * step, j * step), (x, y), (i * step, (j + 1) * step)], "primary",
                              rng.choice([None, None, None, "yes"])))
    lines.append(([(-500, 0), (-500, n * step)], "motorway"))
    lines.append(([(-500, 0), (0, 0)], "motorway_link"))
    lines.append(([(n * step - step + 300, 0), (n * step + 6_000, 0)], "ferry"))
    lines.append(([(n * step + 6_500, 0), (n * step + 9_000, 0)], "primary"))
    return road_network.build_network(_roads(*lines), TRAVEL.model_copy(update={"access_k": 3, "local_link_k": 2}))


def _nx_reference(net, sites: routing.Access, targets: routing.Access, within_min: float, direct):
    """Per site, a networkx Dijkstra on the reversed graph from the site over its legs, or the direct leg
    (shapely distance): nearest minutes, and the targets within `within_min` (the naive method)."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_weighted_edges_from(zip(net.edges["v"], net.edges["u"], net.edges["minutes"], strict=True))
    nearest, reach = [], []
    for i in range(sites.n):  # one Dijkstra per site: the reference, not the method
        ok = sites.node[i] >= 0
        g.add_weighted_edges_from(("site", int(j), float(w)) for j, w in zip(sites.node[i][ok], sites.leg_min[i][ok],
                                                                           strict=True))
        dist = nx.single_source_dijkstra_path_length(g, "site", weight="weight")
        g.remove_node("site")
        tau = np.array([min((dist.get(int(j), np.inf) + w for j, w in zip(targets.node[t], targets.leg_min[t],
                                                                           strict=True) if j >= 0), default=np.inf)
                        for t in range(targets.n)])
        straight = np.array([direct.place_geoms[i].distance(g) for g in direct.target_geoms]) * direct.min_per_m
        tau = np.minimum(tau, straight)
        nearest.append(tau.min())
        reach.append(tau <= within_min + routing.EPS_MIN)
    return np.array(nearest), np.array(reach)


def test_same_answers_as_networkx():
    """Multi-source scipy Dijkstra and the exact catchment equal a per-site networkx Dijkstra to 1e-9 min."""
    rng = np.random.default_rng(2025)
    net = _random_network(rng)
    site_geoms = np.array([box(X0 + x, Y0 + y, X0 + x + 400, Y0 + y + 300)
                           for x, y in rng.uniform(-1_000, 27_000, (60, 2))] + [Point(_xy(26_500, 0))])
    sites = routing.access(net, site_geoms, role="arrive")
    tgeoms = np.array([Point(_xy(*p)) for p in rng.uniform(0, 20_000, (25, 2))])
    targets = routing.access(net, tgeoms, role="depart", on_node=True)
    direct = routing.direct_for(net, tgeoms, place_geoms=site_geoms)
    ref_nearest, ref_reach = _nx_reference(net, sites, targets, 15.0, direct)
    minutes, _, slot, _ = routing.nearest_with_direct(routing.nearest_times(net, targets), sites, direct)
    np.testing.assert_allclose(minutes, ref_nearest, atol=1e-9, rtol=0)
    assert 0 < (slot < 0).sum() < slot.size  # some sites nearer by the direct leg, most by the network
    values = rng.integers(1, 100, targets.n).astype(float)
    sums, counts = routing.catchment(routing.target_times(net, targets, 15.0), values, sites, 15.0, direct=direct)
    np.testing.assert_array_equal(counts, ref_reach.sum(axis=1))
    np.testing.assert_allclose(sums, ref_reach @ values, atol=1e-9)
    assert np.isfinite(minutes[-1]) and 0 < counts.sum() < counts.size * targets.n  # the island is reached


# --------------------------------------------------------------------------- errors, labels, fallback


def test_roads_without_class_column():
    roads = gpd.GeoDataFrame({"kind": ["motorway"]}, geometry=[LineString([_xy(*A), _xy(*B)])], crs=25832)
    with pytest.raises(LayerDataError, match="road_class"):
        road_network.build_network(roads, TRAVEL)


def test_roads_in_other_crs():
    roads = gpd.GeoDataFrame({"road_class": ["motorway"]}, geometry=[LineString([(9.5, 56.1), (9.6, 56.1)])],
                             crs=4326)
    with pytest.raises(CRSError, match="EPSG:4326"):
        road_network.build_network(roads, TRAVEL)


def test_template_labels():
    exits = _points(A, B, C, ref=["56", None, "12"], name=["Horsens V", None, None])
    assert travel.template_labels(exits, "afkørsel {ref} {name}").tolist() == [
        "afkørsel 56 Horsens V", "afkørsel (unnamed)", "afkørsel 12"]


FALLBACK = TRAVEL.model_copy(update={"access_snap_max_m": 5_000})


@pytest.mark.parametrize(
    ("dx", "expected_min"),
    [
        (0, 0.0),          # target inside the site
        (500, 0.0),        # target on the site boundary
        (3_000, 3.25),     # 2,500 m straight x 1.3 = 3,250 m at 60 km/h
    ],
)
def test_fallback_nearest_minutes(dx, expected_min):
    acc = travel.access(gpd.GeoSeries([box(X0 - 500, Y0 - 500, X0 + 500, Y0 + 500)], crs=25832), travel=FALLBACK)
    got = travel.nearest_minutes(acc, _points((dx, 0)))
    assert got.loc[0, "travel_min"] == pytest.approx(expected_min, abs=1e-9)
    assert got.loc[0, "method"] == "straight line × 1.3 at 60 km/h (no road layer)"


def test_fallback_reach_radius():
    """30 min at 60 km/h over a detour of 1.3: straight-line reach 30,000 / 1.3 = 23,076.9 m from the edge."""
    acc = travel.access(gpd.GeoSeries([box(X0 - 500, Y0 - 500, X0 + 500, Y0 + 500)], crs=25832), travel=FALLBACK)
    towns = _points((500 + 23_000, 0), (500 + 23_100, 0), (0, 0), population=[100, 200, np.nan])
    got = travel.reach(acc, towns, 30.0, values=towns["population"])
    assert got.loc[0, "reach_sum"] == pytest.approx(100.0)  # the NaN population counts as 0
    assert got.loc[0, "reach_count"] == 2


def test_fallback_method_text():
    assert travel.fallback_method(TRAVEL) == "straight line × 1.3 at 60 km/h (no road layer)"


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
    import shapely

    zigzag = shapely.LineString([(i * 1000.0, (i % 2) * 1000.0) for i in range(40)])  # 40 vertices
    far = shapely.MultiLineString([[(0, 9000), (39_000, 9000)], [(0, 9500), (5000, 9500)]])
    point = shapely.Point(20_000, -3000)
    sites = np.array([shapely.box(x, 2000, x + 500, 2500) for x in range(0, 40_000, 3700)]
                     + [shapely.box(19_800, -3500, 20_100, -3400)])
    feats = np.array([far, zigzag, point], dtype=object)
    dist, which = travel.nearest_distance(sites, feats)
    naive = np.array([[s.distance(f) for f in feats] for s in sites])
    np.testing.assert_allclose(dist, naive.min(axis=1), atol=1e-9)
    assert (naive[np.arange(len(sites)), which] == naive.min(axis=1)).all()
    assert which[-1] == 2 and dist[-1] == 400.0  # the point lies 400 m north of the last site


@pytest.mark.parametrize(("within_min", "expected"), [(6.0, 1), (5.9, 0)])
def test_polygon_targets_reach_by_their_nearest_nodes(within_min, expected):
    """A business area (polygon) holding node B departs from B with a 0 m leg: 6 min to a site at A."""
    roads = _roads(([A, B], "primary"), ([B, C], "primary"))
    net = road_network.build_network(roads, TRAVEL)
    area = gpd.GeoDataFrame(geometry=[box(X0 + 5_800, Y0 - 300, X0 + 6_300, Y0 + 300)], crs=25832)
    acc = travel.access(_around(*A), travel=TRAVEL, network=net)
    assert travel.reach(acc, area, within_min).loc[0, "reach_count"] == expected

"""Travel on the real mirrored road network (OSM 2023-03-21): city pairs in derived ranges, motorway exits.

The ranges are derived, not looked up (no internet): the straight line between the two towns (through the
Storebælt and Lillebælt bridges where the sea forces it) x a road detour of 1.10–1.45, driven at an average
70–115 km/h (Danish limits: 130/110 km/h motorway, 80 km/h rural, 50 km/h in towns). docs/TRAVEL.md
tabulates the pairs with the model's answer and the public speed limits behind the range.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from screening import catalog, road_network, routing, travel

pytestmark = pytest.mark.mirror

DETOUR = (1.10, 1.45)
SPEED_KMH = (70.0, 115.0)
STOREBAELT = (10.965, 55.333)   # Sprogø, on the Storebælt link (lon, lat)
LILLEBAELT = (9.757, 55.517)    # the Lillebælt motorway bridge
PAIRS = [  # (from, to, waypoints): towns as named in the mirror's GeoNames layer
    ("Copenhagen", "Århus", (STOREBAELT, LILLEBAELT)),
    ("Copenhagen", "Odense", (STOREBAELT,)),
    ("Copenhagen", "Roskilde", ()),
    ("Copenhagen", "Helsingør", ()),
    ("Copenhagen", "Næstved", ()),
    ("Århus", "Aalborg", ()),
    ("Århus", "Vejle", ()),
    ("Herning", "Århus", ()),
    ("Odense", "Vejle", (LILLEBAELT,)),
    ("Odense", "Svendborg", ()),
    ("Esbjerg", "Kolding", ()),
    ("Vejle", "Horsens", ()),
    ("Aalborg", "Frederikshavn", ()),
]


@pytest.fixture(scope="module")
def real(mirror_root):
    """The real network under the real travel model, and the towns layer."""
    from screening.config import load_catalog, load_criteria, settings_from_env

    settings = settings_from_env(mirror_root=mirror_root, online=False)
    cat = load_catalog()
    crit = load_criteria(catalog=cat)
    layers = catalog.load_layers(["roads", "towns", "motorway_junctions"], catalog=cat, settings=settings).layers
    return road_network.network_for(layers["roads"], crit.travel), layers, crit


def expected_range(a: shapely.Point, b: shapely.Point, waypoints) -> tuple[float, float, float]:
    """(straight-line km via the waypoints, fewest minutes, most minutes) by the rule in the module doc."""
    to_m = Transformer.from_crs(4326, 25832, always_xy=True)
    pts = [a, *(shapely.Point(*to_m.transform(*w)) for w in waypoints), b]
    km = sum(p.distance(q) for p, q in zip(pts[:-1], pts[1:], strict=True)) / 1000.0
    return km, km * DETOUR[0] / SPEED_KMH[1] * 60.0, km * DETOUR[1] / SPEED_KMH[0] * 60.0


def town_route(net, towns, a: str, b: str):
    geom = towns.drop_duplicates("name").set_index("name").geometry
    origin = routing.access(net, np.array([geom[a]]), role="depart")
    dest = routing.access(net, np.array([geom[b]]), role="arrive")
    return routing.route(net, origin, dest), geom[a], geom[b]


@pytest.mark.parametrize(("a", "b", "waypoints"), PAIRS, ids=[f"{a}-{b}" for a, b, _ in PAIRS])
def test_city_pair_minutes_in_derived_range(real, a, b, waypoints):
    net, layers, _ = real
    r, pa, pb = town_route(net, layers["towns"], a, b)
    km, lo, hi = expected_range(pa, pb, waypoints)
    assert lo <= r.minutes <= hi, f"{a}-{b}: {r.minutes:.0f} min outside {lo:.0f}-{hi:.0f} ({km:.0f} km straight)"


def test_copenhagen_to_roenne_crosses_by_ferry(real):
    """Bornholm only by the Køge–Rønne ferry: 169 km at 25–35 km/h (car-ferry service speeds, 13–19 kn),
    15–60 min boarding, 30–60 min of road on Zealand and Bornholm: 5.6–8.8 hours."""
    net, layers, _ = real
    r, _, _ = town_route(net, layers["towns"], "Copenhagen", "Rønne")
    assert r.ferries == ("Køge - Rønne",)
    assert 169 / 35 * 60 + 15 + 30 <= r.minutes <= 169 / 25 * 60 + 60 + 60


def test_site_beside_a_motorway_exit_scores_within_5_min(real):
    """A 10 ha site 300 m east of each numbered exit's nearest arrive node (where its ramp meets the local
    roads): at most 5 minutes from an exit, for every one of the ~500 numbered exits."""
    import geopandas as gpd

    net, layers, crit = real
    exits = layers["motorway_junctions"]
    exits = exits.loc[exits["ref"].notna()]
    _, pos = net.arrive_tree.query(shapely.get_coordinates(exits.geometry.to_numpy()))
    xy = net.node_xy[net.arrive_nodes][pos] + np.array([300.0, 0.0])
    sites = shapely.box(xy[:, 0], xy[:, 1] - 158, xy[:, 0] + 316, xy[:, 1] + 158)  # 316 m square = 10 ha
    acc = travel.access(gpd.GeoSeries(sites, crs=25832), travel=crit.travel, network=net)
    got = travel.nearest_minutes(acc, exits)
    assert len(got) > 450 and got["travel_min"].max() <= 5.0, got["travel_min"].describe()


def test_segment_ends_are_the_osm_nodes(real):
    """The graph joins segments on their end coordinates: each OSM node is exactly one graph node (roads)."""
    net, layers, _ = real
    roads = layers["roads"]
    road = roads.loc[roads["road_class"] != "ferry"]
    ends = np.r_[shapely.get_coordinates(shapely.get_point(road.geometry.to_numpy(), 0)),
                 shapely.get_coordinates(shapely.get_point(road.geometry.to_numpy(), -1))]
    from scipy.spatial import cKDTree

    dist, node = cKDTree(net.node_xy).query(ends)
    osm = np.r_[road["from_osm_node"].to_numpy(), road["to_osm_node"].to_numpy()]
    assert dist.max() == 0.0
    pairs = np.unique(np.c_[osm, node], axis=0)
    assert np.unique(pairs[:, 0]).size == np.unique(pairs[:, 1]).size == pairs.shape[0]  # 1:1


def test_bornholm_is_one_component_joined_by_ferry(real):
    net, _, _ = real
    bornholm = (net.node_xy[:, 0] > 850_000) & (net.component >= 0)  # ferry-only nodes are -1
    assert np.unique(net.component[bornholm]).tolist() != [net.main_component]
    assert {net.ferries.get(int(c)) for c in net.component[bornholm]} == {("Køge - Rønne",)}
    assert (net.component[~bornholm & (net.component >= 0)] == net.main_component).mean() > 0.99

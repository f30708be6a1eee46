"""The surface's travel criteria on a synthetic road network agree with the vector scoring.

A cell is a point site at its centre with the vector definition (docs/TRAVEL.md), so (1) a tiny site at a
cell centre scores what the cell scores, and (2) on small sites the raster mean and the vector score differ
by at most a derived bound. EPSG:25832, 100 m cells from (X0, Y0).
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.features
from shapely.geometry import LineString, Point, box

from screening import routing, scoring, surface, travel
from screening.config import Criteria, load_criteria
from screening.road_network import network_for

pytestmark = [pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning"),
              pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")]

X0, Y0 = 550_000, 6_200_000
RES = 100.0


def _frame(geoms, **columns):
    return gpd.GeoDataFrame(columns, geometry=list(geoms), crs=25832)


@pytest.fixture(scope="module")
def case():
    """A jittered 5 km grid of primary roads (90 km/h, two-way) over 30 x 25 km, a motorway-like trunk with
    two exits on its nodes, towns and institutions; the real travel model; criteria on exits, towns and
    institutions only (groups a and b)."""
    rng = np.random.default_rng(11)
    xs, ys = np.arange(0, 30_001, 5_000), np.arange(0, 25_001, 5_000)
    jit = rng.uniform(-700, 700, (xs.size, ys.size, 2))
    node = {(i, j): (X0 + x + jit[i, j, 0], Y0 + y + jit[i, j, 1]) for i, x in enumerate(xs) for j, y in enumerate(ys)}
    lines = [LineString([node[i, j], node[i + 1, j]]) for i in range(xs.size - 1) for j in range(ys.size)]
    lines += [LineString([node[i, j], node[i, j + 1]]) for i in range(xs.size) for j in range(ys.size - 1)]
    roads = _frame(lines, road_class=["primary"] * len(lines), maxspeed_kph=[90] * len(lines))
    towns = _frame([Point(X0 + 3_100, Y0 + 2_200), Point(X0 + 22_000, Y0 + 14_500), Point(X0 + 11_000, Y0 + 24_000),
                    Point(X0 + 28_000, Y0 + 1_000)], population=[60_000, 150_000, 20_000, 9_000], name=list("ABCD"))
    exits = _frame([Point(node[1, 4]), Point(node[5, 1])], ref=["1", "2"], name=["Nord", "Syd"])
    education = _frame([Point(X0 + 14_000, Y0 + 9_000), Point(X0 + 4_000, Y0 + 21_000)], name=["E1", "E2"])
    layers = {"roads": roads, "towns": towns, "motorway_junctions": exits, "education": education}
    crit = Criteria.model_validate({
        "exclusions": {"min_net_area_ha": 1, "rules": []},
        "groups": [{"id": "a", "title": "A", "weight": 0.5}, {"id": "b", "title": "B", "weight": 0.5}],
        "criteria": [
            {"id": "mw", "group": "a", "title": "exit", "measure": "travel_time", "layer": "motorway_junctions",
             "unit": "min", "weight": 2, "band": {"points": [[5, 1.0], [30, 0.0]]}},
            {"id": "pop30", "group": "b", "title": "pop", "measure": "reach_sum", "layer": "towns",
             "value_column": "population", "within_min": 30, "unit": "persons", "weight": 2,
             "band": {"points": [[10_000, 0.0], [250_000, 1.0]]}},
            {"id": "pop45", "group": "b", "title": "pop", "measure": "reach_sum", "layer": "towns",
             "value_column": "population", "within_min": 45, "unit": "persons", "weight": 1,
             "band": {"points": [[30_000, 0.0], [600_000, 1.0]]}},
            {"id": "edu", "group": "b", "title": "edu", "measure": "reach_count", "layer": "education",
             "within_min": 30, "unit": "institutions", "weight": 1, "band": {"points": [[0, 0.0], [8, 1.0]]}},
        ],
        "travel": load_criteria().travel.model_dump(), "selection": {"k_min": 1, "k_max": 1}})
    land = _frame([box(X0 - 1_000, Y0 - 1_000, X0 + 31_000, Y0 + 26_000)])
    return crit, layers, land


@pytest.fixture(scope="module")
def built(case, tmp_path_factory):
    crit, layers, land = case
    out = tmp_path_factory.mktemp("surface")
    res = surface.build_surface(layers, crit, res_m=RES, out_dir=out, land=land, criterion_bands=True,
                                block_size=97)  # many tiles: groups and tiling must not matter
    return res


def _read(path):
    with rasterio.open(path) as ds:
        return ds.read(1), ds.transform


def test_cell_equals_a_tiny_site_at_its_centre(case, built):
    """Each criterion's band score at 300 cell centres equals the vector score of a 0.2 m site there
    (float32 raster: 1e-6; the site's own extent moves a leg by at most 0.28 m, < 1e-5 of a score)."""
    crit, layers, _ = case
    rng = np.random.default_rng(3)
    rows, cols = rng.integers(0, 260, 300), rng.integers(0, 320, 300)
    band, transform = _read(built.paths["criteria/mw"])
    x, y = transform.c + (cols + 0.5) * transform.a, transform.f + (rows + 0.5) * transform.e
    sites = gpd.GeoDataFrame({"application_id": [f"c{i}" for i in range(x.size)]},
                             geometry=[box(a - 0.1, b - 0.1, a + 0.1, b + 0.1) for a, b in zip(x, y, strict=True)],
                             crs=25832)
    vec = scoring.score(sites, layers, crit).breakdown
    for cid in ("mw", "pop30", "pop45", "edu"):  # four criteria
        cell = _read(built.paths[f"criteria/{cid}"])[0][rows, cols]
        site = vec.loc[vec["criterion"] == cid, "score"].to_numpy()
        np.testing.assert_allclose(cell, site, atol=1e-5, err_msg=cid)


def test_raster_mean_agrees_with_vector_scoring_on_small_sites(case, built):
    """Tolerance, derived: for a cell centre q in site P and an access node j, the legs satisfy
    leg_P(j) <= leg_q(j) <= leg_P(j) + diam(P). When q and P have the same access nodes (checked), the
    minutes from the nearest exit differ by at most c diam(P), c = access minutes per metre, and the band
    score by L c diam(P); catchments are equal when no target's time to P lies within c diam(P) below a
    limit (checked). The direct leg to a target moves by at most c diam(P) too (distance is
    1-Lipschitz). So |raster mean - vector| <= points_mw x L_mw x c x diam(P)."""
    crit, layers, _ = case
    net = network_for(layers["roads"], crit.travel)
    c = crit.travel.access_detour_factor / (crit.travel.access_speed_kmh / 0.06)
    rng = np.random.default_rng(5)
    centres = rng.uniform((1_000, 1_000), (29_000, 24_000), (25, 2))
    sites = gpd.GeoDataFrame({"application_id": [f"s{i}" for i in range(len(centres))]},
                             geometry=[box(X0 + a, Y0 + b, X0 + a + 300, Y0 + b + 300) for a, b in centres], crs=25832)
    vec = scoring.score(sites, layers, crit)
    score, transform = _read(built.paths["suitability"])
    band = crit.criteria[0].band.points
    slope = max(abs((y1 - y0) / (x1 - x0)) for (x0, y0), (x1, y1) in zip(band[:-1], band[1:], strict=True))
    checked = 0
    for site in sites.itertuples():  # 25 synthetic sites
        inside = rasterio.features.geometry_mask([site.geometry], score.shape, transform, invert=True)
        r, k = np.nonzero(inside)
        x, y = transform.c + (k + 0.5) * transform.a, transform.f + (r + 0.5) * transform.e
        diam = math.dist(site.geometry.bounds[:2], site.geometry.bounds[2:])
        p_acc = routing.access(net, np.array([site.geometry]), role="arrive")
        q_acc = routing.access_xy(net, np.column_stack([x, y]), role="arrive")
        if not all(set(row) == set(p_acc.node[0]) for row in q_acc.node):
            continue  # on a boundary between node neighbourhoods the bound does not apply
        if not _catchments_equal(net, crit, layers, site.geometry, diam * c):
            continue
        tolerance = built.points["mw"] * slope * c * diam
        assert abs(score[inside].mean() - vec.scores.loc[site.application_id, "score_total"]) <= tolerance + 1e-4
        checked += 1
    assert checked >= 15  # most sites are inside one node neighbourhood, away from the limits


def _catchments_equal(net, crit, layers, geom, window_min) -> bool:
    """No town or institution reaches the site within `window_min` below a criterion's limit."""
    place = routing.access(net, np.array([geom]), role="arrive")
    for layer, limits in (("towns", (30, 45)), ("education", (30,))):  # two target layers
        targets = routing.access(net, layers[layer].geometry.to_numpy(), role="depart", on_node=True)
        times = routing.target_times(net, targets, 60.0)
        tau = np.full(targets.n, np.inf)
        for slot in range(place.node.shape[1]):  # the site's few access nodes
            j = place.node[0, slot]
            sel = slice(times.ptr[j], times.ptr[j + 1])
            np.minimum.at(tau, times.target[sel], times.minutes[sel] + place.leg_min[0, slot])
        direct = routing.direct_for(net, layers[layer].geometry.to_numpy(), place_geoms=np.array([geom]))
        tau = np.minimum(tau, direct.minutes(np.zeros(targets.n, dtype=np.int64), np.arange(targets.n)))
        if any(((lim - window_min < tau) & (tau <= lim + 1e-9)).any() for lim in limits):
            return False
    return True


def test_travel_criteria_are_assessed_on_the_network(case, built):
    crit, layers, _ = case
    assert set(built.points) == {"mw", "pop30", "pop45", "edu"} and not built.not_assessed
    acc = travel.access(gpd.GeoSeries([box(X0 + 5_000, Y0 + 5_000, X0 + 5_300, Y0 + 5_300)], crs=25832),
                        travel=crit.travel, network=network_for(layers["roads"], crit.travel))
    assert acc.method[0].startswith("road network, OSM")

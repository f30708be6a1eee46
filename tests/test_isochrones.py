"""Isochrones: a cell is inside the X-minute polygon exactly when a town at its centre counts in the
site's X-minute catchment (same access and direct legs). EPSG:25832 synthetic network."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, box

from screening import isochrones, road_network, routing
from tests.test_travel import TRAVEL, X0, Y0, _roads

SITE = box(X0 - 100, Y0 - 100, X0 + 100, Y0 + 100)


@pytest.fixture(scope="module")
def net():
    """A straight primary road east from the site, split every km: 1 min per km; legs 10 min per km."""
    lines = [([(x, 0), (x + 1_000, 0)], "primary") for x in range(0, 40_000, 1_000)]
    return road_network.build_network(_roads(*lines), TRAVEL.model_copy(update={"access_k": 2}))


@pytest.fixture(scope="module")
def grid_100m(net):
    """Minutes to the site on a 100 m grid, 64 km across (cell centres on 50 m offsets from the nodes)."""
    return isochrones.minutes_grid(net, SITE, limit_min=45.0, cell_m=100.0, half_m=32_000.0)


@pytest.mark.parametrize(
    ("xy", "inside"),
    [
        ((25_000, 0), True),      # node 25 km out: 25 min
        ((20_000, 400), True),    # node 20 + a 400 m leg (4 min)
        ((29_000, 600), False),   # 29 + a 600 m leg (6 min) = 35
        ((31_000, 0), False),     # 31 min
        ((0, 2_500), True),       # the direct leg: 2.5 km at 10 min/km = 25 min
        ((0, 3_500), False),      # 35 min directly or by node 0
    ],
)
def test_isochrone_cells_by_construction(grid_100m, xy, inside):
    grid, t = grid_100m
    col, row = (X0 + xy[0] - t.c) / t.a, (Y0 + xy[1] - t.f) / t.e
    assert (grid[int(row), int(col)] <= 30.0) == inside


def test_isochrone_agrees_with_the_catchment(net):
    """Towns at 400 random cell centres: counted in the 30-minute catchment iff inside the polygon grid."""
    grid, transform = isochrones.minutes_grid(net, SITE, limit_min=45.0, cell_m=250.0, half_m=20_000.0)
    rng = np.random.default_rng(1)
    rows, cols = rng.integers(0, grid.shape[0], 400), rng.integers(0, grid.shape[1], 400)
    x, y = transform.c + (cols + 0.5) * transform.a, transform.f + (rows + 0.5) * transform.e
    towns = np.array([Point(a, b) for a, b in zip(x, y, strict=True)])
    site = routing.access(net, np.array([SITE]), role="arrive")
    targets = routing.access(net, towns, role="depart")
    direct = routing.direct_for(net, towns, place_geoms=np.array([SITE]))
    _, _, (_, counted) = routing.catchment(routing.target_times(net, targets, 30.0), np.ones(400), site, 30.0,
                                           direct=direct, with_pairs=True)
    within = grid[rows, cols] <= 30.0 + routing.EPS_MIN
    assert set(counted.tolist()) == set(np.flatnonzero(within).tolist())
    assert 20 < within.sum() < 380


def test_isochrone_polygons_nest(net):
    polys = isochrones.isochrones(net, SITE, minutes=(30.0, 45.0), cell_m=500.0, half_m=50_000.0)
    assert polys[30.0].area < polys[45.0].area
    assert shapely.contains(shapely.buffer(polys[45.0], 1.0), polys[30.0])
    assert polys[30.0].contains(Point(X0 + 20_000, Y0 + 200))

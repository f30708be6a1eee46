"""Card site maps with the road network: the route from the nearest exit and the catchments are the
scoring's own numbers (synthetic network from tests/test_surface_travel.py)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import box

from screening import _sitemap, scoring
from tests.test_surface_travel import X0, Y0, case  # noqa: F401  (the synthetic network and criteria)


@pytest.fixture(scope="module")
def sites():
    return gpd.GeoDataFrame({"application_id": ["a", "b"], "status": ["eligible", "proposed"]},
                            geometry=[box(X0 + 7_000, Y0 + 6_000, X0 + 7_400, Y0 + 6_400),
                                      box(X0 + 21_000, Y0 + 18_000, X0 + 21_300, Y0 + 18_300)], crs=25832)


def test_routes_and_catchments_are_the_scored_ones(case, sites):  # noqa: F811
    crit, layers, land = case
    near = _sitemap.nearest_infrastructure(sites, {**layers, "kommuner": land}, crit)
    routes = near.loc[near["kind"].isin(["route", "direct"])].set_index("application_id")
    scored = scoring.score(sites, layers, crit).breakdown.query("criterion == 'mw'").set_index("application_id")
    np.testing.assert_allclose(routes.loc[["a", "b"], "minutes"], scored.loc[["a", "b"], "raw_value"].astype(float),
                               atol=1e-9)
    for aid, row in routes.iterrows():  # two sites
        start, end = shapely.get_coordinates(row.geometry)[[0, -1]]
        assert shapely.distance(shapely.Point(start), sites.set_index("application_id").geometry[aid]) < 1e-6
        assert min(shapely.distance(shapely.Point(end), layers["motorway_junctions"].geometry)) < 1e-6
    polys = near.loc[near["kind"] == "catchment"]
    assert sorted(polys["minutes"].unique()) == [30.0, 45.0]
    for _, group in polys.groupby("application_id"):  # two sites
        small, large = group.sort_values("minutes").geometry
        assert small.area <= large.area and large.buffer(1).contains(small)


def test_site_maps_are_drawn_with_the_overlays(case, sites, tmp_path):  # noqa: F811
    crit, layers, land = case
    context = {**layers, "kommuner": land}
    near = _sitemap.nearest_infrastructure(sites, context, crit)
    paths = _sitemap.site_maps(sites, near, context, {a: tmp_path / f"{a}.png" for a in ["a", "b"]},
                               colours={"eligible": "#2c7fb8", "proposed": "#d7301f"})
    assert all(p.stat().st_size > 10_000 for p in paths.values())

"""A hostile but valid submission file: thousands of small round sites on Danish land (issue 11, item 7).

``python -m tests._hostile_fixtures OUT.geojson [N]`` writes one (N = 5,000: about 10 MB of GeoJSON, each
site a 200 m-radius 65-vertex polygon, ~12.5 ha, inside its municipality), e.g. to time a screening by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["many_sites"]


def many_sites(kommuner: gpd.GeoDataFrame, n: int, *, radius_m: float = 200.0, seed: int = 0) -> gpd.GeoDataFrame:
    """`n` round sites at random points at least 500 m inside Danish land, EPSG:25832, with the required
    submission fields (``application_id``, ``kommunekode``, ``site_name``)."""
    kommuner = kommuner.to_crs(25832)
    kommuner = kommuner[kommuner["kommunekode"] != "0411"]  # Christiansø is not a municipality
    inner = kommuner.assign(geometry=kommuner.geometry.buffer(-500))
    inner = inner[~inner.geometry.is_empty]
    land = shapely.union_all(inner.geometry.to_numpy())
    shapely.prepare(land)
    minx, miny, maxx, maxy = land.bounds
    rng = np.random.default_rng(seed)
    xy = np.empty((0, 2))
    while len(xy) < n:  # rejection sampling, a few rounds
        cand = rng.uniform([minx, miny], [maxx, maxy], size=(4 * n, 2))
        xy = np.vstack([xy, cand[shapely.contains_xy(land, cand[:, 0], cand[:, 1])]])
    points = gpd.GeoDataFrame(geometry=shapely.points(xy[:n]), crs=25832)
    code = gpd.sjoin(points, inner[["kommunekode", "geometry"]], predicate="within", how="left")
    code = code[~code.index.duplicated()]["kommunekode"].to_numpy()
    return gpd.GeoDataFrame({"application_id": [f"H-{i:05d}" for i in range(n)], "kommunekode": code,
                             "site_name": [f"Site {i}" for i in range(n)]},
                            geometry=shapely.buffer(points.geometry.to_numpy(), radius_m, quad_segs=16), crs=25832)


if __name__ == "__main__":
    from screening.config import settings_from_env

    out, count = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    kom = gpd.read_file(settings_from_env().mirror_root / "boundaries" / "kommuner.gpkg")
    many_sites(kom, count).to_crs(4326).to_file(out, driver="GeoJSON", COORDINATE_PRECISION=8)
    print(f"{out}: {count} sites, {out.stat().st_size / 1e6:.1f} MB")

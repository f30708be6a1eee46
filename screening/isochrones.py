"""Isochrones: the area from which a site is reached within X minutes, as polygons for the card maps.

Construction (docs/TRAVEL.md, "Isochrones"): one Dijkstra on the reversed network from the site over its
access legs gives every node's minutes to the site; a square grid of `cell_m` cells around the site is
then treated like the scoring treats a town there: each cell centre reaches its ``access_k`` nearest
depart nodes by its access leg, or the site directly within ``direct_max_m``; the fastest wins; the cells
within X minutes are merged into polygons.
A town inside the polygon is counted by the catchment criteria, to within one cell at the polygon's edge.
"""

from __future__ import annotations

import logging

import numpy as np
import rasterio.features
import shapely
from affine import Affine

from screening import routing
from screening.road_network import RoadNetwork

__all__ = ["isochrones", "minutes_grid"]

log = logging.getLogger(__name__)


def isochrones(network: RoadNetwork, site, minutes=(30.0, 45.0), *, cell_m: float = 400.0,
               half_m: float = 30_000.0) -> dict[float, shapely.Geometry]:
    """Polygons (EPSG:25832) of the places that reach `site` within each of `minutes`, inside a square of
    2 x `half_m` around the site's centroid; empty where none.

    Examples
    --------
    See ``tests/test_isochrones.py``: on a straight 60 km/h road the 30-minute polygon reaches 30 km
    along it, less the cells' access legs.
    """
    grid, transform = minutes_grid(network, site, limit_min=max(minutes), cell_m=cell_m, half_m=half_m)
    out = {}
    for limit in minutes:  # two or three limits
        mask = (grid <= limit + routing.EPS_MIN).astype(np.uint8)
        shapes = [shapely.geometry.shape(geom) for geom, value in
                  rasterio.features.shapes(mask, mask=mask.astype(bool), transform=transform) if value == 1]
        out[limit] = shapely.union_all(shapes) if shapes else shapely.Polygon()
    return out


def minutes_grid(network: RoadNetwork, site, *, limit_min: float, cell_m: float, half_m: float):
    """Minutes to `site` from each cell centre of a square grid around it (inf beyond `limit_min`), and the
    grid's affine transform (EPSG:25832, north up)."""
    place = routing.access(network, np.array([site], dtype=object), role="arrive")
    node_min = routing.times_to_place(network, place, limit_min=limit_min)
    cx, cy = shapely.get_coordinates(shapely.centroid(site))[0]
    n = int(np.ceil(2 * half_m / cell_m))
    left, top = cx - n * cell_m / 2, cy + n * cell_m / 2
    col, row = np.meshgrid(np.arange(n), np.arange(n))
    xy = np.column_stack([left + (col.ravel() + 0.5) * cell_m, top - (row.ravel() + 0.5) * cell_m])
    acc = routing.access_xy(network, xy, role="depart")
    tau = np.where(acc.node >= 0, node_min[np.maximum(acc.node, 0)] + acc.leg_min, np.inf).min(axis=1)
    direct = routing.direct_for(network, np.array([site], dtype=object), place_xy=xy)
    tau = np.minimum(tau, direct.minutes(np.arange(len(xy)), np.zeros(len(xy), dtype=np.int64)))
    return tau.reshape(n, n), Affine(cell_m, 0.0, left, 0.0, -cell_m, top)

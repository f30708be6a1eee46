"""Road-network travel criteria on the raster: each land cell's access legs, then its minutes or catchment.

Internal to `screening.surface` and `screening._raster`. A cell is a point site at its centre and gets
exactly the vector definition (`screening.routing`): its ``access_k`` nearest arrive nodes by straight
line, the fastest of them. Node-level work is done once for the country (`prepare`): one multi-source
Dijkstra from all targets for a ``travel_time`` criterion, bounded runs from every target for a
``reach_*`` criterion; a tile then only looks up its cells' nodes (`raw`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from screening import routing
from screening.road_network import RoadNetwork

__all__ = ["RoadNearest", "RoadReach", "prepare", "tile_values", "cell_access", "raw", "GROUP_CELLS"]

log = logging.getLogger(__name__)

GROUP_CELLS = 8
"""Cells of one GROUP_CELLS x GROUP_CELLS block with the same nearest nodes form one catchment group."""
BLOCK_CELLS = 256
"""Edge, in cells, of the square blocks of a tile handled at once (25.6 km at 100 m)."""


@dataclass(frozen=True)
class RoadNearest:
    """A ``travel_time`` criterion on the network: minutes from the nearest target to every node, and the
    direct legs to the targets (without places: the tile's cells are filled in)."""

    id: str
    node_minutes: np.ndarray
    direct: routing.Direct
    band: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class RoadReach:
    """A ``reach_*`` criterion on the network: every target's minutes to the nodes within the limit, the
    targets' values (1 for a count) and the limit in minutes."""

    id: str
    times: routing.TargetTimes
    values: np.ndarray
    within_min: float
    direct: routing.Direct
    band: tuple[tuple[float, float], ...]


def prepare(crit, geoms: np.ndarray, values: np.ndarray | None, network: RoadNetwork):
    """Node-level minutes of one criterion over the whole network (`RoadNearest` or `RoadReach`).

    `geoms` are the criterion's (filtered) target features in EPSG:25832; `values` the per-target
    values of a ``reach_sum`` (None: a count).
    """
    targets = routing.access(network, geoms, role="depart", on_node=True)
    geoms = np.asarray(geoms, dtype=object)
    if crit.measure == "travel_time":
        times = routing.nearest_times(network, targets)
        return RoadNearest(crit.id, times.minutes, routing.direct_for(network, geoms), crit.band.points)
    vals = np.ones(len(geoms)) if values is None else np.nan_to_num(np.asarray(values, dtype=float))
    times = routing.target_times(network, targets, crit.within_min)
    log.info("surface: %s: %d targets reach %s node entries within %g min", crit.id, len(geoms),
             f"{times.target.size:,}", crit.within_min)
    return RoadReach(crit.id, times, vals, float(crit.within_min), routing.direct_for(network, geoms),
                     crit.band.points)


def tile_values(network: RoadNetwork, crits, x: np.ndarray, y: np.ndarray, rows: np.ndarray,
                cols: np.ndarray) -> dict[str, np.ndarray]:
    """Raw value of each road criterion at the land cells (centres x, y metres; window rows and cols),
    in square blocks of `BLOCK_CELLS` cells a side (few targets reach one block's nodes, so its dense
    tables stay narrow; memory stays bounded): the answer does not depend on the blocks."""
    out = {c.id: np.empty(x.size) for c in crits}
    block = (rows // BLOCK_CELLS) * (int(cols.max()) // BLOCK_CELLS + 1) + cols // BLOCK_CELLS if x.size else rows
    order = np.argsort(block, kind="stable")
    bounds = np.r_[0, np.flatnonzero(np.diff(block[order])) + 1, x.size]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):  # the blocks of a tile (tens)
        part = order[a:b]
        acc, groups = cell_access(network, x[part], y[part], rows[part], cols[part])
        xy = np.column_stack([x[part], y[part]])
        for crit in crits:  # the few travel criteria
            out[crit.id][part] = raw(crit, acc, groups, xy)
    return out


def cell_access(network: RoadNetwork, x: np.ndarray, y: np.ndarray, rows: np.ndarray, cols: np.ndarray):
    """Access of the cells with centres (x, y) metres, and their catchment groups: cells of one
    `GROUP_CELLS` block (by window row and column) sharing the same nodes (rows sorted by node id)."""
    acc = routing.access_xy(network, np.column_stack([x, y]), role="arrive")
    nbc = int(cols.max()) // GROUP_CELLS + 1 if cols.size else 1
    key = (rows // GROUP_CELLS) * nbc + cols // GROUP_CELLS
    groups, _ = pd.factorize(key)
    for j in range(acc.node.shape[1]):  # k (about 3) node slots
        groups, _ = pd.factorize(groups.astype(np.int64) * (network.n_nodes + 1) + acc.node[:, j] + 1)
    return acc, groups


def raw(crit: RoadNearest | RoadReach, acc: routing.Access, groups: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Raw value per cell (centres `xy`): minutes from the nearest target (network or direct leg), or the
    catchment sum; NaN for a cell with no access node (as the vector scoring: not assessed)."""
    from dataclasses import replace

    direct = replace(crit.direct, place_xy=xy)
    if isinstance(crit, RoadNearest):
        times = routing.NodeTimes(crit.node_minutes, np.zeros(crit.node_minutes.size, dtype=np.int64), np.empty(0))
        out = routing.nearest_with_direct(times, acc, direct)[0]
    else:
        out, _ = routing.catchment(crit.times, crit.values, acc, crit.within_min, groups=groups, direct=direct)
    out[~acc.reachable | ~np.isfinite(out)] = np.nan
    return out

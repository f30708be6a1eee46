"""Routing on the road network: access legs, multi-source Dijkstra, catchments and single routes.

All times go *from a target to a place* (from the motorway exit, the town, the institution to the site):
targets depart from the network's depart nodes, places are arrived at on its arrive nodes
(`screening.road_network`). The engine is ``scipy.sparse.csgraph.dijkstra`` on the network's CSR
matrix with one virtual node per target (edges = its access legs), so every target's access leg is part
of the graph and one call serves many targets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_array, csr_array
from scipy.sparse.csgraph import dijkstra

from screening._catchment import EPS_MIN, Direct, catchment
from screening.i18n import gettext as _
from screening.road_network import RoadNetwork, leg_minutes

__all__ = ["Access", "TargetTimes", "NodeTimes", "Route", "access", "access_xy", "nearest_times", "place_minutes",
           "nearest_with_direct", "target_times", "catchment", "Direct", "direct_for", "times_to_place", "route",
           "lonlat_access", "route_line_to", "EPS_MIN"]

log = logging.getLogger(__name__)

ON_NODE_M = 0.5
"""A point target within this many metres of a graph node (any class) enters the network at that node."""
_CHUNK_CELLS = 4_000_000  # (source x node) or (group x target) entries handled at once


@dataclass(frozen=True)
class Access:
    """How n places reach the network: up to K nodes each (``node`` (n, K), -1 = none), with the
    straight-line leg in metres (``leg_m``) and minutes (``leg_min``; inf where there is no node)."""

    node: np.ndarray
    leg_m: np.ndarray
    leg_min: np.ndarray

    @property
    def n(self) -> int:
        return self.node.shape[0]

    @property
    def reachable(self) -> np.ndarray:
        return (self.node >= 0).any(axis=1)


@dataclass(frozen=True)
class NodeTimes:
    """Minutes from the nearest of a set of targets to every node (``minutes``, inf = unreachable), the
    target that is nearest (``target``, -1) and the Dijkstra predecessors (over nodes + virtual targets)."""

    minutes: np.ndarray
    target: np.ndarray
    predecessors: np.ndarray


@dataclass(frozen=True)
class TargetTimes:
    """For each node j, the targets that reach it within ``limit_min`` and their minutes, in CSR form:
    ``target[ptr[j]:ptr[j + 1]]`` and ``minutes[ptr[j]:ptr[j + 1]]``; ``n_targets`` targets in all."""

    ptr: np.ndarray
    target: np.ndarray
    minutes: np.ndarray
    limit_min: float
    n_targets: int


@dataclass(frozen=True)
class Route:
    """One route: total ``minutes`` and road ``km`` (access legs as straight lines not included in
    ``km``), minutes and km per road class, the ferries used, the access legs (m) and the geometry
    (a LineString in EPSG:25832, access legs as straight ends)."""

    minutes: float
    km: float
    by_class: pd.DataFrame
    ferries: tuple[str, ...]
    origin_leg_m: float
    destination_leg_m: float
    geometry: shapely.LineString | None


def access(network: RoadNetwork, geoms, *, role: str, on_node: bool = False) -> Access:
    """The `access_k` nearest access nodes of each geometry, by exact distance, within `access_snap_max_m`.

    Parameters
    ----------
    network
        The road network.
    geoms
        Places (points, lines or polygons) in EPSG:25832 metres; distance is 0 from a node inside a polygon.
        Every node at distance 0 is kept (a large site holding more than k nodes enters at all of them).
    role
        ``depart`` (a target leaving for the network: its depart nodes) or ``arrive`` (a place reached
        from the network: its arrive nodes).
    on_node
        A point within `ON_NODE_M` of any graph node enters there alone, leg 0 (the motorway exits).

    Returns
    -------
    Access
    """
    travel = network.travel
    geoms = np.asarray(geoms, dtype=object)
    nodes, tree = ((network.depart_nodes, network.depart_tree) if role == "depart"
                   else (network.arrive_nodes, network.arrive_tree))
    n, k = geoms.size, min(travel.access_k, nodes.size)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)) if n else np.zeros(0, dtype=bool)
    if k == 0:
        ok = np.zeros(n, dtype=bool)
    point = ok & (shapely.get_type_id(geoms) == 0)
    rows, cols, dist = [np.empty(0, dtype=np.int64)] * 2 + [np.empty(0)]
    if point.any():
        r1, cols, dist = _nearest_xy(shapely.get_coordinates(geoms[point]), nodes, tree, k, travel)
        rows = np.flatnonzero(point)[r1]
    other = ok & ~point
    if other.any():
        strtree = network.depart_strtree if role == "depart" else network.arrive_strtree
        r2, c2, d2 = _nearest_by_distance(geoms[other], strtree, tree, k)
        rows = np.r_[rows, np.flatnonzero(other)[r2]]
        cols, dist = np.r_[cols, nodes[c2]], np.r_[dist, d2]
    acc = _to_dense(n, rows, cols, dist, travel)
    if on_node and point.any():
        _on_node(acc, geoms, point, network)
    far = ok & ~acc.reachable
    if far.any():
        log.info("%d of %d places are more than %.0f m from every %s node of the road network", far.sum(), n,
                 travel.access_snap_max_m, role)
    return acc


def access_xy(network: RoadNetwork, xy: np.ndarray, *, role: str) -> Access:
    """`access` for points given as an (n, 2) array of EPSG:25832 coordinates (raster cell centres);
    identical to `access` of the same points. Each row's nodes come sorted by node id (legs alike), so
    places with the same nearest nodes have equal rows."""
    nodes, tree = ((network.depart_nodes, network.depart_tree) if role == "depart"
                   else (network.arrive_nodes, network.arrive_tree))
    k = min(network.travel.access_k, nodes.size)
    if k == 0 or len(xy) == 0:
        return _to_dense(len(xy), *[np.empty(0, dtype=np.int64)] * 2, np.empty(0), network.travel)
    d, pos = tree.query(np.asarray(xy, dtype=float), k=k, distance_upper_bound=network.travel.access_snap_max_m)
    d, pos = d.reshape(len(xy), k), pos.reshape(len(xy), k)
    node = np.where(np.isfinite(d), nodes[np.minimum(pos, nodes.size - 1)], -1)
    order = np.argsort(np.where(node >= 0, node, np.iinfo(np.int64).max), axis=1, kind="stable")
    node, d = np.take_along_axis(node, order, axis=1), np.take_along_axis(d, order, axis=1)
    return Access(node, d, np.where(node >= 0, leg_minutes(d, network.travel), np.inf))


def nearest_times(network: RoadNetwork, targets: Access) -> NodeTimes:
    """Minutes from the nearest target to every node: one multi-source Dijkstra over the targets' legs."""
    n = network.n_nodes
    graph = _augmented(network, targets)
    dist, pred, src = dijkstra(graph, directed=True, indices=np.arange(n, n + targets.n), min_only=True,
                               return_predecessors=True)
    target = np.where(src[:n] >= n, src[:n] - n, -1)
    return NodeTimes(minutes=dist[:n], target=target, predecessors=pred)


def direct_for(network: RoadNetwork, target_geoms, *, place_geoms=None, place_xy=None) -> Direct:
    """The direct legs between places and targets under the network's access model (straight line x
    ``access_detour_factor`` at ``access_speed_kmh``: the local roads between them; up to ``direct_max_m``)."""
    return Direct(float(leg_minutes(1.0, network.travel)), np.asarray(target_geoms, dtype=object),
                  None if place_geoms is None else np.asarray(place_geoms, dtype=object), place_xy,
                  network.travel.direct_max_m)


def place_minutes(times: NodeTimes, places: Access) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per place: minutes from the nearest target (inf = none), that target (-1) and the slot of the
    place's access node used (the fastest of its nodes: node time + its leg)."""
    node = places.node
    tau = np.where(node >= 0, times.minutes[np.maximum(node, 0)] + places.leg_min, np.inf)
    slot = np.argmin(tau, axis=1) if tau.shape[1] else np.zeros(places.n, dtype=np.int64)
    best = tau[np.arange(places.n), slot] if tau.shape[1] else np.full(places.n, np.inf)
    target = np.where(np.isfinite(best), times.target[np.maximum(node[np.arange(places.n), slot], 0)], -1)
    return best, target, slot


def nearest_with_direct(times: NodeTimes, places: Access, direct: Direct):
    """`place_minutes`, or the direct leg to the nearest target when that is faster (slot -1 then).

    Returns (minutes, target, slot, direct metres) per place; the nearest target by straight line is
    found exactly (k-d tree for points, else an STRtree).
    """
    minutes, target, slot = place_minutes(times, places)
    dist, which = _nearest_target(direct)
    straight = direct.of_metres(dist)
    closer = straight < minutes
    return (np.where(closer, straight, minutes), np.where(closer, which, target), np.where(closer, -1, slot),
            dist)


def target_times(network: RoadNetwork, targets: Access, limit_min: float) -> TargetTimes:
    """Minutes from each target to every node it reaches within `limit_min`: bounded Dijkstra runs, one
    per target (``limit=``), in chunks; kept as a CSR list per node."""
    n, m = network.n_nodes, targets.n
    graph = _augmented(network, targets)
    chunk = max(1, _CHUNK_CELLS // max(n + m, 1))
    tgt, nod, mins = [], [], []
    for start in range(0, m, chunk):  # a few chunks of targets, each one C call
        idx = np.arange(n + start, n + min(m, start + chunk))
        dist = dijkstra(graph, directed=True, indices=idx, limit=limit_min + EPS_MIN)[:, :n]
        r, c = np.nonzero(np.isfinite(dist))
        tgt.append(start + r)
        nod.append(c)
        mins.append(dist[r, c])
    tgt, nod, mins = np.concatenate(tgt), np.concatenate(nod), np.concatenate(mins)
    order = np.lexsort((tgt, nod))
    ptr = np.r_[0, np.cumsum(np.bincount(nod, minlength=n))]
    return TargetTimes(ptr=ptr, target=tgt[order], minutes=mins[order], limit_min=float(limit_min), n_targets=m)


def times_to_place(network: RoadNetwork, place: Access, *, limit_min: float = np.inf) -> np.ndarray:
    """Minutes from every node to one place (row 0 of `place`): a Dijkstra on the reversed graph from the
    place over its legs; inf beyond `limit_min`. With `access` of a point (role ``depart``) this gives the
    point's minutes to the place exactly as `catchment` counts a target there (isochrones)."""
    n = network.n_nodes
    node, leg = place.node[0], place.leg_min[0]
    ok = node >= 0
    rev = network.graph.T.tocoo()
    graph = coo_array((np.r_[rev.data, leg[ok]], (np.r_[rev.row, np.full(ok.sum(), n)], np.r_[rev.col, node[ok]])),
                      shape=(n + 1, n + 1)).tocsr()
    return dijkstra(graph, directed=True, indices=n, limit=limit_min + EPS_MIN)[:n]


def route(network: RoadNetwork, origin: Access, destination: Access) -> Route | None:
    """The fastest route from the place in row 0 of `origin` (role ``depart``) to row 0 of `destination`
    (role ``arrive``); None when there is none."""
    n = network.n_nodes
    graph = _augmented(network, origin, destination)
    dist, pred = dijkstra(graph, directed=True, indices=n, return_predecessors=True)
    if not np.isfinite(dist[n + 1]):
        return None
    path = [n + 1]
    while path[-1] != n:  # the nodes of one route (hundreds), walked back once
        path.append(int(pred[path[-1]]))
    nodes = np.array(path[::-1][1:-1], dtype=np.int64)
    first = int(np.flatnonzero(origin.node[0] == nodes[0])[0])
    last = int(np.flatnonzero(destination.node[0] == nodes[-1])[0])
    edges = network.edges.iloc[np.asarray(network.edge_id[nodes[:-1], nodes[1:]]).ravel()] if nodes.size > 1 \
        else network.edges.iloc[:0]
    return Route(minutes=float(dist[n + 1]), km=float(edges["length_m"].sum() / 1000.0),
                 by_class=_by_class(edges), ferries=tuple(dict.fromkeys(edges.loc[edges["kind"] == "ferry", "name"]
                                                                        .replace("", _("unnamed ferry")))),
                 origin_leg_m=float(origin.leg_m[0, first]), destination_leg_m=float(destination.leg_m[0, last]),
                 geometry=None if nodes.size == 0 else _route_line(network, edges, nodes))


def lonlat_access(network: RoadNetwork, origin: tuple[float, float], destination: tuple[float, float]):
    """`access` of an origin (role ``depart``) and a destination (``arrive``) given as (lon, lat) WGS84."""
    from pyproj import Transformer

    to_m = Transformer.from_crs(4326, 25832, always_xy=True)
    a, b = (shapely.Point(*to_m.transform(*p)) for p in (origin, destination))
    return (access(network, np.array([a]), role="depart"), access(network, np.array([b]), role="arrive"))


def route_line_to(network: RoadNetwork, times: NodeTimes, node: int) -> shapely.LineString | None:
    """The drawn route from the target nearest to `node` (per `nearest_times`) to `node`, without legs."""
    n = network.n_nodes
    pred = times.predecessors
    path = [int(node)]
    while pred[path[-1]] >= 0 and pred[path[-1]] < n:  # walk back to the virtual target (hundreds of nodes)
        path.append(int(pred[path[-1]]))
    nodes = np.array(path[::-1], dtype=np.int64)
    if nodes.size < 2:
        return None
    edges = network.edges.iloc[np.asarray(network.edge_id[nodes[:-1], nodes[1:]]).ravel()]
    return _route_line(network, edges, nodes)


# --------------------------------------------------------------------------- helpers


def _nearest_target(direct: Direct) -> tuple[np.ndarray, np.ndarray]:
    """Distance (m) from each place to the nearest target, and which (exact)."""
    tg = direct.target_geoms
    if direct.place_xy is not None and direct.target_xy is not None:
        from scipy.spatial import cKDTree

        d, which = cKDTree(direct.target_xy).query(direct.place_xy)
        return d, which.astype(np.int64)
    places = shapely.points(direct.place_xy) if direct.place_xy is not None else direct.place_geoms
    idx, d = shapely.STRtree(tg).query_nearest(places, return_distance=True, all_matches=False)
    dist, which = np.full(len(places), np.inf), np.full(len(places), -1, dtype=np.int64)
    dist[idx[0]], which[idx[0]] = d, idx[1]
    return dist, which


def _nearest_xy(xy: np.ndarray, nodes: np.ndarray, tree, k: int, travel):
    """(row, node id, distance) of the k nearest `nodes` of each point, within `access_snap_max_m`."""
    d, pos = tree.query(xy, k=k, distance_upper_bound=travel.access_snap_max_m)
    d, pos = d.reshape(len(xy), k), pos.reshape(len(xy), k)
    ok = np.isfinite(d)
    return np.nonzero(ok)[0], nodes[pos[ok]], d[ok]


def _nearest_by_distance(geoms: np.ndarray, strtree: shapely.STRtree, tree, k: int):
    """(row, node position, distance) of the k nearest nodes of each (non-point) geometry, exact, plus
    every further node at distance 0. The k-th node distance from a point inside the geometry bounds the
    search: no node nearer to the geometry can be farther from that point."""
    rep = shapely.get_coordinates(shapely.point_on_surface(geoms))
    dk, _ = tree.query(rep, k=k)
    radius = np.asarray(dk).reshape(len(rep), k)[:, -1]
    pts = strtree.geometries
    r, c = strtree.query(geoms, predicate="dwithin", distance=radius)
    d = shapely.distance(geoms[r], pts[c])
    order = np.lexsort((d, r))
    r, c, d = r[order], c[order], d[order]
    rank = np.arange(r.size) - np.searchsorted(r, r)
    keep = (rank < k) | (d == 0)
    return r[keep], c[keep], d[keep]


def _to_dense(n: int, rows, cols, dist, travel) -> Access:
    keep = dist <= travel.access_snap_max_m
    rows, cols, dist = rows[keep], cols[keep], dist[keep]
    order = np.lexsort((dist, rows))
    rows, cols, dist = rows[order], cols[order], dist[order]
    rank = np.arange(rows.size) - np.searchsorted(rows, rows)
    width = int(rank.max()) + 1 if rows.size else 1
    node = np.full((n, width), -1, dtype=np.int64)
    leg_m = np.full((n, width), np.inf)
    node[rows, rank], leg_m[rows, rank] = cols, dist
    return Access(node=node, leg_m=leg_m, leg_min=np.where(node >= 0, leg_minutes(leg_m, travel), np.inf))


def _on_node(acc: Access, geoms: np.ndarray, point: np.ndarray, network: RoadNetwork) -> None:
    """Points lying on a graph node enter there alone with leg 0 (in place)."""
    from scipy.spatial import cKDTree

    idx = np.flatnonzero(point)
    d, j = cKDTree(network.node_xy).query(shapely.get_coordinates(geoms[idx]), distance_upper_bound=ON_NODE_M)
    on = np.isfinite(d)
    rows = idx[on]
    acc.node[rows] = -1
    acc.node[rows, 0] = j[on]
    acc.leg_m[rows] = np.inf
    acc.leg_m[rows, 0] = 0.0
    acc.leg_min[rows] = np.inf
    acc.leg_min[rows, 0] = 0.0


def _augmented(network: RoadNetwork, sources: Access | None, sinks: Access | None = None) -> csr_array:
    """The graph plus one virtual node per source (edges to its nodes, weight = leg) and, after them,
    one per sink (edges from its nodes)."""
    n = network.n_nodes
    g = network.graph.tocoo()
    rows, cols, data = [g.row], [g.col], [g.data]
    m_src = 0
    if sources is not None:
        m_src = sources.n
        r, s = np.nonzero(sources.node >= 0)
        rows.append(n + r)
        cols.append(sources.node[r, s])
        data.append(sources.leg_min[r, s])
    m_dst = 0
    if sinks is not None:
        m_dst = sinks.n
        r, s = np.nonzero(sinks.node >= 0)
        rows.append(sinks.node[r, s])
        cols.append(n + m_src + r)
        data.append(sinks.leg_min[r, s])
    size = n + m_src + m_dst
    return coo_array((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                     shape=(size, size)).tocsr()


def _by_class(edges: pd.DataFrame) -> pd.DataFrame:
    cls = edges["road_class"].mask(edges["kind"] == "connector", "harbour connector").mask(
        edges["kind"] == "local", "local link")
    return (pd.DataFrame({"road_class": cls, "minutes": edges["minutes"], "km": edges["length_m"] / 1000.0})
            .groupby("road_class", sort=False).sum().sort_values("minutes", ascending=False))


def _route_line(network: RoadNetwork, edges: pd.DataFrame, nodes: np.ndarray) -> shapely.LineString:
    """The route's vertices: each edge's stretch of its line (reversed when driven backwards)."""
    parts = []
    for start, stop, u in zip(edges["start"], edges["stop"], nodes[:-1], strict=True):  # route edges
        if start < 0:
            parts.append(network.node_xy[[u]])
        else:
            step = 1 if stop >= start else -1
            parts.append(network.coords[start:stop + step:step] if stop + step >= 0 else network.coords[start::-1])
    parts.append(network.node_xy[[nodes[-1]]])
    return shapely.LineString(np.concatenate(parts))

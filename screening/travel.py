"""Travel minutes: a road graph (networkx) where a road layer resolves, else straight line x detour factor."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from screening._geo import require_crs
from screening.config import Travel
from screening.errors import LayerDataError

__all__ = ["RoadNetwork", "Access", "build_network", "access", "nearest_minutes", "reach", "fallback_method",
           "nearest_distance"]

log = logging.getLogger(__name__)

_SNAP_GRID_M = 0.1
"""Vertices of different road lines closer than this (metres, EPSG:25832) are one graph node."""



@dataclass(frozen=True)
class RoadNetwork:
    """An undirected road graph: nodes are integers, edge attribute ``minutes``.

    ``node_xy`` holds EPSG:25832 coordinates (metres) of every node id; ``snap_nodes`` are the node ids
    of the largest connected component (sites and targets snap only to these, so every pair is
    connected) and ``snap_tree`` is an STRtree over their points.
    """

    graph: nx.Graph
    node_xy: np.ndarray
    snap_nodes: np.ndarray
    snap_tree: shapely.STRtree
    travel: Travel


@dataclass(frozen=True)
class Access:
    """How each site reaches the road network, and the minutes to every node within ``cutoff_min``.

    ``node`` is the snapped node id (-1: no network, or farther than ``access_snap_max_m``: those sites
    use the straight-line fallback); ``leg_min`` the access leg in minutes; ``reached[i]`` maps node id ->
    minutes from site i (access leg included) for nodes within ``cutoff_min``; ``method`` says, per site,
    how its minutes are obtained.
    """

    geoms: np.ndarray
    network: RoadNetwork | None
    node: np.ndarray
    leg_min: np.ndarray
    reached: tuple[dict, ...]
    cutoff_min: float
    method: np.ndarray
    travel: Travel


def build_network(roads: gpd.GeoDataFrame, travel: Travel) -> RoadNetwork:
    """Build the road graph: one node per line end or shared vertex, edge minutes from the road class speed.

    Lines are split where they share a vertex (within 0.1 m), so junctions in the middle of a line
    connect; consecutive node vertices along a line become one edge whose length is the line length
    between them. Parallel edges keep the fastest. Built with numpy; networkx only receives the edges.

    Parameters
    ----------
    roads
        (Multi)LineStrings in EPSG:25832 (metres) with the class column ``travel.class_column``.
    travel
        Speeds in km/h per class (``speeds_kmh``; others ``default_speed_kmh``).

    Returns
    -------
    RoadNetwork
        Undirected graph with edge weight ``minutes``.

    Raises
    ------
    CRSError
        If `roads` is not in EPSG:25832.
    LayerDataError
        If the class column is missing or no line has two vertices.
    """
    require_crs(roads, f"road layer {travel.road_layer!r}")
    if travel.class_column not in roads.columns:
        msg = (f"road layer {travel.road_layer!r} has no column {travel.class_column!r} (road class); "
               f"columns are {list(roads.columns)}; add an alias in catalog.yaml")
        raise LayerDataError(msg)
    u, v, minutes, node_xy = _edges(roads, travel)
    graph = nx.Graph()
    graph.add_weighted_edges_from(zip(u.tolist(), v.tolist(), minutes.tolist(), strict=True),
                                  weight="minutes")
    main = np.fromiter(max(nx.connected_components(graph), key=len), dtype=np.int64)
    log.info("road graph: %d nodes, %d edges; largest component %d nodes (%d nodes elsewhere not snapped to)",
             graph.number_of_nodes(), graph.number_of_edges(), main.size, graph.number_of_nodes() - main.size)
    tree = shapely.STRtree(shapely.points(node_xy[main]))
    return RoadNetwork(graph=graph, node_xy=node_xy, snap_nodes=main, snap_tree=tree, travel=travel)


def access(sites, *, travel: Travel, network: RoadNetwork | None = None, cutoff_min: float = 0.0) -> Access:
    """Snap sites to the road network and run a Dijkstra from each up to `cutoff_min` minutes.

    The access point is the graph node nearest to the site polygon (0 m when a node lies inside it); the
    access leg is that distance at ``default_speed_kmh``. Sites farther than ``access_snap_max_m`` from the
    network, and every site when `network` is None, use the straight-line fallback.

    Parameters
    ----------
    sites
        GeoSeries/GeoDataFrame of site (multi)polygons in EPSG:25832.
    cutoff_min
        Largest "within X minutes" that will be asked of `reach`; 0 when only `nearest_minutes` is needed.

    Returns
    -------
    Access
        Per site: snapped node (-1 = fallback), access leg in minutes, minutes to the nodes within
        `cutoff_min`, and the method text ("road graph" or "straight line × 1.3 at 60 km/h (...)").
    """
    require_crs(sites, "candidate sites")
    geoms = np.asarray(sites.geometry.to_numpy() if hasattr(sites, "geometry") else sites)
    n = geoms.size
    node = np.full(n, -1, dtype=np.int64)
    leg = np.zeros(n)
    method = np.full(n, fallback_method(travel), dtype=object)
    reached: list[dict] = [{} for _ in range(n)]
    if network is not None and n:
        pos, dist = _snap(network, geoms)
        node[pos[0]] = network.snap_nodes[pos[1]]
        leg[pos[0]] = dist / 1000.0 / travel.default_speed_kmh * 60.0
        far = f"site more than {travel.access_snap_max_m:,.0f} m from the road graph"
        method[:] = fallback_method(travel, reason=far)
        method[pos[0]] = "road graph"
        done: dict[int, dict] = {}
        for i in pos[0]:  # one Dijkstra per candidate site (tens), not per feature
            key = int(node[i])
            if cutoff_min > 0 and key not in done:
                done[key] = nx.single_source_dijkstra_path_length(network.graph, key, cutoff=cutoff_min,
                                                                  weight="minutes")
            reached[i] = done.get(key, {})
    return Access(geoms=geoms, network=network, node=node, leg_min=leg, reached=tuple(reached),
                  cutoff_min=float(cutoff_min), method=method, travel=travel)


def nearest_minutes(acc: Access, targets) -> pd.DataFrame:
    """Minutes from each site to the nearest target: road graph where snapped, else the fallback.

    On the graph, one multi-source Dijkstra runs from all targets at once (through a temporary source
    node joined to each target's node by its access leg), so the cost does not grow with the sites.

    Parameters
    ----------
    acc
        From `access`.
    targets
        GeoSeries/GeoDataFrame of target features in EPSG:25832.

    Returns
    -------
    pandas.DataFrame
        One row per site (positional): ``travel_min`` (float, minutes), ``target`` (int position of the
        nearest target in `targets`, -1 when none), ``method`` (str).
    """
    tgeoms = _target_geoms(targets)
    n = acc.geoms.size
    out = pd.DataFrame({"travel_min": np.full(n, np.nan), "target": np.full(n, -1, dtype=np.int64),
                        "method": acc.method.copy()})
    if n == 0 or tgeoms.size == 0:
        return out
    fb = acc.node < 0
    if fb.any():
        dist, which = nearest_distance(acc.geoms[fb], tgeoms)
        out.loc[fb, "travel_min"] = _fallback_minutes(dist, acc.travel)
        out.loc[fb, "target"] = which
    if (~fb).any():
        minutes, target = _graph_nearest(acc, tgeoms)
        out.loc[~fb, "travel_min"] = minutes
        out.loc[~fb, "target"] = target
    return out


def reach(acc: Access, targets, within_min: float, *, values=None) -> pd.DataFrame:
    """Sum of `values` and count of targets reachable from each site within `within_min` minutes.

    Parameters
    ----------
    acc
        From `access` with ``cutoff_min >= within_min`` (for sites on the graph).
    targets
        GeoSeries/GeoDataFrame of target features in EPSG:25832.
    within_min
        Reach in minutes; a target at exactly `within_min` counts.
    values
        Per-target numbers (e.g. population); NaN counts as 0. None: count only (``reach_sum`` = count).

    Returns
    -------
    pandas.DataFrame
        One row per site (positional): ``reach_sum``, ``reach_count`` (int), ``method``.

    Raises
    ------
    ValueError
        If sites on the graph were snapped with a smaller ``cutoff_min`` than `within_min`.
    """
    tgeoms = _target_geoms(targets)
    vals = np.ones(tgeoms.size) if values is None else np.nan_to_num(np.asarray(values, dtype=float))
    n = acc.geoms.size
    total, count = np.zeros(n), np.zeros(n, dtype=np.int64)
    fb = acc.node < 0
    if fb.any() and tgeoms.size:
        radius_m = within_min / 60.0 * acc.travel.fallback_speed_kmh * 1000.0 / acc.travel.detour_factor
        pairs = shapely.STRtree(tgeoms).query(acc.geoms[fb], predicate="dwithin", distance=radius_m)
        sel = np.flatnonzero(fb)
        total[sel] = np.bincount(pairs[0], weights=vals[pairs[1]], minlength=sel.size)
        count[sel] = np.bincount(pairs[0], minlength=sel.size)
    if (~fb).any() and tgeoms.size:
        if within_min > acc.cutoff_min + 1e-9:
            msg = (f"reach within {within_min} min asked, but sites were snapped with "
                   f"cutoff_min={acc.cutoff_min}; pass the largest within_min to access()")
            raise ValueError(msg)
        tnode, tleg = _snap_targets(acc.network, tgeoms)
        lookup = np.full(acc.network.node_xy.shape[0], np.inf)
        for i in np.flatnonzero(~fb):  # candidate sites (tens); the inner work is vectorised
            lookup[:] = np.inf
            keys = np.fromiter(acc.reached[i].keys(), dtype=np.int64, count=len(acc.reached[i]))
            lookup[keys] = np.fromiter(acc.reached[i].values(), dtype=float, count=keys.size)
            ok = (lookup[tnode] + tleg + acc.leg_min[i]) <= within_min + 1e-9
            total[i], count[i] = vals[ok].sum(), int(ok.sum())
    return pd.DataFrame({"reach_sum": total, "reach_count": count, "method": acc.method.copy()})


def fallback_method(travel: Travel, *, reason: str = "no road layer") -> str:
    """Method text of the straight-line fallback: ``"straight line × 1.3 at 60 km/h (no road layer)"``."""
    return f"straight line × {travel.detour_factor:g} at {travel.fallback_speed_kmh:g} km/h ({reason})"


def nearest_distance(geoms, features) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each geometry to the nearest feature, in metres (0 when they meet), and which feature.

    One bulk ``STRtree.query_nearest`` over all geometries (GEOS), exact, no Python loop.

    Parameters
    ----------
    geoms
        Sites, any geometries (typically (multi)polygons), in EPSG:25832 (metres).
    features
        Features of any geometry type, EPSG:25832.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``distance_m`` (float, NaN for an empty site or when there are no features) and the position of
        the nearest feature in `features` (int, -1 where none; one of them on exact ties).

    Examples
    --------
    >>> site = shapely.box(0, 0, 1000, 1000)
    >>> nearest_distance([site], [shapely.Point(3500, 500), shapely.Point(500, 9000)])
    (array([2500.]), array([0]))
    """
    geoms = np.asarray(geoms, dtype=object)
    feats = np.asarray(features, dtype=object)
    dist, which = np.full(geoms.size, np.nan), np.full(geoms.size, -1, dtype=np.int64)
    ok = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    if feats.size == 0 or ok.size == 0:
        return dist, which
    tree_geoms, owner = _segments(feats)
    idx, d = shapely.STRtree(tree_geoms).query_nearest(geoms[ok], return_distance=True, all_matches=False)
    dist[ok[idx[0]]], which[ok[idx[0]]] = d, owner[idx[1]]
    return dist, which


def _segments(feats: np.ndarray, *, min_vertices: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Split long linear features into two-point segments, so the tree can prune within a line.

    The distance to a line is the smallest distance to its segments, so the answer is exact; the second
    array maps each tree item back to its feature. Points, polygons and short lines are kept whole.
    """
    owner = np.arange(feats.size)
    linear = np.isin(shapely.get_type_id(feats), (1, 5))  # LineString, MultiLineString
    if not linear.any() or shapely.get_num_coordinates(feats[linear]).mean() < min_vertices:
        return feats, owner
    parts, part_of = shapely.get_parts(feats[linear], return_index=True)
    coords, line_of = shapely.get_coordinates(parts, return_index=True)
    inner = line_of[1:] == line_of[:-1]
    segs = shapely.linestrings(np.stack([coords[:-1][inner], coords[1:][inner]], axis=1))
    seg_owner = np.flatnonzero(linear)[part_of[line_of[:-1][inner]]]
    return np.concatenate([feats[~linear], segs]), np.concatenate([owner[~linear], seg_owner])


# --------------------------------------------------------------------------- helpers


def _edges(roads: gpd.GeoDataFrame, travel: Travel):
    """Vectorised edge list (u, v, minutes) and node coordinates from road lines."""
    parts, part_of = shapely.get_parts(roads.geometry.to_numpy(), return_index=True)
    line = shapely.get_type_id(parts) == shapely.GeometryType.LINESTRING.value
    parts, part_of = parts[line], part_of[line]
    speed = (roads[travel.class_column].astype("string").map(travel.speeds_kmh)
             .astype(float).fillna(travel.default_speed_kmh).to_numpy()[part_of])
    coords, line_idx = shapely.get_coordinates(parts, return_index=True)
    if coords.shape[0] < 2:
        msg = f"road layer {travel.road_layer!r} has no line with two vertices"
        raise LayerDataError(msg)
    q = np.round(coords / _SNAP_GRID_M).astype(np.int64)
    key = (q[:, 0] << 31) + q[:, 1]
    _, first, vid, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    same_next = np.r_[line_idx[1:] == line_idx[:-1], False]
    seg = np.where(same_next[:-1], np.hypot(*np.diff(coords, axis=0).T), 0.0)
    cum = np.r_[0.0, np.cumsum(seg)]
    is_node = ~np.r_[False, same_next[:-1]] | ~same_next | (counts[vid] > 1)
    p = np.flatnonzero(is_node)
    keep = line_idx[p[1:]] == line_idx[p[:-1]]
    a, b = p[:-1][keep], p[1:][keep]
    edges = pd.DataFrame({"u": np.minimum(vid[a], vid[b]), "v": np.maximum(vid[a], vid[b]),
                          "minutes": (cum[b] - cum[a]) / 1000.0 / speed[line_idx[a]] * 60.0})
    edges = edges.loc[edges["u"] != edges["v"]].groupby(["u", "v"], as_index=False)["minutes"].min()
    return edges["u"].to_numpy(), edges["v"].to_numpy(), edges["minutes"].to_numpy(), coords[first]


def _snap(network: RoadNetwork, geoms: np.ndarray):
    """(2, k) positions (geometry, snap-node position) and distances (m) within the snap radius."""
    return network.snap_tree.query_nearest(geoms, max_distance=network.travel.access_snap_max_m,
                                           return_distance=True, all_matches=False)


def _snap_targets(network: RoadNetwork, tgeoms: np.ndarray):
    """Node id and access leg (minutes) of every target; targets beyond the snap radius get leg inf."""
    pos, dist = _snap(network, tgeoms)
    tnode = np.zeros(tgeoms.size, dtype=np.int64)
    tleg = np.full(tgeoms.size, np.inf)
    tnode[pos[0]] = network.snap_nodes[pos[1]]
    tleg[pos[0]] = dist / 1000.0 / network.travel.default_speed_kmh * 60.0
    dropped = int(np.isinf(tleg).sum())
    if dropped:
        log.info("%d of %d targets are more than %.0f m from the road graph and cannot be reached",
                 dropped, tgeoms.size, network.travel.access_snap_max_m)
    return tnode, tleg


def _graph_nearest(acc: Access, tgeoms: np.ndarray):
    """Minutes and nearest target position for the snapped sites, by one multi-source Dijkstra."""
    network = acc.network
    tnode, tleg = _snap_targets(network, tgeoms)
    ok = np.isfinite(tleg)
    best = pd.DataFrame({"node": tnode[ok], "leg": tleg[ok], "pos": np.flatnonzero(ok)})
    best = best.sort_values(["leg", "pos"]).drop_duplicates("node").set_index("node")
    source = ("__targets__",)  # temporary super source, removed below; the graph is otherwise untouched
    graph = network.graph
    graph.add_weighted_edges_from(((source, int(k), float(w)) for k, w in best["leg"].items()),
                                  weight="minutes")
    try:
        pred, dist = nx.dijkstra_predecessor_and_distance(graph, source, weight="minutes")
    finally:
        graph.remove_node(source)
    sites = np.flatnonzero(acc.node >= 0)
    minutes = np.full(sites.size, np.nan)
    target = np.full(sites.size, -1, dtype=np.int64)
    for k, i in enumerate(sites):  # candidate sites (tens): walk back to the target that reached them
        node = int(acc.node[i])
        if node not in dist:
            continue
        minutes[k] = dist[node] + acc.leg_min[i]
        while pred[node][0] != source:
            node = pred[node][0]
        target[k] = best.at[node, "pos"]
    return minutes, target


def _fallback_minutes(distance_m: np.ndarray, travel: Travel) -> np.ndarray:
    return distance_m * travel.detour_factor / 1000.0 / travel.fallback_speed_kmh * 60.0


def _target_geoms(targets) -> np.ndarray:
    require_crs(targets, "travel targets")
    return np.asarray(targets.geometry.to_numpy() if hasattr(targets, "geometry") else targets)

"""The road network as a directed graph (a scipy CSR matrix of minutes): one-way rules, speeds, ferries.

Built once per road layer and travel model (docs/TRAVEL.md, "The network model"); routing on it is
`screening.routing`. Nodes are the segments' end points (and vertices shared by two lines, for sources
not already split at junctions); an edge is a stretch of one line between two nodes, in each direction
it may be driven.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_array, csr_array
from scipy.sparse.csgraph import breadth_first_order, connected_components
from scipy.spatial import cKDTree

from screening._geo import require_crs
from screening.config import Travel
from screening.errors import LayerDataError

__all__ = ["RoadNetwork", "build_network", "network_for", "leg_minutes", "ATTRIBUTION"]

log = logging.getLogger(__name__)

ATTRIBUTION = "© OpenStreetMap contributors"
"""ODbL attribution shown wherever the road network is used (cards, maps, pages)."""

_SNAP_GRID_M = 0.1
"""Vertices closer than this (metres, EPSG:25832) are one node; OSM nodes shared by two segments are
identical after reprojection, so they always meet."""
_FORWARD = {"yes", "true", "1", "f"}   # OSM yes/true/1; Geofabrik F: with the drawing direction
_BACKWARD = {"-1", "reverse", "t"}     # OSM -1; Geofabrik T: against the drawing direction
_BOTH = {"no", "false", "0", "b"}      # OSM no; Geofabrik B: both directions
_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 4
_CACHE_LOCK = threading.Lock()  # a preview server scores drafts on several threads


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A directed road graph in minutes, with what is needed to explain and draw a route.

    ``graph`` is an N x N ``csr_array`` (row = from node, column = to node, value = minutes; explicit
    zeros are edges); ``edge_id`` has the same structure and holds the row of ``edges`` of each entry.
    ``edges`` has ``u, v, minutes, length_m, road_class, ref, name, kind`` (``road``, ``ferry`` or
    ``connector``, a ferry end joined to a road node) and ``start, stop`` (vertex range in ``coords``;
    ``stop < start`` when the edge runs against the drawing direction; -1 for connectors). ``node_xy``
    holds the node coordinates (EPSG:25832 metres). ``access_nodes`` are the nodes a site or target may
    reach by an access leg (see `build_network`); ``depart_nodes`` are those from which the rest of the
    network can be reached (where a target or an origin enters), ``arrive_nodes`` those that can be
    reached from it (where a site is arrived at), each with a k-d tree over their points
    (``depart_tree``, ``arrive_tree``; STRtrees of the same points for polygons, ``*_strtree``).
    ``component`` numbers the components of roads and local links, without ferries (-1 for ferry-only
    nodes); ``main_component`` is the largest; ``ferries`` maps each other component to the names of the
    ferries that join it. ``date`` is the road layer's date; ``label`` names the network and its date for
    method texts, in the current language (``travel.network_label``, e.g. "road network, OSM 2023-03-21").
    """

    graph: csr_array
    edge_id: csr_array
    edges: pd.DataFrame
    coords: np.ndarray
    node_xy: np.ndarray
    access_nodes: np.ndarray
    depart_nodes: np.ndarray
    arrive_nodes: np.ndarray
    depart_tree: cKDTree
    arrive_tree: cKDTree
    depart_strtree: shapely.STRtree
    arrive_strtree: shapely.STRtree
    component: np.ndarray
    main_component: int
    ferries: dict[int, tuple[str, ...]]
    travel: Travel
    date: str = ""
    source: str = ""
    stats: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The network and its date in the current language: "road network, OSM 2023-03-21" / "vejnet, OSM
        2023-03-21" (one network serves requests in either language)."""
        return f"{self.travel.network_label} {self.date}".strip()

    @property
    def n_nodes(self) -> int:
        return self.node_xy.shape[0]


def network_for(roads: gpd.GeoDataFrame, travel: Travel) -> RoadNetwork:
    """`build_network`, memoised on the layer's ``attrs["version"]`` and the travel model.

    Catalog layers carry a content hash in ``attrs["version"]``, so a preview server or a screening run
    builds the graph once; a frame without a version is built every time.
    """
    version = (roads.attrs or {}).get("version")
    if not version:
        return build_network(roads, travel)
    key = (version, len(roads), travel.model_dump_json())
    with _CACHE_LOCK:  # one build per layer version, also when requests arrive together
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        net = build_network(roads, travel)
        _CACHE[key] = net
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return net


def build_network(roads: gpd.GeoDataFrame, travel: Travel) -> RoadNetwork:
    """Build the directed road graph of `roads` under the travel model `travel`.

    Edges follow the lines between nodes. A line is driven in its drawing direction and back, except:
    ``oneway`` yes/true/1 (Geofabrik ``F``): forward only; ``-1`` (Geofabrik ``T``): backward only; no
    value on a class of ``oneway_classes`` or a junction of ``oneway_junctions``: forward only, unless
    ``oneway`` is no/false/0 (Geofabrik ``B``). Minutes = length / (speed x factor of the class), speed the
    ``speed_column`` value where > 0, else ``speeds_kmh`` of the class, else ``default_speed_kmh``.
    Ferries (class ``ferry_class``) run both ways at ``ferry_speed_kmh`` on nodes of their own; each
    ferry line end joins the nearest access node within ``ferry_snap_max_m`` by a connector edge: the
    access leg, plus ``ferry_boarding_min`` towards the ferry. Parallel edges keep the fastest.

    Parameters
    ----------
    roads
        (Multi)LineStrings in EPSG:25832 (metres) with the class column ``travel.class_column`` and, where
        present, the speed, oneway and junction columns named in `travel`.
    travel
        The travel model (``layers/criteria.yaml``, ``travel``).

    Returns
    -------
    RoadNetwork

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
    lines = _lines(roads, travel)
    coords, edges = _edges(lines, travel)
    node_xy, edges = _nodes(coords, edges)
    access = _access_nodes(edges, node_xy.shape[0], travel)
    edges = pd.concat([edges, _connectors(edges, node_xy, access, travel), _local_links(node_xy, access, travel)],
                      ignore_index=True)
    graph, edge_id, edges = _matrix(edges, node_xy.shape[0])
    depart, arrive = _connected_access(graph, access)
    component, main, ferries = _components(edges, node_xy.shape[0])
    date = str((roads.attrs or {}).get("date") or "")
    net = RoadNetwork(graph=graph, edge_id=edge_id, edges=edges, coords=coords, node_xy=node_xy,
                      access_nodes=access, depart_nodes=depart, arrive_nodes=arrive,
                      depart_tree=cKDTree(node_xy[depart]), arrive_tree=cKDTree(node_xy[arrive]),
                      depart_strtree=shapely.STRtree(shapely.points(node_xy[depart])),
                      arrive_strtree=shapely.STRtree(shapely.points(node_xy[arrive])),
                      component=component,
                      main_component=main, ferries=ferries, travel=travel,
                      date=date,
                      source=str((roads.attrs or {}).get("source") or ""),
                      stats=_stats(edges, node_xy.shape[0], access, component, main))
    log.info("road network: %s nodes (%s access nodes), %s directed edges, %s km of road, %d ferries; "
             "%d road components, the largest %s nodes", f"{net.n_nodes:,}", f"{access.size:,}",
             f"{len(edges):,}", f"{net.stats['road_km']:,.0f}", net.stats["ferry_lines"],
             net.stats["components"], f"{net.stats['main_nodes']:,}")
    return net


def leg_minutes(distance_m, travel: Travel) -> np.ndarray:
    """Minutes of an access leg: straight-line metres x ``access_detour_factor`` at ``access_speed_kmh``.

    Examples
    --------
    >>> from screening.config import load_criteria
    >>> round(float(leg_minutes(1000.0, load_criteria().travel)), 6)  # 1 km x 1.3 at 50 km/h
    1.56
    """
    return np.asarray(distance_m, dtype=float) * travel.access_detour_factor / (travel.access_speed_kmh / 0.06)


# --------------------------------------------------------------------------- helpers, in call order


def _lines(roads: gpd.GeoDataFrame, travel: Travel) -> pd.DataFrame:
    """One row per LineString part: geometry, class, km/h, may go forward / backward, ref, name."""
    parts, part_of = shapely.get_parts(roads.geometry.to_numpy(), return_index=True)
    keep = (shapely.get_type_id(parts) == shapely.GeometryType.LINESTRING.value) & \
        (shapely.get_num_coordinates(parts) >= 2)
    parts, part_of = parts[keep], part_of[keep]
    if parts.size == 0:
        msg = f"road layer {travel.road_layer!r} has no line with two vertices"
        raise LayerDataError(msg)

    def col(name: str | None) -> pd.Series:
        if name and name in roads.columns:
            return roads[name].astype(object).where(roads[name].notna(), "").astype(str).str.strip()
        return pd.Series("", index=roads.index)

    cls = col(travel.class_column).to_numpy()[part_of]
    speed = pd.to_numeric(roads[travel.speed_column], errors="coerce").to_numpy()[part_of] \
        if travel.speed_column and travel.speed_column in roads.columns else np.full(parts.size, np.nan)
    by_class = pd.Series(cls).map(travel.speeds_kmh).astype(float).fillna(travel.default_speed_kmh).to_numpy()
    speed = np.where(np.isfinite(speed) & (speed > 0), speed, by_class)
    speed = speed * pd.Series(cls).map(travel.speed_factors).astype(float).fillna(1.0).to_numpy()
    oneway = col(travel.oneway_column).str.lower().to_numpy()[part_of]
    junction = col(travel.junction_column).str.lower().to_numpy()[part_of]
    implied = np.isin(cls, travel.oneway_classes) | np.isin(junction, travel.oneway_junctions)
    forward_only = np.isin(oneway, list(_FORWARD)) | (implied & ~np.isin(oneway, list(_BOTH | _BACKWARD)))
    backward_only = np.isin(oneway, list(_BACKWARD))
    ferry = cls == travel.ferry_class
    return pd.DataFrame({
        "geometry": parts, "road_class": cls, "speed_kmh": speed, "ferry": ferry,
        "forward": ~backward_only | ferry, "backward": ~forward_only | ferry,
        "ref": col("ref").to_numpy()[part_of], "name": col("name").to_numpy()[part_of],
    })


def _edges(lines: pd.DataFrame, travel: Travel) -> tuple[np.ndarray, pd.DataFrame]:
    """Vertex coordinates and the directed edges between node vertices (``a``, ``b``: vertex positions).

    A vertex is a node when it ends its line or when another vertex lies on it (same 0.1 m cell; ferry
    vertices only meet ferry vertices). Minutes from the length between the two vertices along the line.
    """
    coords, line = shapely.get_coordinates(lines["geometry"].to_numpy(), return_index=True)
    q = np.round(coords / _SNAP_GRID_M).astype(np.int64)
    is_ferry = lines["ferry"].to_numpy()[line]
    key = pd.MultiIndex.from_arrays([q[:, 0], q[:, 1], is_ferry])
    vid, _ = pd.factorize(key)
    shared = np.bincount(vid)[vid] > 1
    same_next = np.r_[line[1:] == line[:-1], False]
    first = ~np.r_[False, same_next[:-1]]
    is_node = first | ~same_next | shared
    seg = np.where(same_next[:-1], np.hypot(*np.diff(coords, axis=0).T), 0.0)
    cum = np.r_[0.0, np.cumsum(seg)]
    p = np.flatnonzero(is_node)
    keep = line[p[1:]] == line[p[:-1]]
    a, b = p[:-1][keep], p[1:][keep]
    li = line[a]
    length = cum[b] - cum[a]
    ferry = lines["ferry"].to_numpy()[li]
    minutes = np.where(ferry, length / (travel.ferry_speed_kmh / 0.06),
                       length / (lines["speed_kmh"].to_numpy()[li] / 0.06))
    base = pd.DataFrame({"a": a, "b": b, "minutes": minutes, "length_m": length,
                         "road_class": lines["road_class"].to_numpy()[li], "ref": lines["ref"].to_numpy()[li],
                         "name": lines["name"].to_numpy()[li], "kind": np.where(ferry, "ferry", "road"),
                         "vid_a": vid[a], "vid_b": vid[b]})
    fwd = base.loc[lines["forward"].to_numpy()[li]].assign(u=lambda d: d["vid_a"], v=lambda d: d["vid_b"],
                                                            start=lambda d: d["a"], stop=lambda d: d["b"])
    bwd = base.loc[lines["backward"].to_numpy()[li]].assign(u=lambda d: d["vid_b"], v=lambda d: d["vid_a"],
                                                             start=lambda d: d["b"], stop=lambda d: d["a"])
    edges = pd.concat([fwd, bwd], ignore_index=True).drop(columns=["a", "b", "vid_a", "vid_b"])
    return coords, edges.assign(_vid_count=int(vid.max()) + 1)


def _nodes(coords: np.ndarray, edges: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Renumber the vertex ids used by edges as nodes 0..N-1; their coordinates."""
    used, inverse = np.unique(np.r_[edges["u"].to_numpy(), edges["v"].to_numpy()], return_inverse=True)
    n = len(edges)
    edges = edges.drop(columns="_vid_count").assign(u=inverse[:n], v=inverse[n:])
    xy = np.empty((used.size, 2))
    xy[edges["u"].to_numpy()] = coords[edges["start"].to_numpy()]
    xy[edges["v"].to_numpy()] = coords[edges["stop"].to_numpy()]
    return xy, edges


def _access_nodes(edges: pd.DataFrame, n: int, travel: Travel) -> np.ndarray:
    """Road nodes a site or target may reach by an access leg: every road node but those on a road of
    ``access_excluded_classes`` (a motorway is entered only by its ramps; a ramp meets the local road at
    one of its own nodes, which the main-road data often lacks)."""
    road = edges.loc[edges["kind"] == "road"]
    touched = np.zeros(n, dtype=bool)
    touched[road["u"].to_numpy()] = touched[road["v"].to_numpy()] = True
    barred = road["road_class"].isin(travel.access_excluded_classes).to_numpy()
    touched[road["u"].to_numpy()[barred]] = False
    touched[road["v"].to_numpy()[barred]] = False
    return np.flatnonzero(touched)


def _connected_access(graph: csr_array, access: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Access nodes that can reach the largest strongly connected component (ferries included), and
    those it reaches: a target departs only from the first, a site is arrived at only on the second, so
    no route is cut off by a fragment or a one-way stub."""
    if access.size == 0:
        return access, access
    _, label = connected_components(graph, directed=True, connection="strong")
    seed = int(access[np.argmax(np.bincount(label)[label[access]])])  # an access node of the largest component
    reached = np.zeros(graph.shape[0], dtype=bool)
    reached[breadth_first_order(graph, seed, directed=True, return_predecessors=False)] = True
    reaching = np.zeros(graph.shape[0], dtype=bool)
    reaching[breadth_first_order(graph.T.tocsr(), seed, directed=True, return_predecessors=False)] = True
    depart, arrive = access[reaching[access]], access[reached[access]]
    log.info("road network: of %d access nodes, %d reach the main network and %d are reached from it "
             "(the others lie on fragments or one-way stubs)", access.size, depart.size, arrive.size)
    return depart, arrive


def _connectors(edges: pd.DataFrame, node_xy: np.ndarray, access: np.ndarray, travel: Travel) -> pd.DataFrame:
    """Edges joining each ferry line end to its nearest access node within ``ferry_snap_max_m``."""
    ferry = edges.loc[edges["kind"] == "ferry"]
    cols = ["u", "v", "minutes", "length_m", "road_class", "ref", "name", "kind", "start", "stop"]
    if ferry.empty or access.size == 0:
        return pd.DataFrame(columns=cols)
    ends = np.unique(np.r_[ferry["u"].to_numpy(), ferry["v"].to_numpy()])
    dist, pos = cKDTree(node_xy[access]).query(node_xy[ends], distance_upper_bound=travel.ferry_snap_max_m)
    ok = np.isfinite(dist)
    term, road, dist = ends[ok], access[pos[ok]], dist[ok]
    names = ferry.groupby("u")["name"].first()
    name = pd.Series(term).map(names).fillna("").to_numpy()
    leg = leg_minutes(dist, travel)
    board = pd.DataFrame({"u": road, "v": term, "minutes": leg + travel.ferry_boarding_min, "length_m": dist,
                          "road_class": "connector", "ref": "", "name": name, "kind": "connector",
                          "start": -1, "stop": -1})
    alight = board.assign(u=term, v=road, minutes=leg)
    log.info("ferries: %d of %d ferry ends joined to a road node within %.0f m", ok.sum(), ends.size,
             travel.ferry_snap_max_m)
    return pd.concat([board, alight], ignore_index=True)[cols]


def _local_links(node_xy: np.ndarray, access: np.ndarray, travel: Travel) -> pd.DataFrame:
    """Edges (both ways) from each access node to its ``local_link_k`` nearest access nodes within
    ``local_link_max_m``, at the access-leg speed: the local roads the main-road network lacks, so that a
    ramp ending on a local road leads on to the ramps and main roads beside it (and a U-turn is local)."""
    cols = ["u", "v", "minutes", "length_m", "road_class", "ref", "name", "kind", "start", "stop"]
    k = travel.local_link_k
    if k == 0 or access.size < 2:
        return pd.DataFrame(columns=cols)
    dist, pos = cKDTree(node_xy[access]).query(node_xy[access], k=k + 1, distance_upper_bound=travel.local_link_max_m)
    rows = np.repeat(np.arange(access.size), k + 1)
    ok = np.isfinite(dist.ravel()) & (pos.ravel() != rows)
    u, v, d = access[rows[ok]], access[pos.ravel()[ok]], dist.ravel()[ok]
    leg = leg_minutes(d, travel)
    links = pd.DataFrame({"u": np.r_[u, v], "v": np.r_[v, u], "minutes": np.r_[leg, leg],
                          "length_m": np.r_[d, d]})
    return links.assign(road_class="local", ref="", name="", kind="local", start=-1, stop=-1)[cols]


def _matrix(edges: pd.DataFrame, n: int) -> tuple[csr_array, csr_array, pd.DataFrame]:
    """Keep the fastest of parallel edges; the minutes matrix and the edge-row matrix (same structure)."""
    edges = (edges.assign(u=edges["u"].astype(np.int64), v=edges["v"].astype(np.int64))
             .sort_values(["u", "v", "minutes"], kind="stable").drop_duplicates(["u", "v"])
             .reset_index(drop=True))
    u, v = edges["u"].to_numpy(), edges["v"].to_numpy()
    graph = coo_array((edges["minutes"].to_numpy(dtype=float), (u, v)), shape=(n, n)).tocsr()
    edge_id = coo_array((np.arange(len(edges)), (u, v)), shape=(n, n)).tocsr()
    graph.sort_indices()
    edge_id.sort_indices()
    return graph, edge_id, edges


def _components(edges: pd.DataFrame, n: int) -> tuple[np.ndarray, int, dict[int, tuple[str, ...]]]:
    """Components of roads and local links (no ferries); the largest; the ferries joining each other one."""
    road = edges.loc[edges["kind"].isin(("road", "local"))]
    touched = np.zeros(n, dtype=bool)
    touched[road["u"].to_numpy()] = touched[road["v"].to_numpy()] = True
    adj = coo_array((np.ones(len(road)), (road["u"].to_numpy(), road["v"].to_numpy())), shape=(n, n))
    _, label = connected_components(adj, directed=True, connection="weak")
    label = np.where(touched, label, -1)
    main = int(np.bincount(label[touched]).argmax()) if touched.any() else -1
    conn = edges.loc[edges["kind"] == "connector"]
    comp = label[conn["u"].to_numpy()]
    ferries = (pd.DataFrame({"c": comp, "name": conn["name"].to_numpy()})
               .query("c >= 0 and c != @main and name != ''").groupby("c")["name"]
               .agg(lambda s: tuple(sorted(set(s)))))
    return label, main, {int(k): v for k, v in ferries.items()}


def _stats(edges: pd.DataFrame, n: int, access: np.ndarray, component: np.ndarray, main: int) -> dict:
    road = edges["kind"] == "road"
    comps = component[component >= 0]
    return {"nodes": n, "access_nodes": int(access.size), "edges": len(edges),
            "road_km": float(edges.loc[road, "length_m"].sum() / 1000.0),  # directed: two-way roads twice
            "ferry_lines": int(edges.loc[edges["kind"] == "ferry", "name"].nunique()),
            "components": int(np.unique(comps).size), "main_nodes": int((component == main).sum())}

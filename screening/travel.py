"""Travel minutes for scoring: over the road network where a road layer resolves, else straight line x detour.

The network model and its engine are `screening.road_network` and `screening.routing`; this module is what
the scoring asks: minutes from the nearest target to each site, and the targets within X minutes of it,
each with the method text that explains it ("road network, OSM 2023-03-21, + 2.1 km access leg"). The
straight-line fallback serves only a run without a road layer, and says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from screening import _target_times as _target_times_mod
from screening import routing
from screening._geo import require_crs
from screening.config import Travel
from screening.i18n import N_, fmt_number
from screening.i18n import gettext as _
from screening.road_network import ATTRIBUTION, RoadNetwork, build_network, network_for

__all__ = ["Access", "access", "nearest_minutes", "reach", "reach_text", "with_road_source", "template_labels",
           "fallback_method", "method_text", "method_direct", "nearest_distance", "build_network", "network_for"]

log = logging.getLogger(__name__)

NO_ROAD_LAYER = N_("no road layer")
"""Why the straight-line fallback is used when the run has no road layer (translated where shown)."""


@dataclass(frozen=True)
class Access:
    """How each site reaches the road network (``places``; None without a network) and the method text of
    each site (``method``): the network and its date with the site's shortest access leg, or the fallback.
    Target times are computed up to ``cutoff_min`` and kept per network and targets
    (`screening._target_times`), for the next criterion, run or preview on the same targets."""

    geoms: np.ndarray
    network: RoadNetwork | None
    places: routing.Access | None
    method: np.ndarray
    travel: Travel
    cutoff_min: float = 0.0


def access(sites, *, travel: Travel, network: RoadNetwork | None = None, cutoff_min: float = 0.0) -> Access:
    """Find each site's access nodes on `network` (role ``arrive``: the site is reached from the network).

    Parameters
    ----------
    sites
        GeoSeries/GeoDataFrame of site (multi)polygons in EPSG:25832.
    travel
        The travel model.
    network
        The road network (`network_for`); None uses the straight-line fallback for every site.
    cutoff_min
        The largest "within X minutes" that will be asked: target times are computed once up to it and
        reused by every reach criterion on the same targets.

    Returns
    -------
    Access
    """
    require_crs(sites, "candidate sites")
    geoms = np.asarray(sites.geometry.to_numpy() if hasattr(sites, "geometry") else sites)
    if network is None:
        return Access(geoms, None, None, np.full(geoms.size, fallback_method(travel), dtype=object), travel,
                      float(cutoff_min))
    places = routing.access(network, geoms, role="arrive")
    first = places.leg_m[:, 0] if places.node.shape[1] else np.full(geoms.size, np.inf)
    return Access(geoms, network, places, method_text(network, first, places.node[:, 0]), travel, float(cutoff_min))


def nearest_minutes(acc: Access, targets) -> pd.DataFrame:
    """Minutes from the nearest target to each site (one multi-source Dijkstra from all targets).

    On the network a target departs from its access nodes (a point on a graph node, such as a motorway
    exit, from that node) and the site is arrived at through the fastest of its access nodes; without a
    network, straight line x detour factor at the fallback speed.

    Returns
    -------
    pandas.DataFrame
        One row per site (positional): ``travel_min`` (NaN when unreachable), ``target`` (position in
        `targets`, -1 when none), ``method`` (str, the access leg actually used), ``leg_m``.
    """
    tgeoms = _target_geoms(targets)
    n = acc.geoms.size
    out = pd.DataFrame({"travel_min": np.full(n, np.nan), "target": np.full(n, -1, dtype=np.int64),
                        "method": acc.method.copy(), "leg_m": np.full(n, np.nan)})
    if n == 0 or tgeoms.size == 0:
        return out
    if acc.network is None:
        dist, which = nearest_distance(acc.geoms, tgeoms)
        out["travel_min"] = _fallback_minutes(dist, acc.travel)
        out["target"] = which
        return out
    net = acc.network
    times = _target_times_mod.nearest_times(net, tgeoms)  # kept per network and targets
    direct = routing.direct_for(net, tgeoms, place_geoms=acc.geoms)
    minutes, target, slot, straight = routing.nearest_with_direct(times, acc.places, direct)
    ok = np.isfinite(minutes) & acc.places.reachable
    rows, used = np.arange(n), np.maximum(slot, 0)
    leg = np.where(slot >= 0, acc.places.leg_m[rows, used], np.nan)
    method = method_text(net, leg, np.where(slot >= 0, acc.places.node[rows, used], -1))
    method[slot < 0] = method_direct(net, straight[slot < 0])
    out.loc[ok, "travel_min"] = minutes[ok]
    out.loc[ok, "target"] = target[ok]
    out.loc[ok, "leg_m"] = leg[ok]
    out.loc[ok, "method"] = method[ok]
    return out


def reach(acc: Access, targets, within_min: float, *, values=None, labels=None) -> pd.DataFrame:
    """Sum of `values` and count of the targets from which each site is reached within `within_min` minutes.

    On the network, a target counts when its fastest time to the site (its access leg, the network, the
    site's access leg; the best of every pair of their access nodes) is at most `within_min` (inclusive);
    bounded Dijkstra runs from the targets (`screening.routing.target_times`), then `routing.catchment`.
    Without a network: targets within the straight-line radius ``within_min`` x fallback speed / detour.

    Parameters
    ----------
    values
        Per-target numbers (e.g. population); NaN counts as 0. None: count only (``reach_sum`` = count).
    labels
        Per-target names: ``counted`` lists the three largest (by value) of those counted.

    Returns
    -------
    pandas.DataFrame
        One row per site (positional): ``reach_sum`` (float), ``reach_count`` (Int64), ``method``,
        ``counted`` (str); both NA for a site with no road node within ``access_snap_max_m``.
    """
    tgeoms = _target_geoms(targets)
    vals = np.ones(tgeoms.size) if values is None else np.nan_to_num(np.asarray(values, dtype=float))
    n = acc.geoms.size
    total, count = np.zeros(n), np.zeros(n, dtype=np.int64)
    pairs = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    method = acc.method.copy()
    if acc.network is None and tgeoms.size and n:
        radius_m = within_min / 60.0 * acc.travel.fallback_speed_kmh * 1000.0 / acc.travel.detour_factor
        pairs = shapely.STRtree(tgeoms).query(acc.geoms, predicate="dwithin", distance=radius_m)
        total = np.bincount(pairs[0], weights=vals[pairs[1]], minlength=n)
        count = np.bincount(pairs[0], minlength=n)
    elif tgeoms.size and n:
        times = _target_times(acc, tgeoms, within_min)
        direct = routing.direct_for(acc.network, tgeoms, place_geoms=acc.geoms)
        total, count, pairs = routing.catchment(times, vals, acc.places, within_min, direct=direct, with_pairs=True)
    out = pd.DataFrame({"reach_sum": total, "reach_count": pd.array(count, dtype="Int64"), "method": method,
                        "counted": _counted(n, pairs, vals, labels)})
    if acc.places is not None:  # a site with no road node within reach is not assessed
        out.loc[~acc.places.reachable, ["reach_sum", "reach_count"]] = pd.NA
    return out


def reach_text(got: pd.DataFrame, layer: str, within_min: float) -> list[str]:
    """The breakdown's ``nearest`` of a reach criterion: ``"12 of towns within 30 min: Aarhus, Horsens, …"``,
    in the current language (numbers formatted for it; `layer` is the layer id)."""
    out = []
    limit = _g(within_min)
    for k, names in zip(got["reach_count"], got["counted"], strict=True):  # one line per candidate site
        if pd.isna(k):
            out.append("")
        elif names:
            more = ", …" if int(k) > 3 else ""
            out.append(_("%(count)s of %(layer)s within %(minutes)s min: %(names)s", count=fmt_number(int(k)),
                         layer=layer, minutes=limit, names=names + more))
        else:
            out.append(_("%(count)s of %(layer)s within %(minutes)s min", count=fmt_number(int(k)), layer=layer,
                         minutes=limit))
    return out


def with_road_source(source, acc: Access | None):
    """The target layer's source with the road network's attribution (ODbL) appended, when one was used."""
    if acc is None or acc.network is None:
        return source
    roads = acc.network.source or f"{ATTRIBUTION}, ODbL"
    if not str(source):
        return _("roads: %(roads)s", roads=roads)
    return source if str(source) == roads else _("%(source)s; roads: %(roads)s", source=source, roads=roads)


def template_labels(feats, template: str) -> np.ndarray:
    """Labels from a template over columns, e.g. ``"afkørsel {ref} {name}"`` -> ``"afkørsel 56 Horsens V"``;
    empty or missing fields are left out, and a label with no field filled is ``"(unnamed)"`` (in the current
    language) after the fixed words (``"afkørsel (unnamed)"``).

    Examples
    --------
    >>> import pandas as pd
    >>> exits = pd.DataFrame({"ref": ["56", None], "name": ["Horsens V", None]})
    >>> template_labels(exits, "afkørsel {ref} {name}").tolist()
    ['afkørsel 56 Horsens V', 'afkørsel (unnamed)']
    """
    import string

    n = len(feats)
    text = pd.Series([""] * n, dtype=object)
    fixed, filled = "", np.zeros(n, dtype=bool)
    for literal, name, _spec, _conv in string.Formatter().parse(template):  # the template's few pieces
        text, fixed = text + literal, fixed + literal
        if name:
            col = (feats[name].astype(object).where(feats[name].notna(), "").astype(str).str.strip()
                   if name in feats.columns else pd.Series([""] * n, dtype=object))
            text = text + col.reset_index(drop=True).to_numpy()
            filled |= (col != "").to_numpy()
    text = text.str.split().str.join(" ").to_numpy(dtype=object)
    fixed = " ".join(fixed.split())
    unnamed = _("(unnamed)")
    return np.where(filled, np.asarray(text, dtype=object), f"{fixed} {unnamed}".strip())


def method_direct(network: RoadNetwork, straight_m: np.ndarray) -> np.ndarray:
    """Method text where the direct leg beats the network: ``"road network, OSM 2023-03-21: direct,
    1.2 km straight line × 1.3 at 50 km/h (local roads)"`` (current language)."""
    t = network.travel
    label, detour, speed = network.label, _g(t.access_detour_factor), _g(t.access_speed_kmh)
    return _per_km(straight_m, lambda km: _("%(network)s: direct, %(km)s straight line × %(detour)s at %(speed)s "
                                            "km/h (local roads)", network=label, km=km, detour=detour, speed=speed))


def method_text(network: RoadNetwork, leg_m: np.ndarray, node: np.ndarray) -> np.ndarray:
    """Per site: ``"road network, OSM 2023-03-21, + 2.1 km access leg"``, with the ferries when the site's
    roads reach the rest of the network only by ferry, or why there is no road access (current language)."""
    leg_m, node = np.asarray(leg_m, dtype=float), np.asarray(node)
    label = network.label
    text = _per_km(np.where(np.isfinite(leg_m), leg_m, 0.0),
                   lambda km: _("%(network)s, + %(leg)s access leg", network=label, leg=km))
    comp = np.where(node >= 0, network.component[np.maximum(node, 0)], network.main_component)
    for c, names in network.ferries.items():  # the few road components joined only by ferry (Bornholm)
        here = comp == c
        if here.any():
            text[here] = [_("%(method)s; its roads reach the rest of Denmark only by ferry (%(ferries)s)", method=m,
                            ferries=", ".join(names)) for m in text[here]]  # the sites on that island
    none = node < 0
    text[none] = _("%(network)s: no road node within %(limit)s m of the site", network=label,
                   limit=fmt_number(network.travel.access_snap_max_m))
    return text


def fallback_method(travel: Travel, *, reason: str = NO_ROAD_LAYER) -> str:
    """Method text of the straight-line fallback: ``"straight line × 1.3 at 60 km/h (no road layer)"``
    (current language; `reason` is translated when it is a marked text such as `NO_ROAD_LAYER`)."""
    return _("straight line × %(detour)s at %(speed)s km/h (%(reason)s)", detour=_g(travel.detour_factor),
             speed=_g(travel.fallback_speed_kmh), reason=_(reason))


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


def _target_times(acc: Access, tgeoms: np.ndarray, within_min: float) -> routing.TargetTimes:
    """Bounded runs from the targets, computed once per network and targets and kept
    (`screening._target_times`): a later criterion, run or preview on the same targets reuses them."""
    return _target_times_mod.target_times(acc.network, tgeoms, max(within_min, acc.cutoff_min))


def _counted(n: int, pairs, values: np.ndarray, labels) -> np.ndarray:
    """Per site, the labels of the three largest counted targets, ", "-joined ("" without labels)."""
    out = np.full(n, "", dtype=object)
    if labels is None or len(pairs[0]) == 0:
        return out
    names = np.asarray(pd.Series(labels).astype(object).where(pd.Series(labels).notna(), _("unnamed")).astype(str))
    frame = pd.DataFrame({"site": pairs[0], "value": values[pairs[1]], "name": names[pairs[1]]})
    top = (frame.sort_values(["site", "value", "name"], ascending=[True, False, True])
           .drop_duplicates(["site", "name"]).groupby("site", sort=False).head(3)
           .groupby("site")["name"].agg(", ".join))
    out[top.index.to_numpy()] = top.to_numpy()
    return out


def _g(x: float) -> str:
    """A model parameter as ``:g`` writes it (1.3, 50), with the current language's decimal mark."""
    decimals = len(f"{float(x):g}".partition(".")[2])
    return fmt_number(float(x), decimals)


def _per_km(metres: np.ndarray, sentence) -> np.ndarray:
    """``sentence(km_text)`` per element of `metres` (rounded to 0.1 km as ``%.1f`` rounds), each distinct
    distance written once; an object array of the shape of `metres`."""
    km = np.char.mod("%.1f", np.asarray(metres, dtype=float) / 1000.0)
    uniq, inverse = np.unique(km, return_inverse=True)
    texts = np.array([sentence(f"{fmt_number(float(v), 1)} km") for v in uniq], dtype=object)  # a few distinct
    return texts[inverse.reshape(km.shape)]


def _fallback_minutes(distance_m: np.ndarray, travel: Travel) -> np.ndarray:
    return distance_m * travel.detour_factor / 1000.0 / travel.fallback_speed_kmh * 60.0


def _target_geoms(targets) -> np.ndarray:
    require_crs(targets, "travel targets")
    return np.asarray(targets.geometry.to_numpy() if hasattr(targets, "geometry") else targets)

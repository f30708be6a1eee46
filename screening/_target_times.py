"""Target times kept across runs: minutes from a layer's targets to the nodes of the road network.

The minutes from the targets of a travel criterion (motorway exits, towns, education institutions,
business areas) to every node of the network do not depend on the sites, so they are computed once and
kept: a preview server computes them at start-up (`prepare`, before it forks its workers, which share
them copy-on-write) and a preview then only adds the site's access legs and looks the node times up; a
screening run reuses them for every criterion, scenario and reference set on the same targets. They are
the very arrays `screening.routing.target_times` and `routing.nearest_times` return - one travel model,
kept, not a second one.

Kept per network object (one per road layer version and travel model, `road_network.network_for`; the
travel model holds the access parameters), under a digest of the targets' geometries (the layer version
after the criterion's filter: other targets, other key) and for the largest limit asked. A criterion with
a smaller limit is served by times bounded at a larger one: `routing.catchment` counts only the times
within its own limit, so the answer is the same.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np
import shapely

from screening import _kept, routing
from screening.road_network import RoadNetwork, network_for

__all__ = ["target_key", "target_times", "nearest_times", "prepare", "clear", "kept", "PER_NETWORK"]

log = logging.getLogger(__name__)

PER_NETWORK = 16
"""Most target sets kept per network (least recently used dropped): a screening has about five."""

_KEPT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # network -> OrderedDict[(kind, key), times]
_LOCK = threading.Lock()  # held for dictionary updates only, never while computing (a fork never inherits it held)


def target_key(target_geoms) -> str:
    """Digest of the targets' geometries (their WKB, in order): what the kept times are stored under."""
    geoms = np.asarray(target_geoms, dtype=object)
    return hashlib.sha1(b"".join(shapely.to_wkb(geoms)) + str(geoms.size).encode()).hexdigest()


def target_times(network: RoadNetwork, target_geoms, limit_min: float, *,
                 key: str | None = None) -> routing.TargetTimes:
    """`routing.target_times` of the targets (their depart access, on-node for points), kept.

    Parameters
    ----------
    network
        The road network.
    target_geoms
        The targets' geometries, EPSG:25832.
    limit_min
        The largest time asked; kept times bounded at this or more are returned as they are.
    key
        `target_key` of `target_geoms` when the caller has it.

    Returns
    -------
    routing.TargetTimes
        With ``limit_min`` >= `limit_min`. Shared: do not modify.
    """
    key = key or target_key(target_geoms)
    got = _get(network, ("target", key))
    if got is not None and got.limit_min >= limit_min:
        return got
    targets = routing.access(network, np.asarray(target_geoms, dtype=object), role="depart", on_node=True)
    times = routing.target_times(network, targets, limit_min)
    _put(network, ("target", key), times, replace=lambda old: old.limit_min < times.limit_min)
    return times


def nearest_times(network: RoadNetwork, target_geoms, *, key: str | None = None) -> routing.NodeTimes:
    """`routing.nearest_times` of the targets (their depart access, on-node for points), kept. Shared: do not
    modify."""
    key = key or target_key(target_geoms)
    got = _get(network, ("nearest", key))
    if got is None:
        targets = routing.access(network, np.asarray(target_geoms, dtype=object), role="depart", on_node=True)
        got = routing.nearest_times(network, targets)
        _put(network, ("nearest", key), got)
    return got


def prepare(layers: Mapping, criteria) -> int:
    """Compute and keep the target times of every travel criterion of `criteria` on `layers` (the road
    network built first), as the scoring will ask for them; returns how many target sets were computed.

    A preview server calls this at start-up, before forking workers. A criterion whose layer is missing, or
    whose filter keeps nothing, is skipped (the scoring does not travel for it either).
    """
    cfg = criteria.travel
    used = [c for c in criteria.criteria if c.measure in ("travel_time", "reach_sum", "reach_count")
            and c.layer in layers]  # the few travel criteria
    if not used or cfg.road_layer not in layers:
        return 0
    network = network_for(layers[cfg.road_layer], cfg)
    cutoff = max((c.within_min or 0.0) for c in used)  # as `travel.access` is given by the scoring
    made = 0
    for crit in used:  # about four criteria
        feats = layers[crit.layer]
        if crit.filter.where or crit.filter.require:
            feats = _kept.filtered(feats, crit.filter, what=f"layer {crit.layer!r} (criterion {crit.id})")
        if feats.empty:
            continue
        geoms = feats.geometry.to_numpy()
        key = target_key(geoms)
        if crit.measure == "travel_time":
            made += _get(network, ("nearest", key)) is None
            nearest_times(network, geoms, key=key)
        else:
            limit = max(crit.within_min, cutoff)
            have = _get(network, ("target", key))
            made += have is None or have.limit_min < limit
            target_times(network, geoms, limit, key=key)
    log.info("target times of %d travel criteria ready (%d target sets computed)", len(used), made)
    return made


def clear() -> None:
    """Forget every kept time (tests, benchmarks)."""
    with _LOCK:
        _KEPT.clear()


def kept(network: RoadNetwork) -> dict:
    """What is kept for `network`: (kind, key) -> ``limit_min`` (inf for nearest times)."""
    with _LOCK:
        per = _KEPT.get(network, {})
        return {k: getattr(v, "limit_min", np.inf) for k, v in per.items()}


# --------------------------------------------------------------------------- helpers


def _get(network: RoadNetwork, key: tuple):
    with _LOCK:
        per = _KEPT.get(network)
        if per is None or key not in per:
            return None
        per.move_to_end(key)
        return per[key]


def _put(network: RoadNetwork, key: tuple, value, *, replace=lambda old: False) -> None:
    with _LOCK:
        per = _KEPT.setdefault(network, OrderedDict())
        if key not in per or replace(per[key]):
            per[key] = value
        per.move_to_end(key)
        while len(per) > PER_NETWORK:
            per.popitem(last=False)

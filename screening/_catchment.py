"""Exact catchments: which targets reach each place within X minutes, over all of its access nodes.

Internal to `screening.routing` (the vector scoring) and `screening._raster_travel` (the surface): one
function, so a raster cell and a site are counted by the same code. A target reaches a place when
min over the place's access slots s of (target -> node_s) + leg_s <= X: the union over the place's
nodes, not the best single node.
"""

from __future__ import annotations

import numpy as np

__all__ = ["catchment", "EPS_MIN"]

EPS_MIN = 1e-9
"""A place is within X minutes when its time is <= X + EPS_MIN (sums of floating-point minutes)."""
_CHUNK = 2_000_000  # (group x slot x target) minutes held at once


def catchment(times, values: np.ndarray, places, within_min: float, *, groups: np.ndarray | None = None,
              with_pairs: bool = False):
    """Sum of `values` and count of the targets from which each place is reached within `within_min`.

    `times` (`screening.routing.TargetTimes`) holds every target's minutes to the nodes within its limit;
    `places` (`screening.routing.Access`) the places' access nodes and legs. `groups` (optional) numbers
    places that share the same node in every slot (raster cells of one block with the same nearest
    nodes): per group and target, the times with the group's smallest and with its largest legs decide
    most targets for all its places at once (a dense group x slot x target table of minutes); only the
    targets between the two are checked place by place. The answer is the same with or without groups.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray[, (numpy.ndarray, numpy.ndarray)])
        Sums (float) and counts (int) per place and, with `with_pairs`, the (place, target) pairs counted.
    """
    if within_min > times.limit_min + EPS_MIN:
        msg = f"catchment within {within_min} min asked of target times bounded at {times.limit_min} min"
        raise ValueError(msg)
    values = np.nan_to_num(np.asarray(values, dtype=float))
    n, m = places.n, times.n_targets
    sums, counts = np.zeros(n), np.zeros(n, dtype=np.int64)
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    if n == 0 or m == 0:
        return (sums, counts, _joined(pairs)) if with_pairs else (sums, counts)
    g = np.arange(n) if groups is None else np.asarray(groups)
    order = np.argsort(g, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(g[order])) + 1]
    size = np.diff(np.r_[starts, n])
    gnode = places.node[order[starts]]
    lmin = np.minimum.reduceat(places.leg_min[order], starts, axis=0)
    lmax = np.maximum.reduceat(places.leg_min[order], starts, axis=0)
    table, row, cols = _table(times, gnode)
    vals, m = values[cols], cols.size
    bound = within_min + EPS_MIN
    gsum, gcount = np.zeros(starts.size), np.zeros(starts.size, dtype=np.int64)
    step = max(1, _CHUNK // (gnode.shape[1] * max(m, 1)))
    for lo_g in range(0, starts.size, step):  # chunks of groups, bounded memory
        sub = np.arange(lo_g, min(starts.size, lo_g + step))
        d = table[row[sub]]  # (groups, slots, targets) minutes, inf where unreached
        sure = (d + lmax[sub][:, :, None]).min(axis=1) <= bound
        maybe = ((d + lmin[sub][:, :, None]).min(axis=1) <= bound) & ~sure
        gsum[sub], gcount[sub] = sure @ vals, sure.sum(axis=1)
        if with_pairs:
            gi, ti = np.nonzero(sure)
            r = _members(sub[gi], order, starts, size)
            pairs.append((r, np.repeat(cols[ti], size[sub[gi]])))
        gi, ti = np.nonzero(maybe)
        if gi.size:  # targets near the limit for some places of the group: place by place
            r = _members(sub[gi], order, starts, size)
            pair = np.repeat(np.arange(gi.size), size[sub[gi]])
            hit = (d[gi[pair], :, ti[pair]] + places.leg_min[r]).min(axis=1) <= bound
            sums += np.bincount(r[hit], weights=vals[ti[pair[hit]]], minlength=n)
            counts += np.bincount(r[hit], minlength=n)
            if with_pairs:
                pairs.append((r[hit], cols[ti[pair[hit]]]))
    sums[order] += np.repeat(gsum, size)
    counts[order] += np.repeat(gcount, size)
    return (sums, counts, _joined(pairs)) if with_pairs else (sums, counts)


def _table(times, gnode: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense minutes (node row x target) of the nodes the groups use, with a last all-inf row for an
    empty slot; each group slot's row in it; only the targets reaching one of these nodes (``cols``)."""
    used = np.unique(gnode[gnode >= 0])
    table = np.full((used.size + 1, times.n_targets), np.inf)
    cnt = times.ptr[used + 1] - times.ptr[used]
    pos = np.repeat(times.ptr[used], cnt) + np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    table[np.repeat(np.arange(used.size), cnt), times.target[pos]] = times.minutes[pos]
    row = np.where(gnode >= 0, np.searchsorted(used, np.maximum(gnode, 0)), used.size)
    cols = np.flatnonzero(np.isfinite(table).any(axis=0))
    return np.ascontiguousarray(table[:, cols]), row, cols


def _members(group: np.ndarray, order: np.ndarray, starts: np.ndarray, size: np.ndarray) -> np.ndarray:
    """The places of each listed group, concatenated in the listed order."""
    w = size[group]
    return order[np.repeat(starts[group], w) + np.arange(w.sum()) - np.repeat(np.cumsum(w) - w, w)]


def _joined(pairs):
    if not pairs:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])

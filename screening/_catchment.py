"""Exact catchments: which targets reach each place within X minutes, over all of its access nodes.

Internal to `screening.routing` (the vector scoring) and `screening._raster_travel` (the surface): one
function, so a raster cell and a site are counted by the same code. A target reaches a place when
min(min over the place's access slots s of (target -> node_s) + leg_s, the direct leg between them) <= X:
the union over the place's nodes, not the best single node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

__all__ = ["catchment", "Direct", "EPS_MIN"]

EPS_MIN = 1e-9
"""A place is within X minutes when its time is <= X + EPS_MIN (sums of floating-point minutes)."""
_CHUNK = 2_000_000  # (group x slot x target) minutes held at once


@dataclass(frozen=True)
class Direct:
    """The direct leg between a place and a target: their straight-line distance (metres, exact, 0 when
    they meet) x `min_per_m`, the local roads between them, for distances up to `max_m` (none beyond).
    Places are given as geometries (`place_geoms`) or, for raster cells, as point coordinates
    (`place_xy`, (n, 2)); targets as geometries."""

    min_per_m: float
    target_geoms: np.ndarray
    place_geoms: np.ndarray | None = None
    place_xy: np.ndarray | None = None
    max_m: float = np.inf
    target_xy: np.ndarray | None = field(default=None, repr=False)  # set when every target is a point

    def __post_init__(self):
        if self.target_xy is None and (shapely.get_type_id(self.target_geoms) == 0).all():
            object.__setattr__(self, "target_xy", shapely.get_coordinates(self.target_geoms))

    def place_bounds(self) -> np.ndarray:
        if self.place_xy is not None:
            return np.hstack([self.place_xy, self.place_xy])
        return shapely.bounds(self.place_geoms)

    def minutes(self, place: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Exact direct minutes of (place, target) pairs."""
        if self.place_xy is not None and self.target_xy is not None:
            txy = self.target_xy[target]
            d = np.sqrt((self.place_xy[place, 0] - txy[:, 0]) ** 2 + (self.place_xy[place, 1] - txy[:, 1]) ** 2)
        else:
            geoms = shapely.points(self.place_xy[place]) if self.place_xy is not None else self.place_geoms[place]
            d = shapely.distance(geoms, self.target_geoms[target])
        return self.of_metres(d)

    def of_metres(self, d: np.ndarray) -> np.ndarray:
        """Minutes of direct legs of `d` metres (inf beyond `max_m`)."""
        return np.where(d <= self.max_m, d * self.min_per_m, np.inf)


def catchment(times, values: np.ndarray, places, within_min: float, *, groups: np.ndarray | None = None,
              direct: Direct | None = None, with_pairs: bool = False):
    """Sum of `values` and count of the targets from which each place is reached within `within_min`.

    `times` (`screening.routing.TargetTimes`) holds every target's minutes to the nodes within its limit;
    `places` (`screening.routing.Access`) the places' access nodes and legs. `groups` (optional) numbers
    places that share the same node in every slot (raster cells of one block with the same nearest
    nodes): per group and target, the times with the group's smallest and with its largest legs decide
    most targets for all its places at once (a dense group x slot x target table of minutes); only the
    targets between the two are checked place by place. The answer is the same with or without groups.
    `direct` adds the direct leg between place and target (bounded per group by the boxes of its places
    and of the target, exact place by place).

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
    bound = within_min + EPS_MIN
    table, row, cols = _table(times, gnode, _direct_candidates(direct, bound))
    vals, m = values[cols], cols.size
    gbox = _group_boxes(direct, order, starts)
    tbox = shapely.bounds(direct.target_geoms[cols]) if direct is not None else None
    gsum, gcount = np.zeros(starts.size), np.zeros(starts.size, dtype=np.int64)
    step = max(1, _CHUNK // (gnode.shape[1] * max(m, 1)))
    for lo_g in range(0, starts.size, step):  # chunks of groups, bounded memory
        sub = np.arange(lo_g, min(starts.size, lo_g + step))
        d = table[row[sub]]  # (groups, slots, targets) minutes, inf where unreached
        hi, lo = (d + lmax[sub][:, :, None]).min(axis=1), (d + lmin[sub][:, :, None]).min(axis=1)
        if direct is not None:
            near, far = _box_distances(gbox[sub], tbox)
            hi, lo = np.minimum(hi, direct.of_metres(far)), np.minimum(lo, direct.of_metres(near))
        sure = hi <= bound
        maybe = (lo <= bound) & ~sure
        gsum[sub], gcount[sub] = sure @ vals, sure.sum(axis=1)
        if with_pairs:
            gi, ti = np.nonzero(sure)
            r = _members(sub[gi], order, starts, size)
            pairs.append((r, np.repeat(cols[ti], size[sub[gi]])))
        gi, ti = np.nonzero(maybe)
        if gi.size:  # targets near the limit for some places of the group: place by place
            r = _members(sub[gi], order, starts, size)
            pair = np.repeat(np.arange(gi.size), size[sub[gi]])
            tau = (d[gi[pair], :, ti[pair]] + places.leg_min[r]).min(axis=1)
            if direct is not None:
                tau = np.minimum(tau, direct.minutes(r, cols[ti[pair]]))
            hit = tau <= bound
            sums += np.bincount(r[hit], weights=vals[ti[pair[hit]]], minlength=n)
            counts += np.bincount(r[hit], minlength=n)
            if with_pairs:
                pairs.append((r[hit], cols[ti[pair[hit]]]))
    sums[order] += np.repeat(gsum, size)
    counts[order] += np.repeat(gcount, size)
    return (sums, counts, _joined(pairs)) if with_pairs else (sums, counts)


def _table(times, gnode: np.ndarray, extra) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense minutes (node row x target) of the nodes the groups use, with a last all-inf row for an
    empty slot; each group slot's row in it; only the targets reaching one of these nodes or in `extra`
    (a bool mask of targets near enough for a direct leg; None) (``cols``)."""
    used = np.unique(gnode[gnode >= 0])
    table = np.full((used.size + 1, times.n_targets), np.inf)
    cnt = times.ptr[used + 1] - times.ptr[used]
    pos = np.repeat(times.ptr[used], cnt) + np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    table[np.repeat(np.arange(used.size), cnt), times.target[pos]] = times.minutes[pos]
    row = np.where(gnode >= 0, np.searchsorted(used, np.maximum(gnode, 0)), used.size)
    keep = np.isfinite(table).any(axis=0)
    cols = np.flatnonzero(keep if extra is None else keep | extra)
    return np.ascontiguousarray(table[:, cols]), row, cols


def _direct_candidates(direct: Direct | None, bound: float):
    """Targets whose box lies within a direct leg of `bound` minutes of the box of all places (or None)."""
    if direct is None:
        return None
    pb = direct.place_bounds()
    allbox = np.array([[pb[:, 0].min(), pb[:, 1].min(), pb[:, 2].max(), pb[:, 3].max()]])
    near, _ = _box_distances(allbox, shapely.bounds(direct.target_geoms))
    return direct.of_metres(near[0]) <= bound


def _group_boxes(direct: Direct | None, order: np.ndarray, starts: np.ndarray):
    """Bounding box (minx, miny, maxx, maxy) of each group's places (None without direct legs)."""
    if direct is None:
        return None
    pb = direct.place_bounds()[order]
    return np.column_stack([np.minimum.reduceat(pb[:, 0], starts), np.minimum.reduceat(pb[:, 1], starts),
                            np.maximum.reduceat(pb[:, 2], starts), np.maximum.reduceat(pb[:, 3], starts)])


def _box_distances(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(len(a), len(b)) bounds on the distance between any geometry in box a and any in box b: the
    smallest possible (box to box) and the largest (farthest corners)."""
    dx = np.maximum(0.0, np.maximum(b[None, :, 0] - a[:, None, 2], a[:, None, 0] - b[None, :, 2]))
    dy = np.maximum(0.0, np.maximum(b[None, :, 1] - a[:, None, 3], a[:, None, 1] - b[None, :, 3]))
    fx = np.maximum(a[:, None, 2] - b[None, :, 0], b[None, :, 2] - a[:, None, 0])
    fy = np.maximum(a[:, None, 3] - b[None, :, 1], b[None, :, 3] - a[:, None, 1])
    return np.hypot(dx, dy), np.hypot(fx, fy)


def _members(group: np.ndarray, order: np.ndarray, starts: np.ndarray, size: np.ndarray) -> np.ndarray:
    """The places of each listed group, concatenated in the listed order."""
    w = size[group]
    return order[np.repeat(starts[group], w) + np.arange(w.sum()) - np.repeat(np.cumsum(w) - w, w)]


def _joined(pairs):
    if not pairs:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])

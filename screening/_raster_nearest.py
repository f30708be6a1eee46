"""The nearest-distance core of the suitability surface: exact distance from cell centres to features.

Internal to `screening._raster` (the `Nearest` criteria of `compute_tile`). Features are segments (a point
is a segment of length 0) in EPSG:25832 metres; the land cells of a tile are grouped into nested square
blocks (`LEVELS`), and the candidate features of each block are narrowed from the largest blocks down to
the cells (`nearest_m`), so each cell is measured exactly against a handful of segments only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from rasterio.windows import Window

if TYPE_CHECKING:
    from screening._raster import Grid, Nearest

__all__ = ["LEVELS", "Cells", "land_cells", "near_segments", "nearest_m"]


LEVELS = (4, 16, 64)
"""Edges, in cells, of the nested blocks whose centres select candidate features for exact distances."""
_EPS_M = 1e-3


@dataclass(frozen=True)
class Cells:
    """The land cells of one tile (`rows`, `cols` in the window) and their 4 x 4 blocks: `blocks` (flat ids
    row * nbc + col of the blocks holding land), `chain` (see `_block_chain`), and `index`, the position of
    each land cell in a (blocks of the tile, 16) array laid out block by block."""

    rows: np.ndarray
    cols: np.ndarray
    nbc: int
    n_blocks: int
    blocks: np.ndarray
    chain: list
    index: np.ndarray


def land_cells(land: np.ndarray) -> Cells:
    """The land cells of a tile's `land` mask (bool, window shape) with their 4 x 4 blocks (`Cells`)."""
    m = LEVELS[0]
    h, w = land.shape
    nbr, nbc = -(-h // m), -(-w // m)
    padded = np.zeros((nbr * m, nbc * m), dtype=bool)
    padded[:h, :w] = land
    blocks = np.flatnonzero(padded.reshape(nbr, m, nbc, m).any(axis=(1, 3)))
    rows, cols = np.nonzero(land)
    index = ((rows // m) * nbc + cols // m) * (m * m) + (rows % m) * m + cols % m
    return Cells(rows, cols, nbc, nbr * nbc, blocks, _block_chain(blocks, nbc), index)


def nearest_m(crit: Nearest, grid: Grid, window: Window, cells: Cells) -> np.ndarray:
    """Distance in metres from the centre of each land cell of the window to the nearest feature, exact
    where it matters.

    Coarse to fine over square blocks of ``LEVELS`` cells (4, 16, 64). The distance f is 1-Lipschitz:
    if all points of a block lie within ``half`` of its centre Q, the nearest feature of any of them lies
    within ``f(Q) + 2 half`` of Q. So f at the centres of the largest blocks (against all features
    near the tile) keeps each block's candidates, f at the centres of its sub-blocks (against those)
    keeps theirs, and so on down to the cells, which are measured against the candidates of their
    4 x 4 block only, with the exact point-to-segment formula in float64. Blocks (at any level) with
    ``f(Q) - half >= halo_m`` get inf and blocks with ``f(Q) + half <= flat_m`` get 0: the band is flat
    there, so the score is exact although the distance is not computed. Elsewhere the distance is the
    exact minimum, identical under any tiling. Sea-only blocks are skipped. Polygon interiors
    (``crit.interior``) are not seen here: the caller sets them to 0 (`screening._raster.compute_tile`).
    """
    m, res, blocks, chain = LEVELS[0], grid.res_m, cells.blocks, cells.chain
    dist = np.full((cells.n_blocks, m * m), np.inf)
    near = near_segments(crit.seg_a, crit.seg_b, grid.window_bounds(window), crit.halo_m)
    if near.any():
        seg = np.hstack([crit.seg_a[near], crit.seg_b[near]])  # (n, 4): ax, ay, bx, by
        points = bool((seg[:, :2] == seg[:, 2:]).all())
        ptr, cand, flat = np.array([0, len(seg)]), np.arange(len(seg)), np.zeros(1, dtype=bool)
        for k in range(len(LEVELS) - 1, -1, -1):  # from the largest blocks down to the 4 x 4 ones
            r, c, owner = chain[k]
            half = (LEVELS[k] - 1) * res / math.sqrt(2)
            f_q, q, cand = _refine(*_centre(grid, window, r, c, LEVELS[k]), owner, ptr, cand, seg, half, points)
            flat = flat[owner] | (f_q + half <= crit.flat_m - _EPS_M)
            live = ~flat & (f_q - half < crit.halo_m + _EPS_M)  # the others need no exact distance
            q, cand = q[live[q]], cand[live[q]]
            ptr = np.r_[0, np.cumsum(np.bincount(q, minlength=r.size))]
        dist[blocks[flat]] = 0.0
        _fine(dist, blocks[q], cand, seg, grid, window, cells.nbc, points)
    return dist.ravel()[cells.index]


def near_segments(a: np.ndarray, b: np.ndarray, bounds: tuple[float, float, float, float],
                  halo_m: float) -> np.ndarray:
    """Segments a-b (or points, a == b) whose box meets `bounds` grown by `halo_m`: a superset of the
    features within `halo_m` of any point of `bounds`."""
    minx, miny, maxx, maxy = bounds
    return ((np.minimum(a[:, 0], b[:, 0]) <= maxx + halo_m) & (np.maximum(a[:, 0], b[:, 0]) >= minx - halo_m)
            & (np.minimum(a[:, 1], b[:, 1]) <= maxy + halo_m) & (np.maximum(a[:, 1], b[:, 1]) >= miny - halo_m))


# --------------------------------------------------------------------------- helpers


def _block_chain(blocks: np.ndarray, nbc: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per level of `LEVELS`: (block rows, block cols, index of each block's parent in the next level up;
    0 for the top level, whose one parent is the whole tile).

    `blocks` are flat ids (row * nbc + col) of the 4 x 4 blocks holding land, sorted.
    """
    r, c = np.divmod(blocks, nbc)
    chain = []
    for k in range(1, len(LEVELS)):  # three levels
        ratio = LEVELS[k] // LEVELS[k - 1]
        key, parent = np.unique((r // ratio) * nbc + c // ratio, return_inverse=True)
        chain.append((r, c, parent.ravel()))
        r, c = np.divmod(key, nbc)
    chain.append((r, c, np.zeros(r.size, dtype=np.int64)))
    return chain


def _centre(grid: Grid, window: Window, row: np.ndarray, col: np.ndarray, size: int):
    """Centres (x, y), metres, of the blocks of `size` x `size` cells with block indices (row, col)."""
    return (grid.left + (window.col_off + col * size + size / 2) * grid.res_m,
            grid.top - (window.row_off + row * size + size / 2) * grid.res_m)


def _refine(qx, qy, owner, ptr, cand, seg, half, points: bool):
    """Measure each query point against the candidates of its owner; return f (nearest distance among
    them, m) and the (query, segment) pairs within ``f + 2 half``: those that can be nearest in its block.

    Candidates are in CSR form: owner k's candidates are ``cand[ptr[k]:ptr[k + 1]]``.
    """
    counts = ptr[owner + 1] - ptr[owner]
    first = np.cumsum(counts) - counts
    q = np.repeat(np.arange(qx.size), counts)
    s = cand[np.repeat(ptr[owner], counts) + np.arange(q.size) - np.repeat(first, counts)]
    d = _segment_distance(qx[q], qy[q], seg[s], points)
    f = np.full(qx.size, np.inf)
    has = counts > 0
    if q.size:
        f[has] = np.minimum.reduceat(d, first[has])
    keep = d <= f[q] + 2 * half + _EPS_M
    return f, q[keep], s[keep]


def _fine(dist: np.ndarray, block: np.ndarray, seg_i: np.ndarray, seg: np.ndarray, grid: Grid,
          window: Window, nbc: int, points: bool) -> None:
    """Lower `dist[block]` to the exact distance from each of the block's cell centres to segment `seg_i`.

    Pairs arrive sorted by block; they are taken by rank within their block, so each pass touches a
    block at most once; passes are as many as the most candidates of one block.
    """
    m, res = LEVELS[0], grid.res_m
    if not block.size:
        return
    first = np.r_[0, np.flatnonzero(np.diff(block)) + 1]
    rank = np.arange(block.size) - np.repeat(first, np.diff(np.r_[first, block.size]))
    off_r, off_c = np.divmod(np.arange(m * m), m)
    for j in range(int(rank.max()) + 1):  # candidates per block: a handful, tens in dense clusters
        pick = rank == j
        blk = block[pick]
        br, bc = np.divmod(blk, nbc)
        x = grid.left + (window.col_off + bc[:, None] * m + off_c[None, :] + 0.5) * res
        y = grid.top - (window.row_off + br[:, None] * m + off_r[None, :] + 0.5) * res
        dist[blk] = np.minimum(dist[blk], _segment_distance(x, y, seg[seg_i[pick]][:, None, :], points))


def _segment_distance(x: np.ndarray, y: np.ndarray, seg: np.ndarray, points: bool = False) -> np.ndarray:
    """Exact distance from points (x, y) to segments ``seg[..., :]`` = (ax, ay, bx, by), broadcast;
    a segment with a == b is a point (`points`: all are, the short formula)."""
    ax, ay = seg[..., 0], seg[..., 1]
    if points:
        return np.hypot(x - ax, y - ay)
    dx, dy = seg[..., 2] - ax, seg[..., 3] - ay
    length2 = dx * dx + dy * dy
    t = np.clip(((x - ax) * dx + (y - ay) * dy) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    return np.hypot(x - (ax + t * dx), y - (ay + t * dy))


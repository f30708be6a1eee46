"""Raster machinery of the suitability surface: the grid and the per-tile computation.

Internal to `screening.surface`. Everything here works on one tile (a `rasterio.windows.Window` of the
national `Grid`) at a time, from inputs that are small vector arrays (features, never rasters), so memory
depends on the tile size and not on the country's size, and a tile can be computed anywhere (a thread,
a process, a dask worker) with the same result. Writing, reading and rendering the finished rasters is
`screening._raster_io`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import rasterio
import rasterio.enums
import rasterio.features
import shapely
from affine import Affine
from rasterio.windows import Window

from screening import _raster_travel
from screening.scoring import band_score

__all__ = [
    "EXCLUSION_NODATA",
    "MAX_RULES",
    "Grid",
    "Burn",
    "Nearest",
    "Reach",
    "TileInputs",
    "Tile",
    "burn_shapes",
    "compute_tile",
    "run_tiles",
]

EXCLUSION_NODATA = 65535
"""Value of ``exclusion.tif`` outside land (bit 15 is never a rule)."""
MAX_RULES = 15
LEVELS = (4, 16, 64)
"""Edges, in cells, of the nested blocks whose centres select candidate features for exact distances."""
_EPS_M = 1e-3




@dataclass(frozen=True)
class Grid:
    """A north-up grid in EPSG:25832: square cells of `res_m` metres, upper-left corner (`left`, `top`).

    Cell (row, col) covers x in [left + col res_m, left + (col + 1) res_m] and has its centre at
    (left + (col + 0.5) res_m, top - (row + 0.5) res_m). Centres are always computed from global integer
    indices, so every tiling of the grid sees the same coordinates bit for bit.
    """

    res_m: float
    left: float
    top: float
    width: int
    height: int

    @classmethod
    def covering(cls, bounds: Sequence[float], res_m: float) -> Grid:
        """The smallest grid with origin on a multiple of `res_m` that covers `bounds` (minx, miny, maxx, maxy)."""
        minx, miny, maxx, maxy = bounds
        left = math.floor(minx / res_m) * res_m
        top = math.ceil(maxy / res_m) * res_m
        width = max(1, math.ceil((maxx - left) / res_m))
        height = max(1, math.ceil((top - miny) / res_m))
        return cls(float(res_m), float(left), float(top), int(width), int(height))

    @property
    def transform(self) -> Affine:
        return Affine(self.res_m, 0.0, self.left, 0.0, -self.res_m, self.top)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.left, self.top - self.height * self.res_m, self.left + self.width * self.res_m, self.top)

    def windows(self, block_size: int) -> list[Window]:
        """Tiles of at most `block_size` x `block_size` cells, row by row from the upper left."""
        return [Window(c, r, min(block_size, self.width - c), min(block_size, self.height - r))
                for r in range(0, self.height, block_size) for c in range(0, self.width, block_size)]

    def window_bounds(self, win: Window) -> tuple[float, float, float, float]:
        """Outer cell edges of `win` in metres: (minx, miny, maxx, maxy)."""
        res = self.res_m
        return (self.left + win.col_off * res, self.top - (win.row_off + win.height) * res,
                self.left + (win.col_off + win.width) * res, self.top - win.row_off * res)

    def to_pixels(self, geoms: np.ndarray) -> np.ndarray:
        """Geometries in metres -> the same geometries in global pixel units (column, -row), y up."""
        origin = np.array([self.left, self.top])
        return shapely.transform(geoms, lambda xy: (xy - origin) / self.res_m)


@dataclass(frozen=True)
class Burn:
    """Polygons in global pixel units (column, -row) with their bounds, rasterized tile by tile.

    Pixel coordinates make every tile's rasterization a translation by whole cells, so tiled and untiled
    runs burn identical cells. ``all_touched=False`` burns cells whose centre is inside (GDAL's rule);
    ``True`` also burns every cell the boundary touches.
    """

    geoms: np.ndarray
    bounds: np.ndarray
    all_touched: bool


@dataclass(frozen=True)
class Nearest:
    """A criterion on the distance to the nearest feature: ``raw = distance_m * raw_per_m`` then the band.

    Features are segments from `seg_a` to `seg_b` ((n, 2) metres, EPSG:25832; a point is a segment of
    length 0; lines and polygon rings are cut into their segments); `interior` burns polygon interiors
    (distance 0). The band is flat below ``flat_m`` and beyond ``halo_m`` (metres), so features farther
    than ``halo_m`` from a tile are never needed. `band` holds the criterion's (raw, score) points.
    """

    id: str
    seg_a: np.ndarray
    seg_b: np.ndarray
    interior: Burn | None
    flat_m: float
    halo_m: float
    raw_per_m: float
    band: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Reach:
    """A criterion on the sum of feature values within `radius_m` of the cell centre, then the band.

    Points (`xy`, `values`) are added exactly, as disks of cells; line and polygon features come as
    `areas`: their `radius_m` buffers burned with their values summed (GDAL ``merge_alg=add``).
    """

    id: str
    xy: np.ndarray
    values: np.ndarray
    areas: tuple[Burn, np.ndarray] | None
    radius_m: float
    band: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class TileInputs:
    """Everything a tile needs: the grid, land, exclusion rules (bit i = ``rules[i]``), the criteria, their
    effective weights in points (same order), bonus areas with their points, whether tiles keep
    the per-criterion scores, and the road network when criteria travel on it."""

    grid: Grid
    land: Burn
    rules: tuple[Burn, ...]
    criteria: tuple[Nearest | Reach, ...]
    points: tuple[float, ...]
    bonus: tuple[tuple[Burn, float], ...] = ()
    keep_scores: bool = False
    roads: object | None = None  # the RoadNetwork of road-network criteria (`screening._raster_travel`)


@dataclass(frozen=True)
class Tile:
    """One computed tile: `land` (bool), `exclusion` (uint16 bits, `EXCLUSION_NODATA` off land),
    `scores` (float32, one 0–1 layer per criterion, NaN off land; None unless ``keep_scores``) and `total`
    (float32 0–100, NaN off land)."""

    window: Window
    land: np.ndarray
    exclusion: np.ndarray
    scores: np.ndarray
    total: np.ndarray


def burn_shapes(geoms: np.ndarray, grid: Grid, *, all_touched: bool) -> Burn:
    """Prepare (multi)polygons in EPSG:25832 for tile-wise rasterization on `grid`."""
    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    px = grid.to_pixels(geoms)
    return Burn(px, shapely.bounds(px).reshape(-1, 4), all_touched)


def compute_tile(inputs: TileInputs, window: Window) -> Tile | None:
    """Compute one tile of the surface; None when no cell centre of the tile is on land.

    Only land cells are evaluated. Exclusion bit i is set where ``inputs.rules[i]`` burns the cell;
    each criterion's 0–1 score is its band over the raw value at the cell centre; the total is
    ``min(100, sum(points_c * score_c) + bonus)``. Pure function of its arguments: the same tile gives
    the same arrays in any process and under any tiling.
    """
    land = _burn(inputs.land, window)
    if not land.any():
        return None
    cells = _cells(land)
    rows, cols = cells.rows, cells.cols
    grid = inputs.grid
    exclusion = np.full(land.shape, EXCLUSION_NODATA, dtype=np.uint16)
    bits = np.zeros(rows.size, dtype=np.uint16)
    for bit, rule in enumerate(inputs.rules):  # a handful of declared rules
        bits |= _burn(rule, window)[rows, cols].astype(np.uint16) << np.uint16(bit)
    exclusion[rows, cols] = bits
    scores = np.full((len(inputs.criteria), *land.shape), np.nan, dtype=np.float32) if inputs.keep_scores \
        else None
    total = np.zeros(rows.size)
    on_roads = [c for c in inputs.criteria if not isinstance(c, Nearest | Reach)]
    road_raw = _raster_travel.tile_values(  # the cells' access legs once, shared by the travel criteria
        inputs.roads, on_roads, grid.left + (window.col_off + cols + 0.5) * grid.res_m,
        grid.top - (window.row_off + rows + 0.5) * grid.res_m, rows, cols) if on_roads else {}
    for k, crit in enumerate(inputs.criteria):  # a dozen criteria, each vectorised over the tile
        if isinstance(crit, Nearest):
            raw = _nearest_m(crit, grid, window, cells) * crit.raw_per_m
        elif isinstance(crit, Reach):
            raw = _reach_raw(crit, grid, window)[rows, cols]
        else:  # on the road network (`screening._raster_travel`)
            raw = road_raw[crit.id]
        score = band_score(crit.band, raw)
        if scores is not None:
            scores[k][rows, cols] = score
        total += inputs.points[k] * score
    for burn, points in inputs.bonus:
        total += points * _burn(burn, window)[rows, cols]
    out = np.full(land.shape, np.nan, dtype=np.float32)
    out[rows, cols] = np.minimum(total, 100.0)
    return Tile(window, land, exclusion, scores, out)


def _burn(burn: Burn, win: Window, values: np.ndarray | None = None) -> np.ndarray:
    """Rasterize the polygons of `burn` that reach `win`: a bool array of the window's shape, or with
    `values` (one per polygon) the float64 sum of the values of the polygons burning each cell."""
    shape = (int(win.height), int(win.width))
    c0, r0 = win.col_off, win.row_off
    b = burn.bounds
    near = (b[:, 0] <= c0 + win.width) & (b[:, 2] >= c0) & (b[:, 1] <= -r0) & (b[:, 3] >= -(r0 + win.height))
    if not near.any():
        return np.zeros(shape, dtype=bool if values is None else float)
    vals = np.ones(near.sum()) if values is None else values[near]
    burned = rasterio.features.rasterize(
        zip(burn.geoms[near], vals, strict=True), out_shape=shape, transform=Affine(1, 0, c0, 0, -1, -r0),
        fill=0, all_touched=burn.all_touched, dtype="uint8" if values is None else "float64",
        merge_alg=rasterio.enums.MergeAlg.replace if values is None else rasterio.enums.MergeAlg.add)
    return burned.astype(bool) if values is None else burned


def _near(a: np.ndarray, b: np.ndarray, bounds: tuple[float, float, float, float], halo_m: float) -> np.ndarray:
    """Segments a-b (or points, a == b) whose box meets `bounds` grown by `halo_m`: a superset of the
    features within `halo_m` of any point of `bounds`."""
    minx, miny, maxx, maxy = bounds
    return ((np.minimum(a[:, 0], b[:, 0]) <= maxx + halo_m) & (np.maximum(a[:, 0], b[:, 0]) >= minx - halo_m)
            & (np.minimum(a[:, 1], b[:, 1]) <= maxy + halo_m) & (np.maximum(a[:, 1], b[:, 1]) >= miny - halo_m))


def _nearest_m(crit: Nearest, grid: Grid, window: Window, cells: _Cells) -> np.ndarray:
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
    exact minimum, identical under any tiling. Sea-only blocks are skipped.
    """
    m, res, blocks, chain = LEVELS[0], grid.res_m, cells.blocks, cells.chain
    dist = np.full((cells.n_blocks, m * m), np.inf)
    near = _near(crit.seg_a, crit.seg_b, grid.window_bounds(window), crit.halo_m)
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
    out = dist.ravel()[cells.index]
    if crit.interior is not None:
        out[_burn(crit.interior, window)[cells.rows, cells.cols]] = 0.0
    return out


@dataclass(frozen=True)
class _Cells:
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


def _cells(land: np.ndarray) -> _Cells:
    m = LEVELS[0]
    h, w = land.shape
    nbr, nbc = -(-h // m), -(-w // m)
    padded = np.zeros((nbr * m, nbc * m), dtype=bool)
    padded[:h, :w] = land
    blocks = np.flatnonzero(padded.reshape(nbr, m, nbc, m).any(axis=(1, 3)))
    rows, cols = np.nonzero(land)
    index = ((rows // m) * nbc + cols // m) * (m * m) + (rows % m) * m + cols % m
    return _Cells(rows, cols, nbc, nbr * nbc, blocks, _block_chain(blocks, nbc), index)


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


def _reach_raw(crit: Reach, grid: Grid, window: Window) -> np.ndarray:
    """Sum of `values` of the points within `radius_m` of each cell centre of the window (float64 array).

    Each point adds its value to a disk of cells: per point and row, the disk is one run of columns, so
    the runs go into a row-wise difference array (two bincounts) and one cumulative sum gives the sums;
    the cost is (points x rows + cells), not points x cells. A cell is in the disk when its centre is
    within `radius_m` (inclusive). Line and polygon features add their burned buffers (`Reach.areas`).
    """
    h, w, res = int(window.height), int(window.width), grid.res_m
    near = _near(crit.xy, crit.xy, grid.window_bounds(window), crit.radius_m)
    acc = np.zeros(h * (w + 1))
    if near.any():
        px, py, val = crit.xy[near, 0], crit.xy[near, 1], crit.values[near]
        yc = grid.top - (np.arange(window.row_off, window.row_off + h) + 0.5) * res
        dy = yc[None, :] - py[:, None]
        half = np.sqrt(np.maximum(crit.radius_m ** 2 - dy ** 2, 0.0))
        lo = np.ceil((px[:, None] - half - grid.left) / res - 0.5) - window.col_off
        hi = np.floor((px[:, None] + half - grid.left) / res - 0.5) - window.col_off
        lo, hi = np.clip(lo, 0, w), np.clip(hi, -1, w - 1)
        ok = (np.abs(dy) <= crit.radius_m) & (lo <= hi)
        p_idx, r_idx = np.nonzero(ok)
        start = r_idx * (w + 1) + lo[ok].astype(np.int64)
        stop = r_idx * (w + 1) + hi[ok].astype(np.int64) + 1
        acc += np.bincount(start, weights=val[p_idx], minlength=acc.size)
        acc -= np.bincount(stop, weights=val[p_idx], minlength=acc.size)
    sums = np.cumsum(acc.reshape(h, w + 1), axis=1)[:, :w]
    if crit.areas is not None:
        sums += _burn(crit.areas[0], window, crit.areas[1])
    return sums


def run_tiles(inputs: TileInputs, windows: Sequence[Window], scheduler: str, *,
              workers: int = 1) -> Iterator[Tile | None]:
    """Computed tiles, in the order of `windows`, with at most ``2 x workers`` tiles in memory at once.

    ``single``: in this process, on `workers` threads (numpy, GEOS and GDAL release the GIL; one
    worker computes tiles one after another). ``dask``: one ``dask.delayed(compute_tile)`` task per tile,
    computed on dask's local threaded scheduler in batches; the same function runs unchanged on a
    distributed scheduler (see docs/SURFACE.md).
    """
    ahead = 2 * max(1, workers)
    if scheduler == "dask":
        import dask

        shared = dask.delayed(inputs, name="surface-inputs", traverse=False)
        task = dask.delayed(compute_tile, pure=True)
        for i in range(0, len(windows), ahead):  # batches of tiles
            batch = [task(shared, win) for win in windows[i:i + ahead]]
            yield from dask.compute(*batch, scheduler="threads", num_workers=workers)
        return
    if workers <= 1:
        yield from (compute_tile(inputs, win) for win in windows)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque = deque()
        for win in windows:  # tiles of the grid, submitted a few ahead of the writer
            pending.append(pool.submit(compute_tile, inputs, win))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

"""Raster machinery of the suitability surface: the grid and the per-tile computation.

Internal to `screening.surface`. Everything here works on one tile (a `rasterio.windows.Window` of the
national `Grid`) at a time, from inputs that are small vector arrays (features, never rasters), so memory
depends on the tile size and not on the country's size, and a tile can be computed anywhere (a thread,
a process, a dask worker) with the same result. The exact nearest-distance core (nested blocks, candidate
segments) is `screening._raster_nearest`; writing, reading and rendering the finished rasters is
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
from screening._raster_nearest import Cells, land_cells, near_segments, nearest_m
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
    cells = land_cells(land)
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



def _nearest_m(crit: Nearest, grid: Grid, window: Window, cells: Cells) -> np.ndarray:
    """Distance in metres from each land cell centre of the window to the nearest feature of `crit`
    (`screening._raster_nearest.nearest_m`), 0 where a polygon interior burns the cell."""
    out = nearest_m(crit, grid, window, cells)
    if crit.interior is not None:
        out[_burn(crit.interior, window)[cells.rows, cells.cols]] = 0.0
    return out


def _reach_raw(crit: Reach, grid: Grid, window: Window) -> np.ndarray:
    """Sum of `values` of the points within `radius_m` of each cell centre of the window (float64 array).

    Each point adds its value to a disk of cells: per point and row, the disk is one run of columns, so
    the runs go into a row-wise difference array (two bincounts) and one cumulative sum gives the sums;
    the cost is (points x rows + cells), not points x cells. A cell is in the disk when its centre is
    within `radius_m` (inclusive). Line and polygon features add their burned buffers (`Reach.areas`).
    """
    h, w, res = int(window.height), int(window.width), grid.res_m
    near = near_segments(crit.xy, crit.xy, grid.window_bounds(window), crit.radius_m)
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

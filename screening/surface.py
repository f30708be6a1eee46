"""The national suitability surface: every cell of Denmark, excluded or not, and how it scores.

Same rules, bands and weights as the vector screening (``layers/criteria.yaml`` is the one source of
truth): `build_surface` rasterizes the ``exclude``/``cut`` rules into a bit mask and scores every land cell
on the criteria a raster can assess, tile by tile (`screening._raster`), into Cloud-Optimised GeoTIFFs.
The rules' and criteria's inputs are prepared by `screening._surface_inputs`; reading a finished surface
(`better_land_nearby`, `overlay_png`) is `screening._surface_read`, re-exported here.
See docs/SURFACE.md for the method, its tolerances and how to run it partitioned on dask.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import geopandas as gpd

from screening import _raster, _raster_io, _surface_inputs, _surface_nature
from screening._geo import require_crs
from screening._json import write_json
from screening._raster import Grid, TileInputs
from screening._surface_inputs import RASTER_RULE_ACTIONS
from screening._surface_read import better_land_nearby, overlay_png
from screening.config import CRS, Criteria
from screening.errors import ConfigError, LayerUnavailableError
from screening.i18n import current as _current_lang
from screening.i18n import fmt_number
from screening.i18n import gettext as _

__all__ = ["SurfaceResult", "build_surface", "surface_from_catalog", "effective_points", "summary_text",
           "better_land_nearby", "overlay_png"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SurfaceResult:
    """What `build_surface` wrote and how.

    ``paths``: name -> COG: ``suitability`` (float32 score 0–100, NaN off land), ``exclusion`` (uint16
    bits, 65535 off land) and, with ``criterion_bands``, ``criteria/<id>`` (float32 band score 0–1);
    ``grid``: the `screening._raster.Grid` (res_m, origin, size; EPSG:25832); ``rule_bits``: rule id -> bit
    value in ``exclusion.tif``; ``points``: criterion -> effective weight in points of 100;
    ``not_assessed`` / ``missing_rules``: id -> reason; ``seconds``: wall time of the build.
    ``layers``: provenance of the exclusion layers (origin, source, date, ``provisional`` and its note,
    ``coverage_note``); ``not_checked``: rule id -> ``layer``, ``bit``, ``coverage_note``, ``cells`` for
    rules whose copy covers only part of the country (``paths['not_checked']`` marks those cells).
    ``lang``: the language of the reasons and notes (the run's, `screening.i18n.current`).
    """

    out_dir: Path
    paths: dict[str, Path]
    grid: Grid
    land_cells: int
    excluded_cells: int
    rule_bits: dict[str, int]
    points: dict[str, float]
    not_assessed: dict[str, str]
    missing_rules: dict[str, str]
    config_hash: str
    seconds: float
    layers: dict[str, dict] = field(default_factory=dict)
    not_checked: dict[str, dict] = field(default_factory=dict)
    lang: str = field(default_factory=_current_lang)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["out_dir"] = str(self.out_dir)
        out["paths"] = {k: str(v) for k, v in self.paths.items()}
        return out


def build_surface(layers: Mapping[str, gpd.GeoDataFrame], criteria: Criteria, *, res_m: float, out_dir: Path,
                  land: gpd.GeoDataFrame, allow_missing: Iterable[str] = (), config_hash: str = "",
                  block_size: int | None = None, scheduler: Literal["single", "dask"] = "single",
                  criterion_bands: bool = False) -> SurfaceResult:
    """Write the suitability surface of `land` as COGs in `out_dir`, tile by tile.

    Grid: EPSG:25832, square cells of `res_m` metres, origin (left, top) = the bounds of `land` snapped
    outward to multiples of `res_m`. A cell is land when its centre lies in `land` (``all_touched=False``).
    Exclusion bit i is set when rule i (``exclude`` and ``cut`` rules in config order, features grown by
    ``buffer_m``) touches the cell (``all_touched=True``: conservative at edges, exact for cells fully
    inside; ``tolerance_ha`` has no meaning for a cell and is not applied). A rule whose layer copy covers
    only part of the country (allowed like a missing layer) burns the features it has; the land cells
    reaching outside its coverage get the rule's bit in ``not_checked.tif`` instead of a verdict, and the
    tags and ``surface.json`` name the provisional copies among the layers. Each criterion is measured
    at the cell centre: exact straight-line distance (``distance``); with a road layer, minutes over the
    road network from the nearest feature (``travel_time``) and the sum/count of features within that
    many minutes (``reach_*``), the cell a point site with its own access legs exactly as the vector
    scoring defines them (docs/TRAVEL.md); without one, straight line x detour factor at the fallback
    speed; then its band
    (`screening.scoring.band_score`), the effective weights (`effective_points`) and the bonus, total
    capped at 100. Submission attributes cannot be measured on a raster: they, and criteria whose layer
    is missing, are not assessed and their weight is redistributed exactly as the vector scoring does.
    The score is kept on excluded cells too; ``exclusion.tif`` says which are out.

    Parameters
    ----------
    layers
        Catalog layers by id, EPSG:25832; an id absent here is a missing layer.
    criteria
        The configuration (rules, criteria, groups, bonus, travel model).
    res_m
        Cell size in metres (> 0).
    out_dir
        Folder for ``suitability.tif``, ``exclusion.tif``, ``criteria/<id>.tif`` and ``surface.json``.
    land
        (Multi)polygons of the land to cover, EPSG:25832 (e.g. the kommuner).
    allow_missing
        Layer or rule ids of ``exclude``/``cut`` rules that may be missing (then listed as missing).
    config_hash
        Written into every file's tags (``config_hash``).
    block_size
        Tile edge in cells (default ``criteria.surface.block_size``); the result does not depend on it.
    scheduler
        ``single``: tiles computed in this process on one thread per core; ``dask``: one
        ``dask.delayed`` task per tile on dask's local threaded scheduler. Both give identical rasters.
    criterion_bands
        Also write each criterion's 0–1 band score as ``criteria/<id>.tif`` (about 1 s per criterion
        at 100 m, 10 s at 25 m).

    Returns
    -------
    SurfaceResult

    Raises
    ------
    CRSError
        If `land` or a used layer is not in EPSG:25832.
    LayerUnavailableError
        If the layer of an ``exclude``/``cut`` rule is missing and not allowed missing.
    ConfigError
        If `res_m`, `block_size` or `scheduler` is invalid or a rule's bit would exceed 15.
    """
    t0 = time.perf_counter()
    block = _check_args(res_m, block_size or criteria.surface.block_size, scheduler, land)
    grid = Grid.covering(land.total_bounds, res_m)
    rules, missing_rules = _surface_inputs.rule_burns(layers, criteria, grid, set(allow_missing))
    provenance = _surface_nature.layer_provenance(layers, criteria)  # provisional copies, coverage (H4)
    partial = _surface_nature.partial_rules(layers, [r for r, _ in rules], criteria)
    network = _surface_inputs.roads_for(layers, criteria)
    crits, not_assessed = _surface_inputs.criterion_inputs(layers, criteria, grid, network)
    points = effective_points(criteria, [c.id for c in crits])
    inputs = TileInputs(grid=grid, land=_raster.burn_shapes(land.geometry.to_numpy(), grid, all_touched=False),
                        rules=tuple(b for _, b in rules), criteria=tuple(crits),
                        points=tuple(points[c.id] for c in crits),
                        bonus=_surface_inputs.bonus_burns(layers, criteria, grid),
                        keep_scores=criterion_bands, roads=network)
    windows = grid.windows(block)
    log.info("surface: %d x %d cells of %g m (%d tiles of <= %d cells), %d rules, %d criteria assessed",
             grid.width, grid.height, res_m, len(windows), block, len(rules), len(crits))
    tags = {"config_hash": config_hash, "res_m": f"{res_m:g}", "crs": CRS,
            "origin": f"{grid.left:.3f},{grid.top:.3f}", "cell_rule": "land: centre inside; rules: all_touched",
            "not_assessed": ", ".join(sorted(not_assessed)), "missing_rules": ", ".join(sorted(missing_rules)),
            **_surface_nature.tags(provenance, partial)}
    tiles = _raster.run_tiles(inputs, windows, scheduler, workers=_cores())
    paths, counts = _raster_io.write_surface(tiles, grid, Path(out_dir),
                                             criteria_ids=[c.id for c in crits] if criterion_bands else [],
                                             rule_ids=[r for r, _ in rules],
                                             tags=tags)
    nc_path, not_checked = _surface_nature.write_not_checked(grid, paths["exclusion"], partial, Path(out_dir), block,
                                                             tags, provenance)
    if nc_path is not None:
        paths["not_checked"] = nc_path
    result = SurfaceResult(out_dir=Path(out_dir), paths=paths, grid=grid, land_cells=counts["land_cells"],
                           excluded_cells=counts["excluded_cells"],
                           rule_bits={r: 2 ** i for i, (r, _) in enumerate(rules)}, points=points,
                           not_assessed=not_assessed, missing_rules=missing_rules, config_hash=config_hash,
                           seconds=round(time.perf_counter() - t0, 3), layers=provenance, not_checked=not_checked)
    write_json(Path(out_dir) / "surface.json", result.to_dict())
    log.info("surface: %s land cells, %s excluded, written to %s in %.1f s", f"{result.land_cells:,}",
             f"{result.excluded_cells:,}", out_dir, result.seconds)
    return result


def surface_from_catalog(*, settings, catalog, criteria: Criteria, out_dir: Path, res_m: float | None = None,
                         allow_missing: Iterable[str] = (), block_size: int | None = None,
                         scheduler: Literal["single", "dask"] = "single",
                         criterion_bands: bool = False) -> SurfaceResult:
    """Load the layers the surface needs (land = the ``kommuner`` layer) and call `build_surface`.

    The body of ``industripark surface``; `res_m` defaults to ``criteria.surface.res_m``.
    """
    from screening import catalog as catalog_mod
    from screening.config import config_hash

    needed = ["kommuner", *(r.layer for r in criteria.exclusions.rules if r.action in RASTER_RULE_ACTIONS),
              *(c.layer for c in criteria.criteria if c.layer), *(b.layer for b in criteria.bonus if b.layer),
              criteria.travel.road_layer]
    layer_set = catalog_mod.load_layers(needed, catalog=catalog, settings=settings, allow_missing=allow_missing)
    if "kommuner" not in layer_set.layers:
        raise LayerUnavailableError(f"the surface needs the land layer 'kommuner': {layer_set.missing['kommuner']}")
    return build_surface(layer_set.layers, criteria, res_m=res_m or criteria.surface.res_m, out_dir=out_dir,
                         land=layer_set.layers["kommuner"], allow_missing=allow_missing,
                         config_hash=config_hash(catalog, criteria), block_size=block_size, scheduler=scheduler,
                         criterion_bands=criterion_bands)


def effective_points(criteria: Criteria, assessed: Sequence[str]) -> dict[str, float]:
    """Effective weight in points of 100 of each assessed criterion, as `screening.scoring` computes them.

    Within a group, weight goes to its assessed criteria in proportion to their configured weights; a
    group with none assessed gives its weight to the other groups in proportion to theirs.

    Examples
    --------
    >>> from screening.config import load_criteria
    >>> pts = effective_points(load_criteria(), ["hv_substation", "port"])
    >>> {k: round(v, 3) for k, v in pts.items()}
    {'hv_substation': 54.545, 'port': 45.455}
    """
    live = set(assessed)
    group_w = {g.id: g.weight for g in criteria.groups}
    within = {g: sum(c.weight for c in criteria.criteria if c.group == g and c.id in live) for g in group_w}
    total = sum(w for g, w in group_w.items() if within[g] > 0)
    return {c.id: 100.0 * group_w[c.group] / total * c.weight / within[c.group]
            for c in criteria.criteria if c.id in live}


def summary_text(result: SurfaceResult) -> str:
    """A few lines for the CLI: files, grid, land and excluded cells, what was not assessed (current language)."""
    g = result.grid
    lines = [_("Surface at %(res)s m: %(width)s x %(height)s cells (EPSG:25832), %(land)s land cells, %(excluded)s "
               "excluded, %(seconds)s s", res=fmt_number(g.res_m, len(f"{g.res_m:g}".partition(".")[2])),
               width=fmt_number(g.width), height=fmt_number(g.height), land=fmt_number(result.land_cells),
               excluded=fmt_number(result.excluded_cells), seconds=fmt_number(result.seconds, 1)),
             *(f"  {name}: {path}" for name, path in result.paths.items())]
    lines += ["  " + _("not assessed: %(criterion)s (%(reason)s)", criterion=k, reason=v)
              for k, v in result.not_assessed.items()]
    lines += ["  " + _("incomplete: %(rule)s missing (%(reason)s)", rule=k, reason=v)
              for k, v in result.missing_rules.items()]
    lines += ["  " + _("incomplete: %(rule)s checked only inside the coverage of the %(layer)s copy (%(where)s): "
                       "%(cells)s land cells not checked (not_checked.tif)", rule=k, layer=v["layer"],
                       where=v["coverage_note"], cells=fmt_number(v["cells"]))
              for k, v in result.not_checked.items()]
    lines += ["  " + _("provisional data: %(layer)s: %(note)s", layer=k, note=v["provisional_note"])
              for k, v in result.layers.items() if v["provisional"]]
    return "\n".join(lines)


# --------------------------------------------------------------------------- helpers of build_surface


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _check_args(res_m: float, block_size: int, scheduler: str, land: gpd.GeoDataFrame) -> int:
    if not (isinstance(res_m, int | float) and math.isfinite(res_m) and res_m > 0):
        raise ConfigError(f"res_m must be a positive number of metres, got {res_m!r}")
    if int(block_size) < 1:
        raise ConfigError(f"block_size must be a positive number of cells, got {block_size!r}")
    if scheduler not in ("single", "dask"):
        raise ConfigError(f"scheduler {scheduler!r} is not a valid option, must be one of 'single', 'dask'")
    require_crs(land, "land")
    if land.empty:
        raise ConfigError("land is empty: pass the kommuner polygons (or another land mask) in EPSG:25832")
    return int(block_size)

"""The national suitability surface: every cell of Denmark, excluded or not, and how it scores.

Same rules, bands and weights as the vector screening (``layers/criteria.yaml`` is the one source of
truth): `build_surface` rasterizes the ``exclude``/``cut`` rules into a bit mask and scores every land cell
on the criteria a raster can assess, tile by tile (`screening._raster`), into Cloud-Optimised GeoTIFFs.
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
import numpy as np
import shapely

from screening import _raster, _raster_io, _surface_nature
from screening._geo import require_crs
from screening._json import write_json
from screening._raster import Grid, Nearest, Reach, TileInputs
from screening.config import CRS, Criteria, Criterion
from screening.errors import ConfigError, LayerUnavailableError
from screening.i18n import current as _current_lang
from screening.i18n import fmt_number
from screening.i18n import gettext as _

__all__ = ["SurfaceResult", "build_surface", "surface_from_catalog", "effective_points", "summary_text",
           "better_land_nearby", "overlay_png"]

log = logging.getLogger(__name__)

RASTER_RULE_ACTIONS = ("exclude", "cut")
"""Rule actions that make a cell unusable; ``flag`` rules are reported only and are not rasterized."""
_PER_M = {"m": 1.0, "km": 1000.0}


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
    rules, missing_rules = _rules(layers, criteria, grid, set(allow_missing))
    provenance = _surface_nature.layer_provenance(layers, criteria)  # provisional copies, coverage (H4)
    partial = _surface_nature.partial_rules(layers, [r for r, _ in rules], criteria)
    network = _network(layers, criteria)
    crits, not_assessed = _criteria(layers, criteria, grid, network)
    points = effective_points(criteria, [c.id for c in crits])
    inputs = TileInputs(grid=grid, land=_raster.burn_shapes(land.geometry.to_numpy(), grid, all_touched=False),
                        rules=tuple(b for _, b in rules), criteria=tuple(crits),
                        points=tuple(points[c.id] for c in crits), bonus=_bonus(layers, criteria, grid),
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


def _rules(layers, criteria: Criteria, grid: Grid, allow: set[str]):
    """(rule id, Burn) for each ``exclude``/``cut`` rule whose layer is present; missing ones with reasons."""
    burns, missing = [], {}
    for rule in criteria.exclusions.rules:  # a handful of declared rules
        if rule.action not in RASTER_RULE_ACTIONS:
            continue
        if rule.layer not in layers:
            if rule.layer in allow or rule.id in allow:
                missing[rule.id] = _("layer %(layer)s missing (allowed)", layer=rule.layer)
                log.warning("surface incomplete: rule %s has no layer %s", rule.id, rule.layer)
                continue
            raise LayerUnavailableError(f"exclusion rule {rule.id!r} needs layer {rule.layer!r}, which is not "
                                        f"loaded; provide it or pass --allow-missing {rule.layer}")
        gdf = layers[rule.layer]
        require_crs(gdf, f"layer {rule.layer!r}")
        _surface_nature.check_partial(rule, gdf, allow)  # a copy covering part of the country (H4)
        gdf = rule.filter.apply(gdf, what=f"layer {rule.layer!r} (rule {rule.id})")
        geoms = gdf.geometry.to_numpy()
        if rule.buffer_m > 0:
            geoms = shapely.buffer(geoms, rule.buffer_m, quad_segs=32)
        burns.append((rule.id, _raster.burn_shapes(geoms, grid, all_touched=True)))
    if len(burns) > _raster.MAX_RULES:
        raise ConfigError(f"{len(burns)} exclude/cut rules; exclusion.tif holds at most {_raster.MAX_RULES} bits")
    return burns, missing


def _network(layers, criteria: Criteria):
    """The road network when a travel criterion can use it (the same one the vector scoring builds)."""
    travel = criteria.travel
    if travel.road_layer not in layers or not any(
            c.measure in ("travel_time", "reach_sum", "reach_count") and c.layer in layers for c in criteria.criteria):
        return None
    from screening.road_network import network_for

    return network_for(layers[travel.road_layer], travel)


def _criteria(layers, criteria: Criteria, grid: Grid, network=None):
    """The criteria a raster can assess, prepared for tiles; the others with the reason. Travel criteria
    go over `network` when given (node-level minutes, `screening._raster_travel`), else straight line."""
    prepared, not_assessed = [], {}
    travel = criteria.travel
    m_per_min = travel.fallback_speed_kmh * 1000.0 / 60.0 / travel.detour_factor  # straight-line metres/minute
    for crit in criteria.criteria:  # about 20 configured criteria
        reason = _why_not(crit, layers)
        if reason is None:
            gdf = crit.filter.apply(layers[crit.layer], what=f"layer {crit.layer!r} ({crit.id})")
            reason = "" if len(gdf) else _("no feature of layer %(layer)s passes the filter of %(criterion)s",
                                           layer=crit.layer, criterion=crit.id)
        if reason:
            not_assessed[crit.id] = reason
            continue
        require_crs(gdf, f"layer {crit.layer!r}")
        geoms = gdf.geometry.to_numpy()
        band = crit.band.points
        if network is not None and crit.measure != "distance":
            from screening import _raster_travel

            values = _reach_values(crit, gdf) if crit.measure == "reach_sum" else None
            prepared.append(_raster_travel.prepare(crit, geoms, values, network))
        elif crit.measure in ("distance", "travel_time"):
            per_m = 1.0 / _PER_M[crit.unit] if crit.measure == "distance" else 1.0 / m_per_min
            polys = np.isin(shapely.get_type_id(geoms), (3, 6))
            interior = _raster.burn_shapes(geoms[polys], grid, all_touched=False) if polys.any() else None
            seg_a, seg_b = _segments(geoms)
            prepared.append(Nearest(crit.id, seg_a, seg_b, interior, flat_m=band[0][0] / per_m,
                                    halo_m=band[-1][0] / per_m, raw_per_m=per_m, band=band))
        else:
            prepared.append(_reach(crit, gdf, geoms, crit.within_min * m_per_min, grid))
    return prepared, not_assessed


def _why_not(crit: Criterion, layers) -> str | None:
    if crit.measure == "attribute":
        return _("submission attribute %(field)s: not measurable on a raster", field=crit.field)
    if crit.layer not in layers:
        return _("layer %(layer)s not available", layer=crit.layer)
    return None


def _segments(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features as segments: start and end points, (n, 2) metres; a point is a segment of length 0,
    lines and polygon rings give one segment per pair of consecutive vertices."""
    parts = shapely.get_parts(geoms)
    kind = shapely.get_type_id(parts)
    points = shapely.get_coordinates(parts[kind == 0])
    rings = shapely.get_parts(shapely.boundary(parts[np.isin(kind, (3,))]))
    lines = np.concatenate([parts[np.isin(kind, (1, 2))], rings])
    coords, line = shapely.get_coordinates(lines, return_index=True)
    same = line[1:] == line[:-1]
    return np.vstack([points, coords[:-1][same]]), np.vstack([points, coords[1:][same]])


def _reach_values(crit: Criterion, gdf: gpd.GeoDataFrame) -> np.ndarray:
    if crit.value_column not in gdf.columns:
        raise ConfigError(f"criterion {crit.id}: layer {crit.layer!r} has no column {crit.value_column!r}; "
                          f"columns are {list(gdf.columns)}")
    return np.nan_to_num(gdf[crit.value_column].to_numpy(dtype=float))


def _reach(crit: Criterion, gdf: gpd.GeoDataFrame, geoms: np.ndarray, radius_m: float, grid: Grid) -> Reach:
    values = _reach_values(crit, gdf) if crit.measure == "reach_sum" else np.ones(len(gdf))
    point = shapely.get_type_id(geoms) == 0
    areas = None
    if (~point).any():
        buffered = shapely.buffer(geoms[~point], radius_m, quad_segs=32)
        areas = (_raster.burn_shapes(buffered, grid, all_touched=False), values[~point])
    xy = shapely.get_coordinates(geoms[point])
    return Reach(crit.id, xy, values[point], areas, radius_m=radius_m, band=crit.band.points)


def _bonus(layers, criteria: Criteria, grid: Grid) -> tuple:
    """Bonus areas: cell centres within ``within_m`` of a feature of the bonus layer earn its points."""
    out = []
    for bonus in criteria.bonus:  # one or two configured bonuses
        if bonus.layer and bonus.layer in layers:
            geoms = shapely.buffer(layers[bonus.layer].geometry.to_numpy(), bonus.within_m, quad_segs=32)
            out.append((_raster.burn_shapes(geoms, grid, all_touched=False), bonus.points))
    return tuple(out)


# --------------------------------------------------------------------------- for the map and the cards


def better_land_nearby(candidate_geom, surface_path: Path, *, radius_m: float = 10_000.0, min_area_ha: float,
                       min_gain_points: float = 1.0) -> dict | None:
    """The best-scoring free square of at least `min_area_ha` within `radius_m` of a site, if it beats the site.

    Free cells are land, not excluded (no bit set), outside the site, with centre within `radius_m` of
    it. Every k x k square of free cells is a candidate, with k the smallest whole number of cells whose
    square holds `min_area_ha` (k = ceil(sqrt(area) / res_m)); its score is the mean of its cells. The best
    one is returned when its mean beats the site's own mean (cells whose centre is inside the site; the
    cell under its centroid when the site is smaller than a cell) by at least `min_gain_points`.

    Parameters
    ----------
    candidate_geom
        The site, a shapely (multi)polygon in EPSG:25832 (metres).
    surface_path
        The surface folder, or its ``suitability.tif`` (``exclusion.tif`` must lie beside it).
    radius_m
        Search radius around the site in metres.
    min_area_ha
        The size to match, hectares (the submission's area or net area).
    min_gain_points
        How many points (of 100) better the area must be to be reported.

    Returns
    -------
    dict or None
        ``score_mean`` and ``site_score_mean`` (0–100), ``gain_points``, ``area_ha``, ``centroid_xy``
        (EPSG:25832 m), ``centroid_lonlat`` (WGS84), ``bounds`` (minx, miny, maxx, maxy EPSG:25832),
        ``distance_m`` (site to area); None when nothing free and better is near.
    """
    suit, excl = _surface_files(surface_path)
    site = shapely.make_valid(candidate_geom)
    found = _raster_io.best_square(suit, excl, site, radius_m=radius_m, min_area_ha=min_area_ha)
    if found is None:
        return None
    best, site_mean = found
    if np.isfinite(site_mean) and best["score_mean"] < site_mean + min_gain_points:
        return None
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(*best["centroid_xy"])
    best.update(site_score_mean=float(site_mean), gain_points=float(best["score_mean"] - site_mean),
                centroid_lonlat=(float(lon), float(lat)),
                distance_m=float(shapely.distance(site, shapely.box(*best["bounds"]))))
    return best


def overlay_png(surface_path: Path, out_png: Path, *, max_px: int = 2000):
    """Render the surface as a transparent PNG in Web Mercator for a folium ``ImageOverlay``.

    Scores 0–100 are coloured red-yellow-green, excluded land dark grey, the sea transparent. The
    rasters are read at display resolution (from the COG overviews, average for scores, nearest for the
    bit mask) with at most `max_px` pixels along the longer side, then warped to EPSG:3857.

    Returns
    -------
    tuple
        ``(png_path, ((south, west), (north, east)))``: the PNG and its bounds in WGS84 degrees, in
        the order ``folium.raster_layers.ImageOverlay(bounds=...)`` expects.
    """
    suit, excl = _surface_files(surface_path)
    rgba, bounds = _raster_io.render_rgba(suit, excl, max_px=max_px)
    from PIL import Image

    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba).save(out_png, optimize=True)
    return Path(out_png), bounds


def _surface_files(surface_path: Path) -> tuple[Path, Path]:
    path = Path(surface_path)
    suit = path / "suitability.tif" if path.is_dir() else path
    excl = suit.with_name("exclusion.tif")
    for f in (suit, excl):
        if not f.exists():
            raise LayerUnavailableError(f"{f}: surface file not found; run 'industripark surface --out "
                                        f"{suit.parent}' first")
    return suit, excl

"""The per-criterion and per-rule inputs of the suitability surface, prepared once from the layers.

Internal to `screening.surface`. Each ``exclude``/``cut`` rule becomes a `screening._raster.Burn` of its
(filtered, buffered) features, each criterion a raster can assess a `screening._raster.Nearest` (segments
and polygon interiors), a `screening._raster.Reach` (points and burned buffers with their values) or a
road-network input (`screening._raster_travel`), each bonus a burned area with its points; what cannot be
assessed is returned with the reason. All geometries are EPSG:25832 (metres) on the surface's `Grid`.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import shapely

from screening import _raster, _surface_nature
from screening._geo import require_crs
from screening._raster import Grid, Nearest, Reach
from screening.config import Criteria, Criterion
from screening.errors import ConfigError, LayerUnavailableError
from screening.i18n import gettext as _

__all__ = ["RASTER_RULE_ACTIONS", "rule_burns", "roads_for", "criterion_inputs", "bonus_burns"]

log = logging.getLogger(__name__)

RASTER_RULE_ACTIONS = ("exclude", "cut")
"""Rule actions that make a cell unusable; ``flag`` rules are reported only and are not rasterized."""
_PER_M = {"m": 1.0, "km": 1000.0}


def rule_burns(layers, criteria: Criteria, grid: Grid, allow: set[str]):
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


def roads_for(layers, criteria: Criteria):
    """The road network when a travel criterion can use it (the same one the vector scoring builds)."""
    travel = criteria.travel
    if travel.road_layer not in layers or not any(
            c.measure in ("travel_time", "reach_sum", "reach_count") and c.layer in layers for c in criteria.criteria):
        return None
    from screening.road_network import network_for

    return network_for(layers[travel.road_layer], travel)


def criterion_inputs(layers, criteria: Criteria, grid: Grid, network=None):
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


def bonus_burns(layers, criteria: Criteria, grid: Grid) -> tuple:
    """Bonus areas: cell centres within ``within_m`` of a feature of the bonus layer earn its points."""
    out = []
    for bonus in criteria.bonus:  # one or two configured bonuses
        if bonus.layer and bonus.layer in layers:
            geoms = shapely.buffer(layers[bonus.layer].geometry.to_numpy(), bonus.within_m, quad_segs=32)
            out.append((_raster.burn_shapes(geoms, grid, all_touched=False), bonus.points))
    return tuple(out)


# --------------------------------------------------------------------------- helpers


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

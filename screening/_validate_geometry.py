"""Geometry checks of one submission frame: readable, polygonal, finite, closed rings, valid, in Denmark.

Every check runs over the whole array of outlines (shapely 2), in an order that keeps hostile input away
from GEOS operations that throw: unreadable WKB and non-finite coordinates are caught first (numpy on
``shapely.get_coordinates``), then rings too short to bound an area, then validity; a GEOS operation that
still fails on some outline (`guarded`) becomes a problem of that feature, never a traceback.
"""

from __future__ import annotations

import struct

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from screening._geo import area_ha
from screening._problems import num, text
from screening.config import CRS

__all__ = ["check_geometry", "diagnose_wkb", "as_multipolygons", "guarded"]

_SWAPPED = (54.0, 7.5, 58.0, 16.0)  # bounds of a Danish site written [lat, lon]: x 54..58, y 7.5..16
_POLYGONAL = (3, 6)  # shapely type ids of Polygon and MultiPolygon


def check_geometry(raw: gpd.GeoDataFrame, rules, at, *, repair: bool) -> tuple[np.ndarray, np.ndarray, list]:
    """Readable, polygonal, finite, rings of 4+ points, valid (or repaired), degrees in a degree CRS, in the
    Denmark box; returns the outlines in EPSG:25832 (None where unusable), the mask of placed ones, problems."""
    geoms = np.asarray(raw.geometry.values, dtype=object)
    metric, placed = np.full(len(geoms), None, dtype=object), np.zeros(len(geoms), bool)
    if raw.crs is None:
        return metric, placed, [at(None, None, "no_crs")]
    unreadable = raw.attrs.get("unreadable_geometry", {})
    lost = np.isin(np.arange(len(geoms)), list(unreadable))
    problems = [at(i, "geometry", kind, **_as_shown(values)) for i, (kind, values) in sorted(unreadable.items())]
    empty = ~lost & (shapely.is_missing(geoms) | shapely.is_empty(geoms))
    polygonal = ~lost & ~empty & np.isin(shapely.get_type_id(geoms), _POLYGONAL)
    problems += [at(i, "geometry", "no_geometry") for i in np.flatnonzero(empty)]
    problems += [at(i, "geometry", "not_polygon", geom_type=geoms[i].geom_type)
                 for i in np.flatnonzero(~lost & ~empty & ~polygonal)]
    geoms = np.where(polygonal, shapely.force_2d(np.where(polygonal, geoms, None)), None)  # Z and M dropped
    bad, total = _nonfinite(geoms)
    problems += [at(i, "geometry", "nonfinite", bad=num(bad[i]), total=num(total[i])) for i in np.flatnonzero(bad)]
    short = _shortest_ring(geoms)
    problems += [at(i, "geometry", "short_ring", n=int(short[i]))
                 for i in np.flatnonzero(polygonal & ~bad.astype(bool) & (short < 4))]
    sound = polygonal & (bad == 0) & (short >= 4)
    fixed, usable, invalid, reasons, more = _validity(geoms, sound, at, repair=repair)
    problems += more
    swapped = degrees = np.zeros(len(geoms), bool)
    if raw.crs.is_geographic and usable.any():
        not_degrees = _not_degrees(shapely.total_bounds(fixed[usable]), raw.crs, at)
        if not_degrees:
            return metric, placed, [*problems, not_degrees]
        swapped = _within(shapely.bounds(fixed), _SWAPPED)
    elif usable.any():
        degrees = _within(shapely.bounds(fixed), (-180.0, -90.0, 180.0, 90.0))
    try:
        metric[usable] = np.asarray(gpd.GeoSeries(fixed[usable], crs=raw.crs).to_crs(CRS).values, dtype=object)
    except pyproj.exceptions.ProjError as exc:  # e.g. a local (engineering) CRS: no way to EPSG:25832
        return metric, placed, [*problems, at(None, "geometry", "crs_untransformable", crs=raw.crs.name,
                                              reason=str(exc))]
    b = shapely.bounds(metric)
    placed = usable & _within(b, rules.denmark_bounds_25832)
    problems += [_outside(i, b[i], rules.denmark_bounds_25832, swapped[i], degrees[i], raw.crs, at)
                 for i in np.flatnonzero(usable & ~placed)]
    repaired = placed & invalid
    before = area_ha(np.asarray(gpd.GeoSeries(geoms[repaired], crs=raw.crs).to_crs(CRS).values))
    problems += [at(i, "geometry", "repaired", "warning", reason=reasons[i], before=num(a, 2), after=num(c, 2),
                    change=("+" if c - a >= 0 else "") + num(c - a, 2))
                 for i, a, c in zip(np.flatnonzero(repaired), before, area_ha(metric[repaired]), strict=True)]
    return metric, placed, problems


def diagnose_wkb(blob: bytes) -> tuple[str, dict]:
    """Why GEOS could not build a geometry from `blob` (WKB, EWKB or ISO, any byte order): a problem kind of
    `screening._problems.PROBLEMS` and its values. Reads the coordinates without building rings."""
    try:
        coords, rings = _walk_wkb(bytes(blob))
    except (struct.error, ValueError) as exc:
        return "unreadable_geometry", {"reason": text("damaged_wkb", reason=exc)}
    xy = coords[:, :2] if coords.size else np.zeros((0, 2))
    finite = np.isfinite(xy).all(axis=1)
    if not finite.all():
        return "nonfinite", {"bad": int((~finite).sum()), "total": len(xy)}
    short = [n for n in rings if 0 < n < 4]
    if short:
        return "short_ring", {"points": min(short)}
    try:
        shapely.from_wkb(blob)
    except shapely.errors.GEOSException as exc:
        return "unreadable_geometry", {"reason": str(exc).split(": ", 1)[-1]}
    return "unreadable_geometry", {"reason": "GEOS"}


def _as_shown(values: dict) -> dict:
    """`diagnose_wkb`'s values as the messages show them: counts formatted, ``points`` as the plural's ``n``."""
    out = {k: num(v) if k in ("bad", "total") else v for k, v in values.items()}
    if "points" in out:
        out["n"] = int(out.pop("points"))
    return out


def as_multipolygons(geoms: np.ndarray) -> np.ndarray:
    """Keep the polygonal parts of each geometry as one MultiPolygon (empty when there are none)."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    sub, sub_index = shapely.get_parts(parts, return_index=True)  # members of collections, too
    keep = shapely.get_type_id(sub) == 3
    out = np.array([shapely.MultiPolygon() for _ in geoms], dtype=object)
    if keep.any():  # with no polygon at all, shapely returns an empty array, not `out`
        shapely.multipolygons(sub[keep], indices=index[sub_index][keep], out=out)
    return out


def guarded(func, geoms: np.ndarray, *args) -> tuple[np.ndarray, dict[int, str]]:
    """``func(geoms, *args)`` over the array; if GEOS throws, element by element to find the culprits.

    Returns the results (None where it failed) and {position: GEOS message} of the failures.
    """
    try:
        return func(geoms, *args), {}
    except shapely.errors.GEOSException:
        pass
    out, failed = np.full(len(geoms), None, dtype=object), {}
    for i in range(len(geoms)):  # only after a failure, over the outlines of one file
        try:
            out[i] = func(geoms[i:i + 1], *(a[i:i + 1] if isinstance(a, np.ndarray) else a for a in args))[0]
        except shapely.errors.GEOSException as exc:
            failed[i] = str(exc).split(": ", 1)[-1]
    return out, failed


# --------------------------------------------------------------------------- helpers (in call order)


def _nonfinite(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per geometry: how many of its x/y coordinates are NaN or infinite, and how many it has."""
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    bad = np.bincount(index[~np.isfinite(coords).all(axis=1)], minlength=len(geoms))
    return bad, np.bincount(index, minlength=len(geoms))


def _shortest_ring(geoms: np.ndarray) -> np.ndarray:
    """Per geometry the point count of its shortest ring (a large number where it has none)."""
    rings, index = shapely.get_rings(geoms, return_index=True)
    shortest = np.full(len(geoms), np.iinfo(np.int64).max)
    np.minimum.at(shortest, index, shapely.get_num_points(rings))
    return shortest


def _validity(geoms, sound, at, *, repair: bool):
    """Valid outlines pass; invalid ones are problems, or repaired with make_valid (polygonal parts kept)."""
    reasons = np.full(len(geoms), "Valid Geometry", dtype=object)
    with np.errstate(all="ignore"):
        reasons[sound] = shapely.is_valid_reason(geoms[sound])
    invalid = sound & (reasons != "Valid Geometry")
    problems = [at(i, "geometry", "invalid", reason=reasons[i], fix=_invalid_fix(reasons[i]))
                for i in np.flatnonzero(invalid & ~repair)]
    fixed = geoms.copy()
    if repair and invalid.any():
        made, failed = guarded(shapely.make_valid, geoms[invalid])
        fixed[invalid] = as_multipolygons(np.where(shapely.is_missing(made), None, made))
        where = np.flatnonzero(invalid)
        problems += [at(where[k], "geometry", "geos_failed", operation=text("made_valid"), reason=msg)
                     for k, msg in failed.items()]
    usable = sound & ~invalid | invalid & repair & ~shapely.is_empty(fixed)
    problems += [at(i, "geometry", "repair_empty", reason=reasons[i])
                 for i in np.flatnonzero(invalid & repair & ~usable)]
    return fixed, usable, invalid, reasons, problems


def _invalid_fix(reason: str) -> str:
    """How to fix an invalid outline, by shapely's reason (a key of FIXES)."""
    if reason.startswith("Invalid Coordinate"):
        return "invalid_coordinate"
    if reason.startswith("Too few points"):
        return "invalid_too_few"
    return "invalid_other"


def _within(b: np.ndarray, box) -> np.ndarray:
    """Rows of `b` (xmin, ymin, xmax, ymax; NaN where missing) lying inside `box`."""
    x0, y0, x1, y1 = box
    with np.errstate(invalid="ignore"):
        return (b[:, 0] >= x0) & (b[:, 1] >= y0) & (b[:, 2] <= x1) & (b[:, 3] <= y1)


def _not_degrees(bounds: np.ndarray, crs, at):
    """A file problem when coordinates in a geographic CRS are not degrees (e.g. metres without 'crs')."""
    x0, y0, x1, y1 = bounds
    if -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90:
        return None
    metres = 400_000 <= x0 <= x1 <= 950_000 and 6_000_000 <= y0 <= y1 <= 6_450_000
    return at(None, "geometry", "not_degrees", x0=num(x0), x1=num(x1), y0=num(y0), y1=num(y1), crs=crs.to_string(),
              hint=text("hint_metres") if metres else "")


def _outside(i: int, b: np.ndarray, bounds, swapped: bool, degrees: bool, crs, at):
    def big(v: float) -> str:
        return num(v) if abs(v) < 1e12 else f"{v:.3g}"

    where = (text("bounds", **dict(zip(("x0", "y0", "x1", "y1"), map(big, b), strict=True)))
             if np.isfinite(b).all() else text("unplaceable"))
    box = tuple(int(v) for v in bounds)
    if swapped:
        return at(i, "geometry", "outside_box", where=where, box=box, hint=text("hint_swapped"), fix="swapped")
    if degrees:
        return at(i, "geometry", "outside_box", where=where, box=box, hint=text("hint_degrees", crs=crs.to_string()),
                  fix="degrees")
    return at(i, "geometry", "outside_box", where=where, box=box, hint="")


def _walk_wkb(blob: bytes) -> tuple[np.ndarray, list[int]]:
    """All coordinates of a WKB blob (n x dims) and the point count of each ring, without building rings."""
    coords, rings = [], []

    def walk(pos: int) -> int:
        order = "<" if blob[pos] == 1 else ">"
        code = struct.unpack_from(f"{order}I", blob, pos + 1)[0]
        pos += 5
        has_z, has_m = bool(code & 0x80000000), bool(code & 0x40000000)  # EWKB flags
        if code & 0x20000000:
            pos += 4  # EWKB SRID
        code &= 0x0FFFFFFF
        kind, iso = code % 1000, code // 1000
        ndim = 2 + (has_z or iso in (1, 3)) + (has_m or iso in (2, 3))
        if kind == 1:
            coords.append(struct.unpack_from(f"{order}{ndim}d", blob, pos))
            return pos + 8 * ndim
        (count,) = struct.unpack_from(f"{order}I", blob, pos)
        pos += 4
        for _ in range(count if kind == 3 else int(kind == 2)):  # a polygon's rings, or a line's points
            points = count
            if kind == 3:
                (points,) = struct.unpack_from(f"{order}I", blob, pos)
                rings.append(points)
                pos += 4
            values = struct.unpack_from(f"{order}{points * ndim}d", blob, pos)
            coords.extend(zip(*[iter(values)] * ndim, strict=True))
            pos += 8 * points * ndim
        if kind in (2, 3):
            return pos
        if kind in (4, 5, 6, 7):
            for _ in range(count):
                pos = walk(pos)
            return pos
        raise ValueError(f"geometry type {code}")

    walk(0)
    width = max((len(c) for c in coords), default=2)
    return np.array([c[:width] for c in coords], dtype=float).reshape(-1, width), rings

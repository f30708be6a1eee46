"""Reading a finished suitability surface: better land near a site, and the surface as a map overlay.

Internal to `screening.surface` (which re-exports `better_land_nearby` and `overlay_png`). Both read the
COGs that `screening.surface.build_surface` wrote (``suitability.tif`` with ``exclusion.tif`` beside it,
EPSG:25832); the raster work is `screening._raster_io`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely

from screening import _raster_io
from screening.config import CRS
from screening.errors import LayerUnavailableError

__all__ = ["better_land_nearby", "overlay_png", "surface_files"]


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
    suit, excl = surface_files(surface_path)
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
    suit, excl = surface_files(surface_path)
    rgba, bounds = _raster_io.render_rgba(suit, excl, max_px=max_px)
    from PIL import Image

    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba).save(out_png, optimize=True)
    return Path(out_png), bounds

def surface_files(surface_path: Path) -> tuple[Path, Path]:
    """``suitability.tif`` and ``exclusion.tif`` of a surface folder (or of the given ``suitability.tif``);
    `LayerUnavailableError` naming the file and the command that writes it when one is absent."""
    path = Path(surface_path)
    suit = path / "suitability.tif" if path.is_dir() else path
    excl = suit.with_name("exclusion.tif")
    for f in (suit, excl):
        if not f.exists():
            raise LayerUnavailableError(f"{f}: surface file not found; run 'industripark surface --out "
                                        f"{suit.parent}' first")
    return suit, excl

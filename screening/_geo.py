"""Small shared geometry helpers: the CRS contract (EPSG:25832) and areas in hectares."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from screening.config import CRS
from screening.errors import CRSError

__all__ = ["require_crs", "to_metric", "area_ha", "M2_PER_HA"]

M2_PER_HA = 10_000.0


def require_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, what: str) -> None:
    """Raise `CRSError` unless `gdf` is in EPSG:25832; `what` names the frame in the message."""
    if gdf.crs is None:
        msg = f"{what} has no CRS; it must be {CRS} (set it with .set_crs() or fix the file)"
        raise CRSError(msg)
    if gdf.crs.to_epsg() != 25832:
        msg = (f"{what} is in {gdf.crs.to_string()}, the pipeline needs {CRS}; "
               f"reproject with .to_crs('{CRS}') (the loaders do this on read)")
        raise CRSError(msg)


def to_metric(gdf: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    """Return `gdf` in EPSG:25832, reprojecting once when it has another CRS; no CRS is a `CRSError`."""
    if gdf.crs is None:
        msg = f"{what} has no CRS; declare one (e.g. a .prj file, or 'crs' in GeoJSON) - it must not be guessed"
        raise CRSError(msg)
    if gdf.crs.to_epsg() == 25832:
        return gdf
    return gdf.to_crs(CRS)


def area_ha(geoms) -> np.ndarray:
    """Area of each geometry in hectares; geometries must be in a metric CRS (EPSG:25832)."""
    return shapely.area(np.asarray(geoms)) / M2_PER_HA

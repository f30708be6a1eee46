"""From the rows a source yields to the rows of a layer: reproject, rename, repair, and account for every row.

`normalise` is the one path by which source rows become layer rows (mirror files, official sources); its row
accounting and checks are in `screening._layer_integrity`. Re-exported as `screening.catalog.normalise`.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from screening import _layer_integrity as integrity
from screening._geo import to_metric
from screening.config import LayerSpec
from screening.errors import CRSError, LayerDataError

__all__ = ["normalise"]

log = logging.getLogger(__name__)

_FAMILY = {"Point": ("Point", "MultiPoint"), "LineString": ("LineString", "MultiLineString"),
           "Polygon": ("Polygon", "MultiPolygon")}


def normalise(gdf: gpd.GeoDataFrame, spec: LayerSpec, *, what: str, declared: int | None = None,
              allow_damaged: bool = False) -> gpd.GeoDataFrame:
    """Reproject to EPSG:25832, repair invalid geometries, rename columns to the catalog's; account for every row.

    Every row read ends up valid (kept), repaired (`shapely.make_valid`, parts of the layer's geometry
    family kept), empty (empty in the source: left out, counted) or damaged (no readable geometry, or none
    of the layer's family after repair). ``attrs`` get the counts (``source_features``, ``n_valid``,
    ``n_repaired``, ``n_empty``, ``n_damaged``, ``damaged_ids``; see `screening._layer_integrity`).

    Parameters
    ----------
    what
        The file or URL, for messages.
    declared
        The number of features the source declares (e.g. the GeoPackage's count); the reader must have
        returned that many.
    allow_damaged
        Leave damaged features out instead of raising (never for ``exclude`` or ``boundary`` layers).

    Raises
    ------
    LayerDamagedError
        When rows were lost by the reader, or features are damaged and not allowed; names the ids.
    """
    if gdf.crs is None:
        msg = f"{what}: layer {spec.id!r} has no CRS; the catalog expects {spec.crs}. Fix the file's CRS."
        raise CRSError(msg)
    integrity.check_read(spec, what=what, read=len(gdf), declared=declared)
    gdf = to_metric(gdf, what)
    gdf = _rename_columns(gdf, spec, what)
    geoms = gdf.geometry.to_numpy()
    unreadable = shapely.is_missing(geoms)
    empty = ~unreadable & shapely.is_empty(geoms)
    invalid = ~unreadable & ~empty & ~shapely.is_valid(geoms)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
        log.info("%s: repaired %d invalid geometries with make_valid", spec.id, int(invalid.sum()))
    geoms = _keep_family(geoms, spec.geometry_type)
    unusable = ~unreadable & ~empty & (shapely.is_missing(geoms) | shapely.is_empty(geoms))
    keep = ~(unreadable | empty | unusable)
    why = [text for n, text in ((int(unreadable.sum()), "geometry unreadable or missing"),
                                (int(unusable.sum()), f"not a {spec.geometry_type.lower()}, not repairable"))
           if n]
    rows = integrity.RowCount(
        read=len(gdf), valid=int((keep & ~invalid).sum()), repaired=int((keep & invalid).sum()),
        empty=int(empty.sum()), damaged_ids=integrity.row_labels(gdf.index, unreadable | unusable),
        damaged_why="; ".join(why))
    integrity.check_damaged(spec, rows.as_attrs(), what=what, allow=allow_damaged)
    if rows.empty:
        log.warning("%s: %d feature(s) with an empty geometry in %s left out (they cover nothing): %s", spec.id,
                    rows.empty, what, ", ".join(integrity.row_labels(gdf.index, empty)[:20]))
    out = gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name).loc[keep].reset_index(drop=True),
                           geometry=geoms[keep], crs=gdf.crs)
    if out.empty:
        msg = f"{what}: layer {spec.id!r} has no usable {spec.geometry_type} features"
        raise LayerDataError(msg)
    out.attrs.update(rows.as_attrs())
    return out


def _rename_columns(gdf: gpd.GeoDataFrame, spec: LayerSpec, what: str) -> gpd.GeoDataFrame:
    lower = {c.lower(): c for c in gdf.columns if c != gdf.geometry.name}
    renames, missing = {}, []
    for name, col in spec.columns.items():
        found = next((lower[n.lower()] for n in (name, *col.aliases) if n.lower() in lower), None)
        if found is None:
            if col.required:
                missing.append(name)
        elif found != name:
            renames[found] = name
    if missing:
        msg = (f"{what}: layer {spec.id!r} lacks required column(s) {missing} (or their aliases); "
               f"columns present: {sorted(lower.values())}. Update catalog.yaml aliases or fix the file.")
        raise LayerDataError(msg)
    return gdf.rename(columns=renames)


def _keep_family(geoms: np.ndarray, geometry_type: str) -> np.ndarray:
    """Replace geometries of another family by their parts of the right family (collections from make_valid)."""
    family = _FAMILY[geometry_type]
    types = shapely.get_type_id(geoms)
    ok_ids = {shapely.GeometryType[name.upper()].value for name in family}
    off = ~np.isin(types, list(ok_ids)) & ~shapely.is_missing(geoms)
    if off.any():
        parts, idx = shapely.get_parts(geoms[off], return_index=True)
        good = np.isin(shapely.get_type_id(parts), list(ok_ids))
        rebuilt = np.full(int(off.sum()), None, dtype=object)
        if good.any():
            series = pd.Series(list(parts[good])).groupby(idx[good]).agg(lambda g: shapely.union_all(list(g)))
            rebuilt[series.index.to_numpy()] = series.to_numpy()
        geoms = geoms.copy()
        geoms[off] = rebuilt
    return geoms

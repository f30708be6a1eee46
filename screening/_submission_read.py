"""Reading a submission file as it is: GeoJSON, GeoPackage, zipped Shapefile or GeoParquet, in its own CRS.

A file that cannot be read at all is a `SubmissionError` naming the file and the fix; a feature whose geometry
cannot be built (NaN coordinates, a one-point ring: GEOS refuses them) is read with geometry None and its
reason in ``attrs["unreadable_geometry"]``, so the checks report it as a problem of that feature.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
import zipfile
from pathlib import Path
from typing import NoReturn

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pyogrio.errors
import pyogrio.raw
import pyproj
import shapely

from screening._problems import Problem, num, problem, text
from screening._validate_geometry import diagnose_wkb
from screening.errors import SubmissionError

__all__ = ["FORMATS", "read_submission_file"]

log = logging.getLogger(__name__)

FORMATS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GeoPackage", ".zip": "zipped Shapefile",
           ".shp": "Shapefile", ".parquet": "GeoParquet", ".geoparquet": "GeoParquet"}
"""Accepted file suffixes and the format each is read as."""

_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj")
_PYOGRIO_ERRORS = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FeatureError,
                   pyogrio.errors.FieldError, pyogrio.errors.GeometryError, pyogrio.errors.CRSError,
                   OSError, UnicodeDecodeError)
_GDAL_OPTIONS = {"OGR_GEOJSON_MAX_OBJ_SIZE": "0"}
"""GDAL's GeoJSON reader refuses by default a single feature of more than 200 MB *in memory* (about 1.1
million vertices, a valid 45 MB file); a submission is read whole anyway, so the limit is lifted while
reading it (0 = no limit)."""


def read_submission_file(path: str | Path) -> gpd.GeoDataFrame:
    """Read a submission file as it is, in its own CRS.

    GeoJSON without a ``crs`` member is WGS84 (RFC 7946); a legacy ``crs`` member (e.g.
    ``urn:ogc:def:crs:EPSG::25832``) is honoured. A zipped Shapefile must hold exactly one ``.shp`` with
    its ``.shx``, ``.dbf`` and ``.prj``. A GeoPackage must hold exactly one layer with geometry. GeoParquet
    is read with pyarrow (no ``crs`` in its metadata means OGC:CRS84). Unclosed rings are closed.

    Parameters
    ----------
    path
        The file; its suffix picks the format (`FORMATS`).

    Returns
    -------
    geopandas.GeoDataFrame
        Features in file order (RangeIndex = feature index), the file's CRS, dates as strings; ``attrs``:
        ``source_file``, ``format`` and, when some geometry could not be built, ``unreadable_geometry``
        ({feature index: (problem kind, values)}).

    Raises
    ------
    SubmissionError
        When the file is missing, of another format, unreadable or cut off, has no CRS, several layers, or
        no features; each problem names the file and the fix. Truncation is reported only when parsing
        really stops at the end of the file.
    """
    path = Path(path)
    file = str(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        _fail(file, "bad_suffix", suffix=path.suffix or path.name)
    if not path.is_file():
        _fail(file, "is_folder" if path.is_dir() else "not_found")
    if fmt == "GeoParquet":
        gdf, wkb = _read_parquet(path, file)
    elif fmt in ("zipped Shapefile", "Shapefile"):
        gdf, wkb = _read_ogr(_shapefile_source(path, file), file, fmt)
    else:
        layer = _single_layer(path, file) if fmt == "GeoPackage" else None
        gdf, wkb = _read_ogr(str(path), file, fmt, layer=layer, path=path)
    if gdf.crs is None:
        _fail(file, "no_crs_file")
    if len(gdf) == 0:
        _fail(file, "no_features")
    gdf = gdf.reset_index(drop=True)
    gdf.attrs = {"source_file": file, "format": fmt}
    lost = np.flatnonzero(shapely.is_missing(np.asarray(gdf.geometry.values, dtype=object)) & pd.notna(wkb))
    if lost.size:  # geometries GEOS could not build: say why, per feature
        gdf.attrs["unreadable_geometry"] = {int(i): diagnose_wkb(wkb[i]) for i in lost}
    log.debug("read %s: %d feature(s), %s, %s", file, len(gdf), fmt, gdf.crs.to_string())
    return gdf


# --------------------------------------------------------------------------- helpers (in call order)


def _fail(file: str, kind: str, **values) -> NoReturn:
    raise SubmissionError([problem(file, kind, **values)])


def _read_parquet(path: Path, file: str) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """GeoParquet through pyarrow: WKB parsed leniently (geopandas would raise on one bad geometry)."""
    try:
        table = pq.read_table(path)
        geo = json.loads((table.schema.metadata or {}).get(b"geo", b"null"))
    except (pa.ArrowInvalid, OSError, ValueError) as exc:  # not Parquet, damaged, or bad 'geo' JSON
        _fail(file, "parquet_unreadable", reason=_first_line(exc))
    if not geo or geo.get("primary_column") not in table.column_names:
        _fail(file, "parquet_no_geo")
    column = geo["primary_column"]
    meta = geo.get("columns", {}).get(column, {})
    if str(meta.get("encoding", "WKB")).upper() != "WKB":  # GeoArrow native encodings: geopandas builds them
        try:
            gdf = gpd.read_parquet(path)
        except (ValueError, shapely.errors.GEOSException) as exc:
            _fail(file, "parquet_unreadable", reason=_first_line(exc))
        return gdf, np.full(len(gdf), None, dtype=object)
    wkb = np.asarray(table[column].to_pylist(), dtype=object)
    crs = meta.get("crs", "OGC:CRS84")  # the GeoParquet default
    try:
        crs = None if crs is None else pyproj.CRS.from_user_input(json.dumps(crs) if isinstance(crs, dict) else crs)
    except pyproj.exceptions.CRSError as exc:
        _fail(file, "parquet_unreadable", reason=f"its CRS: {_first_line(exc)}")
    frame = table.drop_columns([column]).to_pandas()
    with np.errstate(invalid="ignore"):  # NaN coordinates become problems of their features
        geoms = shapely.from_wkb(wkb, on_invalid="fix")  # closes unclosed rings; None where GEOS cannot build
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=crs), wkb


def _shapefile_source(path: Path, file: str) -> str:
    """GDAL path of the one shapefile in a .zip (or of a bare .shp), after checking its companion files."""
    if path.suffix.lower() == ".shp":
        members = [p.name for p in path.parent.iterdir()]
        shp, prefix = path.name, str(path.parent) + "/"
    else:
        try:
            with zipfile.ZipFile(path) as zf:
                members = [n for n in zf.namelist() if not n.startswith("__MACOSX/") and not n.endswith("/")]
        except (zipfile.BadZipFile, OSError) as exc:
            _fail(file, "zip_unreadable", reason=exc)
        shps = [n for n in members if n.lower().endswith(".shp")]
        if len(shps) != 1:
            found = ", ".join(shps) if shps else text("zip_no_shp", files=", ".join(members[:8]))
            _fail(file, "zip_shapefiles", found=found)
        shp, prefix = shps[0], f"/vsizip/{path.resolve()}/"
    stem = shp[: -len(".shp")].lower()
    present = {n.lower() for n in members}
    missing = [ext for ext in _SHAPEFILE_PARTS if stem + ext not in present]
    if missing:
        raise SubmissionError([problem(file, "shp_missing_prj" if ext == ".prj" else "shp_missing_part", shp=shp,
                                       ext=ext, stem=shp[:-4]) for ext in missing])
    return prefix + shp


def _single_layer(path: Path, file: str) -> str:
    """The one layer with geometry of a GeoPackage (attribute tables, e.g. QGIS layer_styles, don't count)."""
    try:
        layers = pyogrio.list_layers(path)
    except _PYOGRIO_ERRORS as exc:
        _fail(file, "gpkg_unreadable", reason=_first_line(exc))
    spatial = [str(name) for name, geom_type in layers if geom_type is not None]
    if len(spatial) != 1:
        _fail(file, "gpkg_layers", count=num(len(spatial)), found=", ".join(spatial) if spatial else text("none"))
    return spatial[0]


def _read_ogr(source: str, file: str, fmt: str, *, layer: str | None = None,
              path: Path | None = None) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Read through GDAL; unclosed rings closed; the raw WKB of features GEOS could not build, else None."""
    try:
        with warnings.catch_warnings(), _gdal_options(_GDAL_OPTIONS):
            warnings.filterwarnings("ignore", "Could not parse column .* as JSON", UserWarning)  # coerced later
            warnings.filterwarnings("ignore", "invalid value encountered in from_wkb", RuntimeWarning)  # NaN: a problem
            warnings.filterwarnings("ignore", "Non closed ring detected", RuntimeWarning)  # closed, as documented
            gdf = pyogrio.read_dataframe(source, layer=layer, datetime_as_string=True, on_invalid="fix")
            wkb = np.full(len(gdf), None, dtype=object)
            if isinstance(gdf, gpd.GeoDataFrame) and gdf.geometry.isna().any():  # rare: read the WKB again
                wkb = pyogrio.raw.read(source, layer=layer, columns=[])[2]
    except _PYOGRIO_ERRORS as exc:
        if fmt == "GeoJSON" and path is not None:
            raise SubmissionError([_json_problem(path, file, exc)]) from None
        _fail(file, "ogr_unreadable", fmt=fmt, reason=_first_line(exc))
    if not isinstance(gdf, gpd.GeoDataFrame):  # no geometry column at all
        gdf = gpd.GeoDataFrame(gdf, geometry=np.full(len(gdf), None, dtype=object))
    return gdf, np.asarray(wkb, dtype=object)


@contextlib.contextmanager
def _gdal_options(options: dict[str, str]):
    """GDAL configuration options set while reading, restored after."""
    before = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(before)


def _json_problem(path: Path, file: str, exc: Exception) -> Problem:
    """Why GDAL could not read a GeoJSON file, from a real JSON parse: cut off, not JSON, or not GeoJSON."""
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        return problem(file, "json_not_text", reason=text("byte", pos=num(err.start), reason=err.reason))
    try:
        json.loads(content)
    except json.JSONDecodeError as err:
        end = len(content.rstrip())
        if err.pos >= end or err.msg.startswith("Unterminated string"):  # the text stops inside the JSON
            return problem(file, "json_truncated", pos=num(end), length=num(len(content)))
        return problem(file, "json_invalid", reason=err.msg, line=err.lineno, column=err.colno)
    return problem(file, "geojson_unreadable", reason=_first_line(exc))


def _first_line(exc: Exception) -> str:
    """The library's message, first line, without GDAL's advice on driver prefixes."""
    msg = str(exc).strip().split("; It might help to specify the correct driver", 1)[0]
    return msg.splitlines()[0] if msg else type(exc).__name__

"""Builders of submission files for the submission tests: synthetic municipalities, squares, hostile files.

Synthetic sites are squares on round EPSG:25832 coordinates inside two synthetic 20 km x 20 km
municipalities (land at x 500-540 km, y 6,200-6,220 km; everything else is sea or abroad), so areas, shares
and suggestions are known by construction. Hostile geometries are written as raw WKB (`wkb_polygon`), which
no GIS would produce, through GDAL (`pyogrio.raw.write`) or pyarrow, so every format carries the same bytes.
"""

from __future__ import annotations

import json
import sqlite3
import struct
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio.raw
import pyproj
import shapely
from shapely.geometry import Polygon, box, mapping

X0, Y0 = 500_000, 6_200_000  # round EPSG:25832 coordinates (metres) inside Denmark
LAND_X1 = X0 + 40_000  # east edge of the synthetic land (municipality 0630)
_TO_WGS84 = pyproj.Transformer.from_crs(25832, 4326, always_xy=True)


def synthetic_kommuner() -> gpd.GeoDataFrame:
    """Two 20 km x 20 km municipalities, EPSG:25832: 0101 at x 500-520 km, 0630 at x 520-540 km."""
    return gpd.GeoDataFrame(
        {"kommunekode": ["0101", "0630"], "kommunenavn": ["København", "Vejle"],
         "regionskode": ["1084", "1083"], "regionsnavn": ["Region Hovedstaden", "Region Syddanmark"]},
        geometry=[box(X0, Y0, X0 + 20_000, Y0 + 20_000), box(X0 + 20_000, Y0, LAND_X1, Y0 + 20_000)],
        crs=25832)


def square(dx: float = 5_000, dy: float = 5_000, side: float = 1_000, height: float | None = None) -> Polygon:
    """A side x height m rectangle whose lower-left corner is (X0 + dx, Y0 + dy), EPSG:25832."""
    return box(X0 + dx, Y0 + dy, X0 + dx + side, Y0 + dy + (height or side))


def wgs84(geom):
    """The EPSG:25832 geometry in WGS84 longitude/latitude (GeoJSON order)."""
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_WGS84.transform(xy[:, 0], xy[:, 1])))


def feature(geom, **props) -> dict:
    """A GeoJSON feature with default attributes (A-1, 0101, 'Nord'); `geom` a shapely geometry, a GeoJSON
    geometry dict or None."""
    base = {"application_id": "A-1", "kommunekode": "0101", "site_name": "Nord"}
    shape = geom if geom is None or isinstance(geom, dict) else mapping(geom)
    return {"type": "Feature", "properties": {**base, **props}, "geometry": shape}


def write_geojson(path: Path, features: list[dict], *, epsg: int | None = None) -> Path:
    """A FeatureCollection; with `epsg` a legacy 'crs' member, without it RFC 7946 (WGS84). NaN and
    Infinity are written as the bare tokens GDAL reads."""
    fc = {"type": "FeatureCollection", "features": features}
    if epsg:
        fc["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}"}}
    path.write_text(json.dumps(fc), encoding="utf-8")
    return path


def metric_frame(geoms, **columns) -> gpd.GeoDataFrame:
    """Sites in EPSG:25832 with default attributes, one per geometry."""
    n = len(geoms)
    data = {"application_id": [f"A-{i + 1}" for i in range(n)], "kommunekode": ["0101"] * n,
            "site_name": ["Nord"] * n, **columns}
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=25832)


def zipped_shapefile(tmp_path: Path, gdf: gpd.GeoDataFrame, *, parts=(".shp", ".shx", ".dbf", ".prj")):
    """The frame as export/sites.* inside tmp_path/sites.zip, with only the listed parts."""
    folder = tmp_path / "shp"
    folder.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # field names cut to 10 characters: that is the point
        gdf.to_file(folder / "sites.shp")
    return _zip_folder(folder, tmp_path / "sites.zip", parts)


def messages(report, severity: str = "error") -> list[str]:
    return [str(p) for p in report.problems if p.severity == severity]


# --------------------------------------------------------------------------- hostile geometries as raw WKB

_WKB_TYPES = {"Polygon": 3, "MultiPolygon": 6, "GeometryCollection": 7}
_DIM_OFFSET = {"": 0, "Z": 1000, "M": 2000, "ZM": 3000}  # ISO WKB type codes


def wkb_polygon(*rings, dims: str = "") -> bytes:
    """ISO WKB of a Polygon from rings of coordinate tuples, written as given: NaN, unclosed or one-point
    rings included (no GIS writes these; GEOS refuses to build some of them)."""
    body = struct.pack("<I", len(rings))
    for ring in rings:
        body += struct.pack("<I", len(ring)) + b"".join(struct.pack(f"<{len(p)}d", *p) for p in ring)
    return struct.pack("<BI", 1, _WKB_TYPES["Polygon"] + _DIM_OFFSET[dims]) + body


def wkb_multi(kind: str, *parts: bytes) -> bytes:
    """ISO WKB of a MultiPolygon or GeometryCollection of WKB parts."""
    return struct.pack("<BII", 1, _WKB_TYPES[kind], len(parts)) + b"".join(parts)


def ring(geom: Polygon) -> list[tuple[float, float]]:
    """The exterior ring of a shapely polygon as coordinate tuples."""
    return [tuple(c) for c in geom.exterior.coords]


def write_wkb(path: Path, blobs: list[bytes | None], *, epsg: int = 25832, **columns) -> Path:
    """Features with the given WKB geometries and text columns (default A-1.., 0101, 'Nord'), EPSG `epsg`.

    The suffix picks the format: .geojson (text written here: GeoJSON cannot hold WKB, so the blobs are
    decoded leniently by `_wkb_to_geojson`), .gpkg and .zip (a shapefile) through GDAL, .parquet through
    pyarrow with GeoParquet 1.1 metadata.
    """
    n = len(blobs)
    data = {"application_id": [f"A-{i + 1}" for i in range(n)], "kommunekode": ["0101"] * n,
            "site_name": ["Nord"] * n, **columns}
    suffix = path.suffix.lower()
    if suffix == ".geojson":
        feats = [{"type": "Feature", "properties": {k: v[i] for k, v in data.items()},
                  "geometry": None if b is None else _wkb_to_geojson(b)} for i, b in enumerate(blobs)]
        return write_geojson(path, feats, epsg=epsg)
    if suffix == ".parquet":
        table = pa.table({**data, "geometry": pa.array(blobs, pa.binary())})
        crs = json.loads(pyproj.CRS.from_epsg(epsg).to_json())
        geo = {"version": "1.1.0", "primary_column": "geometry",
               "columns": {"geometry": {"encoding": "WKB", "geometry_types": [], "crs": crs}}}
        pq.write_table(table.replace_schema_metadata({b"geo": json.dumps(geo).encode()}), path)
        return path
    target = path
    if suffix == ".zip":
        target = path.parent / "shp" / "sites.shp"
        target.parent.mkdir()
    placeholder = shapely.to_wkb(box(0, 0, 1, 1))  # GDAL refuses to write NaN: the blobs are put in after
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Normalized/laundered field name", RuntimeWarning)  # dBase: 10 chars
        pyogrio.raw.write(target, np.array([placeholder] * n, dtype=object),
                          [np.array(v, dtype=object) for v in data.values()], list(data),
                          geometry_type="Unknown" if suffix == ".gpkg" else "Polygon", crs=f"EPSG:{epsg}",
                          driver="GPKG" if suffix == ".gpkg" else "ESRI Shapefile",
                          layer_options={"SPATIAL_INDEX": "NO"} if suffix == ".gpkg" else None)
    if suffix == ".gpkg":
        _put_gpkg_blobs(target, blobs, epsg)
        return path
    _put_shp_blobs(target, blobs)
    return _zip_folder(target.parent, path, (".shp", ".shx", ".dbf", ".prj"))


def _put_gpkg_blobs(path: Path, blobs: list[bytes | None], epsg: int) -> None:
    """Replace the geometries of a one-layer GeoPackage by GeoPackage blobs (header + the given WKB)."""
    header = b"GP\x00\x01" + struct.pack("<i", epsg)  # version 0, little endian, no envelope
    with sqlite3.connect(path) as db:
        table, column = db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchone()
        for fid, blob in enumerate(blobs, start=1):
            db.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE fid = ?',
                       (None if blob is None else header + blob, fid))


def _put_shp_blobs(path: Path, blobs: list[bytes | None]) -> None:
    """Rewrite the .shp (and .shx) of a Polygon shapefile with the rings of the given 2D polygon WKB, bytes as
    given (NaN included); Z/M and non-polygons are not written by a Polygon shapefile, so they stay out."""
    records = []
    for blob in blobs:
        geo = _wkb_to_geojson(blob)
        rings = geo["coordinates"] if geo["type"] == "Polygon" else [r for p in geo["coordinates"] for r in p]
        points = [tuple(p[:2]) for r in rings for p in r]
        xy = np.array(points, dtype=float).reshape(-1, 2)
        with np.errstate(invalid="ignore"):
            bbox = (np.nanmin(xy[:, 0]), np.nanmin(xy[:, 1]), np.nanmax(xy[:, 0]), np.nanmax(xy[:, 1])) if len(
                xy) and np.isfinite(xy).any() else (0.0, 0.0, 0.0, 0.0)
        parts = np.cumsum([0] + [len(r) for r in rings[:-1]]).tolist()
        content = struct.pack("<i4d2i", 5, *bbox, len(rings), len(points))
        content += struct.pack(f"<{len(parts)}i", *parts) + xy.astype("<f8").tobytes()
        records.append(content)
    shp, shx = bytearray(), bytearray()
    offset = 50  # 16-bit words after the 100-byte header
    for k, content in enumerate(records, start=1):
        shp += struct.pack(">2i", k, len(content) // 2) + content
        shx += struct.pack(">2i", offset, len(content) // 2)
        offset += 4 + len(content) // 2
    old = path.read_bytes()[:100]
    header = bytearray(old)
    struct.pack_into(">i", header, 24, (100 + len(shp)) // 2)
    path.write_bytes(bytes(header) + bytes(shp))
    shx_path = path.with_suffix(".shx")
    head = bytearray(shx_path.read_bytes()[:100])
    struct.pack_into(">i", head, 24, (100 + len(shx)) // 2)
    shx_path.write_bytes(bytes(head) + bytes(shx))


def _zip_folder(folder: Path, path: Path, parts) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for ext in parts:
            zf.write(folder / f"sites{ext}", f"export/sites{ext}")
    return path


def _wkb_to_geojson(blob: bytes) -> dict:
    """Decode the little-endian ISO WKB written by `wkb_polygon`/`wkb_multi` into a GeoJSON geometry."""
    def geom(offset):
        code = struct.unpack_from("<I", blob, offset + 1)[0]
        kind, ndim = code % 1000, 2 + (code // 1000 in (1, 2)) + 2 * (code // 1000 == 3)
        count = struct.unpack_from("<I", blob, offset + 5)[0]
        offset += 9
        if kind == 3:
            rings = []
            for _ in range(count):
                npts = struct.unpack_from("<I", blob, offset)[0]
                values = struct.unpack_from(f"<{npts * ndim}d", blob, offset + 4)
                rings.append([list(values[i:i + ndim]) for i in range(0, len(values), ndim)])
                offset += 4 + 8 * npts * ndim
            return {"type": "Polygon", "coordinates": rings}, offset
        parts = []
        for _ in range(count):
            part, offset = geom(offset)
            parts.append(part)
        if kind == 6:
            return {"type": "MultiPolygon", "coordinates": [p["coordinates"] for p in parts]}, offset
        return {"type": "GeometryCollection", "geometries": parts}, offset

    return geom(0)[0]

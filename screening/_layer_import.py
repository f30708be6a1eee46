"""Official layer files a user provides (``industripark layers import FILE --as LAYER``).

An official download (a Miljøportal shapefile zip with upper-case field names, a GeoPackage, GeoJSON) is
checked and normalised exactly like a fetched layer (`screening.catalog.normalise`: EPSG:25832, repairs
counted, columns mapped through the catalog's names and aliases, matched case-insensitively), stored as
a cache entry with its provenance (file, SHA-256, when) and from then on resolves as ``imported``, ahead
of the mirror and of an earlier fetch. Every problem of a bad file is reported at once, like a bad
submission (file, what is wrong, the fix; exit code 2). The file itself is never modified.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import geopandas as gpd

from screening import catalog as catalog_mod
from screening._validate import Problem
from screening.config import CRS, Catalog, LayerSpec, Settings
from screening.errors import LayerFileError, ScreeningError

__all__ = ["import_layer", "imported_pointer", "DK_BOUNDS"]

log = logging.getLogger(__name__)

DK_BOUNDS = (380_000.0, 5_950_000.0, 960_000.0, 6_500_000.0)
"""Denmark with its seas in EPSG:25832 metres (minx, miny, maxx, maxy): coordinates outside are a wrong CRS."""
READABLE = (".shp", ".gpkg", ".geojson", ".json", ".fgb")


def import_layer(path: Path, layer_id: str, *, catalog: Catalog, settings: Settings, layer: str | None = None,
                 member: str | None = None) -> gpd.GeoDataFrame:
    """Check, normalise and store an official file as the layer `layer_id`.

    Parameters
    ----------
    path
        A zip of a shapefile (or of one GeoPackage/GeoJSON), a GeoPackage, GeoJSON or FlatGeobuf file.
    layer
        The layer inside a GeoPackage with several; `member` the file inside a zip with several.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer as it now loads (EPSG:25832), with ``attrs`` ``origin="imported"``, ``imported_from``,
        ``sha256``, ``imported_at``, ``crs_in``, ``features_in``.

    Raises
    ------
    LayerFileError
        Listing every problem: unreadable, empty, no CRS, coordinates outside Denmark (a wrong CRS label),
        missing columns, unusable geometries (exit code 2).
    """
    spec = catalog.get(layer_id)
    path = Path(path)
    raw, source = _read(path, spec, layer=layer, member=member)
    problems = _problems(raw, spec, file=source)
    if problems:
        raise LayerFileError(problems)
    try:
        gdf = catalog_mod.normalise(raw, spec, what=source)
    except ScreeningError as exc:  # CRSError / LayerDataError from the shared normalisation
        raise LayerFileError([Problem(source, None, None, None, str(exc).removeprefix(f"{source}: "),
                                      _FIX["normalise"])]) from None
    sha = catalog_mod.file_sha256(path)
    key = catalog_mod._key(spec, "imported", sha)  # the key `catalog` looks for (see _imported_source)
    catalog_mod._stamp(gdf, spec, origin="imported", location=str(path.resolve()), key=key)
    now = datetime.now(UTC)
    gdf.attrs.update({
        "source": f"{spec.source.publisher}, {spec.source.licence} (official file imported by the user)",
        "date": now.date().isoformat(),
        "caveat": f"official file {path.name} imported {now.date().isoformat()}; as current as that download",
        "imported_from": str(path.resolve()), "sha256": sha, "imported_at": now.isoformat(timespec="seconds"),
        "file_modified": date.fromtimestamp(path.stat().st_mtime).isoformat(),
        "crs_in": raw.crs.to_string(), "features_in": len(raw), "source_sha256": sha,
        "provisional": False,
    })
    _store(gdf, spec, key=key, settings=settings)
    log.info("imported %s from %s: %d features (%d in the file), sha256 %s", layer_id, source, len(gdf), len(raw),
             sha[:12])
    return gdf


def imported_pointer(settings: Settings, layer_id: str) -> Path:
    """``<cache>/imported/<layer_id>.json``: which file was imported for the layer (read by `catalog`)."""
    return Path(settings.cache_dir) / "imported" / f"{layer_id}.json"


_FIX = {
    "unreadable": "export the layer again as a zipped shapefile (with .shp, .shx, .dbf, .prj), GeoPackage or GeoJSON",
    "members": "name the file to read with --member",
    "layers": "name the layer to read with --layer",
    "empty": "export the layer with its features; an empty file would remove every exclusion it stands for",
    "no_crs": ("add the CRS to the file (a shapefile needs its .prj; the official downloads are in EPSG:25832) "
               "and export it again; it is never guessed"),
    "bounds": ("the file's CRS label does not match its coordinates: set the CRS the coordinates are really in "
               "(EPSG:25832 for the official Danish downloads) and export it again"),
    "columns": "download the official layer (its field names are mapped by layers/catalog.yaml, upper or lower "
               "case), or add the name as an alias of the column in layers/catalog.yaml",
    "normalise": "fix the geometries or the file as the message says and import it again",
    "store": "free disk space or fix the permissions of the layer cache (INDUSTRIPARK_CACHE) and import again",
}
"""The fix of every problem an imported file can have, in one place for translation."""


def _read(path: Path, spec: LayerSpec, *, layer: str | None, member: str | None) -> tuple[gpd.GeoDataFrame, str]:
    """The file's features as read (CRS as labelled) and the name to use in messages."""
    file = str(path)
    if not path.is_file():
        raise LayerFileError([Problem(file, None, None, None, "no such file", "give the path of the downloaded file")])
    target = file
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith(READABLE) and not n.startswith("__MACOSX")]
        if member:
            names = [n for n in names if n == member or Path(n).name == member]
        if len(names) != 1:
            what = (f"the zip holds {len(names)} readable layer files ({', '.join(names) or 'none'})"
                    if not member else f"no file {member!r} in the zip")
            raise LayerFileError([Problem(file, None, None, None, what,
                                          _FIX["members"] if len(names) > 1 else _FIX["unreadable"])])
        target, file = f"/vsizip/{path}/{names[0]}", f"{path}!{names[0]}"
    try:
        import pyogrio

        layers = [name for name, _ in pyogrio.list_layers(target)]
        if layer is None and len(layers) > 1:
            wanted = [n for n in layers if n in (spec.id, spec.mirror_layer)]
            if len(wanted) != 1:
                raise LayerFileError([Problem(file, None, None, None, f"several layers: {', '.join(layers)}",
                                              _FIX["layers"])])
            layer = wanted[0]
        return gpd.read_file(target, layer=layer, engine="pyogrio"), file
    except LayerFileError:
        raise
    except Exception as exc:  # pyogrio raises DataSourceError/DataLayerError and GDAL errors of several kinds
        text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise LayerFileError([Problem(file, None, None, None, f"cannot be read as a layer ({text})",
                                      _FIX["unreadable"])]) from None


def _problems(raw: gpd.GeoDataFrame, spec: LayerSpec, *, file: str) -> list[Problem]:
    """Every whole-file problem at once: empty, no CRS, coordinates outside Denmark, missing columns."""
    problems = []
    if len(raw) == 0:
        problems.append(Problem(file, None, None, None, "the file holds no features", _FIX["empty"]))
    if raw.crs is None:
        problems.append(Problem(file, None, None, None, f"no CRS; layer {spec.id!r} must be in {CRS} or declare "
                                "its CRS", _FIX["no_crs"]))
    elif len(raw) and raw.geometry.notna().any():
        bounds = raw.geometry.to_crs(CRS).total_bounds
        inside = (bounds[0] >= DK_BOUNDS[0] and bounds[1] >= DK_BOUNDS[1] and bounds[2] <= DK_BOUNDS[2]
                  and bounds[3] <= DK_BOUNDS[3])
        if not inside:
            shown = ", ".join(f"{v:,.1f}" for v in bounds)
            problems.append(Problem(file, None, None, None,
                                    f"labelled {raw.crs.to_string()}, but its coordinates ({shown} in {CRS}) "
                                    "are not in Denmark", _FIX["bounds"]))
    present = {c.lower(): c for c in raw.columns if c != raw.geometry.name}
    for name, col in spec.columns.items():  # the handful of columns the catalog maps
        if col.required and not any(n.lower() in present for n in (name, *col.aliases)):
            names = " or ".join(repr(n) for n in (name, *col.aliases))
            problems.append(Problem(file, None, None, name,
                                    f"required column {names} not found (the file has {sorted(present.values())}); "
                                    f"meaning: {col.meaning}", _FIX["columns"]))
    return problems


def _store(gdf: gpd.GeoDataFrame, spec: LayerSpec, *, key: str, settings: Settings) -> None:
    """The cache entry (atomic, via `catalog`), then the pointer that makes the layer resolve as imported."""
    cache = Path(settings.cache_dir)
    catalog_mod._cache_write(cache, key, gdf)
    if not all((cache / f"{key}{ext}").exists() for ext in (".parquet", ".json")):
        raise LayerFileError([Problem(gdf.attrs["imported_from"], None, None, None,
                                      f"could not be stored in the layer cache {cache}", _FIX["store"])])
    pointer = imported_pointer(settings, spec.id)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    tmp = pointer.with_name(f".{pointer.name}.tmp")
    tmp.write_text(json.dumps({k: gdf.attrs[k] for k in ("layer_id", "imported_from", "sha256", "imported_at",
                                                                "features_in")}
                              | {"file": gdf.attrs["imported_from"], "features": len(gdf)}, indent=1),
                   encoding="utf-8")
    os.replace(tmp, pointer)

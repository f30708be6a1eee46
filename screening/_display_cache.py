"""Display products of the report cached under a hash of what made them: the run map's context layers as
GeoJSON and the suitability surface's overlay PNG.

Both depend only on their inputs, and a warm ``make screen`` asks for the same ones every run:

- `context_geojson`: the GeoJSON that folium embeds for a context layer (`screening.maps.display_frame`:
  simplified, reprojected to EPSG:4326, rounded, one label per feature). Keyed by the geometries themselves
  (SHA-1 of their WKB, so a clipped or edited copy of a layer never meets another's entry), the label texts
  (they follow the language), the simplification, the coordinate decimals and the GEOS/shapely/geopandas
  versions. Reading about 3 MB of JSON replaces simplifying, reprojecting and serialising about 20,000
  features (1.8 of the report's 10 CPU-seconds). The text is the one folium made before
  (``json.dumps(frame.__geo_interface__)``), so the page is the same byte for byte.
- `overlay_png`: the PNG of `screening.surface.overlay_png` and its bounds, keyed by the SHA-256 of the
  surface's two GeoTIFFs, the pixel budget and the library versions; a hit is a file copy (the optimised
  PNG encoding alone takes about a second).

An entry is ``<cache>/<key>.<ext>`` beside ``<key>.json`` (its checksum and facts), written atomically; an
entry whose file no longer matches its checksum is refused (`LayerDataError`, naming both files), as layer
cache entries are. Hits and saves are logged with the file name. A run without a cache folder (tests, the
preview server) keeps context GeoJSON in a small in-process memo only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from threading import Lock

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from screening._layer_cache import file_sha256
from screening.errors import LayerDataError

__all__ = ["FORMAT_VERSION", "context_key", "context_geojson", "overlay_key", "overlay_png"]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Bump when what a cached display product holds changes, so older entries are not reused."""
_MEMO: OrderedDict[str, str] = OrderedDict()
_MEMO_CHARS = 64_000_000  # about 64 MB of GeoJSON text kept in a process (a run's context is about 3 MB)
_MEMO_LOCK = Lock()


def context_key(gdf: gpd.GeoDataFrame, labels: pd.Series, *, tolerance_m: float, decimals: int) -> str:
    """Cache key of a context layer's display GeoJSON: a hash of its geometries (WKB; EPSG:25832, which
    `screening.maps.write_map` checks first), labels,
    simplification (metres) and coordinate decimals, with the format and library versions."""
    digest = hashlib.sha1()
    digest.update(json.dumps({"v": FORMAT_VERSION, "tolerance_m": float(tolerance_m), "decimals": int(decimals),
                              "geos": shapely.geos_version_string,
                              "shapely": shapely.__version__, "geopandas": gpd.__version__, "n": len(gdf)}).encode())
    for wkb in shapely.to_wkb(gdf.geometry.to_numpy()):  # C-level WKB; the loop only feeds the digest
        digest.update(wkb or b"\x00")
    digest.update(json.dumps([str(v) for v in labels.to_numpy()]).encode())
    return f"map-{digest.hexdigest()[:20]}"


def context_geojson(gdf: gpd.GeoDataFrame, labels: pd.Series, *, tolerance_m: float, decimals: int,
                    build: Callable[[], gpd.GeoDataFrame], cache_dir: Path | None = None) -> dict:
    """The GeoJSON (a fresh dict) of a context layer's display frame: from the cache, else ``build()``.

    Parameters
    ----------
    gdf
        The layer as drawn (EPSG:25832), before simplification.
    labels
        Its feature labels as `build` makes them (part of the key).
    tolerance_m, decimals
        The simplification (metres) and the coordinate decimals `build` applies (part of the key).
    build
        Makes the display frame (EPSG:4326) on a miss.
    cache_dir
        Folder of the entries; None keeps the text in the process only.

    Returns
    -------
    dict
        ``json.loads(json.dumps(build().__geo_interface__))``, whether built now or read.
    """
    key = context_key(gdf, labels, tolerance_m=tolerance_m, decimals=decimals)
    with _MEMO_LOCK:
        text = _MEMO.get(key)
    if text is None and cache_dir is not None:
        text = _read_text(Path(cache_dir), key, "geojson")
    if text is None:
        text = json.dumps(build().__geo_interface__)
        if cache_dir is not None:
            _write(Path(cache_dir), key, "geojson", text.encode("utf-8"), {"chars": len(text)})
    _remember(key, text)
    return json.loads(text)


def overlay_key(surface_path: Path, *, max_px: int) -> str:
    """Cache key of a surface overlay: the SHA-256 of ``suitability.tif`` and ``exclusion.tif``, the pixel
    budget and the versions of the libraries that render and encode it."""
    import matplotlib
    import PIL
    import rasterio

    from screening._surface_read import surface_files

    suit, excl = surface_files(Path(surface_path))
    blob = json.dumps({"v": FORMAT_VERSION, "suitability": file_sha256(suit), "exclusion": file_sha256(excl),
                       "max_px": int(max_px), "pil": PIL.__version__, "rasterio": rasterio.__version__,
                       "gdal": rasterio.__gdal_version__, "matplotlib": matplotlib.__version__})
    return f"overlay-{hashlib.sha1(blob.encode()).hexdigest()[:20]}"


def overlay_png(surface_path: Path, out_png: Path, *, max_px: int = 2000, cache_dir: Path | None = None):
    """`screening.surface.overlay_png`, copied from the cache when the same surface was rendered before.

    Returns
    -------
    tuple
        ``(png_path, ((south, west), (north, east)))`` as `screening.surface.overlay_png` returns it.
    """
    from screening import surface

    if cache_dir is None:
        return surface.overlay_png(surface_path, out_png, max_px=max_px)
    cache_dir, out_png = Path(cache_dir), Path(out_png)
    key = overlay_key(surface_path, max_px=max_px)
    record = _read_record(cache_dir, key, "png")
    if record is None:
        png, bounds = surface.overlay_png(surface_path, out_png, max_px=max_px)
        _write(cache_dir, key, "png", Path(png).read_bytes(), {"bounds": bounds})
        return png, bounds
    out_png.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cache_dir / f"{key}.png", out_png)
    (south, west), (north, east) = record["bounds"]
    return out_png, ((south, west), (north, east))


# --------------------------------------------------------------------------- helpers


def _remember(key: str, text: str) -> None:
    with _MEMO_LOCK:
        _MEMO[key] = text
        _MEMO.move_to_end(key)
        while len(_MEMO) > 1 and sum(map(len, _MEMO.values())) > _MEMO_CHARS:
            _MEMO.popitem(last=False)


def _read_record(cache_dir: Path, key: str, ext: str) -> dict | None:
    """The record of a complete entry whose file matches its checksum; None on a miss."""
    path, record_path = cache_dir / f"{key}.{ext}", cache_dir / f"{key}.json"
    if not (path.exists() and record_path.exists()):
        log.debug("display cache miss %s", path.name)
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        digest = file_sha256(path)
    except (OSError, ValueError) as exc:
        record, digest = {}, f"unreadable: {exc}"
    if digest != record.get("sha256"):
        msg = (f"display cache entry {path} changed since it was written (checksum differs from {record_path.name}). "
               f"Fix: delete {path} and {record_path}; they are rebuilt on the next run.")
        raise LayerDataError(msg)
    log.info("display cache hit %s", path.name)
    return record


def _read_text(cache_dir: Path, key: str, ext: str) -> str | None:
    if _read_record(cache_dir, key, ext) is None:
        return None
    return (cache_dir / f"{key}.{ext}").read_text(encoding="utf-8")


def _write(cache_dir: Path, key: str, ext: str, data: bytes, facts: dict) -> None:
    """Save an entry atomically (the file is renamed into place after its record); a failure only logs."""
    path = cache_dir / f"{key}.{ext}"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".{key}.{ext}.tmp"
        tmp.write_bytes(data)
        record = {"sha256": hashlib.sha256(data).hexdigest(), **facts}
        (cache_dir / f"{key}.json").write_text(json.dumps(record, default=_plain), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        log.warning("could not save display cache entry %s in %s: %s", path.name, cache_dir, exc)
        return
    log.info("display cache save %s (%.1f MB)", path.name, len(data) / 1e6)


def _plain(value):
    """JSON for numpy numbers (the overlay's bounds)."""
    return value.item() if isinstance(value, np.generic) else str(value)

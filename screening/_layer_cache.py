"""The local layer cache: one GeoParquet file per normalised layer, beside a JSON record of what it holds.

An entry ``<cache>/<key>.parquet`` + ``<key>.json`` is written atomically (the parquet file is renamed into
place last). The JSON record holds the layer's ``attrs`` plus ``cache_features`` (rows written) and
``cache_sha256`` (checksum of the parquet file), and the source's checksum (``source_sha256``). Reading an
entry checks all three: an entry that changed since it was written, or whose source checksum differs from
the one its key stands for, is an error, never a silently different layer.

``<cache>/layer_counts.json`` (the ledger) keeps the feature count of each layer loaded from an official
source, so a later fetch that returns fewer features is caught (`screening._layer_integrity`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import stat
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from screening.config import LayerSpec
from screening.errors import LayerDataError

__all__ = ["file_sha256", "mirror_file", "mirror_sha256", "content_sha256", "entry_path", "read", "write",
           "ledger_path", "ledger_count", "ledger_record"]

log = logging.getLogger(__name__)


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mirror_file(path: Path, spec: LayerSpec) -> bool:
    """True when `path` is a file; False when nothing is there.

    Raises
    ------
    LayerDataError
        When something is there but cannot be used: a folder, or not readable (permissions).
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False
    except OSError as exc:  # PermissionError on the file or a folder above it, a loop of links, ...
        msg = (f"{path}: the mirror copy of layer {spec.id!r} cannot be read ({exc.strerror or exc}). Fix the "
               "file's or its folder's permissions, or point --mirror / INDUSTRIPARK_MIRROR elsewhere.")
        raise LayerDataError(msg) from None
    if not stat.S_ISREG(mode):
        msg = (f"{path}: the mirror copy of layer {spec.id!r} is a folder or special file, not a layer file. "
               f"Fix: put the layer's GeoPackage there ({spec.mirror_path} under the mirror root).")
        raise LayerDataError(msg)
    return True


def mirror_sha256(path: Path) -> str:
    """Checksum of a mirror file (cached per path, size and modification time: it is read once a process).

    Raises
    ------
    LayerDataError
        When the file cannot be read.
    """
    st = Path(path).stat()
    return _sha256_cached(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    try:
        return file_sha256(Path(path))
    except OSError as exc:
        msg = f"{path}: cannot read the mirror file ({exc.strerror or exc}). Fix the file's permissions."
        raise LayerDataError(msg) from None


def content_sha256(gdf: gpd.GeoDataFrame) -> str:
    """Checksum of a layer's content (geometries as WKB, attributes as text), for fetched layers."""
    digest = hashlib.sha256()
    for wkb in shapely.to_wkb(gdf.geometry.to_numpy()):
        digest.update(wkb or b"")
    digest.update(pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).to_csv(index=False).encode())
    return digest.hexdigest()


def entry_path(cache_dir: Path, key: str) -> Path:
    """The parquet file of cache entry `key` (it may not exist)."""
    return Path(cache_dir) / f"{key}.parquet"


def read(cache_dir: Path, key: str, *, source_sha256: str | None = None) -> gpd.GeoDataFrame | None:
    """The cached layer under `key`, or None when there is no complete entry (or one from before records).

    Parameters
    ----------
    source_sha256
        The checksum of the source the key stands for (the mirror file), when known; it must equal the
        recorded one.

    Raises
    ------
    LayerDataError
        When the entry's rows or checksum differ from its record, or its source checksum from `source_sha256`.
    """
    path = entry_path(cache_dir, key)
    meta_path = path.with_suffix(".json")
    if not (path.exists() and meta_path.exists()):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"cache entry {meta_path} is unreadable ({exc}); delete it and {path.name}, they are rebuilt"
        raise LayerDataError(msg) from None
    if "cache_sha256" not in meta:  # written before entries recorded their counts: rebuild it
        log.info("cache entry %s has no recorded count or checksum; rebuilding it", path.name)
        return None
    import pyarrow.parquet as pq

    try:
        rows = pq.ParquetFile(path).metadata.num_rows
        digest = file_sha256(path)
    except (OSError, ValueError) as exc:
        rows, digest = None, f"unreadable: {exc}"
    if rows != meta.get("cache_features") or digest != meta["cache_sha256"]:
        msg = (f"cache entry {path} of layer {meta.get('layer_id')!r} changed since it was written ({rows} rows, "
               f"{meta.get('cache_features')} recorded; checksum {'differs' if rows is not None else digest}). "
               f"Fix: delete {path} and {meta_path}; the layer is rebuilt from its source on the next load.")
        raise LayerDataError(msg)
    if source_sha256 is not None and meta.get("source_sha256") not in (None, source_sha256):
        msg = (f"cache entry {path} of layer {meta.get('layer_id')!r} was written for source checksum "
               f"{meta.get('source_sha256')}, but its key stands for {source_sha256}. Fix: delete {path} and "
               f"{meta_path}; the layer is rebuilt from its source on the next load.")
        raise LayerDataError(msg)
    gdf = gpd.read_parquet(path)
    gdf.attrs.update(meta)
    log.debug("cache hit %s", path.name)
    return gdf


def write(cache_dir: Path, key: str, gdf: gpd.GeoDataFrame) -> str | None:
    """Write `gdf` (with its ``attrs``) as cache entry `key`; returns the parquet checksum, None on failure.

    ``cache_features`` and ``cache_sha256`` are added to ``gdf.attrs``. A failure to write is logged, not
    raised: the cache only saves time.
    """
    cache_dir = Path(cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".{key}.parquet.tmp"
        gdf.to_parquet(tmp)
        gdf.attrs.update({"cache_features": len(gdf), "cache_sha256": file_sha256(tmp)})
        (cache_dir / f"{key}.json").write_text(json.dumps(gdf.attrs, default=str), encoding="utf-8")
        tmp.replace(entry_path(cache_dir, key))  # only complete results become cache entries
        log.debug("cache save %s.parquet", key)
        return gdf.attrs["cache_sha256"]
    except OSError as exc:
        log.warning("could not write cache entry %s in %s: %s", key, cache_dir, exc)
        return None


def ledger_path(cache_dir: Path) -> Path:
    return Path(cache_dir) / "layer_counts.json"


def ledger_count(cache_dir: Path, layer_id: str, location: str) -> int | None:
    """The feature count recorded when `layer_id` was last loaded from `location`, or None."""
    try:
        entry = json.loads(ledger_path(cache_dir).read_text(encoding="utf-8")).get(layer_id) or {}
    except (OSError, ValueError):
        return None
    return entry.get("features") if entry.get("location") == location else None


def ledger_record(cache_dir: Path, layer_id: str, location: str, features: int) -> None:
    """Record `features` as the count of `layer_id` loaded from `location` (logged, never raised, on failure)."""
    path = ledger_path(cache_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        data[layer_id] = {"location": location, "features": int(features), "date": date.today().isoformat()}
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
    except (OSError, ValueError) as exc:
        log.warning("could not record the feature count of %s in %s: %s", layer_id, path, exc)

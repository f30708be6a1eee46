"""The cache of prepared exclusion layers (`screening.coverage.prepare_layer`): one GeoParquet file per layer
version and preparation parameters, beside a JSON record of its row count and checksum.

An entry that changed since it was written is refused (`LayerDataError`), as layer cache entries are
(`screening._layer_cache`); an entry without a record is rebuilt. Re-exported by `screening.coverage`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import geopandas as gpd

from screening._layer_cache import file_sha256
from screening.config import LayerFilter
from screening.errors import LayerDataError

__all__ = ["PREPARE_VERSION", "prepared_key", "read_prepared", "write_prepared"]

log = logging.getLogger("screening.coverage")  # logged as the coverage module, which re-exports these

PREPARE_VERSION = 1
"""Bump when `screening.coverage.prepare_layer` changes what it writes, so old cache entries are not reused."""

DEFAULT_TILE_M = 5_000.0
"""Tile edge of prepared layers, metres: bounds the size of each piece so clipping a site stays cheap."""


def prepared_key(gdf: gpd.GeoDataFrame, *, label_column: str | None, tile_m: float = DEFAULT_TILE_M,
                 layer_filter: LayerFilter | None = None) -> str | None:
    """Cache key of a prepared layer: layer id, ``attrs['version']`` and the preparation parameters.

    Returns None when the layer carries no version (it cannot be told apart from other data then).
    """
    version = gdf.attrs.get("version")
    if not version:
        return None
    blob = json.dumps({"layer": gdf.attrs.get("layer_id", ""), "version": version,
                       "label_column": label_column, "tile_m": float(tile_m), "v": PREPARE_VERSION,
                       "filter": (layer_filter or LayerFilter()).model_dump(mode="json")}, sort_keys=True)
    return f"prepared-{gdf.attrs.get('layer_id', 'layer')}-{hashlib.sha1(blob.encode()).hexdigest()[:16]}"


def read_prepared(cache_dir: Path, key: str) -> gpd.GeoDataFrame | None:
    """The prepared layer saved under `key` in `cache_dir`, or None on a miss; hits are logged by name."""
    path = Path(cache_dir) / f"{key}.parquet"
    record = path.with_suffix(".json")
    if not (path.exists() and record.exists()):
        log.debug("prepared cache miss %s", path.name)
        return None
    try:
        meta = json.loads(record.read_text(encoding="utf-8"))
        gdf = gpd.read_parquet(path)
        digest = file_sha256(path)
    except (OSError, ValueError) as exc:
        meta, gdf, digest = {}, None, f"unreadable: {exc}"
    if gdf is None or len(gdf) != meta.get("rows") or digest != meta.get("sha256"):
        msg = (f"prepared cache entry {path} changed since it was written; delete it and {record.name}, it is "
               "rebuilt on the next screening (or by 'industripark layers fetch').")
        raise LayerDataError(msg)
    log.info("prepared cache hit %s (%d pieces)", path.name, len(gdf))
    return gdf


def write_prepared(cache_dir: Path, key: str, gdf: gpd.GeoDataFrame) -> Path | None:
    """Save a prepared layer as GeoParquet ``<cache_dir>/<key>.parquet`` (atomically); None when it fails."""
    cache_dir = Path(cache_dir)
    path = cache_dir / f"{key}.parquet"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".{key}.parquet.tmp"
        gdf.to_parquet(tmp)
        record = {"rows": len(gdf), "sha256": file_sha256(tmp), "n_source_features": gdf.attrs.get("n_source_features")}
        path.with_suffix(".json").write_text(json.dumps(record), encoding="utf-8")
        tmp.replace(path)  # only complete files become cache entries
    except OSError as exc:
        log.warning("could not save prepared layer %s in %s: %s", key, cache_dir, exc)
        return None
    log.info("prepared cache save %s (%d pieces)", path.name, len(gdf))
    return path

"""Resumable fetches: the finished parts of a layer (chunks or pages) kept on disk until the layer is whole.

One folder per layer and source under ``<cache>/partial/``; each part is a GeoParquet file written
atomically, beside ``parts.json`` (what each part covers and how many features the service counted for
it). A re-run after an interruption loads the parts it has and fetches only the others; the folder is
removed once the complete layer is assembled.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import geopandas as gpd

from screening.config import CRS

__all__ = ["PartStore", "MemoryStore"]

log = logging.getLogger(__name__)


class PartStore:
    """Parts of one layer fetch in `folder`; `meta` holds facts that must match for parts to be reused.

    Parameters
    ----------
    folder
        ``<cache>/partial/<layer>-<hash of the source and fetch plan>``.
    meta
        E.g. ``{"number_matched": 186012}``; stored parts written under other meta are discarded.
    """

    def __init__(self, folder: Path, meta: dict[str, Any]):
        self.folder = Path(folder)
        self._index_path = self.folder / "parts.json"
        index = self._read_index()
        if index.get("meta") != meta:
            if index.get("parts"):
                log.info("%s: the service's counts changed since the stored parts were fetched (%s -> %s); "
                         "fetching all parts again", self.folder.name, index.get("meta"), meta)
            self.clear()
            index = {"meta": meta, "parts": {}}
        self._index = index

    def get(self, name: str, *, covers: Any = None) -> gpd.GeoDataFrame | None:
        """The stored part `name` (None when absent or stored for another `covers`, e.g. another bbox)."""
        entry = self._index["parts"].get(name)
        path = self.folder / f"{_safe(name)}.parquet"
        if entry is None or entry.get("covers") != _jsonable(covers) or not path.exists():
            return None
        return gpd.read_parquet(path)

    def put(self, name: str, gdf: gpd.GeoDataFrame, *, covers: Any = None, **facts: Any) -> None:
        """Store part `name` atomically (temporary file, then rename), with what it covers and its facts."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{_safe(name)}.parquet"
        tmp = path.with_name(f".{path.name}.tmp")
        frame = gdf if len(gdf) else gpd.GeoDataFrame(geometry=[], crs=gdf.crs or CRS)
        frame.to_parquet(tmp)
        os.replace(tmp, path)
        self._index["parts"][name] = {"covers": _jsonable(covers), **facts}
        self._write_index()

    def names(self) -> list[str]:
        """Names of the stored parts."""
        return list(self._index["parts"])

    def clear(self) -> None:
        """Remove every stored part (after the whole layer was assembled, or when the layer changed)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self._index = {"meta": self._index["meta"] if hasattr(self, "_index") else {}, "parts": {}}

    def _read_index(self) -> dict[str, Any]:
        try:
            return json.loads(self._index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _write_index(self) -> None:
        tmp = self._index_path.with_name(".parts.json.tmp")
        tmp.write_text(json.dumps(self._index, indent=1), encoding="utf-8")
        os.replace(tmp, self._index_path)


class MemoryStore(PartStore):
    """Parts kept in memory only, for a fetch that need not survive an interruption (same interface)."""

    def __init__(self):  # noqa: D107 (no folder, nothing to read)
        self.folder = None
        self._parts: dict[str, tuple[Any, gpd.GeoDataFrame]] = {}

    def get(self, name: str, *, covers: Any = None) -> gpd.GeoDataFrame | None:
        part = self._parts.get(name)
        return part[1] if part is not None and part[0] == covers else None

    def put(self, name: str, gdf: gpd.GeoDataFrame, *, covers: Any = None, **facts: Any) -> None:
        self._parts[name] = (covers, gdf)

    def names(self) -> list[str]:
        return list(self._parts)

    def clear(self) -> None:
        self._parts = {}


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value)) if value is not None else None

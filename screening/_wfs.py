"""WFS 2.0 GetFeature for national layers, complete or an error: counted first (``resultType=hits``), then
one request, ``startIndex``/``count`` pages sorted on a stable key, or spatial chunks fetched in parallel
and de-duplicated by feature id. Requests are retried (`screening._http`); finished chunks and pages are
kept (`screening._partial`) so an interrupted fetch resumes where it stopped.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import requests
from tqdm.auto import tqdm

from screening._http import FetchError, RetryPolicy, Transient, get, session
from screening._partial import MemoryStore, PartStore
from screening.config import CRS

__all__ = ["Layer", "Chunk", "count", "page", "fetch_single", "fetch_paged", "fetch_chunks",
           "geojson_frame", "kommune_chunks", "tile_chunks", "kvp", "parse_hits", "DK_EXTENT"]

log = logging.getLogger(__name__)

DK_EXTENT = (440_000.0, 6_040_000.0, 900_000.0, 6_410_000.0)
"""Denmark's land and near coast in EPSG:25832 metres (minx, miny, maxx, maxy), for tiles."""
MAX_SPLIT_DEPTH = 6
"""A chunk with more features than one page is split into quadrants at most this many times."""


@dataclass(frozen=True)
class Layer:
    """One WFS feature type to fetch: endpoint, typename, extra KVP parameters and the retry policy."""

    url: str
    typename: str
    what: str
    params: Mapping[str, str] = field(default_factory=dict)
    policy: RetryPolicy = field(default_factory=RetryPolicy)


class Chunk(NamedTuple):
    """A named bounding box (minx, miny, maxx, maxy) in EPSG:25832 metres."""

    name: str
    bbox: tuple[float, float, float, float]


def count(sess: requests.Session, layer: Layer, *, bbox: Sequence[float] | None = None) -> int | None:
    """``numberMatched`` of a ``resultType=hits`` request (within `bbox`); None when the service says
    ``unknown``."""
    params = kvp(layer, bbox) | {"resultType": "hits"}
    return get(sess, layer.url, params, policy=layer.policy, what=f"{layer.what} hits", parse=parse_hits)


def page(sess: requests.Session, layer: Layer, *, start: int | None = None, limit: int | None = None,
         sort_by: str | None = None, bbox: Sequence[float] | None = None, key: str | None = None
         ) -> gpd.GeoDataFrame:
    """One GetFeature answer as a GeoDataFrame in EPSG:25832 (columns as the service names them).

    A document whose ``numberReturned`` disagrees with its features, or that does not parse, is asked
    for again (it was cut off); `key` ``id`` is GeoServer's feature id when no property has that name.
    """
    params = kvp(layer, bbox) | {"outputFormat": "application/json"}
    if start is not None:
        params["startIndex"] = str(start)
    if limit is not None:
        params["count"] = str(limit)
    if sort_by:
        params["sortBy"] = sort_by
    what = f"{layer.what} (startIndex {start or 0}{', bbox ' + _bbox_text(bbox) if bbox else ''})"
    frame = get(sess, layer.url, params, policy=layer.policy, what=what,
                parse=lambda r: geojson_frame(r.content, what))
    if key is not None and len(frame) and key not in frame.columns:
        msg = (f"{layer.what}: key {key!r} is neither a property nor the feature id; properties are "
               f"{[c for c in frame.columns if c != 'geometry']}. Fix fetch.key in layers/catalog.yaml")
        raise FetchError(msg)
    return frame


def fetch_single(layer: Layer, *, progress: bool = True) -> gpd.GeoDataFrame:
    """All features in one GetFeature; an answer shorter than ``numberMatched`` is an error (truncated)."""
    with session(1) as sess:
        n = _required_count(sess, layer)
        frame = page(sess, layer)
    if len(frame) != n:
        msg = (f"{layer.what}: one request returned {len(frame):,} features but the service counts "
               f"numberMatched={n:,} (truncated: a server-side maximum?). Declare fetch strategy 'paged' or "
               "'chunks' for this layer in layers/catalog.yaml")
        raise FetchError(msg)
    log.info("%s: %s features in one request, as counted", layer.what, f"{n:,}")
    return frame


def fetch_paged(layer: Layer, *, key: str, page_size: int, store: PartStore | None = None,
                progress: bool = True) -> gpd.GeoDataFrame:
    """All features in ``startIndex``/``count`` pages sorted by `key`, checked against ``numberMatched``.

    Pages advance by what the service actually returned, so a server-side maximum below `page_size`
    costs requests, not features. Finished pages go to `store` and are reused by a re-run.

    Raises
    ------
    FetchError
        When the pages hold duplicates of `key` (the order was not stable) or their count differs from
        ``numberMatched``; the message names the layer and the numbers.
    """
    with session(1) as sess:
        n = _required_count(sess, layer)
        store = store or MemoryStore()
        bar = tqdm(total=n, desc=layer.what, unit=" features", disable=not progress or None)
        frames = _sorted_pages(sess, layer, n, key=key, page_size=page_size, store=store, on_page=bar.update)
        bar.close()
    rows = _concat(frames)
    _check_exact(rows, key, n, f"{layer.what}: {len(frames)} pages sorted by {key}")
    store.clear()
    return rows


def fetch_chunks(layer: Layer, chunks: Sequence[Chunk], *, key: str, page_size: int, workers: int = 4,
                 sort_by: str | None = None, store: PartStore | None = None, progress: bool = True
                 ) -> gpd.GeoDataFrame:
    """All features as the union of per-bbox requests, run `workers` at a time, de-duplicated by `key`.

    Each chunk is counted (hits) and must yield exactly its ``numberMatched`` distinct features; a chunk
    with more than `page_size` is paged by `sort_by`, or without one split into quadrants. The distinct
    features of all chunks must equal the whole layer's ``numberMatched`` (features outside every chunk
    would otherwise go unnoticed). Finished chunks go to `store`; a re-run fetches only the others.

    Raises
    ------
    FetchError
        Listing failed chunks (the finished ones are kept), or naming the chunk and numbers that disagree.
    """
    store = store or MemoryStore()
    with session(workers) as sess:
        total = count(sess, layer)
        todo = [c for c in chunks if store.get(c.name, covers=c.bbox) is None]
        if len(todo) < len(chunks):
            log.info("%s: resuming, %d of %d chunks already fetched", layer.what, len(chunks) - len(todo),
                     len(chunks))
        bar = tqdm(total=len(chunks), initial=len(chunks) - len(todo), desc=layer.what, unit=" chunks",
                   disable=not progress or None)
        failed = _run_chunks(sess, layer, todo, key=key, sort_by=sort_by, page_size=page_size,
                             workers=workers, store=store, on_done=lambda: bar.update(1))
        bar.close()
    if failed:
        listed = "; ".join(f"{name} ({exc})" for name, exc in sorted(failed.items())[:5])
        msg = f"{layer.what}: {len(failed)} of {len(chunks)} chunks failed: {listed}"
        if store.folder is not None:
            msg += (f". The {len(chunks) - len(failed)} finished chunks are kept in {store.folder}; fetch again "
                    "to get only the missing ones")
        raise FetchError(msg, transient=all(e.transient for e in failed.values()))
    rows = _concat([store.get(c.name, covers=c.bbox) for c in chunks])
    unique = rows.drop_duplicates(subset=key, ignore_index=True)
    log.info("%s: %s distinct features from %d chunks (%s rows, %s repeated across chunk edges)",
             layer.what, f"{len(unique):,}", len(chunks), f"{len(rows):,}", f"{len(rows) - len(unique):,}")
    if total is not None and len(unique) != total:
        msg = (f"{layer.what}: {len(unique):,} distinct features from {len(chunks)} chunks, but the service "
               f"counts numberMatched={total:,} in the whole layer: "
               + (f"{total - len(unique):,} lie outside every chunk" if len(unique) < total else
                  f"{len(unique) - total:,} more than counted (feature ids not stable)")
               + " or the layer changed during the fetch. Fetch again; if it persists, declare chunks: tiles with "
               "an extent covering the whole layer in layers/catalog.yaml")
        raise FetchError(msg)
    if total is None:
        log.warning("%s: the service gives no count for the whole layer; only each chunk's count was checked",
                    layer.what)
    store.clear()
    unique.attrs["fetch"] = {"chunks": len(chunks), "rows": len(rows), "number_matched": total}
    return unique


def kommune_chunks(kommuner: gpd.GeoDataFrame, *, pad_m: float = 1_000.0) -> list[Chunk]:
    """One chunk per municipality: its bounding box in EPSG:25832 grown by `pad_m` metres (boundaries may be
    generalised; a feature on the very coast must still fall in a box), named ``kommune-<kommunekode>``."""
    bounds = kommuner.to_crs(CRS).bounds.to_numpy() + np.array([-pad_m, -pad_m, pad_m, pad_m])
    codes = kommuner["kommunekode"].astype(str).str.zfill(4).to_numpy()
    return [Chunk(f"kommune-{code}", tuple(float(v) for v in box)) for code, box in zip(codes, bounds, strict=True)]


def tile_chunks(extent: Sequence[float] = DK_EXTENT, *, tile_km: float = 20.0) -> list[Chunk]:
    """Square tiles of `tile_km` covering `extent` (EPSG:25832 metres), named by their south-west corner."""
    size = tile_km * 1000.0
    xs = np.arange(extent[0], extent[2], size)
    ys = np.arange(extent[1], extent[3], size)
    return [Chunk(f"tile-E{x / 1000:.0f}-N{y / 1000:.0f}", (float(x), float(y), float(x + size), float(y + size)))
            for y in ys for x in xs]


def geojson_frame(payload: bytes, what: str) -> gpd.GeoDataFrame:
    """Parse a GeoJSON FeatureCollection (coordinates in EPSG:25832) into a GeoDataFrame.

    A document that does not parse, or whose ``numberReturned`` differs from its number of features,
    raises `Transient` (asked again); an error document raises `FetchError`. String feature ids become
    column ``id`` (GDAL), integer ones too.
    """
    try:
        doc = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError):
        head = payload[:120].decode("utf-8", "replace")
        if payload[:200].lstrip()[:1] in (b"{", b"["):
            raise Transient(f"the answer is cut off or not JSON ({len(payload):,} bytes)") from None
        raise FetchError(f"{what}: the service did not answer GeoJSON (begins {head!r})") from None
    if not isinstance(doc, dict) or "error" in doc or doc.get("type") != "FeatureCollection":
        raise FetchError(f"{what}: the service answered an error or no FeatureCollection: {str(doc)[:200]}")
    features = doc.get("features") or []
    returned = doc.get("numberReturned")
    if isinstance(returned, int) and returned != len(features):
        raise Transient(f"numberReturned={returned} but {len(features)} features in the answer (cut off)")
    if not features:
        return gpd.GeoDataFrame(geometry=[], crs=CRS)
    frame = gpd.read_file(io.BytesIO(payload), engine="pyogrio").set_crs(CRS, allow_override=True)
    if "id" not in frame.columns and features[0].get("id") is not None:
        frame["id"] = pd.array([f.get("id") for f in features])  # integer ids; GDAL keeps them as FID only
    return frame


# --------------------------------------------------------------------------- helpers


def kvp(layer: Layer, bbox: Sequence[float] | None) -> dict[str, str]:
    """The GetFeature KVP parameters common to every request (typename, EPSG:25832, `bbox` if given)."""
    params = {"service": "WFS", "version": "2.0.0", "request": "GetFeature", "typeNames": layer.typename,
              "srsName": CRS, **layer.params}
    if bbox is not None:
        params["bbox"] = f"{_bbox_text(bbox)},{CRS}"
    return params


def _bbox_text(bbox: Sequence[float]) -> str:
    return ",".join(f"{v:.2f}" for v in bbox)


_MATCHED = re.compile(rb'numberMatched="([^"]*)"')


def parse_hits(response: requests.Response) -> int | None:
    """``numberMatched`` from a hits answer (XML or JSON); None for ``unknown``."""
    body = response.content
    match = _MATCHED.search(body[:4000])
    if match is None and body.lstrip()[:1] == b"{":
        value = json.loads(body).get("numberMatched")
        return int(value) if isinstance(value, int) else None
    if match is None:
        raise FetchError(f"no numberMatched in the hits answer (begins {body[:160]!r})")
    text = match.group(1).decode()
    return int(text) if text.isdigit() else None


def _required_count(sess: requests.Session, layer: Layer) -> int:
    n = count(sess, layer)
    if n is None:
        msg = (f"{layer.what}: the service does not count the layer (numberMatched=unknown), so completeness "
               "cannot be proven; declare fetch strategy 'chunks' in layers/catalog.yaml")
        raise FetchError(msg)
    return n


def _sorted_pages(sess, layer: Layer, n: int, *, key: str, page_size: int, store: PartStore,
                  on_page: Callable[[int], object], bbox: Sequence[float] | None = None, prefix: str = ""
                  ) -> list[gpd.GeoDataFrame]:
    """Pages from startIndex 0 until `n` features came back (or an empty page); stored pages are reused."""
    frames, start = [], 0
    while start < n:
        name = f"{prefix}page-{start:09d}"
        part = store.get(name, covers=[key, list(bbox) if bbox else None])
        if part is None:
            part = page(sess, layer, start=start, limit=page_size, sort_by=key, bbox=bbox, key=key)
            if len(part) == 0:
                break  # fewer than numberMatched: the caller's count check names it
            store.put(name, part, covers=[key, list(bbox) if bbox else None], features=len(part))
        frames.append(part)
        start += len(part)
        on_page(len(part))
    return frames


def _run_chunks(sess, layer: Layer, todo: Sequence[Chunk], *, key, sort_by, page_size, workers, store,
                on_done) -> dict[str, FetchError]:
    """Fetch `todo` in a pool of `workers`; store each finished chunk (main thread); return the failures.

    A failure that retrying cannot fix (4xx, a count mismatch) stops the chunks not yet started.
    """
    failed: dict[str, FetchError] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wfs-chunk") as pool:
        pending = {pool.submit(_chunk, sess, layer, c, key=key, sort_by=sort_by, page_size=page_size): c
                   for c in todo}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                chunk = pending.pop(fut)
                if fut.cancelled():
                    continue
                try:
                    frame, matched = fut.result()
                except FetchError as exc:
                    failed[chunk.name] = exc
                    if not exc.transient:
                        for other in pending:
                            other.cancel()
                    continue
                store.put(chunk.name, frame, covers=chunk.bbox, number_matched=matched)
                on_done()
    return failed


def _chunk(sess, layer: Layer, chunk: Chunk, *, key: str, sort_by: str | None, page_size: int,
           depth: int = 0) -> tuple[gpd.GeoDataFrame, int]:
    """The distinct features meeting `chunk`'s bbox and the service's count for it (checked equal)."""
    n = count(sess, layer, bbox=chunk.bbox)
    if n is None:
        raise FetchError(f"{layer.what}: chunk {chunk.name}: the service gives no count (numberMatched unknown)")
    if n == 0:
        return gpd.GeoDataFrame(geometry=[], crs=CRS), 0
    got = None
    if n <= page_size:
        frame = page(sess, layer, limit=page_size, bbox=chunk.bbox, key=key)
        got = int(frame[key].nunique()) if len(frame) else 0
        if got == n:
            return frame.drop_duplicates(subset=key, ignore_index=True), n
        if got > n or got == 0:  # a capped answer holds something; nothing at all is a truncated answer
            msg = (f"{layer.what}: chunk {chunk.name}: {got:,} features returned but the service counts "
                   f"numberMatched={n:,} in it (a truncated answer, or the layer changed during the fetch)")
            raise FetchError(msg)
    if sort_by:
        frames = _sorted_pages(sess, layer, n, key=sort_by, page_size=page_size, store=MemoryStore(),
                               on_page=lambda _: None, bbox=chunk.bbox)
        rows = _concat(frames)
        _check_exact(rows, key, n, f"{layer.what}: chunk {chunk.name}")
        return rows, n
    if depth >= MAX_SPLIT_DEPTH:
        msg = (f"{layer.what}: chunk {chunk.name}: the service returned {got if got is not None else 'no'} "
               f"of {n:,} counted features even split {depth} times (truncated answers)")
        raise FetchError(msg)
    x0, y0, x1, y1 = chunk.bbox
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    quads = [(x0, y0, xm, ym), (xm, y0, x1, ym), (x0, ym, xm, y1), (xm, ym, x1, y1)]
    parts = [_chunk(sess, layer, Chunk(f"{chunk.name}/{i}", q), key=key, sort_by=None, page_size=page_size,
                    depth=depth + 1)[0] for i, q in enumerate(quads)]  # four quadrants
    rows = _concat(parts).drop_duplicates(subset=key, ignore_index=True)
    if len(rows) != n:
        msg = (f"{layer.what}: chunk {chunk.name}: its quadrants hold {len(rows):,} distinct features but the "
               f"service counts {n:,} in it (the layer changed during the fetch?)")
        raise FetchError(msg)
    return rows, n


def _check_exact(rows: gpd.GeoDataFrame, key: str, n: int, what: str) -> None:
    if len(rows) and key not in rows.columns:
        raise FetchError(f"{what}: key {key!r} not among the columns {list(rows.columns)}")
    distinct = int(rows[key].nunique()) if len(rows) else 0
    if distinct != len(rows):
        msg = (f"{what}: {len(rows) - distinct:,} feature(s) came twice and {n - distinct:,} are missing of "
               f"numberMatched={n:,}: the service did not keep the sortBy={key} order, a page came back shorter "
               f"than the service counts, or {key} is not unique")
        raise FetchError(msg)
    if len(rows) != n:
        msg = (f"{what}: fetched {len(rows):,} features but the service counts numberMatched={n:,} "
               "(a truncated answer, or the layer changed during the fetch)")
        raise FetchError(msg)


def _concat(frames: Sequence[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return gpd.GeoDataFrame(geometry=[], crs=CRS)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=CRS)

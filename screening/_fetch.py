"""Fetching layers from their official sources: OGC WFS (`screening._wfs`: counted, paged or chunked,
complete or an error), file downloads (pooch) and ArcGIS REST queries (paged). A layer's alternative
sources are tried in order. Used only by `screening.catalog` when a layer is in neither cache nor mirror.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd

from screening import _wfs
from screening._http import FetchError, RetryPolicy, get, session
from screening._http import brief as _brief
from screening._partial import PartStore
from screening._wfs import geojson_frame as _geojson_frame
from screening.config import CRS, Catalog, LayerSpec, Settings, Source

__all__ = ["FetchError", "fetch", "fetch_source", "describe", "describe_source", "fetch_wfs", "fetch_download",
           "fetch_rest"]

log = logging.getLogger(__name__)

REST_PAGE_SIZE = 1000
MAX_PAGES = 1000


def describe(spec: LayerSpec) -> str:
    """A one-line location of the layer's official source(s): URL plus typename or archive member."""
    text = describe_source(spec.source)
    if spec.alternatives:
        text += f" (or {len(spec.alternatives)} alternative source{'s' if len(spec.alternatives) > 1 else ''})"
    return text


def describe_source(src: Source) -> str:
    """URL plus typename or archive member of one source."""
    if src.kind == "wfs":
        return f"{src.url} typename={src.typename}"
    if src.kind == "download" and src.member:
        return f"{src.url} member={src.member}"
    return src.url or "(no official source)"


def fetch(spec: LayerSpec, *, settings: Settings, catalog: Catalog | None = None,
          progress: bool = True) -> gpd.GeoDataFrame:
    """Fetch a layer from its official source, or from its alternatives in order when one fails.

    Returns the layer as the source delivers it (CRS set, columns as named there) with
    ``attrs["provenance"]``: the source used (``fetched_from``, ``source`` publisher and licence) and
    the fetch's facts (``fetch_strategy``, ``number_matched``, ...) for the cache and the manifests.
    `catalog` is needed only for chunks by municipality (read from the settings' layers folder if None).

    Raises
    ------
    FetchError
        When every source fails; the message names each source and why.
    """
    failures = []
    for src in (spec.source, *spec.alternatives):  # one preferred source and a few alternatives
        if src.kind == "none":
            continue
        try:
            raw = fetch_source(spec, src, settings=settings, catalog=catalog, progress=progress)
        except FetchError as exc:
            failures.append((src, exc))
            if spec.alternatives:
                log.warning("%s: source %s failed (%s)", spec.id, describe_source(src), exc)
            continue
        raw.attrs["provenance"] = {"fetched_from": describe_source(src), "source": f"{src.publisher}, {src.licence}",
                                   "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                   **raw.attrs.pop("fetch", {})}
        return raw
    if not failures:
        raise FetchError("no official source to fetch from")
    if len(failures) == 1:
        raise FetchError(str(failures[0][1]), transient=failures[0][1].transient)
    raise FetchError("; ".join(f"{describe_source(s)}: {e}" for s, e in failures),
                     transient=any(e.transient for _, e in failures))


def fetch_source(spec: LayerSpec, src: Source, *, settings: Settings, catalog: Catalog | None = None,
                 progress: bool = True) -> gpd.GeoDataFrame:
    """Fetch `spec` from one of its sources `src` (see `fetch`)."""
    try:
        if src.kind == "wfs":
            return fetch_wfs(spec.id, src, settings=settings, catalog=catalog, progress=progress)
        if src.kind == "download":
            return fetch_download(src.url, member=src.member, cache_dir=settings.cache_dir / "downloads")
        if src.kind == "rest":
            return fetch_rest(src.url, timeout_s=src.fetch.timeout_s or settings.timeout_s)
    except FetchError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:  # pyogrio/pyarrow errors subclass these
        raise FetchError(_brief(exc, src.url)) from None
    raise FetchError(f"source kind {src.kind!r} cannot be fetched")


def fetch_wfs(layer_id: str, src: Source, *, settings: Settings, catalog: Catalog | None = None,
              progress: bool = True) -> gpd.GeoDataFrame:
    """Fetch a WFS 2.0.0 source completely by its declared plan (``src.fetch``), in EPSG:25832.

    ``single``: one request; ``paged``: pages sorted by ``key``; ``chunks``: per municipality bounding
    box or tile. Finished pages and chunks are kept under ``<cache>/partial/`` until the layer is whole.
    """
    plan = src.fetch
    policy = RetryPolicy(timeout_s=plan.timeout_s or settings.timeout_s, retries=plan.retries)
    layer = _wfs.Layer(src.url, src.typename, what=f"{layer_id} ({src.typename})", params=src.params,
                       policy=policy)
    if plan.strategy == "single":
        frame = _wfs.fetch_single(layer, progress=progress)
        frame.attrs["fetch"] = {"fetch_strategy": "single", "number_matched": len(frame)}
        return frame
    with session(1) as sess:
        matched = _wfs.count(sess, layer)
    store = PartStore(_partial_dir(settings, layer_id, src), {"number_matched": matched})
    if plan.strategy == "paged":
        frame = _wfs.fetch_paged(layer, key=plan.key, page_size=plan.page_size, store=store, progress=progress)
        frame.attrs["fetch"] = {"fetch_strategy": f"paged by {plan.key}", "number_matched": matched}
        return frame
    chunks = _chunks(plan, settings, catalog)
    frame = _wfs.fetch_chunks(layer, chunks, key=plan.key, sort_by=plan.sort_by, page_size=plan.page_size,
                              workers=plan.workers, store=store, progress=progress)
    facts = frame.attrs.pop("fetch", {})
    frame.attrs["fetch"] = {"fetch_strategy": f"chunks by {plan.chunks}, de-duplicated by {plan.key}",
                            "number_matched": matched, "chunks": facts.get("chunks"),
                            "rows_before_dedup": facts.get("rows")}
    return frame


def _chunks(plan, settings: Settings, catalog: Catalog | None) -> list[_wfs.Chunk]:
    if plan.chunks == "tiles":
        return _wfs.tile_chunks(plan.extent or _wfs.DK_EXTENT, tile_km=plan.tile_km)
    from screening import catalog as catalog_mod  # the kommuner layer resolves like any layer
    from screening.config import load_catalog
    from screening.errors import ScreeningError

    try:
        cat = catalog or load_catalog(settings=settings)
        kommuner = catalog_mod.load_layer("kommuner", catalog=cat, settings=settings)
    except ScreeningError as exc:
        raise FetchError(f"chunks by municipality need the kommuner layer, which is unavailable: {exc}") from None
    return _wfs.kommune_chunks(kommuner)


def _partial_dir(settings: Settings, layer_id: str, src: Source) -> Path:
    blob = json.dumps({"url": src.url, "typename": src.typename, "params": src.params,
                       "plan": src.fetch.model_dump(mode="json", exclude={"workers", "timeout_s", "retries"})},
                      sort_keys=True)
    return Path(settings.cache_dir) / "partial" / f"{layer_id}-{hashlib.sha1(blob.encode()).hexdigest()[:12]}"


def fetch_download(url: str, *, member: str | None = None, cache_dir: Path) -> gpd.GeoDataFrame:
    """Download a file once with pooch (progress bar, kept under `cache_dir`) and read it; `member` names
    the file to read inside a zip archive (its sidecar files are extracted with it)."""
    import pooch

    pooch.get_logger().setLevel(log.getEffectiveLevel())  # pooch announces downloads at INFO; follow -v/-q
    processor = None
    if member:
        stem = Path(member).stem
        processor = pooch.Unzip(members=[f"{stem}{ext}" for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg")])
    try:
        paths = pooch.retrieve(url, known_hash=None, path=cache_dir, processor=processor, progressbar=True)
    except Exception as exc:  # pooch re-raises requests' and its own errors; they share no base class
        raise FetchError(f"download failed: {_brief(exc, url)}") from None
    if isinstance(paths, list):
        shp = [p for p in paths if p.endswith(Path(member).name)]
        if not shp:
            raise FetchError(f"{member} not found in the archive from {url}")
        return gpd.read_file(shp[0], engine="pyogrio")
    return gpd.read_file(paths, engine="pyogrio")


def fetch_rest(url: str, *, timeout_s: float = 60.0, page_size: int = REST_PAGE_SIZE) -> gpd.GeoDataFrame:
    """Fetch every feature of an ArcGIS REST layer (``.../MapServer/<n>``) as GeoJSON in EPSG:25832,
    paging with ``resultOffset``/``resultRecordCount`` (requests retried as in `screening._http`)."""
    frames = []
    policy = RetryPolicy(timeout_s=timeout_s)
    with session(1) as sess:
        for page in range(MAX_PAGES):
            query = {"where": "1=1", "outFields": "*", "f": "geojson", "outSR": "25832",
                     "resultOffset": page * page_size, "resultRecordCount": page_size}
            what = f"{url} page {page}"
            frame = get(sess, f"{url.rstrip('/')}/query", query, policy=policy, what=what,
                        parse=lambda r, what=what: _geojson_frame(r.content, what))
            frames.append(frame)
            if len(frame) < page_size:
                break
    return _concat(frames, url)


def _concat(frames: list[gpd.GeoDataFrame], what: str) -> gpd.GeoDataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        raise FetchError(f"{what}: the service returned no features")
    log.info("fetched %d features from %s", sum(map(len, frames)), what)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=CRS)

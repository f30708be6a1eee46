"""Fetching layers from their official sources: OGC WFS (OWSLib, paged), file downloads (pooch) and
ArcGIS REST queries (paged). Used only by `screening.catalog` when a layer is in neither cache nor mirror.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd
from tqdm.auto import tqdm

from screening.config import CRS, LayerSpec, Settings

__all__ = ["FetchError", "fetch", "describe", "fetch_wfs", "fetch_download", "fetch_rest"]

log = logging.getLogger(__name__)

WFS_PAGE_SIZE = 5000
REST_PAGE_SIZE = 1000
MAX_PAGES = 1000


class FetchError(Exception):
    """An official source could not be reached or answered something unusable (message says which)."""


def describe(spec: LayerSpec) -> str:
    """A one-line location of the layer's official source: URL plus typename or archive member."""
    src = spec.source
    if src.kind == "wfs":
        return f"{src.url} typename={src.typename}"
    if src.kind == "download" and src.member:
        return f"{src.url} member={src.member}"
    return src.url or "(no official source)"


def fetch(spec: LayerSpec, *, settings: Settings) -> gpd.GeoDataFrame:
    """Fetch a layer from its official source, as the source delivers it (CRS set, columns as named there)."""
    src = spec.source
    try:
        if src.kind == "wfs":
            return fetch_wfs(src.url, src.typename, timeout_s=settings.timeout_s, params=src.params)
        if src.kind == "download":
            return fetch_download(src.url, member=src.member, cache_dir=settings.cache_dir / "downloads")
        if src.kind == "rest":
            return fetch_rest(src.url, timeout_s=settings.timeout_s)
    except FetchError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:  # requests/urllib/OWSLib errors subclass these
        raise FetchError(_brief(exc, src.url)) from None
    raise FetchError(f"source kind {src.kind!r} cannot be fetched")


def _brief(exc: Exception, url: str | None) -> str:
    """One short line for a failed request: no network, timeout, HTTP status, or the error's first line."""
    import requests

    host = (url or "").split("/")[2] if url and "://" in url else url
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.ReadTimeout):
        return f"no answer from {host} in time"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"cannot connect to {host}: no network here, or the name does not resolve"
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"{host} answered HTTP {exc.response.status_code}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:160]}"


def fetch_wfs(url: str, typename: str, *, timeout_s: float = 60.0, page_size: int = WFS_PAGE_SIZE,
              params: dict | None = None) -> gpd.GeoDataFrame:
    """Fetch every feature of a WFS 2.0.0 feature type as GeoJSON in EPSG:25832, paging with
    ``count``/``startIndex`` until a page comes back short (GeoServer's server-side maximum is unknown)."""
    from owslib.wfs import WebFeatureService

    wfs = WebFeatureService(url, version="2.0.0", timeout=timeout_s)
    frames = []
    with tqdm(desc=typename, unit=" features", leave=False) as bar:
        for page in range(MAX_PAGES):
            response = wfs.getfeature(typename=[typename], maxfeatures=page_size, startindex=page * page_size,
                                      outputFormat="application/json", srsname=CRS)
            frame = _geojson_frame(response.read(), f"{url} {typename} page {page}")
            frames.append(frame)
            bar.update(len(frame))
            if len(frame) < page_size:
                break
    return _concat(frames, f"{url} {typename}")


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
    paging with ``resultOffset``/``resultRecordCount``."""
    import requests

    frames = []
    for page in range(MAX_PAGES):
        query = {"where": "1=1", "outFields": "*", "f": "geojson", "outSR": "25832",
                 "resultOffset": page * page_size, "resultRecordCount": page_size}
        response = requests.get(f"{url.rstrip('/')}/query", params=query, timeout=timeout_s)
        response.raise_for_status()
        frame = _geojson_frame(response.content, f"{url} page {page}")
        frames.append(frame)
        if len(frame) < page_size:
            break
    return _concat(frames, url)


def _geojson_frame(payload: bytes, what: str) -> gpd.GeoDataFrame:
    try:
        doc = json.loads(payload)
    except json.JSONDecodeError:
        head = payload[:200].decode("utf-8", "replace")
        raise FetchError(f"{what}: the service did not answer GeoJSON (begins {head!r})") from None
    if "error" in doc or doc.get("type") != "FeatureCollection":
        raise FetchError(f"{what}: the service answered an error or no FeatureCollection: {str(doc)[:200]}")
    if not doc.get("features"):
        return gpd.GeoDataFrame(geometry=[], crs=CRS)
    return gpd.read_file(io.BytesIO(payload), engine="pyogrio").set_crs(CRS, allow_override=True)


def _concat(frames: list[gpd.GeoDataFrame], what: str) -> gpd.GeoDataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        raise FetchError(f"{what}: the service returned no features")
    log.info("fetched %d features from %s", sum(map(len, frames)), what)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=CRS)

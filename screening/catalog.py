"""Resolve and load catalog layers: local cache -> offline mirror -> official source -> unavailable.

Every layer that leaves this module is in EPSG:25832, has valid non-empty geometries of its catalog
geometry family, columns renamed to the catalog's names, and its provenance in ``gdf.attrs``
(``layer_id, title, origin, location, source, date, version``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from screening import _fetch, _nature_layers
from screening._geo import to_metric
from screening.config import Catalog, LayerFilter, LayerSpec, Settings
from screening.errors import CRSError, LayerDataError, LayerUnavailableError

__all__ = [
    "LayerSet",
    "Resolution",
    "load_layers",
    "load_layer",
    "resolve",
    "apply_filter",
    "normalise",
    "feature_count",
    "probe",
    "sources_markdown",
    "update_readme_sources",
    "short_reason",
    "file_sha256",
]

log = logging.getLogger(__name__)

NORMALISE_VERSION = 1
"""Bump when `normalise` changes what it writes, so old cache entries are not reused."""

_FAMILY = {"Point": ("Point", "MultiPoint"), "LineString": ("LineString", "MultiLineString"),
           "Polygon": ("Polygon", "MultiPolygon")}


@dataclass(frozen=True)
class Resolution:
    """Where a layer resolves on this machine without fetching anything.

    ``origin`` is ``cache``, ``mirror``, ``online`` (an official source would be tried) or ``missing``;
    ``location`` is the file or URL; ``detail`` explains a ``missing``.
    """

    layer_id: str
    origin: str
    location: str
    detail: str = ""


@dataclass(frozen=True)
class LayerSet:
    """Loaded layers by id, the ids that did not resolve with the reason, and the ids allowed missing
    (also where a loaded layer's copy covers only part of the country, see `screening.exclusion`)."""

    layers: dict[str, gpd.GeoDataFrame]
    missing: dict[str, str] = field(default_factory=dict)
    allow_missing: tuple[str, ...] = ()


def load_layers(layer_ids: Iterable[str], *, catalog: Catalog, settings: Settings,
                allow_missing: Iterable[str] = ()) -> LayerSet:
    """Load several layers; a missing ``exclude`` layer is an error unless its id is in `allow_missing`.

    Raises
    ------
    LayerUnavailableError
        For a layer of role ``exclude`` that resolves nowhere and is not allowed missing; the message
        names the layer, every source tried and the fix.
    """
    allow = set(allow_missing)
    unknown = allow - set(catalog.ids)
    if unknown:
        msg = f"--allow-missing names unknown layer ids {sorted(unknown)}; known: {', '.join(catalog.ids)}"
        raise LayerUnavailableError(msg)
    layers: dict[str, gpd.GeoDataFrame] = {}
    missing: dict[str, str] = {}
    fatal: list[str] = []
    for layer_id in dict.fromkeys(layer_ids):  # a few dozen catalog ids, not features
        spec = catalog.get(layer_id)
        try:
            layers[layer_id] = load_layer(layer_id, catalog=catalog, settings=settings)
        except LayerUnavailableError as exc:
            if spec.role == "exclude" and layer_id not in allow:
                fatal.append(layer_id)
            missing[layer_id] = str(exc)
            level = logging.WARNING if spec.role == "exclude" else logging.INFO
            log.log(level, "layer %s missing (%s): %s", layer_id, spec.role, short_reason(str(exc)))
    if fatal:
        details = "\n".join(f"  - {missing[i]}" for i in fatal)
        flags = " ".join(f"--allow-missing {i}" for i in fatal)
        msg = (f"{len(fatal)} exclusion layer(s) unavailable: {', '.join(fatal)}. A missing exclusion layer "
               f"is an error, not a skipped check. Provide them, or screen knowingly incomplete with "
               f"{flags}.\n{details}")
        raise LayerUnavailableError(msg)
    return LayerSet(layers=layers, missing=missing, allow_missing=tuple(sorted(allow)))


def load_layer(layer_id: str, *, catalog: Catalog, settings: Settings) -> gpd.GeoDataFrame:
    """Load one layer, trying the cache, the mirror and the official source in that order.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:25832, normalised (see `normalise`), provenance in ``attrs``.

    Raises
    ------
    LayerUnavailableError
        When no source yields the layer; names the sources tried and how to provide it.
    LayerDataError
        When a source yields a file that cannot be used (corrupt, empty, missing key column).
    """
    spec = catalog.get(layer_id)
    sources = _candidate_sources(spec, settings)
    tried = [] if any(s[0] == "mirror" for s in sources) else _not_tried(spec, settings)[:1]
    for origin, location, key in sources:
        cached = _cache_read(settings.cache_dir, key)
        if cached is not None:
            cached.attrs.update(_nature_layers.copy_attrs(spec, cached.attrs.get("origin", origin),
                                                          settings.mirror_root))
            return cached
        if origin == "mirror":
            if tried and spec.provisional:
                log.warning("%s: using the provisional mirror copy (%s): %s", layer_id, spec.provisional_reason,
                            "; ".join(tried))
            gdf = normalise(_read_file(Path(location), spec), spec, what=location)
        elif not settings.online:
            tried.append(f"official source {location} (not tried: offline, INDUSTRIPARK_OFFLINE is set)")
            continue
        else:
            try:
                raw = _fetch.fetch(spec, settings=settings)
            except _fetch.FetchError as exc:
                tried.append(f"official source {location} ({exc})")
                continue
            gdf = normalise(raw, spec, what=location)
            gdf.attrs["fetched"] = raw.attrs.get("provenance", {})  # the source used, fetch facts
        _stamp(gdf, spec, origin=origin, location=location, key=key)
        gdf.attrs.update(gdf.attrs.pop("fetched", {}))
        gdf.attrs.update(_nature_layers.copy_attrs(spec, origin, settings.mirror_root))
        _cache_write(settings.cache_dir, key, gdf)
        return gdf
    if spec.source.kind == "none":
        tried += _not_tried(spec, settings)[1:]
    msg = (f"layer {layer_id!r} ({spec.title}) is unavailable: tried " + "; ".join(tried) +
           f". Fix: put the file at <mirror>/{spec.mirror_path}"
           " (set INDUSTRIPARK_MIRROR), run 'industripark layers fetch " + layer_id + "' where the"
           " internet is reachable" + (", or pass --allow-missing " + layer_id if spec.role == "exclude" else ""))
    raise LayerUnavailableError(msg)


def resolve(layer_id: str, *, catalog: Catalog, settings: Settings) -> Resolution:
    """Say where `layer_id` would load from, without reading or fetching it."""
    spec = catalog.get(layer_id)
    sources = _candidate_sources(spec, settings)
    for origin, location, key in sources:
        if origin == "imported":
            return Resolution(layer_id, "imported", location, "official file imported with 'layers import'")
        if (settings.cache_dir / f"{key}.parquet").exists():
            return Resolution(layer_id, "cache", str(settings.cache_dir / f"{key}.parquet"), f"from {origin}")
        if origin == "mirror":
            return Resolution(layer_id, "mirror", location)
        if settings.online:
            return Resolution(layer_id, "online", location, "not cached; fetched on first use")
    return Resolution(layer_id, "missing", "", "; ".join(_not_tried(spec, settings)))


def apply_filter(gdf: gpd.GeoDataFrame, flt: LayerFilter, *, what: str = "layer") -> gpd.GeoDataFrame:
    """Keep rows whose ``where`` columns hold one of the listed values and whose ``require`` columns are set.

    Values compare as text, so ``zone: [1, 3]`` matches integer 1 and string "1".

    Raises
    ------
    LayerDataError
        When a filter names a column the layer does not have.
    """
    keep = np.ones(len(gdf), dtype=bool)
    for column in (*flt.where, *flt.require):
        if column not in gdf.columns and not (flt.keep_unset and column in flt.where):
            msg = f"{what}: filter column {column!r} not found; columns are {list(gdf.columns)}"
            raise LayerDataError(msg)
    for column, values in flt.where.items():
        if column not in gdf.columns:  # keep_unset: a copy without the column keeps every row
            continue
        wanted = {_as_text(v) for v in values}
        ok = gdf[column].map(_as_text).isin(wanted).to_numpy()
        if flt.keep_unset:
            ok = ok | (gdf[column].isna() | (gdf[column].astype(str).str.strip() == "")).to_numpy()
        keep &= ok
    for column in flt.require:
        col = gdf[column]
        keep &= (col.notna() & (col.astype(str).str.strip() != "")).to_numpy()
    return gdf.loc[keep]


def normalise(gdf: gpd.GeoDataFrame, spec: LayerSpec, *, what: str) -> gpd.GeoDataFrame:
    """Reproject to EPSG:25832, repair invalid geometries, drop empties, rename columns to the catalog's.

    Repairs use `shapely.make_valid` and keep only parts of the layer's geometry family; the count of
    repaired and dropped features is logged.
    """
    if gdf.crs is None:
        msg = f"{what}: layer {spec.id!r} has no CRS; the catalog expects {spec.crs}. Fix the file's CRS."
        raise CRSError(msg)
    gdf = to_metric(gdf, what)
    gdf = _rename_columns(gdf, spec, what)
    geoms = gdf.geometry.to_numpy()
    invalid = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
        log.info("%s: repaired %d invalid geometries with make_valid", spec.id, int(invalid.sum()))
    geoms = _keep_family(geoms, spec.geometry_type)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    dropped = int((~keep).sum())
    if dropped:
        log.info("%s: dropped %d empty or off-type geometries", spec.id, dropped)
    out = gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name).loc[keep].reset_index(drop=True),
                           geometry=geoms[keep], crs=gdf.crs)
    if out.empty:
        msg = f"{what}: layer {spec.id!r} has no usable {spec.geometry_type} features"
        raise LayerDataError(msg)
    out.attrs["n_repaired"] = int(invalid.sum())
    return out


# --------------------------------------------------------------------------- helpers


def _candidate_sources(spec: LayerSpec, settings: Settings) -> list[tuple[str, str, str]]:
    """(origin, location, cache key) in resolution order: an online fetch cached earlier beats the mirror."""
    sources = []
    if spec.source.kind != "none":
        location = _fetch.describe(spec)
        sources.append(("online", location, _key(spec, "online", location)))
    if settings.mirror_root is not None:
        path = Path(settings.mirror_root) / spec.mirror_path
        if path.is_file():
            sources.insert(0, ("mirror", str(path), _key(spec, "mirror", file_sha256(path))))
    if spec.provisional and settings.online:  # official sources are tried before a provisional copy
        sources.sort(key=lambda s: s[0] == "mirror")
    online_cached = [s for s in sources if s[0] == "online" and (settings.cache_dir / f"{s[2]}.parquet").exists()]
    imported = _imported_source(spec, settings)  # an official file the user imported beats everything
    return imported + online_cached + [s for s in sources if s not in online_cached]


def _imported_source(spec: LayerSpec, settings: Settings) -> list[tuple[str, str, str]]:
    """[("imported", file, cache key)] when ``industripark layers import`` stored this layer, else []."""
    pointer = Path(settings.cache_dir) / "imported" / f"{spec.id}.json"
    try:
        entry = json.loads(pointer.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    key = _key(spec, "imported", entry.get("sha256", ""))
    if not all((Path(settings.cache_dir) / f"{key}{ext}").exists() for ext in (".parquet", ".json")):
        log.warning("%s: the imported file %s was stored under another catalog entry; import it again",
                    spec.id, entry.get("file"))
        return []
    return [("imported", entry.get("file", ""), key)]


def _not_tried(spec: LayerSpec, settings: Settings) -> list[str]:
    reasons = []
    if settings.mirror_root is None:
        reasons.append("mirror (no mirror root: set INDUSTRIPARK_MIRROR)")
    else:
        reasons.append(f"mirror {Path(settings.mirror_root) / spec.mirror_path} (file not found)")
    if spec.source.kind == "none":
        reasons.append(f"official source (none known: {spec.source.note or 'no public service'})")
    elif not settings.online:
        reasons.append(f"official source {_fetch.describe(spec)} (not tried: offline)")
    return reasons


def _key(spec: LayerSpec, origin: str, identity: str) -> str:
    blob = json.dumps({"id": spec.id, "origin": origin, "identity": identity, "v": NORMALISE_VERSION,
                       "columns": spec.model_dump(mode="json")["columns"], "type": spec.geometry_type},
                      sort_keys=True)
    return f"{spec.id}-{hashlib.sha1(blob.encode()).hexdigest()[:16]}"


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_file(path: Path, spec: LayerSpec) -> gpd.GeoDataFrame:
    try:
        return gpd.read_file(path, layer=spec.mirror_layer, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several DataSourceError/DataLayerError types
        msg = f"{path}: cannot read layer {spec.mirror_layer or '(first)'} for {spec.id!r}: {exc}"
        raise LayerDataError(msg) from None


def _rename_columns(gdf: gpd.GeoDataFrame, spec: LayerSpec, what: str) -> gpd.GeoDataFrame:
    lower = {c.lower(): c for c in gdf.columns if c != gdf.geometry.name}
    renames, missing = {}, []
    for name, col in spec.columns.items():
        found = next((lower[n.lower()] for n in (name, *col.aliases) if n.lower() in lower), None)
        if found is None:
            if col.required:
                missing.append(name)
        elif found != name:
            renames[found] = name
    if missing:
        msg = (f"{what}: layer {spec.id!r} lacks required column(s) {missing} (or their aliases); "
               f"columns present: {sorted(lower.values())}. Update catalog.yaml aliases or fix the file.")
        raise LayerDataError(msg)
    return gdf.rename(columns=renames)


def _keep_family(geoms: np.ndarray, geometry_type: str) -> np.ndarray:
    """Replace geometries of another family by their parts of the right family (collections from make_valid)."""
    family = _FAMILY[geometry_type]
    types = shapely.get_type_id(geoms)
    ok_ids = {shapely.GeometryType[name.upper()].value for name in family}
    off = ~np.isin(types, list(ok_ids)) & ~shapely.is_missing(geoms)
    if off.any():
        parts, idx = shapely.get_parts(geoms[off], return_index=True)
        good = np.isin(shapely.get_type_id(parts), list(ok_ids))
        rebuilt = np.full(int(off.sum()), None, dtype=object)
        if good.any():
            series = pd.Series(list(parts[good])).groupby(idx[good]).agg(lambda g: shapely.union_all(list(g)))
            rebuilt[series.index.to_numpy()] = series.to_numpy()
        geoms = geoms.copy()
        geoms[off] = rebuilt
    return geoms


def _stamp(gdf: gpd.GeoDataFrame, spec: LayerSpec, *, origin: str, location: str, key: str) -> None:
    src = spec.source
    source = (spec.mirror_source if origin == "mirror" and spec.mirror_source
              else f"{src.publisher}, {src.licence}")
    gdf.attrs.update({
        "layer_id": spec.id,
        "title": spec.title,
        "origin": origin,
        "location": location,
        "source": source,
        "date": spec.mirror_date if origin == "mirror" and spec.mirror_date else
        (date.today().isoformat() if origin == "online" else ""),
        "version": key.rsplit("-", 1)[-1],
        "caveat": spec.caveat,
    })


def _cache_read(cache_dir: Path, key: str) -> gpd.GeoDataFrame | None:
    path = Path(cache_dir) / f"{key}.parquet"
    meta = path.with_suffix(".json")
    if not (path.exists() and meta.exists()):
        return None
    gdf = gpd.read_parquet(path)
    gdf.attrs.update(json.loads(meta.read_text(encoding="utf-8")))
    log.debug("cache hit %s", path.name)
    return gdf


def _cache_write(cache_dir: Path, key: str, gdf: gpd.GeoDataFrame) -> None:
    cache_dir = Path(cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".{key}.parquet.tmp"
        gdf.to_parquet(tmp)
        (cache_dir / f"{key}.json").write_text(json.dumps(gdf.attrs, default=str), encoding="utf-8")
        tmp.replace(cache_dir / f"{key}.parquet")  # only complete results become cache entries
        log.debug("cache save %s.parquet", key)
    except OSError as exc:
        log.warning("could not write cache entry %s in %s: %s", key, cache_dir, exc)


def _as_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def feature_count(resolution: Resolution) -> int | None:
    """Number of features at a resolved location without loading geometries; None when unknown."""
    try:
        if resolution.origin == "cache":
            import pyarrow.parquet as pq

            return pq.ParquetFile(resolution.location).metadata.num_rows
        if resolution.origin == "mirror":
            import pyogrio

            return int(pyogrio.read_info(resolution.location)["features"])
    except (OSError, ValueError) as exc:
        log.warning("cannot count features of %s: %s", resolution.location, exc)
    return None


def probe(resolution: Resolution, *, timeout_s: float = 3.0) -> Resolution:
    """Ask an ``online`` resolution's host whether it answers; returns ``online`` or ``unreachable``."""
    import requests

    url = resolution.location.split(" ", 1)[0]
    try:
        requests.head(url, timeout=timeout_s, allow_redirects=True)
    except requests.RequestException as exc:
        return Resolution(resolution.layer_id, "unreachable", resolution.location, type(exc).__name__)
    return Resolution(resolution.layer_id, "online", resolution.location, "answers")


def sources_markdown(catalog: Catalog) -> str:
    """The catalog as a Markdown table: layer, role, official source, licence, mirror copy."""
    rows = ["| layer | role | official source | licence | evidence | offline mirror |",
            "|---|---|---|---|---|---|"]
    for spec in catalog.layers:  # a few dozen catalog entries
        src = spec.source
        where = src.publisher + (f": {src.kind.upper()} `{src.url}`" if src.url else " (no public service known)")
        if src.typename:
            where += f" `{src.typename}`"
        mirror = f"`{spec.mirror}` ({spec.mirror_source})" if spec.mirror else "not in the mirror"
        rows.append(f"| `{spec.id}` {spec.title} | {spec.role} | {where} | {src.licence} | {src.evidence} | "
                    f"{mirror} |")
    return "\n".join(rows)


def update_readme_sources(readme: Path, catalog: Catalog) -> bool:
    """Rewrite the table between the ``sources:start``/``sources:end`` markers; True when it changed."""
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- sources:start -->", "<!-- sources:end -->"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{start}\n{sources_markdown(catalog)}\n{end}{tail}"
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def short_reason(reason: str) -> str:
    """What was tried for an unavailable layer, without the fix and the long service error text."""
    return reason.split(". Fix:", 1)[0].split(" is unavailable: ", 1)[-1]

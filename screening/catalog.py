"""Resolve and load catalog layers: local cache -> offline mirror -> official source -> unavailable.

Every layer that leaves this module is in EPSG:25832, has valid non-empty geometries of its catalog
geometry family, columns renamed to the catalog's names, and its provenance in ``gdf.attrs``
(``layer_id, title, origin, location, source, date, version``) with its row accounting and checksums
(`screening._layer_integrity`: no feature is ever dropped silently). The cache is `screening._layer_cache`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import geopandas as gpd

from screening import _fetch, _layer_cache, _nature_layers
from screening import _layer_integrity as integrity
from screening._catalog_table import sources_markdown, update_readme_sources
from screening._layer_cache import file_sha256
from screening._normalise import normalise
from screening.config import Catalog, LayerSpec, Settings
from screening.errors import LayerDamagedError, LayerDataError, LayerUnavailableError

__all__ = [
    "LayerSet",
    "Resolution",
    "load_layers",
    "load_layer",
    "require_allowed_missing",
    "resolve",
    "normalise",
    "feature_count",
    "probe",
    "sources_markdown",
    "update_readme_sources",
    "short_reason",
    "file_sha256",
]

log = logging.getLogger(__name__)

NORMALISE_VERSION = 2
"""Bump when `normalise` changes what it writes, so old cache entries are not reused."""

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
    damaged: dict[str, str] = field(default_factory=dict)
    """Layers loaded with damaged features left out (``--allow-damaged``): id -> what was left out."""
    allow_damaged: tuple[str, ...] = ()


def load_layers(layer_ids: Iterable[str], *, catalog: Catalog, settings: Settings,
                allow_missing: Iterable[str] = (), allow_damaged: Iterable[str] = ()) -> LayerSet:
    """Load several layers; a missing ``exclude`` layer is an error unless its id is in `allow_missing`.

    A missing ``boundary`` layer is always an error (every site is placed in its municipality with it), and
    so is a layer with damaged features, unless its id is in `allow_damaged` and its role is not
    ``exclude`` or ``boundary`` (see `screening._layer_integrity`); such layers are listed in
    ``LayerSet.damaged``.

    Raises
    ------
    LayerUnavailableError
        For a layer of role ``exclude`` that resolves nowhere and is not allowed missing, or a missing
        ``boundary`` layer; the message names the layer, every source tried and the fix.
    LayerDamagedError
        For layers with unreadable features or fewer features than known (all named at once).
    """
    allow = set(allow_missing)
    damaged_ok = set(allow_damaged)
    unknown = (allow | damaged_ok) - set(catalog.ids)
    if unknown:
        msg = (f"--allow-missing/--allow-damaged name unknown layer ids {sorted(unknown)}; known: "
               f"{', '.join(catalog.ids)}")
        raise LayerUnavailableError(msg)
    for layer_id in sorted(damaged_ok):  # a handful of ids given on the command line
        integrity.check_allowable(catalog.get(layer_id))
    layers: dict[str, gpd.GeoDataFrame] = {}
    missing: dict[str, str] = {}
    damaged: dict[str, str] = {}
    broken: dict[str, str] = {}
    fatal: list[str] = []
    for layer_id in dict.fromkeys(layer_ids):  # a few dozen catalog ids, not features
        spec = catalog.get(layer_id)
        try:
            layers[layer_id] = gdf = load_layer(layer_id, catalog=catalog, settings=settings,
                                                allow_damaged=layer_id in damaged_ok)
            if gdf.attrs.get("n_damaged"):
                damaged[layer_id] = integrity.allowed_note(gdf.attrs)
                log.warning("layer %s: %s", layer_id, damaged[layer_id])
        except LayerDamagedError as exc:
            broken[layer_id] = str(exc)
        except LayerUnavailableError as exc:
            if (spec.role == "exclude" and layer_id not in allow) or spec.role == "boundary":
                fatal.append(layer_id)
            missing[layer_id] = str(exc)
            level = logging.WARNING if spec.role == "exclude" else logging.INFO
            log.log(level, "layer %s missing (%s): %s", layer_id, spec.role, short_reason(str(exc)))
    if broken:
        msg = (f"{len(broken)} layer(s) damaged: {', '.join(broken)}.\n"
               + "\n".join(f"  - {text}" for text in broken.values()))
        raise LayerDamagedError(msg)
    boundary = [i for i in fatal if catalog.get(i).role == "boundary"]
    if boundary:
        details = "\n".join(f"  - {missing[i]}" for i in boundary)
        msg = (f"boundary layer(s) unavailable: {', '.join(boundary)}. Every site is placed in its municipality "
               f"and region with them, so they cannot be skipped.\n{details}")
        raise LayerUnavailableError(msg)
    if fatal:
        raise _missing_exclusion_error(fatal, missing)
    return LayerSet(layers=layers, missing=missing, allow_missing=tuple(sorted(allow)), damaged=damaged,
                    allow_damaged=tuple(sorted(damaged_ok)))


def require_allowed_missing(layer_set: LayerSet, catalog: Catalog, allow_missing: Iterable[str]) -> LayerSet:
    """`layer_set` (loaded under other allowances, e.g. a reference run's) held to `allow_missing` only.

    Refuses, as `load_layers` does, when an ``exclude`` layer is missing and not in `allow_missing`; the
    returned set's ``allow_missing`` is exactly `allow_missing`, so a copy covering only part of the
    country is refused for sites outside it too (`screening.exclusion`), as in a screening.

    Raises
    ------
    LayerUnavailableError
        The same message as `load_layers`: the layers, what was tried and the ``--allow-missing`` flags.
    """
    allow = set(allow_missing)
    fatal = [i for i in layer_set.missing if catalog.get(i).role == "exclude" and i not in allow]
    if fatal:
        raise _missing_exclusion_error(fatal, layer_set.missing)
    return replace(layer_set, allow_missing=tuple(sorted(allow)))


def _missing_exclusion_error(fatal: list[str], missing: dict[str, str]) -> LayerUnavailableError:
    details = "\n".join(f"  - {missing[i]}" for i in fatal)
    flags = " ".join(f"--allow-missing {i}" for i in fatal)
    msg = (f"{len(fatal)} exclusion layer(s) unavailable: {', '.join(fatal)}. A missing exclusion layer "
           f"is an error, not a skipped check. Provide them, or screen knowingly incomplete with "
           f"{flags}.\n{details}")
    return LayerUnavailableError(msg)


def load_layer(layer_id: str, *, catalog: Catalog, settings: Settings,
               allow_damaged: bool = False) -> gpd.GeoDataFrame:
    """Load one layer, trying the cache, the mirror and the official source in that order.

    Every row the source yields is accounted for (`normalise`) and the count is compared with the count
    known before (``mirror_features`` in the catalog for a mirror copy; the last fetch for an official
    source). `allow_damaged` lets a layer whose role is not ``exclude`` or ``boundary`` load with its
    unreadable features left out (``attrs['n_damaged']``, ``attrs['damaged_ids']`` say which).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:25832, normalised (see `normalise`), provenance, row counts and checksums in ``attrs``.

    Raises
    ------
    LayerUnavailableError
        When no source yields the layer; names the sources tried and how to provide it.
    LayerDataError
        When a source yields a file that cannot be used (corrupt, unreadable, empty, missing key column) or a
        cache entry changed since it was written.
    LayerDamagedError
        When features cannot be read or repaired (and are not allowed), or the layer has fewer features than
        known before; names the layer, the file, the count and the feature ids.
    """
    spec = catalog.get(layer_id)
    if allow_damaged:
        integrity.check_allowable(spec)
    sources = _candidate_sources(spec, settings)
    tried = [] if any(s[0] == "mirror" for s in sources) else _not_tried(spec, settings)[:1]
    for origin, location, key in sources:
        cached = _cache_read(settings.cache_dir, key,
                             source_sha256=_layer_cache.mirror_sha256(Path(location)) if origin == "mirror" else None)
        if cached is not None:
            cached.attrs["title"] = spec.title.model_dump()  # {da, en} from the catalog, never a stale record
            cached.attrs.update(caveat=spec.caveat, **(_mirror_provenance(spec) if origin == "mirror" else {}))
            cached.attrs.update(_nature_layers.copy_attrs(spec, cached.attrs.get("origin", origin),
                                                          settings.mirror_root))
            integrity.verify(cached, spec, cache_dir=settings.cache_dir, allow_damaged=allow_damaged)
            return cached
        if origin == "mirror":
            if tried and spec.provisional:
                log.warning("%s: using the provisional mirror copy (%s): %s", layer_id, spec.provisional_reason,
                            "; ".join(tried))
            raw = _read_file(Path(location), spec)
            gdf = normalise(raw, spec, what=location, declared=raw.attrs.get("declared_features"),
                            allow_damaged=allow_damaged)
            gdf.attrs["source_sha256"] = _layer_cache.mirror_sha256(Path(location))
        elif not settings.online:
            tried.append(f"official source {location} (not tried: offline, INDUSTRIPARK_OFFLINE is set)")
            continue
        else:
            try:
                raw = _fetch.fetch(spec, settings=settings)
            except _fetch.FetchError as exc:
                tried.append(f"official source {location} ({exc})")
                continue
            gdf = normalise(raw, spec, what=location, allow_damaged=allow_damaged)
            gdf.attrs["source_sha256"] = _layer_cache.content_sha256(gdf)
            gdf.attrs["fetched"] = raw.attrs.get("provenance", {})  # the source used, fetch facts
        _stamp(gdf, spec, origin=origin, location=location, key=key)
        gdf.attrs.update(gdf.attrs.pop("fetched", {}))
        gdf.attrs.update(_nature_layers.copy_attrs(spec, origin, settings.mirror_root))
        integrity.verify(gdf, spec, cache_dir=settings.cache_dir, allow_damaged=allow_damaged)
        _cache_write(settings.cache_dir, key, gdf)
        if origin == "online":
            _layer_cache.ledger_record(settings.cache_dir, spec.id, location, gdf.attrs["source_features"])
        return gdf
    if spec.source.kind == "none":
        tried += _not_tried(spec, settings)[1:]
    msg = (f"layer {layer_id!r} ({spec.title}) is unavailable: tried " + "; ".join(tried) +
           f". Fix: put the file at <mirror>/{spec.mirror_path}"
           " (set INDUSTRIPARK_MIRROR), run 'industripark layers fetch " + layer_id + "' where the"
           " internet is reachable" + (", or pass --allow-missing " + layer_id if spec.role == "exclude" else ""))
    raise LayerUnavailableError(msg)


def resolve(layer_id: str, *, catalog: Catalog, settings: Settings) -> Resolution:
    """Say where `layer_id` would load from, without reading or fetching it (``unreadable``: a mirror path
    that holds something unusable, ``detail`` says what)."""
    spec = catalog.get(layer_id)
    try:
        sources = _candidate_sources(spec, settings)
    except LayerDataError as exc:
        return Resolution(layer_id, "unreadable", str(Path(settings.mirror_root or "") / spec.mirror_path), str(exc))
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


# --------------------------------------------------------------------------- helpers


def _candidate_sources(spec: LayerSpec, settings: Settings) -> list[tuple[str, str, str]]:
    """(origin, location, cache key) in resolution order: an online fetch cached earlier beats the mirror."""
    sources = []
    if spec.source.kind != "none":
        location = _fetch.describe(spec)
        sources.append(("online", location, _key(spec, "online", location)))
    if settings.mirror_root is not None:
        path = Path(settings.mirror_root) / spec.mirror_path
        if _layer_cache.mirror_file(path, spec):
            sources.insert(0, ("mirror", str(path), _key(spec, "mirror", _layer_cache.mirror_sha256(path))))
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


def _read_file(path: Path, spec: LayerSpec) -> gpd.GeoDataFrame:
    """Read a mirror file with its feature ids as the index (``fid``) and ``attrs['declared_features']``."""
    import pyogrio

    try:
        declared = pyogrio.read_info(path, layer=spec.mirror_layer, force_feature_count=True)["features"]
        gdf = gpd.read_file(path, layer=spec.mirror_layer, engine="pyogrio", fid_as_index=True)
    except Exception as exc:  # pyogrio raises several DataSourceError/DataLayerError types
        msg = f"{path}: cannot read layer {spec.mirror_layer or '(first)'} for {spec.id!r}: {exc}"
        raise LayerDataError(msg) from None
    gdf.attrs["declared_features"] = int(declared)
    return gdf


def _stamp(gdf: gpd.GeoDataFrame, spec: LayerSpec, *, origin: str, location: str, key: str) -> None:
    src = spec.source
    gdf.attrs.update({
        "layer_id": spec.id,
        "title": spec.title.model_dump(),  # {da, en}: read with screening.i18n.text
        "origin": origin,
        "location": location,
        "source": f"{src.publisher}, {src.licence}",
        "date": date.today().isoformat() if origin == "online" else "",
        **(_mirror_provenance(spec) if origin == "mirror" else {}),
        "version": key.rsplit("-", 1)[-1],
        "caveat": spec.caveat,
    })


def _mirror_provenance(spec: LayerSpec) -> dict:
    """A mirror copy's ``source`` and ``date`` as the catalog says them now (cache hits too: never stale):
    the English texts, and ``source_text`` in both languages when the catalog gives them (the date's is
    ``date_text``, `screening._nature_layers`); `screening._provenance` reads them."""
    date_ = getattr(spec.mirror_date, "en", spec.mirror_date)
    source = getattr(spec.mirror_source, "en", spec.mirror_source)
    both = spec.mirror_source.model_dump() if hasattr(spec.mirror_source, "model_dump") else ""
    return {k: v for k, v in (("source", source), ("date", date_), ("source_text", both)) if v}


def _cache_read(cache_dir: Path, key: str, *, source_sha256: str | None = None) -> gpd.GeoDataFrame | None:
    """A checked cache entry or None (`screening._layer_cache.read`)."""
    return _layer_cache.read(cache_dir, key, source_sha256=source_sha256)


def _cache_write(cache_dir: Path, key: str, gdf: gpd.GeoDataFrame) -> None:
    """Write a cache entry with its count and checksum (`screening._layer_cache.write`)."""
    _layer_cache.write(cache_dir, key, gdf)


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


def short_reason(reason: str) -> str:
    """What was tried for an unavailable layer, without the fix and the long service error text."""
    return reason.split(". Fix:", 1)[0].split(" is unavailable: ", 1)[-1]

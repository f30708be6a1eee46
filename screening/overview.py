"""The national overview map: a static site of vector and raster tiles that any web server can serve.

`build_overview` loads the layers of ``layers/overview.yaml`` through `screening.catalog.load_layers` (the
same catalog entries as the screening) and the latest screening run, writes one PMTiles archive per layer
(`screening._tiles`), the suitability surface as raster tiles, the point-report data
(`screening._point_report`), the browser libraries from ``node_modules`` (`screening._overview_assets`)
and ``index.html``. Layers that do not resolve are listed on the page as missing. `make_app` serves a
built site with HTTP range requests (PMTiles reads archives by range). See docs/OVERVIEW.md.

The site is written in the current language (`screening.i18n`, ``industripark overview --lang``, Danish by
default): the page's texts from the Danish catalog, layer and criterion names from the YAML texts, the
language recorded as ``lang`` in ``overview.json``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np

from screening import _point_report, _tiles, _tiles_surface, i18n
from screening._json import write_json
from screening._machine_paths import scrub, server_roots
from screening._overview_config import OverviewConfig, OverviewLayer
from screening._provenance import source_and_date
from screening.catalog import load_layers, short_reason
from screening.config import Catalog, Criteria, Settings, config_hash
from screening.errors import LayerDataError, LayerUnavailableError
from screening.i18n import fmt_number
from screening.i18n import gettext as _

__all__ = ["OverviewResult", "build_overview", "find_surface", "surface_or_build", "resolve_run", "run_layers",
           "make_app", "summary_text", "asdict_result"]

log = logging.getLogger(__name__)

SURFACE_ID = "surface"
"""Id of the suitability surface in the site manifest (its archive is ``tiles/surface.pmtiles``)."""


@dataclass(frozen=True)
class OverviewResult:
    """What `build_overview` wrote: the site folder, each layer's entry of ``overview.json``, the missing
    layers with their reasons, the surface entry (None when missing) and the build seconds."""

    site_dir: Path
    layers: list[dict]
    missing: dict[str, str]
    surface: dict | None
    seconds: float
    archive_bytes: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def build_overview(site_dir: Path, *, settings: Settings, catalog: Catalog, criteria: Criteria,
                   config: OverviewConfig, surface_dir: Path | None, run_dir: Path | None,
                   surface_missing: str = "", engine: str = "freestiler",
                   vendor_from: Path | None = None) -> OverviewResult:
    """Write the overview site into `site_dir` (``index.html``, ``overview.json``, ``tiles/``, ``surface/``,
    ``data/``, ``vendor/``, ``static/``).

    Parameters
    ----------
    site_dir
        An empty or new folder.
    settings, catalog, criteria
        As for a screening; the layers resolve exactly as the screening's do (cache, mirror, official).
    config
        ``layers/overview.yaml``.
    surface_dir
        A surface run with criterion bands (`find_surface`), or None: the surface is then listed missing
        with `surface_missing` as the reason.
    run_dir
        A screening run folder with ``screening.gpkg``, or None: its layers are then listed missing.
    engine
        Vector tiler, ``freestiler`` or ``gdal`` (`screening._tiles.write_vector_archive`).
    vendor_from
        The ``node_modules`` folder to copy the browser libraries from (default: the project's, installed
        with ``npm ci`` when absent).

    Returns
    -------
    OverviewResult

    Raises
    ------
    LayerUnavailableError
        When the land layer (``kommuner``) does not resolve: there is no map without it.
    """
    from screening import _overview_assets

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    site_dir = Path(site_dir)
    (site_dir / "tiles").mkdir(parents=True, exist_ok=True)
    ids = [config.land_layer, *(layer.layer for layer in config.layers if layer.layer),
           *(c.layer for c in criteria.criteria if c.layer and c.measure in ("distance", "travel_time"))]
    layer_set = load_layers(ids, catalog=catalog, settings=settings, allow_missing=catalog.ids)
    roots = server_roots(settings)  # a published site shows no folder of this machine
    layers, missing = dict(layer_set.layers), {k: scrub(short_reason(v), roots)
                                               for k, v in layer_set.missing.items()}
    if config.land_layer not in layers:
        raise LayerUnavailableError(f"the overview needs its land layer {config.land_layer!r}: "
                                    f"{missing[config.land_layer]}")
    run = run_layers(run_dir)
    timings["load_s"] = time.perf_counter() - t0
    entries = [_land_entry(layers[config.land_layer], config, site_dir, engine,
                           title=str(catalog.get(config.land_layer).title))]
    for spec in config.layers:  # about 25 configured map layers
        title = str(spec.title) if spec.title is not None else str(catalog.get(spec.layer).title)
        entries.append(_layer_entry(spec, layers, run, missing, site_dir, engine, title=title))
    _share_archives(entries[1:], site_dir)
    timings["vector_tiles_s"] = time.perf_counter() - t0 - timings["load_s"]
    t1 = time.perf_counter()
    surface = _surface_entry(surface_dir, site_dir, config, criteria) if surface_dir is not None else None
    timings["surface_s"] = time.perf_counter() - t1
    point_data = _point_data(layers, criteria, config, site_dir)
    _overview_assets.copy_assets(site_dir, node_modules=vendor_from)
    manifest = scrub(_manifest(config, entries, surface, surface_missing or _("no surface given"), run_dir,
                               criteria, catalog, engine, point_data), roots)
    write_json(site_dir / "overview.json", manifest)
    _overview_assets.render_index(site_dir, config, manifest)
    archive_bytes = sum(p.stat().st_size for p in (site_dir / "tiles").glob("*.pmtiles"))
    result = OverviewResult(site_dir, entries, {e["id"]: e["reason"] for e in entries if e["status"] != "ok"},
                            surface, round(time.perf_counter() - t0, 3), archive_bytes,
                            {k: round(v, 3) for k, v in timings.items()})
    log.info("overview: %d layers drawn, %d missing, %.1f MB of tiles, written to %s in %.1f s",
             sum(e["status"] == "ok" for e in entries), len(result.missing), archive_bytes / 1e6, site_dir,
             result.seconds)
    return result


def find_surface(surface_dir: Path, *, expected_hash: str) -> tuple[Path | None, str]:
    """A usable surface folder (criterion bands, this configuration's hash), or None and why not.

    `surface_dir` may be a run folder or a root whose ``latest`` points to one. The reason is in the current
    language (the page lists it).
    """
    path = Path(surface_dir)
    if (path / "latest").exists() and not (path / "surface.json").exists():
        path = (path / "latest").resolve()
    meta_path = path / "surface.json"
    if not meta_path.exists():
        return None, _("no surface at %(path)s (run 'industripark surface --criterion-bands')", path=surface_dir)
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("config_hash", "") != expected_hash:
        return None, _("the surface at %(path)s was made under other rules (config hash %(was)s, now %(now)s)",
                       path=path, was=repr(meta.get("config_hash", "")), now=repr(expected_hash))
    if not all((path / "criteria" / f"{c}.tif").exists() for c in meta.get("points", {})):
        return None, _("the surface at %(path)s has no criterion bands (made without --criterion-bands)", path=path)
    return path, ""


def run_layers(run_dir: Path | None) -> dict[str, gpd.GeoDataFrame]:
    """The layers of a screening run the map draws: ``candidates`` with a ``status`` column
    (``proposed`` / ``eligible`` / ``excluded``), EPSG:25832; {} when there is no run."""
    if run_dir is None:
        return {}
    path = Path(run_dir) / "screening.gpkg"
    if not path.exists():
        return {}
    gdf = gpd.read_file(path, layer="candidates", engine="pyogrio")
    if gdf.crs is None or gdf.crs.to_epsg() != 25832:
        raise LayerDataError(f"{path}: layer candidates is not in EPSG:25832 ({gdf.crs}); re-run the screening")
    selected = gdf["selected"].fillna(False).astype(bool) if "selected" in gdf.columns else False
    excluded = gdf["excluded"].fillna(False).astype(bool) if "excluded" in gdf.columns else False
    gdf["status"] = np.where(selected, "proposed", np.where(excluded, "excluded", "eligible"))
    gdf.attrs.update({"layer_id": "candidates", "source": f"screening run {Path(run_dir).resolve().name}",
                      "date": Path(run_dir).resolve().name, "origin": "run", "location": str(path)})
    return {"candidates": gdf}


def make_app(site_dir: Path):
    """A Flask app serving the static files of `site_dir` with HTTP range requests (werkzeug
    ``send_file(conditional=True)`` answers ``Range`` with 206 Partial Content), for ``--serve`` and tests."""
    from flask import Flask, abort, send_from_directory

    root = Path(site_dir).resolve()
    app = Flask(__name__, static_folder=None)

    @app.get("/")
    @app.get("/<path:name>")
    def static_file(name: str = "index.html"):
        if not (root / name).is_file():
            abort(404)
        return send_from_directory(root, name, conditional=True, max_age=0)

    return app


def summary_text(result: OverviewResult) -> str:
    """A few lines for the CLI: the site, layers drawn, missing layers with reasons, tile size (current language)."""
    ok = [e for e in result.layers if e["status"] == "ok"]
    lines = [_("Overview site: %(path)s (%(layers)s layers drawn, %(mb)s MB of tiles, %(seconds)s s)",
               path=result.site_dir / "index.html", layers=fmt_number(len(ok)),
               mb=fmt_number(result.archive_bytes / 1e6, 1), seconds=fmt_number(result.seconds, 1))]
    lines += ["  " + _("missing: %(layer)s (%(reason)s)", layer=k, reason=v) for k, v in result.missing.items()]
    if result.surface is None:
        lines.append("  " + _("missing: suitability surface"))
    return "\n".join(lines)


def asdict_result(result: OverviewResult) -> dict:
    """`OverviewResult` as JSON-able dict (bench output)."""
    out = asdict(result)
    out["site_dir"] = str(result.site_dir)
    return out


def resolve_run(run: Path | None, reports: Path) -> Path | None:
    """The run folder: `run` when given, else ``<reports>/latest`` when it holds a ``screening.gpkg``."""
    if run is not None:
        return Path(run)
    latest = Path(reports) / "latest"
    return latest.resolve() if (latest / "screening.gpkg").exists() else None


def surface_or_build(surface_root: Path, *, settings: Settings, catalog: Catalog, criteria: Criteria,
                     allow_missing: Iterable[str] = (), build: bool = True) -> tuple[Path | None, str]:
    """A surface with criterion bands under this configuration: found under `surface_root`, or (with
    `build`) built into a new ``<surface_root>/<timestamp>/`` that ``latest`` then points to."""
    path, why = find_surface(surface_root, expected_hash=config_hash(catalog, criteria))
    if path is not None or not build:
        return path, why
    from screening import pipeline, surface

    log.warning("%s: building the surface with criterion bands", why)
    with pipeline.run_folder(surface_root) as folder:  # appears, and as latest, only when complete
        surface.surface_from_catalog(settings=settings, catalog=catalog, criteria=criteria, out_dir=folder.path,
                                     allow_missing=allow_missing, criterion_bands=True)
    return folder.final, ""


# --------------------------------------------------------------------------- helpers of build_overview


def _land_entry(land: gpd.GeoDataFrame, config: OverviewConfig, site_dir: Path, engine: str, *, title: str) -> dict:
    stats = _tiles.write_vector_archive(land, site_dir / "tiles" / f"{config.land_layer}.pmtiles",
                                        layer_name=config.land_layer, min_zoom=0, max_zoom=config.land_max_zoom,
                                        attributes=(config.land_label, "kommunekode", "regionsnavn"), engine=engine)
    bounds = [round(float(v), 4) for v in land.to_crs(4326).total_bounds]  # west, south, east, north (degrees)
    return {"id": config.land_layer, "role": "land", "status": "ok", "reason": "", "label": config.land_label,
            "title": title, "bounds": bounds, **_archive_info(stats, site_dir), **_provenance(land)}


def _layer_entry(spec: OverviewLayer, layers: Mapping[str, gpd.GeoDataFrame],
                 run: Mapping[str, gpd.GeoDataFrame], missing: Mapping[str, str], site_dir: Path,
                 engine: str, *, title: str) -> dict:
    entry = {"id": spec.id, "role": "layer", **spec.model_dump(mode="json", exclude={"filter"}), "title": title}
    source = spec.layer or f"run:{spec.run}"
    gdf = layers.get(spec.layer) if spec.layer else run.get(spec.run)
    if gdf is None:
        reason = (missing.get(spec.layer, _("not loaded")) if spec.layer
                  else _("no screening run with screening.gpkg (run 'make screen')"))
        return {**entry, "status": "missing", "reason": reason, "source_layer": source}
    try:
        gdf = spec.filter.apply(gdf, what=f"overview layer {spec.id!r} ({source})")
    except LayerDataError as exc:
        return {**entry, "status": "missing", "reason": str(exc), "source_layer": source}
    if gdf.empty:
        return {**entry, "status": "empty", "reason": _("no feature passes the layer's filter"),
                "source_layer": source, **_provenance(gdf)}
    stats = _tiles.write_vector_archive(gdf, site_dir / "tiles" / f"{spec.id}.pmtiles", layer_name=spec.id,
                                        min_zoom=spec.min_zoom, max_zoom=spec.max_zoom,
                                        attributes=spec.attributes, engine=engine)
    return {**entry, "status": "ok", "reason": "", "source_layer": source, **_archive_info(stats, site_dir),
            **_provenance(gdf)}


def _surface_entry(surface_dir: Path, site_dir: Path, config: OverviewConfig, criteria: Criteria) -> dict:
    surface_dir = Path(surface_dir)
    meta = json.loads((surface_dir / "surface.json").read_text(encoding="utf-8"))
    stats = _tiles_surface.write_surface_archive(surface_dir / "suitability.tif", surface_dir / "exclusion.tif",
                                         site_dir / "tiles" / f"{SURFACE_ID}.pmtiles",
                                         min_zoom=config.surface.min_zoom, max_zoom=config.surface.max_zoom)
    info = _point_report.write_breakdown(surface_dir, site_dir / "surface", criteria=criteria,
                                         titles=_titles(config))
    return {"id": SURFACE_ID, "status": "ok", "run": surface_dir.name, "res_m": info["res_m"],
            "opacity": config.surface.opacity, "not_assessed": meta.get("not_assessed", {}),
            "missing_rules": meta.get("missing_rules", {}), "tile_px": _tiles_surface.SURFACE_TILE_PX,
            **_archive_info(stats, site_dir)}


def _point_data(layers, criteria: Criteria, config: OverviewConfig, site_dir: Path) -> dict:
    (site_dir / "data").mkdir(parents=True, exist_ok=True)
    nearest = _point_report.write_nearest(layers, criteria, site_dir / "data" / "nearest.json",
                                          titles=_titles(config))
    _point_report.write_kommuner(layers[config.land_layer], site_dir / "data" / "kommuner.json",
                                 label=config.land_label)
    return {"nearest": [c["id"] for c in nearest["criteria"]]}


def _titles(config: OverviewConfig) -> dict[str, str]:
    """The map's own criterion names (``criterion_titles``) in the current language."""
    return {k: str(v) for k, v in config.criterion_titles.items()}


def _share_archives(entries: list[dict], site_dir: Path) -> None:
    """Join the drawn layers' archives into one per maximum tile zoom, ``tiles/layers-z<zoom>.pmtiles`` (one
    map source for all of them; a source's layers must share its maximum zoom, beyond which MapLibre
    overzooms). Each entry's ``archive`` then names the shared archive; its ``bytes`` and ``tiles`` stay the
    layer's own, as built."""
    groups: dict[int, list[dict]] = {}
    for entry in entries:  # about 25 configured map layers
        if entry["status"] == "ok":
            groups.setdefault(entry["tile_max_zoom"], []).append(entry)
    for max_zoom, members in sorted(groups.items()):
        shared = site_dir / "tiles" / f"layers-z{max_zoom}.pmtiles"
        parts = [site_dir / entry["archive"] for entry in members]
        _tiles.join_archives(parts, shared)
        for part, entry in zip(parts, members, strict=True):
            part.unlink()
            entry["archive"] = shared.relative_to(site_dir).as_posix()


def _archive_info(stats: _tiles.ArchiveStats, site_dir: Path) -> dict:
    return {"archive": stats.path.relative_to(site_dir).as_posix(), "features": stats.features,
            "tiles": stats.tiles, "bytes": stats.bytes, "build_s": stats.seconds, "tile_min_zoom": stats.min_zoom,
            "tile_max_zoom": stats.max_zoom}


def _provenance(gdf: gpd.GeoDataFrame) -> dict:
    """Source, date, origin and the provisional-copy note of a loaded layer (catalog ``attrs``)."""
    attrs = gdf.attrs
    source, date_ = source_and_date(attrs)
    return {"source": source, "date": date_,
            "origin": str(attrs.get("origin", "")), "provisional": bool(attrs.get("provisional", False)),
            "provisional_reason": i18n.text(attrs.get("provisional_reason", "")),
            "layer_title": i18n.text(attrs.get("title", ""))}


def _manifest(config: OverviewConfig, entries: list[dict], surface: dict | None, surface_missing: str, run_dir,
              criteria: Criteria, catalog: Catalog, engine: str, point_data: dict) -> dict:
    land = entries[0]
    return {
        "title": str(config.title),
        "lang": i18n.current(),
        "built": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "config_hash": config_hash(catalog, criteria),
        "engine": engine,
        "full_detail_zoom": _tiles.GENERALISE_BELOW_ZOOM,  # below it the tiles hold generalised geometry
        "land": land,
        "groups": [{"id": g.id, "title": str(g.title)} for g in config.groups],
        "layers": entries[1:],
        "surface": surface,
        "surface_missing": None if surface is not None else surface_missing,
        "run": str(Path(run_dir).resolve().name) if run_dir is not None else "",
        "point_report": point_data,
        "bounds": land["bounds"],
    }


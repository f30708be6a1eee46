"""The files of a run folder: the data files, the explanations, the manifest, the select command's output.

Internal to `screening.pipeline`, which re-exports `write_run`, `explanations`, `read_breakdown` and
`write_selection` (and `manifest` as ``pipeline._manifest``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from screening import _nature_layers, i18n, selection
from screening._json import json_default, write_json
from screening._layer_cache import file_sha256
from screening._provenance import source_and_date
from screening.config import config_hash
from screening.errors import ScreeningError

if TYPE_CHECKING:
    from screening.pipeline import RunResult

__all__ = ["write_run", "explanations", "read_breakdown", "write_selection", "manifest", "flat_for_files"]


def write_run(run_dir: Path, result: RunResult) -> dict[str, Path]:
    """Write the machine-readable outputs of a run; returns their paths by name."""
    cand = result.candidates
    out = {
        "screening_gpkg": run_dir / "screening.gpkg",
        "candidates_gpkg": run_dir / "candidates.gpkg",
        "candidates_csv": run_dir / "candidates.csv",
        "candidates_parquet": run_dir / "candidates.parquet",
        "explanations": run_dir / "explanations.json",
        "selection": run_dir / "selection.json",
        "manifest": run_dir / "manifest.json",
    }
    flat = _flat_for_files(cand)
    flat.to_file(out["screening_gpkg"], layer="candidates", driver="GPKG", engine="pyogrio")
    flat.to_file(out["candidates_gpkg"], layer="candidates", driver="GPKG", engine="pyogrio")
    flat.to_parquet(out["candidates_parquet"])
    pd.DataFrame(flat.drop(columns=flat.geometry.name)).to_csv(out["candidates_csv"], index=False)
    sel = result.selection.to_dict() if result.selection else {"status": "not run"}
    for key, content in (("explanations", explanations(result)), ("selection", sel), ("manifest", result.manifest)):
        write_json(out[key], content)
    return out


def explanations(result: RunResult) -> dict:
    """Per application: exclusion overlaps, score breakdown and selection reason, as plain JSON."""
    overlaps = {k: g.to_dict("records") for k, g in result.exclusion.overlaps.groupby("application_id")}
    breakdown = {k: g.to_dict("records") for k, g in result.scores.breakdown.groupby("application_id")}
    out = {}
    for row in result.candidates.itertuples(index=False):  # one row per application (tens), not features
        aid = row.application_id
        out[aid] = {
            "excluded": bool(row.excluded),
            "exclusion_reasons": row.exclusion_reasons,
            "net_area_ha": row.net_area_ha,
            "score_total": row.score_total,
            "selection_reason": getattr(row, "selection_reason", None),
            "incomplete": row.incomplete,
            "overlaps": overlaps.get(aid, []),
            "breakdown": breakdown.get(aid, []),
        }
    return out


def read_breakdown(run_dir: Path) -> pd.DataFrame | None:
    """The score breakdown of a run folder (from ``explanations.json``), or None when it has none."""
    path = Path(run_dir) / "explanations.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return pd.DataFrame([row for entry in data.values() for row in entry.get("breakdown", [])])


def write_selection(out_dir: Path, candidates: gpd.GeoDataFrame, result: selection.SelectionResult
                    ) -> dict[str, Path]:
    """Write ``selection.json`` and the candidates with the selection columns into `out_dir` (new files)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"selection": out_dir / "selection.json", "candidates": out_dir / "candidates_selected.gpkg"}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing:
        msg = f"{', '.join(existing)} already exist; choose a new --out folder (runs are never overwritten)"
        raise ScreeningError(msg)
    write_json(paths["selection"], result.to_dict())
    table = selection.apply_selection(candidates.drop(
        columns=[c for c in ("selected", "selection_reason", "proposal_rank") if c in candidates.columns]), result)
    _flat_for_files(table).to_file(paths["candidates"], layer="candidates", driver="GPKG", engine="pyogrio")
    return paths


def _flat_for_files(cand: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Columns a GeoPackage/CSV can hold: objects that are not plain scalars become text."""
    flat = cand.copy()
    for col in flat.columns:
        if col != flat.geometry.name and flat[col].dtype == object:
            flat[col] = flat[col].map(lambda v: v if v is None or isinstance(v, (str, int, float, bool))
                                      else json.dumps(v, default=json_default))
    return flat


def manifest(inputs, layer_set, catalog, criteria, settings, allow_missing, timings, result) -> dict:
    """The run's ``manifest.json`` content (see docs/ARCHITECTURE.md, Run folder)."""
    excl_missing = {k: v for k, v in layer_set.missing.items() if catalog.get(k).role == "exclude"}
    nature = _nature_layers.manifest_entries(layer_set.layers, criteria, result.exclusion)  # provisional, partial
    partial = [e["text"] for e in nature["partial_layers"].values()
               if e["applications_outside"] or e["applications_partly_outside"]]
    return {
        "run_id": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "lang": i18n.current(),  # the language of the run's texts and pages
        "inputs": [{"path": str(Path(p).resolve()), "sha256": file_sha256(Path(p))} for p in inputs],
        "layers": {lid: _layer_record(gdf) for lid, gdf in layer_set.layers.items()},
        "missing_layers": layer_set.missing,
        "allow_missing": list(allow_missing),
        "damaged_layers": dict(layer_set.damaged),
        "allow_damaged": list(layer_set.allow_damaged),
        "incomplete": bool(excl_missing) or bool(partial),
        "incomplete_text": "; ".join([*(i18n.gettext("incomplete: %(layer)s missing", layer=k) for k in excl_missing),
                                      *partial]),
        **nature,
        "config_hash": config_hash(catalog, criteria),
        "settings": {"mirror_root": str(settings.mirror_root), "cache_dir": str(settings.cache_dir),
                     "online": settings.online},
        "versions": _versions(),
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "counts": {"applications": len(result.candidates),
                   "excluded": int(result.candidates["excluded"].sum()),
                   "selected": int(result.candidates.get("selected", pd.Series(dtype=bool)).fillna(False).sum())},
    }


def _layer_record(gdf: gpd.GeoDataFrame) -> dict:
    """A layer's manifest entry: provenance, and every row of the source accounted for, with checksums."""
    a = gdf.attrs
    texts = ("title", "provisional_reason", "coverage_note")  # catalog texts: in the run's language
    return {k: (i18n.text(a.get(k)) if k in texts else a.get(k))
            for k in ("title", "origin", "location", "source", "date", "version", "provisional",
                      "provisional_reason", "coverage_note")} | {
        "features": len(gdf), "source_features": a.get("source_features"),
        "expected_features": a.get("expected_features"), "repaired": a.get("n_repaired", 0),
        "empty": a.get("n_empty", 0), "damaged": a.get("n_damaged", 0), "damaged_ids": a.get("damaged_ids", []),
        "source_sha256": a.get("source_sha256"), "cache_sha256": a.get("cache_sha256"),
        "date_text": i18n.text(a.get("date_text")),  # a date in words ("about 2013") in the run's language
        "source_text": source_and_date(a)[0]}  # the copy's source in the run's language


def _versions() -> dict[str, str]:
    names = ("industripark-screening", "geopandas", "shapely", "pyogrio", "pyproj", "rasterio", "numpy",
             "pandas", "networkx", "highspy", "folium", "pydantic")
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


flat_for_files = _flat_for_files

"""The main job: load -> exclude -> score -> select -> write a new run folder (and the report).

`screen` is the one function behind ``industripark screen`` and ``make screen``; the preview and the
notebook call it (or its steps) too, so no step's logic is written twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd

from screening import (
    _nature_layers,
    _run_folder,
    _selection_backtest,
    exclusion,
    scoring,
    selection,
    sensitivity,
    submissions,
)
from screening import catalog as catalog_mod
from screening._json import write_json
from screening._run_files import explanations, read_breakdown, write_run, write_selection
from screening._run_files import manifest as _manifest
from screening._run_folder import RunFolder, is_partial, require_complete, run_folder
from screening.config import Catalog, Criteria, Settings, config_hash
from screening.errors import ScreeningError
from screening.i18n import fmt_number
from screening.i18n import gettext as _

__all__ = ["RunResult", "CONTEXT_LAYERS", "screen", "assess", "better_land_notes", "new_run_dir", "write_run",
           "run_folder", "RunFolder", "is_partial", "require_complete", "write_outputs",
           "explanations", "point_latest",
           "summary_text", "read_breakdown", "write_selection"]

log = logging.getLogger(__name__)

CONTEXT_LAYERS = ("regioner", "kommuner", "natura2000_fuglebeskyttelse", "natura2000_omraader_simplified",
                  "natura2000_habitat", "naturnationalparker", "nationalparker",
                  "hv_lines", "hv_substations", "rail_stations", "ports", "airports", "towns", "roads",
                  "motorway_junctions", "education")
"""Layers drawn on the map for context, besides those the rules use (roads, exits and institutions also
give the card site maps their routes and catchments)."""

MAX_APPLICATIONS = 250
"""Most applications one screening takes (``industripark screen --max-applications`` changes it).

The 2025 round had about 31. The report writes a card per application: measured on the 2-core test machine
under load, about 0.9 s a card and 270 s for the rest of a 5,000-application file, so 5,000 applications
would write for over an hour; 250 stay within a few minutes. A larger file is refused at once."""

TOO_MANY = ("{n} applications in {files}: a screening takes at most {limit}, because the report writes a card "
            "per application (about a second each) and the run would take too long. Split the submissions over "
            "several screenings, or raise the limit with --max-applications N if the time is acceptable.")

CANDIDATE_COLUMNS = (
    "application_id", "site_name", "kommunekode", "kommunenavn", "regionskode", "regionsnavn",
    "co_applicant_kommunekoder", "area_ha", "net_area_ha", "excluded", "exclusion_reasons", "flags",
    "incomplete", "score_total", "score_infrastructure", "score_transport", "score_labour",
    "score_commitment", "bonus_points", "not_assessed", "flagged", "rank", "rank_min", "rank_max",
    "top_k_probability", "selected", "selection_reason", "proposal_rank",
)


@dataclass(frozen=True)
class RunResult:
    """What a screening produced: the candidate table (EPSG:25832) and the pieces behind it."""

    candidates: gpd.GeoDataFrame
    exclusion: exclusion.ExclusionResult
    scores: scoring.ScoreResult
    selection: selection.SelectionResult | None
    layers: catalog_mod.LayerSet
    manifest: dict
    run_dir: Path | None = None
    outputs: dict[str, Path] = field(default_factory=dict)


def screen(inputs: Sequence[str | Path], *, settings: Settings, catalog: Catalog, criteria: Criteria,
           out_root: Path | None, allow_missing: Iterable[str] = (), allow_damaged: Iterable[str] = (),
           repair: bool = False, report: bool = True, select: bool = True, surface_dir: Path | None = None,
           max_applications: int | None = MAX_APPLICATIONS) -> RunResult:
    """Screen submission files end to end and, when `out_root` is given, write a new run folder in it.

    Parameters
    ----------
    inputs
        Submission files (GeoJSON, GeoPackage, zipped Shapefile, GeoParquet); never modified.
    out_root
        Folder under which ``<timestamp>/`` is created, with a ``latest`` link to it; None writes nothing.
        It is checked first (created, written to, enough free space: `run_folder`), and the run folder
        appears there only once complete.
    allow_missing
        Exclusion layer ids the run may proceed without; every output then says it is incomplete.
    allow_damaged
        Score, flag or context layer ids that may load with unreadable features left out; every output
        (manifest ``damaged_layers``, terminal summary, report banner) then says so.
    surface_dir
        A folder written by ``industripark surface`` (``suitability.tif``, ``exclusion.tif``): adds the
        surface overlay to the map and a "better land within 10 km" note to each card.
    max_applications
        Refuse more applications than this (`MAX_APPLICATIONS`); None for no limit.

    Raises
    ------
    ScreeningError
        Among others (subclasses), when the files hold more than `max_applications` applications.
    """
    if out_root is not None:  # the output location is checked first: a bad --out fails before any work
        with run_folder(Path(out_root)) as folder:
            result = screen(inputs, settings=settings, catalog=catalog, criteria=criteria, out_root=None,
                            allow_missing=allow_missing, allow_damaged=allow_damaged, repair=repair,
                            select=select, surface_dir=surface_dir, max_applications=max_applications)
            outputs = write_outputs(folder.path, result, criteria=criteria, report=report,
                                    cache_dir=settings.cache_dir)
        outputs = {k: folder.final / p.relative_to(folder.path) for k, p in outputs.items()}
        return RunResult(**{**result.__dict__, "run_dir": folder.final, "outputs": outputs})
    timings: dict[str, float] = {}
    allow_missing = tuple(allow_missing)
    t0 = time.perf_counter()
    needed = ["kommuner", "regioner", *sorted(criteria.layer_ids()), *CONTEXT_LAYERS]
    layer_set = catalog_mod.load_layers(needed, catalog=catalog, settings=settings, allow_missing=allow_missing,
                                        allow_damaged=allow_damaged)
    timings["load_layers"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    candidates = submissions.load_submissions(inputs, kommuner=layer_set.layers["kommuner"], repair=repair)
    if max_applications is not None and len(candidates) > max_applications:
        files = ", ".join(Path(p).name for p in inputs)
        raise ScreeningError(TOO_MANY.format(n=len(candidates), files=files, limit=max_applications))
    timings["load_submissions"] = time.perf_counter() - t0

    if surface_dir is not None:
        surface_dir = _checked_surface(Path(surface_dir), config_hash(catalog, criteria))
    result = assess(candidates, layer_set, criteria, settings=settings, allow_missing=allow_missing,
                    timings=timings, select=select)
    if surface_dir is not None:
        t0 = time.perf_counter()
        notes = better_land_notes(result.candidates, Path(surface_dir))
        result = RunResult(**{**result.__dict__, "candidates": result.candidates.assign(better_land_nearby=notes)})
        timings["better_land"] = time.perf_counter() - t0
    manifest = _manifest(inputs, layer_set, catalog, criteria, settings, allow_missing, timings, result)
    manifest["surface"] = str(surface_dir) if surface_dir is not None else None
    return RunResult(**{**result.__dict__, "manifest": manifest})


def write_outputs(run_dir: Path, result: RunResult, *, criteria: Criteria, report: bool = True,
                  cache_dir: Path | None = None) -> dict[str, Path]:
    """Write a screening's data files and (with `report`) its report into `run_dir`; returns the paths.

    `run_dir` is the folder being written (``run_folder(...).path``); its name becomes the manifest's
    ``run_id``. The manifest is written last, with the report's timing. `cache_dir` (the layer cache) keeps
    the report's display products (`screening._display_cache`: map context GeoJSON, surface overlay PNG).
    """
    manifest = result.manifest
    manifest["run_id"] = Path(run_dir).name
    outputs = write_run(run_dir, result)
    if report:
        t0 = time.perf_counter()
        from screening import _display_cache
        from screening import report as report_mod

        context = {k: v for k, v in result.layers.layers.items() if k in CONTEXT_LAYERS}
        overlay = None
        if manifest.get("surface"):
            overlay = _display_cache.overlay_png(Path(manifest["surface"]), run_dir / "surface_overlay.png",
                                                 max_px=1600, cache_dir=cache_dir)
        outputs.update(report_mod.write_report(
            run_dir, result.candidates, result.scores.breakdown, result.exclusion.overlaps,
            result.selection.to_dict() if result.selection else {}, manifest,
            context=context, criteria=criteria, surface_overlay=overlay, cache_dir=cache_dir))
        manifest["timings_s"]["report"] = round(time.perf_counter() - t0, 3)
        write_json(run_dir / "manifest.json", manifest)
    return outputs


def assess(candidates: gpd.GeoDataFrame, layer_set: catalog_mod.LayerSet, criteria: Criteria, *,
           settings: Settings, allow_missing: Iterable[str] = (), timings: dict | None = None,
           select: bool = True, excluded: exclusion.ExclusionResult | None = None,
           measured: scoring.Measurements | None = None,
           prepared: Mapping[str, gpd.GeoDataFrame] | None = None,
           scored: scoring.ScoreResult | None = None) -> RunResult:
    """Exclude, score, rank and (optionally) select already loaded candidates; writes nothing.

    `prepared`: the prepared exclusion coverages (`exclusion.prepared_layers`) when the caller holds them
    (the preview server loads them once); None reads them from the cache.

    `excluded` and `measured` (an earlier `exclusion.evaluate` and `scoring.measure` of the same
    candidates) are used instead of computing them again: the policy scenarios (`screening.scenarios`)
    share one exclusion and one measurement and rescore under each scenario's `criteria`; `scored`, the
    scores of the same candidates under criteria that score the same way, skips even the rescoring (a
    scenario that changes only the selection rules).
    """
    timings = {} if timings is None else timings
    layers = layer_set.layers
    t0 = time.perf_counter()
    if excluded is None:
        if prepared is None:
            prepared = exclusion.prepared_layers(layers, criteria.exclusions, cache_dir=settings.cache_dir)
        excl = exclusion.evaluate(candidates, layers, criteria.exclusions, allow_missing=allow_missing,
                                  prepared=prepared)
    else:
        excl = excluded
    timings["exclusion"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if scored is not None:
        pass
    elif measured is None:
        scored = scoring.score(candidates, layers, criteria, catalog_meta={
            lid: {"missing": catalog_mod.short_reason(reason)} for lid, reason in layer_set.missing.items()})
    else:
        scored = scoring.score_measured(measured, criteria)
    timings["scoring"] = time.perf_counter() - t0

    table = candidates.set_index("application_id", drop=False)
    table = table.join(excl.summary).join(scored.scores)
    t0 = time.perf_counter()
    group_cols = [f"score_{g.id}" for g in criteria.groups]
    ranks = sensitivity.rank_sensitivity(
        table[group_cols].rename(columns=lambda c: c.removeprefix("score_")),
        {g.id: g.weight for g in criteria.groups}, criteria.sensitivity, eligible=~table["excluded"],
        bonus=table["bonus_points"])
    table = table.join(ranks)
    timings["sensitivity"] = time.perf_counter() - t0

    sel = None
    if select:
        t0 = time.perf_counter()
        sel = selection.select(table.reset_index(drop=True), criteria.selection, breakdown=scored.breakdown,
                               towns=layers.get("towns"))
        table = selection.apply_selection(table.reset_index(drop=True), sel).set_index(
            "application_id", drop=False)
        timings["selection"] = time.perf_counter() - t0
    table = gpd.GeoDataFrame(table.reset_index(drop=True), geometry=candidates.geometry.name,
                             crs=candidates.crs)
    table = table[[c for c in CANDIDATE_COLUMNS if c in table.columns] +
                  [c for c in table.columns if c not in CANDIDATE_COLUMNS]]
    return RunResult(candidates=table, exclusion=excl, scores=scored, selection=sel, layers=layer_set,
                     manifest={})


def better_land_notes(candidates: gpd.GeoDataFrame, surface_dir: Path, *, radius_m: float = 10_000.0
                      ) -> pd.Series:
    """Per application, a sentence on the best free land of at least its size within `radius_m` on the
    national surface (`screening.surface.better_land_nearby`), or that there is none."""
    from screening import surface

    notes = {}
    for row in candidates.itertuples(index=False):  # one search per application (tens), each vectorised
        found = surface.better_land_nearby(row.geometry, surface_dir, radius_m=radius_m, min_area_ha=row.area_ha)
        if found is None:
            notes[row.application_id] = _("No free land of %(area)s ha or more within %(km)s km scores better on "
                                          "the national surface.", area=fmt_number(row.area_ha),
                                          km=fmt_number(radius_m / 1000))
            continue
        lon, lat = found["centroid_lonlat"]
        notes[row.application_id] = _(
            "Free land of %(area)s ha %(where)s (around %(lat)s N, %(lon)s E) scores %(score)s on the national "
            "surface against %(site_score)s for this site (+%(gain)s points; the surface assesses only the "
            "map-based criteria, not the submission's own statements).", area=fmt_number(found["area_ha"]),
            where=_where_better_land(row.geometry, found), lat=fmt_number(lat, 4), lon=fmt_number(lon, 4),
            score=fmt_number(found["score_mean"], 1), site_score=fmt_number(found["site_score_mean"], 1),
            gain=fmt_number(found["gain_points"], 1))
    return candidates["application_id"].map(notes)


def _where_better_land(site, found: dict) -> str:
    """Where better land lies from the site: overlapping it (its square covers part of the site's edge
    cells), adjoining it (within 50 m, which would read "0.0 km away"), or the distance in km."""
    import shapely

    if shapely.area(shapely.intersection(site, shapely.box(*found["bounds"]))) > 0:
        return _("overlapping this site")
    if found["distance_m"] < 50:
        return _("adjoining this site")
    return _("%(km)s km away", km=fmt_number(found["distance_m"] / 1000, 1))


def _checked_surface(surface_dir: Path, expected_hash: str) -> Path:
    """Resolve a surface folder and refuse one made under another configuration (its COG tag
    ``config_hash`` must equal this run's), so a map or card never shows a stale surface; an unfinished
    surface folder (`require_complete`) is refused too."""
    import rasterio
    from rasterio.errors import RasterioIOError

    path = require_complete(surface_dir, "surface folder") / "suitability.tif"
    try:
        with rasterio.open(path) as ds:
            made_with = ds.tags().get("config_hash", "")
    except RasterioIOError as exc:
        msg = f"{path}: cannot read the suitability surface ({exc}); run 'industripark surface' (or make surface)"
        raise ScreeningError(msg) from None
    if made_with != expected_hash:
        msg = (f"{path}: the surface was made with configuration {made_with or '(none)'}, this run uses "
               f"{expected_hash} (layers/*.yaml changed since); rebuild it with 'industripark surface' "
               "(make surface) or run without --surface")
        raise ScreeningError(msg)
    return surface_dir.resolve()


def new_run_dir(out_root: Path) -> Path:
    """Create and return a fresh ``<out_root>/<UTC timestamp>/`` folder (suffixed if it exists).

    Prefer `run_folder`: a folder made here looks like a finished run while it is being written.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_root = Path(out_root)
    for n in range(100):
        run_dir = out_root / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            run_dir.mkdir(parents=True, exist_ok=False)
            return run_dir
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a new run folder under {out_root}")


def summary_text(result: RunResult, *, limit: int = 40) -> str:
    """A short ranked summary for the terminal: status, score and region of each application (in the
    current language)."""
    cand = result.candidates
    lines = []
    if result.manifest.get("incomplete"):
        lines.append(_("INCOMPLETE SCREENING - %(text)s", text=result.manifest["incomplete_text"]))
    if result.manifest.get("provisional_layers"):
        lines.append(_("PROVISIONAL DATA - %(text)s", text="; ".join(
            b["text"] for b in _nature_layers.provisional_banners(result.manifest))))
    for lid, note in (result.manifest.get("damaged_layers") or {}).items():  # a handful of layers at most
        lines.append(_("DAMAGED LAYER ALLOWED - %(layer)s: %(note)s", layer=lid, note=note))
    order = cand.assign(_excl=cand["excluded"].astype(bool)).sort_values(
        ["_excl", "score_total"], ascending=[True, False])
    words = {"excluded": _("excluded"), "proposed": _("PROPOSED"), "eligible": _("eligible")}
    width = max(9, *(len(w) for w in words.values()))
    head = {"rank": _("rank"), "application": _("application"), "status": _("status"), "score": _("score"),
            "region": _("region"), "site": _("site")}
    lines.append(f"{head['rank']:>4}  {head['application']:<12} {head['status']:<{width}} {head['score']:>5}  "
                 f"{head['region']:<20} {head['site']}")
    for row in order.head(limit).itertuples(index=False):  # a ranked table of tens of applications
        status = words["excluded" if row.excluded else ("proposed" if getattr(row, "selected", False)
                                                         else "eligible")]
        rank = "" if row.excluded or pd.isna(row.rank) else f"{int(row.rank)}"
        lines.append(f"{rank:>4}  {row.application_id:<12} {status:<{width}} {fmt_number(row.score_total, 1):>5}  "
                     f"{str(row.regionsnavn).removeprefix('Region '):<20} {str(row.site_name)[:50]}")
    sel = result.selection
    if sel is not None:
        lines.append("\n" + sel.summary_text().splitlines()[0])
        if sel.status == "infeasible":
            lines += sel.summary_text().splitlines()[1:]
        if sel.backtest:
            lines.append(_("Back-test: %(text)s (%(caveat)s)", text=sel.backtest["text"],
                           caveat=_(_selection_backtest.SHORT_CAVEAT)))
        lines.append(_("Why each was chosen or not, alternatives: selection.json and index.html of the run"))
    return "\n".join(lines)


def point_latest(out_root: Path, run_dir: Path) -> None:
    """Point ``<out_root>/latest`` at `run_dir` (`screening._run_folder.point_latest`)."""
    _run_folder.point_latest(Path(out_root), Path(run_dir))

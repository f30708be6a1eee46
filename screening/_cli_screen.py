"""``industripark submissions check``, ``screen``, ``select`` and ``surface``: the analyst's run commands."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import click

from screening import catalog as catalog_mod
from screening import i18n
from screening._cli_common import (
    allow_damaged_opt,
    context,
    handle_errors,
    lang_option,
    layer_options,
    mirror_opt,
    offline_opt,
    repair_opt,
)
from screening._json import write_json

__all__ = ["submissions_group", "screen", "select_cmd", "surface"]

@click.group("submissions")
def submissions_group() -> None:
    """Submission files: check them against docs/SUBMISSION_SCHEMA.md."""


@submissions_group.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@repair_opt
@mirror_opt
@offline_opt
@lang_option
@handle_errors
def submissions_check(files, repair, mirror, offline) -> None:
    """Validate submission files; print a summary per application, or every problem (exit 2)."""
    from screening import submissions as submissions_mod

    settings, catalog, _ = context(mirror, offline)
    kommuner = catalog_mod.load_layer("kommuner", catalog=catalog, settings=settings)
    gdf = submissions_mod.load_submissions(files, kommuner=kommuner, repair=repair)
    click.echo(submissions_mod.summary_text(gdf, with_warnings=False))


# --------------------------------------------------------------------------- screen


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_root", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Folder in which a new <timestamp>/ run folder is created.")
@layer_options
@allow_damaged_opt
@repair_opt
@click.option("--no-report", is_flag=True, help="Write the data files only, no HTML report.")
@click.option("--max-applications", type=click.IntRange(min=1), default=None,
              help="Refuse more applications than this in one screening (default 250, pipeline.MAX_APPLICATIONS: "
                   "each gets a report card).")
@click.option("--surface", "surface_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="A folder from 'industripark surface': map overlay and better-land notes.")
@lang_option
@handle_errors
def screen(inputs, out_root, allow_missing, allow_damaged, mirror, offline, repair, no_report, max_applications,
           surface_dir) -> None:
    """Screen submission files: exclude, score, rank, select and report into a new run folder."""
    from screening import pipeline

    settings, catalog, criteria = context(mirror, offline)
    t0 = time.perf_counter()
    result = pipeline.screen(inputs, settings=settings, catalog=catalog, criteria=criteria, out_root=out_root,
                             allow_missing=allow_missing, allow_damaged=allow_damaged, repair=repair,
                             report=not no_report, max_applications=max_applications or pipeline.MAX_APPLICATIONS,
                             surface_dir=surface_dir)
    click.echo(pipeline.summary_text(result))
    click.echo("\n" + i18n.gettext("Run folder: %(folder)s  (%(seconds)s s)", folder=result.run_dir,
                                    seconds=i18n.fmt_number(time.perf_counter() - t0, 1)))
    if result.selection is not None and result.selection.status == "infeasible":
        sys.exit(3)


# --------------------------------------------------------------------------- select


@click.command("select")
@click.argument("screening_gpkg", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for selection.json and candidates_selected.gpkg (created; must not hold them yet).")
@click.option("--k-min", type=int, default=None, help="Fewest parks (default from criteria.yaml).")
@click.option("--k-max", type=int, default=None, help="Most parks (default from criteria.yaml).")
@click.option("--spacing-km", type=float, default=None, help="Minimum distance between chosen parks, km.")
@click.option("--time-limit-s", type=float, default=None, help="Solver time limit, seconds.")
@click.option("--mode", type=click.Choice(["score", "dispersion"]), default="score", show_default=True,
              help="score: maximise total score; dispersion: maximise the minimum distance between parks.")
@lang_option
@handle_errors
def select_cmd(screening_gpkg, out_dir, k_min, k_max, spacing_km, time_limit_s, mode) -> None:
    """Propose parks from a screening (SCREENING_GPKG, layer 'candidates') under the spread rules."""
    import geopandas as gpd

    from screening import pipeline, selection

    settings, catalog, criteria = context()
    candidates = gpd.read_file(screening_gpkg, layer="candidates", engine="pyogrio")
    breakdown = pipeline.read_breakdown(screening_gpkg.parent)
    rules = selection.rules_with(criteria.selection, k_min=k_min, k_max=k_max, spacing_km=spacing_km,
                                 time_limit_s=time_limit_s)
    towns = catalog_mod.load_layer("towns", catalog=catalog, settings=settings) if rules.min_outside_urban else None
    result = selection.select(candidates, rules, breakdown=breakdown, towns=towns, mode=mode)
    paths = pipeline.write_selection(out_dir, candidates, result)
    click.echo(result.summary_text())
    click.echo("\n" + i18n.gettext("Wrote %(files)s", files=", ".join(str(p) for p in paths.values())))
    if result.status == "infeasible":
        sys.exit(3)


# --------------------------------------------------------------------------- surface


@click.command()
@click.option("--res-m", type=float, default=None, help="Cell size in metres (default: surface.res_m, 100).")
@click.option("--out", "out_root", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/surface"), show_default=True,
              help="A new <out>/<timestamp>/ folder receives the COGs; <out>/latest points to it.")
@click.option("--block-size", type=int, default=None, help="Tile edge in cells (default: surface.block_size).")
@click.option("--dask", "use_dask", is_flag=True, help="Tiles as dask.delayed tasks on dask's local scheduler.")
@click.option("--criterion-bands", is_flag=True, help="Also write criteria/<id>.tif (each criterion's 0-1 score).")
@layer_options
@lang_option
@handle_errors
def surface(res_m, out_root, block_size, use_dask, criterion_bands, allow_missing, mirror, offline) -> None:
    """Write the national suitability surface (COGs, EPSG:25832): same rules, bands and weights as screen."""
    from screening import pipeline
    from screening import surface as surface_mod

    settings, catalog, criteria = context(mirror, offline)
    with pipeline.run_folder(out_root) as folder:  # appears under --out, and as latest, only when complete
        result = surface_mod.surface_from_catalog(
            settings=settings, catalog=catalog, criteria=criteria, out_dir=folder.path, res_m=res_m,
            allow_missing=allow_missing, block_size=block_size, scheduler="dask" if use_dask else "single",
            criterion_bands=criterion_bands)
        result = replace(result, out_dir=folder.final,
                         paths={k: folder.final / Path(p).relative_to(folder.path) for k, p in result.paths.items()})
        write_json(folder.path / "surface.json", result.to_dict())  # its paths as they will be
    click.echo(surface_mod.summary_text(result))



"""The ``industripark`` command line: a thin click shell over the library, in the style of rasterio's ``rio``.

Each command parses its options, loads the configuration, calls library functions and writes outputs.
Any `ScreeningError` becomes one clear message on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from pathlib import Path

import click

from screening import catalog as catalog_mod
from screening.config import load_catalog, load_criteria, settings_from_env
from screening.errors import ScreeningError

__all__ = ["main"]

log = logging.getLogger(__name__)

allow_missing_opt = click.option(
    "--allow-missing", "allow_missing", multiple=True, metavar="LAYER_ID",
    help="Continue without this exclusion layer; every output then says 'incomplete: LAYER_ID missing'.")
mirror_opt = click.option("--mirror", type=click.Path(file_okay=False, path_type=Path), default=None,
                          help="Mirror root of offline layers (default $INDUSTRIPARK_MIRROR or ../shared/dk-layers).")
offline_opt = click.option("--offline", is_flag=True, help="Never try the official online sources.")
repair_opt = click.option("--repair", is_flag=True,
                          help="Repair invalid submission geometries (make_valid) and report the area change.")


def layer_options(func):
    """--allow-missing, --mirror and --offline: where a command's layers come from (declared once)."""
    return allow_missing_opt(mirror_opt(offline_opt(func)))


def handle_errors(func):
    """Turn `ScreeningError` into a message on stderr and its exit code (2 for bad submissions)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ScreeningError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def _context(mirror: Path | None = None, offline: bool = False):
    overrides = {}
    if mirror is not None:
        overrides["mirror_root"] = mirror
    if offline:
        overrides["online"] = False
    settings = settings_from_env(**overrides)
    catalog = load_catalog(settings=settings)
    criteria = load_criteria(settings=settings, catalog=catalog)
    return settings, catalog, criteria


@click.group()
@click.option("-v", "--verbose", count=True, help="More log output (repeat for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(package_name="industripark-screening")
def main(verbose: int, quiet: bool) -> None:
    """Screen municipal submissions for state-designated industriparker (EPSG:25832 throughout)."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


# --------------------------------------------------------------------------- layers


@main.group()
def layers() -> None:
    """The layer catalog: where each layer comes from and where it resolves here."""


@layers.command("list")
@mirror_opt
@offline_opt
@click.option("--probe", is_flag=True, help="Check that official sources answer (3 s timeout each).")
@handle_errors
def layers_list(mirror: Path | None, offline: bool, probe: bool) -> None:
    """List every catalog layer: role, where it resolves (cache/mirror/online/missing), features, licence.

    'online?' means only the official source could provide it and it has not been fetched yet;
    --probe asks each such source whether it answers from this machine.
    """
    settings, catalog, _ = _context(mirror, offline)
    rows = []
    for spec in catalog.layers:
        res = catalog_mod.resolve(spec.id, catalog=catalog, settings=settings)
        if res.origin == "online":
            res = catalog_mod.probe(res) if probe else catalog_mod.Resolution(spec.id, "online?", res.location)
        count = catalog_mod.feature_count(res)
        licence = spec.mirror_source.rsplit(", ", 1)[-1] if res.origin in ("mirror", "cache") and spec.mirror_source \
            else spec.source.licence
        date = spec.mirror_date or ""
        rows.append((spec.id, spec.role, res.origin, "" if count is None else f"{count:,}", licence[:38], date))
    header = ("id", "role", "resolves", "features", "licence", "date")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    missing = [r[0] for r in rows if r[2] == "missing"]
    if missing:
        click.echo(f"\n{len(missing)} layer(s) resolve nowhere on this machine: {', '.join(missing)}", err=True)


@layers.command("fetch")
@click.argument("layer_ids", nargs=-1)
@mirror_opt
@offline_opt
@handle_errors
def layers_fetch(layer_ids: tuple[str, ...], mirror: Path | None, offline: bool) -> None:
    """Load layers into the local cache (all when no id is given), then prepare the exclusion layers."""
    from screening import exclusion

    settings, catalog, criteria = _context(mirror, offline)
    ids = layer_ids or catalog.ids
    failed, loaded = [], {}
    for layer_id in ids:
        t0 = time.perf_counter()
        try:
            loaded[layer_id] = gdf = catalog_mod.load_layer(layer_id, catalog=catalog, settings=settings)
        except ScreeningError as exc:
            failed.append(layer_id)
            click.echo(f"{layer_id}: unavailable - {exc}", err=True)
            continue
        click.echo(f"{layer_id}: {len(gdf):,} features from {gdf.attrs['origin']} "
                   f"({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    prepared = exclusion.prepared_layers(loaded, criteria.exclusions, cache_dir=settings.cache_dir, build=True)
    for rule_id, cover in prepared.items():
        click.echo(f"prepared exclusion layer for rule {rule_id}: {len(cover):,} non-overlapping pieces")
    click.echo(f"preparing exclusion layers took {time.perf_counter() - t0:.1f} s (one-off per data version)")
    if failed:
        click.echo(f"{len(failed)} layer(s) could not be fetched: {', '.join(failed)}", err=True)
        sys.exit(1)


@layers.command("sources")
@click.option("--readme", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Rewrite the table between the sources markers of this README instead of printing it.")
@handle_errors
def layers_sources(readme: Path | None) -> None:
    """Print the data-sources table (Markdown) generated from layers/catalog.yaml, as in the README."""
    _, catalog, _ = _context()
    if readme is None:
        click.echo(catalog_mod.sources_markdown(catalog))
    else:
        changed = catalog_mod.update_readme_sources(readme, catalog)
        click.echo(f"{readme}: {'updated' if changed else 'already up to date'}")


# --------------------------------------------------------------------------- submissions


@main.group("submissions")
def submissions_group() -> None:
    """Submission files: check them against docs/SUBMISSION_SCHEMA.md."""


@submissions_group.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@repair_opt
@mirror_opt
@offline_opt
@handle_errors
def submissions_check(files, repair, mirror, offline) -> None:
    """Validate submission files; print a summary per application, or every problem (exit 2)."""
    from screening import submissions as submissions_mod

    settings, catalog, _ = _context(mirror, offline)
    kommuner = catalog_mod.load_layer("kommuner", catalog=catalog, settings=settings)
    gdf = submissions_mod.load_submissions(files, kommuner=kommuner, repair=repair)
    click.echo(submissions_mod.summary_text(gdf, with_warnings=False))


# --------------------------------------------------------------------------- screen


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_root", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Folder in which a new <timestamp>/ run folder is created.")
@layer_options
@repair_opt
@click.option("--no-report", is_flag=True, help="Write the data files only, no HTML report.")
@click.option("--surface", "surface_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="A folder from 'industripark surface': map overlay and better-land notes.")
@handle_errors
def screen(inputs, out_root, allow_missing, mirror, offline, repair, no_report, surface_dir) -> None:
    """Screen submission files: exclude, score, rank, select and report into a new run folder."""
    from screening import pipeline

    settings, catalog, criteria = _context(mirror, offline)
    t0 = time.perf_counter()
    result = pipeline.screen(inputs, settings=settings, catalog=catalog, criteria=criteria, out_root=out_root,
                             allow_missing=allow_missing, repair=repair, report=not no_report,
                             surface_dir=surface_dir)
    click.echo(pipeline.summary_text(result))
    click.echo(f"\nRun folder: {result.run_dir}  ({time.perf_counter() - t0:.1f} s)")
    if result.selection is not None and result.selection.status == "infeasible":
        sys.exit(3)


# --------------------------------------------------------------------------- select


@main.command("select")
@click.argument("screening_gpkg", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for selection.json and candidates_selected.gpkg (created; must not hold them yet).")
@click.option("--k-min", type=int, default=None, help="Fewest parks (default from criteria.yaml).")
@click.option("--k-max", type=int, default=None, help="Most parks (default from criteria.yaml).")
@click.option("--spacing-km", type=float, default=None, help="Minimum distance between chosen parks, km.")
@click.option("--time-limit-s", type=float, default=None, help="Solver time limit, seconds.")
@click.option("--mode", type=click.Choice(["score", "dispersion"]), default="score", show_default=True,
              help="score: maximise total score; dispersion: maximise the minimum distance between parks.")
@handle_errors
def select_cmd(screening_gpkg, out_dir, k_min, k_max, spacing_km, time_limit_s, mode) -> None:
    """Propose parks from a screening (SCREENING_GPKG, layer 'candidates') under the spread rules."""
    import geopandas as gpd

    from screening import pipeline, selection

    settings, catalog, criteria = _context()
    candidates = gpd.read_file(screening_gpkg, layer="candidates", engine="pyogrio")
    breakdown = pipeline.read_breakdown(screening_gpkg.parent)
    rules = selection.rules_with(criteria.selection, k_min=k_min, k_max=k_max, spacing_km=spacing_km,
                                 time_limit_s=time_limit_s)
    towns = catalog_mod.load_layer("towns", catalog=catalog, settings=settings) if rules.min_outside_urban else None
    result = selection.select(candidates, rules, breakdown=breakdown, towns=towns, mode=mode)
    paths = pipeline.write_selection(out_dir, candidates, result)
    click.echo(result.summary_text())
    click.echo(f"\nWrote {', '.join(str(p) for p in paths.values())}")
    if result.status == "infeasible":
        sys.exit(3)


# --------------------------------------------------------------------------- surface


@main.command()
@click.option("--res-m", type=float, default=None, help="Cell size in metres (default: surface.res_m, 100).")
@click.option("--out", "out_root", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/surface"), show_default=True,
              help="A new <out>/<timestamp>/ folder receives the COGs; <out>/latest points to it.")
@click.option("--block-size", type=int, default=None, help="Tile edge in cells (default: surface.block_size).")
@click.option("--dask", "use_dask", is_flag=True, help="Tiles as dask.delayed tasks on dask's local scheduler.")
@click.option("--criterion-bands", is_flag=True, help="Also write criteria/<id>.tif (each criterion's 0-1 score).")
@layer_options
@handle_errors
def surface(res_m, out_root, block_size, use_dask, criterion_bands, allow_missing, mirror, offline) -> None:
    """Write the national suitability surface (COGs, EPSG:25832): same rules, bands and weights as screen."""
    from screening import pipeline
    from screening import surface as surface_mod

    settings, catalog, criteria = _context(mirror, offline)
    out_dir = pipeline.new_run_dir(out_root)
    try:
        result = surface_mod.surface_from_catalog(
            settings=settings, catalog=catalog, criteria=criteria, out_dir=out_dir, res_m=res_m,
            allow_missing=allow_missing, block_size=block_size, scheduler="dask" if use_dask else "single",
            criterion_bands=criterion_bands)
    except ScreeningError:
        if not any(out_dir.iterdir()):
            out_dir.rmdir()  # leave no empty run folder behind
        raise
    pipeline.point_latest(out_root, out_dir)
    click.echo(surface_mod.summary_text(result))


# --------------------------------------------------------------------------- preview and serve


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--reference", "reference_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Screening run folder to rank against (default: reports/latest, else the "
                                 "mirror's approximate 2025 applications, screened now).")
@click.option("--out", "out_root", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="The score card goes to a new <out>/previews/<timestamp>/ folder.")
@layer_options
@repair_opt
@handle_errors
def preview(file, reference_dir, out_root, allow_missing, mirror, offline, repair) -> None:
    """Preview a draft submission: eligibility, scores, rank among the reference and what would raise it."""
    from screening import pipeline, preview_card
    from screening import preview as preview_mod

    settings, catalog, criteria = _context(mirror, offline)
    ctx = preview_mod.preview_context(catalog=catalog, criteria=criteria, settings=settings,
                                      reference_dir=reference_dir, reports_root=out_root,
                                      allow_missing=allow_missing)
    result = preview_mod.preview([file], layer_set=ctx.layer_set, criteria=criteria, settings=settings,
                                 reference=ctx.reference, repair=repair)
    click.echo(preview_mod.render_text(preview_mod.to_dict(result)))
    folder = pipeline.new_run_dir(out_root / "previews")
    cards = preview_card.write_card(result, folder, layer_set=ctx.layer_set, criteria=criteria)
    click.echo("\nScore card(s): " + ", ".join(str(p) for p in cards.values()))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; keep 127.0.0.1 for local use.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--reference", "reference_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Screening run folder to rank against (default as for 'preview').")
@click.option("--max-upload-mb", default=20.0, show_default=True, type=float)
@layer_options
@handle_errors
def serve(host, port, reference_dir, max_upload_mb, allow_missing, mirror, offline) -> None:
    """Serve the preview web page (upload form, result page, JSON API) on http://HOST:PORT/."""
    from screening import preview as preview_mod
    from screening import serve as serve_mod

    settings, catalog, criteria = _context(mirror, offline)
    ctx = preview_mod.preview_context(catalog=catalog, criteria=criteria, settings=settings,
                                      reference_dir=reference_dir, allow_missing=allow_missing)
    app = serve_mod.create_app(layer_set=ctx.layer_set, criteria=criteria, settings=settings,
                               reference=ctx.reference, max_upload_mb=max_upload_mb)
    serve_mod.serve(app, host=host, port=port)


if __name__ == "__main__":
    main()

"""``industripark overview``: build the national overview map (a static site) and optionally preview it."""

from __future__ import annotations

from pathlib import Path

import click

from screening._cli_common import context, handle_errors, lang_option, layer_options
from screening.i18n import gettext as _

__all__ = ["overview"]


@click.command()
@click.option("--out", "out_root", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/overview"), show_default=True,
              help="A new <out>/<timestamp>/ folder receives the site; <out>/latest points to it.")
@click.option("--surface", "surface_root", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/surface"), show_default=True,
              help="Surface folder (or root with latest/); built with criterion bands when absent or stale.")
@click.option("--no-surface-build", is_flag=True, help="Never build the surface: list it as missing instead.")
@click.option("--run", "run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Screening run folder to draw (default: reports/latest when it exists).")
@click.option("--engine", type=click.Choice(["freestiler", "gdal"]), default="freestiler", show_default=True,
              help="Vector tiler (docs/OVERVIEW.md compares them).")
@click.option("--max-zoom", type=click.IntRange(4, 16), default=None,
              help="Cap every layer's tile zooms (a small, quick site for tests).")
@click.option("--serve", is_flag=True, help="After building (or with --no-build), serve the site on 127.0.0.1.")
@click.option("--no-build", is_flag=True, help="With --serve: serve <out>/latest as it is.")
@click.option("--port", type=int, default=8010, show_default=True, help="Port of --serve.")
@layer_options
@lang_option
@handle_errors
def overview(out_root, surface_root, no_surface_build, run_dir, engine, max_zoom, serve, no_build, port,
             allow_missing, mirror, offline) -> None:
    """Build the overview map: index.html with MapLibre, PMTiles of every layer, the surface as raster tiles.

    The page is written in Danish unless --lang en (or $INDUSTRIPARK_LANG=en) asks for English.
    """
    from screening import overview as overview_mod
    from screening import pipeline
    from screening._overview_config import load_overview_config

    site = (out_root / "latest").resolve()
    if not no_build:
        settings, catalog, criteria = context(mirror, offline)
        config = load_overview_config(settings.layers_dir / "overview.yaml", catalog_ids=catalog.ids)
        if max_zoom is not None:
            config = config.with_max_zoom(max_zoom)
        surface_dir, why = overview_mod.surface_or_build(surface_root, settings=settings, catalog=catalog,
                                                         criteria=criteria, allow_missing=allow_missing,
                                                         build=not no_surface_build)
        with pipeline.run_folder(out_root) as folder:  # appears under --out, and as latest, only when complete
            result = overview_mod.build_overview(
                folder.path, settings=settings, catalog=catalog, criteria=criteria, config=config,
                surface_dir=surface_dir, surface_missing=why,
                run_dir=overview_mod.resolve_run(run_dir, Path("reports")), engine=engine)
        site = folder.final
        click.echo(overview_mod.summary_text(result).replace(str(folder.path), str(site)))
    elif not (site / "index.html").exists():
        raise click.UsageError(_("%(site)s holds no built site; run 'industripark overview' without --no-build",
                                 site=site))
    if serve:
        url = f"http://127.0.0.1:{port}/"
        click.echo(_("Serving %(site)s on %(url)s (Ctrl+C stops)", site=site, url=url))
        import waitress  # the project's WSGI server (as `serve`): range requests, a thread pool, no dev server

        waitress.serve(overview_mod.make_app(site), host="127.0.0.1", port=port, threads=8,
                       ident="industripark-overview")

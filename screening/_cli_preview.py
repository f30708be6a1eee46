"""``industripark preview`` and ``serve``: a municipality's preview of a draft, on the terminal or the web."""

from __future__ import annotations

from pathlib import Path

import click

from screening import catalog as catalog_mod
from screening import i18n
from screening._cli_common import context, handle_errors, lang_option, layer_options, repair_opt

__all__ = ["preview", "serve"]

@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--reference", "reference_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Screening run folder to rank against (default: reports/latest, else the "
                                 "mirror's approximate 2025 applications, screened now).")
@click.option("--out", "out_root", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="The score card goes to a new <out>/previews/<timestamp>/ folder.")
@layer_options
@repair_opt
@lang_option
@handle_errors
def preview(file, reference_dir, out_root, allow_missing, mirror, offline, repair) -> None:
    """Preview a draft submission: eligibility, scores, rank among the reference and what would raise it."""
    from screening import _preview_guards, pipeline, preview_card
    from screening import preview as preview_mod

    _preview_guards.check_feature_count([file])  # a handful of areas: refused before any layer is loaded
    settings, catalog, criteria = context(mirror, offline)
    ctx = preview_mod.preview_context(catalog=catalog, criteria=criteria, settings=settings,
                                      reference_dir=reference_dir, reports_root=out_root,
                                      allow_missing=allow_missing)
    # as 'screen': a missing exclusion layer is an error unless this command allows it (H1, issue 11)
    layer_set = catalog_mod.require_allowed_missing(ctx.layer_set, catalog, allow_missing)
    with pipeline.run_folder(out_root / "previews", latest=False) as folder:  # appears only when complete
        result = preview_mod.preview([file], layer_set=layer_set, criteria=criteria, settings=settings,
                                     reference=ctx.reference, repair=repair, prepared=ctx.prepared)
        titles = {g.id: i18n.text(g.title).split(" (")[0] for g in criteria.groups}
        click.echo(preview_mod.render_text(preview_mod.to_dict(result), group_titles=titles))
        cards = preview_card.write_card(result, folder.path, layer_set=layer_set, criteria=criteria)
    paths = ", ".join(str(folder.final / p.relative_to(folder.path)) for p in cards.values())
    click.echo("\n" + i18n.ngettext("Score card: %(paths)s", "Score cards: %(paths)s", len(cards), paths=paths))


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; keep 127.0.0.1 for local use.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--reference", "reference_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Screening run folder to rank against (default as for 'preview').")
@click.option("--max-upload-mb", default=20.0, show_default=True, type=float)
@layer_options
@lang_option
@handle_errors
def serve(host, port, reference_dir, max_upload_mb, allow_missing, mirror, offline) -> None:
    """Serve the preview web page (upload form, result page, JSON API) on http://HOST:PORT/.

    Each page answers in the browser's language (?lang=da|en, else Accept-Language, Danish first); --lang is
    the language of requests that name neither."""
    from screening import preview as preview_mod
    from screening import serve as serve_mod

    settings, catalog, criteria = context(mirror, offline)
    ctx = preview_mod.preview_context(catalog=catalog, criteria=criteria, settings=settings,
                                      reference_dir=reference_dir, allow_missing=allow_missing)
    app = serve_mod.create_app(layer_set=ctx.layer_set, criteria=criteria, settings=settings,
                               reference=ctx.reference, prepared=ctx.prepared, max_upload_mb=max_upload_mb,
                               lang=i18n.current())
    serve_mod.serve(app, host=host, port=port)

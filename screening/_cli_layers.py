"""``industripark layers ...``: where each catalog layer comes from, fetching it, the sources table."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from screening import catalog as catalog_mod
from screening._cli_common import context, handle_errors, mirror_opt, offline_opt
from screening.errors import ScreeningError

__all__ = ["layers"]

@click.group()
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
    settings, catalog, _ = context(mirror, offline)
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

    settings, catalog, criteria = context(mirror, offline)
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
    _, catalog, _ = context()
    if readme is None:
        click.echo(catalog_mod.sources_markdown(catalog))
    else:
        changed = catalog_mod.update_readme_sources(readme, catalog)
        click.echo(f"{readme}: {'updated' if changed else 'already up to date'}")



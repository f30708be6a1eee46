"""``industripark layers ...``: where each catalog layer comes from, fetching it, checking the official
sources, importing an official file, the sources table."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from screening import catalog as catalog_mod
from screening._cli_common import context, handle_errors, mirror_opt, offline_opt
from screening.config import load_catalog, settings_from_env
from screening.errors import ScreeningError

__all__ = ["layers"]

MESSAGES = {
    "offline": ("Cannot check the official sources: offline (INDUSTRIPARK_OFFLINE is set or --offline was given). "
                "Nothing was checked; run 'industripark layers verify' on a connected machine."),
    "no_network": ("Cannot check the official sources: no network here (none of the {n} source hosts' names "
                   "resolve). Nothing was checked; run 'industripark layers verify' on a connected machine."),
    "problem": "{layer} ({source}): {problem}",
    "no_source": "Not checked (no official source known): {ids}",
    "failing": ("{n} exclusion layer(s) have no official source that passes every check: {ids}. Fix the catalog "
                "entry (typename, columns, fetch key) or screen with the mirror copy knowingly."),
    "all_ok": "{n} source(s) checked; every exclusion layer has a source that passes.",
    "imported": ("{layer}: imported {n:,} features from {file} ({n_in:,} in the file, CRS {crs}; {repaired:,} "
                 "repaired, {left_out:,} left out), sha256 {sha}. It now resolves as 'imported' in 'layers list' "
                 "and in every run's manifest."),
}
"""User-facing lines of the verify and import commands, in one place for translation."""

@click.group()
def layers() -> None:
    """The layer catalog: where each layer comes from and where it resolves here."""


@layers.command("list")
@mirror_opt
@offline_opt
@click.option("--probe", is_flag=True, help="Check that official sources answer (3 s timeout each).")
@handle_errors
def layers_list(mirror: Path | None, offline: bool, probe: bool) -> None:
    """List every catalog layer: role, where it resolves (imported/cache/mirror/online/missing), features, licence.

    'online?' means only the official source could provide it and it has not been fetched yet;
    --probe asks each such source whether it answers from this machine. The copy column marks a mirror copy
    that is provisional (unofficial or out of date: every output using it says so) or partial (complete only
    inside its coverage); an official fetch or import is neither.
    """
    settings, catalog, _ = context(mirror, offline)
    rows = []
    for spec in catalog.layers:
        res = catalog_mod.resolve(spec.id, catalog=catalog, settings=settings)
        if res.origin == "online":
            res = catalog_mod.probe(res) if probe else catalog_mod.Resolution(spec.id, "online?", res.location)
        count = catalog_mod.feature_count(res) if res.origin != "imported" else _imported(settings, spec.id)["features"]
        mirror_source = str(getattr(spec.mirror_source, "en", spec.mirror_source) or "")
        licence = mirror_source.rsplit(", ", 1)[-1] if res.origin in ("mirror", "cache") and mirror_source \
            else spec.source.licence
        imported = res.origin == "imported"
        date = _imported(settings, spec.id)["imported_at"][:10] if imported else str(spec.mirror_date or "")
        rows.append((spec.id, spec.role, res.origin, "" if count is None else f"{count:,}", licence[:38], date,
                     _copy_note(spec, res)))
    _echo_table([("id", "role", "resolves", "features", "licence", "date", "copy"), *rows])
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
        proof = (f", {gdf.attrs['fetch_strategy']}, numberMatched {gdf.attrs['number_matched']:,}"
                 if gdf.attrs.get("number_matched") is not None else "")
        click.echo(f"{layer_id}: {len(gdf):,} features from {gdf.attrs['origin']}{proof} "
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


@layers.command("verify")
@click.argument("layer_ids", nargs=-1)
@offline_opt
@click.option("--timeout", "timeout_s", type=float, default=30.0, show_default=True,
              help="Seconds to wait for each answer.")
@handle_errors
def layers_verify(layer_ids: tuple[str, ...], offline: bool, timeout_s: float) -> None:
    """Check the official sources from this machine (all layers, or the ids given).

    For each source: it answers, GetCapabilities lists the typename, EPSG:25832 is offered, the columns
    the catalog maps (and the fetch key) exist, and the service counts the features. Exits 1 when an
    exclusion layer has no source that passes; offline it says it cannot check and exits 0.
    """
    from screening import _verify

    settings = settings_from_env(**({"online": False} if offline else {}))
    catalog = load_catalog(settings=settings)
    for layer_id in layer_ids:
        catalog.get(layer_id)  # an unknown id is a ConfigError listing the known ones
    specs = [s for s in catalog.layers if not layer_ids or s.id in layer_ids]
    if not settings.online:
        click.echo(MESSAGES["offline"])
        return
    if not _verify.network_available(catalog, layer_ids=layer_ids or None):
        hosts = {src.url.split("/")[2] for s in specs for src in (s.source, *s.alternatives) if src.url}
        click.echo(MESSAGES["no_network"].format(n=len(hosts)))
        return
    checks = _verify.verify(catalog, layer_ids=layer_ids or None, timeout_s=timeout_s)
    _echo_table(_verify.table(checks))
    for check in checks:
        if check.problem:
            click.echo(MESSAGES["problem"].format(layer=check.layer_id, source=check.source, problem=check.problem),
                       err=True)
    unchecked = [s.id for s in specs if all(src.kind == "none" for src in (s.source, *s.alternatives))]
    if unchecked:
        click.echo(MESSAGES["no_source"].format(ids=", ".join(unchecked)))
    failing = _verify.failing_exclusions(checks)
    if failing:
        click.echo(MESSAGES["failing"].format(n=len(failing), ids=", ".join(failing)), err=True)
        sys.exit(1)
    click.echo(MESSAGES["all_ok"].format(n=len(checks)))


@layers.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--as", "layer_id", required=True, metavar="LAYER_ID", help="The catalog layer the file is.")
@click.option("--layer", default=None, help="The layer to read inside a GeoPackage with several.")
@click.option("--member", default=None, help="The file to read inside a zip with several.")
@handle_errors
def layers_import(file: Path, layer_id: str, layer: str | None, member: str | None) -> None:
    """Import an official download (zipped shapefile, GeoPackage, GeoJSON) as layer LAYER_ID.

    The file is checked and normalised like a fetched layer (EPSG:25832, repairs counted, columns mapped
    by the catalog, upper-case official names included) and from then on the layer resolves as
    'imported', ahead of the mirror. A bad file is reported with every problem and exit code 2.
    """
    from screening import _layer_import

    settings = settings_from_env()
    catalog = load_catalog(settings=settings)
    gdf = _layer_import.import_layer(file, layer_id, catalog=catalog, settings=settings, layer=layer, member=member)
    a = gdf.attrs
    click.echo(MESSAGES["imported"].format(
        layer=layer_id, n=len(gdf), file=file, n_in=a["features_in"], crs=a["crs_in"],
        repaired=a.get("n_repaired", 0), left_out=a["features_in"] - len(gdf), sha=a["sha256"][:16]))


def _imported(settings, layer_id: str) -> dict:
    """The record `layers import` left for `layer_id` (file, sha256, imported_at, features)."""
    import json

    from screening._layer_import import imported_pointer

    return json.loads(imported_pointer(settings, layer_id).read_text(encoding="utf-8"))


def _echo_table(rows: list[tuple]) -> None:
    """Print rows (the first is the header) as aligned columns."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _copy_note(spec, res) -> str:
    """'provisional', 'partial' or both for a layer read from its mirror copy (directly or via the cache)."""
    from_mirror = res.origin == "mirror" or (res.origin == "cache" and res.detail == "from mirror")
    if not from_mirror:
        return ""
    return ", ".join(word for word, on in (("provisional", spec.provisional), ("partial", spec.mirror_coverage)) if on)

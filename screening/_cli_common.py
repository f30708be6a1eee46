"""What every ``industripark`` command shares: layer options declared once, the error handler, the context.

Each command module (``_cli_layers``, ``_cli_screen``, ``_cli_preview``, ...) imports from here; `screening.cli`
only assembles them into the group.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from screening.config import load_catalog, load_criteria, settings_from_env
from screening.errors import ScreeningError

__all__ = ["allow_missing_opt", "allow_damaged_opt", "mirror_opt", "offline_opt", "repair_opt", "layer_options", "handle_errors",
           "context"]

allow_missing_opt = click.option(
    "--allow-missing", "allow_missing", multiple=True, metavar="LAYER_ID",
    help="Continue without this exclusion layer; every output then says 'incomplete: LAYER_ID missing'.")
allow_damaged_opt = click.option(
    "--allow-damaged", "allow_damaged", multiple=True, metavar="LAYER_ID",
    help="Continue when features of this score, flag or context layer cannot be read, leaving them out; every "
         "output then says so. Never for exclusion or boundary layers.")
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


def context(mirror: Path | None = None, offline: bool = False):
    """Settings (environment + overrides), the layer catalog and the criteria, validated."""
    overrides = {}
    if mirror is not None:
        overrides["mirror_root"] = mirror
    if offline:
        overrides["online"] = False
    settings = settings_from_env(**overrides)
    catalog = load_catalog(settings=settings)
    criteria = load_criteria(settings=settings, catalog=catalog)
    return settings, catalog, criteria

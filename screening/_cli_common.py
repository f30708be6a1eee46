"""What every ``industripark`` command shares: layer options declared once, the error handler, the context.

Each command module (``_cli_layers``, ``_cli_screen``, ``_cli_preview``, ...) imports from here; `screening.cli`
only assembles them into the group.
"""

from __future__ import annotations

import functools
import sys
import traceback
from pathlib import Path

import click

from screening import i18n
from screening.config import load_catalog, load_criteria, settings_from_env
from screening.errors import ScreeningError

__all__ = ["allow_missing_opt", "allow_damaged_opt", "mirror_opt", "offline_opt", "repair_opt", "layer_options",
           "lang_option", "handle_errors", "fail", "MainGroup", "context"]

UNEXPECTED = i18n.N_("Error: unexpected %(kind)s: %(detail)s\n"
                     "This is not a known problem with the input or the layers. Run the same command with -v to "
                     "see the traceback, and report it with that output.")
"""The one message for an error the pipeline does not know (the traceback only with -v)."""
INTERRUPTED = i18n.N_("Interrupted; no unfinished run folder was left behind.")
ERROR = i18n.N_("Error: %(error)s")

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


def lang_option(func):
    """``--lang da|en``: the language of the pages and texts the command writes (default ``Settings.lang``:
    ``$INDUSTRIPARK_LANG``, else Danish). The command runs inside ``i18n.use(lang)``, its error messages
    included; put it above `handle_errors`. Inside, `screening.i18n.current` is the chosen language."""

    @functools.wraps(func)
    def wrapper(*args, lang=None, **kwargs):
        with i18n.use(lang or settings_from_env().lang):
            return func(*args, **kwargs)

    return click.option(
        "--lang", type=click.Choice(i18n.LANGUAGES, case_sensitive=False), default=None,
        help="Language of the pages and texts written: da (Danish) or en (English); default $INDUSTRIPARK_LANG, "
             "else da.")(wrapper)


def layer_options(func):
    """--allow-missing, --mirror and --offline: where a command's layers come from (declared once)."""
    return allow_missing_opt(mirror_opt(offline_opt(func)))


def handle_errors(func):
    """Turn any error into a message on stderr and an exit code: a `ScreeningError` its own message and
    code (2 for bad submissions), anything unexpected a short message and 1 (`fail`)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click's own usage errors and exits
        except (Exception, KeyboardInterrupt) as exc:
            fail(exc)

    return wrapper


def fail(exc: BaseException) -> None:
    """Report `exc` on stderr and exit: its message and ``exit_code`` for a `ScreeningError`; for anything
    else `UNEXPECTED`, with the traceback when the command ran with ``-v``; 130 for Ctrl-C."""
    if isinstance(exc, ScreeningError):
        click.secho(i18n.gettext(ERROR, error=exc), fg="red", err=True)
        sys.exit(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        click.echo(i18n.gettext(INTERRUPTED), err=True)
        sys.exit(130)
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.find_root().params.get("verbose"):
        click.echo("".join(traceback.format_exception(exc)), err=True)
    message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else "(no message)"
    click.secho(i18n.gettext(UNEXPECTED, kind=type(exc).__name__, detail=message), fg="red", err=True)
    sys.exit(1)


class MainGroup(click.Group):
    """The ``industripark`` group: any error that escapes a command (also one without `handle_errors`)
    becomes a short message and a non-zero exit (`fail`), never a bare traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            fail(exc)


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

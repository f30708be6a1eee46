"""``industripark scenarios``: the same applications under several policy scenarios, compared on one page."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from screening._cli_common import (
    allow_damaged_opt,
    context,
    handle_errors,
    lang_option,
    layer_options,
    repair_opt,
)
from screening.i18n import fmt_number
from screening.i18n import gettext as _

__all__ = ["scenarios"]


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--scenarios", "scenarios_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of scenario files with base.yaml (default: layers/scenarios).")
@click.option("--out", "out_root", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Folder in which a new <timestamp>/ run folder is created.")
@layer_options
@allow_damaged_opt
@repair_opt
@click.option("--no-report", is_flag=True, help="No index.html, map or cards for the base rules (the "
                                                "scenario tables and scenarios.html are always written).")
@click.option("--max-applications", type=click.IntRange(min=1), default=None,
              help="Refuse more applications than this (default 250: a score card is written for each).")
@lang_option
@handle_errors
def scenarios(inputs, scenarios_dir, out_root, allow_missing, allow_damaged, mirror, offline, repair, no_report,
              max_applications) -> None:
    """Run every policy scenario on the submission files and compare them (scenarios/scenarios.html).

    Exclusion and measurements are made once; each scenario rescores, ranks and selects. The run folder
    holds the base rules' usual run and scenarios/ with one folder per scenario, scenarios.json and
    scenarios.html, in the language of --lang (the summary printed too). Exit 3 when a scenario's rules admit
    no proposal.
    """
    from screening import scenarios as scenarios_mod

    settings, catalog, criteria = context(mirror, offline)
    t0 = time.perf_counter()
    result = scenarios_mod.run(inputs, settings=settings, catalog=catalog, criteria=criteria,
                               scenarios_dir=scenarios_dir or settings.layers_dir / "scenarios",
                               out_root=out_root, allow_missing=allow_missing, allow_damaged=allow_damaged,
                               repair=repair, report=not no_report,
                               max_applications=max_applications or scenarios_mod.pipeline.MAX_APPLICATIONS)
    click.echo(scenarios_mod.summary_text(result))
    click.echo("\n" + _("Comparison: %(page)s  (%(seconds)s s)", page=result.outputs["scenarios_page"],
                        seconds=fmt_number(time.perf_counter() - t0, 1)))
    if any(r.result.selection.status == "infeasible" for r in result.runs):
        sys.exit(3)

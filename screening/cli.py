"""The ``industripark`` command line: a thin click shell over the library, in the style of rasterio's ``rio``.

Each command parses its options, loads the configuration, calls library functions and writes outputs.
The commands live in ``_cli_<topic>`` modules (shared options in `screening._cli_common`); this module
only assembles the group. Any `ScreeningError` becomes one clear message on stderr and a non-zero exit.
"""

from __future__ import annotations

import logging
import sys

import click

from screening._cli_common import MainGroup
from screening._cli_layers import layers
from screening._cli_overview import overview
from screening._cli_preview import preview, serve
from screening._cli_scenarios import scenarios
from screening._cli_screen import screen, select_cmd, submissions_group, surface
from screening._cli_travel import travel_cmd

__all__ = ["main"]

log = logging.getLogger(__name__)


@click.group(cls=MainGroup)
@click.option("-v", "--verbose", count=True,
              help="More log output, and the traceback of an unexpected error (repeat for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(package_name="industripark-screening")
def main(verbose: int, quiet: bool) -> None:
    """Screen municipal submissions for state-designated industriparker (EPSG:25832 throughout)."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


for _command in (layers, submissions_group, screen, select_cmd, surface, scenarios, preview, serve, overview,
                 travel_cmd):
    main.add_command(_command)


if __name__ == "__main__":
    main()

"""Submission files: read, validate against the schema and normalise into the candidates frame.

A municipality submits one file per application round: GeoJSON (RFC 7946, WGS84), GeoPackage, zipped
Shapefile or GeoParquet, one Polygon/MultiPolygon feature per application. The schema of the attributes is
data (``layers/submission_schema.yaml``, documented in ``docs/SUBMISSION_SCHEMA.md``). This module is the
public face; the work is done beside it by concept: `screening._submission_schema` (the schema models and
docs), `screening._submission_read` (file formats), `screening._validate` and its ``_validate_*`` modules
(the checks), `screening._problems` (every text shown). Every problem of every file is collected, never just
the first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from screening import _validate
from screening._problems import Problem, num, problem, shown, text
from screening._submission_read import FORMATS, read_submission_file
from screening._submission_schema import (
    SCHEMA_PATH,
    FieldSpec,
    SchemaRules,
    SubmissionSchema,
    load_schema,
    schema_markdown,
    update_schema_doc,
)
from screening.config import CRS
from screening.errors import SubmissionError

__all__ = [
    "SCHEMA_PATH", "CANDIDATE_COLUMNS", "FORMATS",
    "FieldSpec", "SchemaRules", "SubmissionSchema", "Problem", "ValidationReport",
    "load_submissions", "validate", "read_submission_file", "summarise", "summary_text",
    "load_schema", "schema_markdown", "update_schema_doc",
]

log = logging.getLogger(__name__)

CANDIDATE_COLUMNS = _validate.CANDIDATE_COLUMNS
"""Columns every candidates frame starts with (docs/ARCHITECTURE.md, "Candidates"), then schema fields."""


@dataclass(frozen=True)
class ValidationReport:
    """What `validate` found in one file.

    ``problems`` holds every error and warning; ``candidates`` is the normalised frame (EPSG:25832,
    MultiPolygon, the columns of `CANDIDATE_COLUMNS` then the schema fields present) or None when the
    file has errors.
    """

    file: str
    problems: tuple[Problem, ...]
    candidates: gpd.GeoDataFrame | None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when the file has no errors (warnings allowed)."""
        return not self.errors


def load_submissions(paths: Iterable[str | Path], *, kommuner: gpd.GeoDataFrame, repair: bool = False,
                     schema: SubmissionSchema | None = None) -> gpd.GeoDataFrame:
    """Read and validate submission files and return the candidates, one row per application.

    Parameters
    ----------
    paths
        Submission files: GeoJSON, GeoPackage (one layer), zipped Shapefile or GeoParquet.
    kommuner
        The kommuner layer in EPSG:25832 with ``kommunekode`` (4-digit str), ``kommunenavn``,
        ``regionskode``, ``regionsnavn``; the lookup for names, regions and the location checks.
    repair
        Repair invalid geometries with ``shapely.make_valid`` (polygonal parts kept) instead of
        rejecting them; each repair is a warning that reports the area change in hectares.
    schema
        The submission schema; default ``layers/submission_schema.yaml``.

    Returns
    -------
    geopandas.GeoDataFrame
        The candidates contract of docs/ARCHITECTURE.md: EPSG:25832, MultiPolygon, columns
        `CANDIDATE_COLUMNS` (``area_ha`` from the geometry) then the schema fields the files carry, typed
        per schema (``Int64``, ``float64``, nullable ``boolean``, dates as ISO strings). ``area_ha`` and the
        geometry are what is screened: the outline as drawn, or its part on Danish land when more than the
        schema's warning share lies outside (``outside_denmark_ha``/``_share`` say how much did, always);
        ``regionskode``/``regionsnavn`` are those of the land, ``kommunekode``/``kommunenavn`` the applicant's;
        ``site_notes`` says either on the card. ``fields_absent`` lists the schema fields that another file
        carries but this row's file does not have at all (scoring: not assessed). ``attrs`` holds
        ``warnings`` (one line each, also logged) and ``source_files``.

    Raises
    ------
    SubmissionError
        With every error of every file (exit code 2), including application ids used in two files.
    """
    schema = schema or load_schema()
    paths = [Path(p) for p in paths]
    if not paths:
        raise SubmissionError([problem("", "no_files")])
    reports = [validate(p, kommuner=kommuner, repair=repair, schema=schema) for p in paths]
    problems = [p for r in reports for p in r.problems] + _duplicates_across_files(reports)
    cautions = [p for p in problems if p.severity == "warning"]
    for caution in cautions:
        log.warning("%s", caution)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise SubmissionError(errors)
    gdf = pd.concat([_with_fields_absent(r.candidates, reports) for r in reports], ignore_index=True)
    gdf = _validate.order_and_type(gpd.GeoDataFrame(gdf, geometry="geometry", crs=CRS), schema)
    gdf.attrs = {"warnings": [str(w) for w in cautions], "source_files": [str(p) for p in paths]}
    log.info("loaded %d application(s) from %d file(s), %.1f ha in all, %d warning(s)",
             len(gdf), len(paths), gdf["area_ha"].sum(), len(cautions))
    return gdf


def validate(source: str | Path | gpd.GeoDataFrame, *, kommuner: gpd.GeoDataFrame, repair: bool = False,
             schema: SubmissionSchema | None = None, file: str | None = None) -> ValidationReport:
    """Check one submission (a file, or a frame as read by `read_submission_file`) against every rule.

    The rules are listed in docs/SUBMISSION_SCHEMA.md ("Checks"); their thresholds are the schema's
    ``rules``. Location checks use area shares per municipality, as the kommuner layer is generalised.

    Parameters
    ----------
    source
        Path of a submission file, or a GeoDataFrame with a CRS (any; reprojected to EPSG:25832).
    kommuner
        The kommuner layer, EPSG:25832 (see `load_submissions`).
    repair
        Repair invalid geometries instead of rejecting them.
    schema
        The submission schema; default ``layers/submission_schema.yaml``.
    file
        Name used in the problems; default the path, or ``attrs["source_file"]`` of a frame.

    Returns
    -------
    ValidationReport
        All problems found and, when there is no error, the normalised candidates.
    """
    schema = schema or load_schema()
    if isinstance(source, gpd.GeoDataFrame):
        raw, file = source, file or source.attrs.get("source_file", "<GeoDataFrame>")
    else:
        file = file or str(source)
        try:
            raw = read_submission_file(source)
        except SubmissionError as exc:
            return ValidationReport(file, tuple(exc.problems), None)
    problems, candidates = _validate.check_frame(raw, file=file, kommuner=kommuner, schema=schema,
                                                 repair=repair)
    log.debug("%s: %d feature(s), %d problem(s)", file, len(raw), len(problems))
    return ValidationReport(file, tuple(problems), candidates)


def summarise(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """One row per application: id, site, area (ha, 0.1), municipality, region, co-applicants, file."""
    columns = ["application_id", "site_name", "area_ha", "kommunekode", "kommunenavn", "regionsnavn",
               "co_applicant_kommunekoder", "source_file"]
    table = pd.DataFrame(gdf[columns]).reset_index(drop=True)
    table["area_ha"] = table["area_ha"].round(1)
    return table


def summary_text(gdf: gpd.GeoDataFrame, *, with_warnings: bool = True) -> str:
    """The text of ``industripark submissions check``: the `summarise` table, totals, site notes, warnings."""
    table = summarise(gdf).drop(columns="source_file")
    table = table.rename(columns={"co_applicant_kommunekoder": "co_applicants"})
    lines = [table.to_string(index=False), "",
             text("totals", count=num(len(gdf)), area_ha=num(gdf["area_ha"].sum(), 1),
                  files=num(len(gdf.attrs.get("source_files", []))))]
    noted = gdf.loc[gdf["site_notes"].astype(str) != ""] if "site_notes" in gdf else gdf.iloc[:0]
    if len(noted):
        lines += [text("notes"), *(f"  - {shown(a, quote=False)}: {n}"
                                   for a, n in zip(noted["application_id"], noted["site_notes"], strict=True))]
    cautions = gdf.attrs.get("warnings", [])
    if cautions:
        lines += [text("warnings" if with_warnings else "warnings_logged", count=num(len(cautions))),
                  *(f"  - {w}" for w in cautions if with_warnings)]
    return "\n".join(lines)


# --------------------------------------------------------------------------- helpers (in call order)


def _duplicates_across_files(reports: Sequence[ValidationReport]) -> list[Problem]:
    """An application id used in two files is an error on the later one, naming the first file."""
    seen: dict[str, tuple[str, int]] = {}
    problems = []
    for report in reports:
        if report.candidates is None:
            continue
        for index, app_id in enumerate(report.candidates["application_id"]):  # a handful of applications
            if app_id in seen and seen[app_id][0] != report.file:
                first_file, first_index = seen[app_id]
                problems.append(problem(report.file, "id_twice_files", index=index, app_id=app_id,
                                        field="application_id", first_file=first_file, first=first_index,
                                        value=shown(app_id)))
            seen.setdefault(app_id, (report.file, index))
    return problems


def _with_fields_absent(candidates: gpd.GeoDataFrame, reports: Sequence[ValidationReport]) -> gpd.GeoDataFrame:
    """``fields_absent``: the schema fields some file of `reports` carries but this file has not at all."""
    columns = [set(r.candidates.columns) for r in reports]
    carried = [c for c in dict.fromkeys(c for r in reports for c in r.candidates.columns)
               if c not in candidates.columns and any(c in cols for cols in columns)]
    return candidates.assign(fields_absent=",".join(carried))

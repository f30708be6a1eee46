"""Submission files: read, validate against the schema and normalise into the candidates frame.

A municipality submits one file per application round: GeoJSON (RFC 7946, WGS84), GeoPackage, zipped
Shapefile or GeoParquet, one Polygon/MultiPolygon feature per application. The schema of the attributes is
data (``layers/submission_schema.yaml``, documented in ``docs/SUBMISSION_SCHEMA.md``); the rule checks live
in `screening._validate`. Every problem of every file is collected, never just the first.
"""

from __future__ import annotations

import functools
import logging
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn

import geopandas as gpd
import pandas as pd
import pyogrio
import pyogrio.errors
from pydantic import BaseModel, ConfigDict, Field, model_validator

from screening import _validate
from screening._validate import Problem
from screening.config import CRS, PROJECT_ROOT, load_yaml_model
from screening.errors import ConfigError, SubmissionError

__all__ = [
    "SCHEMA_PATH", "CANDIDATE_COLUMNS", "FORMATS",
    "FieldSpec", "SchemaRules", "SubmissionSchema", "Problem", "ValidationReport",
    "load_submissions", "validate", "read_submission_file", "summarise", "summary_text",
    "load_schema", "schema_markdown", "update_schema_doc",
]

log = logging.getLogger(__name__)

SCHEMA_PATH = PROJECT_ROOT / "layers" / "submission_schema.yaml"
"""The submission schema shipped with the project."""

CANDIDATE_COLUMNS = _validate.CANDIDATE_COLUMNS
"""Columns every candidates frame starts with (docs/ARCHITECTURE.md, "Candidates"), then schema fields."""

FORMATS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GeoPackage", ".zip": "zipped Shapefile",
           ".shp": "Shapefile", ".parquet": "GeoParquet", ".geoparquet": "GeoParquet"}
"""Accepted file suffixes and the format each is read as."""

_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj")
_PYOGRIO_ERRORS = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FeatureError,
                   pyogrio.errors.FieldError, pyogrio.errors.GeometryError, pyogrio.errors.CRSError,
                   OSError, UnicodeDecodeError)
_DOC_START, _DOC_END = "<!-- schema:start -->", "<!-- schema:end -->"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldSpec(_Frozen):
    """One field of the submission schema (see the header of ``layers/submission_schema.yaml``)."""

    name: str
    group: str
    type: Literal["str", "int", "float", "bool", "date", "datetime", "kommunekode", "kommunekoder"]
    presence: Literal["required", "recommended", "optional"]
    meaning: str
    allowed: str
    values: tuple[str, ...] | None = None
    min: float | None = None
    gt: float | None = None
    aliases: tuple[str, ...] = ()


class SchemaRules(_Frozen):
    """Thresholds of the geometric rules; areas in hectares, bounds in EPSG:25832 metres."""

    min_area_ha: float = Field(gt=0)
    max_area_ha: float = Field(gt=0)
    declared_area_tolerance: float = Field(ge=0)
    min_share_in_kommune: float = Field(ge=0, le=1)
    denmark_bounds_25832: tuple[float, float, float, float]


class SubmissionSchema(_Frozen):
    """The whole of ``layers/submission_schema.yaml``."""

    schema_version: str
    rules: SchemaRules
    ignored_columns: tuple[str, ...] = ()
    fields: tuple[FieldSpec, ...]

    @model_validator(mode="after")
    def _unique_names(self) -> SubmissionSchema:
        names = [n.lower() for f in self.fields for n in (f.name, *f.aliases)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"field names or aliases used twice: {dupes}")
        for spec in self.fields:
            if spec.values is not None and spec.type != "str":
                raise ValueError(f"field {spec.name}: 'values' needs type str, got {spec.type}")
        return self


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
        per schema (``Int64``, ``float64``, nullable ``boolean``, dates as ISO strings). ``attrs`` holds
        ``warnings`` (one line each, also logged) and ``source_files``.

    Raises
    ------
    SubmissionError
        With every error of every file (exit code 2), including application ids used in two files.
    """
    schema = schema or load_schema()
    paths = [Path(p) for p in paths]
    if not paths:
        _fail("", "no submission file given", "pass GeoJSON, GeoPackage, zipped Shapefile or GeoParquet")
    reports = [validate(p, kommuner=kommuner, repair=repair, schema=schema) for p in paths]
    problems = [p for r in reports for p in r.problems] + _duplicates_across_files(reports)
    cautions = [p for p in problems if p.severity == "warning"]
    for caution in cautions:
        log.warning("%s", caution)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise SubmissionError(errors)
    gdf = pd.concat([r.candidates for r in reports], ignore_index=True)
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


def read_submission_file(path: str | Path) -> gpd.GeoDataFrame:
    """Read a submission file as it is, in its own CRS.

    GeoJSON without a ``crs`` member is WGS84 (RFC 7946); a legacy ``crs`` member (e.g.
    ``urn:ogc:def:crs:EPSG::25832``) is honoured. A zipped Shapefile must hold exactly one ``.shp`` with
    its ``.shx``, ``.dbf`` and ``.prj``. A GeoPackage must hold exactly one layer with geometry. GeoParquet
    is read with `geopandas.read_parquet` (no ``crs`` in its metadata means OGC:CRS84).

    Parameters
    ----------
    path
        The file; its suffix picks the format (`FORMATS`).

    Returns
    -------
    geopandas.GeoDataFrame
        Features in file order (RangeIndex = feature index), the file's CRS, dates as strings; ``attrs``:
        ``source_file``, ``format``.

    Raises
    ------
    SubmissionError
        When the file is missing, of another format, unreadable or truncated, has no CRS, several
        layers, or no features; each problem names the file and the fix.
    """
    path = Path(path)
    file = str(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        _fail(file, f"'{path.suffix or path.name}' is not a submission format",
              "save the sites as GeoJSON (.geojson), GeoPackage (.gpkg), zipped Shapefile (.zip) or "
              "GeoParquet (.parquet)")
    if not path.is_file():
        _fail(file, "is a folder, not a file" if path.is_dir() else "file not found", "check the path")
    if fmt == "GeoParquet":
        gdf = _read_parquet(path, file)
    elif fmt in ("zipped Shapefile", "Shapefile"):
        gdf = _read_ogr(_shapefile_source(path, file), file, fmt)
    else:
        layer = _single_layer(path, file) if fmt == "GeoPackage" else None
        gdf = _read_ogr(str(path), file, fmt, layer=layer)
    if gdf.crs is None:
        _fail(file, "the file declares no CRS, so its coordinates cannot be placed",
              "export it again with its CRS (EPSG:25832, or WGS84 for GeoJSON)")
    if len(gdf) == 0:
        _fail(file, "the file holds no features (empty collection)",
              "add one Polygon/MultiPolygon feature per application (see data/template_submission.geojson)")
    gdf = gdf.reset_index(drop=True)
    gdf.attrs = {"source_file": file, "format": fmt}
    log.debug("read %s: %d feature(s), %s, %s", file, len(gdf), fmt, gdf.crs.to_string())
    return gdf


def summarise(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """One row per application: id, site, area (ha, 0.1), municipality, region, co-applicants, file."""
    columns = ["application_id", "site_name", "area_ha", "kommunekode", "kommunenavn", "regionsnavn",
               "co_applicant_kommunekoder", "source_file"]
    table = pd.DataFrame(gdf[columns]).reset_index(drop=True)
    table["area_ha"] = table["area_ha"].round(1)
    return table


def summary_text(gdf: gpd.GeoDataFrame, *, with_warnings: bool = True) -> str:
    """The text of ``industripark submissions check``: the `summarise` table, totals, warnings."""
    table = summarise(gdf).drop(columns="source_file")
    table = table.rename(columns={"co_applicant_kommunekoder": "co_applicants"})
    lines = [table.to_string(index=False), "",
             f"{len(gdf)} application(s), {gdf['area_ha'].sum():,.1f} ha, "
             f"from {len(gdf.attrs.get('source_files', []))} file(s): all valid"]
    cautions = gdf.attrs.get("warnings", [])
    if cautions:
        lines += [f"{len(cautions)} warning(s)" + (":" if with_warnings else " (logged)"),
                  *(f"  - {w}" for w in cautions if with_warnings)]
    return "\n".join(lines)


def load_schema(path: str | Path | None = None) -> SubmissionSchema:
    """Read and validate the submission schema (default `SCHEMA_PATH`); cached until the file changes."""
    path = Path(path) if path else SCHEMA_PATH
    try:
        return _load_schema(path.resolve(), path.stat().st_mtime_ns)
    except FileNotFoundError:
        msg = f"{path}: submission schema not found; restore layers/submission_schema.yaml from git"
        raise ConfigError(msg) from None


@functools.lru_cache(maxsize=8)
def _load_schema(path: Path, mtime_ns: int) -> SubmissionSchema:
    return load_yaml_model(SubmissionSchema, path, what="submission schema")


def schema_markdown(schema: SubmissionSchema | None = None) -> str:
    """The schema as Markdown tables (field, type, required, meaning, allowed values), as in the docs."""
    schema = schema or load_schema()
    header = ["| field | type | required | meaning | allowed values |", "|---|---|---|---|---|"]
    asked = [f for f in schema.fields if f.group != "reference"]
    reference = [f for f in schema.fields if f.group == "reference"]
    rules = schema.rules
    lines = [f"Schema version {schema.schema_version}. Geometry: Polygon or MultiPolygon, required.", "",
             *header, *(_markdown_row(f) for f in asked), "",
             "Read from reference files only (the approximate 2025 applications), not asked of "
             "municipalities:",
             "", *header, *(_markdown_row(f) for f in reference), "",
             f"Rules: area between {rules.min_area_ha:g} and {rules.max_area_ha:,.0f} ha (error); declared "
             f"area within {rules.declared_area_tolerance:.0%} of the geometry (warning); at least "
             f"{rules.min_share_in_kommune:.0%} of the site inside its lead municipality and "
             f"co-applicants (warning); the site within the Denmark box "
             f"{tuple(int(b) for b in rules.denmark_bounds_25832)} (EPSG:25832 xmin, ymin, xmax, ymax; "
             "error)."]
    return "\n".join(lines)


def update_schema_doc(path: str | Path, schema: SubmissionSchema | None = None) -> bool:
    """Rewrite the block between the schema markers of a Markdown file; True when it changed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if _DOC_START not in text or _DOC_END not in text:
        msg = f"{path}: no '{_DOC_START}' ... '{_DOC_END}' markers; add them where the schema table goes"
        raise ConfigError(msg)
    head, rest = text.split(_DOC_START, 1)
    new = f"{head}{_DOC_START}\n{schema_markdown(schema)}\n{_DOC_END}{rest.split(_DOC_END, 1)[1]}"
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


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
                problems.append(Problem(
                    report.file, index, app_id, "application_id",
                    f"application_id '{app_id}' is also used by {first_file} features[{first_index}]",
                    "give every application its own id across all files"))
            seen.setdefault(app_id, (report.file, index))
    return problems


def _fail(file: str, message: str, fix: str) -> NoReturn:
    raise SubmissionError([Problem(file, None, None, None, message, fix)])


def _read_parquet(path: Path, file: str) -> gpd.GeoDataFrame:
    try:
        return gpd.read_parquet(path)
    except (ValueError, OSError) as exc:  # pyarrow's ArrowInvalid is a ValueError; no 'geo' metadata too
        _fail(file, f"cannot be read as GeoParquet ({_first_line(exc)})",
              "export it again as GeoParquet (e.g. GeoDataFrame.to_parquet), or as GeoJSON/GeoPackage")


def _shapefile_source(path: Path, file: str) -> str:
    """GDAL path of the one shapefile in a .zip (or of a bare .shp), after checking its companion files."""
    if path.suffix.lower() == ".shp":
        members = [p.name for p in path.parent.iterdir()]
        shp, prefix = path.name, str(path.parent) + "/"
    else:
        try:
            with zipfile.ZipFile(path) as zf:
                members = [n for n in zf.namelist() if not n.startswith("__MACOSX/") and not n.endswith("/")]
        except (zipfile.BadZipFile, OSError) as exc:
            _fail(file, f"not a readable zip archive ({exc})",
                  "zip the shapefile's .shp, .shx, .dbf and .prj again (or send GeoJSON/GeoPackage)")
        shps = [n for n in members if n.lower().endswith(".shp")]
        if len(shps) != 1:
            found = ", ".join(shps) if shps else "no .shp (files: " + ", ".join(members[:8]) + ")"
            _fail(file, f"the zip must hold exactly one shapefile, found {found}",
                  "zip one shapefile per file (.shp, .shx, .dbf, .prj), or send a GeoPackage")
        shp, prefix = shps[0], f"/vsizip/{path.resolve()}/"
    stem = shp[: -len(".shp")].lower()
    present = {n.lower() for n in members}
    missing = [ext for ext in _SHAPEFILE_PARTS if stem + ext not in present]
    if missing:
        problems = [Problem(file, None, None, None,
                            f"shapefile '{shp}' has no {ext} file" + (
                                ", so its coordinates' CRS is unknown" if ext == ".prj" else ""),
                            "add the .prj written with the data (EPSG:25832 expected)" if ext == ".prj"
                            else f"add '{shp[:-4]}{ext}' from the export (.shp, .shx, .dbf and .prj)")
                    for ext in missing]
        raise SubmissionError(problems)
    return prefix + shp


def _single_layer(path: Path, file: str) -> str:
    """The one layer with geometry of a GeoPackage (attribute tables, e.g. QGIS layer_styles, don't count)."""
    try:
        layers = pyogrio.list_layers(path)
    except _PYOGRIO_ERRORS as exc:
        _fail(file, f"cannot be read as GeoPackage ({_first_line(exc)})",
              "the file looks damaged or is not a GeoPackage; export it again")
    spatial = [str(name) for name, geom_type in layers if geom_type is not None]
    if len(spatial) != 1:
        found = ", ".join(spatial) if spatial else "none"
        _fail(file, f"the GeoPackage must hold exactly one layer with geometry, found {len(spatial)}: "
              f"{found}", "keep one layer of application sites per file (or send one file per layer)")
    return spatial[0]


def _read_ogr(source: str, file: str, fmt: str, *, layer: str | None = None) -> gpd.GeoDataFrame:
    try:
        with warnings.catch_warnings():  # mixed-type properties are read as text, coerced per schema later
            warnings.filterwarnings("ignore", "Could not parse column .* as JSON", UserWarning)
            warnings.filterwarnings("ignore", "invalid value encountered in from_wkb", RuntimeWarning)  # NaN
            return pyogrio.read_dataframe(source, layer=layer, datetime_as_string=True)
    except _PYOGRIO_ERRORS as exc:
        _fail(file, f"cannot be read as {fmt}: {_first_line(exc)}",
              f"the file looks truncated or is not {fmt}; export it again from the GIS and check it opens")


def _first_line(exc: Exception) -> str:
    """The library's message, first line, without GDAL's advice on driver prefixes."""
    text = str(exc).strip().split("; It might help to specify the correct driver", 1)[0]
    return text.splitlines()[0] if text else type(exc).__name__


def _markdown_row(spec: FieldSpec) -> str:
    presence = {"required": "yes", "recommended": "recommended", "optional": "no"}[spec.presence]
    name = f"`{spec.name}`" + (f" (also {', '.join(f'`{a}`' for a in spec.aliases)})" if spec.aliases else "")
    cells = [name, spec.type, presence, spec.meaning, spec.allowed]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

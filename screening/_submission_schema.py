"""The submission schema: ``layers/submission_schema.yaml`` as frozen pydantic models, and its Markdown docs.

Used by `screening.submissions` (which re-exports everything here) and by the checks in `screening._validate`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from screening.config import PROJECT_ROOT, LocalText, load_yaml_model
from screening.errors import ConfigError

__all__ = ["SCHEMA_PATH", "FieldSpec", "SchemaRules", "SubmissionSchema", "load_schema", "schema_markdown",
           "update_schema_doc"]

SCHEMA_PATH = PROJECT_ROOT / "layers" / "submission_schema.yaml"
"""The submission schema shipped with the project."""

_DOC_START, _DOC_END = "<!-- schema:start -->", "<!-- schema:end -->"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldSpec(_Frozen):
    """One field of the submission schema (see the header of ``layers/submission_schema.yaml``)."""

    name: str
    group: str
    type: Literal["str", "int", "float", "bool", "date", "datetime", "kommunekode", "kommunekoder"]
    presence: Literal["required", "recommended", "optional"]
    meaning: str | LocalText  # a required field's meaning is shown in the check's messages: {da, en}
    allowed: str
    values: tuple[str, ...] | None = None
    min: float | None = None
    gt: float | None = None
    aliases: tuple[str, ...] = ()


class SchemaRules(_Frozen):
    """Thresholds of the rules; areas in hectares, shares 0-1, bounds in EPSG:25832 metres."""

    min_area_ha: float = Field(gt=0)
    max_area_ha: float = Field(gt=0)
    declared_area_tolerance: float = Field(ge=0)
    min_share_in_kommune: float = Field(ge=0, le=1)
    denmark_bounds_25832: tuple[float, float, float, float]
    max_id_length: int = Field(gt=0)
    outside_land_warn_share: float = Field(ge=0, le=1)
    outside_land_warn_min_ha: float = Field(ge=0)
    outside_land_error_share: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> SchemaRules:
        if self.outside_land_warn_share > self.outside_land_error_share:
            raise ValueError("outside_land_warn_share must not exceed outside_land_error_share")
        return self


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
             "error). `application_id`: at most "
             f"{rules.max_id_length} characters, letters (A-Z, æ, ø, å and the other Latin-1 letters), digits, "
             "`-`, `_`, `.` and spaces, starting with a letter or digit (error). Danish land is the union of the "
             f"`kommuner` layer: more than {rules.outside_land_warn_share:.0%} (and more than "
             f"{rules.outside_land_warn_min_ha:g} ha) of the drawn area outside Danish land is a warning and "
             "only the part on Danish land is screened; more than "
             f"{rules.outside_land_error_share:.0%} outside is an error."]
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


def _markdown_row(spec: FieldSpec) -> str:
    presence = {"required": "yes", "recommended": "recommended", "optional": "no"}[spec.presence]
    name = f"`{spec.name}`" + (f" (also {', '.join(f'`{a}`' for a in spec.aliases)})" if spec.aliases else "")
    meaning = spec.meaning.en if isinstance(spec.meaning, LocalText) else spec.meaning  # the docs are English
    cells = [name, spec.type, presence, meaning, spec.allowed]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

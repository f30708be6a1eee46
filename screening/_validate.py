"""Rule checks of one submission frame, in order: attributes, geometry, location; then the candidates.

Used by `screening.submissions`; every check collects `Problem` records instead of raising, so a file's
problems are reported together. The checks live beside this module by concept: `_validate_attributes`
(fields, values, ids), `_validate_geometry` (readable, finite, valid, in Denmark), `_validate_location`
(Danish land, municipalities, region, area); their texts are in `_problems`.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from screening import _kept
from screening._geo import area_ha, require_crs
from screening._problems import Locator, Problem
from screening._validate_attributes import DTYPES, as_text, check_attributes, match_columns
from screening._validate_geometry import as_multipolygons, check_geometry
from screening._validate_location import check_places
from screening.config import CRS
from screening.errors import LayerDataError

__all__ = ["Problem", "CANDIDATE_COLUMNS", "check_frame", "order_and_type"]

CANDIDATE_COLUMNS = ("application_id", "kommunekode", "kommunenavn", "regionskode", "regionsnavn",
                     "co_applicant_kommunekoder", "site_name", "area_ha", "source_file", "outside_denmark_ha",
                     "outside_denmark_share", "site_notes", "fields_absent")
"""Columns every candidates frame starts with (docs/ARCHITECTURE.md, "Candidates"), then schema fields."""

_FLOATS = ("area_ha", "outside_denmark_ha", "outside_denmark_share")
_KOMMUNER_COLUMNS = ("kommunekode", "kommunenavn", "regionskode", "regionsnavn")


def check_frame(raw: gpd.GeoDataFrame, *, file: str, kommuner: gpd.GeoDataFrame, schema,
                repair: bool) -> tuple[list[Problem], gpd.GeoDataFrame | None]:
    """Run every rule on a frame as read; return the problems and, when none is an error, the candidates."""
    attrs_of_file = raw.attrs
    raw = raw.reset_index(drop=True)  # positions are the feature indices of the problems
    raw.attrs = dict(attrs_of_file)
    table = _kept.kept("kommune_table", kommuner, None, lambda: _kommune_table(kommuner))  # never modified
    columns = match_columns([c for c in raw.columns if c != raw.geometry.name], schema,
                            shapefile=str(raw.attrs.get("format", "")).endswith("Shapefile"))
    ids = as_text(raw[columns["application_id"]]) if "application_id" in columns else [None] * len(raw)
    at = Locator(file, [None if pd.isna(v) else v for v in ids])
    attrs, problems = check_attributes(raw, columns, schema, table, at)
    metric, placed, geo_problems = check_geometry(raw, schema.rules, at, repair=repair)
    place_problems, places, screened = check_places(attrs, metric, placed, kommuner, table, schema.rules, at)
    problems += geo_problems + place_problems
    problems.sort(key=lambda p: (p.feature_index is not None, p.feature_index or 0))
    if any(p.severity == "error" for p in problems):
        return problems, None
    return problems, _candidates(attrs, screened, places, table, file, schema)


def order_and_type(gdf: gpd.GeoDataFrame, schema) -> gpd.GeoDataFrame:
    """Columns in contract order (`CANDIDATE_COLUMNS`, schema fields, geometry) with the schema's dtypes."""
    specs = [f for f in schema.fields if f.name in gdf.columns and f.name not in CANDIDATE_COLUMNS]
    out = gdf[[*CANDIDATE_COLUMNS, *(f.name for f in specs), "geometry"]].copy()
    for column in CANDIDATE_COLUMNS:
        out[column] = out[column].astype("float64" if column in _FLOATS else "str")
    for spec in specs:
        out[spec.name] = out[spec.name].astype(DTYPES.get(spec.type, "str"))
    return out


# --------------------------------------------------------------------------- helpers


def _kommune_table(kommuner: gpd.GeoDataFrame) -> pd.DataFrame:
    require_crs(kommuner, "kommuner layer")
    missing = [c for c in _KOMMUNER_COLUMNS if c not in kommuner.columns]
    if missing:
        msg = f"kommuner layer lacks columns {missing}; load it with catalog.load_layer('kommuner')"
        raise LayerDataError(msg)
    table = pd.DataFrame(kommuner[list(_KOMMUNER_COLUMNS)]).astype(str)
    table["kommunekode"] = table["kommunekode"].str.zfill(4)
    return table.drop_duplicates("kommunekode").set_index("kommunekode")


def _candidates(attrs: pd.DataFrame, screened: np.ndarray, places: pd.DataFrame, table: pd.DataFrame, file: str,
                schema) -> gpd.GeoDataFrame:
    """The candidates of an error-free file: the applicant's names from its code, the region of its land."""
    out = attrs.reset_index(drop=True)
    out["kommunenavn"] = table["kommunenavn"].reindex(out["kommunekode"]).to_numpy()
    for column in places.columns:
        out[column] = places[column].to_numpy()
    for column in ("co_applicant_kommunekoder", "site_name"):
        out[column] = out[column].fillna("") if column in out else ""
    out["area_ha"] = area_ha(screened)
    out["source_file"] = file
    out["fields_absent"] = ""  # set per file by submissions.load_submissions when files are screened together
    gdf = gpd.GeoDataFrame(out, geometry=as_multipolygons(screened), crs=CRS)
    return order_and_type(gdf, schema)

"""Problems of submission files and every text the submission checks show, in one place.

Each problem kind is a key of `PROBLEMS`: a message and a fix, `str.format` templates filled by `Locator`
(or `problem`); variant fixes are keys of `FIXES`; per-site notes (the ``site_notes`` column, shown on the
card) are `NOTES`; the ``submissions check`` summary lines are `SUMMARY`. Nothing else in the submission
modules words a sentence, so the Danish translation can wrap these tables. Values that come from a file
(ids, cell text) are shown through `shown`: quoted, control characters escaped, truncated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Problem", "Locator", "PROBLEMS", "FIXES", "NOTES", "SUMMARY", "problem", "text", "shown", "percent"]

_ID_FIX = ("use a short id of letters (A-Z, æ, ø, å, é, ...), digits, '-', '_', '.' and spaces, at most "
           "{max_len} characters, starting with a letter or digit, e.g. 'VEJ-2026-01' (no '/' or '\\')")

PROBLEMS: dict[str, tuple[str, str]] = {
    # ------------------------------------------------------------------ files
    "no_files": ("no submission file given", "pass GeoJSON, GeoPackage, zipped Shapefile or GeoParquet"),
    "bad_suffix": ("'{suffix}' is not a submission format",
                   "save the sites as GeoJSON (.geojson), GeoPackage (.gpkg), zipped Shapefile (.zip) or "
                   "GeoParquet (.parquet)"),
    "is_folder": ("is a folder, not a file", "check the path"),
    "not_found": ("file not found", "check the path"),
    "no_crs_file": ("the file declares no CRS, so its coordinates cannot be placed",
                    "export it again with its CRS (EPSG:25832, or WGS84 for GeoJSON)"),
    "no_features": ("the file holds no features (empty collection)",
                    "add one Polygon/MultiPolygon feature per application (see data/template_submission.geojson)"),
    "parquet_unreadable": ("cannot be read as GeoParquet ({reason})",
                           "export it again as GeoParquet (e.g. GeoDataFrame.to_parquet), or as GeoJSON/GeoPackage"),
    "parquet_no_geo": ("cannot be read as GeoParquet (Missing geo metadata: a plain Parquet table has no "
                       "geometry)", "export it again as GeoParquet (e.g. GeoDataFrame.to_parquet), or as "
                       "GeoJSON/GeoPackage"),
    "zip_unreadable": ("not a readable zip archive ({reason})",
                       "zip the shapefile's .shp, .shx, .dbf and .prj again (or send GeoJSON/GeoPackage)"),
    "zip_shapefiles": ("the zip must hold exactly one shapefile, found {found}",
                       "zip one shapefile per file (.shp, .shx, .dbf, .prj), or send a GeoPackage"),
    "shp_missing_part": ("shapefile '{shp}' has no {ext} file",
                         "add '{stem}{ext}' from the export (.shp, .shx, .dbf and .prj)"),
    "shp_missing_prj": ("shapefile '{shp}' has no .prj file, so its coordinates' CRS is unknown",
                        "add the .prj written with the data (EPSG:25832 expected)"),
    "gpkg_unreadable": ("cannot be read as GeoPackage ({reason})",
                        "the file looks damaged or is not a GeoPackage; export it again"),
    "gpkg_layers": ("the GeoPackage must hold exactly one layer with geometry, found {count}: {found}",
                    "keep one layer of application sites per file (or send one file per layer)"),
    "ogr_unreadable": ("cannot be read as {fmt}: {reason}",
                       "the file is damaged or is not {fmt}; export it again from the GIS and check it opens"),
    "json_truncated": ("the file ends before its JSON is complete (it breaks off at character {pos:,} of "
                       "{length:,})", "the file looks truncated (an interrupted download or copy); export it "
                       "again from the GIS and check it opens"),
    "json_invalid": ("the file is not valid JSON: {reason} at line {line} column {column}",
                     "export it again as GeoJSON from the GIS; a hand-edited file can be checked with a JSON "
                     "validator"),
    "json_not_text": ("the file is not UTF-8 text ({reason}), so it is not GeoJSON",
                      "export it again as GeoJSON (UTF-8), or send the GeoPackage or zipped Shapefile"),
    "geojson_unreadable": ("is valid JSON but cannot be read as GeoJSON: {reason}",
                           "write a FeatureCollection of Polygon features (see data/template_submission.geojson)"),
    # ------------------------------------------------------------------ attributes
    "unknown_field": ("unknown field '{column}' is ignored{hint}", "unknown"),
    "field_twice": ("field '{column}' is ignored: '{other}' already gives {field}", "unknown"),
    "field_ambiguous": ("shapefile field '{column}' is ignored: it could be any of {fields} (shapefiles cut "
                        "names to 10 characters); name the columns {short} before the export", "unknown"),
    "required_missing": ("required field '{name}' is missing from the file", "add '{name}' to every feature "
                         "({meaning})"),
    "required_empty": ("required field '{name}' has no value", "fill in {meaning}"),
    "bad_value": ("{value} {why}", "see docs/SUBMISSION_SCHEMA.md"),
    "recommended_absent": ("recommended fields absent: {fields}; the criteria using them are 'not assessed'",
                           "add them (see data/template_submission.geojson)"),
    "id_twice": ("application_id {value} is also used by features[{first}]", "give every application its own id"),
    "id_twice_files": ("application_id {value} is also used by {first_file} features[{first}]",
                       "give every application its own id across all files"),
    "id_too_long": ("application_id {value} is {length:,} characters long; at most {max_len} are allowed", _ID_FIX),
    "id_bad_chars": ("application_id {value} contains {chars}, which an id may not hold", _ID_FIX),
    "id_bad_start": ("application_id {value} must start with a letter or a digit", _ID_FIX),
    "is_example": ("this is the template's example feature (is_example is true)",
                   "replace the example values with the application's own and set is_example to false"),
    "new_plots": ("new_plots_ha exceeds area_ha_declared",
                  "new building plots are part of the declared area; check both"),
    # ------------------------------------------------------------------ geometry
    "no_crs": ("the data has no CRS", "declare the CRS (EPSG:25832)"),
    "no_geometry": ("the feature has no geometry", "draw the site's outline as a Polygon"),
    "unreadable_geometry": ("the geometry cannot be read ({reason})",
                            "export the outline again from the GIS and check it opens"),
    "not_polygon": ("geometry is a {geom_type}; a site must be a Polygon or MultiPolygon",
                    "submit the site's outline as a Polygon (no points, lines, collections)"),
    "nonfinite": ("{bad} of the outline's {total} coordinates are not numbers (NaN) or infinite",
                  "export the outline again from the GIS; a coordinate was lost or damaged on the way"),
    "short_ring": ("a ring of the outline has only {points} point{plural}; a ring needs at least 4 (3 corners "
                   "and the closing point)", "redraw the outline, or delete the stray ring"),
    "invalid": ("invalid geometry: {reason} (coordinates in the file's CRS)", "invalid_other"),
    "repair_empty": ("invalid geometry ({reason}) has no area left after make_valid", "redraw the outline"),
    "repaired": ("invalid geometry ({reason}) repaired with make_valid: area {before:.2f} ha as drawn -> "
                 "{after:.2f} ha after repair ({change:+.2f} ha)",
                 "check the repaired outline; better, correct it in the GIS and submit again"),
    "geos_failed": ("the outline cannot be {operation} ({reason})",
                    "redraw the outline; a very thin or self-touching part is the usual cause"),
    "not_degrees": ("coordinates are not longitude/latitude degrees (x {x0:,.0f}..{x1:,.0f}, y {y0:,.0f}..{y1:,.0f}) "
                    "but the CRS is {crs} (GeoJSON without a 'crs' member is WGS84 per RFC 7946).{hint}",
                    "reproject to WGS84 (EPSG:4326), or declare the CRS, e.g. \"crs\": {{\"type\": \"name\", "
                    "\"properties\": {{\"name\": \"urn:ogc:def:crs:EPSG::25832\"}}}}"),
    "crs_untransformable": ("the file's CRS '{crs}' cannot be transformed to EPSG:25832 ({reason})",
                            "export the outline in EPSG:25832 (ETRS89 / UTM 32N) or WGS84 (EPSG:4326)"),
    "outside_box": ("the site lies outside Denmark ({where}; Denmark is within {box}){hint}",
                    "check the coordinates and the declared CRS (GeoJSON without 'crs' is WGS84 longitude/latitude)"),
    # ------------------------------------------------------------------ location and area
    "no_municipality": ("the site lies in no Danish municipality (at sea, abroad or off the kommuner layer)",
                        "check the outline's coordinates and the declared CRS"),
    "outside_land": ("{share} of the drawn area ({outside_ha:,.1f} ha) lies outside Danish land (abroad or at sea); "
                     "only the {land_ha:,.1f} ha on Danish land are screened",
                     "check the outline; a site is screened on Danish land only"),
    "mostly_outside_land": ("{share} of the drawn area ({outside_ha:,.1f} ha) lies outside Danish land (abroad or "
                            "at sea); more than {limit} is refused",
                            "check the outline and its CRS; a site must lie mainly on Danish land"),
    "unknown_code": ("{value} is not one of the {count} DAGI municipality codes of the kommuner layer", "kommunekode"),
    "few_in_applicants": ("only {stated:.0%} of the site lies in its applying municipalities ({applying}); "
                          "{other:.0%} lies in other municipalities, most in {code} {name}",
                          "check kommunekode (the lead municipality) and the outline; a municipality the site "
                          "extends into belongs among the co-applicants"),
    "name_mismatch": ("{value} does not match kommunekode {code} ({actual})", "correct {column} or kommunekode"),
    "area_too_small": ("implausible area: {area:,.2f} ha is below the {limit:g} ha minimum of an industrial park "
                       "site", "check the outline, and that the CRS matches the coordinates"),
    "area_too_large": ("implausible area: {area:,.2f} ha is above the {limit:,.0f} ha maximum of an industrial "
                       "park site", "check the outline, and that the CRS matches the coordinates"),
    "declared_off": ("declared {declared:,.2f} ha but the geometry has {area:,.2f} ha ({off:.0%} off)",
                     "correct the declared area or the outline"),
}
"""Problem kind -> (message, fix); a fix naming a key of `FIXES` is that fix."""

FIXES: dict[str, str] = {
    "unknown": ("rename it to a schema field (docs/SUBMISSION_SCHEMA.md), drop it, or send a GeoPackage/GeoJSON, "
                "which keep full field names"),
    "int": "write a whole number without units",
    "float": "write a number with '.' as decimal point, without units",
    "bool": "write true or false",
    "date": "write the date as ISO YYYY-MM-DD, e.g. 2026-01-28",
    "datetime": "write ISO 8601 with offset, e.g. 2026-02-01T12:00:00+01:00",
    "kommunekode": "write the lead municipality's 4-digit DAGI code, zero-padded, e.g. '0630' (Vejle)",
    "kommunekoder": "list 4-digit DAGI codes separated by commas, e.g. '0461,0751', or leave it empty",
    "values": "use one of: {values}",
    "code_here": "the site lies in {code} {name}; use '{code}' if that is the lead municipality",
    "invalid_coordinate": "a coordinate is not a number; export the outline again",
    "invalid_too_few": "a ring needs at least three corners; redraw the outline",
    "invalid_other": ("redraw the outline so its boundary does not cross or touch itself at that point, or rerun "
                      "with --repair (shapely.make_valid)"),
    "swapped": ("swap the two numbers of every coordinate pair (longitude 8-15 first, then latitude 54-58)"),
    "degrees": "declare WGS84 (EPSG:4326) for longitude/latitude coordinates, or reproject the outline to EPSG:25832",
}
"""Variant fixes, by key."""

TEXTS: dict[str, str] = {
    # pieces of the messages above
    "did_you_mean": "; did you mean '{name}'?",
    "not_a_number": "is not a number",
    "not_whole": "is not a whole number",
    "below_min": "is out of range (must be >= {min:g})",
    "not_above": "is out of range (must be > {gt:g})",
    "not_bool": "is not true or false",
    "not_iso": "is not an ISO {kind}",
    "not_code": "is not a 4-digit municipality code",
    "not_allowed": "is not one of the allowed values",
    "unknown_kommuner": "names unknown municipalities: {items}",
    "unknown_kommune": "'{item}'",
    "unknown_kommune_hint": "'{item}' (did you mean {code} {name}?)",
    "zip_no_shp": "no .shp (files: {files})",
    "none": "none",
    "bounds": "EPSG:25832 bounds {x0}, {y0}, {x1}, {y1}",
    "unplaceable": "it cannot be placed in EPSG:25832",
    "hint_metres": " They look like EPSG:25832 metres.",
    "hint_swapped": "; coordinates look like lat/lon swapped; GeoJSON order is [longitude, latitude]",
    "hint_degrees": "; coordinates look like longitude/latitude degrees, but the CRS is {crs}",
    "applying": "{code} {name}",
    "applying_with": "{code} {name} with co-applicants {partners}",
    "control_char": "a control character ({code})",
    "char": "'{char}' ({code})",
    "made_valid": "made valid",
    "intersected": "intersected with the municipalities",
    "joined": "joined into one outline",
    "ring_points": "a ring has {points} point{plural}",
    "damaged_wkb": "the stored geometry is damaged: {reason}",
}
"""Pieces that the messages above are assembled from."""

NOTES: dict[str, str] = {
    "outside_land": PROBLEMS["outside_land"][0],
    "kommune_elsewhere": "declared kommunekode {code} {name}, but the area lies {mostly}in {big} {big_name}, {region}",
    "region_elsewhere": "the area lies {mostly}in {region}, the lead municipality {code} {name} in {lead_region}",
    "region_used": "; the region of the area is used for geographic spread",
    "mostly": "mostly ",
    "join": "; ",
}
"""Per-site notes (``site_notes``, shown on the card), joined by NOTES["join"]."""

SUMMARY: dict[str, str] = {
    "totals": "{count} application(s), {area_ha:,.1f} ha, from {files} file(s): all valid",
    "warnings": "{count} warning(s):",
    "warnings_logged": "{count} warning(s) (logged)",
    "notes": "Notes on the sites (shown on their cards):",
}
"""Lines of the ``industripark submissions check`` summary."""


@dataclass(frozen=True)
class Problem:
    """One problem of a submission file.

    ``feature_index`` is the 0-based position of the feature in the file (``features[i]`` in GeoJSON),
    None for a problem of the whole file; ``field`` is the column as named in the file.
    """

    file: str
    feature_index: int | None
    application_id: str | None
    field: str | None
    message: str
    fix: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = [self.file or "<no file>"]
        if self.feature_index is not None:
            where.append(f"features[{self.feature_index}]"
                         + (f" ({shown(self.application_id, quote=False)})" if self.application_id else ""))
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{self.severity}: {', '.join(where)}: {self.message}; fix: {self.fix}"


def problem(file: str, kind: str, *, index: int | None = None, app_id: str | None = None, field: str | None = None,
            severity: Literal["error", "warning"] = "error", fix: str | None = None, **values) -> Problem:
    """A `Problem` of kind `kind` (a key of `PROBLEMS`), its texts filled with `values`; `fix` a key of `FIXES`."""
    message, default_fix = PROBLEMS[kind]
    fix_text = FIXES.get(fix or default_fix, default_fix if fix is None else fix)
    return Problem(file, index, app_id, field, message.format(**values), fix_text.format(**values), severity)


def text(key: str, **values) -> str:
    """A piece of a message (`TEXTS`), a note (`NOTES`) or a summary line (`SUMMARY`), filled in."""
    template = TEXTS.get(key) or NOTES.get(key) or SUMMARY[key]
    return template.format(**values)


def shown(value, *, limit: int = 40, quote: bool = True) -> str:
    r"""A value from a file as shown in a message: control characters escaped, cut after `limit` characters.

    Examples
    --------
    >>> shown("A\tB")
    "'A\\tB'"
    >>> shown("x" * 100, limit=3)
    "'xxx…' (100 characters)"
    """
    raw = str(value)
    more = len(raw) > limit
    body = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in raw[:limit])
    body = (f"'{body}" if quote else body) + ("…" if more else "") + ("'" if quote else "")
    return body + (f" ({len(raw):,} characters)" if more else "")


def percent(share: float) -> str:
    """A share as shown in notes: whole percent with a space, '36 %' (below 1 %: one decimal)."""
    return f"{share * 100:.1f} %" if share < 0.01 else f"{share * 100:.0f} %"


class Locator:
    """Builds the problems of one file: ``at(i, field, kind, **values)``; ``i`` None = the whole file."""

    def __init__(self, file: str, ids: list[str | None]):
        self.file, self.ids = file, ids

    def __call__(self, i, field, kind: str, severity: Literal["error", "warning"] = "error", *,
                 fix: str | None = None, **values) -> Problem:
        index = None if i is None else int(i)
        app_id = None if index is None else self.ids[index]
        return problem(self.file, kind, index=index, app_id=app_id, field=field, severity=severity, fix=fix,
                       **values)

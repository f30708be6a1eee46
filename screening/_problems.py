"""Problems of submission files and every text the submission checks show, in one place.

Each problem kind is a key of `PROBLEMS`: a message and a fix, English source texts with ``%(name)s``
placeholders, translated into the current language (`screening.i18n`) when `problem` (or `Locator`) fills
them; a message given as a (singular, plural) pair is chosen by the value ``n`` (``%(num)s``). Variant fixes
are keys of `FIXES`; pieces of messages are `TEXTS`; per-site notes (the ``site_notes`` column, shown on the
card) are `NOTES`; the ``submissions check`` summary lines are `SUMMARY`. Nothing else in the submission
modules words a sentence. Numbers are formatted for the language by the caller (`screening.i18n` helpers,
`num`, `percent`) before they are filled in. Values that come from a file (ids, cell text) are shown through
`shown`: quoted, control characters escaped, truncated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from screening.i18n import N_, fmt_number, fmt_percent
from screening.i18n import gettext as _

__all__ = ["Problem", "Locator", "PROBLEMS", "FIXES", "NOTES", "SUMMARY", "problem", "text", "shown", "percent",
           "share", "num"]

_ID_FIX = N_("use a short id of letters (A-Z, æ, ø, å, é, ...), digits, '-', '_', '.' and spaces, at most "
             "%(max_len)s characters, starting with a letter or digit, e.g. 'VEJ-2026-01' (no '/' or '\\')")

PROBLEMS: dict[str, tuple] = {
    # ------------------------------------------------------------------ files
    "no_files": (N_("no submission file given"), N_("pass GeoJSON, GeoPackage, zipped Shapefile or GeoParquet")),
    "bad_suffix": (N_("'%(suffix)s' is not a submission format"),
                   N_("save the sites as GeoJSON (.geojson), GeoPackage (.gpkg), zipped Shapefile (.zip) or "
                      "GeoParquet (.parquet)")),
    "is_folder": (N_("is a folder, not a file"), N_("check the path")),
    "not_found": (N_("file not found"), N_("check the path")),
    "no_crs_file": (N_("the file declares no CRS, so its coordinates cannot be placed"),
                    N_("export it again with its CRS (EPSG:25832, or WGS84 for GeoJSON)")),
    "no_features": (N_("the file holds no features (empty collection)"),
                    N_("add one Polygon/MultiPolygon feature per application (see data/template_submission.geojson)")),
    "parquet_unreadable": (N_("cannot be read as GeoParquet (%(reason)s)"),
                           N_("export it again as GeoParquet (e.g. GeoDataFrame.to_parquet), or as "
                              "GeoJSON/GeoPackage")),
    "parquet_no_geo": (N_("cannot be read as GeoParquet (Missing geo metadata: a plain Parquet table has no "
                          "geometry)"), N_("export it again as GeoParquet (e.g. GeoDataFrame.to_parquet), or as "
                                           "GeoJSON/GeoPackage")),
    "zip_unreadable": (N_("not a readable zip archive (%(reason)s)"),
                       N_("zip the shapefile's .shp, .shx, .dbf and .prj again (or send GeoJSON/GeoPackage)")),
    "zip_shapefiles": (N_("the zip must hold exactly one shapefile, found %(found)s"),
                       N_("zip one shapefile per file (.shp, .shx, .dbf, .prj), or send a GeoPackage")),
    "shp_missing_part": (N_("shapefile '%(shp)s' has no %(ext)s file"),
                         N_("add '%(stem)s%(ext)s' from the export (.shp, .shx, .dbf and .prj)")),
    "shp_missing_prj": (N_("shapefile '%(shp)s' has no .prj file, so its coordinates' CRS is unknown"),
                        N_("add the .prj written with the data (EPSG:25832 expected)")),
    "gpkg_unreadable": (N_("cannot be read as GeoPackage (%(reason)s)"),
                        N_("the file looks damaged or is not a GeoPackage; export it again")),
    "gpkg_layers": (N_("the GeoPackage must hold exactly one layer with geometry, found %(count)s: %(found)s"),
                    N_("keep one layer of application sites per file (or send one file per layer)")),
    "ogr_unreadable": (N_("cannot be read as %(fmt)s: %(reason)s"),
                       N_("the file is damaged or is not %(fmt)s; export it again from the GIS and check it opens")),
    "json_truncated": (N_("the file ends before its JSON is complete (it breaks off at character %(pos)s of "
                          "%(length)s)"), N_("the file looks truncated (an interrupted download or copy); export it "
                                             "again from the GIS and check it opens")),
    "json_invalid": (N_("the file is not valid JSON: %(reason)s at line %(line)s column %(column)s"),
                     N_("export it again as GeoJSON from the GIS; a hand-edited file can be checked with a JSON "
                        "validator")),
    "json_not_text": (N_("the file is not UTF-8 text (%(reason)s), so it is not GeoJSON"),
                      N_("export it again as GeoJSON (UTF-8), or send the GeoPackage or zipped Shapefile")),
    "geojson_unreadable": (N_("is valid JSON but cannot be read as GeoJSON: %(reason)s"),
                           N_("write a FeatureCollection of Polygon features (see data/template_submission.geojson)")),
    # ------------------------------------------------------------------ attributes
    "unknown_field": (N_("unknown field '%(column)s' is ignored%(hint)s"), "unknown"),
    "field_twice": (N_("field '%(column)s' is ignored: '%(other)s' already gives %(field)s"), "unknown"),
    "field_ambiguous": (N_("shapefile field '%(column)s' is ignored: it could be any of %(fields)s (shapefiles cut "
                           "names to 10 characters); name the columns %(short)s before the export"), "unknown"),
    "required_missing": (N_("required field '%(name)s' is missing from the file"),
                         N_("add '%(name)s' to every feature (%(meaning)s)")),
    "required_empty": (N_("required field '%(name)s' has no value"), N_("fill in %(meaning)s")),
    "bad_value": (N_("%(value)s %(why)s"), N_("see docs/SUBMISSION_SCHEMA.md")),
    "recommended_absent": (N_("recommended fields absent: %(fields)s; the criteria using them are 'not assessed'"),
                           N_("add them (see data/template_submission.geojson)")),
    "id_twice": (N_("application_id %(value)s is also used by features[%(first)s]"),
                 N_("give every application its own id")),
    "id_twice_files": (N_("application_id %(value)s is also used by %(first_file)s features[%(first)s]"),
                       N_("give every application its own id across all files")),
    "id_too_long": (N_("application_id %(value)s is %(length)s characters long; at most %(max_len)s are allowed"),
                    _ID_FIX),
    "id_bad_chars": (N_("application_id %(value)s contains %(chars)s, which an id may not hold"), _ID_FIX),
    "id_bad_start": (N_("application_id %(value)s must start with a letter or a digit"), _ID_FIX),
    "is_example": (N_("this is the template's example feature (is_example is true)"),
                   N_("replace the example values with the application's own and set is_example to false")),
    "new_plots": (N_("new_plots_ha exceeds area_ha_declared"),
                  N_("new building plots are part of the declared area; check both")),
    # ------------------------------------------------------------------ geometry
    "no_crs": (N_("the data has no CRS"), N_("declare the CRS (EPSG:25832)")),
    "no_geometry": (N_("the feature has no geometry"), N_("draw the site's outline as a Polygon")),
    "unreadable_geometry": (N_("the geometry cannot be read (%(reason)s)"),
                            N_("export the outline again from the GIS and check it opens")),
    "not_polygon": (N_("geometry is a %(geom_type)s; a site must be a Polygon or MultiPolygon"),
                    N_("submit the site's outline as a Polygon (no points, lines, collections)")),
    "nonfinite": (N_("%(bad)s of the outline's %(total)s coordinates are not numbers (NaN) or infinite"),
                  N_("export the outline again from the GIS; a coordinate was lost or damaged on the way")),
    "short_ring": ((N_("a ring of the outline has only %(num)s point; a ring needs at least 4 (3 corners and the "
                       "closing point)"),
                    N_("a ring of the outline has only %(num)s points; a ring needs at least 4 (3 corners and the "
                       "closing point)")), N_("redraw the outline, or delete the stray ring")),
    "invalid": (N_("invalid geometry: %(reason)s (coordinates in the file's CRS)"), "invalid_other"),
    "repair_empty": (N_("invalid geometry (%(reason)s) has no area left after make_valid"), N_("redraw the outline")),
    "repaired": (N_("invalid geometry (%(reason)s) repaired with make_valid: area %(before)s ha as drawn -> "
                    "%(after)s ha after repair (%(change)s ha)"),
                 N_("check the repaired outline; better, correct it in the GIS and submit again")),
    "geos_failed": (N_("the outline cannot be %(operation)s (%(reason)s)"),
                    N_("redraw the outline; a very thin or self-touching part is the usual cause")),
    "not_degrees": (N_("coordinates are not longitude/latitude degrees (x %(x0)s..%(x1)s, y %(y0)s..%(y1)s) but the "
                       "CRS is %(crs)s (GeoJSON without a 'crs' member is WGS84 per RFC 7946).%(hint)s"),
                    N_("reproject to WGS84 (EPSG:4326), or declare the CRS, e.g. \"crs\": {\"type\": \"name\", "
                       "\"properties\": {\"name\": \"urn:ogc:def:crs:EPSG::25832\"}}")),
    "crs_untransformable": (N_("the file's CRS '%(crs)s' cannot be transformed to EPSG:25832 (%(reason)s)"),
                            N_("export the outline in EPSG:25832 (ETRS89 / UTM 32N) or WGS84 (EPSG:4326)")),
    "outside_box": (N_("the site lies outside Denmark (%(where)s; Denmark is within %(box)s)%(hint)s"),
                    N_("check the coordinates and the declared CRS (GeoJSON without 'crs' is WGS84 "
                       "longitude/latitude)")),
    # ------------------------------------------------------------------ location and area
    "no_municipality": (N_("the site lies in no Danish municipality (at sea, abroad or off the kommuner layer)"),
                        N_("check the outline's coordinates and the declared CRS")),
    "outside_land": (N_("%(share)s of the drawn area (%(outside_ha)s ha) lies outside Danish land (abroad or at sea); "
                        "only the %(land_ha)s ha on Danish land are screened"),
                     N_("check the outline; a site is screened on Danish land only")),
    "mostly_outside_land": (N_("%(share)s of the drawn area (%(outside_ha)s ha) lies outside Danish land (abroad or "
                               "at sea); more than %(limit)s is refused"),
                            N_("check the outline and its CRS; a site must lie mainly on Danish land")),
    "unknown_code": (N_("%(value)s is not one of the %(count)s DAGI municipality codes of the kommuner layer"),
                     "kommunekode"),
    "few_in_applicants": (N_("only %(stated)s of the site lies in its applying municipalities (%(applying)s); "
                             "%(other)s lies in other municipalities, most in %(code)s %(name)s"),
                          N_("check kommunekode (the lead municipality) and the outline; a municipality the site "
                             "extends into belongs among the co-applicants")),
    "name_mismatch": (N_("%(value)s does not match kommunekode %(code)s (%(actual)s)"),
                      N_("correct %(column)s or kommunekode")),
    "area_too_small": (N_("implausible area: %(area)s ha is below the %(limit)s ha minimum of an industrial park "
                          "site"), N_("check the outline, and that the CRS matches the coordinates")),
    "area_too_large": (N_("implausible area: %(area)s ha is above the %(limit)s ha maximum of an industrial "
                          "park site"), N_("check the outline, and that the CRS matches the coordinates")),
    "declared_off": (N_("declared %(declared)s ha but the geometry has %(area)s ha (%(off)s off)"),
                     N_("correct the declared area or the outline")),
}
"""Problem kind -> (message, fix); a fix naming a key of `FIXES` is that fix; a message (singular, plural)
is chosen by the value ``n``."""

FIXES: dict[str, str] = {
    "unknown": N_("rename it to a schema field (docs/SUBMISSION_SCHEMA.md), drop it, or send a GeoPackage/GeoJSON, "
                  "which keep full field names"),
    "int": N_("write a whole number without units"),
    "float": N_("write a number with '.' as decimal point, without units"),
    "bool": N_("write true or false"),
    "date": N_("write the date as ISO YYYY-MM-DD, e.g. 2026-01-28"),
    "datetime": N_("write ISO 8601 with offset, e.g. 2026-02-01T12:00:00+01:00"),
    "kommunekode": N_("write the lead municipality's 4-digit DAGI code, zero-padded, e.g. '0630' (Vejle)"),
    "kommunekoder": N_("list 4-digit DAGI codes separated by commas, e.g. '0461,0751', or leave it empty"),
    "values": N_("use one of: %(values)s"),
    "code_here": N_("the site lies in %(code)s %(name)s; use '%(code)s' if that is the lead municipality"),
    "invalid_coordinate": N_("a coordinate is not a number; export the outline again"),
    "invalid_too_few": N_("a ring needs at least three corners; redraw the outline"),
    "invalid_other": N_("redraw the outline so its boundary does not cross or touch itself at that point, or rerun "
                        "with --repair (shapely.make_valid)"),
    "swapped": N_("swap the two numbers of every coordinate pair (longitude 8-15 first, then latitude 54-58)"),
    "degrees": N_("declare WGS84 (EPSG:4326) for longitude/latitude coordinates, or reproject the outline to "
                  "EPSG:25832"),
    "schema": N_("see docs/SUBMISSION_SCHEMA.md"),
}
"""Variant fixes, by key."""

TEXTS: dict[str, str | tuple[str, str]] = {
    # pieces of the messages above
    "did_you_mean": N_("; did you mean '%(name)s'?"),
    "not_a_number": N_("is not a number"),
    "not_whole": N_("is not a whole number"),
    "below_min": N_("is out of range (must be >= %(min)s)"),
    "not_above": N_("is out of range (must be > %(gt)s)"),
    "not_bool": N_("is not true or false"),
    "not_iso_date": N_("is not an ISO date"),
    "not_iso_datetime": N_("is not an ISO datetime"),
    "not_code": N_("is not a 4-digit municipality code"),
    "not_allowed": N_("is not one of the allowed values"),
    "unknown_kommuner": N_("names unknown municipalities: %(items)s"),
    "unknown_kommune": N_("'%(item)s'"),
    "unknown_kommune_hint": N_("'%(item)s' (did you mean %(code)s %(name)s?)"),
    "zip_no_shp": N_("no .shp (files: %(files)s)"),
    "none": N_("none"),
    "bounds": N_("EPSG:25832 bounds %(x0)s, %(y0)s, %(x1)s, %(y1)s"),
    "unplaceable": N_("it cannot be placed in EPSG:25832"),
    "hint_metres": N_(" They look like EPSG:25832 metres."),
    "hint_swapped": N_("; coordinates look like lat/lon swapped; GeoJSON order is [longitude, latitude]"),
    "hint_degrees": N_("; coordinates look like longitude/latitude degrees, but the CRS is %(crs)s"),
    "applying": N_("%(code)s %(name)s"),
    "applying_with": N_("%(code)s %(name)s with co-applicants %(partners)s"),
    "control_char": N_("a control character (%(code)s)"),
    "char": N_("'%(char)s' (%(code)s)"),
    "made_valid": N_("made valid"),
    "intersected": N_("intersected with the municipalities"),
    "joined": N_("joined into one outline"),
    "damaged_wkb": N_("the stored geometry is damaged: %(reason)s"),
    "byte": N_("byte %(pos)s: %(reason)s"),
    "characters": N_("(%(n)s characters)"),
}
"""Pieces that the messages above are assembled from; a (singular, plural) pair is chosen by ``n``."""

NOTES: dict[str, str] = {
    "outside_land": PROBLEMS["outside_land"][0],
    "kommune_elsewhere": N_("declared kommunekode %(code)s %(name)s, but the area lies in %(big)s %(big_name)s, "
                            "%(region)s"),
    "kommune_elsewhere_mostly": N_("declared kommunekode %(code)s %(name)s, but the area lies mostly in %(big)s "
                                   "%(big_name)s, %(region)s"),
    "region_elsewhere": N_("the area lies in %(region)s, the lead municipality %(code)s %(name)s in %(lead_region)s"),
    "region_elsewhere_mostly": N_("the area lies mostly in %(region)s, the lead municipality %(code)s %(name)s in "
                                  "%(lead_region)s"),
    "region_used": N_("; the region of the area is used for geographic spread"),
}
"""Per-site notes (``site_notes``, shown on the card), joined by `NOTE_JOIN`."""
NOTE_JOIN = "; "

SUMMARY: dict[str, str] = {
    "totals": N_("%(count)s application(s), %(area_ha)s ha, from %(files)s file(s): all valid"),
    "warnings": N_("%(count)s warning(s):"),
    "warnings_logged": N_("%(count)s warning(s) (logged)"),
    "notes": N_("Notes on the sites (shown on their cards):"),
}
"""Lines of the ``industripark submissions check`` summary."""

_STR = {
    "error": N_("error"), "warning": N_("warning"), "no_file": N_("<no file>"), "field": N_("field '%(field)s'"),
    "line": N_("%(severity)s: %(where)s: %(problem)s; fix: %(fix)s"),
}
"""The words of `Problem.__str__`."""


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
        where = [self.file or _(_STR["no_file"])]
        if self.feature_index is not None:
            where.append(f"features[{self.feature_index}]"
                         + (f" ({shown(self.application_id, quote=False)})" if self.application_id else ""))
        if self.field:
            where.append(_(_STR["field"], field=self.field))
        return _(_STR["line"], severity=_(_STR[self.severity]), where=", ".join(where), problem=self.message,
                 fix=self.fix)


def problem(file: str, kind: str, *, index: int | None = None, app_id: str | None = None, field: str | None = None,
            severity: Literal["error", "warning"] = "error", fix: str | None = None, **values) -> Problem:
    """A `Problem` of kind `kind` (a key of `PROBLEMS`), its texts in the current language filled with `values`
    (numbers already formatted); `fix` a key of `FIXES`, or a text."""
    message, default_fix = PROBLEMS[kind]
    fix_text = FIXES.get(fix or default_fix, default_fix if fix is None else fix)
    return Problem(file, index, app_id, field, _fill(message, values), _fill(fix_text, values), severity)


def text(key: str, **values) -> str:
    """A piece of a message (`TEXTS`), a note (`NOTES`) or a summary line (`SUMMARY`), in the current language,
    filled in (numbers already formatted; a plural piece takes ``n``)."""
    template = TEXTS.get(key) or NOTES.get(key) or SUMMARY[key]
    return _fill(template, values)


def _fill(template, values: dict) -> str:
    if isinstance(template, tuple):  # (singular, plural), chosen by n; each form is its own catalog entry, so
        n = values["n"]  # the choice follows the English rule, which is also the Danish one (n != 1)
        return _(template[0 if n == 1 else 1], num=fmt_number(n), **{k: v for k, v in values.items() if k != "n"})
    return _(template, **values)


def shown(value, *, limit: int = 40, quote: bool = True) -> str:
    r"""A value from a file as shown in a message: control characters escaped, cut after `limit` characters.

    Examples
    --------
    >>> from screening.i18n import use
    >>> shown("A\tB")
    "'A\\tB'"
    >>> with use("en"):
    ...     shown("x" * 100, limit=3)
    "'xxx…' (100 characters)"
    """
    raw = str(value)
    more = len(raw) > limit
    body = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in raw[:limit])
    body = (f"'{body}" if quote else body) + ("…" if more else "") + ("'" if quote else "")
    return body + (" " + text("characters", n=fmt_number(len(raw))) if more else "")


def percent(share: float) -> str:
    """A share as shown in notes: whole percent with a space, '36 %' (below 1 %: one decimal), in the
    current language ('0,5 %')."""
    return f"{fmt_number(share * 100, 1 if share < 0.01 else 0)} %"


def share(value: float) -> str:
    """A 0-1 share in a message, in the current language: '36%' (English), '36 %' (Danish)."""
    return fmt_percent(value)


def num(value: float, decimals: int = 0) -> str:
    """A number in a message, in the current language ('1,234.5' / '1.234,5'); a whole `value` without
    decimals when `decimals` is None (like ``%g``)."""
    if decimals is None:
        decimals = 0 if float(value).is_integer() else 2
    return fmt_number(value, decimals)


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

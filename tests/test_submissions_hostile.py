"""Hostile submission files (issue 11): ids, unreadable or non-finite geometry, sites partly abroad or at sea,
a kommunekode that does not match the land, a large valid GeoJSON, fields missing from one whole file.

Every file is made here (tmp_path) from raw WKB or text, in each format a municipality may send; the land is
the two synthetic municipalities of `tests._submission_fixtures` (x 500-540 km, y 6,200-6,220 km, EPSG:25832)
so shares and areas are known by construction.
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
import unicodedata
import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import box

from screening import scoring, submissions
from screening._validate_geometry import diagnose_wkb, guarded
from screening.cli import main
from screening.config import Criteria
from screening.errors import SubmissionError
from screening.submissions import load_submissions, validate
from tests._submission_fixtures import (
    LAND_X1,
    Y0,
    feature,
    ring,
    square,
    synthetic_kommuner,
    wgs84,
    wkb_multi,
    wkb_polygon,
    write_geojson,
    write_wkb,
)

NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def kommuner() -> gpd.GeoDataFrame:
    """Two 20 km x 20 km municipalities, EPSG:25832: 0101 at x 500-520 km, 0630 at x 520-540 km."""
    return synthetic_kommuner()


# --------------------------------------------------------------------------- 1. application ids


@pytest.mark.parametrize(("app_id", "match"), [
    ("A/1", r"application_id 'A/1' contains '/' \(U\+002F\)"),
    ("A\\1", r"contains '\\' \(U\+005C\)"),
    ("A\tB", r"application_id 'A\\tB' contains a control character \(U\+0009\)"),
    ("A\x1b[31mB", r"contains a control character \(U\+001B\)"),
    ("A\u202eB", r"contains a control character \(U\+202E\)"),  # right-to-left override
    ("<img src=x onerror=alert(1)>", r"contains '<' \(U\+003C\), '=' \(U\+003D\), '\(' \(U\+0028\)"),
    ("A" * 10_000, r"application_id 'A{40}…' \(10,000 characters\) is 10,000 characters long; at most 64"),
    (".hidden", r"application_id '\.hidden' must start with a letter or a digit"),
    ("-rf", r"must start with a letter or a digit"),
], ids=["slash", "backslash", "tab", "escape", "rtl-override", "html", "10000-chars", "dot-first", "dash-first"])
def test_bad_application_ids_are_errors_naming_the_fix(tmp_path, kommuner, app_id, match):
    path = write_geojson(tmp_path / "s.geojson", [feature(square(), application_id="OK-1"),
                                                  feature(square(dx=8_000), application_id=app_id)], epsg=25832)
    report = validate(path, kommuner=kommuner)
    (error,) = report.errors
    assert (error.file, error.feature_index, error.field) == (str(path), 1, "application_id")
    assert re.search(match, error.message), error.message
    assert "digits, '-', '_', '.' and spaces" in error.fix and "e.g. 'VEJ-2026-01'" in error.fix
    assert len(str(error)) < 600  # the bad value is shown truncated, never 10,000 characters


@pytest.mark.parametrize("app_id", ["VEJ-2026-01", "Århus Ø 1", "HOL-2025-A", "v1.2_b", "7", "Køge Nord"])
def test_good_application_ids_load(tmp_path, kommuner, app_id):
    path = write_geojson(tmp_path / "s.geojson", [feature(square(), application_id=app_id)], epsg=25832)
    assert load_submissions([path], kommuner=kommuner)["application_id"].tolist() == [app_id]


def test_ids_differing_in_case_are_distinct_applications(tmp_path, kommuner):
    path = write_geojson(tmp_path / "s.geojson", [feature(square(), application_id="A_1"),
                                                  feature(square(dx=8_000), application_id="a_1")], epsg=25832)
    assert load_submissions([path], kommuner=kommuner)["application_id"].tolist() == ["A_1", "a_1"]


def test_the_same_id_in_two_unicode_forms_is_one_id(tmp_path, kommuner):
    """'Å' typed as one character or as 'A' plus a combining ring is the same visible id (NFC)."""
    composed, decomposed = "Å-1", unicodedata.normalize("NFD", "Å-1")
    assert composed != decomposed
    path = write_geojson(tmp_path / "s.geojson", [feature(square(), application_id=composed),
                                                  feature(square(dx=8_000), application_id=decomposed)],
                         epsg=25832)
    (error,) = validate(path, kommuner=kommuner).errors
    assert (error.feature_index, error.field) == (1, "application_id")
    assert "application_id 'Å-1' is also used by features[0]" in error.message


def test_ids_are_unique_across_files(tmp_path, kommuner):
    one = write_geojson(tmp_path / "one.geojson", [feature(square(), application_id="X-1")], epsg=25832)
    two = write_geojson(tmp_path / "two.geojson", [feature(square(dx=8_000), application_id="X-1")], epsg=25832)
    with pytest.raises(SubmissionError, match=rf"'X-1' is also used by {one} features\[0\]"):
        load_submissions([one, two], kommuner=kommuner)


# --------------------------------------------------------------------------- 2. hostile geometry

GOOD = ring(square())
_NAN_RING = [(NAN, NAN)] * 4
_ONE_NAN = [GOOD[0], (NAN, GOOD[1][1]), *GOOD[2:]]
_ONE_INF = [GOOD[0], (INF, GOOD[1][1]), *GOOD[2:]]

HOSTILE = {  # name: (WKB of features[1], expected error of features[1] or None when it must load)
    "all-nan": (wkb_polygon(_NAN_RING), r"4 of the outline's 4 coordinates are not numbers \(NaN\) or infinite"),
    "one-nan": (wkb_polygon(_ONE_NAN), r"1 of the outline's 5 coordinates are not numbers \(NaN\) or infinite"),
    "one-inf": (wkb_polygon(_ONE_INF), r"1 of the outline's 5 coordinates are not numbers"),
    "nan-second-part": (wkb_multi("MultiPolygon", wkb_polygon(ring(square(dx=8_000))), wkb_polygon(_NAN_RING)),
                        r"4 of the outline's 9 coordinates are not numbers"),
    "one-point-ring": (wkb_polygon([GOOD[0]]), r"a ring of the outline has only 1 point"),
    "two-point-ring": (wkb_polygon(GOOD[:2]), r"a ring of the outline has only [23] points"),  # closed on reading
    "unclosed-ring": (wkb_polygon(GOOD[:4]), None),  # a GIS would close it: read as closed
    "empty-ring": (wkb_polygon([]), r"the feature has no geometry"),
    "huge": (wkb_polygon([(1e300, 1e300), (2e300, 1e300), (2e300, 2e300), (1e300, 1e300)]),
             r"the site lies outside Denmark \(EPSG:25832 bounds 1e\+300, 1e\+300, 2e\+300, 2e\+300"),
    "collection": (wkb_multi("GeometryCollection", wkb_polygon(ring(square(dx=8_000)))),
                   r"geometry is a GeometryCollection; a site must be a Polygon or MultiPolygon"),
    "degrees-as-metres": (wkb_polygon(ring(wgs84(square(dx=8_000)))),
                          r"outside Denmark .*coordinates look like longitude/latitude degrees, but the CRS is "
                          r"EPSG:25832"),
    "z-with-nan-z": (wkb_polygon([(*c, NAN) for c in ring(square(dx=8_000))], dims="Z"), None),
    "m": (wkb_polygon([(*c, 7.0) for c in ring(square(dx=8_000))], dims="M"), None),
    "zm": (wkb_polygon([(*c, 1.0, 2.0) for c in ring(square(dx=8_000))], dims="ZM"), None),
}
_NOT_IN = {  # what a format cannot carry at all (its writer refuses or changes it), so it is not sent
    ".geojson": {"m", "zm"},  # GeoJSON positions have no M
    ".zip": {"collection", "one-point-ring", "empty-ring"},  # a Polygon shapefile holds polygons with rings
}


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".zip", ".parquet"])
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_geometry_is_a_problem_of_its_feature(tmp_path, kommuner, suffix, kind):
    if kind in _NOT_IN.get(suffix, ()):
        pytest.skip(f"{suffix} cannot carry {kind}")
    blob, match = HOSTILE[kind]
    path = write_wkb(tmp_path / f"s{suffix}", [wkb_polygon(GOOD), blob])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow or invalid-value noise either
        report = validate(path, kommuner=kommuner)
    if match is None:
        assert report.errors == [], [str(p) for p in report.errors]
        assert report.candidates["area_ha"].tolist() == pytest.approx([100.0, 100.0])
        assert not report.candidates.has_z.any()
        return
    (error,) = report.errors
    assert (error.file, error.feature_index, error.application_id, error.field) == (str(path), 1, "A-2",
                                                                                     "geometry")
    assert re.search(match, error.message), error.message


def test_a_crs_without_a_way_to_epsg_25832_is_a_problem(kommuner):
    local = ('LOCAL_CS["site grid",LOCAL_DATUM["x",0],UNIT["metre",1],AXIS["X",EAST],AXIS["Y",NORTH]]')
    sites = gpd.GeoDataFrame({"application_id": ["A-1"], "kommunekode": ["0101"]}, geometry=[box(0, 0, 1e3, 1e3)],
                             crs=local)
    (error,) = validate(sites, kommuner=kommuner).errors
    assert (error.feature_index, error.field) == (None, "geometry")
    assert error.message.startswith("the file's CRS 'site grid' cannot be transformed to EPSG:25832")


@pytest.mark.parametrize(("blob", "kind", "values"), [
    (wkb_polygon(_NAN_RING), "nonfinite", {"bad": 4, "total": 4}),
    (struct.pack(">BI", 0, 3) + struct.pack(">II", 1, 4) + struct.pack(">8d", *[NAN] * 8),  # big endian
     "nonfinite", {"bad": 4, "total": 4}),
    (struct.pack("<BII", 1, 0xA0000003, 25832) + struct.pack("<II", 1, 4)  # EWKB: Z flag and SRID
     + struct.pack("<12d", *[1.0, 2.0, NAN] * 3, INF, 2.0, 0.0), "nonfinite", {"bad": 1, "total": 4}),
    (wkb_polygon([GOOD[0]]), "short_ring", {"points": 1}),
    (wkb_polygon(GOOD)[:-8], "unreadable_geometry", None),  # the reason: Python's struct message
], ids=["nan", "big-endian", "ewkb-z-srid", "one-point", "cut-off-blob"])
def test_unbuildable_wkb_is_diagnosed(blob, kind, values):
    got_kind, got_values = diagnose_wkb(blob)
    assert got_kind == kind
    if values is None:
        assert got_values["reason"].startswith("the stored geometry is damaged: ")
    else:
        assert got_values == values


def test_a_damaged_blob_in_geoparquet_is_a_problem_of_its_feature(tmp_path, kommuner):
    path = write_wkb(tmp_path / "s.parquet", [wkb_polygon(GOOD), wkb_polygon(GOOD)[:-8]])
    (error,) = validate(path, kommuner=kommuner).errors
    assert (error.feature_index, error.field) == (1, "geometry")
    assert error.message.startswith("the geometry cannot be read (the stored geometry is damaged")


def test_a_geos_failure_on_one_outline_is_found_and_kept_apart():
    """`guarded` runs vectorised; when GEOS throws, it retries per element and names the failing one."""
    geoms = np.array([box(0, 0, 1, 1), box(5, 5, 6, 6), box(0, 0, 2, 2)], dtype=object)

    def fails_on_the_second(g):
        if any(shapely.equals(x, geoms[1]) for x in g):
            raise shapely.errors.GEOSException("TopologyException: side location conflict at 5 5")
        return shapely.area(g)

    out, failed = guarded(fails_on_the_second, geoms)
    assert out.tolist() == [1.0, None, 4.0]
    assert failed == {1: "side location conflict at 5 5"}


@pytest.mark.mirror
def test_cli_check_of_an_all_nan_polygon_exits_2_without_traceback(tmp_path, mirror_root):
    site = box(516_000, 6_190_000, 517_000, 6_191_000)  # near Give in Vejle Kommune, EPSG:25832
    path = write_wkb(tmp_path / "s.geojson", [wkb_polygon(ring(site)), wkb_polygon(_NAN_RING)],
                     kommunekode=["0630", "0630"])
    res = CliRunner().invoke(main, ["submissions", "check", str(path)])
    assert res.exit_code == 2, res.output
    assert "features[1] (A-2), field 'geometry': 4 of the outline's 4 coordinates are not numbers" in res.output
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)


# --------------------------------------------------------------------------- 3. partly abroad or at sea


def _east_edge(outside_m: float, side: float = 1_000) -> box:
    """A side x side m square on the land's east edge (x 540 km) with `outside_m` of its width beyond it."""
    return box(LAND_X1 - side + outside_m, Y0 + 5_000, LAND_X1 + outside_m, Y0 + 5_000 + side)


@pytest.mark.parametrize(("outside_m", "side", "area_ha", "outside_ha", "note"), [
    (0, 1_000, 100.0, 0.0, ""),
    (5, 1_000, 100.0, 0.5, ""),  # 0.5 % (a coastline sliver): kept as drawn, no note
    (3, 100, 1.0, 0.03, ""),  # 3 % of a 1 ha site, but only 0.03 ha: below the 0.5 ha floor
    (360, 1_000, 64.0, 36.0, "36 % of the drawn area (36.0 ha) lies outside Danish land (abroad or at sea); "
                             "only the 64.0 ha on Danish land are screened"),
], ids=["inland", "sliver", "small-site-sliver", "36-percent"])
def test_the_danish_part_is_screened(tmp_path, kommuner, outside_m, side, area_ha, outside_ha, note):
    drawn = _east_edge(outside_m, side)
    path = write_geojson(tmp_path / "s.geojson", [feature(drawn, kommunekode="0630")], epsg=25832)
    gdf = load_submissions([path], kommuner=kommuner)
    row = gdf.iloc[0]
    assert row["area_ha"] == pytest.approx(area_ha)
    assert row["geometry"].area / 10_000 == pytest.approx(area_ha)  # exclusion and scoring see this outline
    assert row["outside_denmark_ha"] == pytest.approx(outside_ha)
    assert row["outside_denmark_share"] == pytest.approx(outside_ha / (drawn.area / 10_000))
    assert row["site_notes"] == note
    assert (f"  - A-1: {note}" in submissions.summary_text(gdf)) == bool(note)  # submissions check shows it
    found = [w for w in gdf.attrs["warnings"] if "outside Danish land" in w]
    assert found == ([f"warning: {path}, features[0] (A-1), field 'geometry': {note}; fix: check the outline; "
                      "a site is screened on Danish land only"] if note else [])


def test_a_site_mostly_outside_danish_land_is_refused(tmp_path, kommuner):
    path = write_geojson(tmp_path / "s.geojson", [feature(_east_edge(600), kommunekode="0630")], epsg=25832)
    (error,) = validate(path, kommuner=kommuner).errors
    assert (error.feature_index, error.field) == (0, "geometry")
    assert error.message == ("60 % of the drawn area (60.0 ha) lies outside Danish land (abroad or at sea); more "
                             "than 50 % is refused")
    assert error.fix == "check the outline and its CRS; a site must lie mainly on Danish land"


@pytest.mark.mirror
def test_2025_squares_at_harbours_are_not_refused(mirror_root):
    kommuner = gpd.read_file(mirror_root / "boundaries" / "kommuner.gpkg")
    gdf = load_submissions([mirror_root / "submissions" / "applications_2025_approx.gpkg"], kommuner=kommuner)
    share = gdf.set_index("application_id")["outside_denmark_share"]
    assert len(gdf) == 15  # none refused
    # Invented squares: AAL-2025 reaches into Limfjorden, KER-2025 into Kerteminde Fjord (see the report).
    assert share["AAL-2025"] == pytest.approx(0.144, abs=0.001)
    assert share["KER-2025"] == pytest.approx(0.0315, abs=0.001)
    assert share.drop(["AAL-2025", "KER-2025"]).max() < 0.001  # ESB, LOL, ... at harbours: inside
    noted = gdf.set_index("application_id")["site_notes"]
    assert sorted(noted[noted != ""].index) == ["AAL-2025", "KER-2025"]


# --------------------------------------------------------------------------- 4. kommunekode vs. the land


def test_region_comes_from_the_land_not_the_declared_code(tmp_path, kommuner):
    path = write_geojson(tmp_path / "s.geojson", [feature(square(dx=25_000), kommunekode="0101")], epsg=25832)
    row = load_submissions([path], kommuner=kommuner).iloc[0]
    assert (row["kommunekode"], row["kommunenavn"]) == ("0101", "København")  # the applicant as declared
    assert (row["regionskode"], row["regionsnavn"]) == ("1083", "Region Syddanmark")  # where the land is
    assert row["site_notes"] == ("declared kommunekode 0101 København, but the area lies in 0630 Vejle, Region "
                                 "Syddanmark; the region of the area is used for geographic spread")


def test_a_site_in_its_own_municipality_has_no_note(tmp_path, kommuner):
    path = write_geojson(tmp_path / "s.geojson", [feature(square(dx=25_000), kommunekode="0630")], epsg=25832)
    row = load_submissions([path], kommuner=kommuner).iloc[0]
    assert (row["regionsnavn"], row["site_notes"]) == ("Region Syddanmark", "")


@pytest.mark.mirror
def test_a_vejle_site_declared_as_copenhagen_is_in_syddanmark(tmp_path, mirror_root):
    kommuner = gpd.read_file(mirror_root / "boundaries" / "kommuner.gpkg")
    site = box(516_000, 6_190_000, 517_000, 6_191_000)  # near Give in Vejle Kommune, EPSG:25832
    path = write_geojson(tmp_path / "s.geojson", [feature(wgs84(site), kommunekode="0101")])
    row = load_submissions([path], kommuner=kommuner).iloc[0]
    assert (row["kommunekode"], row["regionsnavn"]) == ("0101", "Region Syddanmark")
    assert row["site_notes"].startswith("declared kommunekode 0101 København, but the area lies in 0630 Vejle, "
                                        "Region Syddanmark;")


# --------------------------------------------------------------------------- 5. a large valid GeoJSON


@pytest.mark.slow
def test_a_large_valid_geojson_is_read(tmp_path, kommuner):
    """One circle of 1,200,000 vertices (30 MB of text, one feature beyond the size GDAL's GeoJSON reader
    takes by default, ~1.1 million vertices) around (510 km, 6,210 km), radius 564 m: the area of a circle, not
    'truncated'."""
    t = np.linspace(0, 2 * np.pi, 1_200_000, endpoint=False)
    xy = np.column_stack([510_000 + 564 * np.cos(t), 6_210_000 + 564 * np.sin(t)])
    ring_text = io.StringIO()
    np.savetxt(ring_text, np.vstack([xy, xy[:1]]), fmt="[%.3f,%.3f]", newline=",")  # C speed, unlike json
    placeholder = write_geojson(tmp_path / "big.geojson", [feature({"type": "Polygon", "coordinates": [[]]})],
                                epsg=25832).read_text()
    path = tmp_path / "big.geojson"
    path.write_text(placeholder.replace('"coordinates": [[]]', f'"coordinates": [[{ring_text.getvalue()[:-1]}]]'))
    assert path.stat().st_size > 25_000_000
    gdf = load_submissions([path], kommuner=kommuner)
    assert gdf["area_ha"].iloc[0] == pytest.approx(math.pi * 564**2 / 10_000, rel=1e-6)


@pytest.mark.parametrize(("text", "match"), [
    (lambda t: t[: len(t) // 2], r"the file ends before its JSON is complete \(it breaks off at character \d+ of "
                                 r"\d+\).*fix: the file looks truncated"),
    (lambda t: t.replace(":", ";", 1), r"the file is not valid JSON: Expecting ':' delimiter at line 1 column \d+"),
    (lambda t: json.dumps({"hello": [1, 2]}), r"is valid JSON but cannot be read as GeoJSON"),
], ids=["cut-off", "bad-json", "not-geojson"])
def test_truncation_is_a_real_parse_failure(tmp_path, kommuner, text, match):
    whole = json.dumps({"type": "FeatureCollection", "features": [feature(wgs84(square()))]})
    path = tmp_path / "s.geojson"
    path.write_text(text(whole))
    with pytest.raises(SubmissionError, match=match) as info:
        load_submissions([path], kommuner=kommuner)
    assert ("truncated" in str(info.value)) == match.startswith("the file ends")


# --------------------------------------------------------------------------- 6. a field missing from one file


def test_fields_absent_from_a_whole_file_are_listed_per_row(tmp_path, kommuner):
    one = write_geojson(tmp_path / "one.geojson", [
        feature(square(), application_id="A-1", kb_decision_date="2026-01-28"),
        feature(square(dx=8_000), application_id="A-2", kb_decision_date=None)], epsg=25832)
    two = write_geojson(tmp_path / "two.geojson", [feature(square(dx=11_000), application_id="B-1")], epsg=25832)
    gdf = load_submissions([one, two], kommuner=kommuner)
    assert gdf["fields_absent"].tolist() == ["", "", "kb_decision_date"]


def test_a_field_missing_from_one_whole_file_is_not_assessed(tmp_path, kommuner):
    one = write_geojson(tmp_path / "one.geojson", [
        feature(square(), application_id="A-1", kb_decision_date="2026-01-28", municipal_land_control="owned"),
        feature(square(dx=8_000), application_id="A-2", kb_decision_date=None, municipal_land_control="owned")],
        epsg=25832)
    two = write_geojson(tmp_path / "two.geojson", [
        feature(square(dx=11_000), application_id="B-1", municipal_land_control="owned")], epsg=25832)
    cand = load_submissions([one, two], kommuner=kommuner)
    criteria = Criteria.model_validate({
        "exclusions": {"min_net_area_ha": 10, "rules": []},
        "groups": [{"id": "commitment", "title": "Commitment", "weight": 1.0}],
        "criteria": [
            {"id": "council_decision", "group": "commitment", "title": "Council decision", "measure": "attribute",
             "field": "kb_decision_date", "mapping": {"present": 1.0, "absent": 0.0}, "unit": "date", "weight": 2},
            {"id": "land_control", "group": "commitment", "title": "Land control", "measure": "attribute",
             "field": "municipal_land_control", "mapping": {"owned": 1.0, "private": 0.25}, "unit": "status",
             "weight": 2}],
        "travel": {"speeds_kmh": {"motorway": 110}, "default_speed_kmh": 30, "detour_factor": 1.3,
                   "fallback_speed_kmh": 60, "access_snap_max_m": 5000},
        "selection": {"k_min": 1, "k_max": 1}})
    result = scoring.score(cand, {}, criteria)
    council = result.breakdown.loc[result.breakdown["criterion"] == "council_decision"].set_index("application_id")
    assert council["assessed"].to_dict() == {"A-1": True, "A-2": True, "B-1": False}
    assert council.loc[["A-1", "A-2"], "score"].tolist() == [1.0, 0.0]  # empty value: the mapping's 'absent'
    assert council.loc["B-1", "note"] == f"{two} has no kb_decision_date field (not assessed, not 'absent')"
    assert council.loc["B-1", "weight"] == 0.0
    scores = result.scores
    assert scores.loc["B-1", "score_total"] == pytest.approx(100.0)  # land control carries all the weight
    assert scores.loc["A-2", "score_total"] == pytest.approx(50.0)
    assert scores["flagged"].to_dict() == {"A-1": False, "A-2": False, "B-1": True}


def test_schema_doc_states_the_id_and_land_rules():
    text = submissions.schema_markdown()
    assert "at most 64 characters" in text and "outside Danish land" in text


# --------------------------------------------------------------------------- the card says it


def test_the_card_shows_the_site_notes(tmp_path):
    from screening import report
    from tests._report_fixtures import synthetic_context, synthetic_run

    run = synthetic_run()
    cand = run["candidates"].copy()
    note = ("36 % of the drawn area (144.0 ha) lies outside Danish land (abroad or at sea); only the 256.0 ha on "
            "Danish land are screened")
    first, second = cand["application_id"].iloc[:2]
    cand["site_notes"] = ""
    cand.loc[cand["application_id"] == first, "site_notes"] = note
    paths = report.write_report(tmp_path, cand, run["breakdown"], run["overlaps"], run["selection"], run["manifest"],
                                context=synthetic_context(), criteria=run["criteria"])
    assert note in paths[f"card_{first}"].read_text(encoding="utf-8")
    assert 'id="site-notes"' not in paths[f"card_{second}"].read_text(encoding="utf-8")

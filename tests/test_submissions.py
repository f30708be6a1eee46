"""Submission files: formats, CRS handling, every validation rule, normalisation, schema docs in sync.

Synthetic sites are squares on round EPSG:25832 coordinates inside two synthetic municipalities, so
areas, shares and suggestions are known by construction; files are written to tmp_path in each test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import MultiPolygon, Point, Polygon, box, mapping

from screening import submissions
from screening.config import PROJECT_ROOT
from screening.errors import CRSError, SubmissionError
from screening.submissions import Problem, load_submissions, read_submission_file, validate
from tests._submission_fixtures import (
    X0,
    Y0,
    feature,
    messages,
    metric_frame,
    square,
    synthetic_kommuner,
    wgs84,
    write_geojson,
    zipped_shapefile,
)


@pytest.fixture(scope="module")
def kommuner() -> gpd.GeoDataFrame:
    """Two 20 km x 20 km municipalities, EPSG:25832: 0101 at x 500-520 km, 0630 at x 520-540 km."""
    return synthetic_kommuner()


# --------------------------------------------------------------------------- formats and CRS


def _geojson_wgs84(tmp_path, gdf):
    return write_geojson(tmp_path / "s.geojson", [feature(wgs84(g), **r) for r, g in
                                                   zip(gdf.drop(columns="geometry").to_dict("records"),
                                                       gdf.geometry, strict=True)])


def _geojson_legacy_crs(tmp_path, gdf):
    return write_geojson(tmp_path / "s.geojson", [feature(g, **r) for r, g in
                                                   zip(gdf.drop(columns="geometry").to_dict("records"),
                                                       gdf.geometry, strict=True)], epsg=25832)


def _gpkg(tmp_path, gdf):
    path = tmp_path / "s.gpkg"
    gdf.to_file(path, layer="sites")
    pyogrio.write_dataframe(pd.DataFrame({"styleName": ["x"]}), path, layer="layer_styles")  # not a layer
    return path


def _parquet(tmp_path, gdf):
    gdf.to_crs(4326).to_parquet(tmp_path / "s.parquet")
    return tmp_path / "s.parquet"


@pytest.mark.parametrize("write", [_geojson_wgs84, _geojson_legacy_crs, _gpkg, zipped_shapefile, _parquet],
                         ids=["geojson-rfc7946", "geojson-legacy-crs-25832", "gpkg", "zipped-shapefile",
                              "geoparquet-wgs84"])
def test_formats_give_the_same_candidates(tmp_path, kommuner, write):
    sites = metric_frame([square(), square(dx=25_000, side=2_000)], kommunekode=["0101", "0630"],
                         business_loi_count=[3, 0], kb_date=["2026-01-28", "2026-02-03"])
    gdf = load_submissions([write(tmp_path, sites)], kommuner=kommuner)
    assert gdf.crs.to_epsg() == 25832
    assert list(gdf.columns[:len(submissions.CANDIDATE_COLUMNS)]) == list(submissions.CANDIDATE_COLUMNS)
    assert gdf["application_id"].tolist() == ["A-1", "A-2"]
    assert gdf["kommunenavn"].tolist() == ["København", "Vejle"]
    assert gdf["regionsnavn"].tolist() == ["Region Hovedstaden", "Region Syddanmark"]
    assert gdf["area_ha"].to_numpy() == pytest.approx([100.0, 400.0], abs=1e-4)  # 1 km², 2 km x 2 km
    assert gdf["business_loi_count"].tolist() == [3, 0]
    assert gdf["kb_decision_date"].tolist() == ["2026-01-28", "2026-02-03"]
    assert set(gdf.geom_type) == {"MultiPolygon"}


def test_legacy_crs_member_gives_the_exact_frame(tmp_path, kommuner):
    path = write_geojson(tmp_path / "s.geojson", [feature(square(), co_applicants="Vejle", area_ha=100)],
                         epsg=25832)
    gdf = load_submissions([path], kommuner=kommuner)
    text = ["application_id", "kommunekode", "kommunenavn", "regionskode", "regionsnavn",
            "co_applicant_kommunekoder", "site_name", "source_file", "site_notes", "fields_absent"]
    expected = gpd.GeoDataFrame(
        {"application_id": ["A-1"], "kommunekode": ["0101"], "kommunenavn": ["København"],
         "regionskode": ["1084"], "regionsnavn": ["Region Hovedstaden"],
         "co_applicant_kommunekoder": ["0630"], "site_name": ["Nord"], "area_ha": [100.0],
         "source_file": [str(path)], "outside_denmark_ha": [0.0], "outside_denmark_share": [0.0],
         "site_notes": [""], "fields_absent": [""], "area_ha_declared": [100.0]},
        geometry=[MultiPolygon([square()])], crs=25832).astype(dict.fromkeys(text, "str"))
    assert_geodataframe_equal(gdf, expected, check_like=False, normalize=True)


def test_read_keeps_the_file_crs(tmp_path):
    path = write_geojson(tmp_path / "s.geojson", [feature(wgs84(square()))])
    raw = read_submission_file(path)
    assert raw.crs.to_epsg() == 4326  # RFC 7946: no 'crs' member means WGS84
    assert raw.attrs == {"source_file": str(path), "format": "GeoJSON"}


# --------------------------------------------------------------------------- broken files


def _truncated(tmp_path):
    text = json.dumps({"type": "FeatureCollection", "features": [feature(wgs84(square()))]})
    (tmp_path / "s.geojson").write_text(text[: len(text) // 2])
    return tmp_path / "s.geojson"


def _not_json(tmp_path):
    (tmp_path / "s.geojson").write_text("application_id;kommunekode\nA-1;0101\n")
    return tmp_path / "s.geojson"


def _csv(tmp_path):
    (tmp_path / "s.csv").write_text("application_id,kommunekode\nA-1,0101\n")
    return tmp_path / "s.csv"


def _empty(tmp_path):
    return write_geojson(tmp_path / "s.geojson", [])


def _metres_without_crs(tmp_path):
    return write_geojson(tmp_path / "s.geojson", [feature(square())])


def _zip_without_prj(tmp_path):
    return zipped_shapefile(tmp_path, metric_frame([square()]), parts=(".shp", ".shx", ".dbf"))


def _bad_zip(tmp_path):
    (tmp_path / "s.zip").write_bytes(b"PK\x03\x04 not really a zip")
    return tmp_path / "s.zip"


def _two_layers(tmp_path):
    metric_frame([square()]).to_file(tmp_path / "s.gpkg", layer="a")
    metric_frame([square()]).to_file(tmp_path / "s.gpkg", layer="b")
    return tmp_path / "s.gpkg"


def _plain_parquet(tmp_path):
    pd.DataFrame({"application_id": ["A-1"]}).to_parquet(tmp_path / "s.parquet")
    return tmp_path / "s.parquet"


def _parquet_without_crs(tmp_path):
    metric_frame([square()]).set_crs(None, allow_override=True).to_parquet(tmp_path / "s.parquet")
    return tmp_path / "s.parquet"


@pytest.mark.parametrize(("write", "match"), [
    (_truncated, r"the file ends before its JSON is complete .*fix: the file looks truncated"),
    (_not_json, r"the file is not valid JSON: Expecting value at line 1 column 1"),
    (_csv, r"'\.csv' is not a submission format.*GeoPackage \(\.gpkg\)"),
    (_empty, r"holds no features \(empty collection\)"),
    (_metres_without_crs, r"not longitude/latitude degrees .*RFC 7946\)\. They look like EPSG:25832 metres"),
    (_zip_without_prj, r"shapefile 'export/sites\.shp' has no \.prj file.*fix: add the \.prj"),
    (_bad_zip, r"not a readable zip archive"),
    (_two_layers, r"exactly one layer with geometry, found 2: a, b"),
    (_plain_parquet, r"cannot be read as GeoParquet \(Missing geo metadata: a plain Parquet table"),
    (_parquet_without_crs, r"declares no CRS"),
    (lambda tmp_path: tmp_path / "absent.gpkg", r"file not found"),
], ids=["truncated", "not-json", "csv", "empty", "metres-no-crs", "zip-no-prj", "bad-zip", "two-layers",
        "plain-parquet", "parquet-no-crs", "absent"])
def test_broken_files_are_one_submission_error(tmp_path, kommuner, write, match):
    path = write(tmp_path)
    with pytest.raises(SubmissionError, match=match) as info:
        load_submissions([path], kommuner=kommuner)
    assert info.value.exit_code == 2
    assert all(p.file == str(path) for p in info.value.problems)


# --------------------------------------------------------------------------- feature rules

BOWTIE = Polygon([(X0 + 5_000, Y0 + 5_000), (X0 + 6_000, Y0 + 6_000), (X0 + 6_000, Y0 + 5_000),
                  (X0 + 5_000, Y0 + 6_000)])  # two 25 ha triangles crossing at (505500, 6205500)


@pytest.mark.parametrize(("geom", "props", "field", "match"), [
    (BOWTIE, {}, "geometry", r"invalid geometry: Self-intersection\[505500 6205500\].*--repair"),
    (Point(X0 + 5_000, Y0 + 5_000).buffer(1), {}, "geometry", r"below the 1 ha minimum"),
    (square(side=10_000, height=6_000), {}, "geometry", r"6,000\.00 ha is above the 5,000 ha maximum"),
    (square(side=100, height=50), {}, "geometry", r"0\.50 ha is below the 1 ha minimum"),
    (square(dx=60_000), {}, "geometry", r"lies in no Danish municipality"),
    (square(), {"kommunekode": "9999"}, "kommunekode",
     r"'9999' is not one of the 2 DAGI municipality codes.*fix: the site lies in 0101 København; use '0101'"),
    (square(), {"kommunekode": "K101"}, "kommunekode", r"'K101' is not a 4-digit municipality code"),
    (square(), {"application_id": " "}, "application_id", r"required field 'application_id' has no value"),
    (square(), {"co_applicants": "Vejle, Odnse"}, "co_applicants", r"unknown municipalities: 'Odnse'"),
    (square(), {"business_loi_count": "three"}, "business_loi_count", r"'three' is not a number"),
    (square(), {"business_loi_count": -1}, "business_loi_count", r"out of range \(must be >= 0\)"),
    (square(), {"kb_decision_date": "28.01.2026"}, "kb_decision_date", r"not an ISO date.*YYYY-MM-DD"),
    (square(), {"planning_zone": "industry"}, "planning_zone", r"not one of the allowed.*byzone, landzone"),
    (square(), {"nature_declared_clear": "maybe"}, "nature_declared_clear", r"not true or false"),
    (square(), {"is_example": True}, "is_example", r"template's example feature"),
    (Point(X0, Y0), {}, "geometry", r"geometry is a Point; a site must be a Polygon or MultiPolygon"),
    (None, {}, "geometry", r"the feature has no geometry"),
], ids=["bowtie", "tiny-circle", "6000ha", "0.5ha", "no-municipality", "unknown-kommunekode", "bad-code",
        "blank-id", "unknown-co-applicant", "not-a-number", "negative", "not-iso-date", "enum", "bool",
        "is-example", "point", "no-geometry"])
def test_feature_rule_names_feature_field_and_fix(tmp_path, kommuner, geom, props, field, match):
    path = write_geojson(tmp_path / "s.geojson", [feature(square(dx=10_000), application_id="A-0"),
                                                  feature(geom, **props)],
                         epsg=25832)
    report = validate(path, kommuner=kommuner)
    errors = report.errors
    assert len(errors) == 1, messages(report)
    assert (errors[0].feature_index, errors[0].field) == (1, field)
    assert errors[0].file == str(path)
    assert report.candidates is None
    assert re.search(match, str(errors[0])), str(errors[0])


@pytest.mark.parametrize(("lonlat", "match", "swapped"), [
    (lambda g: shapely.transform(wgs84(g), lambda xy: xy[:, ::-1]), r"outside Denmark", True),
    (lambda g: box(10.0, 53.55, 10.02, 53.56), r"outside Denmark", False),  # Hamburg
])
def test_outside_denmark_with_swap_hint(tmp_path, kommuner, lonlat, match, swapped):
    path = write_geojson(tmp_path / "s.geojson", [feature(lonlat(square()))])
    (error,) = validate(path, kommuner=kommuner).errors
    assert (error.feature_index, error.application_id, error.field) == (0, "A-1", "geometry")
    hint = "coordinates look like lat/lon swapped; GeoJSON order is [longitude, latitude]"
    assert (hint in str(error)) == swapped


def test_missing_required_fields_are_file_problems(tmp_path, kommuner):
    fc = [{"type": "Feature", "properties": {"site_name": "Nord"}, "geometry": mapping(square())}]
    path = write_geojson(tmp_path / "s.geojson", fc, epsg=25832)
    report = validate(path, kommuner=kommuner)
    assert [(p.feature_index, p.field) for p in report.errors] == [(None, "application_id"),
                                                                   (None, "kommunekode")]
    assert "required field 'kommunekode' is missing from the file" in str(report.errors[1])


def test_duplicate_ids_within_and_across_files(tmp_path, kommuner):
    one = write_geojson(tmp_path / "one.geojson", [feature(square()), feature(square(dx=8_000))], epsg=25832)
    report = validate(one, kommuner=kommuner)
    assert [str(p) for p in report.errors] == [
        f"error: {one}, features[1] (A-1), field 'application_id': application_id 'A-1' is also used by "
        "features[0]; fix: give every application its own id"]
    two = write_geojson(tmp_path / "two.geojson", [feature(square(dx=8_000), application_id="B-1"),
                                                   feature(square(dx=9_000), application_id="C-1")],
                        epsg=25832)
    three = write_geojson(tmp_path / "three.geojson", [feature(square(dx=11_000), application_id="C-1")],
                          epsg=25832)
    with pytest.raises(SubmissionError, match=rf"'C-1' is also used by {two} features\[1\]"):
        load_submissions([two, three], kommuner=kommuner)


def test_all_problems_of_all_files_are_reported(tmp_path, kommuner):
    bad = write_geojson(tmp_path / "bad.geojson", [
        feature(BOWTIE, application_id="A-1"),
        feature(square(), application_id="A-2", kommunekode="9999"),
        feature(square(side=100, height=50), application_id="A-3"),
        feature(square(dx=8_000), application_id="A-4", business_loi_count="many"),
    ], epsg=25832)
    empty = write_geojson(tmp_path / "empty.geojson", [])
    with pytest.raises(SubmissionError) as info:
        load_submissions([bad, empty], kommuner=kommuner)
    found = [(Path(p.file).name, p.feature_index, p.field) for p in info.value.problems]
    assert found == [("bad.geojson", 0, "geometry"), ("bad.geojson", 1, "kommunekode"),
                     ("bad.geojson", 2, "geometry"), ("bad.geojson", 3, "business_loi_count"),
                     ("empty.geojson", None, None)]
    assert str(info.value).startswith("5 problem(s) found:\n  - error: ")


# --------------------------------------------------------------------------- repair and warnings


def test_repair_reports_area_change(tmp_path, kommuner):
    path = write_geojson(tmp_path / "s.geojson", [feature(BOWTIE)], epsg=25832)
    gdf = load_submissions([path], kommuner=kommuner, repair=True)
    assert gdf["area_ha"].iloc[0] == pytest.approx(50.0)  # two 25 ha triangles; 0 ha as drawn
    assert gdf.geometry.iloc[0].is_valid and len(gdf.geometry.iloc[0].geoms) == 2
    repaired = [w for w in gdf.attrs["warnings"] if "make_valid" in w]
    assert repaired == [f"warning: {path}, features[0] (A-1), field 'geometry': invalid geometry "
                        "(Self-intersection[505500 6205500]) repaired with make_valid: area 0.00 ha as "
                        "drawn -> 50.00 ha after repair (+50.00 ha); fix: check the repaired outline; "
                        "better, correct it in the GIS and submit again"]


@pytest.mark.parametrize(("ring", "match"), [
    ([[505_000, 6_205_000], [506_000, 6_205_000], [505_000, 6_205_000]],
     r"a ring of the outline has only 3 points; a ring needs at least 4"),
    ([[505_000, 6_205_000], [float("nan"), 6_205_000], [506_000, 6_206_000], [505_000, 6_205_000]],
     r"1 of the outline's 4 coordinates are not numbers \(NaN\) or infinite; fix: export the outline again"),
], ids=["too-few-points", "nan-coordinate"])
def test_repair_cannot_mend_everything(tmp_path, kommuner, ring, match):
    fc = [{"type": "Feature", "properties": {"application_id": "A-1", "kommunekode": "0101"},
           "geometry": {"type": "Polygon", "coordinates": [ring]}}]
    path = write_geojson(tmp_path / "s.geojson", fc, epsg=25832)  # json writes NaN, which GDAL reads
    with pytest.raises(SubmissionError, match=match):
        load_submissions([path], kommuner=kommuner, repair=True)


@pytest.mark.parametrize(("geom", "props", "match"), [
    (square(dx=19_000, side=5_000), {}, r"only 20% of the site lies in its applying municipalities \(0101 "
                                        r"København\); 80% lies in other municipalities, most in 0630 Vejle"),
    (square(dx=19_000, side=5_000, height=1_000), {"co_applicant_kommunekoder": "0630"}, None),
    (square(), {"area_ha_declared": 120}, r"declared 120\.00 ha but the geometry has 100\.00 ha \(20% off\)"),
    (square(), {"area_ha_declared": 105}, None),  # 5 % off is within the 10 % tolerance
    (square(), {"kommunenavn": "Vejle"}, r"'Vejle' does not match kommunekode 0101 \(København\)"),
    (square(), {"kommunenavn": "Københavns kommune"}, r"'Københavns kommune' does not match"),
    (square(), {"region": "Hovedstaden"}, None),
    (square(), {"kb_decison_date": "2026-01-28"}, r"unknown field 'kb_decison_date'.*'kb_decision_date'\?"),
    (square(), {"new_plots_ha": 200, "area_ha_declared": 100}, r"new_plots_ha exceeds area_ha_declared"),
], ids=["wrong-kommune", "co-applicant-holds-it", "declared-off", "declared-close", "name-mismatch",
        "genitive-name", "region-ok", "typo-field", "new-plots"])
def test_warnings_do_not_stop_loading(tmp_path, kommuner, geom, props, match):
    path = write_geojson(tmp_path / "s.geojson", [feature(geom, **props)], epsg=25832)
    gdf = load_submissions([path], kommuner=kommuner)
    found = [w for w in gdf.attrs["warnings"] if "recommended fields absent" not in w]
    if match is None:
        assert found == []
    else:
        assert len(found) == 1, found
        assert re.search(match, found[0]), found[0]


def test_values_are_coerced_per_schema(tmp_path, kommuner):
    path = write_geojson(tmp_path / "s.geojson", [
        feature(square(), kommunekode=101, co_applicants="vejle kommune; 0101", planning_zone="Landzone",
                energy_park_adjacent="ja", kb_decision_date="2026/01/28", business_loi_count="4",
                transport_motorway_km="2.5", submitted_at="2026-02-01T12:00:00+01:00"),
        feature(square(dx=8_000), application_id="A-2", energy_park_adjacent=None),
    ], epsg=25832)
    gdf = load_submissions([path], kommuner=kommuner)
    row = gdf.iloc[0]
    assert (row["kommunekode"], row["co_applicant_kommunekoder"]) == ("0101", "0630,0101")
    assert row["planning_zone"] == "landzone"
    assert (row["kb_decision_date"], row["submitted_at"]) == ("2026-01-28", "2026-02-01T12:00:00+01:00")
    assert str(gdf["business_loi_count"].dtype) == "Int64" and gdf["business_loi_count"].iloc[0] == 4
    assert gdf["business_loi_count"].isna().iloc[1]
    assert gdf["transport_motorway_km"].iloc[0] == 2.5
    assert str(gdf["energy_park_adjacent"].dtype) == "boolean"
    assert gdf["energy_park_adjacent"].isna().tolist() == [False, True]
    assert bool(gdf["energy_park_adjacent"].iloc[0]) is True
    assert gdf["co_applicant_kommunekoder"].iloc[1] == ""


def test_zipped_shapefile_truncated_names_are_matched(tmp_path, kommuner):
    sites = metric_frame([square()], co_applicant_kommunekoder=["0630"], business_expected_jobs=[250],
                         planning_kommuneplanramme_erhverv=[True], kpr_id=["E.01"])
    report = validate(zipped_shapefile(tmp_path, sites), kommuner=kommuner)
    assert report.errors == []
    cand = report.candidates
    assert cand["co_applicant_kommunekoder"].tolist() == ["0630"]
    assert cand["business_expected_jobs"].tolist() == [250]
    assert cand["planning_kommuneplanramme_id"].tolist() == ["E.01"]  # by its short alias
    (ambiguous,) = [p for p in report.warnings if "could be any of" in p.message]
    assert ambiguous.field == "planning_k"  # planning_kommuneplanramme_erhverv or _id: both start like that
    assert "name the columns kpr_erhv, kpr_id before the export" in ambiguous.message


def test_summary_lists_each_application(tmp_path, kommuner):
    second = feature(square(dx=25_000, side=2_000), application_id="A-2", kommunekode="0630",
                     co_applicants="0101")
    path = write_geojson(tmp_path / "s.geojson", [feature(square()), second], epsg=25832)
    gdf = load_submissions([path], kommuner=kommuner)
    table = submissions.summarise(gdf)
    assert table.to_dict("records") == [
        {"application_id": "A-1", "site_name": "Nord", "area_ha": 100.0, "kommunekode": "0101",
         "kommunenavn": "København", "regionsnavn": "Region Hovedstaden", "co_applicant_kommunekoder": "",
         "source_file": str(path)},
        {"application_id": "A-2", "site_name": "Nord", "area_ha": 400.0, "kommunekode": "0630",
         "kommunenavn": "Vejle", "regionsnavn": "Region Syddanmark", "co_applicant_kommunekoder": "0101",
         "source_file": str(path)}]
    assert "2 application(s), 500.0 ha, from 1 file(s): all valid" in submissions.summary_text(gdf)


def test_problem_renders_one_line():
    problem = Problem("s.geojson", 2, "VEJ-1", "kommunekode", "'9999' is unknown", "use '0630'")
    assert str(problem) == ("error: s.geojson, features[2] (VEJ-1), field 'kommunekode': '9999' is unknown; "
                            "fix: use '0630'")
    assert str(Problem("s.zip", None, None, None, "no .prj", "add it", "warning")) == \
        "warning: s.zip: no .prj; fix: add it"


def test_a_frame_with_any_index_is_validated_by_position(kommuner):
    sites = metric_frame([square(), square(dx=8_000)], kommunekode=["0101", "9999"]).set_index(
        pd.Index([10, 20]))
    report = validate(sites, kommuner=kommuner, file="sites (frame)")
    assert [(p.file, p.feature_index, p.application_id, p.field) for p in report.errors] == [
        ("sites (frame)", 1, "A-2", "kommunekode")]


def test_kommuner_in_another_crs_is_a_crs_error(tmp_path, kommuner):
    path = write_geojson(tmp_path / "s.geojson", [feature(square())], epsg=25832)
    with pytest.raises(CRSError, match="kommuner layer is in EPSG:4326"):
        validate(path, kommuner=kommuner.to_crs(4326))


# --------------------------------------------------------------------------- schema, docs, template


@pytest.mark.parametrize("doc_path", ["docs/SUBMISSION_SCHEMA.md", "README.md"])
def test_schema_doc_is_generated_from_the_yaml(doc_path):
    doc = (PROJECT_ROOT / doc_path).read_text(encoding="utf-8")
    block = doc.split("<!-- schema:start -->\n", 1)[1].split("\n<!-- schema:end -->", 1)[0]
    assert block == submissions.schema_markdown(), f"run update_schema_doc('{doc_path}')"


def test_template_carries_every_field_asked_of_municipalities():
    raw = read_submission_file(PROJECT_ROOT / "data" / "template_submission.geojson")
    asked = [f.name for f in submissions.load_schema().fields if f.group != "reference"]
    assert [c for c in raw.columns if c != "geometry"] == asked
    assert raw.crs.to_epsg() == 4326 and bool(raw["is_example"].iloc[0])


# --------------------------------------------------------------------------- real layers (mirror)


@pytest.fixture(scope="module")
def real_kommuner(mirror_root) -> gpd.GeoDataFrame:
    return gpd.read_file(mirror_root / "boundaries" / "kommuner.gpkg")


@pytest.mark.mirror
def test_applications_2025_load_clean(mirror_root, real_kommuner):
    path = mirror_root / "submissions" / "applications_2025_approx.gpkg"
    gdf = load_submissions([path], kommuner=real_kommuner)
    raw = gpd.read_file(path)
    assert len(gdf) == 15 and gdf["application_id"].is_unique
    cut = gdf["site_notes"] != ""  # squares reaching into the sea are screened on their Danish part
    drawn = gdf["area_ha"] + gdf["outside_denmark_ha"].where(cut, 0.0)
    assert drawn.sum() == pytest.approx(raw["area_ha"].sum(), abs=1e-6)  # squares of the stated area
    assert (gdf["kommunenavn"] == raw["kommunenavn"]).all()
    codes = dict(zip(gdf["application_id"], gdf["co_applicant_kommunekoder"], strict=True))
    assert (codes["KER-2025"], codes["VIB-2025"], codes["NAE-2025"]) == ("0461", "0751,0710,0730", "0390")
    assert gdf["designated_2025"].sum() == 11
    # The warnings: the 2025 file has no commitment/infrastructure fields; the invented squares of AAL-2025
    # and KER-2025 reach into the water (tests/test_submissions_hostile.py). NAE-2025 lies mostly in
    # Vordingborg, its co-applicant, so it is not flagged.
    found = gdf.attrs["warnings"]
    assert len(found) == 3 and "recommended fields absent" in found[0], found
    assert all("outside Danish land" in w for w in found[1:])


@pytest.mark.mirror
def test_template_is_valid_once_is_example_is_cleared(real_kommuner):
    raw = read_submission_file(PROJECT_ROOT / "data" / "template_submission.geojson")
    assert [p.field for p in validate(raw, kommuner=real_kommuner).problems] == ["is_example"]
    report = validate(raw.assign(is_example=False), kommuner=real_kommuner)
    assert report.problems == ()
    assert report.candidates["kommunenavn"].tolist() == ["Vejle"]
    assert report.candidates["area_ha"].iloc[0] == pytest.approx(50.0, abs=0.5)  # declared 50 ha


@pytest.mark.mirror
def test_unknown_kommunekode_suggests_the_real_municipality(tmp_path, real_kommuner):
    site = box(516_000, 6_190_000, 517_000, 6_191_000)  # near Give in Vejle Kommune, EPSG:25832
    path = write_geojson(tmp_path / "s.geojson", [feature(wgs84(site), kommunekode="9999")])
    (error,) = validate(path, kommuner=real_kommuner).errors
    assert "not one of the 99 DAGI municipality codes" in error.message
    assert error.fix.startswith("the site lies in 0630 Vejle")

"""The `industripark` CLI end to end through click's runner: exit codes, messages, the run-folder contract."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
from click.testing import CliRunner

from screening.cli import main

ALLOW = ["--allow-missing", "natura2000_habitat", "--allow-missing", "bes_naturtyper",
         "--allow-missing", "naturnationalparker"]
CONTRACT_COLUMNS = ["application_id", "kommunekode", "kommunenavn", "regionskode", "regionsnavn", "area_ha",
                    "net_area_ha", "excluded", "exclusion_reasons", "score_total", "score_infrastructure",
                    "score_transport", "score_labour", "score_commitment", "rank", "top_k_probability",
                    "selected", "selection_reason", "proposal_rank"]


@pytest.fixture(scope="module")
def applications(mirror_root):
    return mirror_root / "submissions" / "applications_2025_approx.gpkg"


@pytest.fixture(scope="module")
def run_dir(applications, tmp_path_factory):
    """One real screening of the approximate 2025 applications (mirror), data files only."""
    out = tmp_path_factory.mktemp("runs")
    res = CliRunner().invoke(main, ["screen", str(applications), "--out", str(out), "--no-report", *ALLOW])
    assert res.exit_code == 0, res.output
    return out / "latest"


def test_help_lists_the_pipeline_commands():
    res = CliRunner().invoke(main, ["--help"])
    assert res.exit_code == 0
    for command in ("layers", "submissions", "screen", "select", "preview", "serve"):
        assert f"  {command} " in res.output


@pytest.mark.mirror
def test_screen_writes_the_output_contract(run_dir, applications):
    gpkg = gpd.read_file(run_dir / "screening.gpkg", layer="candidates")
    assert gpkg.crs.to_epsg() == 25832 and len(gpkg) == 15
    assert [c for c in CONTRACT_COLUMNS if c not in gpkg.columns] == []
    for name in ("candidates.csv", "candidates.parquet", "explanations.json", "selection.json", "manifest.json"):
        assert (run_dir / name).is_file(), name
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["incomplete"] is True
    assert manifest["lang"] == "en"  # no --lang: the language of the settings ($INDUSTRIPARK_LANG, en in the suite)
    # the mirror's § 3 copy covers six municipalities only: every approximate 2025 site lies outside it
    assert "bes_naturtyper" in manifest["incomplete_text"] and "coverage" in manifest["incomplete_text"]
    assert manifest["inputs"][0]["path"] == str(applications.resolve())
    assert manifest["layers"]["natura2000_fuglebeskyttelse"]["origin"] in ("mirror", "cache")
    def no_nan(token):
        raise AssertionError(f"bare {token} in JSON output: not valid RFC 8259 JSON")

    for name in ("explanations.json", "selection.json", "manifest.json"):  # strict JSON, readable anywhere
        json.loads((run_dir / name).read_text(), parse_constant=no_nan)
    expl = json.loads((run_dir / "explanations.json").read_text())
    for aid, entry in expl.items():  # contributions add up to the total for every application
        assert sum(r["contribution"] for r in entry["breakdown"]) == pytest.approx(entry["score_total"]), aid
    assert gpkg["incomplete"].str.contains("bes_naturtyper missing").all()
    selection = json.loads((run_dir / "selection.json").read_text())
    assert selection["proven_optimal"] is True and 5 <= len(selection["selected"]) <= 11


@pytest.mark.mirror
def test_screen_without_allowing_missing_exclusion_layers_fails_clearly(applications, tmp_path):
    res = CliRunner().invoke(main, ["screen", str(applications), "--out", str(tmp_path)])
    assert res.exit_code == 1
    assert "bes_naturtyper" in res.output and "--allow-missing bes_naturtyper" in res.output
    assert "Traceback" not in res.output and not list(tmp_path.iterdir())


@pytest.mark.mirror
def test_select_with_other_spacing(run_dir, tmp_path):
    res = CliRunner().invoke(main, ["select", str(run_dir / "screening.gpkg"), "--out", str(tmp_path),
                                    "--spacing-km", "60", "--k-max", "8"])
    assert res.exit_code == 0, res.output
    sel = json.loads((tmp_path / "selection.json").read_text())
    assert sel["rules"]["spacing_km"] == 60 and len(sel["selected"]) <= 8
    assert "proven optimal" in res.output


@pytest.mark.mirror
def test_select_explains_infeasibility_and_exits_3(run_dir, tmp_path):
    res = CliRunner().invoke(main, ["select", str(run_dir / "screening.gpkg"), "--out", str(tmp_path),
                                    "--spacing-km", "150", "--k-min", "9"])
    assert res.exit_code == 3, res.output
    assert "infeasible" in res.output.lower() and "150" in res.output


@pytest.mark.mirror
def test_preview_ranks_a_draft_against_a_run(run_dir, tmp_path):
    src = gpd.read_file(run_dir / "screening.gpkg", layer="candidates")
    draft = src.loc[src["application_id"] == "VEJ-2025", ["application_id", "kommunekode", "site_name",
                                                           "geometry"]].to_crs(4326)
    draft["application_id"] = "VEJ-DRAFT"
    path = tmp_path / "draft.geojson"
    draft.to_file(path, driver="GeoJSON")
    res = CliRunner().invoke(main, ["preview", str(path), "--reference", str(run_dir), "--out", str(tmp_path),
                                    *ALLOW])
    assert res.exit_code == 0, res.output
    score = src.set_index("application_id").loc["VEJ-2025", "score_total"]
    assert f"{score:.1f}" in res.output  # the same code scores the same site the same
    assert list((tmp_path / "previews").glob("*/cards/VEJ-DRAFT-*.html"))


@pytest.mark.parametrize("content", ['{"type":"FeatureCollection","features":[', "not a geo file"])
def test_submissions_check_bad_file_exits_2_without_traceback(tmp_path, content, mirror_root):
    path = tmp_path / "bad.geojson"
    path.write_text(content)
    res = CliRunner().invoke(main, ["submissions", "check", str(path)])
    assert res.exit_code == 2
    assert "bad.geojson" in res.output and "fix:" in res.output and "Traceback" not in res.output


@pytest.mark.mirror
def test_screen_with_surface_refuses_one_made_under_other_rules(applications, tmp_path):
    """A coarse 2 km surface built by the CLI is accepted (notes on every card row); the same surface with
    another config hash in its tags is refused, naming both hashes and the fix."""
    import shutil

    import rasterio

    runner = CliRunner()
    res = runner.invoke(main, ["surface", "--res-m", "2000", "--out", str(tmp_path / "surf"), *ALLOW])
    assert res.exit_code == 0, res.output
    surf = (tmp_path / "surf" / "latest").resolve()
    res = runner.invoke(main, ["screen", str(applications), "--out", str(tmp_path / "runs"), "--no-report",
                               "--surface", str(surf), *ALLOW])
    assert res.exit_code == 0, res.output
    run = (tmp_path / "runs" / "latest").resolve()
    assert json.loads((run / "manifest.json").read_text())["surface"] == str(surf)
    notes = gpd.read_file(run / "screening.gpkg", layer="candidates")["better_land_nearby"]
    assert notes.str.len().gt(0).all()

    stale = tmp_path / "stale"
    shutil.copytree(surf, stale)
    with rasterio.open(stale / "suitability.tif", "r+", IGNORE_COG_LAYOUT_BREAK="YES") as ds:
        ds.update_tags(config_hash="0000000000000000")
    res = runner.invoke(main, ["screen", str(applications), "--out", str(tmp_path / "runs2"), "--no-report",
                               "--surface", str(stale), *ALLOW])
    assert res.exit_code == 1
    assert "0000000000000000" in res.output and "industripark surface" in res.output
    assert not (tmp_path / "runs2").exists()

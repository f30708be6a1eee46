"""Every output a provisional copy or a partial copy takes part in says so: one test per output.

One screening on the real mirror: the approximate 2025 applications (TON-2025 touches the 2013 habitat copy)
plus a draft in Hvidovre, inside the § 3 subset's coverage. The expected texts are computed from the run's
own exclusion result and the catalog, not written out.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import markupsafe
import pytest
import shapely
from shapely.geometry import box

from screening import _nature_layers, pipeline, preview, serve
from screening.config import load_catalog, load_criteria, settings_from_env
from tests import _preview_fixtures as fx

pytestmark = pytest.mark.mirror

HABITAT_NOTE = "provisional copy of about 2013, check against the official layer"
PROVISIONAL = ("natura2000_habitat", "naturnationalparker", "nationalparker", "fredninger")


def _hvidovre_draft(mirror_root: Path, folder: Path) -> Path:
    """A 25 ha draft in Hvidovre (0167), inside the § 3 subset's coverage, as GeoJSON (EPSG:4326)."""
    import geopandas as gpd

    cover = gpd.read_file(mirror_root / "protected_nature" / "section3_vestegnen_subset_coverage.gpkg")
    kommune = gpd.read_file(mirror_root / "boundaries" / "kommuner.gpkg").to_crs(25832)
    area = shapely.intersection(cover.loc[cover["kommunekode"] == "0167"].geometry.iloc[0],
                                kommune.loc[kommune["kommunekode"] == "0167"].geometry.iloc[0])
    centre = shapely.get_point(shapely.maximum_inscribed_circle(area, 10.0), 0)
    site = gpd.GeoSeries([box(centre.x - 250, centre.y - 250, centre.x + 250, centre.y + 250)], crs=25832)
    ring = [list(xy) for xy in shapely.get_coordinates(site.to_crs(4326).iloc[0].exterior)]
    props = dict(fx.GOOD_PROPERTIES, application_id="HVI-2026-01", kommunekode="0167", kommunenavn="Hvidovre",
                 region="Hovedstaden", area_name="Hvidovre test site", area_ha_declared=25.0, new_plots_ha=20.0)
    path = folder / "hvidovre.geojson"
    path.write_text(json.dumps(fx.feature_collection(props, ring=ring)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run(mirror_root, tmp_path_factory):
    """The default run (only § 3 allowed missing) of the 2025 applications and the Hvidovre draft."""
    folder = tmp_path_factory.mktemp("nature-run")
    settings = settings_from_env()
    catalog = load_catalog(settings=settings)
    criteria = load_criteria(settings=settings, catalog=catalog)
    inputs = [mirror_root / "submissions" / "applications_2025_approx.gpkg", _hvidovre_draft(mirror_root, folder)]
    result = pipeline.screen(inputs, settings=settings, catalog=catalog, criteria=criteria,
                             out_root=folder / "reports", allow_missing=fx.MAKE_ALLOW_MISSING, select=False)
    return result


def _read(run, name: str) -> str:
    return (Path(run.run_dir) / name).read_text(encoding="utf-8")


def test_default_run_checks_habitat_areas_and_naturnationalparker(run):
    assert set(run.layers.missing).isdisjoint({"natura2000_habitat", "naturnationalparker", "bes_naturtyper"})
    assert set(PROVISIONAL) <= set(run.exclusion.provisional)
    summary = run.exclusion.summary
    excluded = summary.loc[summary["exclusion_reasons"].str.contains("Natura 2000 H-område")]
    assert not excluded.empty and excluded["excluded"].all()


def test_exclusion_reason_and_card_say_provisional(run):
    summary = run.exclusion.summary
    aid = summary.index[summary["exclusion_reasons"].str.contains("Natura 2000 H-område")][0]
    reason = summary.loc[aid, "exclusion_reasons"]
    assert f" — {HABITAT_NOTE} — natura2000_habitat (" in reason
    card = next((Path(run.run_dir) / "cards").glob(f"{aid}*.html")).read_text(encoding="utf-8")
    assert str(markupsafe.escape(reason)) in card  # as the template escapes it
    assert '<em class="provisional">' + HABITAT_NOTE in card  # the overlap row
    assert "provisional copy</strong>" in card  # the data-sources row


def test_manifest_lists_provisional_and_partial_layers(run):
    manifest = json.loads(_read(run, "manifest.json"))
    assert set(PROVISIONAL) <= set(manifest["provisional_layers"])
    assert manifest["provisional_layers"]["natura2000_habitat"]["note"] == HABITAT_NOTE
    assert manifest["provisional_layers"]["natura2000_habitat"]["rules"] == ["natura2000_habitat"]
    assert manifest["layers"]["natura2000_habitat"]["provisional"] is True
    assert manifest["layers"]["natura2000_fuglebeskyttelse"]["provisional"] is False
    partial = manifest["partial_layers"]["bes_naturtyper"]
    outside = set(run.exclusion.outside_coverage["application_id"])
    assert set(partial["applications_outside"]) | set(partial["applications_partly_outside"]) == outside
    assert "HVI-2026-01" not in outside and partial["applications_inside"] == len(run.candidates) - len(outside)
    assert manifest["incomplete"] is True and partial["text"] in manifest["incomplete_text"]
    assert "missing" not in json.dumps(manifest["missing_layers"].get("bes_naturtyper", ""))


def test_index_banner_names_the_provisional_layers_and_the_partial_coverage(run):
    page = _read(run, "index.html")
    banner = page.split('id="provisional-banner"', 1)[1].split("</div>", 1)[0]
    for lid in PROVISIONAL:
        assert f"<code>{lid}</code>" in banner
    assert HABITAT_NOTE in banner
    incomplete = page.split('id="incomplete-banner"', 1)[1].split("</div>", 1)[0]
    assert "bes_naturtyper checked only inside the coverage of the available copy" in incomplete
    assert "six municipalities west of Copenhagen" in incomplete


def test_map_legend_marks_provisional_copies(run):
    page = _read(run, "map.html")
    legend = page.split('id="legend-provisional"', 1)[1].split("</div>", 1)[0]
    assert f'<code title="{HABITAT_NOTE}">natura2000_habitat</code> (about 2013)' in legend
    assert "Natura 2000 habitat areas (simplified 50 m) – provisional copy of about 2013" in page


def test_terminal_summary_says_provisional_and_incomplete(run):
    text = pipeline.summary_text(run)
    assert "PROVISIONAL DATA - " in text and f"natura2000_habitat: {HABITAT_NOTE}" in text
    assert "INCOMPLETE SCREENING - " in text and "bes_naturtyper checked only inside" in text


def test_sites_inside_the_coverage_are_complete_and_others_say_not_checked(run):
    inc = run.candidates.set_index("application_id")["incomplete"]
    assert inc["HVI-2026-01"] == ""
    assert (inc.drop("HVI-2026-01") == fx.GIVE_INCOMPLETE).all()


# --------------------------------------------------------------------------- the preview


@pytest.fixture(scope="module")
def preview_ctx(mirror_root):
    return fx.mirror_context()


def test_preview_text_says_provisional(preview_ctx, tmp_path):
    settings, _, criteria, ctx = preview_ctx
    draft = tmp_path / "draft.geojson"
    draft.write_bytes(fx.good_geojson_bytes())
    result = preview.preview([draft], layer_set=ctx.layer_set, criteria=criteria, settings=settings,
                             reference=ctx.reference)
    data = preview.to_dict(result)
    assert {p["layer"] for p in data["provisional"]} >= set(PROVISIONAL)
    assert f"PROVISIONAL DATA - natura2000_habitat: {HABITAT_NOTE}" in preview.render_text(data)


def test_preview_web_page_says_provisional(preview_ctx):
    settings, _, criteria, ctx = preview_ctx
    client = serve.create_app(layer_set=ctx.layer_set, criteria=criteria, settings=settings,
                              reference=ctx.reference).test_client()
    form = client.get("/").get_data(as_text=True)
    banner = form.split('id="provisional"', 1)[1].split("</div>", 1)[0]
    assert f"<code>natura2000_habitat</code>: {HABITAT_NOTE}" in banner
    answer = client.post("/preview", data={"file": (io.BytesIO(fx.good_geojson_bytes()), "draft.geojson")},
                          content_type="multipart/form-data")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and 'id="provisional"' in page
    api = client.post("/api/preview", data={"file": (io.BytesIO(fx.good_geojson_bytes()), "draft.geojson")},
                      content_type="multipart/form-data").get_json()
    notes = {p["layer"]: p["note"] for p in api["provisional"]}
    assert notes["natura2000_habitat"] == HABITAT_NOTE == _nature_layers.provisional_note(
        ctx.layer_set.layers["natura2000_habitat"])

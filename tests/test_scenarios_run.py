"""`industripark scenarios` on the approximate 2025 applications (real mirrored layers), checked on its output.

One run through the CLI (as `make scenarios` does) writes the run folder once for the whole module. Every
scenario's proposal is then re-checked against its own rules from the written files alone (selection.json's
rules, the candidate GeoPackage's polygons and municipalities, the towns layer): the number of parks, the
parks per region, the spacing between centroids, the parks per municipality (lead or co-applicant) and the
parks outside the large towns. The checks are written here independently of `screening.selection`.
The page is opened in headless Chromium (no console errors; one row per application and one column per
scenario); screenshots land in ``<run>/scenarios/screenshots/`` for a person to look at.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from markupsafe import escape

from screening.cli import main

pytestmark = [pytest.mark.mirror, pytest.mark.slow]

ALLOW = ["--allow-missing", "natura2000_habitat", "--allow-missing", "bes_naturtyper",
         "--allow-missing", "naturnationalparker"]
APPLICATIONS = Path("submissions") / "applications_2025_approx.gpkg"


@pytest.fixture(scope="module")
def run_dir(mirror_root, tmp_path_factory) -> Path:
    """The run folder written by `industripark scenarios` (report included) for the 2025 applications."""
    out = tmp_path_factory.mktemp("scenario-runs")
    res = CliRunner().invoke(main, ["scenarios", str(mirror_root / APPLICATIONS), "--out", str(out), "--offline",
                                    *ALLOW])
    assert res.exit_code == 0, res.output
    assert "Robust core" in res.output and "SMOKE TEST, NOT EVIDENCE" in res.output
    return (out / "latest").resolve()


@pytest.fixture(scope="module")
def summary(run_dir) -> dict:
    return json.loads((run_dir / "scenarios" / "scenarios.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def towns(mirror_root):
    from screening import catalog
    from screening.config import load_catalog, settings_from_env

    return catalog.load_layer("towns", catalog=load_catalog(), settings=settings_from_env(online=False))


def test_folder_contract(run_dir, summary):
    folder = run_dir / "scenarios"
    ids = [s["id"] for s in summary["scenarios"]]
    assert ids[0] == "base" and len(ids) >= 5
    for sid in ids:  # the usual tables and selection.json per scenario
        for name in ("selection.json", "candidates.csv", "candidates.gpkg", "explanations.json", "manifest.json"):
            assert (folder / sid / name).is_file(), f"{sid}/{name}"
    assert (folder / "scenarios.html").is_file()
    for name in ("index.html", "map.html", "selection.json", "manifest.json"):  # the base rules' usual run
        assert (run_dir / name).is_file()
    assert 'href="scenarios/scenarios.html"' in (run_dir / "index.html").read_text(encoding="utf-8")
    base = json.loads((run_dir / "selection.json").read_text(encoding="utf-8"))
    assert base["selected"] == json.loads((folder / "base" / "selection.json").read_text())["selected"]
    assert summary["smoke_test"] is True and summary["measurements_made"] == 1


def test_every_proposal_obeys_its_own_rules(run_dir, summary, towns):
    checked = 0
    for s in summary["scenarios"]:  # a handful of scenarios
        sel = json.loads((run_dir / "scenarios" / s["id"] / "selection.json").read_text(encoding="utf-8"))
        cand = gpd.read_file(run_dir / "scenarios" / s["id"] / "candidates.gpkg")
        assert sel["status"] != "infeasible" and sel["proven_optimal"] is True, s["id"]
        chosen = set(cand.loc[cand["selected"].astype(bool), "application_id"])
        assert chosen == set(sel["selected"]), s["id"]
        _check_rules(s["id"], cand, chosen, sel["rules"], towns)
        checked += 1
    rules = json.loads((run_dir / "scenarios" / "base" / "selection.json").read_text())["rules"]
    cand = gpd.read_file(run_dir / "scenarios" / "base" / "candidates.gpkg")
    robust = summary["robust_proposal"]
    assert robust["proven_optimal"] is True and robust["status"] == "optimal"
    _check_rules("robust proposal", cand, set(robust["selected"]), rules, towns)
    assert checked == len(summary["scenarios"])


def _check_rules(what: str, cand: gpd.GeoDataFrame, chosen: set[str], rules: dict, towns) -> None:
    """The rules re-checked from the files: size, regions, spacing, municipalities, outside the towns."""
    pick = cand[cand["application_id"].isin(chosen)]
    assert not pick["excluded"].astype(bool).any(), what
    assert rules["k_min"] <= len(pick) <= rules["k_max"], what
    for region, rule in rules["regions"].items():  # five regions
        n = int((pick["regionsnavn"] == region).sum())
        assert n >= rule["min"] and (rule["max"] is None or n <= rule["max"]), (what, region, n)
    xy = shapely.get_coordinates(pick.geometry.centroid.to_numpy())
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert d.min() >= rules["spacing_km"] * 1000 - 1e-6, (what, d.min())
    if rules["max_per_kommune"] is not None:
        codes = [c for lead, co in zip(pick["kommunekode"], pick["co_applicant_kommunekoder"].fillna(""), strict=True)
                 for c in {lead, *filter(None, (x.strip() for x in co.split(",")))}]
        assert max(codes.count(c) for c in codes) <= rules["max_per_kommune"], what
    if rules["min_outside_urban"] > 0:
        big = towns[towns["population"] >= rules["urban_town_min_population"]].geometry
        near = np.array([big.distance(shapely.Point(p)).min() for p in xy])  # tens of parks
        outside = int((near > rules["urban_radius_km"] * 1000).sum())
        assert outside >= rules["min_outside_urban"], (what, outside)


def test_scenarios_differ_as_their_rules_say(summary):
    sel = {s["id"]: s["selection"]["selected"] for s in summary["scenarios"]}
    assert len(sel["five_parks"]) == 5
    assert set(summary["robust_core"]) == set.intersection(*(set(v) for v in sel.values()))
    swing = set(summary["swing"])
    assert swing == set.union(*(set(v) for v in sel.values())) - set(summary["robust_core"])
    apps = {a["application_id"]: a for a in summary["applications"]}
    for aid in swing:  # each swing application has a reason naming the scenarios it is and is not chosen in
        reason = apps[aid]["reason"]
        assert reason.startswith("Chosen under '") and "; not under '" in reason, reason
    diffs = {d["scenario"]: d for d in summary["differences"]}
    for sid, d in diffs.items():
        assert set(d["entered"]) == set(sel[sid]) - set(sel["base"])
        assert set(d["left"]) == set(sel["base"]) - set(sel[sid])


def test_page_content(run_dir, summary):
    html = (run_dir / "scenarios" / "scenarios.html").read_text(encoding="utf-8")
    assert 'id="smoke-test"' in html and "squares are invented" in html
    matrix = html[html.index('<table id="scenario-matrix">'):html.index("</table>", html.index("scenario-matrix"))]
    assert matrix.count("<tr data-application=") == len(summary["applications"])
    assert summary["run_id"] == run_dir.name
    assert html.count('<th data-scenario="') == len(summary["scenarios"])
    assert html.count('<svg class="scenario-map"') == len(summary["scenarios"]) + 1
    assert "proven optimal" in html and str(escape(summary["robust_proposal"]["objective"])) in html
    for aid in summary["swing"]:
        reason = next(a["reason"] for a in summary["applications"] if a["application_id"] == aid)
        assert str(escape(reason)) in html


@pytest.mark.browser
def test_page_in_chromium(run_dir, summary):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    chromium, driver_path = shutil.which("chromium") or "/usr/bin/chromium", \
        shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (Path(chromium).exists() and Path(driver_path).exists()):
        pytest.skip("Debian chromium and chromium-driver are not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,950", "--hide-scrollbars"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        page = run_dir / "scenarios" / "scenarios.html"
        browser.get(page.as_uri())
        rows = browser.find_elements(By.CSS_SELECTOR, "#scenario-matrix tbody tr")
        assert len(rows) == len(summary["applications"])
        assert len(browser.find_elements(By.CSS_SELECTOR, "#scenario-matrix th[data-scenario]")) == \
            len(summary["scenarios"])
        assert all(len(r.find_elements(By.CSS_SELECTOR, "td.cell")) == len(summary["scenarios"]) for r in rows)
        assert browser.find_element(By.ID, "smoke-test").is_displayed()
        shots = run_dir / "scenarios" / "screenshots"
        shots.mkdir(exist_ok=True)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1400, min(int(height) + 20, 9000))
        browser.save_screenshot(str(shots / "scenarios.png"))
        browser.set_window_size(1400, 950)
        browser.find_element(By.CSS_SELECTOR, 'button[data-sort-key="s-five_parks"]').click()
        first = browser.find_elements(By.CSS_SELECTOR, "#scenario-matrix tbody tr")
        k = len(next(s for s in summary["scenarios"] if s["id"] == "five_parks")["selection"]["selected"])
        assert [r.get_attribute("data-application") for r in first[:k]] and \
            {r.find_element(By.CSS_SELECTOR, 'td[data-key="s-five_parks"]').get_attribute("data-status")
             for r in first[:k]} == {"chosen"}
        browser.find_element(By.ID, "map-panels").screenshot(str(shots / "maps.png"))
        severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == []
        browser.get((run_dir / "index.html").as_uri())
        browser.find_element(By.CSS_SELECTOR, "#scenarios-link a").click()
        assert browser.current_url.endswith("/scenarios/scenarios.html")
        assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    finally:
        browser.quit()

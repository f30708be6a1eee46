"""`industripark scenarios` on the approximate 2025 applications (real mirrored layers), checked on its output.

One run through the CLI (as `make scenarios` does) writes the run folder once for the whole module. Every
scenario's proposal is then re-checked against its own rules from the written files alone (selection.json's
rules, the candidate GeoPackage's polygons and municipalities, the towns layer): the number of parks, the
parks per region, the spacing between centroids, the parks per municipality (lead or co-applicant) and the
parks outside the large towns. The checks are written here independently of `screening.selection`.
The page is opened in headless Chromium (no console errors; one row per application and one column per
scenario); screenshots land in ``<run>/scenarios/screenshots/`` for a person to look at.

The suite runs in English (tests/conftest.py); a second run with ``--lang da`` (no report, to spare the
machine) checks the Danish page: ``<html lang="da">``, Danish headings, titles, rationales and reasons, no
run of English words from the page's template or the reasons' table, Danish number formats, and the page in
Chromium.
"""

from __future__ import annotations

import contextlib
import html as html_mod
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import yaml
from click.testing import CliRunner
from markupsafe import escape

from screening.cli import main
from screening.config import PROJECT_ROOT
from tests import _chromium
from tests._scenario_fixtures import english_fragments

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
    assert '<html lang="en">' in html and summary["lang"] == "en"
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


@contextlib.contextmanager
def _browser():
    """Headless Debian Chromium through selenium (skips when either is missing)."""
    browser = _chromium.driver("--disable-gpu", "--window-size=1400,950", "--hide-scrollbars")
    try:
        yield browser
    finally:
        browser.quit()


def _full_page_screenshot(browser, path: Path) -> None:
    path.parent.mkdir(exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, min(int(height) + 20, 9000))
    browser.save_screenshot(str(path))
    browser.set_window_size(1400, 950)


@pytest.mark.browser
def test_page_in_chromium(run_dir, summary):
    from selenium.webdriver.common.by import By

    with _browser() as browser:
        page = run_dir / "scenarios" / "scenarios.html"
        browser.get(page.as_uri())
        rows = browser.find_elements(By.CSS_SELECTOR, "#scenario-matrix tbody tr")
        assert len(rows) == len(summary["applications"])
        assert len(browser.find_elements(By.CSS_SELECTOR, "#scenario-matrix th[data-scenario]")) == \
            len(summary["scenarios"])
        assert all(len(r.find_elements(By.CSS_SELECTOR, "td.cell")) == len(summary["scenarios"]) for r in rows)
        assert browser.find_element(By.ID, "smoke-test").is_displayed()
        shots = run_dir / "scenarios" / "screenshots"
        _full_page_screenshot(browser, shots / "scenarios.png")
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


# --------------------------------------------------------------------------- the same run in Danish

DANISH_HEADINGS = ("Politiske scenarier side om side", "Ansøgninger × scenarier",
                   "Stabilitet: hvem der vælges uanset vægtningen, og hvem der vipper",
                   "Vippeansøgninger – valgt i nogle scenarier, og hvorfor", "Forslagene på kortet",
                   "Hvert scenarie sammenlignet med basisreglerne", "Et robust forslag", "Scenarierne",
                   "Afprøvning af metoden, ikke dokumentation.")


@pytest.fixture(scope="module")
def run_dir_da(mirror_root, tmp_path_factory) -> Path:
    """The run folder of `industripark scenarios --lang da` (scenarios only: no index, map or cards)."""
    out = tmp_path_factory.mktemp("scenario-runs-da")
    res = CliRunner().invoke(main, ["scenarios", str(mirror_root / APPLICATIONS), "--out", str(out), "--offline",
                                    "--no-report", "--lang", "da", *ALLOW])
    assert res.exit_code == 0, res.output
    assert "Robust kerne (valgt i alle 5)" in res.output and "AFPRØVNING AF METODEN, IKKE DOKUMENTATION" in res.output
    assert "Sammenligning: " in res.output and "Robust core" not in res.output
    return (out / "latest").resolve()


def _visible_text(html: str) -> str:
    """The page's text without its script, style and the shared banners (templates/_banner.html.j2)."""
    for pattern in (r"<script>.*?</script>", r"<style>.*?</style>",
                    r'<div class="banner-(incomplete|provisional)".*?</div>'):
        html = re.sub(pattern, " ", html, flags=re.S)
    return html_mod.unescape(re.sub(r"<[^>]+>", " ", html))


def test_danish_page(run_dir_da):
    folder = run_dir_da / "scenarios"
    html = (folder / "scenarios.html").read_text(encoding="utf-8")
    summary = json.loads((folder / "scenarios.json").read_text(encoding="utf-8"))
    assert '<html lang="da">' in html and summary["lang"] == "da"
    assert json.loads((run_dir_da / "manifest.json").read_text())["lang"] == "da"
    assert json.loads((folder / "five_parks" / "manifest.json").read_text())["lang"] == "da"
    for heading in DANISH_HEADINGS:
        assert str(escape(heading)) in html, heading
    for path in sorted((PROJECT_ROOT / "layers" / "scenarios").glob("*.yaml")):  # titles and rationales in Danish
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert f'<button type="button" data-sort-key="s-{path.stem}">{escape(spec["title"]["da"])}</button>' in html
        assert str(escape(" ".join(spec["rationale"]["da"].split()))) in html, path.name
    apps = {a["application_id"]: a for a in summary["applications"]}
    assert summary["swing"]
    for aid in summary["swing"]:  # each reason in Danish, naming the scenarios it is and is not chosen in
        reason = apps[aid]["reason"]
        assert reason.startswith("Valgt i »") and "; ikke i »" in reason, reason
        assert str(escape(reason)) in html
    assert summary["robust_proposal"]["objective"].startswith("flest mulige scenarier")


def test_danish_page_has_no_english_sentence(run_dir_da):
    text = _visible_text((run_dir_da / "scenarios" / "scenarios.html").read_text(encoding="utf-8"))
    english = english_fragments("templates/scenarios.html.j2", "_scenario_words.py")
    assert len(english) > 100  # the template's and the reasons' texts, cut at their placeholders
    found = sorted(f for f in english if re.search(rf"(?<!\w){re.escape(f)}(?!\w)", text, re.IGNORECASE))
    assert not found, found


def test_danish_number_formats(run_dir_da):
    html = (run_dir_da / "scenarios" / "scenarios.html").read_text(encoding="utf-8")
    summary = json.loads((run_dir_da / "scenarios" / "scenarios.json").read_text(encoding="utf-8"))
    matrix = _visible_text(html[html.index('<table id="scenario-matrix">'):html.index("</table>")])
    cells = re.findall(r"nr\. (\d+) · (\d+),(\d)\b", matrix)  # rank and score: "nr. 4 · 71,2"
    eligible = sum(c["status"] != "excluded" for a in summary["applications"] for c in a["cells"].values())
    assert len(cells) == eligible > 0
    assert not re.search(r"\d\.\d(?!\d{2})", matrix)  # no decimal point (a dot only groups thousands)
    assert re.search(r"\boprettet \d{1,2}\. (januar|februar|marts|april|maj|juni|juli|august|september|oktober|"
                     r"november|december) \d{4}\b", _visible_text(html))
    robust = _visible_text(html[html.index('<table id="robust-table"'):])
    assert re.search(r"\d+ af \d+\s+\d+,\d\b", robust)  # "4 af 5", mean score "93,1"
    assert "50.000" in html  # whole country: towns of 50.000 inhabitants or more, in the table of changes


@pytest.mark.browser
def test_danish_page_in_chromium(run_dir_da):
    from selenium.webdriver.common.by import By

    summary = json.loads((run_dir_da / "scenarios" / "scenarios.json").read_text(encoding="utf-8"))
    with _browser() as browser:
        browser.get((run_dir_da / "scenarios" / "scenarios.html").as_uri())
        assert browser.execute_script("return document.documentElement.lang") == "da"
        rows = browser.find_elements(By.CSS_SELECTOR, "#scenario-matrix tbody tr")
        assert len(rows) == len(summary["applications"])
        heads = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#scenario-matrix th[data-scenario]")]
        assert heads == [s["title"] for s in summary["scenarios"]] and "Fem parker" in heads
        assert browser.find_element(By.ID, "smoke-test").text.startswith("Afprøvning af metoden")
        _full_page_screenshot(browser, run_dir_da / "scenarios" / "screenshots" / "scenarios_da.png")
        browser.find_element(By.CSS_SELECTOR, 'button[data-sort-key="region"]').click()
        regions = [r.find_element(By.CSS_SELECTOR, 'td[data-key="region"]').text
                   for r in browser.find_elements(By.CSS_SELECTOR, "#scenario-matrix tbody tr")]
        assert regions == sorted(regions) and len(set(regions)) > 1  # sorted ascending by region
        assert [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []

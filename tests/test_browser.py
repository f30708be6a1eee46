"""The report looked at in a real browser: headless Debian Chromium driven by selenium, offline.

A synthetic run (six applications: two proposed, two eligible, two excluded; incomplete) is written with
`write_report`; the map, the index and one card are opened over file://. Screenshots are saved in the run
folder (``screenshots/``) so a person can look at them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from screening import cards, report
from tests import _chromium
from tests._report_fixtures import SITES, synthetic_context, synthetic_run

pytestmark = pytest.mark.browser

BANNER = "incomplete: natura2000_habitat missing"
FLAGS = (
    "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--window-size=1400,950", "--hide-scrollbars"
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium logging the browser console; skipped without chromium, chromedriver or selenium."""
    driver = _chromium.driver(*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
                              page_load_timeout_s=30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """The synthetic run's folder with index.html, map.html and six cards."""
    path = tmp_path_factory.mktemp("browser-run")
    run = synthetic_run()
    report.write_report(
        path, run["candidates"], run["breakdown"], run["overlaps"], run["selection"], run["manifest"],
        context=synthetic_context(), criteria=run["criteria"]
    )
    (path / "screenshots").mkdir()
    return path


def _open(browser, page: Path):
    browser.get_log("browser")  # drop entries of earlier pages
    browser.get(page.as_uri())


def _severe(browser) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def _wait(browser, css: str, count: int | None = None, timeout_s: float = 15.0):
    """Wait until `count` (or any) elements matching `css` are displayed (fade-in animations done)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(driver):
        found = [e for e in driver.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]
        return found if (len(found) == count if count is not None else found) else False

    return WebDriverWait(browser, timeout_s).until(ready, message=f"waiting for {count or 'any'} {css}")


def test_map_shows_every_candidate_and_opens_a_popup(browser, run_dir):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, run_dir / "map.html")
    markers = _wait(browser, "path.candidate-marker", count=len(SITES))
    assert len(browser.find_elements(By.CSS_SELECTOR, "path.candidate-site")) == len(SITES)
    for status in ("proposed", "eligible", "excluded"):
        assert len(browser.find_elements(By.CSS_SELECTOR, f"path.candidate-marker.candidate-{status}")) == 2
    assert all(m.is_displayed() for m in markers)
    assert browser.find_element(By.ID, "legend").is_displayed()
    banner = browser.find_element(By.ID, "incomplete-banner")
    assert banner.is_displayed() and BANNER in banner.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "path.ctx-kommuner")) == 4
    assert not browser.find_elements(By.CSS_SELECTOR, "img.leaflet-tile")  # basemap off: no tile requested
    browser.save_screenshot(str(run_dir / "screenshots" / "map.png"))

    ActionChains(browser).move_to_element(
        browser.find_element(By.CSS_SELECTOR, "path.candidate-marker.cand-A1")
    ).click().perform()
    popup = _wait(browser, ".leaflet-popup.candidate-popup")[0]
    assert popup.is_displayed()
    # read the popup's DOM text once it is filled (visible-text reads can race the fade-in and auto-pan)
    text = WebDriverWait(browser, 10).until(
        lambda d: (t := popup.get_attribute("textContent")) and "Open the score card" in t and t,
        message="waiting for the popup's content")
    assert "Vestpark Nord" in text and "Distance to nearest high-voltage substation" in text
    browser.save_screenshot(str(run_dir / "screenshots" / "map_popup.png"))
    assert _severe(browser) == []

    popup.find_element(By.CSS_SELECTOR, "a.card-link").click()
    _wait(browser, "#verdict")
    assert browser.current_url.endswith("/cards/" + cards.card_filename("A1"))


def test_map_layer_list_and_legend_never_overlap(browser, run_dir):
    """In a low window the expanded layer list (top right) and the legend (bottom right) each scroll within
    their half instead of covering each other (the mirror's 19 context layers did at 1400 x 950)."""
    browser.set_window_size(1000, 420)
    try:
        _open(browser, run_dir / "map.html")
        _wait(browser, "#legend")
        rects = browser.execute_script(
            "const r = (el) => el.getBoundingClientRect().toJSON();"
            "return [r(document.querySelector('.leaflet-control-layers')), r(document.getElementById('legend'))]")
        layers, legend = rects
        assert layers["bottom"] <= legend["top"], (layers, legend)
        assert legend["bottom"] <= browser.execute_script("return window.innerHeight")
    finally:
        browser.set_window_size(1400, 950)


def test_index_page(browser, run_dir):
    from selenium.webdriver.common.by import By

    _open(browser, run_dir / "index.html")
    rows = _wait(browser, "#ranking tr[data-status]", count=len(SITES))
    assert [r.get_attribute("data-status") for r in rows] == [
        "eligible", "eligible", "proposed", "proposed", "excluded", "excluded"
    ]
    assert BANNER in browser.find_element(By.ID, "incomplete-banner").text
    assert browser.find_element(By.ID, "count-proposed").text == "2"
    assert "proven optimal" in browser.find_element(By.ID, "solver").text
    _full_page_screenshot(browser, run_dir / "screenshots" / "index.png")
    assert _severe(browser) == []


def test_card_page(browser, run_dir):
    from selenium.webdriver.common.by import By

    _open(browser, run_dir / "cards" / cards.card_filename("A3"))
    _wait(browser, "#verdict")
    assert BANNER in browser.find_element(By.ID, "incomplete-banner").text
    images = browser.find_elements(By.CSS_SELECTOR, "main img")
    assert len(images) == 2
    for img in images:  # the contribution chart (SVG) and the site map (PNG) both load
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 100
    assert "Eligible, not proposed" in browser.find_element(By.ID, "verdict").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#raise-most li")) == 3
    assert "ranks between" in browser.find_element(By.ID, "sensitivity").text
    _full_page_screenshot(browser, run_dir / "screenshots" / "card.png")
    assert _severe(browser) == []


def _full_page_screenshot(browser, path: Path) -> None:
    """Screenshot of the whole page height (bounded), then the window size back."""
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, min(int(height) + 20, 5000))
    browser.save_screenshot(str(path))
    browser.set_window_size(1400, 950)


def test_injected_names_do_not_run_in_the_map(browser, tmp_path):
    """A site, a municipality and a line named ``<img src=x onerror=...>``: hovering and clicking them shows
    the text as typed, runs nothing, and the page's own scripts run under its policy (no console errors)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    from tests.test_report import PAYLOAD, injected_run

    run_dir = injected_run(tmp_path)
    _open(browser, run_dir / "map.html")
    title = browser.title
    _wait(browser, "path.candidate-marker", count=len(SITES))
    actions = ActionChains(browser)
    actions.move_to_element(browser.find_element(By.CSS_SELECTOR, "path.candidate-site.cand-A1")).perform()
    tip = _wait(browser, ".leaflet-tooltip")[0]
    assert PAYLOAD in tip.get_attribute("textContent")  # shown as text, not made into an element
    assert not tip.find_elements(By.TAG_NAME, "img")
    for css in ("path.ctx-kommuner", "path.ctx-hv_lines", "path.candidate-marker.cand-A3",
                "path.candidate-marker.cand-A1"):  # the last click leaves the injected site's popup open
        target = browser.find_element(By.CSS_SELECTOR, css)
        actions.move_to_element(target).perform()
        actions.move_to_element(target).click().perform()
    _wait(browser, ".leaflet-popup.candidate-popup")
    assert browser.execute_script("return window.__pwned === undefined")
    assert browser.title == title != "pwned"
    assert not browser.find_elements(By.CSS_SELECTOR, ".leaflet-pane img[src='x']")
    browser.save_screenshot(str(tmp_path / "injected_map.png"))
    assert _severe(browser) == []

"""A real browser (headless Debian Chromium) uploads a draft through the form and reads the score.

The screenshot is written to ``tmp_path``, or to ``$PREVIEW_SCREENSHOT_DIR`` when set (to look at it).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from screening import serve
from tests import _chromium
from tests import _preview_fixtures as fx

pytestmark = [pytest.mark.browser, pytest.mark.mirror]



@pytest.fixture(scope="module")
def base_url(mirror_root):
    """The app served by the production server (waitress, `serve.make_server`) on a free 127.0.0.1 port."""
    settings, _, criteria, ctx = fx.mirror_context()
    app = serve.create_app(layer_set=ctx.layer_set, criteria=criteria, settings=settings,
                           reference=ctx.reference, prepared=ctx.prepared)
    server = serve.make_server(app, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", app
    server.close()
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through Selenium; skipped when chromium, chromedriver or selenium are absent."""
    driver = _chromium.driver("--disable-gpu", "--window-size=1200,1800")
    yield driver
    driver.quit()


def _upload(driver, url: str, path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url + "/")
    driver.find_element(By.ID, "file").send_keys(str(path))
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, 90).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".score, #error")))


def test_upload_through_the_form_shows_the_score(browser, base_url, tmp_path):
    from selenium.webdriver.common.by import By

    url, app = base_url
    draft = tmp_path / "draft.geojson"
    draft.write_bytes(fx.good_geojson_bytes())
    _upload(browser, url, draft)
    shown = browser.find_element(By.CSS_SELECTOR, ".score").text
    verdict = browser.find_element(By.CSS_SELECTOR, ".verdict").text
    rank = browser.find_element(By.ID, "rank-1").text
    shot = Path(os.environ.get("PREVIEW_SCREENSHOT_DIR") or tmp_path) / "preview_result.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    browser.switch_to.frame(browser.find_element(By.ID, "map"))
    leaflet = browser.find_elements(By.CSS_SELECTOR, ".leaflet-container")  # inlined Leaflet, no CDN
    sites = browser.find_elements(By.CSS_SELECTOR, "path.candidate-site")
    browser.switch_to.default_content()

    expected = app.test_client().post("/api/preview", data={"file": (draft.open("rb"), "draft.geojson")},
                                      content_type="multipart/form-data").get_json()["applications"][0]
    assert shown == f"{expected['score_total']:.1f}"
    assert verdict.startswith("Eligible") and rank.startswith("Would rank")
    assert leaflet and sites


def test_a_bad_file_shows_the_fix_in_the_browser(browser, base_url, tmp_path):
    from selenium.webdriver.common.by import By

    url, _ = base_url
    name, data = fx.bad_uploads()["swapped_lon_lat"]
    draft = tmp_path / name
    draft.write_bytes(data)
    _upload(browser, url, draft)
    text = browser.find_element(By.ID, "error").text
    assert "swapped" in text and "How to fix" in text
    if os.environ.get("PREVIEW_SCREENSHOT_DIR"):
        browser.save_screenshot(str(Path(os.environ["PREVIEW_SCREENSHOT_DIR"]) / "preview_error.png"))
    browser.get(url + "/health")  # the server is still up
    assert '"ok":true' in browser.page_source.replace(" ", "")



def test_injected_site_name_runs_nothing_in_the_result_page(browser, base_url, tmp_path):
    """A draft named ``<img src=x onerror=...>``: hovering and clicking it on the result page's map shows the
    text as typed and runs nothing, in the page or its frames; the page's own scripts run (no CSP errors)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = base_url
    payload = "<img src=x onerror=\"window.__pwned=1;document.title='pwned'\">"
    draft = tmp_path / "injected.geojson"
    draft.write_text(json.dumps(fx.feature_collection(dict(fx.GOOD_PROPERTIES, area_name=payload))))
    browser.get_log("browser")
    _upload(browser, url, draft)
    title = browser.title
    assert payload in browser.find_element(By.CSS_SELECTOR, ".application h1").text
    card = browser.find_element(By.ID, "card-1")
    WebDriverWait(browser, 60).until(lambda d: card.size["height"] > 1000,  # the nonce'd script sized it
                                     message="the card frame was not fitted to its content")
    frame = browser.find_element(By.ID, "map")
    browser.execute_script("arguments[0].scrollIntoView()", frame)
    browser.switch_to.frame(frame)
    site = WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "path.candidate-site"))[0]
    ActionChains(browser).move_to_element(site).perform()
    tip = WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".leaflet-tooltip"))[0]
    assert payload in tip.get_attribute("textContent") and not tip.find_elements(By.TAG_NAME, "img")
    marker = browser.find_element(By.CSS_SELECTOR, "path.candidate-marker")
    ActionChains(browser).move_to_element(marker).click().perform()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".leaflet-popup"))
    assert browser.execute_script("return window.__pwned === undefined")
    browser.switch_to.default_content()
    browser.switch_to.frame(card)
    assert not browser.find_elements(By.CSS_SELECTOR, "img[src='x']")
    browser.switch_to.default_content()
    assert browser.execute_script("return window.__pwned === undefined")
    assert browser.title == title != "pwned"
    if os.environ.get("PREVIEW_SCREENSHOT_DIR"):
        browser.save_screenshot(str(Path(os.environ["PREVIEW_SCREENSHOT_DIR"]) / "preview_injected.png"))
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []

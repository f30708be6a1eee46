"""A real browser (headless Debian Chromium) uploads a draft through the form and reads the score.

The screenshot is written to ``tmp_path``, or to ``$PREVIEW_SCREENSHOT_DIR`` when set (to look at it).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from screening import serve
from tests import _preview_fixtures as fx

pytestmark = [pytest.mark.browser, pytest.mark.mirror]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def base_url(mirror_root):
    """The app served by werkzeug's threaded server on a free 127.0.0.1 port, in a thread."""
    settings, _, criteria, ctx = fx.mirror_context()
    app = serve.create_app(layer_set=ctx.layer_set, criteria=criteria, settings=settings,
                           reference=ctx.reference)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through Selenium; skipped when chromium, chromedriver or selenium are absent."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian chromium and chromedriver are absent (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is absent (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,1800"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(90)
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


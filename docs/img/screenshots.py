"""Make the README's screenshots: ``.venv/bin/python docs/img/screenshots.py`` (needs ../shared and Debian chromium).

Screens the approximate 2025 applications (invented squares: the pictures show the tool, not evidence about
the 2025 decision) once in Danish and once in English, opens the pages in headless Chromium and writes
``docs/img/map.png`` (Danish map with a popup open), ``card_da.png`` and ``card.png`` (the top of the
same card in both languages), and ``overview.png``: the overview site of ``reports/overview/latest`` (run
``make overview`` first) around Fredericia with a point report open (WebGL by SwiftShader).
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

from click.testing import CliRunner
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from screening import i18n
from screening.cli import main
from screening.config import PROJECT_ROOT, settings_from_env

IMG = PROJECT_ROOT / "docs" / "img"
CARD_OF = "AAB-2025"  # Aabenraa: designated in 2025 and proposed here; its card shows every part


def _screen(out: Path, lang: str) -> Path:
    applications = settings_from_env().mirror_root / "submissions" / "applications_2025_approx.gpkg"
    res = CliRunner().invoke(main, ["screen", str(applications), "--out", str(out), "--allow-missing",
                                    "bes_naturtyper", "--lang", lang], env={i18n.ENV_VAR: None})
    if res.exit_code != 0:
        sys.exit(res.output)
    return out / "latest"


def _browser(width: int, height: int):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def _card(run: Path) -> Path:
    from screening.cards import card_filename

    return run / "cards" / card_filename(CARD_OF)


OVERVIEW_VIEW = {"center": [9.76, 55.56], "zoom": 9.7}  # Trekantområdet
OVERVIEW_CLICK = (9.6345, 55.5918)  # a land cell near Fredericia (about 539,100 E, 6,161,800 N)


def _overview_shot() -> None:
    import logging

    from werkzeug.serving import make_server

    from screening.overview import make_app

    site = PROJECT_ROOT / "reports" / "overview" / "latest"
    if not (site / "index.html").exists():
        sys.exit(f"{site} holds no overview site: run 'make overview' first")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per tile request
    server = make_server("127.0.0.1", 0, make_app(site), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars", "--use-gl=angle",
                "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--window-size=1400,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(f"http://127.0.0.1:{server.server_port}/index.html")
        WebDriverWait(driver, 60).until(lambda d: d.execute_script("return Boolean(window.overview?.ready)"))
        driver.execute_script("window.overview.map.jumpTo(arguments[0])", OVERVIEW_VIEW)
        WebDriverWait(driver, 60).until(lambda d: d.execute_script(
            "const m = window.overview.map; return m.loaded() && m.areTilesLoaded()"))
        driver.execute_script("const m = window.overview.map, at = new maplibregl.LngLat(...arguments[0]);"
                              "m.fire('click', {lngLat: at, point: m.project(at)})", OVERVIEW_CLICK)
        WebDriverWait(driver, 60).until(lambda d: d.execute_script("return Boolean(window.overview.report)"))
        time.sleep(1.5)
        driver.save_screenshot(str(IMG / "overview.png"))
    finally:
        driver.quit()
        server.shutdown()


def main_() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        runs = {lang: _screen(Path(tmp) / lang, lang) for lang in ("da", "en")}
        driver = _browser(1100, 1500)
        try:
            for lang, name in (("da", "card_da.png"), ("en", "card.png")):
                driver.get(_card(runs[lang]).as_uri())
                time.sleep(1)
                driver.save_screenshot(str(IMG / name))
            driver.set_window_size(1400, 950)
            driver.get((runs["da"] / "map.html").as_uri())
            markers = WebDriverWait(driver, 30).until(
                lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, "path.candidate-marker") if e.is_displayed()])
            driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", markers[0])
            time.sleep(2)
            driver.save_screenshot(str(IMG / "map.png"))
        finally:
            driver.quit()
    _overview_shot()
    print("wrote", ", ".join(str(IMG / n) for n in ("card_da.png", "card.png", "map.png", "overview.png")))


if __name__ == "__main__":
    main_()

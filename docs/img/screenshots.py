"""Make the README's screenshots: ``.venv/bin/python docs/img/screenshots.py`` (needs ../shared and Debian chromium).

Screens the approximate 2025 applications (invented squares: the pictures show the tool, not evidence about
the 2025 decision) once in Danish and once in English, opens the pages in headless Chromium and writes
``docs/img/map.png`` (Danish map with a popup open), ``card_da.png`` and ``card.png`` (the top of the
same card in both languages).
"""

from __future__ import annotations

import sys
import tempfile
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
    print("wrote", ", ".join(str(IMG / n) for n in ("card_da.png", "card.png", "map.png")))


if __name__ == "__main__":
    main_()

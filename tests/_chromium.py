"""Headless Debian Chromium for the browser tests (selenium), in one place.

`driver` starts one, or skips the calling test with the reason when chromium, chromedriver or selenium is
absent (`.ci/run` installs the Debian packages); each test module passes its own window, language and
WebGL flags. The browser console is logged (``driver.get_log("browser")``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
BASE_FLAGS = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage")
SOFTWARE_WEBGL = ("--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader")
"""WebGL through ANGLE on SwiftShader (CPU): MapLibre needs WebGL, the test machines have no GPU."""


def driver(*flags: str, prefs: dict | None = None, page_load_timeout_s: float = 90.0):
    """A headless Chromium (`BASE_FLAGS` plus `flags`, e.g. ``--window-size=1400,950``; `prefs` such as
    ``{"intl.accept_languages": "da-DK,da"}``); the caller quits it."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Debian chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*BASE_FLAGS, *flags):
        options.add_argument(flag)
    if prefs:
        options.add_experimental_option("prefs", prefs)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(page_load_timeout_s)
    return browser

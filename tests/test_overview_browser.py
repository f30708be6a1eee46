"""The overview site in a real browser: headless Chromium with WebGL (SwiftShader), served with range requests.

A small site is built on the mirror (Plandata fixtures, a three-site run, a 2 km surface with criterion
bands, vector tiles up to zoom 10) and served on 127.0.0.1. The page must load without console errors, load
every source of its style, and answer a click on a known cell with its point report: the cell's score and
breakdown as written by the surface, the polygon layers there, the municipality and the nearest port, all
compared with values computed here from the same files. The site is built in Danish, the language people
read it in (issue 15): the page says ``lang="da"``, its texts and the point report's numbers are Danish.
Screenshots at national, regional and local zoom, and of the point report, are written to the site's
``screenshots/`` folder (set OVERVIEW_SCREENSHOTS=<dir> to keep them).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from pyproj import Transformer

from screening import i18n, overview, surface
from screening._overview_config import load_overview_config
from screening.catalog import load_layer
from screening.config import load_catalog, load_criteria, settings_from_env
from tests import _chromium
from tests import _overview_fixtures as fx

pytestmark = [pytest.mark.browser, pytest.mark.mirror, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")]

FLAGS = (*_chromium.SOFTWARE_WEBGL, "--window-size=1400,950", "--hide-scrollbars")
"""Chromium's WebGL through ANGLE on SwiftShader (CPU): MapLibre needs WebGL, the machine has no GPU."""
TIMEOUT_S = 180.0  # SwiftShader on a shared 2-core machine can take a minute for the first frame
TO_4326 = Transformer.from_crs(25832, 4326, always_xy=True)


@pytest.fixture(scope="module")
def built(mirror_root, tmp_path_factory):
    """The site folder, the settings and the surface folder it was built from."""
    tmp = tmp_path_factory.mktemp("overview-browser")
    mirror = fx.plandata_mirror(mirror_root, tmp)
    settings = settings_from_env(mirror_root=mirror, online=False)
    catalog = load_catalog(settings=settings)
    criteria = load_criteria(settings=settings, catalog=catalog)
    surface_dir = tmp / "surface"
    surface.surface_from_catalog(settings=settings, catalog=catalog, criteria=criteria, out_dir=surface_dir,
                                 res_m=2000, allow_missing=["bes_naturtyper"], criterion_bands=True)
    config = load_overview_config(settings.layers_dir / "overview.yaml", catalog_ids=catalog.ids).with_max_zoom(10)
    site = tmp / "site"
    with i18n.use("da"):  # the default language of the page
        overview.build_overview(site, settings=settings, catalog=catalog, criteria=criteria, config=config,
                                surface_dir=surface_dir, run_dir=fx.screening_run(tmp))
    (site / "screenshots").mkdir()
    return {"site": site, "settings": settings, "catalog": catalog, "surface": surface_dir}


@pytest.fixture(scope="module")
def server(built):
    """The site served by `overview.make_app` on a free port of 127.0.0.1."""
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    srv = make_server("127.0.0.1", 0, overview.make_app(built["site"]), threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


@pytest.fixture(scope="module")
def page(server):
    """Headless Chromium on the page, waited until the map's first idle frame; skipped without chromium."""
    driver = _chromium.driver(*FLAGS, page_load_timeout_s=TIMEOUT_S)
    driver.set_script_timeout(TIMEOUT_S)
    driver.get(f"{server}/index.html")
    _until(driver, "return Boolean(window.overview && window.overview.ready)")
    yield driver
    driver.quit()


def _until(driver, script: str, *args, timeout_s: float = TIMEOUT_S):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        value = driver.execute_script(script, *args)
        if value:
            return value
        time.sleep(0.25)
    logs = [e["message"][:200] for e in driver.get_log("browser")]
    state = driver.execute_script("return window.overview ? {ready: window.overview.ready, errors: "
                                  "window.overview.errors} : null")
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for: {script}; page state {state}; "
                         f"console {logs}")


def _settle(driver, lon: float, lat: float, zoom: float) -> None:
    driver.execute_script("window.overview.map.jumpTo({center: [arguments[0], arguments[1]], zoom: arguments[2]})",
                          lon, lat, zoom)
    time.sleep(0.3)
    _until(driver, "const m = window.overview.map; return m.loaded() && m.areTilesLoaded()")


def test_page_loads_every_source_without_console_errors(page, built):
    severe = [e["message"] for e in page.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    assert page.execute_script("return window.overview.errors") == []
    style = page.execute_script("const s = window.overview.map.getStyle(); return {sources: Object.keys(s.sources),"
                                " layers: Object.fromEntries(s.layers.map((l) => [l.id, l.source || null]))}")
    # the drawn layers share one archive and one map source (all capped at zoom 10 here), land and surface apart
    assert set(style["sources"]) == {"land", "surface", "layers-z10"}
    for layer in ("natura2000_fugle", "erhvervsrammer", "ansoegninger", "veje", "havne"):
        assert style["layers"][layer] == "layers-z10", layer
    _until(page, "const m = window.overview.map; return Object.keys(m.getStyle().sources)"
                 ".every((id) => m.isSourceLoaded(id))")
    attribution = page.execute_script(
        "return document.querySelector('.maplibregl-ctrl-attrib-inner').textContent")
    assert "foreløbig, uofficiel kopi" in attribution and "OpenStreetMap" in attribution
    assert "Egnethedskort: beregnet af industripark-screening" in attribution
    assert page.execute_script("return document.documentElement.lang") == "da"
    panel = page.find_element("id", "panel").text
    assert "Overblikskort" in panel and "Kortlag" in panel and "Egnethedskort (celler på 2.000 m)" in panel


def _known_cell(built) -> dict:
    """A land cell of the surface inside a bird protection area (excluded there), with what it holds."""
    settings, catalog = built["settings"], built["catalog"]
    birds = load_layer("natura2000_fuglebeskyttelse", catalog=catalog, settings=settings)
    kommuner = load_layer("kommuner", catalog=catalog, settings=settings)
    with rasterio.open(built["site"] / "surface" / "breakdown.tif") as ds:
        values = ds.read()
        transform = ds.transform
    land = shapely.union_all(kommuner.geometry.to_numpy())
    # the first bird area whose interior holds a cell centre that is also deep on land
    rows, cols = np.nonzero(values[0] != 65535)
    xs, ys = transform * (cols + 0.5, rows + 0.5)
    centres = shapely.points(xs, ys)
    inner = shapely.buffer(shapely.union_all(birds.geometry.to_numpy()), -600)
    ok = shapely.contains(inner, centres) & shapely.contains(shapely.buffer(land, -600), centres)
    i = int(np.flatnonzero(ok)[0])
    x, y = float(xs[i]), float(ys[i])
    point = shapely.Point(x, y)
    ports = load_layer("ports", catalog=catalog, settings=settings)
    bird = birds.iloc[int(np.flatnonzero(shapely.contains(birds.geometry.to_numpy(), point))[0])]
    return {"x": x, "y": y, "lonlat": TO_4326.transform(x, y), "values": values[:, rows[i], cols[i]].tolist(),
            "bird": bird["objektnavn"],
            "kommune": kommuner.loc[kommuner.contains(point), "kommunenavn"].iloc[0],
            "port_m": float(ports.distance(point).min())}


def test_click_on_a_known_cell_gives_its_point_report(page, built):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    cell = _known_cell(built)
    lon, lat = cell["lonlat"]
    _settle(page, lon, lat, 11)  # a pixel is about 40 m: the click lands within 2 pixels of the centre
    px, py = page.execute_script("const p = window.overview.map.project([arguments[0], arguments[1]]);"
                                 "return [p.x, p.y];", lon, lat)
    canvas = page.find_element(By.CSS_SELECTOR, "#map canvas")
    width, height = canvas.size["width"], canvas.size["height"]
    ActionChains(page).move_to_element_with_offset(canvas, px - width / 2, py - height / 2).click().perform()
    report = _until(page, "return window.overview.report")
    values = cell["values"]
    assert abs(report["x"] - cell["x"]) < 80 and abs(report["y"] - cell["y"]) < 80  # the click's pixel
    assert report["cell"]["land"] is True
    assert report["cell"]["total"] == pytest.approx(values[0] / 100)
    assert [c["score"] for c in report["cell"]["criteria"]] == pytest.approx([v / 10_000 for v in values[1:-1]])
    assert report["cell"]["bits"] == values[-1] and values[-1] & 1  # bit 0: the bird protection rule
    assert "natura2000_fuglebeskyttelse" in [r["id"] for r in report["cell"]["rules"]]
    here = {(hit["id"], hit["label"]) for hit in report["here"]["layers"]}
    assert ("natura2000_fugle", cell["bird"]) in here
    assert report["here"]["kommune"] == cell["kommune"]
    port = next(n for n in report["nearest"] if n["id"] == "port")
    assert port["distance_m"] == pytest.approx(cell["port_m"], abs=80)  # the click lands within 2 pixels
    text = page.find_element(By.ID, "report").text
    assert "Punktrapport" in text and "Samlet score" in text and cell["kommune"] in text
    assert re.search(r"Samlet score: \d+,\d af 100", text), text  # Danish decimal comma
    assert "Cellen er udelukket af" in text and "Nærmeste infrastruktur (i lige linje)" in text
    assert re.search(r"Position \(ETRS89 / UTM 32N\): \d{3}\.\d{3} Ø, \d\.\d{3}\.\d{3} N", text), text
    page.save_screenshot(str(built["site"] / "screenshots" / "report.png"))
    _keep(built["site"] / "screenshots" / "report.png")


def test_search_zooms_to_a_municipality(page):
    from selenium.webdriver.common.by import By

    _settle(page, 11.0, 56.1, 6)
    box = page.find_element(By.ID, "search-input")
    box.clear()
    box.send_keys("Vejle")
    page.find_element(By.CSS_SELECTOR, "#search button").click()
    lon, lat = _until(page, "const m = window.overview.map; const c = m.getCenter();"
                            "return m.getZoom() > 8 && !m.isMoving() ? [c.lng, c.lat] : null")
    assert 9.0 < lon < 9.9 and 55.5 < lat < 56.0


@pytest.mark.parametrize(("name", "view"), [("national", (11.0, 56.1, 6.2)), ("regional", (9.6, 55.75, 8.5)),
                                            ("local", (9.35, 55.72, 11.5))])
def test_screenshots_at_three_zooms(page, built, name, view):
    _settle(page, *view)
    path = built["site"] / "screenshots" / f"{name}.png"
    page.save_screenshot(str(path))
    assert path.stat().st_size > 20_000  # a drawn map, not a blank page
    _keep(path)


def _keep(path: Path) -> None:
    """Copy a screenshot to $OVERVIEW_SCREENSHOTS when set."""
    keep = os.environ.get("OVERVIEW_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(keep) / path.name)

"""The pages people read, in Danish by default and in English on request (issue 15): the report of the 2025
applications (index, map, every card), the preview's terminal text, the preview web page and its errors.

The suite runs in English (tests/conftest.py); these tests ask for Danish explicitly (no ``INDUSTRIPARK_LANG``,
``--lang da``, ``Accept-Language: da``) and check the page language, that no English sentence of the templates is
left in a Danish page (every multi-word English text of the templates and of the page modules' message tables,
collected from the sources, that the catalog translates differently), Danish number and date formats, and
the same pages in English.
"""

from __future__ import annotations

import html as htmllib
import io
import json
import os
import re
import threading
from pathlib import Path

import pandas as pd
import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from click.testing import CliRunner

from screening import _figures, _preview_text, _serve_answer, _upload, cards, i18n, maps, report, serve
from screening.cli import main
from screening.config import PROJECT_ROOT, load_criteria
from tests import _chromium
from tests import _preview_fixtures as fx

TEMPLATES = PROJECT_ROOT / "screening" / "templates"
PO_DA = PROJECT_ROOT / "screening" / "locale" / "da" / "LC_MESSAGES" / "messages.po"
ALLOW = ["--allow-missing", "bes_naturtyper"]
MONTHS_DA = "januar|februar|marts|april|maj|juni|juli|august|september|oktober|november|december"


def _danish() -> dict:
    with PO_DA.open("rb") as fh:
        return {m.id: m.string for m in read_po(fh, locale="da") if m.id}


def _template_msgids(*names: str) -> list[str]:
    """The English texts of the report's and the server's templates, extracted as `make translations` does."""
    ids = []
    for name in names:
        for _line, message, _comments, _context in extract_from_file(
                "jinja2", str(TEMPLATES / name), options={"extensions": "jinja2.ext.i18n", "trimmed": "true"}):
            ids.append(message)
    return ids


def _module_msgids() -> list:
    """The English texts of the page modules' message tables (cards, map, report, preview, server, upload)."""
    out = [*cards.FIELD_PHRASES.values(), *cards.RAISE_TEXTS.values(), *maps.STATUS_LABELS.values(),
           *maps.DRAFT_LABELS.values(), *(s.title for s in maps.CONTEXT_STYLES.values()),
           *(w for _f, w in report.DOWNLOADS), *report.BACKTEST_HEADINGS.values(), *_preview_text.TEXTS.values(),
           *_upload.TEXTS.values()]
    out += [text for triple in _serve_answer.MESSAGES.values() for text in triple if isinstance(text, str)]
    return out


def _english_pieces(msgids) -> list[str]:
    """Runs of three or more English words (12+ characters) between placeholders and tags of `msgids` that
    the Danish catalog translates into something else."""
    danish = _danish()
    pieces = set()
    for msgid in msgids:
        text = msgid if isinstance(msgid, str) else msgid[0]
        translated = danish.get(msgid, "")
        translated = translated if isinstance(translated, str) else " ".join(translated)
        for piece in re.split(r"%\(\w+\)s|%%|<[^>]+>", text):
            piece = " ".join(piece.split()).strip(" ;:,.()'\"–-")
            if len(piece) >= 12 and len(piece.split()) >= 3 and piece not in translated:
                pieces.add(piece)
    return sorted(pieces)


def _text(page: Path) -> str:
    """A page's text as a reader meets it: entities decoded, runs of white space as one space."""
    raw = page.read_text(encoding="utf-8")
    raw = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), raw)  # JSON in the map's script
    raw = raw.replace('\\"', '"').replace("\\n", " ")
    return " ".join(htmllib.unescape(raw).split())


REPORT_TEMPLATES = ("_base.html.j2", "_banner.html.j2", "index.html.j2", "card.html.j2", "popup.html.j2",
                    "map_overlay.html.j2")
SERVE_TEMPLATES = ("serve_base.html.j2", "serve_form.html.j2", "serve_result.html.j2", "serve_error.html.j2")


# --------------------------------------------------------------------------- texts built in Python


@pytest.mark.parametrize(("lang", "value", "unit", "expected"), [
    ("da", 14_213.0, "m", "14,2 km"), ("en", 14_213.0, "m", "14.2 km"), ("da", 2000.0, "m", "2 km"),
    ("da", 850, "m", "850 m"), ("da", 338_788, "persons", "338.788 personer"), ("en", 1, "persons", "1 person"),
    ("da", 1, "institutions", "1 institution"), ("da", 31, "institutions", "31 institutioner"),
    ("da", 2, "letters", "2 hensigtserklæringer"), ("da", 7.5, "min", "7,5 min"), ("da", None, "m", "ikke oplyst"),
    ("da", True, "", "ja"), ("da", "proposal_in_hearing", "status", "forslag i høring"),
    ("da", "2026-01-28", "date", "28. januar 2026"), ("en", "2026-01-28", "date", "28 January 2026"),
])
def test_values_with_units_in_both_languages(lang, value, unit, expected):
    with i18n.use(lang):
        assert _figures.format_value(value, unit) == expected


def _rows(*records):
    cols = ["application_id", "group", "criterion", "title", "raw_value", "unit", "score", "weight", "contribution",
            "assessed", "nearest"]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in records])


def test_what_would_raise_the_score_in_danish():
    """The test_report case (a substation 14.2 km away, no council decision date, a local plan in preparation)
    with the Danish titles a Danish run's breakdown carries."""
    criteria = load_criteria()
    rows = _rows(
        ("X", "infrastructure", "hv_substation", "Afstand til nærmeste højspændingsstation", 14_200.0, "m", 0.4696,
         11.25, 5.28, True, "400 kV Idomlund"),
        ("X", "commitment", "council_decision", "Kommunalbestyrelsens beslutning om at ansøge", None, "date",
         float("nan"), 0.0, 0.0, False, ""),
        ("X", "commitment", "lokalplan_status", "Status for lokalplan", "in_preparation", "status", 0.5, 3.33, 1.67,
         True, ""),
    )
    with i18n.use("da"):
        texts = [r["text"] for r in cards.improvements(rows, criteria)]
    assert texts == [
        "Hvis ansøgningen oplyser datoen for kommunalbestyrelsens beslutning (kb_decision_date), ville kriteriet "
        "tælle med (op til 6,7 point).",
        "Der er 14,2 km til nærmeste højspændingsstation (400 kV Idomlund); inden for 2 km ville det give 6,0 point "
        "mere.",
        "Status for lokalplan er 'under udarbejdelse'; 'vedtaget' ville give 1,7 point mere.",
    ]


@pytest.mark.parametrize(("manifest", "heading", "absent"), [
    ({"damaged_layers": {"hv_substations": "48 of 96 features unreadable"}}, "Beskadiget kort.",
     "Et kort, der kan udelukke arealer, var ikke tilgængeligt"),
    ({"incomplete": True, "missing_layers": {"natura2000_habitat": "not in the mirror"}},
     "Et kort, der kan udelukke arealer, var ikke tilgængeligt", "Beskadiget kort."),
])
def test_banners_say_what_is_wrong(manifest, heading, absent):
    """A damaged score layer is not called a missing exclusion layer, and the other way round."""
    with i18n.use("da"):
        page = report.page_values(manifest, load_criteria())
        html = " ".join(report.template_env().get_template("_banner.html.j2").render(page=page, root="").split())
    assert heading in html and absent not in html
    assert ("ufuldstændig: hv_substations beskadiget" in html) == ("damaged_layers" in manifest)


# --------------------------------------------------------------------------- the report of the 2025 applications


@pytest.fixture(scope="module")
def runs(mirror_root, tmp_path_factory):
    """``make screen`` on the approximate 2025 applications: once with no language named (Danish by default),
    once with --lang en; the run folders."""
    out = tmp_path_factory.mktemp("pages")
    applications = mirror_root / "submissions" / "applications_2025_approx.gpkg"
    folders = {}
    for lang, extra in (("da", []), ("en", ["--lang", "en"])):
        res = CliRunner().invoke(main, ["screen", str(applications), "--out", str(out / lang), *ALLOW, *extra],
                                 env={i18n.ENV_VAR: None})
        assert res.exit_code == 0, res.output
        folders[lang] = out / lang / "latest"
    return folders


def _pages(run: Path) -> list[Path]:
    return [run / "index.html", run / "map.html", *sorted((run / "cards").glob("*.html"))]


@pytest.mark.mirror
def test_pages_are_danish_by_default(runs):
    pieces = _english_pieces([*_template_msgids(*REPORT_TEMPLATES), *_module_msgids()])
    assert len(pieces) > 100  # the check has teeth: the templates' English is known
    pages = _pages(runs["da"])
    assert len(pages) == 2 + 15
    for page in pages:
        raw = page.read_text(encoding="utf-8")
        assert '<html lang="da">' in raw, page.name
        text = _text(page)
        left = [p for p in pieces if p in text]
        assert left == [], (page.name, left)
    assert json.loads((runs["da"] / "manifest.json").read_text(encoding="utf-8"))["lang"] == "da"


@pytest.mark.mirror
def test_danish_pages_have_danish_words_numbers_and_dates(runs):
    index = _text(runs["da"] / "index.html")
    for words in ("Screening af ansøgninger om industriparker", "Forslaget", "Alle ansøgninger efter placering",
                  "Efterprøvning mod udpegningen i 2025", "foreslået", "udelukket"):
        assert words in index, words
    assert re.search(rf"\b\d{{1,2}}\. ({MONTHS_DA}) \d{{4}}\b", index)  # the run's date in words
    assert re.search(r"<strong>\d+,\d</strong>", (runs["da"] / "index.html").read_text(encoding="utf-8"))
    texts = [_text(p) for p in sorted((runs["da"] / "cards").glob("*.html"))]
    every = " ".join(texts)
    assert all("Hvad ville hæve scoren mest" in t and "Data bag dette scorekort" in t for t in texts)
    assert re.search(r"\d{1,3}(\.\d{3})+ personer", every)  # population with Danish thousands
    assert re.search(r"\d+,\d ha", every) and re.search(r"\d+,\d km", every)
    assert "Foreslået." in every and "Udelukket." in every and "udpeget i 2025" in every
    # the catalog's words about a mirror copy (layers/catalog.yaml mirror_source, mirror_date) in Danish too
    assert "uofficiel KML-kopi" in every and "omkring 2013" in every
    assert "unofficial KML copy" not in every and "about 2013" not in every
    site_map = _text(runs["da"] / "map.html")
    assert "Åbn scorekortet" in site_map and "Baggrundskort: OpenStreetMap (kræver internet)" in site_map
    assert "Kommuner (forenklet 100 m)" in site_map


@pytest.mark.mirror
def test_the_same_pages_in_english(runs):
    pieces = _english_pieces(_template_msgids(*REPORT_TEMPLATES))
    for page in _pages(runs["en"]):
        assert '<html lang="en">' in page.read_text(encoding="utf-8"), page.name
    index, card = _text(runs["en"] / "index.html"), _text(sorted((runs["en"] / "cards").glob("*.html"))[0])
    assert "Screening of industripark applications" in index and "All applications, ranked" in index
    assert "What would raise the score most" in card and "Data behind this card" in card
    assert sum(p in index + card for p in pieces) > 20  # the English texts are there
    assert not re.search(rf"\d\. ({MONTHS_DA}) \d{{4}}", index) and "Forslaget" not in index
    assert json.loads((runs["en"] / "manifest.json").read_text(encoding="utf-8"))["lang"] == "en"


# --------------------------------------------------------------------------- the preview, terminal and web


@pytest.mark.mirror
def test_preview_text_is_danish_by_default(mirror_root, tmp_path):
    path = tmp_path / "draft.geojson"
    path.write_bytes(fx.good_geojson_bytes())
    res = CliRunner().invoke(main, ["preview", str(path), "--out", str(tmp_path), *ALLOW], env={i18n.ENV_VAR: None})
    assert res.exit_code == 0, res.output
    out = res.output
    assert "KAN KOMME I BETRAGTNING: ikke udelukket; nettoareal" in out and "Placering: nr. " in out
    assert re.search(r"Score: \d+,\d af 100 {2}\(Erhvervsinfrastruktur \d+,\d", out)
    assert "Ændringer, der ville hæve scoren mest:" in out and "Scorekort: " in out
    left = [p for p in _english_pieces(_preview_text.TEXTS.values()) if p in out]
    assert left == [] and "ELIGIBLE" not in out and "Rank:" not in out
    card = next((tmp_path / "previews").glob("*/cards/*.html")).read_text(encoding="utf-8")
    assert '<html lang="da">' in card and "kun en forhåndsvurdering" in card


@pytest.fixture(scope="module")
def client(mirror_root):
    """The preview app on the mirror, its own default language English (as the suite's)."""
    settings, _, criteria, ctx = fx.mirror_context()
    app = serve.create_app(layer_set=ctx.layer_set, criteria=criteria, settings=settings, reference=ctx.reference,
                           prepared=ctx.prepared, lang="en")
    return app.test_client()


def _post(client, name, data, route, **headers):
    return client.post(route, data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data",
                       headers=headers)


@pytest.mark.mirror
@pytest.mark.parametrize(("headers", "query", "lang"), [
    ({"Accept-Language": "da-DK,da;q=0.9,en;q=0.8"}, "", "da"),
    ({"Accept-Language": "en-GB,en;q=0.9"}, "", "en"),
    ({"Accept-Language": "en-GB,en;q=0.9,da;q=0.3"}, "", "da"),  # Danish first whenever accepted
    ({"Accept-Language": "da"}, "?lang=en", "en"),                # the switch wins
    ({"Accept-Language": "de"}, "", "en"),                        # neither: the server's language
    ({}, "?lang=da", "da"),
])
def test_the_form_follows_the_request_language(client, headers, query, lang):
    answer = client.get("/" + query, headers=headers)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and answer.headers["Content-Language"] == lang
    assert f'<html lang="{lang}">' in html and "Accept-Language" in answer.headers.get("Vary", "")
    assert ("Forhåndsvurdér en ansøgning" in html) == (lang == "da")
    assert ("Preview a submission" in html) == (lang == "en")
    assert 'href="/?lang=da"' in html and 'href="/?lang=en"' in html  # the Dansk/English switch
    assert f'action="/preview?lang={lang}"' in html


@pytest.mark.mirror
def test_a_preview_answers_in_danish_and_english(client):
    pieces = _english_pieces(_template_msgids(*SERVE_TEMPLATES, *REPORT_TEMPLATES))
    da = _post(client, "kladde.geojson", fx.good_geojson_bytes(), "/preview", **{"Accept-Language": "da"})
    html = " ".join(htmllib.unescape(da.get_data(as_text=True)).split())
    assert da.status_code == 200 and da.headers["Content-Language"] == "da" and '<html lang="da">' in html
    assert "Kan komme i betragtning — ikke udelukket (nettoareal" in html and "Ville blive nr." in html
    assert "ufuldstændig: bes_naturtyper mangler" in html and re.search(r"\d+,\d ha", html)
    assert [p for p in pieces if p in html] == []  # the result page, the framed card and the framed map
    en = _post(client, "draft.geojson", fx.good_geojson_bytes(), "/preview?lang=en", **{"Accept-Language": "da"})
    text = en.get_data(as_text=True)
    assert en.headers["Content-Language"] == "en" and "Eligible — passes the exclusions" in text
    api = _post(client, "kladde.geojson", fx.good_geojson_bytes(), "/api/preview", **{"Accept-Language": "da"})
    improvements = api.get_json()["applications"][0]["improvements"]
    assert improvements and all("point" in t["text"] and "points" not in t["text"] for t in improvements)


@pytest.mark.mirror
@pytest.mark.parametrize(("kind", "danish", "english"), [
    ("wrong_extension", "filer af typen '.exe' modtages ikke", "files of type '.exe' are not accepted"),
    ("zip_bomb", "arkivbombe", "archive bomb"),
    ("unknown_kommunekode", "objekt 1", "feature 1"),
])
def test_bad_uploads_are_explained_in_the_request_language(client, kind, danish, english):
    name, data = fx.bad_uploads()[kind]
    page = _post(client, name, data, "/preview", **{"Accept-Language": "da"})
    html = htmllib.unescape(page.get_data(as_text=True))
    assert page.status_code == 422 and '<html lang="da">' in html and "Sådan rettes det:" in html
    assert danish in html and english not in html and "How to fix" not in html
    api = _post(client, name, data, "/api/preview", **{"Accept-Language": "da"})
    problem = api.get_json()["problems"][0]
    assert api.headers["Content-Language"] == "da" and problem["fix"] and english not in json.dumps(problem)
    en = _post(client, name, data, "/preview?lang=en", **{"Accept-Language": "da"})
    assert english in htmllib.unescape(en.get_data(as_text=True)) and "How to fix" in en.get_data(as_text=True)


@pytest.mark.mirror
def test_error_pages_follow_the_language(client):
    page = client.get("/intet-her", headers={"Accept-Language": "da"})
    assert page.status_code == 404 and "404 Siden findes ikke" in page.get_data(as_text=True)
    api = client.get("/api/intet", headers={"Accept-Language": "da"})
    assert api.get_json()["title"] == "404 Siden findes ikke"
    wrong = client.get("/preview?lang=da")
    assert wrong.status_code == 405 and "denne adresse svarer ikke på en GET-forespørgsel" in wrong.get_data(
        as_text=True)
    empty = client.post("/api/preview?lang=da", data={}, content_type="multipart/form-data")
    assert empty.get_json()["title"] == "Ingen fil valgt"
    big = _post(client, "stor.geojson", b"{" + b" " * (21 * 2**20) + b"}", "/api/preview?lang=da")
    assert big.status_code == 413 and big.get_json()["problems"][0]["message"] == "uploaden er større end 20 MB"


# --------------------------------------------------------------------------- in a browser, looked at


@pytest.fixture(scope="module")
def browser():
    driver = _chromium.driver("--disable-gpu", "--window-size=1400,1000", "--hide-scrollbars", "--lang=da",
                              prefs={"intl.accept_languages": "da-DK,da"})  # Accept-Language: da
    yield driver
    driver.quit()


def _shots(default: Path) -> Path:
    """Where screenshots go: ``$I18N_SCREENSHOT_DIR`` when set (to look at them), else `default`/screenshots."""
    return Path(os.environ.get("I18N_SCREENSHOT_DIR") or default / "screenshots")


def _shot(driver, folder: Path, name: str, *, full: bool = False) -> Path:
    """A screenshot (the whole page when `full`) in `folder`, kept for a person to look at."""
    folder.mkdir(parents=True, exist_ok=True)
    if full:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, min(int(height), 8000))
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    return path


def _severe(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.mark.mirror
@pytest.mark.browser
def test_danish_pages_in_a_browser(browser, runs):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    run, shots = runs["da"], _shots(runs["da"])
    browser.get((run / "index.html").as_uri())
    assert browser.execute_script("return document.documentElement.lang") == "da"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Screening af ansøgninger om industriparker"
    _shot(browser, shots, "index_da", full=True)
    card = sorted((run / "cards").glob("*.html"))[0]
    browser.get(card.as_uri())
    assert browser.find_element(By.CSS_SELECTOR, "#raise-most, .verdict").is_displayed()
    _shot(browser, shots, "card_da", full=True)
    browser.get_log("browser")
    browser.get((run / "map.html").as_uri())
    markers = WebDriverWait(browser, 20).until(
        lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, "path.candidate-marker") if e.is_displayed()])
    browser.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", markers[0])
    popup = WebDriverWait(browser, 10).until(
        lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".cand-popup") if e.is_displayed() and e.text])[0]
    assert "Åbn scorekortet" in popup.text and "Kriterium" in popup.text
    assert "Ansøgninger" in browser.find_element(By.ID, "legend").text
    _shot(browser, shots, "map_popup_da")
    assert _severe(browser) == []


@pytest.mark.mirror
@pytest.mark.browser
def test_danish_preview_page_in_a_browser(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    settings, _, criteria, ctx = fx.mirror_context()
    app = serve.create_app(layer_set=ctx.layer_set, criteria=criteria, settings=settings, reference=ctx.reference,
                           prepared=ctx.prepared, lang="en")
    server = serve.make_server(app, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.effective_port}"
        draft = tmp_path / "kladde.geojson"
        draft.write_bytes(fx.good_geojson_bytes())
        browser.get(url + "/")  # the browser asks for Danish (--lang=da): the form answers in Danish
        assert browser.execute_script("return document.documentElement.lang") == "da"
        browser.find_element(By.ID, "file").send_keys(str(draft))
        browser.find_element(By.ID, "submit").click()
        WebDriverWait(browser, 90).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".score")))
        assert "Kan komme i betragtning" in browser.find_element(By.CSS_SELECTOR, ".verdict").text
        _shot(browser, _shots(tmp_path), "preview_da", full=True)
        browser.find_element(By.CSS_SELECTOR, '#language a[hreflang="en"]').click()
        assert browser.execute_script("return document.documentElement.lang") == "en"
        assert browser.find_element(By.TAG_NAME, "h1").text == "Preview a submission"
    finally:
        server.close()
        thread.join(10)

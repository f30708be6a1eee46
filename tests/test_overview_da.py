"""The overview site in Danish (the default for people) and English (issue 15, issue 16).

The page's texts are English msgids in templates/overview/index.html.j2 translated through the Danish catalog;
layer, group and criterion names are YAML texts ({da, en}); ``industripark overview --lang`` picks the
language, recorded as ``lang`` in overview.json. The suite runs in English (tests/conftest.py), so the Danish
site is asked for with ``--lang da``. The site is small (tiles up to zoom 6, no surface) to keep this quick;
tests/test_overview_browser.py opens a Danish site in Chromium.
"""

from __future__ import annotations

import json
import re

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from click.testing import CliRunner

from screening import i18n
from screening._overview_assets import TEMPLATES
from screening.cli import main
from screening.config import PROJECT_ROOT
from tests import _overview_fixtures as fx
from tests.test_overview import surface_dir  # noqa: F401  (a small surface folder with criterion bands)

PO_DA = PROJECT_ROOT / "screening" / "locale" / "da" / "LC_MESSAGES" / "messages.po"
MONTHS = ("januar|februar|marts|april|maj|juni|juli|august|september|oktober|november|december")


def _template_msgids() -> list[str]:
    """Every text of the overview template, extracted as `make translations` does (babel.cfg)."""
    return [m[1] if isinstance(m[1], str) else m[1][0] for m in extract_from_file(
        "jinja2", str(TEMPLATES / "index.html.j2"), keywords={"_": None, "gettext": None, "ngettext": (1, 2)},
        options={"extensions": "jinja2.ext.i18n", "trimmed": "true"})]


def _danish() -> dict[str, str]:
    with PO_DA.open("rb") as fh:
        return {m.id: m.string for m in read_po(fh, locale="da") if isinstance(m.id, str) and m.id}


def _left(html: str, lang: str) -> list[str]:
    """Pieces (10+ characters between placeholders) of the template's texts in the *other* language still in
    `html`: English msgids on a Danish page, Danish translations on an English page; a piece both languages
    share (a proper name such as "ETRS89 / UTM 32N") is skipped."""
    danish = _danish()
    left = []
    for msgid in _template_msgids():  # some sixty texts
        ours, theirs = (danish.get(msgid, ""), msgid) if lang == "da" else (msgid, danish.get(msgid, ""))
        for piece in (p.strip(" ;:,.()'") for p in re.split(r"%\(\w+\)s|<[^>]+>", theirs)):
            if len(piece) >= 10 and piece not in ours and piece in html:
                left.append(piece)
    return left


def _ui(html: str) -> dict:
    return json.loads(html.split('id="ui-text">', 1)[1].split("</script>", 1)[0])


@pytest.fixture(scope="module", params=["da", "en"])
def site(request, mirror_root, tmp_path_factory):
    """The overview built with ``--lang <lang>`` on the mirror plus the Plandata fixtures and a three-site run."""
    tmp = tmp_path_factory.mktemp(f"overview-{request.param}")
    mirror = fx.plandata_mirror(mirror_root, tmp)
    run = fx.screening_run(tmp)
    out = tmp / "out"
    result = CliRunner().invoke(main, ["overview", "--out", str(out), "--surface", str(tmp / "no-surface"),
                                       "--no-surface-build", "--run", str(run), "--max-zoom", "6",
                                       "--mirror", str(mirror), "--offline", "--lang", request.param])
    assert result.exit_code == 0, result.output
    site = (out / "latest").resolve()
    return {"lang": request.param, "output": result.output, "html": (site / "index.html").read_text("utf-8"),
            "manifest": json.loads((site / "overview.json").read_text("utf-8"))}


@pytest.mark.mirror
def test_the_page_is_in_the_language_asked_for(site):
    html, manifest, lang = site["html"], site["manifest"], site["lang"]
    assert f'<html lang="{lang}">' in html
    assert manifest["lang"] == lang
    ui = _ui(html)
    assert ui["locale"] == {"da": "da-DK", "en": "en-GB"}[lang]
    words = {"da": ["<h1>Overblikskort</h1>", "Find kommune", "Mangler i kortet", "Skriv et kommunenavn, fx Vejle",
                    "Klik et sted på kortet for en punktrapport", "Kortet virker uden internet"],
             "en": ["<h1>Overview map</h1>", "Find a municipality", "Missing from the map",
                    "Click anywhere on the map for a point report", "The map works without the internet"]}
    for text in words[lang]:
        assert text in html, text
    other = {"da": "en", "en": "da"}[lang]
    for text in words[other][1:]:
        assert text not in html, text
    report = {"da": ("Punktrapport", "Samlet score", "Ø"), "en": ("Point report", "Total score", "E")}[lang]
    assert (ui["report"]["title"], ui["report"]["score_total"], ui["report"]["east"]) == report


@pytest.mark.mirror
def test_no_sentence_of_the_template_in_the_other_language(site):
    """The Danish page holds no English sentence of its template, the English page no Danish one."""
    assert _left(site["html"], site["lang"]) == []
    assert _left(json.dumps(_ui(site["html"]), ensure_ascii=False), site["lang"]) == []


@pytest.mark.mirror
def test_layer_group_and_categories_named_in_the_language(site):
    manifest, html = site["manifest"], site["html"]
    by_id = {e["id"]: e for e in manifest["layers"]}
    groups = {g["id"]: g["title"] for g in manifest["groups"]}
    with i18n.use(site["lang"]):  # the catalog's own titles, in the page's language
        from screening.config import load_catalog

        catalog = load_catalog()
        assert by_id["havne"]["title"] == str(catalog.get("ports").title)
        assert manifest["land"]["title"] == str(catalog.get("kommuner").title)
    if site["lang"] == "da":
        assert manifest["title"].startswith("Overblikskort over erhvervsarealer")
        assert by_id["havne"]["title"] == "Havne (UN/LOCODE-punkter)"
        assert by_id["paragraf3"]["title"] == "§ 3-beskyttet natur"
        assert groups["natur"] == "Beskyttet natur (lov § 13, stk. 2)"
        assert "foreslået industripark" in html and "ikke udelukket" in html
        assert _ui(html)["attribution"]["natura2000_habitat"].endswith(" — foreløbig, uofficiel kopi")
        assert 'class="provisional"' in html and ">foreløbig, uofficiel kopi</em>" in html
        assert re.search(rf"Bygget \d{{1,2}}\. ({MONTHS}) \d{{4}} · screening run · regler [0-9a-f]{{8}}\.", html)
        assert "ingen screeningskørsel" not in html and "ingen objekter efter lagets filter" not in html
        assert "intet egnethedskort i " in manifest["surface_missing"]
        assert "Overblikskort: " in site["output"] and "mangler: lokalplaner_forslag" in site["output"]
    else:
        assert manifest["title"].startswith("Overview map of business land")
        assert by_id["havne"]["title"] == "Ports (UN/LOCODE points)"
        assert by_id["paragraf3"]["title"] == "§ 3 protected nature"
        assert groups["natur"] == "Protected nature (the law's § 13, stk. 2)"
        assert "proposed industrial park" in html and "not excluded" in html
        assert re.search(r"Built \d{1,2} [A-Z][a-z]+ \d{4} · screening run · rules [0-9a-f]{8}\.", html)
        assert "no surface at " in manifest["surface_missing"]
        assert "Overview site: " in site["output"] and "missing: lokalplaner_forslag" in site["output"]


@pytest.mark.parametrize(("lang", "port", "council"), [
    ("da", "Afstand til nærmeste havn", "Kommunalbestyrelsens beslutning om at ansøge"),
    ("en", "Distance to nearest port", "Kommunalbestyrelse decision to apply")])
def test_point_report_names_criteria_in_the_language(surface_dir, tmp_path, lang, port, council):  # noqa: F811
    """The point report's criteria (and those not assessed) by their criteria.yaml titles in the page's language."""
    from screening import _point_report
    from screening.config import load_criteria

    with i18n.use(lang):
        info = _point_report.write_breakdown(surface_dir, tmp_path / "site", criteria=load_criteria())
    assert {c["id"]: c["title"] for c in info["criteria"]}["port"] == port
    assert info["titles"]["council_decision"] == council  # not assessed on the surface: named on the page
    assert "council_decision" in info["not_assessed"]

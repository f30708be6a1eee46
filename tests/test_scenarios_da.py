"""Policy scenarios in Danish: reasons, the robust proposal's reasons and the terminal summary, on the synthetic
case of tests/test_scenarios.py (known by construction; titles in both languages), and the number formats.

The run is evaluated and compared inside ``i18n.use("da")``, as ``industripark scenarios --lang da`` does; the
same facts put in words in English give the sentences tests/test_scenarios.py asserts.
"""

from __future__ import annotations

import re

import pytest

from screening import i18n, scenarios
from screening._scenario_compare import compare
from screening._scenario_config import BASE_ID
from screening._scenario_reasons import clause
from screening._scenario_robust import robust_proposal
from screening._scenario_sentences import _ordinal, _signed, _span
from screening.catalog import LayerSet
from screening.config import LocalText, settings_from_env
from tests._scenario_fixtures import (
    DANISH_TITLES,
    english_fragments,
    make_scenario,
    synthetic_candidates,
    synthetic_criteria,
)

TITLES = {BASE_ID: ("Basis", "Base"), "two": ("To", "Two"), "south": ("Syd", "South"),
          "quality": ("Kvalitet", "Quality")}


@pytest.fixture(scope="module")
def danish(tmp_path_factory):
    """The four synthetic scenarios evaluated, compared and the robust proposal solved, all in Danish."""
    base = synthetic_criteria(DANISH_TITLES)
    overlays = {BASE_ID: {}, "two": {"selection": {"k_min": 2, "k_max": 2}},
                "south": {"selection": {"regions": {"Region Syddanmark": {"min": 1}}}},
                "quality": {"groups": {"quality": {"weight": 0.9}, "access": {"weight": 0.1}}}}
    specs = tuple(make_scenario(sid, overlay, base, LocalText(da=TITLES[sid][0], en=TITLES[sid][1]))
                  for sid, overlay in overlays.items())
    settings = settings_from_env(cache_dir=tmp_path_factory.mktemp("cache"), online=False)
    with i18n.use("da"):
        runs = scenarios.evaluate(synthetic_candidates(), LayerSet(layers={}), specs, settings=settings)
        comp, robust = compare(runs), robust_proposal(runs)
        result = scenarios.ScenariosResult(runs, comp, robust, {}, {}, True, lang="da")
        summary = scenarios.summary_text(result)
    return runs, comp, robust, summary


def test_swing_reasons_in_danish(danish):
    _, comp, _, _ = danish
    reason = comp.stability["reason"]
    assert reason["A3"].startswith("Valgt i »Basis« (på grund af sin score); ikke i ")
    assert "»To« (forslaget rummer kun 2 parker, og den svageste af de valgte, A2 (Kommune A2), som scorer 10,0 " \
           "point mere, især arealets kvalitet +5,0, adgang til arealet +5,0)" in reason["A3"]
    assert "»Syd« (forslaget rummer kun 3 parker, og den svageste af de valgte, A4 (Kommune A4), som skal med " \
           "for at opfylde kravet om mindst 1 park i Region Syddanmark, selv om den scorer 30,0 point mindre)" \
           in reason["A3"]
    assert reason["A4"].startswith("Valgt i »Syd« (den skal med for at opfylde kravet om mindst 1 park i Region "
                                   "Syddanmark)")
    assert reason["A5"].startswith("Valgt i »Kvalitet« (den scorer 90,0 (nr. 1 af 5), +40,0 i forhold til "
                                   "basisreglerne, især arealets kvalitet +40,0)")
    assert reason["A1"] == "valgt i alle 4 scenarier"
    assert reason["A6"] == "udelukket i screeningen i alle scenarier"
    assert comp.titles == {sid: da for sid, (da, _en) in TITLES.items()}


def test_robust_reasons_in_danish(danish):
    _, _, robust, _ = danish
    assert robust.table.loc["A5", "reason"] == (
        "valgt i 1 af 4 scenarier; ikke med, fordi forslaget rummer kun 3 parker, og den svageste af de valgte, "
        "A3 (Kommune A3), som er valgt i lige så mange scenarier og i gennemsnit scorer mere")
    assert robust.table.loc["A1", "reason"] == "valgt i 4 af 4 scenarier"
    with i18n.use("da"):  # the objective is put in words when written (scenarios.write runs in the run's language)
        assert robust.to_dict()["objective"].startswith("flest mulige scenarier")


def test_summary_in_danish(danish):
    *_, summary = danish
    lines = summary.splitlines()
    assert lines[0].startswith("AFPRØVNING AF METODEN, IKKE DOKUMENTATION")
    assert re.match(r"^To +optimal, bevist optimal: 2 parker - A1, A2$", lines[2]), lines[2]
    assert "Robust kerne (valgt i alle 4): A1, A2" in lines
    assert lines[-1] == "Robust forslag (optimal, bevist optimal): A1, A2, A3"


def test_no_english_words_in_danish_reasons(danish):
    """No run of English words from the reasons' table in any Danish reason or clause."""
    _, comp, robust, summary = danish
    texts = [*comp.stability["reason"], *(c["text"] for per in comp.stability["clauses"] for c in per),
             *robust.table["reason"], summary]
    english = english_fragments("_scenario_words.py")
    found = {f for f in english for t in texts if re.search(rf"(?<!\w){re.escape(f)}(?!\w)", t, re.IGNORECASE)}
    assert not found, found


@pytest.mark.parametrize(("lang", "ranks"), [
    ("en", ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th", "1,002nd"]),
    ("da", ["nr. 1", "nr. 2", "nr. 3", "nr. 4", "nr. 11", "nr. 12", "nr. 13", "nr. 21", "nr. 22", "nr. 101",
            "nr. 111", "nr. 1.002"]),
])
def test_ranks_in_words(lang, ranks):
    with i18n.use(lang):
        assert [_ordinal(k) for k in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111, 1002)] == ranks


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", ["+3.8", "-1.2", "+0.0", "13.6–25.1", "12.5", "1,234.5"]),
    ("da", ["+3,8", "-1,2", "+0,0", "13,6–25,1", "12,5", "1.234,5"]),
])
def test_numbers_in_reasons(lang, expected):
    with i18n.use(lang):
        assert [_signed(3.84), _signed(-1.23), _signed(-0.01), _span(13.6, 25.1), _span(12.46, 12.54),
                _span(1234.5, 1234.5)] == expected


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "it lies 27 km from chosen X (K) (spacing 12.5 km), which is needed for the minimum of 1 park outside "
           "the large towns although it scores 1,234.5 points less"),
    ("da", "den ligger 27 km fra den valgte X (K) (minimumsafstand 12,5 km), som skal med for at opfylde kravet om "
           "mindst 1 park uden for de store byer, selv om den scorer 1.234,5 point mindre"),
])
def test_a_fact_in_either_language(lang, expected):
    """The facts hold numbers and ids only: the same fact gives the sentence in the language in effect."""
    fact = {"kind": "spacing", "distance_km": 26.8, "spacing_km": 12.5, "other": "X (K)", "other_id": "X",
            "other_gap": -1234.5, "other_drivers": [], "unit": "points",
            "other_rule": {"kind": "outside_towns", "minimum": 1}}
    with i18n.use(lang):
        assert clause(fact) == expected

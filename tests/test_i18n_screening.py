"""The screening's own texts in Danish (issue 15): YAML texts in both languages (`LocalText`), the language of a
run, the submission check, exclusion, scoring, selection and back-test texts.

The suite runs in English (tests/conftest.py); these tests ask for Danish explicitly (``--lang da``,
``i18n.use("da")``) and check known Danish strings, Danish number formats, and that no English sentence of
the message tables is left in a Danish output.
"""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
from babel.messages.pofile import read_po
from click.testing import CliRunner

from screening import _problems, i18n
from screening._scenario_config import scenario_criteria
from screening.cli import main
from screening.config import PROJECT_ROOT, LocalText, load_catalog, load_criteria, settings_from_env
from screening.errors import ConfigError

ALLOW = ["--allow-missing", "natura2000_habitat", "--allow-missing", "bes_naturtyper",
         "--allow-missing", "naturnationalparker"]
PO_DA = PROJECT_ROOT / "screening" / "locale" / "da" / "LC_MESSAGES" / "messages.po"


def _danish() -> dict[str, str]:
    with PO_DA.open("rb") as fh:
        return {m.id: m.string for m in read_po(fh, locale="da") if isinstance(m.id, str) and m.id}


def _english_left(output: str, templates) -> list[str]:
    """Pieces of the English `templates` (literal text between placeholders, 14+ characters) that the Danish
    catalog translates but that still appear in `output`."""
    danish = _danish()
    left = []
    for template in templates:  # a few hundred message texts
        pieces = re.split(r"%\(\w+\)s|%%", template)
        for piece in (p.strip(" ;:,.()'") for p in pieces):
            if len(piece) >= 14 and piece not in danish.get(template, "") and piece in output:
                left.append(piece)
    return left


def _table_texts() -> list[str]:
    """Every English text of the submission check's tables (`screening._problems`)."""
    out = []
    for value in (*_problems.PROBLEMS.values(), *_problems.FIXES.values(), *_problems.TEXTS.values(),
                  *_problems.NOTES.values(), *_problems.SUMMARY.values()):
        stack = [value]
        while stack:  # (message, fix) pairs and (singular, plural) pairs
            v = stack.pop()
            if isinstance(v, tuple):
                stack.extend(v)
            elif v not in _problems.FIXES:  # a fix named by its key
                out.append(v)
    return out


# --------------------------------------------------------------------------- YAML texts in both languages


@pytest.fixture
def layers_copy(tmp_path):
    """The repository's catalog.yaml and criteria.yaml in a temporary folder, to break."""
    for name in ("catalog.yaml", "criteria.yaml"):
        shutil.copy(PROJECT_ROOT / "layers" / name, tmp_path / name)
    return tmp_path


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    ("criteria.yaml", 'title: {da: "Afstand til nærmeste havn", ', "title: {",
     r"criteria\[port\]\.title: .*lacks Danish \(da\)"),
    ("criteria.yaml", 'title: {da: "Status for lokalplan", en: "Local plan status"}', "title: Local plan status",
     r"criteria\[lokalplan_status\]\.title: .*needs both languages.*'Local plan status'"),
    ("criteria.yaml", 'en: "Production needs grid capacity; a nearby transformer station shortens the connection"',
     'en: " "', r"criteria\[hv_substation\]\.why: .*lacks English \(en\)"),
    ("catalog.yaml", 'title: {da: "Havne (UN/LOCODE-punkter)", en: "Ports (UN/LOCODE points)"}',
     'title: {da: "Havne", en: "Ports", de: "Häfen"}', r"layers\[ports\]\.title\.de: Extra inputs"),
    ("criteria.yaml", 'en: "Fredning {fred_id} (unnamed in the copy)"', 'en: "Fredning {fred_nr} (unnamed)"',
     r"exclusions\.rules\[fredning\]\.labels: .*the same columns"),
])
def test_a_text_without_both_languages_is_a_config_error_naming_file_and_key(layers_copy, file, old, new, expected):
    path = layers_copy / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigError, match=expected) as info:
        if file == "catalog.yaml":
            load_catalog(path)
        else:
            load_criteria(path)
    assert str(path) in str(info.value)


def test_the_shipped_texts_users_read_are_translated():
    """Every criterion, group and bonus title, every exclusion reason and the spacing reason has a Danish
    text of its own (not the English copied), and follows the language."""
    criteria = load_criteria(catalog=load_catalog())
    texts = [*(c.title for c in criteria.criteria), *(g.title for g in criteria.groups),
             *(b.title for b in criteria.bonus), *(r.why for r in criteria.exclusions.rules),
             *(c.why for c in criteria.criteria if c.why), criteria.selection.spacing_reason]
    assert all(isinstance(t, LocalText) and t.da != t.en for t in texts)
    port = next(c for c in criteria.criteria if c.id == "port")
    with i18n.use("da"):
        assert f"{port.title}" == i18n.text(port.title) == "Afstand til nærmeste havn"
    with i18n.use("en"):
        assert str(port.title) == "Distance to nearest port"


def test_a_plain_string_in_python_is_one_text_for_both_languages():
    text = LocalText.model_validate("Havn")
    assert (text.da, text.en) == ("Havn", "Havn")
    with pytest.raises(ValueError, match="lacks Danish"):
        LocalText.model_validate({"da": "", "en": "Port"})


@pytest.mark.parametrize(("overlay", "da", "en"), [
    ({"title": "Havn og færge"}, "Havn og færge", "Havn og færge"),  # a plain text replaces both
    ({"title": {"da": "Havn", "en": "Port"}}, "Havn", "Port"),
    ({"title": {"en": "Port only"}}, "Afstand til nærmeste havn", "Port only"),  # merged key by key
    ({"why": {"da": "Godstrafik", "en": "Freight"}}, None, None),
])
def test_a_scenario_overlay_may_rewrite_a_text(overlay, da, en):
    crit = scenario_criteria(load_criteria(), {"criteria": {"port": overlay}})
    port = next(c for c in crit.criteria if c.id == "port")
    if "title" in overlay:
        assert (port.title.da, port.title.en) == (da, en)
    else:
        assert (port.why.da, port.why.en) == ("Godstrafik", "Freight")


# --------------------------------------------------------------------------- language of a run


@pytest.mark.parametrize(("env", "expected"), [({}, "da"), ({"INDUSTRIPARK_LANG": "EN"}, "en"),
                                               ({"INDUSTRIPARK_LANG": " da "}, "da")])
def test_settings_language_from_the_environment(env, expected):
    assert settings_from_env(env).lang == expected


def test_an_unknown_language_in_the_environment_is_a_config_error():
    with pytest.raises(ConfigError, match=r"INDUSTRIPARK_LANG.*must be one of da, en"):
        settings_from_env({"INDUSTRIPARK_LANG": "de"})


def test_lang_option_is_offered_and_checked():
    for command in (["screen"], ["select"], ["surface"], ["submissions", "check"], ["preview"]):
        assert "--lang [da|en]" in CliRunner().invoke(main, [*command, "--help"]).output, command
    res = CliRunner().invoke(main, ["submissions", "check", str(PO_DA), "--lang", "de"])
    assert res.exit_code == 2 and "'de' is not one of 'da', 'en'" in res.output


def test_band_and_mapping_texts_follow_the_language():
    from screening.scoring import band_text

    criteria = {c.id: c for c in load_criteria().criteria}
    with i18n.use("da"):
        assert band_text(criteria["hv_substation"]) == "≤ 2.000 m → 1,0, ≥ 25.000 m → 0,0"
        assert band_text(criteria["lokalplan_status"]).startswith("vedtaget → 1,0, forslag i høring → 0,75")
        assert band_text(criteria["population_30min"]).startswith("≤ 10.000 personer → 0,0")
    with i18n.use("en"):
        assert band_text(criteria["hv_substation"]) == "≤ 2,000 m → 1.0, ≥ 25,000 m → 0.0"


# --------------------------------------------------------------------------- submission check


BAD = ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"application_id": "A/1", '
       '"kommunekode": "9999", "area_ha_declared": "x"}, "geometry": {"type": "Polygon", "coordinates": '
       '[[[9.5, 55.7], [9.51, 55.7], [9.51, 55.71], [9.5, 55.7]]]}}]}')


@pytest.mark.mirror
def test_submission_check_in_danish(tmp_path, mirror_root):
    path = tmp_path / "kladde.geojson"
    path.write_text(BAD, encoding="utf-8")
    res = CliRunner().invoke(main, ["submissions", "check", str(path), "--lang", "da"])
    assert res.exit_code == 2, res.output
    out = res.output
    assert "Fejl: 3 problem(er) fundet:" in out and "Traceback" not in out
    assert "fejl: " in out and "felt 'area_ha_declared': 'x' er ikke et tal; sådan rettes det: skriv et tal" in out
    assert "application_id 'A/1' indeholder '/' (U+002F), som et id ikke må indeholde" in out
    assert "'9999' er ikke en af de 99 DAGI-kommunekoder i kommunekortet" in out
    assert "brug '0630', hvis det er ansøgerkommunen" in out
    assert _english_left(out, _table_texts()) == []
    assert "fix:" not in out and "is not a number" not in out
    english = CliRunner().invoke(main, ["submissions", "check", str(path), "--lang", "en"]).output
    assert "Error: 3 problem(s) found:" in english and "'x' is not a number; fix: write a number" in english


@pytest.mark.mirror
def test_submission_summary_in_danish_has_danish_numbers(mirror_root):
    applications = mirror_root / "submissions" / "applications_2025_approx.gpkg"
    res = CliRunner().invoke(main, ["submissions", "check", str(applications), "--lang", "da"])
    assert res.exit_code == 0, res.output
    assert re.search(r"15 ansøgning\(er\), \d{1,3}(\.\d{3})+,\d ha, fra 1 fil\(er\): alle gyldige", res.output)
    assert "Bemærkninger til arealerne" in res.output
    assert re.search(r"% af det indtegnede areal \(\d+,\d ha\) ligger uden for dansk land", res.output)


# --------------------------------------------------------------------------- a screening in Danish


@pytest.fixture(scope="module")
def danish_run(mirror_root, tmp_path_factory):
    """One screening of the approximate 2025 applications in Danish (data files only) and its terminal text."""
    out = tmp_path_factory.mktemp("runs-da")
    applications = mirror_root / "submissions" / "applications_2025_approx.gpkg"
    res = CliRunner().invoke(main, ["screen", str(applications), "--out", str(out), "--no-report", "--lang", "da",
                                    *ALLOW])
    assert res.exit_code == 0, res.output
    return out / "latest", res.output


@pytest.mark.mirror
def test_danish_run_records_its_language_and_writes_danish_texts(danish_run):
    run, terminal = danish_run
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["lang"] == "da"
    assert manifest["layers"]["ports"]["title"] == "Havne (UN/LOCODE-punkter)"
    assert "ufuldstændig: bes_naturtyper er kun kontrolleret inden for dækningen" in manifest["incomplete_text"]
    assert manifest["provisional_layers"]["natura2000_habitat"]["note"] == (
        "foreløbig, uofficiel kopi fra omkring 2013; kontrollér mod det officielle kort")
    cand = pd.read_csv(run / "candidates.csv").set_index("application_id")
    assert cand["incomplete"].str.startswith("ufuldstændig: bes_naturtyper mangler").all()
    excluded = cand.loc[cand["excluded"]]
    assert len(excluded) and excluded["exclusion_reasons"].str.contains(r"\d+,\d+ ha overlap \(\d+,\d %\)").all()
    assert excluded["selection_reason"].str.startswith("udelukket ved screeningen: ").all()
    eligible = cand.loc[~cand["excluded"], "selection_reason"]
    assert eligible.str.match(r"(valgt: score \d+,\d \(nr\. \d+ af \d+|ikke valgt: )").all()
    assert eligible.str.contains(r"\d+,\d km").any()
    assert cand["flags"].dropna().str.contains("uden navn i kopien").any()
    assert "FORESLÅET" in terminal and "Udvælgelse (score): optimal, bevist optimal" in terminal
    assert "Kørselsmappe: " in terminal and "PROPOSED" not in terminal


@pytest.mark.mirror
def test_danish_backtest_and_breakdown(danish_run):
    run, _ = danish_run
    selection = json.loads((run / "selection.json").read_text(encoding="utf-8"))
    back = selection["backtest"]
    assert re.fullmatch(r"Forslaget vælger \d+ af de 11 ansøgninger, der blev udpeget i 2025\.", back["text"])
    assert back["spacing_choice"].startswith("Minimumsafstanden på 40 km er valgt, fordi den genskaber")
    assert "røgtest af metoden, ikke belæg" in back["caveat"]
    assert any(s["text"].endswith("(den fastsatte)") for s in back["spacing_sweep"])
    for item in back["designated_not_proposed"] + back["proposed_not_designated"]:
        assert " udpeget, ikke foreslået: " in item["text"] or " foreslået, ikke udpeget" in item["text"]
    assert selection["rules"]["notes"][0].startswith("Minimumsafstanden er afstanden i lige linje")
    texts = " ".join([back["text"], back["spacing_choice"], back["caveat"], *selection["reasons"].values()])
    for english in ("chosen:", "not chosen", "The proposal picks", "smoke test", "spacing", " vs "):
        assert english not in texts, english
    explanations = json.loads((run / "explanations.json").read_text(encoding="utf-8"))
    rows = {r["criterion"]: r for r in next(iter(explanations.values()))["breakdown"]}
    assert rows["port"]["title"] == "Afstand til nærmeste havn"
    assert rows["port"]["band"] == "≤ 3.000 m → 1,0, ≥ 40.000 m → 0,0" and rows["port"]["method"] == "i lige linje"
    assert rows["council_decision"]["note"] == "ansøgningen oplyser ikke kb_decision_date"


def test_selection_status_is_english_data_and_worded_for_people():
    from screening import selection_explain

    status = "optimal; greedy fallback (not proven optimal)"
    with i18n.use("da"):
        assert selection_explain.status_text(status) == "optimal; grådig nødløsning (ikke bevist optimal)"
    with i18n.use("en"):
        assert selection_explain.status_text(status) == status


# --------------------------------------------------------------------------- texts built in Python


def test_exclusion_texts_in_danish():
    """A synthetic overlap, cut and net-area shortfall worded in Danish with Danish numbers."""
    import geopandas as gpd
    from shapely.geometry import box

    from screening import exclusion
    from screening.config import Exclusions

    x0, y0 = 600_000, 6_200_000
    sites = gpd.GeoDataFrame({"application_id": ["A"]}, geometry=[box(x0, y0, x0 + 1000, y0 + 1000)], crs=25832)
    nature = gpd.GeoDataFrame({"navn": ["Mose"]}, geometry=[box(x0, y0, x0 + 950, y0 + 1000)], crs=25832)
    rules = Exclusions.model_validate({"min_net_area_ha": 10, "rules": [
        {"id": "p3", "layer": "p3", "action": "cut", "label_column": "navn", "label_prefix": "§ 3",
         "why": {"da": "§ 3-natur", "en": "§ 3 nature"}}]})
    with i18n.use("da"):
        result = exclusion.evaluate(sites, {"p3": nature}, rules)
    row = result.summary.loc["A"]
    assert row["excluded"]
    assert row["exclusion_reasons"] == ("nettoarealet på 5,00 ha er under minimum på 10 ha, efter at 95,0 ha er "
                                        "trukket fra")
    assert row["flags"] == "§ 3 'Mose': 95,0 ha trukket fra (95,0 %) — p3"


def test_a_coverage_prepared_in_one_language_serves_the_other(tmp_path):
    """Prepared coverages are cached once for every language: labels made in English are made again in Danish
    from the pieces' members, giving what the layer itself gives."""
    import geopandas as gpd
    from shapely.geometry import box

    from screening import exclusion
    from screening.config import Exclusions

    x0, y0 = 600_000, 6_200_000
    sites = gpd.GeoDataFrame({"application_id": ["A", "B"]},
                             geometry=[box(x0, y0, x0 + 1000, y0 + 1000), box(x0 + 3000, y0, x0 + 4000, y0 + 1000)],
                             crs=25832)
    nature = gpd.GeoDataFrame({"nr": ["7", None, "9"], "navn": ["Mose", None, None]},
                              geometry=[box(x0, y0, x0 + 600, y0 + 600), box(x0 + 400, y0, x0 + 900, y0 + 500),
                                        box(x0 + 3500, y0, x0 + 3600, y0 + 100)], crs=25832)
    nature.attrs.update(layer_id="nat", version="v1")
    rules = Exclusions.model_validate({"min_net_area_ha": 0, "rules": [
        {"id": "nat", "layer": "nat", "action": "flag", "label_prefix": {"da": "Fredning", "en": "Protected area"},
         "labels": ["Fredning {nr} '{navn}'",
                    {"da": "Fredning {nr} (uden navn)", "en": "Protected area {nr} (unnamed)"}],
         "why": {"da": "bemærkes", "en": "reported"}}]})
    with i18n.use("en"):
        prepared = exclusion.prepared_layers({"nat": nature}, rules, cache_dir=tmp_path)
        english = exclusion.evaluate(sites, {"nat": nature}, rules, prepared=prepared).summary["flags"]
    assert english["A"] == ("Fredning 7 'Mose', Protected area (no name or number in the layer): 51.0 ha overlap "
                            "(51.0 %) — nat")
    with i18n.use("da"):
        cached = exclusion.prepared_layers({"nat": nature}, rules, cache_dir=tmp_path, build=False)
        assert cached["nat"].attrs["label_texts"] != exclusion._labels.label_texts(rules.rules[0])  # English labels
        for pieces in (prepared, cached):  # held in memory (a server) or read from the cache
            danish = exclusion.evaluate(sites, {"nat": nature}, rules, prepared=pieces).summary["flags"]
            assert danish.equals(exclusion.evaluate(sites, {"nat": nature}, rules).summary["flags"])
    assert danish["A"].startswith("Fredning (uden navn eller nummer i kortet), Fredning 7 'Mose': ")
    assert danish["B"].startswith("Fredning 9 (uden navn): 1,00 ha overlap (1,0 %)")

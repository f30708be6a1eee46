"""Travel texts in Danish (issue 15): method and `nearest` texts of the breakdown, the card site maps'
words, the surface summary and ``industripark travel --lang da``.

The suite runs in English (tests/conftest.py); these tests ask for Danish with ``i18n.use("da")`` or
``--lang da`` and check exact Danish sentences on synthetic networks (answers known by construction), Danish
number formats ("4,1 km", "1.234", "1,3") and that no English word of the travel texts is left. The English
texts are asserted byte for byte in tests/test_travel.py and tests/test_scoring.py.
"""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure
from matplotlib.text import Text
from shapely.geometry import box

from screening import _sitemap, _sitemap_travel, i18n, road_network, surface, travel
from screening._raster import Grid
from screening.cli import main
from tests.test_surface_travel import case  # noqa: F401  (the synthetic network and criteria)
from tests.test_travel import I2, MAIN, TRAVEL, A, B, C, _around, _points, _roads, ferry_net, line_30  # noqa: F401

ENGLISH_WORDS = ("road network", "access leg", "straight line", "local roads", "no road", " of towns", "within",
                 "ferry (", "by road", "Roads ©", "Catchments", "(unnamed)")
"""English words of the travel texts that a Danish text must not contain."""


def _no_english(texts) -> list[str]:
    return [f"{w!r} in {t!r}" for t in texts for w in ENGLISH_WORDS if w in str(t)]


# --------------------------------------------------------------------------- breakdown texts, synthetic


def test_access_leg_method_in_danish_with_a_decimal_comma():
    """The access test of tests/test_travel.py: the site reaches the network at B by a 4.05 km leg."""
    roads = _roads(([(0, 1_000), (20_000, 1_000)], "motorway", "no"), ([A, B], "primary"), ([B, C], "primary"))
    net = road_network.build_network(roads, TRAVEL.model_copy(update={"access_k": 3, "access_speed_kmh": 30}))
    site = gpd.GeoSeries([box(550_000 + 9_900, 6_200_000 + 1_100, 550_000 + 10_100, 6_200_000 + 1_300)], crs=25832)
    leg_km = np.hypot(9_900 - 6_000, 1_100) / 1000  # 4.05 km
    with i18n.use("da"):
        got = travel.nearest_minutes(travel.access(site, travel=net.travel, network=net), _points(A))
    assert got.loc[0, "method"] == f"vejnet, OSM, + {leg_km:.1f} km tilkørselsstrækning".replace(".", ",")
    assert got.loc[0, "method"] == "vejnet, OSM, + 4,1 km tilkørselsstrækning"


def test_island_method_names_the_ferry_in_danish(ferry_net):  # noqa: F811
    with i18n.use("da"):
        got = travel.nearest_minutes(travel.access(_around(*I2), travel=TRAVEL, network=ferry_net), _points(MAIN))
    assert got.loc[0, "method"] == ("vejnet, OSM, + 0,0 km tilkørselsstrækning; vejene her har kun forbindelse til "
                                    "resten af Danmark med færge (Testfærgen)")


def test_one_network_answers_in_either_language(ferry_net):  # noqa: F811
    """A preview server keeps one network for requests in both languages: its label follows the request."""
    with i18n.use("da"):
        assert ferry_net.label == "vejnet, OSM"
    with i18n.use("en"):
        assert ferry_net.label == "road network, OSM"


@pytest.mark.parametrize(("lang", "expected"), [
    ("da", ["vejnet, OSM: direkte, 1,2 km i lige linje × 1 ved 6 km/t (lokale veje)",
            "vejnet, OSM: direkte, 12,3 km i lige linje × 1 ved 6 km/t (lokale veje)"]),
    ("en", ["road network, OSM: direct, 1.2 km straight line × 1 at 6 km/h (local roads)",
            "road network, OSM: direct, 12.3 km straight line × 1 at 6 km/h (local roads)"]),
])
def test_direct_leg_method(line_30, lang, expected):  # noqa: F811
    with i18n.use(lang):
        assert travel.method_direct(line_30, np.array([1_234.0, 12_345.0])).tolist() == expected


@pytest.mark.parametrize(("lang", "expected"), [
    ("da", "vejnet, OSM: intet knudepunkt på vejnettet inden for 50.000 m fra arealet"),
    ("en", "road network, OSM: no road node within 50,000 m of the site"),
])
def test_no_road_node_method(line_30, lang, expected):  # noqa: F811
    with i18n.use(lang):
        assert travel.method_text(line_30, np.array([np.inf]), np.array([-1])).tolist() == [expected]


def test_fallback_and_labels_in_danish():
    exits = _points(A, B, ref=["56", None], name=["Horsens V", None])
    with i18n.use("da"):
        assert travel.fallback_method(TRAVEL) == "i lige linje × 1,3 ved 60 km/t (intet vejlag)"
        assert travel.template_labels(exits, "afkørsel {ref} {name}").tolist() == [
            "afkørsel 56 Horsens V", "afkørsel (uden navn)"]


def test_reach_text_in_danish_with_thousands(line_30):  # noqa: F811
    towns = _points((30_000, 0), (0, 1_000), (0, 100), (0, 200), population=[100, 4, 50, 7])
    acc = travel.access(_around(0, 0), travel=TRAVEL, network=line_30)
    with i18n.use("da"):
        got = travel.reach(acc, towns, 30.0, values=towns["population"], labels=["P30", "north", "near", "near2"])
        assert travel.reach_text(got, "towns", 30.0) == [
            "4 i kortlaget towns inden for 30 min.: P30, near, near2, …"]
        many = pd.DataFrame({"reach_count": pd.array([1234, 2, None], dtype="Int64"), "counted": ["", "a, b", ""]})
        assert travel.reach_text(many, "education", 22.5) == [
            "1.234 i kortlaget education inden for 22,5 min.", "2 i kortlaget education inden for 22,5 min.: a, b",
            ""]


# --------------------------------------------------------------------------- a Danish screening's breakdown


@pytest.mark.mirror
def test_danish_breakdown_of_the_2025_applications(mirror_root):
    """The 15 approximate 2025 applications scored in Danish: travel rows in Danish with Danish numbers."""
    from screening import catalog, scoring
    from screening.config import load_catalog, load_criteria, settings_from_env

    settings = settings_from_env(mirror_root=mirror_root, online=False)
    cat = load_catalog()
    crit = load_criteria(catalog=cat)
    used = sorted({c.layer for c in crit.criteria if c.layer} | {crit.travel.road_layer})
    layer_set = catalog.load_layers(used, catalog=cat, settings=settings)
    sites = gpd.read_file(mirror_root / "submissions" / "applications_2025_approx.gpkg")
    with i18n.use("da"):
        b = scoring.score(sites, layer_set.layers, crit,
                          catalog_meta={k: {"missing": "not in the mirror"} for k in layer_set.missing}).breakdown
    travel_rows = b.loc[b["criterion"].isin(["motorway_access", "population_30min", "population_45min",
                                             "education_30min"]) & b["assessed"]]
    assert len(travel_rows) == 4 * 15
    assert travel_rows["method"].str.fullmatch(
        r"vejnet, OSM 2023-03-21(, \+ \d+,\d km tilkørselsstrækning"
        r"|: direkte, \d+,\d km i lige linje × 1,3 ved 50 km/t \(lokale veje\))").all()
    assert travel_rows["method"].str.contains(r"\d,\d km tilkørselsstrækning").any()  # a Danish decimal comma
    assert travel_rows["source"].str.contains("© OpenStreetMap contributors").all()
    towns = travel_rows.loc[travel_rows["criterion"] != "motorway_access", "source"]  # an OSM layer says it once
    assert towns.str.contains("; veje: © OpenStreetMap contributors").all()
    mw = travel_rows.loc[travel_rows["criterion"] == "motorway_access", "nearest"]
    assert mw.str.match(r"afkørsel \S").all() and not mw.str.contains("unnamed").any()
    pop = travel_rows.loc[travel_rows["criterion"] == "population_30min", "nearest"]
    assert pop.str.fullmatch(r"\d{1,3}(\.\d{3})* i kortlaget towns inden for 30 min\.: [^,]+, [^,]+, [^,]+(, …)?").all()
    assert pop.str.match(r"\d{1,3}\.\d{3} i kortlaget").any() or pop.str.match(r"\d{1,3} i").all()
    edu = travel_rows.loc[travel_rows["criterion"] == "education_30min", "nearest"]
    assert edu.str.contains(" i kortlaget education inden for 30 min.").all()
    assert _no_english([*travel_rows["method"], *travel_rows["nearest"], *travel_rows["source"]]) == []


# --------------------------------------------------------------------------- card site maps


def test_site_map_words_in_danish_and_english():
    with i18n.use("da"):
        assert _sitemap_travel.text("route", label="afkørsel 56 Horsens V", minutes=12.345) == (
            "afkørsel 56 Horsens V\n12,3 min. ad vej")
        assert _sitemap_travel.text("legend_catchment", minutes=30.0) == "inden for 30 minutters kørsel"
        assert _sitemap_travel.text("attribution") == "Veje © OpenStreetMap contributors"
    with i18n.use("en"):
        assert _sitemap_travel.text("route", label="exit", minutes=12.345) == "exit\n12.3 min by road"
        assert _sitemap_travel.text("legend_catchment", minutes=30.0) == "within 30 min by road"
        assert _sitemap_travel.text("attribution") == "Roads © OpenStreetMap contributors"


def test_site_map_drawn_in_danish(case, tmp_path, monkeypatch):  # noqa: F811
    """Every text on a drawn Danish site map: the legends, the inset, the route label and the nearest
    features are Danish; the attribution keeps "© OpenStreetMap contributors"."""
    crit, layers, land = case
    sites = gpd.GeoDataFrame({"application_id": ["a"], "status": ["eligible"]},
                             geometry=[box(550_000 + 7_000, 6_200_000 + 6_000, 550_000 + 7_400, 6_200_000 + 6_400)],
                             crs=25832)
    context = {**layers, "kommuner": land}
    seen: list[str] = []
    save = Figure.savefig

    def savefig(fig, *args, **kwargs):  # record the texts of each saved map
        seen.extend(t.get_text() for t in fig.findobj(Text) if t.get_text())
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    with i18n.use("da"):
        near = _sitemap.nearest_infrastructure(sites, context, crit)
        _sitemap.site_maps(sites, near, context, {"a": tmp_path / "a.png"}, colours={"eligible": "#2c7fb8"})
    texts = "\n".join(seen)
    for danish in ("Veje © OpenStreetMap contributors", "Oplande (70 km på tværs)", "inden for 30 minutters kørsel",
                   "inden for 45 minutters kørsel", "rute fra nærmeste afkørsel"):
        assert danish in texts, danish
    assert re.search(r"\n\d+,\d min\. ad (vej|lokale veje)", texts), texts
    assert _no_english(seen) == [] and "min by" not in texts
    assert (tmp_path / "a.png").stat().st_size > 10_000


# --------------------------------------------------------------------------- surface summary


def test_surface_summary_in_danish():
    result = surface.SurfaceResult(
        out_dir=".", paths={}, grid=Grid(100.0, 0.0, 0.0, 4_520, 3_680), land_cells=4_300_123, excluded_cells=512_345,
        rule_bits={}, points={}, not_assessed={"council_decision": "x"}, missing_rules={"bird": "y"},
        config_hash="", seconds=1234.56,
        layers={"hab": {"provisional": True, "provisional_note": "note"}},
        not_checked={"p3": {"layer": "bes_naturtyper", "coverage_note": "Vejle", "cells": 12_345, "bit": 1}})
    with i18n.use("da"):
        got = surface.summary_text(result).splitlines()
    assert got == [
        "Egnethedskort med celler på 100 m: 4.520 x 3.680 celler (EPSG:25832), 4.300.123 landceller, 512.345 "
        "udelukket, 1.234,6 s",
        "  ikke vurderet: council_decision (x)",
        "  ufuldstændig: bird mangler (y)",
        "  ufuldstændig: p3 er kun kontrolleret inden for dækningen af kopien af bes_naturtyper (Vejle): 12.345 "
        "landceller er ikke kontrolleret (not_checked.tif)",
        "  foreløbige data: hab: note"]
    with i18n.use("en"):
        assert surface.summary_text(result).startswith("Surface at 100 m: 4,520 x 3,680 cells (EPSG:25832), "
                                                       "4,300,123 land cells, 512,345 excluded, 1,234.6 s")


# --------------------------------------------------------------------------- industripark travel --lang da


def test_travel_bad_point_in_danish():
    got = CliRunner().invoke(main, ["travel", "9.85", "9.99,55.78", "--lang", "da"])
    assert got.exit_code == 2 and "forventede 'lon,lat' i WGS84-grader" in got.output
    got = CliRunner().invoke(main, ["travel", "9.85", "9.99,55.78", "--lang", "en"])
    assert got.exit_code == 2 and "expected 'lon,lat' in WGS84 degrees" in got.output


@pytest.mark.mirror
def test_travel_text_in_danish(mirror_root):
    got = CliRunner().invoke(main, ["travel", "10.2039,56.1567", "9.5357,55.7093", "--lang", "da",
                                    "--mirror", str(mirror_root)])
    assert got.exit_code == 0, got.output
    lines = got.output.rstrip().splitlines()
    assert lines[0] == "(10.20390, 56.15670) -> (9.53570, 55.70930)"  # coordinates as typed
    assert re.fullmatch(r"  \d+,\d min\., \d+,\d km på vejnettet \(\+ tilkørselsstrækninger på \d+,\d km og "
                        r"\d+,\d km, i lige linje x 1,3 ved 50 km/t\)", lines[1]), lines[1]
    assert lines[2].startswith("  pr. vejklasse: ") and "motorvej " in lines[2]
    assert re.search(r"motorvej \d+,\d min\. / \d+,\d km", lines[2])
    assert lines[-1] == "  vejnet, OSM 2023-03-21; © OpenStreetMap contributors"
    assert _no_english(lines) == [] and "by road class" not in got.output


@pytest.mark.mirror
def test_travel_json_in_danish_keeps_its_keys_and_ids(mirror_root):
    got = CliRunner().invoke(main, ["travel", "12.5683,55.6761", "14.6937,55.1009", "--json", "--lang", "da",
                                    "--mirror", str(mirror_root)])
    assert got.exit_code == 0, got.output
    out = json.loads(got.output)
    assert out["network"] == "vejnet, OSM 2023-03-21" and out["attribution"] == "© OpenStreetMap contributors"
    assert "ferry" in {r["road_class"] for r in out["road_classes"]}  # ids, not words
    assert out["ferries"] == ["Køge - Rønne"]


@pytest.mark.mirror
def test_travel_point_far_from_the_network_in_danish(mirror_root):
    got = CliRunner().invoke(main, ["travel", "2.0,50.0", "9.99,55.78", "--lang", "da", "--mirror", str(mirror_root)])
    assert got.exit_code == 2
    assert "ligger mere end 60 km fra ethvert knudepunkt på vejnettet" in got.output

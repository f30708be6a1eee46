"""Policy scenarios: overlay merge and its errors, the shipped scenarios, and the comparison on a synthetic case.

The synthetic case is known by construction. Two attribute criteria (no layers needed) give each site the
score 0.5 q + 0.5 a. Six 1 km squares on round EPSG:25832 coordinates, each in its own municipality:

====  ==================  ===  ===  =====  =========================================
id    region              q    a    score  note
====  ==================  ===  ===  =====  =========================================
A1    Region Nordjylland  90   90   90
A2    Region Nordjylland  80   80   80     20 km east of A1
A3    Region Midtjylland  70   70   70
A4    Region Syddanmark   40   40   40
A5    Region Midtjylland  100  0    50     90 when quality weighs 0.9
A6    Region Syddanmark   90   90   90     100 m square: below the 10 ha minimum, excluded
====  ==================  ===  ===  =====  =========================================

Base rules: 1-3 parks, no region rule, no spacing -> A1, A2, A3. "two" (k = 2) -> A1, A2. "south"
(Region Syddanmark min 1) -> A1, A2, A4. "quality" (quality 0.9) -> A1, A5, A2. So A1, A2 are the robust
core; A3, A4, A5 swing; A6 is excluded. The robust proposal (base rules) is A1, A2 and A3 (each swing
application is chosen once; A3 has the best mean score, 70).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import yaml
from shapely.geometry import Point, box

from screening import scenarios
from screening._scenario_compare import compare
from screening._scenario_config import BASE_ID, load_scenarios, overlay_changes, scenario_criteria
from screening.catalog import LayerSet
from screening.config import PROJECT_ROOT, Criteria, load_catalog, load_criteria, settings_from_env
from screening.errors import ConfigError
from tests._scenario_fixtures import X0, Y0, synthetic_candidates
from tests._scenario_fixtures import make_scenario as _scenario
from tests._scenario_fixtures import synthetic_criteria as _criteria

SHIPPED = PROJECT_ROOT / "layers" / "scenarios"
@pytest.fixture(scope="module")
def candidates():
    """The six synthetic applications (see the module docstring)."""
    return synthetic_candidates()


@pytest.fixture(scope="module")
def compared(candidates, tmp_path_factory):
    """The four scenarios evaluated, compared and the robust proposal solved (no files written)."""
    base = _criteria()
    specs = (_scenario(BASE_ID, {}, base),
             _scenario("two", {"selection": {"k_min": 2, "k_max": 2}}, base),
             _scenario("south", {"selection": {"regions": {"Region Syddanmark": {"min": 1}}}}, base),
             _scenario("quality", {"groups": {"quality": {"weight": 0.9}, "access": {"weight": 0.1}}}, base))
    settings = settings_from_env(cache_dir=tmp_path_factory.mktemp("cache"), online=False)
    runs = scenarios.evaluate(candidates, LayerSet(layers={}), specs, settings=settings)
    from screening._scenario_robust import robust_proposal

    return runs, compare(runs), robust_proposal(runs)


# --------------------------------------------------------------------------- overlay merge


def test_overlay_changes_only_what_it_names():
    base = load_criteria()
    crit = scenario_criteria(base, {"groups": {"labour": {"weight": 0.5}},
                                    "criteria": {"port": {"weight": 7, "band": {"points": [[0, 1.0], [9000, 0.0]]}}},
                                    "selection": {"regions": {"Region Sjælland": {"min": 2}}, "max_per_kommune": None}})
    groups = {g.id: g.weight for g in crit.groups}
    assert groups == {**{g.id: g.weight for g in base.groups}, "labour": 0.5}
    port = next(c for c in crit.criteria if c.id == "port")
    assert (port.weight, port.band.points, port.layer) == (7, ((0.0, 1.0), (9000.0, 0.0)), "ports")
    assert crit.selection.regions["Region Sjælland"].min == 2
    assert crit.selection.regions["Region Sjælland"].max == base.selection.regions["Region Sjælland"].max
    assert crit.selection.max_per_kommune is None
    others = [c for c in crit.criteria if c.id != "port"]
    assert others == [c for c in base.criteria if c.id != "port"]
    assert crit.exclusions == base.exclusions and crit.travel == base.travel


@pytest.mark.parametrize(("overlay", "match"), [
    ({"weights": {"labour": 1}}, r"'weights' does not exist in criteria\.yaml; valid keys there: exclusions, groups"),
    ({"selection": {"k_maxx": 5}}, r"'selection\.k_maxx' does not exist.*valid keys there: k_min, k_max"),
    ({"criteria": {"hv_substaton": {"weight": 2}}}, r"'criteria\.hv_substaton' does not exist.*ids: hv_substation"),
    ({"criteria": {"port": {"wieght": 2}}}, r"'criteria\.port\.wieght' does not exist.*valid keys there: id, group"),
    ({"selection": {"regions": {"Region Bornholm": {"min": 1}}}}, r"'selection\.regions\.Region Bornholm'"),
    ({"criteria": [{"id": "port", "weight": 2}]}, r"written as a mapping from id.*\{hv_substation: \{weight: 2\}\}"),
    ({"groups": {"labour": {"id": "work"}}}, r"cannot rename"),
    ({"exclusions": {"min_net_area_ha": 1}}, r"'exclusions' is not allowed: .*§ 13, stk\. 2"),
    ({"selection": {"k_min": 12}}, r"Criteria schema: selection: .*k_min \(12\) must not exceed k_max \(11\)"),
    ({"groups": {"labour": {"weight": -1}}}, r"Criteria schema: groups\.2\.weight"),
    ({"selection": 5}, r"'selection' must be a mapping of its keys"),
])
def test_bad_overlay_is_an_error_naming_file_and_key(overlay, match):
    with pytest.raises(ConfigError, match=r"^my/scen\.yaml: .*" + match):
        scenario_criteria(load_criteria(), overlay, path="my/scen.yaml")


def test_changes_list_leaf_values_against_the_base():
    base = load_criteria()
    changes = overlay_changes(base, {"selection": {"k_min": 5, "k_max": 5}, "bonus": {
        "energy_park_adjacency": {"points": 10}}})
    assert [(c.path, c.before, c.after) for c in changes] == [
        ("selection.k_max", base.selection.k_max, 5), ("bonus.energy_park_adjacency.points", 5.0, 10)]


def _write(folder: Path, name: str, content: dict | str) -> None:
    text = content if isinstance(content, str) else yaml.safe_dump(content, allow_unicode=True)
    (folder / name).write_text(text, encoding="utf-8")


def _t(text: str) -> dict:
    """A text users read, as a scenario file gives it: Danish and English."""
    return {"da": f"{text} (da)", "en": text}


BASE_FILE = {"title": _t("Base"), "rationale": _t("The base rules."), "overlay": {}}


@pytest.mark.parametrize(("files", "match"), [
    ({}, r"no scenario files"),
    ({"five.yaml": {"title": _t("Five"), "rationale": _t("r"), "overlay": {"selection": {"k_max": 5}}}},
     r"no base\.yaml"),
    ({"base.yaml": {**BASE_FILE, "overlay": {"selection": {"k_max": 5}}}}, r"base\.yaml: the base scenario .* empty"),
    ({"base.yaml": BASE_FILE, "Five Parks.yaml": BASE_FILE}, r"Five Parks\.yaml: a scenario id"),
    ({"base.yaml": BASE_FILE, "x.yaml": {"title": _t("X"), "rationale": {"da": "r", "en": "one.\n\ntwo."}}},
     r"x\.yaml.*rationale.*one paragraph"),
    ({"base.yaml": BASE_FILE, "x.yaml": {"title": _t("X"), "rationale": _t("r"), "weights": {}}}, r"x\.yaml.*weights"),
    ({"base.yaml": BASE_FILE, "x.yaml": "title: [unclosed"}, r"x\.yaml: not valid YAML"),
    ({"base.yaml": BASE_FILE, "x.yaml": {"title": "Only English", "rationale": _t("r")}},
     r"x\.yaml: .*title: .*needs both languages"),
    ({"base.yaml": BASE_FILE, "x.yaml": {"title": {"en": "X"}, "rationale": _t("r")}},
     r"x\.yaml: .*title: .*lacks Danish \(da\)"),
    ({"base.yaml": BASE_FILE, "x.yaml": {"title": _t("X"), "rationale": {"da": "r", "en": " "}}},
     r"x\.yaml: .*rationale: .*lacks English \(en\)"),
])
def test_bad_scenario_folder_is_an_error_naming_the_file(tmp_path, files, match):
    for name, content in files.items():
        _write(tmp_path, name, content)
    with pytest.raises(ConfigError, match=match):
        load_scenarios(tmp_path, load_criteria())


def test_scenarios_load_base_first_then_by_order(tmp_path):
    _write(tmp_path, "base.yaml", BASE_FILE)
    _write(tmp_path, "a_late.yaml", {"title": _t("Late"), "rationale": _t("r"), "order": 9})
    _write(tmp_path, "z_early.yaml", {"title": _t("Early"), "rationale": _t("r"), "order": 1,
                                      "overlay": {"selection": {"spacing_km": 25}}})
    got = load_scenarios(tmp_path, load_criteria())
    assert [s.id for s in got] == ["base", "z_early", "a_late"]
    assert got[1].criteria.selection.spacing_km == 25.0


def test_shipped_scenarios():
    """At least the five scenarios of the issue, valid against the catalog, each tied to the law or agreement."""
    cat = load_catalog()
    got = {s.id: s for s in load_scenarios(SHIPPED, load_criteria(catalog=cat), catalog=cat)}
    assert {"base", "five_parks", "green_transition", "whole_country", "labour_logistics"} <= set(got)
    for s in got.values():  # every text in both languages, tied to the law or the agreement
        for lang, agreed in (("da", "aftalt"), ("en", "agreed")):
            title, rationale, basis = s.title.get(lang), s.rationale.get(lang), s.basis.get(lang)
            assert title and "\n" not in rationale and len(rationale) > 150
            assert "§ 13" in rationale + basis or agreed in rationale
        assert s.title.da != s.title.en and s.rationale.da != s.rationale.en
    five = got["five_parks"].criteria.selection
    assert (five.k_min, five.k_max) == (5, 5)
    base, green = got["base"].criteria, got["green_transition"].criteria
    assert green.bonus[0].points > base.bonus[0].points
    assert _group(green, "infrastructure") > _group(base, "infrastructure")
    whole = got["whole_country"].criteria.selection
    assert whole.min_outside_urban > base.selection.min_outside_urban
    assert all(whole.regions[r].max < base.selection.regions[r].max for r in whole.regions)
    labour = got["labour_logistics"].criteria
    for g in ("transport", "labour"):
        assert _group(labour, g) > _group(base, g)


def _group(crit: Criteria, gid: str) -> float:
    total = sum(g.weight for g in crit.groups)
    return next(g.weight for g in crit.groups if g.id == gid) / total


# --------------------------------------------------------------------------- comparison (synthetic)


def test_each_scenario_chooses_what_its_rules_give(compared):
    runs, _, _ = compared
    got = {r.id: sorted(r.result.selection.selected_ids) for r in runs}
    assert got == {"base": ["A1", "A2", "A3"], "two": ["A1", "A2"], "south": ["A1", "A2", "A4"],
                   "quality": ["A1", "A2", "A5"]}
    assert all(r.result.selection.proven_optimal for r in runs)


def test_measurements_and_exclusion_are_shared(candidates, monkeypatch, tmp_path):
    from screening import exclusion, scoring

    calls = {"measure": 0, "exclusion": 0}
    measure, evaluate = scoring.measure, exclusion.evaluate

    def count(name, fn):
        def wrapped(*a, **k):
            calls[name] += 1
            return fn(*a, **k)
        return wrapped

    monkeypatch.setattr(scoring, "measure", count("measure", measure))
    monkeypatch.setattr(exclusion, "evaluate", count("exclusion", evaluate))
    base = _criteria()
    specs = (_scenario(BASE_ID, {}, base), _scenario("two", {"selection": {"k_max": 2}}, base),
             _scenario("quality", {"groups": {"quality": {"weight": 0.9}}}, base))
    settings = settings_from_env(cache_dir=tmp_path, online=False)
    runs = scenarios.evaluate(candidates, LayerSet(layers={}), specs, settings=settings)
    assert calls == {"measure": 1, "exclusion": 1}
    assert runs[1].result.scores is runs[0].result.scores  # "two" changes only the selection: scores shared
    assert runs[2].result.scores is not runs[0].result.scores


def test_matrix_and_stability(compared):
    _, comp, _ = compared
    assert comp.matrix.shape[0] == 6 * 4
    status = comp.matrix.pivot(index="application_id", columns="scenario", values="status")
    assert status.loc["A6"].tolist() == ["excluded"] * 4
    assert status.loc["A5", "quality"] == "chosen" and status.loc["A5", "base"] == "eligible"
    stab = comp.stability["stability"].to_dict()
    assert stab == {"A1": "core", "A2": "core", "A3": "swing", "A4": "swing", "A5": "swing", "A6": "excluded"}
    assert comp.stability.loc["A3", "chosen_in"] == 1
    score = comp.matrix.set_index(["application_id", "scenario"])["score_total"]
    assert score[("A5", "base")] == pytest.approx(50.0) and score[("A5", "quality")] == pytest.approx(90.0)


def test_swing_reasons_name_the_rule_and_the_rival(compared):
    _, comp, _ = compared
    a3 = comp.stability.loc["A3", "reason"]
    assert a3.startswith("Chosen under 'Base' (on its score); not under ")
    assert "'Two' (the proposal holds only 2 parks and A2 (Kommune A2), the lowest chosen, which scores 10.0 " \
           "points more, mostly quality of the site +5.0, access to the site +5.0)" in a3
    assert "'South' (the proposal holds only 3 parks and A4 (Kommune A4), the lowest chosen, which is needed " \
           "for the minimum of 1 park in Region Syddanmark although it scores 30.0 points less)" in a3
    a4 = comp.stability.loc["A4", "reason"]
    assert a4.startswith("Chosen under 'South' (it is needed for the minimum of 1 park in Region Syddanmark)")
    a5 = comp.stability.loc["A5", "reason"]
    assert a5.startswith("Chosen under 'Quality' (it scores 90.0 (1st of 5), +40.0 against the base, mostly "
                         "quality of the site +40.0)")


def test_differences_to_the_base(compared):
    _, comp, _ = compared
    diff = {d["scenario"]: d for d in comp.differences}
    assert (diff["two"]["entered"], diff["two"]["left"], diff["two"]["parks"]) == ([], ["A3"], [3, 2])
    assert (diff["south"]["entered"], diff["south"]["left"]) == (["A4"], ["A3"])
    assert diff["south"]["total_score"] == pytest.approx(90 + 80 + 40)
    assert diff["south"]["base_total_score"] == pytest.approx(90 + 80 + 70)
    assert diff["quality"]["regions"]["Region Midtjylland"] == [1, 1]


def test_robust_proposal(compared):
    _, _, robust = compared
    assert robust.selected == ["A1", "A2", "A3"]
    assert (robust.chosen_pairs, robust.best_possible, robust.scenarios) == (4 + 4 + 1, 9, 4)
    assert robust.proven_optimal and robust.status == "optimal"
    assert robust.table.loc["A5", "reason"] == ("chosen in 1 of 4 scenarios; left out because the proposal holds "
                                                "only 3 parks and A3 (Kommune A3), the lowest chosen, which is "
                                                "chosen in as many scenarios and scores more on average")
    assert robust.table.loc["A6", "chosen_in"] == 0 and not robust.table.loc["A6", "selected"]


def test_outside_towns_reason(candidates, tmp_path):
    """Towns of 200,000 by A1/A2 and by A3 make them urban (15 km); a minimum of one park outside the towns
    brings in A5 (50, the best rural site) in place of A3 (70)."""
    towns = gpd.GeoDataFrame({"name": ["North", "Mid"], "population": [200_000, 150_000]},
                             geometry=[Point(X0 + 10_000, Y0 + 300_000), Point(X0, Y0 + 150_000)], crs=25832)
    base = _criteria()
    rural = {"selection": {"min_outside_urban": 1, "urban_radius_km": 15}}
    specs = (_scenario(BASE_ID, {}, base), _scenario("rural", rural, base))
    settings = settings_from_env(cache_dir=tmp_path, online=False)
    runs = scenarios.evaluate(candidates, LayerSet(layers={"towns": towns}), specs, settings=settings)
    assert sorted(runs[1].result.selection.selected_ids) == ["A1", "A2", "A5"]
    comp = compare(runs, towns=towns)
    assert comp.stability.loc["A5", "reason"] == (
        "Chosen under 'Rural' (it is needed for the minimum of 1 park outside the large towns); "
        "not under 'Base' (the proposal holds only 3 parks and A3 (Kommune A3), the lowest chosen, which scores "
        "20.0 points more, mostly access to the site +35.0)")  # 35 - 0 access; quality 35 - 50 is no reason
    assert "A5 (Kommune A5), the lowest chosen, which is needed for the minimum of 1 park outside the large " \
           "towns although it scores 20.0 points less" in comp.stability.loc["A3", "reason"]


def test_cli_bad_scenario_file_fails_before_any_work(tmp_path):
    from click.testing import CliRunner

    from screening.cli import main

    folder = tmp_path / "scen"
    folder.mkdir()
    _write(folder, "base.yaml", BASE_FILE)
    _write(folder, "typo.yaml", {"title": _t("Typo"), "rationale": _t("r"), "overlay": {"selection": {"k_maxx": 5}}})
    sub = tmp_path / "apps.geojson"
    sub.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    res = CliRunner().invoke(main, ["scenarios", str(sub), "--scenarios", str(folder), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "typo.yaml: overlay key 'selection.k_maxx' does not exist in criteria.yaml" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "o").exists()


def test_a_site_that_would_displace_two_parks(tmp_path):
    """B2 (90) lies 20 km from B1 and from B3 (60 each) with 30 km spacing: B1 + B3 (120) beat B2 alone."""
    rows = [("B1", 0, 60), ("B2", 20, 90), ("B3", 40, 60)]
    gdf = gpd.GeoDataFrame(
        [{"application_id": a, "site_name": a, "kommunekode": f"0{i}01", "kommunenavn": f"Kommune {a}",
          "regionskode": "", "regionsnavn": "Region Midtjylland", "co_applicant_kommunekoder": "", "q": q, "a": q}
         for i, (a, _x, q) in enumerate(rows, start=1)],
        geometry=[box(X0 + x * 1000, Y0, X0 + x * 1000 + 1000, Y0 + 1000) for _a, x, _q in rows], crs=25832)
    gdf["area_ha"] = gdf.area / 10_000
    base = scenario_criteria(_criteria(), {"selection": {"spacing_km": 30}})
    runs = scenarios.evaluate(gdf, LayerSet(layers={}), (_scenario(BASE_ID, {}, base),),
                              settings=settings_from_env(cache_dir=tmp_path, online=False))
    assert sorted(runs[0].result.selection.selected_ids) == ["B1", "B3"]
    assert compare(runs).stability.loc["B2", "reason"] == (
        "Chosen in no scenario: 'Base' (it lies within 30 km of chosen B1 (Kommune B1) at 20 km and B3 "
        "(Kommune B3) at 20 km, which together score 30.0 points more)")

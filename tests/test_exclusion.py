"""Exclusion: overlaps, cuts, buffers, tolerances, zone shares, prepared coverages - known by construction."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, box

from screening import coverage, exclusion
from screening.config import ExclusionRule, Exclusions, LayerFilter, Settings, load_catalog, load_criteria
from screening.errors import CRSError, LayerDataError, LayerUnavailableError, SubmissionError

X0, Y0 = 550_000, 6_200_000  # round EPSG:25832 coordinates (metres) inside Denmark
KM = 1_000


def _sites(*geoms, ids=None) -> gpd.GeoDataFrame:
    ids = ids or [f"s{i + 1}" for i in range(len(geoms))]
    return gpd.GeoDataFrame({"application_id": ids}, geometry=list(geoms), crs=25832)


def _layer(geoms, labels=None, *, column="navn", **attrs) -> gpd.GeoDataFrame:
    labels = labels or [f"f{i}" for i in range(len(geoms))]
    gdf = gpd.GeoDataFrame({column: labels}, geometry=list(geoms), crs=25832)
    gdf.attrs.update(attrs)
    return gdf


def _rule(rule_id="r", layer="prot", action="exclude", **kw) -> ExclusionRule:
    return ExclusionRule(id=rule_id, layer=layer, action=action, why="test", **kw)


def _evaluate(sites, layers, rules, *, prepared=False, min_net_area_ha=0.0, **kw):
    """Evaluate, optionally with prepared coverages built on small tiles (so features cross tiles)."""
    excl = Exclusions(min_net_area_ha=min_net_area_ha, rules=tuple(rules))
    prep = None
    if prepared:
        prep = {r.id: coverage.prepare_layer(layers[r.layer], label_column=r.label_column, tile_m=700.0)
                for r in rules if r.layer in layers}
    return exclusion.evaluate(sites, layers, excl, prepared=prep, **kw)


def _row(result, rule_id="r", application_id="s1") -> pd.Series:
    rows = result.overlaps.loc[(result.overlaps["rule_id"] == rule_id)
                               & (result.overlaps["application_id"] == application_id)]
    assert len(rows) == 1, result.overlaps
    return rows.iloc[0]


@pytest.fixture
def protected():
    """One protected rectangle covering x >= X0 + 500 m, 10 km tall, named 'Vejlerne'; EPSG:25832."""
    return _layer([box(X0 + 500, Y0 - 5 * KM, X0 + 5 * KM, Y0 + 5 * KM)], ["Vejlerne"], column="objektnavn",
                  source="Danmarks Miljøportal, CC0 1.0", date="2018-10-31", version="v1", layer_id="prot")


# --------------------------------------------------------------------------- overlap


@pytest.mark.parametrize("prepared", [False, True])
@pytest.mark.parametrize(
    ("dx", "expected_ha"),
    [
        (0, 50.0),       # 1 km x 1 km = 100 ha square, east half inside -> 50 ha
        (500, 100.0),    # square wholly inside
        (-500, 0.0),     # touches along one edge only: no overlap, no row
        (-2_000, 0.0),   # 1.5 km away
    ],
)
def test_overlap_ha_known_by_construction(protected, dx, expected_ha, prepared):
    sites = _sites(box(X0 + dx, Y0, X0 + dx + KM, Y0 + KM))
    rule = _rule(label_column="objektnavn", label_prefix="Natura 2000 F-område", tolerance_ha=0.1)
    result = _evaluate(sites, {"prot": protected}, [rule], prepared=prepared)
    assert bool(result.summary.loc["s1", "excluded"]) is (expected_ha > 0)
    if expected_ha == 0:
        assert result.overlaps.empty
        assert result.summary.loc["s1", "exclusion_reasons"] == ""
        return
    row = _row(result)
    assert row["overlap_ha"] == pytest.approx(expected_ha, abs=1e-6)
    assert row["overlap_share"] == pytest.approx(expected_ha / 100, abs=1e-9)
    assert row["features"] == "Natura 2000 F-område 'Vejlerne'"
    assert row["decisive"]
    assert result.summary.loc["s1", "exclusion_reasons"] == (
        f"Natura 2000 F-område 'Vejlerne': {expected_ha:.1f} ha overlap ({expected_ha:.1f} %) — "
        "prot (Danmarks Miljøportal, CC0 1.0, 2018-10-31)")


@pytest.mark.parametrize("prepared", [False, True])
def test_overlapping_features_of_one_layer_count_once(prepared):
    """Two features overlapping each other inside the site: 60 ha of ground, not 60 + 30 ha."""
    layer = _layer([box(X0, Y0, X0 + 600, Y0 + KM), box(X0 + 200, Y0, X0 + 500, Y0 + KM)], ["Eng", "Mose"])
    result = _evaluate(_sites(box(X0, Y0, X0 + KM, Y0 + KM)), {"prot": layer},
                       [_rule(label_column="navn", label_prefix="§ 3")], prepared=prepared)
    row = _row(result)
    assert row["overlap_ha"] == pytest.approx(60.0, abs=1e-6)
    assert row["features"] == "§ 3 'Eng'; § 3 'Mose'"


@pytest.mark.parametrize("prepared", [False, True])
def test_two_overlapping_cut_layers_are_not_double_counted(prepared):
    """Cut A covers x 0-600 m (60 ha), cut B x 400-800 m (40 ha): their union is 80 ha, so 20 ha remain."""
    site = box(X0, Y0, X0 + KM, Y0 + KM)
    layers = {"a": _layer([box(X0 - 100, Y0 - 100, X0 + 600, Y0 + 1_100)]),
              "b": _layer([box(X0 + 400, Y0 - 100, X0 + 800, Y0 + 1_100)])}
    rules = [_rule("cut_a", "a", "cut"), _rule("cut_b", "b", "cut")]
    result = _evaluate(_sites(site), layers, rules, prepared=prepared, min_net_area_ha=10.0)
    assert _row(result, "cut_a")["cut_ha"] == pytest.approx(60.0, abs=1e-6)
    assert _row(result, "cut_b")["cut_ha"] == pytest.approx(40.0, abs=1e-6)
    assert result.summary.loc["s1", "net_area_ha"] == pytest.approx(20.0, abs=1e-6)
    assert not result.summary.loc["s1", "excluded"]
    assert "60.0 ha cut (60.0 %)" in result.summary.loc["s1", "flags"]


def test_net_area_below_minimum_excludes_with_reason():
    """A 100 ha site of which 95 ha are cut keeps 5 ha < 10 ha minimum."""
    layer = _layer([box(X0, Y0, X0 + 950, Y0 + KM)])
    result = _evaluate(_sites(box(X0, Y0, X0 + KM, Y0 + KM)), {"prot": layer}, [_rule(action="cut")],
                       min_net_area_ha=10.0)
    summary = result.summary.loc["s1"]
    assert summary["excluded"]
    assert summary["net_area_ha"] == pytest.approx(5.0, abs=1e-6)
    assert summary["exclusion_reasons"] == (
        "net usable area 5.00 ha is below the 10 ha minimum after 95.0 ha cut")


@pytest.mark.parametrize("prepared", [False, True])
def test_multipart_site_and_feature(prepared):
    """Two 50 ha halves 1 km apart; a two-part feature covers 20 ha of one and 5 ha of the other."""
    site = MultiPolygon([box(X0, Y0, X0 + 500, Y0 + KM), box(X0 + 1_500, Y0, X0 + 2_000, Y0 + KM)])
    feature = MultiPolygon([box(X0 + 300, Y0, X0 + 800, Y0 + KM),
                            box(X0 + 1_900, Y0 + 500, X0 + 2_500, Y0 + 2 * KM)])
    result = _evaluate(_sites(site), {"prot": _layer([feature])}, [_rule()], prepared=prepared)
    assert _row(result)["overlap_ha"] == pytest.approx(20.0 + 5.0, abs=1e-6)


@pytest.mark.parametrize("prepared", [False, True])
def test_features_lists_only_features_whose_interior_meets_the_site(prepared):
    """'Eng' overlaps the site, 'Mose' overlaps 'Eng' but only touches the site's east edge."""
    layer = _layer([box(X0 + 800, Y0, X0 + 1_400, Y0 + KM), box(X0 + KM, Y0 + 200, X0 + 1_600, Y0 + 400)],
                   ["Eng", "Mose"])
    result = _evaluate(_sites(box(X0, Y0, X0 + KM, Y0 + KM)), {"prot": layer},
                       [_rule(label_column="navn", label_prefix="§ 3")], prepared=prepared)
    assert _row(result)["features"] == "§ 3 'Eng'"
    assert _row(result)["overlap_ha"] == pytest.approx(20.0, abs=1e-6)


# --------------------------------------------------------------------------- tolerance and buffers


@pytest.mark.parametrize(
    ("depth_m", "excluded"),
    [
        (0.5, False),   # 0.5 m x 1 km = 0.05 ha <= 0.1 ha tolerance: a sliver, reported but not decisive
        (1.0, False),   # exactly 0.1 ha is not more than the tolerance
        (2.0, True),    # 0.2 ha > 0.1 ha
    ],
)
def test_sliver_tolerance(protected, depth_m, excluded):
    sites = _sites(box(X0 + 500 - KM + depth_m, Y0, X0 + 500 + depth_m, Y0 + KM))
    result = _evaluate(sites, {"prot": protected}, [_rule(tolerance_ha=0.1)])
    row = _row(result)
    assert row["overlap_ha"] == pytest.approx(depth_m * KM / 10_000, abs=1e-6)
    assert bool(row["decisive"]) is excluded
    assert bool(result.summary.loc["s1", "excluded"]) is excluded


@pytest.mark.parametrize("prepared", [False, True])
@pytest.mark.parametrize(
    ("gap_m", "hit", "distance_m", "overlap_ha"),
    [
        (500, True, 500.0, 0.0),     # exactly buffer_m away: within (dwithin is <=)
        (501, False, None, 0.0),     # 1 m too far
        (200, True, 200.0, 0.0),
        (-300, True, 0.0, 30.0),     # overlaps 300 m x 1 km: distance 0, the true overlap is kept
    ],
)
def test_buffer_means_site_within_buffer_m_of_a_feature(protected, gap_m, hit, distance_m, overlap_ha,
                                                        prepared):
    """The site's east edge lies gap_m west of the protected edge at x = X0 + 500."""
    east = X0 + 500 - gap_m
    sites = _sites(box(east - KM, Y0, east, Y0 + KM))
    rules = [_rule("near", action="flag", buffer_m=500, label_column="objektnavn"),
             _rule("ex", action="exclude", buffer_m=500, tolerance_ha=50)]
    result = _evaluate(sites, {"prot": protected}, rules, prepared=prepared)
    assert bool(result.summary.loc["s1", "excluded"]) is hit
    if not hit:
        assert result.overlaps.empty and result.summary.loc["s1", "flags"] == ""
        return
    row = _row(result, "near")
    assert row["distance_m"] == pytest.approx(distance_m, abs=1e-9)
    assert row["overlap_ha"] == pytest.approx(overlap_ha, abs=1e-6)
    assert not row["decisive"] and _row(result, "ex")["decisive"]
    assert "within the 500 m limit" in result.summary.loc["s1", "flags"]


def test_buffered_cut_removes_the_part_of_the_site_within_buffer_m():
    """A 2 km tall feature 200 m east of the site, buffer 500 m: the site's strip x 700-1000 m (30 ha) is cut.

    Buffering the site instead would measure the feature within 500 m of the site (about 300 m x 2 km).
    """
    feature = box(X0 + 1_200, Y0 - 500, X0 + 2_000, Y0 + 1_500)
    result = _evaluate(_sites(box(X0, Y0, X0 + KM, Y0 + KM)), {"prot": _layer([feature])},
                       [_rule(action="cut", buffer_m=500)])
    row = _row(result)
    assert row["overlap_ha"] == 0.0
    assert row["distance_m"] == pytest.approx(200.0)
    assert row["cut_ha"] == pytest.approx(30.0, abs=1e-6)
    assert result.summary.loc["s1", "net_area_ha"] == pytest.approx(70.0, abs=1e-6)


# --------------------------------------------------------------------------- missing layers, errors


def test_missing_exclude_layer_is_an_error_naming_the_fix(protected):
    rules = [_rule("natura2000_habitat", "natura2000_habitat")]
    with pytest.raises(LayerUnavailableError, match="--allow-missing natura2000_habitat"):
        _evaluate(_sites(box(X0, Y0, X0 + KM, Y0 + KM)), {"prot": protected}, rules)


def test_allowed_missing_layer_marks_every_row_incomplete(protected):
    rules = [_rule(), _rule("hab", "natura2000_habitat"), _rule("p3", "bes_naturtyper", "cut"),
             _rule("fred", "fredninger", "flag")]
    sites = _sites(box(X0, Y0, X0 + KM, Y0 + KM), box(X0 - 3 * KM, Y0, X0 - 2 * KM, Y0 + KM))
    result = _evaluate(sites, {"prot": protected}, rules,
                       allow_missing=["natura2000_habitat", "bes_naturtyper"])
    assert set(result.missing) == {"hab", "p3", "fred"}
    assert "does not make the screening incomplete" in result.missing["fred"]
    expected = "incomplete: natura2000_habitat missing; incomplete: bes_naturtyper missing"
    assert result.summary["incomplete"].tolist() == [expected, expected]
    assert result.summary["excluded"].tolist() == [True, False]


@pytest.mark.parametrize(
    ("crs", "match"),
    [(4326, "EPSG:4326"), (None, "has no CRS")],
)
def test_candidates_must_be_in_25832(protected, crs, match):
    sites = gpd.GeoDataFrame({"application_id": ["s1"]}, geometry=[box(9.5, 56.1, 9.51, 56.11)], crs=crs)
    with pytest.raises(CRSError, match=match):
        _evaluate(sites, {"prot": protected}, [_rule()])


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (_sites(box(X0, Y0, X0 + 10, Y0 + 10), box(X0, Y0, X0 + 20, Y0 + 20), ids=["a", "a"]),
         "'a' occurs more than once"),
        (_sites(shapely.Polygon([(X0, Y0), (X0 + 10, Y0 + 10), (X0 + 10, Y0), (X0, Y0 + 10)])),
         "invalid geometry .*Self-intersection"),
        (gpd.GeoDataFrame({"id": ["a"]}, geometry=[box(X0, Y0, X0 + 10, Y0 + 10)], crs=25832),
         "column 'application_id' is missing"),
    ],
)
def test_bad_candidates_are_reported(protected, frame, match):
    with pytest.raises(SubmissionError, match=match):
        _evaluate(frame, {"prot": protected}, [_rule()])


def test_unknown_label_column_names_rule_and_columns(protected):
    with pytest.raises(LayerDataError, match="rule r: layer prot: label column 'navn' not found"):
        _evaluate(_sites(box(X0, Y0, X0 + KM, Y0 + KM)), {"prot": protected}, [_rule(label_column="navn")])


@pytest.mark.parametrize("prepared", [False, True])
def test_filter_keeps_only_listed_features(tmp_path, prepared):
    """Designated x 0-300 m, other x 300-1000 m: only the designated 30 ha count (prepared once filtered)."""
    layer = _layer([box(X0, Y0, X0 + 300, Y0 + KM), box(X0 + 300, Y0, X0 + KM, Y0 + KM)],
                   ["designated", "other"], column="status", version="v1", layer_id="prot")
    rule = _rule(filter=LayerFilter(where={"status": ("designated",)}))
    excl = Exclusions(min_net_area_ha=0, rules=(rule,))
    prep = exclusion.prepared_layers({"prot": layer}, excl, cache_dir=tmp_path) if prepared else None
    result = exclusion.evaluate(_sites(box(X0, Y0, X0 + KM, Y0 + KM)), {"prot": layer}, excl, prepared=prep)
    assert _row(result)["overlap_ha"] == pytest.approx(30.0, abs=1e-6)
    if prepared:
        assert prep["r"].attrs["n_source_features"] == 1


def test_no_candidates_gives_empty_result(protected):
    result = _evaluate(_sites(), {"prot": protected}, [_rule()])
    assert result.summary.empty and result.overlaps.empty
    assert list(result.summary.columns) == list(exclusion.SUMMARY_COLUMNS)
    assert list(result.overlaps.columns) == list(exclusion.OVERLAP_COLUMNS)


# --------------------------------------------------------------------------- zones


@pytest.fixture
def zonekort():
    """Byzone x 0-300 m, sommerhus x 300-380 m, and a byzone polygon overlapping the sommerhus strip."""
    return _layer([box(X0, Y0, X0 + 300, Y0 + KM), box(X0 + 300, Y0, X0 + 380, Y0 + KM),
                   box(X0 + 250, Y0, X0 + 350, Y0 + 100)], [1, 3, 1], column="zone",
                  source="Plandata.dk", date="2025-01-01")


def test_zone_shares_and_landzone_flag(zonekort):
    sites = _sites(box(X0, Y0, X0 + KM, Y0 + KM))
    shares = exclusion.zone_shares(sites, zonekort)
    expected = pd.DataFrame({"byzone_ha": [30.5], "sommerhus_ha": [7.5], "mixed_ha": [0.0],
                             "landzone_ha": [62.0], "landzone_share": [0.62]},
                            index=pd.Index(["s1"], name="application_id"))
    pd.testing.assert_frame_equal(shares, expected, atol=1e-9)
    rule = _rule("landzone", "zonekort", "flag", label_column="zone", measure="zone_shares")
    result = _evaluate(sites, {"zonekort": zonekort}, [rule])
    assert result.summary.loc["s1", "flags"] == (
        "62 % landzone: needs planning permission (landzonetilladelse) — zonekort (Plandata.dk, 2025-01-01)")
    assert result.summary.loc["s1", "landzone_share"] == pytest.approx(0.62)
    assert _row(result, "landzone")["features"] == "landzone 62 %; byzone 30 %; sommerhusområde 8 %"


def test_site_wholly_in_byzone_is_not_flagged(zonekort):
    result = _evaluate(_sites(box(X0, Y0 + 200, X0 + 200, Y0 + 400)), {"zonekort": zonekort},
                       [_rule("landzone", "zonekort", "flag", measure="zone_shares")])
    assert result.overlaps.empty and result.summary.loc["s1", "landzone_share"] == 0.0


# --------------------------------------------------------------------------- prepared layers and cache


def test_prepare_layer_is_a_non_overlapping_coverage_of_the_union():
    """Nine overlapping 400 m squares on a 300 m step, cut on 500 m tiles."""
    geoms = [box(X0 + 300 * i, Y0 + 300 * j, X0 + 300 * i + 400, Y0 + 300 * j + 400)
             for i in range(3) for j in range(3)]
    layer = _layer(geoms, ["Eng", "Mose", "Sø"] * 3)
    prep = coverage.prepare_layer(layer, label_column="navn", tile_m=500.0)
    pieces = prep.geometry.to_numpy()
    assert shapely.area(pieces).sum() == pytest.approx(1_000 * 1_000, abs=1e-6)  # union: 1 km square
    a, b = shapely.STRtree(pieces).query(pieces, predicate="overlaps")
    assert len(a) == 0
    assert all(set(lab) <= {"Eng", "Mose", "Sø"} and len(lab) for lab in prep["labels"])
    assert prep.attrs["n_source_features"] == 9 and prep.attrs["tile_m"] == 500.0


def test_prepared_cache_key_miss_save_hit(tmp_path, protected, caplog):
    key = coverage.prepared_key(protected, label_column="objektnavn")
    assert key.startswith("prepared-prot-")
    assert coverage.prepared_key(protected.assign(), label_column="objektnavn") == key
    unversioned = _layer([box(X0, Y0, X0 + 1, Y0 + 1)])
    assert coverage.prepared_key(unversioned, label_column=None) is None
    assert coverage.read_prepared(tmp_path, key) is None
    prep = coverage.prepare_layer(protected, label_column="objektnavn")
    with caplog.at_level(logging.INFO, logger="screening.coverage"):
        coverage.write_prepared(tmp_path, key, prep)
        back = coverage.read_prepared(tmp_path, key)
    assert f"prepared cache save {key}.parquet" in caplog.text
    assert f"prepared cache hit {key}.parquet" in caplog.text
    assert back.attrs["source_version"] == "v1"
    assert len(back) == 2  # the 4.5 km x 10 km rectangle spans two 5 km tiles
    assert [list(x) for x in back["labels"]] == [["Vejlerne"], ["Vejlerne"]]


def test_prepared_layers_by_rule_and_stale_ones_ignored(tmp_path, protected, caplog):
    excl = Exclusions(min_net_area_ha=0, rules=(_rule(label_column="objektnavn"),))
    first = exclusion.prepared_layers({"prot": protected}, excl, cache_dir=tmp_path)
    assert list(first) == ["r"] and len(list(tmp_path.glob("prepared-prot-*.parquet"))) == 1
    assert exclusion.prepared_layers({}, excl, cache_dir=tmp_path) == {}
    newer = protected.copy()
    newer.attrs.update(protected.attrs, version="v2")
    assert exclusion.prepared_layers({"prot": newer}, excl, cache_dir=tmp_path, build=False) == {}
    sites = _sites(box(X0, Y0, X0 + KM, Y0 + KM))
    with caplog.at_level(logging.WARNING, logger="screening.coverage"):
        result = exclusion.evaluate(sites, {"prot": newer}, excl, prepared=first)
    assert "prepared layer is stale" in caplog.text
    assert _row(result)["overlap_ha"] == pytest.approx(50.0, abs=1e-6)


def test_prepared_and_raw_agree_with_a_brute_force_union():
    """60 random sites against 600 random overlapping discs (seeded): all three agree to 1e-6 ha."""
    rng = np.random.default_rng(7)
    centres = rng.uniform(0, 20 * KM, (600, 2))
    discs = shapely.buffer(shapely.points(X0 + centres), rng.uniform(50, 600, 600), quad_segs=4)
    xy = X0 + rng.uniform(0, 19 * KM, (60, 2))
    sites = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + rng.uniform(300, 1_500, 60), xy[:, 1] + 800)
    layer = _layer(list(discs), list(rng.choice(["Eng", "Mose"], 600)))
    brute = shapely.area(shapely.intersection(sites, shapely.union_all(discs))) / 1e4
    for prepared in (False, True):
        result = _evaluate(_sites(*sites), {"prot": layer}, [_rule(label_column="navn")], prepared=prepared)
        got = result.overlaps.set_index("application_id")["overlap_ha"].reindex(
            [f"s{i + 1}" for i in range(60)]).fillna(0.0).to_numpy()
        np.testing.assert_allclose(got, brute, atol=1e-6)


def test_union_by_group():
    squares = np.array([box(0, 0, 2, 2), box(1, 1, 3, 3), box(10, 10, 11, 11), box(5, 5, 6, 6)])
    out = coverage.union_by_group(squares, np.array([0, 0, 2, 0]), 4)
    assert out[1] is None and out[3] is None
    assert out[0].area == pytest.approx(8.0) and out[2].equals(box(10, 10, 11, 11))


# --------------------------------------------------------------------------- real mirror


@pytest.mark.mirror
def test_real_bird_area_excludes_a_site_inside_it(mirror_root, tmp_path):
    """A 1 km square (100 ha) wholly inside Natura 2000 bird area 13 'Østlige Vejler' on the mirror's layer.

    The square was placed with shapely.maximum_inscribed_circle on the mirror's 2018-10-31 polygon.
    """
    settings = Settings(mirror_root=mirror_root, cache_dir=tmp_path, online=False)
    catalog = load_catalog()
    criteria = load_criteria(catalog=catalog)
    from screening.catalog import load_layer

    layers = {lid: load_layer(lid, catalog=catalog, settings=settings)
              for lid in ("natura2000_fuglebeskyttelse", "natura2000_omraader_simplified")}
    sites = _sites(box(503_200, 6_324_400, 504_200, 6_325_400), box(600_000, 6_150_000, 601_000, 6_151_000),
                   ids=["vejler", "elsewhere"])
    allow = ["natura2000_habitat", "naturnationalparker", "bes_naturtyper"]
    result = exclusion.evaluate(sites, layers, criteria.exclusions, allow_missing=allow)
    vejler = result.summary.loc["vejler"]
    assert vejler["excluded"]
    assert vejler["exclusion_reasons"].startswith(
        "Natura 2000 F-område 'Østlige Vejler': 100.0 ha overlap (100.0 %) — natura2000_fuglebeskyttelse (")
    assert "CC0 1.0, 2018-10-31)" in vejler["exclusion_reasons"]
    assert vejler["incomplete"].startswith("incomplete: natura2000_habitat missing")
    assert "landzone" in result.missing and "fredning" in result.missing
    row = _row(result, "natura2000_fuglebeskyttelse", "vejler")
    assert row["overlap_ha"] == pytest.approx(100.0, abs=1e-6)

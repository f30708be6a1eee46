"""Provisional copies, partial coverage, label templates and unset filter values - known by construction.

Synthetic EPSG:25832 squares around (X0, Y0); the mirror-based tests are in test_nature_real.py.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import box

from screening import _labels, _nature_layers, exclusion
from screening import catalog as catalog_mod
from screening.config import Catalog, ExclusionRule, Exclusions, LayerFilter, LayerSpec, Settings
from screening.errors import LayerDataError, LayerUnavailableError

X0, Y0 = 550_000, 6_200_000
KM = 1_000
COVER = box(X0, Y0, X0 + 2 * KM, Y0 + 2 * KM)  # the copy covers 2 km x 2 km
NOTE = "two test boxes"


def _sites(*geoms) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"application_id": [f"s{i + 1}" for i in range(len(geoms))]}, geometry=list(geoms),
                            crs=25832)


def _layer(geoms, *, provisional=False, date="", coverage=None, **columns) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(columns or {"navn": [f"f{i}" for i in range(len(geoms))]}, geometry=list(geoms),
                           crs=25832)
    gdf.attrs.update(layer_id="prot", source="test source", date=date, version="v1", provisional=provisional,
                     coverage=shapely.to_wkt(coverage) if coverage is not None else "", coverage_note=NOTE)
    return gdf


def _rule(action="exclude", **kw) -> ExclusionRule:
    return ExclusionRule(id="r", layer="prot", action=action, why="test", **kw)


def _evaluate(sites, layer, rule, **kw):
    return exclusion.evaluate(sites, {"prot": layer}, Exclusions(min_net_area_ha=0.0, rules=(rule,)), **kw)


# --------------------------------------------------------------------------- provisional copies


@pytest.mark.parametrize("action", ["exclude", "cut", "flag"])
def test_provisional_copy_decides_and_every_text_says_so(action):
    layer = _layer([box(X0, Y0, X0 + 1000, Y0 + 1000)], provisional=True, date="about 2013")
    site = _sites(box(X0 + 500, Y0, X0 + 1500, Y0 + 1000))  # 50 ha inside
    result = _evaluate(site, layer, _rule(action, label_column="navn", label_prefix="H"))
    note = "provisional copy of about 2013, check against the official layer"
    row = result.overlaps.iloc[0]
    assert row["provisional"] == note and row["overlap_ha"] == pytest.approx(50.0)
    assert result.provisional == {"prot": note}
    text = result.summary.loc["s1", "exclusion_reasons" if action == "exclude" else "flags"]
    assert text.startswith(f"H 'f0': {'50.0 ha cut (50.0 %)' if action == 'cut' else '50.0 ha overlap (50.0 %)'}"
                           f" — {note} — prot (test source, about 2013)")
    assert result.summary.loc["s1", "excluded"] == (action == "exclude")


def test_official_layer_carries_no_provisional_note():
    result = _evaluate(_sites(box(X0, Y0, X0 + 100, Y0 + 100)), _layer([box(X0, Y0, X0 + 1000, Y0 + 1000)]), _rule())
    assert result.provisional == {} and result.overlaps["provisional"].tolist() == [""]
    assert "provisional" not in result.summary.loc["s1", "exclusion_reasons"]


# --------------------------------------------------------------------------- label templates

TEMPLATES = ("H-område {h_nr} '{objektnavn}'", "H-område H{site_nr} '{objektnavn}'", "H-område '{objektnavn}'",
             "H-område {h_nr}", "H-område H{site_nr}")


@pytest.mark.parametrize(("columns", "expected"), [
    ({"h_nr": ["H12"], "objektnavn": ["Rold Skov"]}, "H-område H12 'Rold Skov'"),
    ({"h_nr": [None], "objektnavn": ["Brede Å"]}, "H-område 'Brede Å'"),
    ({"h_nr": ["H7"], "objektnavn": [None]}, "H-område H7"),
    ({"h_nr": [" "], "objektnavn": [np.nan]}, "H (no name or number in the layer)"),
    ({"site_nr": [12.0], "objektnavn": ["Store Vildmose"]}, "H-område H12 'Store Vildmose'"),  # official layer
    ({"site_nr": [np.nan], "objektnavn": [""]}, "H (no name or number in the layer)"),
])
def test_label_templates_use_what_the_copy_has_and_invent_nothing(columns, expected):
    layer = _layer([box(X0, Y0, X0 + 1000, Y0 + 1000)], **columns)
    rule = _rule(label_prefix="H", labels=TEMPLATES)
    assert _labels.rule_labels(layer, rule).tolist() == [expected]
    result = _evaluate(_sites(box(X0, Y0, X0 + 500, Y0 + 500)), layer, rule)
    assert result.overlaps["features"].tolist() == [expected]


def test_label_template_fields_are_catalog_columns_of_their_layer():
    """Every column a rule's label templates name is a catalog column of its layer (no typo goes unseen)."""
    from screening.config import load_catalog, load_criteria

    catalog = load_catalog()
    for rule in load_criteria(catalog=catalog).exclusions.rules:  # a handful of rules
        known = set(catalog.get(rule.layer).columns)
        fields = {f for t in rule.labels for f in _labels.template_fields(t)}
        assert fields <= known, (rule.id, fields - known)
        assert not (rule.labels and rule.label_column), rule.id


# --------------------------------------------------------------------------- unset filter values


@pytest.mark.parametrize(("status", "kept"), [
    (["designated", "proposed", "cancelled", None, ""], [0, 1, 3, 4]),
    (None, [0, 1, 2, 3, 4]),  # the copy has no status column at all
])
def test_keep_unset_counts_a_copy_without_status_as_designated_or_proposed(status, kept):
    geoms = [box(X0 + 2000 * i, Y0, X0 + 2000 * i + 1000, Y0 + 1000) for i in range(5)]
    columns = {"park_id": [f"NNP_0{i}" for i in range(5)]} | ({"status": status} if status else {})
    layer = _layer(geoms, **columns)
    rule = _rule(filter=LayerFilter(where={"status": ("designated", "proposed")}, keep_unset=True),
                 labels=("Naturnationalpark {park_id}",))
    sites = _sites(*[box(X0 + 2000 * i + 100, Y0 + 100, X0 + 2000 * i + 300, Y0 + 300) for i in range(5)])
    result = _evaluate(sites, layer, rule)
    assert result.summary["excluded"].to_numpy().nonzero()[0].tolist() == kept
    note = "(status not stated in the layer: counted as designated or proposed)"
    unset = [3, 4] if status else kept
    for i in kept:  # five sites
        features = result.overlaps.set_index("application_id").loc[f"s{i + 1}", "features"]
        assert features == f"Naturnationalpark NNP_0{i}" + (f" {note}" if i in unset else "")


def test_without_keep_unset_a_missing_status_column_is_an_error_not_an_empty_layer():
    layer = _layer([box(X0, Y0, X0 + 1000, Y0 + 1000)], park_id=["NNP_01"])
    rule = _rule(filter=LayerFilter(where={"status": ("designated",)}))
    with pytest.raises(LayerDataError, match="filter column 'status' not found"):
        _evaluate(_sites(box(X0, Y0, X0 + 100, Y0 + 100)), layer, rule)


# --------------------------------------------------------------------------- partial coverage


@pytest.mark.parametrize("action", ["exclude", "cut"])
def test_sites_outside_the_coverage_are_incomplete_for_that_rule_only(action):
    layer = _layer([box(X0 + 100, Y0 + 100, X0 + 300, Y0 + 300)], coverage=COVER)
    inside = box(X0, Y0, X0 + 1000, Y0 + 1000)  # 100 ha, wholly inside, meets the feature (4 ha)
    outside = box(X0 + 5 * KM, Y0, X0 + 6 * KM, Y0 + 1000)
    partly = box(X0 + 1500, Y0, X0 + 2500, Y0 + 1000)  # 100 ha, half outside: 50 ha
    result = _evaluate(_sites(inside, outside, partly), layer, _rule(action), allow_missing=["prot"])
    inc = result.summary["incomplete"]
    assert inc["s1"] == ""
    assert inc["s2"] == "incomplete: prot missing (outside the coverage of the available copy)"
    assert inc["s3"] == ("incomplete: prot missing for 50 % of the site (50.0 ha outside the coverage of the "
                         "available copy)")
    out = result.outside_coverage.set_index("application_id")
    assert out.index.tolist() == ["s2", "s3"]
    assert out["outside_ha"].tolist() == pytest.approx([100.0, 50.0])
    assert out["outside_share"].tolist() == pytest.approx([1.0, 0.5])
    assert (out["coverage_note"] == NOTE).all()
    # inside: evaluated as usual
    assert result.overlaps.set_index("application_id").loc["s1", "overlap_ha"] == pytest.approx(4.0)


def test_site_outside_the_coverage_needs_the_layer_allowed_missing():
    layer = _layer([box(X0 + 100, Y0 + 100, X0 + 300, Y0 + 300)], coverage=COVER)
    sites = _sites(box(X0, Y0, X0 + 100, Y0 + 100), box(X0 + 5 * KM, Y0, X0 + 6 * KM, Y0 + 1000))
    with pytest.raises(LayerUnavailableError, match=r"covers only two test boxes; 1 site\(s\) .*: s2\. .*"
                                                    r"--allow-missing prot"):
        _evaluate(sites, layer, _rule("cut"))
    complete = _evaluate(sites.iloc[:1], layer, _rule("cut"))  # all inside: nothing to allow
    assert complete.summary["incomplete"].tolist() == [""]


def test_known_nature_beyond_the_coverage_is_still_cut():
    """A feature of the copy reaching beyond its coverage cuts where it lies; the site is still incomplete."""
    layer = _layer([box(X0 + 1500, Y0, X0 + 3000, Y0 + 1000)], coverage=COVER)  # reaches 1 km beyond
    site = box(X0 + 2500, Y0, X0 + 3500, Y0 + 1000)  # wholly outside; 50 ha of it in the feature
    result = _evaluate(_sites(site), layer, _rule("cut"), allow_missing=["r"])
    assert result.summary.loc["s1", "net_area_ha"] == pytest.approx(50.0)
    assert result.summary.loc["s1", "incomplete"].endswith("(outside the coverage of the available copy)")


def test_flag_rule_with_partial_coverage_does_not_make_the_site_incomplete():
    layer = _layer([box(X0, Y0, X0 + 100, Y0 + 100)], coverage=COVER)
    result = _evaluate(_sites(box(X0 + 5 * KM, Y0, X0 + 6 * KM, Y0 + 1000)), layer, _rule("flag"))
    assert result.summary.loc["s1", "incomplete"] == "" and result.outside_coverage.empty


def test_outside_m2_is_the_area_outside_the_coverage():
    sites = np.array([box(0, 0, 10, 10), box(5, 0, 15, 10), box(20, 0, 30, 10)])
    assert _nature_layers.outside_m2(sites, box(0, 0, 10, 10)).tolist() == pytest.approx([0.0, 50.0, 100.0])


# --------------------------------------------------------------------------- the loader


def _spec(**kw) -> LayerSpec:
    base = {"id": "prot", "title": "Protected", "theme": "protected_nature", "role": "exclude",
            "geometry_type": "Polygon", "mirror": "prot.gpkg", "mirror_date": "about 2013",
            "source": {"kind": "wfs", "url": "https://example.invalid/wfs", "typename": "x:prot",
                       "publisher": "Official", "licence": "CC0"},
            "columns": {"navn": {"meaning": "name"}}}
    return LayerSpec.model_validate(base | kw)


@pytest.fixture
def mirror(tmp_path):
    root = tmp_path / "mirror"
    root.mkdir()
    gpd.GeoDataFrame({"navn": ["a"]}, geometry=[box(X0, Y0, X0 + 500, Y0 + 500)], crs=25832).to_file(
        root / "prot.gpkg", engine="pyogrio")
    gpd.GeoDataFrame({"k": [1]}, geometry=[COVER], crs=25832).to_file(root / "cover.gpkg", engine="pyogrio")
    return root


@pytest.mark.parametrize("cached", [False, True])
def test_mirror_copy_is_provisional_and_partial_also_from_the_cache(mirror, tmp_path, cached):
    spec = _spec(provisional=True, provisional_reason="unofficial", mirror_coverage="cover.gpkg",
                 mirror_coverage_note=NOTE)
    settings = Settings(mirror_root=mirror, cache_dir=tmp_path / "cache", online=False)
    catalog = Catalog(layers=(spec,))
    if cached:
        catalog_mod.load_layer("prot", catalog=catalog, settings=settings)
    gdf = catalog_mod.load_layer("prot", catalog=catalog, settings=settings)
    assert gdf.attrs["origin"] == "mirror" and gdf.attrs["provisional"] is True
    assert gdf.attrs["provisional_reason"] == {"da": "unofficial", "en": "unofficial"}  # a catalog text {da, en}
    assert _nature_layers.provisional_note(gdf) == "provisional copy of about 2013, check against the official layer"
    assert shapely.equals(_nature_layers.coverage_of(gdf), COVER) and _nature_layers.coverage_note(gdf) == NOTE
    # the catalog decides, not the cache entry: the same file declared official is no longer provisional
    plain = catalog_mod.load_layer("prot", catalog=Catalog(layers=(_spec(),)), settings=settings)
    assert plain.attrs["provisional"] is False and _nature_layers.coverage_of(plain) is None


def test_official_source_is_tried_before_a_provisional_copy_when_online(mirror, tmp_path, monkeypatch):
    """Online, the official fetch comes first and its result is not provisional; when the fetch fails the
    provisional copy is used and says so."""
    from screening import _fetch

    spec = _spec(provisional=True, provisional_reason="unofficial")
    catalog = Catalog(layers=(spec,))
    settings = Settings(mirror_root=mirror, cache_dir=tmp_path / "cache", online=True)
    calls = []

    def official(spec, **kw):
        calls.append(spec.id)
        return gpd.GeoDataFrame({"navn": ["official"]}, geometry=[box(X0, Y0, X0 + 900, Y0 + 900)], crs=25832)

    monkeypatch.setattr(_fetch, "fetch", official)
    gdf = catalog_mod.load_layer("prot", catalog=catalog, settings=settings)
    assert calls == ["prot"] and gdf.attrs["origin"] == "online" and gdf.attrs["provisional"] is False
    assert gdf["navn"].tolist() == ["official"]
    again = catalog_mod.load_layer("prot", catalog=catalog, settings=settings.model_copy(update={"online": False}))
    assert again.attrs["provisional"] is False and again["navn"].tolist() == ["official"]  # the cached fetch wins

    def failing(spec, **kw):
        raise _fetch.FetchError("no network here")

    monkeypatch.setattr(_fetch, "fetch", failing)
    fresh = settings.model_copy(update={"cache_dir": tmp_path / "other-cache"})
    copy = catalog_mod.load_layer("prot", catalog=catalog, settings=fresh)
    assert copy.attrs["origin"] == "mirror" and copy.attrs["provisional"] is True


def test_resolution_order_puts_the_provisional_copy_last_only_online(mirror, tmp_path):
    spec = _spec(provisional=True, provisional_reason="unofficial")
    catalog = Catalog(layers=(spec,))
    online = Settings(mirror_root=mirror, cache_dir=tmp_path, online=True)
    assert catalog_mod.resolve("prot", catalog=catalog, settings=online).origin == "online"
    offline = online.model_copy(update={"online": False})
    assert catalog_mod.resolve("prot", catalog=catalog, settings=offline).origin == "mirror"
    plain = Catalog(layers=(_spec(),))
    assert catalog_mod.resolve("prot", catalog=plain, settings=online).origin == "mirror"


def test_missing_coverage_file_is_an_error_naming_it(mirror, tmp_path):
    spec = _spec(mirror_coverage="nowhere.gpkg", mirror_coverage_note=NOTE)
    settings = Settings(mirror_root=mirror, cache_dir=tmp_path, online=False)
    with pytest.raises(LayerDataError, match="coverage file .*nowhere.gpkg not found"):
        catalog_mod.load_layer("prot", catalog=Catalog(layers=(spec,)), settings=settings)


@pytest.mark.parametrize(("extra", "match"), [
    ({"provisional": True}, "provisional_reason"),
    ({"provisional": True, "provisional_reason": "x", "mirror": None}, "needs a mirror file"),
    ({"mirror_coverage": "c.gpkg"}, "mirror_coverage_note"),
])
def test_catalog_declarations_are_validated(extra, match):
    with pytest.raises(ValueError, match=match):
        _spec(**extra)

"""Layer catalog: resolution order, normalisation, official-schema fixtures, live-loader paging (no network)."""

from __future__ import annotations

import geopandas as gpd
import pytest
from click.testing import CliRunner
from shapely.geometry import Point, Polygon, box

from screening import _fetch, catalog
from screening.cli import main
from screening.config import Catalog, LayerFilter, LayerSpec, Settings, load_catalog, settings_from_env
from screening.errors import CRSError, LayerDataError, LayerUnavailableError

X0, Y0 = 550_000, 6_200_000  # round EPSG:25832 coordinates inside Denmark


def _spec(**over) -> LayerSpec:
    base = {
        "id": "habitat", "title": "Habitat areas", "theme": "protected_nature", "role": "exclude",
        "geometry_type": "Polygon", "mirror": "protected_nature/habitat.gpkg", "mirror_layer": "habitat",
        "mirror_date": "2020-01-01", "mirror_source": "test mirror, CC0",
        "source": {"kind": "wfs", "url": "https://example.invalid/wfs", "typename": "dai:habitat_omr",
                   "publisher": "Danmarks Miljøportal", "licence": "CC0", "evidence": "C"},
        "columns": {"objektnavn": {"meaning": "site name"}, "site_nr": {"meaning": "site number"}},
    }
    base.update(over)
    return LayerSpec.model_validate(base)


@pytest.fixture
def habitat_gdf():
    """Two 1 km squares shaped like the DAI `dai:habitat_omr` schema (upper-case fields as in WFS exports)."""
    return gpd.GeoDataFrame(
        {"Objektnavn": ["Vejlerne", "Lille Vildmose"], "Site_nr": [16, 18], "Temakode": [2013, 2013]},
        geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 2000, Y0, X0 + 3000, Y0 + 1000)], crs=25832)


@pytest.fixture
def env(tmp_path, habitat_gdf):
    """A temporary mirror holding the habitat layer, an empty cache, offline settings and a one-layer catalog."""
    mirror = tmp_path / "mirror"
    (mirror / "protected_nature").mkdir(parents=True)
    habitat_gdf.to_file(mirror / "protected_nature" / "habitat.gpkg", layer="habitat", driver="GPKG")
    settings = Settings(mirror_root=mirror, cache_dir=tmp_path / "cache", online=False)
    return settings, Catalog(layers=(_spec(),))


def test_mirror_then_cache(env, monkeypatch):
    settings, cat = env
    first = catalog.load_layer("habitat", catalog=cat, settings=settings)
    assert first.attrs["origin"] == "mirror"
    assert first.attrs["source"] == "test mirror, CC0"
    assert list(first.columns[:2]) == ["objektnavn", "site_nr"]  # renamed case-insensitively
    assert catalog.resolve("habitat", catalog=cat, settings=settings).origin == "cache"

    def no_read(*a, **k):
        raise AssertionError("the mirror must not be read on a cache hit")

    monkeypatch.setattr(catalog, "_read_file", no_read)
    second = catalog.load_layer("habitat", catalog=cat, settings=settings)
    assert second.attrs["origin"] == "mirror" and second.attrs["version"] == first.attrs["version"]
    assert second.geometry.area.sum() == pytest.approx(2_000_000.0)


def test_changed_mirror_file_is_not_served_from_stale_cache(env, habitat_gdf):
    settings, cat = env
    catalog.load_layer("habitat", catalog=cat, settings=settings)
    path = settings.mirror_root / "protected_nature" / "habitat.gpkg"
    habitat_gdf.iloc[:1].to_file(path, layer="habitat", driver="GPKG")
    assert len(catalog.load_layer("habitat", catalog=cat, settings=settings)) == 1


def test_online_fetch_when_mirror_lacks_it_and_cached_online_beats_mirror(env, habitat_gdf, monkeypatch):
    settings, cat = env
    (settings.mirror_root / "protected_nature" / "habitat.gpkg").unlink()
    settings = settings.model_copy(update={"online": True})
    calls = []

    def fake_fetch(spec, *, settings):
        calls.append(spec.id)
        return habitat_gdf.iloc[:1]

    monkeypatch.setattr(_fetch, "fetch", fake_fetch)
    got = catalog.load_layer("habitat", catalog=cat, settings=settings)
    assert got.attrs["origin"] == "online" and len(got) == 1 and calls == ["habitat"]
    # the mirror comes back, but the fetched official copy in the cache is preferred
    habitat_gdf.to_file(settings.mirror_root / "protected_nature" / "habitat.gpkg", layer="habitat")
    again = catalog.load_layer("habitat", catalog=cat, settings=settings)
    assert again.attrs["origin"] == "online" and len(again) == 1 and calls == ["habitat"]


def test_unavailable_names_sources_and_fix(tmp_path):
    settings = Settings(mirror_root=tmp_path, cache_dir=tmp_path / "c", online=False)
    cat = Catalog(layers=(_spec(),))
    with pytest.raises(LayerUnavailableError, match=r"habitat.*mirror .*habitat.gpkg \(file not found\).*"
                       r"--allow-missing habitat"):
        catalog.load_layer("habitat", catalog=cat, settings=settings)


def test_missing_exclusion_layer_is_error_unless_allowed(tmp_path):
    settings = Settings(mirror_root=tmp_path, cache_dir=tmp_path / "c", online=False)
    cat = Catalog(layers=(_spec(), _spec(id="towns", role="score", mirror="labour/towns.gpkg")))
    with pytest.raises(LayerUnavailableError, match="habitat"):
        catalog.load_layers(["habitat", "towns"], catalog=cat, settings=settings)
    got = catalog.load_layers(["habitat", "towns"], catalog=cat, settings=settings, allow_missing=["habitat"])
    assert got.layers == {} and set(got.missing) == {"habitat", "towns"}
    with pytest.raises(LayerUnavailableError, match="unknown layer ids"):
        catalog.load_layers(["towns"], catalog=cat, settings=settings, allow_missing=["nope"])


@pytest.mark.parametrize(
    ("crs", "expected_x"),
    [(25832, X0), (4326, None)],  # already metric: unchanged; WGS84: reprojected to UTM 32N metres
)
def test_normalise_reprojects_to_25832(crs, expected_x):
    gdf = gpd.GeoDataFrame({"objektnavn": ["a"], "site_nr": [1]},
                           geometry=[Point(X0, Y0) if crs == 25832 else Point(9.5, 56.0)], crs=crs)
    out = catalog.normalise(gdf, _spec(geometry_type="Point"), what="t")
    assert out.crs.to_epsg() == 25832
    x = out.geometry.x.iloc[0]
    assert x == expected_x if expected_x else 500_000 < x < 600_000


def test_normalise_rejects_missing_crs_and_missing_column():
    gdf = gpd.GeoDataFrame({"objektnavn": ["a"], "site_nr": [1]}, geometry=[box(0, 0, 1, 1)])
    with pytest.raises(CRSError, match="no CRS"):
        catalog.normalise(gdf, _spec(), what="f.gpkg")
    gdf = gdf.set_crs(25832).drop(columns="site_nr")
    with pytest.raises(LayerDataError, match=r"lacks required column\(s\) \['site_nr'\]"):
        catalog.normalise(gdf, _spec(), what="f.gpkg")


def test_normalise_repairs_bowtie_and_drops_empty():
    bowtie = Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])  # self-intersecting
    gdf = gpd.GeoDataFrame({"objektnavn": ["bow", "empty"], "site_nr": [1, 2]},
                           geometry=[bowtie, Polygon()], crs=25832)
    out = catalog.normalise(gdf, _spec(), what="t")
    assert len(out) == 1 and out.is_valid.all() and out.attrs["n_repaired"] == 1
    assert out.geometry.area.iloc[0] == pytest.approx(5_000.0)  # two triangles of 50 x 100 m / 2 each


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (LayerFilter(where={"zone": (1, 3)}), ["a", "c"]),  # ints in YAML match strings and floats
        (LayerFilter(require=("iata",)), ["a"]),  # empty string and None dropped
        (LayerFilter(), ["a", "b", "c"]),
    ],
)
def test_apply_filter(flt, expected):
    gdf = gpd.GeoDataFrame({"name": ["a", "b", "c"], "zone": ["1", 2.0, 3], "iata": ["CPH", "", None]},
                           geometry=[Point(0, 0)] * 3, crs=25832)
    assert flt.apply(gdf)["name"].tolist() == expected  # filters are rules (config), not loading


def test_apply_filter_unknown_column():
    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(0, 0)], crs=25832)
    with pytest.raises(LayerDataError, match="filter column 'typ' not found"):
        LayerFilter(where={"typ": ("substation",)}).apply(gdf)


def test_fetch_rejects_non_geojson_answer():
    with pytest.raises(_fetch.FetchError, match="did not answer GeoJSON"):
        _fetch._geojson_frame(b"<ows:ExceptionReport>", "svc")


def test_real_catalog_is_consistent():
    cat = load_catalog()
    for lid in ("kommuner", "natura2000_habitat", "natura2000_fuglebeskyttelse", "bes_naturtyper",
                "naturnationalparker", "fredninger", "nationalparker", "kommuneplanrammer", "zonekort",
                "lokalplaner", "hv_substations", "hv_lines", "gas_transmission", "district_heating",
                "rail_stations", "roads", "ports", "airports", "towns", "education", "energiparker"):
        assert cat.get(lid).id == lid


@pytest.mark.mirror
def test_layers_list_on_real_mirror(tmp_path, monkeypatch):
    if settings_from_env().mirror_root is None:
        pytest.skip("../shared/dk-layers not present: the real-layer check needs the mirror")
    monkeypatch.setenv("INDUSTRIPARK_CACHE", str(tmp_path))
    monkeypatch.setenv("INDUSTRIPARK_OFFLINE", "1")
    res = CliRunner().invoke(main, ["layers", "list"])
    assert res.exit_code == 0, res.output
    lines = {line.split()[0]: line.split() for line in res.output.splitlines()[1:] if line.strip()}
    assert lines["natura2000_fuglebeskyttelse"][2:4] == ["mirror", "125"]
    assert lines["kommuner"][2:4] == ["mirror", "99"]
    assert lines["naturnationalparker"][2:4] == ["mirror", "15"]  # the provisional copy (offline)
    assert lines["bes_naturtyper"][2:4] == ["mirror", "168"]  # the Vestegnen subset, partial coverage
    assert lines["energiparker"][2] == "missing"
    assert lines["naturnationalparker"][-1] == "provisional" and lines["bes_naturtyper"][-1] == "partial"
    assert lines["natura2000_fuglebeskyttelse"][-1] != "provisional"  # an official copy: no mark


def test_readme_sources_table_is_generated_from_the_catalog():
    """The README's data-sources table must equal what the catalog generates (run `industripark layers
    sources --readme README.md` after editing catalog.yaml)."""
    from screening.config import PROJECT_ROOT

    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("<!-- sources:start -->\n", 1)[1].split("\n<!-- sources:end -->", 1)[0]
    assert table == catalog.sources_markdown(load_catalog())


def test_a_cache_hit_carries_the_catalogs_current_provenance(env, monkeypatch):
    """A reworded ``mirror_source``/``mirror_date``/``caveat`` reaches the outputs at once: a cached copy of the
    same file is served, stamped with the catalog's words now, never with those it was cached under."""
    settings, cat = env
    catalog.load_layer("habitat", catalog=cat, settings=settings)
    monkeypatch.setattr(catalog, "_read_file", lambda *a, **k: pytest.fail("the mirror must not be read again"))
    reworded = Catalog(layers=(_spec(mirror_source="reworded mirror, CC0", mirror_date="2021-02-03",
                                     caveat="new caveat"),))
    again = catalog.load_layer("habitat", catalog=reworded, settings=settings)
    assert again.attrs["source"] == "reworded mirror, CC0" and again.attrs["date"] == "2021-02-03"
    assert again.attrs["caveat"] == "new caveat"


def test_a_mirror_source_in_both_languages_reaches_reasons_in_the_run_language(env):
    """``mirror_source`` and ``mirror_date`` given as {da, en}: attrs keep the English words as the machine
    record and carry both; an exclusion reason cites the copy in the current language."""
    from screening import i18n
    from screening._exclusion_rows import source_text

    settings, _ = env
    both = Catalog(layers=(_spec(mirror_source={"da": "uofficiel kopi, CC0", "en": "unofficial copy, CC0"},
                                 mirror_date={"da": "omkring 2013", "en": "about 2013"}),))
    gdf = catalog.load_layer("habitat", catalog=both, settings=settings)
    assert gdf.attrs["source"] == "unofficial copy, CC0" and gdf.attrs["date"] == "about 2013"
    with i18n.use("da"):
        assert source_text("habitat", gdf) == "habitat (uofficiel kopi, CC0, omkring 2013)"
    with i18n.use("en"):
        assert source_text("habitat", gdf) == "habitat (unofficial copy, CC0, about 2013)"


def test_catalog_mirror_sources_in_both_languages_differ_where_they_are_prose():
    """The shipped catalog: every mirror copy's source with words in it (not just names and a licence) is
    written in Danish too."""
    for spec in load_catalog().layers:
        if hasattr(spec.mirror_source, "da"):
            assert spec.mirror_source.da != spec.mirror_source.en, spec.id
    prose = [s.id for s in load_catalog().layers
             if isinstance(s.mirror_source, str) and any(w in s.mirror_source for w in (" licence", " unknown",
                                                                                    " copy", " fixture"))]
    assert prose == []

"""``industripark layers import FILE --as LAYER``: official files in the official schemas (upper-case shapefile
fields in a zip, GeoPackage, GeoJSON), normalised like a fetch, stored with provenance, resolving as
``imported``; bad files rejected with every problem and exit code 2."""

from __future__ import annotations

import json
import zipfile

import geopandas as gpd
import pytest
from click.testing import CliRunner
from shapely.geometry import Polygon, box

from screening import _layer_import, catalog
from screening.cli import main
from screening.config import Settings, load_catalog
from screening.errors import LayerFileError

X0, Y0 = 550_000, 6_200_000  # round EPSG:25832 coordinates (metres) inside Denmark


def _zip_shapefile(tmp_path, gdf, name, *, drop=()):
    """`gdf` as ``<name>.shp`` and its sidecars in ``<name>_SHAPE.zip`` (as the Miljøportal serves them),
    leaving out the sidecar extensions in `drop` (e.g. ``.prj``)."""
    folder = tmp_path / f"{name}_shp"
    folder.mkdir()
    gdf.to_file(folder / f"{name}.shp", engine="pyogrio")
    archive = tmp_path / f"{name}_SHAPE.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in sorted(folder.iterdir()):
            if part.suffix.lower() not in drop:
                zf.write(part, part.name)
    return archive


@pytest.fixture
def bes_naturtyper():
    """Three § 3 polygons in the DAI shapefile schema (upper-case fields), EPSG:25832: a 1 ha mose, a 4 ha
    eng and a self-intersecting 50 m bow-tie (repaired into two triangles of 625 m²)."""
    bowtie = Polygon([(X0, Y0 + 500), (X0 + 50, Y0 + 550), (X0 + 50, Y0 + 500), (X0, Y0 + 550)])
    return gpd.GeoDataFrame(
        {"OBJEKT_ID": ["5-1", "5-2", "5-3"], "NATYP_NAVN": ["Mose", "Eng", "Sø"], "NATYP_KODE": [7, 3, 1],
         "TEMAKODE": [5, 5, 5]},
        geometry=[box(X0, Y0, X0 + 100, Y0 + 100), box(X0 + 1000, Y0, X0 + 1200, Y0 + 200), bowtie], crs=25832)


@pytest.fixture
def settings(tmp_path):
    """An empty cache of this test's own, no mirror, offline."""
    return Settings(mirror_root=None, cache_dir=tmp_path / "cache", online=False)


def test_zipped_shapefile_with_upper_case_fields_resolves_as_imported(tmp_path, bes_naturtyper, settings):
    archive = _zip_shapefile(tmp_path, bes_naturtyper, "BES_NATURTYPER")
    cat = load_catalog()
    got = _layer_import.import_layer(archive, "bes_naturtyper", catalog=cat, settings=settings)
    assert got["objekt_id"].tolist() == ["5-1", "5-2", "5-3"] and got["natyp_navn"].tolist() == ["Mose", "Eng", "Sø"]
    assert got["natyp_kode"].tolist() == [7, 3, 1]
    assert got.attrs["n_repaired"] == 1 and got.attrs["features_in"] == 3 and got.attrs["crs_in"] == "EPSG:25832"
    assert got.geometry.area.tolist() == pytest.approx([10_000.0, 40_000.0, 1_250.0])  # bow-tie: two 625 m² halves
    assert got.attrs["sha256"] == catalog.file_sha256(archive)
    res = catalog.resolve("bes_naturtyper", catalog=cat, settings=settings)
    assert (res.origin, res.location) == ("imported", str(archive.resolve()))
    loaded = catalog.load_layer("bes_naturtyper", catalog=cat, settings=settings)
    assert loaded.attrs["origin"] == "imported" and loaded.attrs["sha256"] == got.attrs["sha256"]
    assert loaded.attrs["imported_from"] == str(archive.resolve()) and not loaded.attrs["provisional"]
    assert loaded.attrs["source"].endswith("(official file imported by the user)")
    assert len(loaded) == 3


def test_imported_layer_beats_the_mirror_copy(tmp_path, bes_naturtyper):
    """The habitat mirror copy (provisional) is replaced by an imported official file, also offline."""
    mirror = tmp_path / "mirror"
    (mirror / "protected_nature").mkdir(parents=True)
    cat = load_catalog()
    spec = cat.get("natura2000_habitat")
    copy = gpd.GeoDataFrame({"name": ["old copy"]}, geometry=[box(X0, Y0, X0 + 10, Y0 + 10)], crs=25832)
    copy.to_file(mirror / spec.mirror_path, layer=spec.mirror_layer)
    settings = Settings(mirror_root=mirror, cache_dir=tmp_path / "cache", online=False)
    assert catalog.resolve(spec.id, catalog=cat, settings=settings).origin == "mirror"
    official = gpd.GeoDataFrame({"SITE_NR": [16], "OBJEKTNAVN": ["Vejlerne"], "TEMAKODE": [2013]},
                                geometry=[box(X0, Y0, X0 + 2000, Y0 + 1000)], crs=25832)
    official.to_file(tmp_path / "habitat_omr.gpkg", layer="habitat_omr")
    _layer_import.import_layer(tmp_path / "habitat_omr.gpkg", spec.id, catalog=cat, settings=settings)
    got = catalog.load_layer(spec.id, catalog=cat, settings=settings)
    assert got.attrs["origin"] == "imported" and got["objektnavn"].tolist() == ["Vejlerne"]
    assert got["site_nr"].tolist() == [16] and got.geometry.area.sum() == pytest.approx(2_000_000.0)


def test_geojson_in_wgs84_is_reprojected(tmp_path, settings):
    """GeoJSON is WGS84: a meridian edge of 0.01 degree at 57.7 N is about 1,113 m (UTM scale ~0.9997)."""
    gdf = gpd.GeoDataFrame({"SITE_NR": [1], "OBJEKTNAVN": ["Skagen"]},
                           geometry=[box(10.50, 57.70, 10.51, 57.71)], crs=4326)
    path = tmp_path / "habitat.geojson"
    gdf.to_file(path, driver="GeoJSON")
    got = _layer_import.import_layer(path, "natura2000_habitat", catalog=load_catalog(), settings=settings)
    assert got.crs.to_epsg() == 25832 and got.attrs["crs_in"] == "EPSG:4326"
    (x0, y0), (x1, y1) = got.geometry.iloc[0].exterior.coords[:2]  # box(): the east edge comes first
    assert ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 == pytest.approx(1_113, rel=0.003)


def test_geopackage_with_several_layers_needs_layer(tmp_path, settings):
    path = tmp_path / "two.gpkg"
    for name in ("a", "b"):
        gpd.GeoDataFrame({"OBJEKTNAVN": [name]}, geometry=[box(X0, Y0, X0 + 10, Y0 + 10)],
                         crs=25832).to_file(path, layer=name)
    cat = load_catalog()
    with pytest.raises(LayerFileError, match=r"two.gpkg: several layers: a, b; fix: name the layer to read with"):
        _layer_import.import_layer(path, "natura2000_habitat", catalog=cat, settings=settings)
    got = _layer_import.import_layer(path, "natura2000_habitat", catalog=cat, settings=settings, layer="b")
    assert got["objektnavn"].tolist() == ["b"]


@pytest.mark.parametrize(("case", "expected"), [
    ("no_prj", r"BES_NATURTYPER.shp: no CRS; layer 'bes_naturtyper' must be in EPSG:25832.*fix: add the CRS"),
    ("lonlat_labelled_utm", r"labelled EPSG:25832, but its coordinates \(9.5, 56.1, 9.6, 56.2 in EPSG:25832\) are "
                            r"not in Denmark; fix: the file's CRS label does not match"),
    ("empty", r"the file holds no features"),
    ("missing_column", r"field 'objekt_id': required column 'objekt_id' or 'source_id' or 'id' not found \(the file "
                       r"has \['NATYP_NAVN'\]\)"),
    ("not_a_layer", r"notes.zip: the zip holds 0 readable layer files"),
])
def test_bad_files_are_rejected_with_every_problem(tmp_path, settings, bes_naturtyper, case, expected):
    if case == "no_prj":
        path = _zip_shapefile(tmp_path, bes_naturtyper, "BES_NATURTYPER", drop=(".prj",))
    elif case == "lonlat_labelled_utm":
        path = _zip_shapefile(tmp_path, bes_naturtyper.iloc[:1].set_geometry([box(9.5, 56.1, 9.6, 56.2)],
                                                                             crs=25832), "BES_NATURTYPER")
    elif case == "empty":
        path = tmp_path / "empty.gpkg"
        bes_naturtyper.iloc[:0].to_file(path, layer="bes_naturtyper")
    elif case == "missing_column":
        path = tmp_path / "bes.geojson"
        bes_naturtyper[["NATYP_NAVN", "geometry"]].to_crs(4326).to_file(path, driver="GeoJSON")
    else:
        path = tmp_path / "notes.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("README.txt", "not a layer")
    with pytest.raises(LayerFileError, match=expected) as info:
        _layer_import.import_layer(path, "bes_naturtyper", catalog=load_catalog(), settings=settings)
    assert info.value.exit_code == 2
    assert not (settings.cache_dir / "imported").exists()  # nothing stored, the layer resolves as before


def test_two_problems_reported_at_once(tmp_path, settings, bes_naturtyper):
    path = _zip_shapefile(tmp_path, bes_naturtyper[["NATYP_NAVN", "geometry"]], "BES", drop=(".prj",))
    with pytest.raises(LayerFileError, match=r"^2 problem\(s\) found:\n  - error: .*no CRS.*\n  - error: .*field "
                                             r"'objekt_id'"):
        _layer_import.import_layer(path, "bes_naturtyper", catalog=load_catalog(), settings=settings)


def test_cli_import_then_list_and_exit_2_on_a_bad_file(tmp_path, bes_naturtyper, mirror_root):
    env = {"INDUSTRIPARK_CACHE": str(tmp_path / "cache")}
    archive = _zip_shapefile(tmp_path, bes_naturtyper, "BES_NATURTYPER")
    res = CliRunner().invoke(main, ["layers", "import", str(archive), "--as", "bes_naturtyper"], env=env)
    assert res.exit_code == 0, res.output
    assert "bes_naturtyper: imported 3 features from" in res.output and "1 repaired, 0 left out" in res.output
    res = CliRunner().invoke(main, ["layers", "list", "--offline"], env=env)
    row = next(line.split() for line in res.output.splitlines() if line.startswith("bes_naturtyper "))
    assert row[2:4] == ["imported", "3"]
    pointer = json.loads((tmp_path / "cache" / "imported" / "bes_naturtyper.json").read_text())
    assert pointer["sha256"] == catalog.file_sha256(archive) and pointer["features"] == 3
    bad = _zip_shapefile(tmp_path, bes_naturtyper, "NO_PRJ", drop=(".prj",))
    res = CliRunner().invoke(main, ["layers", "import", str(bad), "--as", "bes_naturtyper"], env=env)
    assert res.exit_code == 2 and "no CRS" in res.output and "Traceback" not in res.output

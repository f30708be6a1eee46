"""Damaged layers are never dropped silently: every source row is accounted for, counts and checksums are
recorded and compared (issue 11, item 1).

The damaged files are made here: a copy of a mirror GeoPackage whose geometry blobs are overwritten with
sqlite3 (GDAL then reads those features with no geometry, exactly as a disk or copy fault would look).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
from click.testing import CliRunner
from shapely.geometry import LineString, Point, Polygon, box

from screening import _fetch, catalog
from screening.cli import main
from screening.config import Catalog, LayerSpec, Settings, load_catalog, load_criteria
from screening.errors import LayerDataError

LayerDamagedError = LayerDataError

ALLOW = ["--allow-missing", "natura2000_habitat", "--allow-missing", "bes_naturtyper",
         "--allow-missing", "naturnationalparker"]
X0, Y0 = 550_000, 6_200_000


# --------------------------------------------------------------------------- fixtures and helpers


def corrupt_geometries(path: Path, table: str, fids) -> None:
    """Cut the geometry blobs of `fids` in a GeoPackage copy to half their length: GDAL cannot parse them."""
    con = sqlite3.connect(path)
    try:
        for (name,) in con.execute("select name from sqlite_master where type = 'trigger'").fetchall():
            con.execute(f'drop trigger "{name}"')  # the rtree triggers call SpatiaLite functions sqlite3 lacks
        con.executemany(f'update "{table}" set geom = substr(geom, 1, length(geom) / 2) where fid = ?',
                        [(int(f),) for f in fids])
        con.commit()
    finally:
        con.close()


class DamagedMirror:
    """A mirror of symlinks to the real files; `damage(relpath, fids)` replaces one by a damaged copy."""

    def __init__(self, real: Path, root: Path):
        self.real, self.root = real, root
        for src in real.rglob("*.gpkg"):
            dst = root / src.relative_to(real)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.symlink_to(src)

    def damage(self, relpath: str, fids) -> Path:
        dst = self.root / relpath
        dst.unlink()
        shutil.copyfile(self.real / relpath, dst)
        dst.chmod(0o644)
        corrupt_geometries(dst, Path(relpath).stem, fids)
        return dst


@pytest.fixture
def damaged_mirror(mirror_root, tmp_path):
    return DamagedMirror(mirror_root, tmp_path / "mirror")


def _settings(mirror: Path, cache: Path) -> Settings:
    return Settings(mirror_root=mirror, cache_dir=cache, online=False)


# --------------------------------------------------------------------------- unit: every row accounted for


def _spec(**over) -> LayerSpec:
    base = {"id": "habitat", "title": "Habitat areas", "theme": "protected_nature", "role": "exclude",
            "geometry_type": "Polygon", "mirror": "protected_nature/habitat.gpkg", "mirror_layer": "habitat",
            "source": {"kind": "none", "publisher": "test", "licence": "CC0"},
            "columns": {"name": {"meaning": "site name"}}}
    base.update(over)
    return LayerSpec.model_validate(base)


BOWTIE = Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])


@pytest.mark.parametrize(
    ("geoms", "valid", "repaired", "empty", "damaged"),
    [
        ([box(X0, Y0, X0 + 10, Y0 + 10), BOWTIE], 1, 1, 0, ()),
        ([box(X0, Y0, X0 + 10, Y0 + 10), Polygon()], 1, 0, 1, ()),  # empty in the source: nothing to check
        ([box(X0, Y0, X0 + 10, Y0 + 10), None, None], 1, 0, 0, ("row 1", "row 2")),  # unreadable
        ([box(X0, Y0, X0 + 10, Y0 + 10), Point(X0, Y0)], 1, 0, 0, ("row 1",)),  # off-type: not a polygon
        ([LineString([(X0, Y0), (X0 + 1, Y0 + 1)]), box(X0, Y0, X0 + 10, Y0 + 10)], 1, 0, 0, ("row 0",)),
    ],
)
def test_normalise_accounts_for_every_row(geoms, valid, repaired, empty, damaged):
    gdf = gpd.GeoDataFrame({"name": [f"s{i}" for i in range(len(geoms))]}, geometry=geoms, crs=25832)
    spec = _spec(role="score")
    if damaged:
        with pytest.raises(LayerDamagedError) as err:
            catalog.normalise(gdf, spec, what="t.gpkg")
        assert all(d in str(err.value) for d in damaged) and "t.gpkg" in str(err.value)
        assert f"{len(damaged)} of {len(geoms)} features" in str(err.value)
    out = catalog.normalise(gdf, spec, what="t.gpkg", allow_damaged=True)
    a = out.attrs
    assert (a["n_valid"], a["n_repaired"], a["n_empty"], a["n_damaged"]) == (valid, repaired, empty, len(damaged))
    assert a["source_features"] == len(geoms) == a["n_valid"] + a["n_repaired"] + a["n_empty"] + a["n_damaged"]
    assert len(out) == valid + repaired and tuple(a["damaged_ids"]) == damaged


def test_reader_that_loses_rows_is_an_error():
    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(X0, Y0, X0 + 1, Y0 + 1)], crs=25832)
    with pytest.raises(LayerDamagedError, match=r"returned 1 of 3 features"):
        catalog.normalise(gdf, _spec(), what="t.gpkg", declared=3)


# --------------------------------------------------------------------------- real mirror copies, damaged


@pytest.mark.mirror
def test_unreadable_bird_areas_are_an_error_naming_the_ids(damaged_mirror, tmp_path):
    path = damaged_mirror.damage("protected_nature/natura2000_fuglebeskyttelse.gpkg", range(2, 126, 2))
    cat = load_catalog()
    settings = _settings(damaged_mirror.root, tmp_path / "cache")
    with pytest.raises(LayerDamagedError) as err:
        catalog.load_layers(["natura2000_fuglebeskyttelse"], catalog=cat, settings=settings)
    text = str(err.value)
    assert "natura2000_fuglebeskyttelse" in text and str(path) in text and "62 of 125 features" in text
    assert "fid 2," in text and "fid 56" in text  # fid 56 is Lille Vildmose
    with pytest.raises(LayerDamagedError, match="cannot be allowed damaged"):  # an exclusion layer never
        catalog.load_layers(["natura2000_fuglebeskyttelse"], catalog=cat, settings=settings,
                            allow_damaged=["natura2000_fuglebeskyttelse"])
    with pytest.raises(LayerDamagedError, match="cannot be allowed damaged"):
        catalog.load_layer("natura2000_fuglebeskyttelse", catalog=cat, settings=settings, allow_damaged=True)


@pytest.mark.mirror
def test_site_inside_lille_vildmose_is_not_called_eligible(damaged_mirror, mirror_root, tmp_path):
    """Before the fix: half the bird areas vanished and this site came out ELIGIBLE with exit 0."""
    birds = gpd.read_file(mirror_root / "protected_nature/natura2000_fuglebeskyttelse.gpkg", engine="pyogrio",
                          fid_as_index=True)
    inside = birds.loc[56].geometry.representative_point()
    site = gpd.GeoDataFrame({"application_id": ["LV-1"], "site_name": ["Vildmose Erhverv"]},
                            geometry=[inside.buffer(300, cap_style="square")], crs=25832)
    kommuner = gpd.read_file(mirror_root / "boundaries/kommuner.gpkg", engine="pyogrio")
    site["kommunekode"] = gpd.sjoin(site, kommuner[["kommunekode", "geometry"]])["kommunekode"].iloc[0]
    draft = tmp_path / "lv.geojson"
    site.to_crs(4326).to_file(draft, driver="GeoJSON")
    damaged_mirror.damage("protected_nature/natura2000_fuglebeskyttelse.gpkg", range(2, 126, 2))
    out = tmp_path / "runs"
    res = CliRunner().invoke(main, ["screen", str(draft), "--out", str(out), "--no-report", "--mirror",
                                    str(damaged_mirror.root), *ALLOW])
    assert res.exit_code == 1, res.output
    assert "natura2000_fuglebeskyttelse" in res.output and "fid 56" in res.output
    assert "Traceback" not in res.output and "ELIGIBLE" not in res.output.upper().replace("NOT ELIGIBLE", "")
    assert not (out / "latest").exists()


@pytest.mark.mirror
def test_damaged_kommuner_blames_the_layer_not_the_submissions(damaged_mirror, mirror_root):
    damaged_mirror.damage("boundaries/kommuner.gpkg", [3, 17, 40])
    apps = mirror_root / "submissions/applications_2025_approx.gpkg"
    for args in (["submissions", "check", str(apps)], ["screen", str(apps), "--no-report", *ALLOW]):
        res = CliRunner().invoke(main, [*args[:2], "--mirror", str(damaged_mirror.root), *args[2:]]
                                 if args[0] == "submissions" else [*args, "--mirror", str(damaged_mirror.root)])
        assert res.exit_code == 1, res.output  # 2 would blame the (valid) submissions
        assert "'kommuner'" in res.output and "3 of 99 features" in res.output
        assert "fid 3, fid 17, fid 40" in res.output and "problem(s) found" not in res.output


@pytest.mark.mirror
def test_damaged_score_layer_is_an_error_unless_allowed_and_then_said_everywhere(damaged_mirror, mirror_root,
                                                                                 tmp_path):
    damaged_mirror.damage("energy/hv_substations.gpkg", range(2, 97, 2))
    apps = mirror_root / "submissions/applications_2025_approx.gpkg"
    base = ["screen", str(apps), "--no-report", "--mirror", str(damaged_mirror.root), *ALLOW]
    res = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "refused")])
    assert res.exit_code == 1, res.output
    assert "hv_substations" in res.output and "48 of 96 features" in res.output
    assert "--allow-damaged hv_substations" in res.output
    assert not (tmp_path / "refused" / "latest").exists()

    res = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "runs"), "--allow-damaged", "hv_substations"])
    assert res.exit_code == 0, res.output
    assert "DAMAGED LAYER" in res.output and "hv_substations" in res.output
    manifest = json.loads((tmp_path / "runs" / "latest" / "manifest.json").read_text())
    assert manifest["allow_damaged"] == ["hv_substations"]
    assert "48 of 96" in manifest["damaged_layers"]["hv_substations"]
    entry = manifest["layers"]["hv_substations"]
    assert entry["damaged"] == 48 and entry["features"] == 48 and entry["source_features"] == 96
    assert entry["damaged_ids"][:2] == ["fid 2", "fid 4"]
    from screening import report

    banners = report.incomplete_banners(manifest, load_criteria())
    assert any(b["layer"] == "hv_substations" and "damaged" in b["text"] for b in banners)

    res = CliRunner().invoke(main, ["screen", str(apps), "--no-report", "--mirror", str(damaged_mirror.root),
                                    "--allow-damaged", "natura2000_fuglebeskyttelse", *ALLOW])
    assert res.exit_code == 1 and "cannot be allowed" in res.output, res.output


# --------------------------------------------------------------------------- declared and recorded counts


@pytest.mark.mirror
def test_catalog_declares_the_feature_count_of_every_mirror_copy(mirror_root):
    """`mirror_features` in catalog.yaml equals the count in the mirror (INVENTORY.md) for every mirrored layer."""
    for spec in load_catalog().layers:  # a few dozen catalog entries
        path = mirror_root / spec.mirror_path
        if spec.mirror and path.is_file():
            assert spec.mirror_features == pyogrio.read_info(path, layer=spec.mirror_layer)["features"], spec.id


def _one_layer_env(tmp_path, n: int, *, declared: int | None = None):
    mirror = tmp_path / "mirror"
    (mirror / "protected_nature").mkdir(parents=True)
    gdf = gpd.GeoDataFrame({"name": [f"s{i}" for i in range(n)]},
                           geometry=[box(X0 + 20 * i, Y0, X0 + 20 * i + 10, Y0 + 10) for i in range(n)], crs=25832)
    gdf.to_file(mirror / "protected_nature" / "habitat.gpkg", layer="habitat", driver="GPKG")
    spec = _spec(mirror_features=declared)
    return _settings(mirror, tmp_path / "cache"), Catalog(layers=(spec,))


def test_mirror_copy_with_fewer_features_than_declared_is_an_error(tmp_path):
    settings, cat = _one_layer_env(tmp_path, 2, declared=3)
    with pytest.raises(LayerDamagedError, match=r"habitat.*has 2 features.*mirror_features: 3"):
        catalog.load_layer("habitat", catalog=cat, settings=settings)


def test_cache_entry_records_count_and_checksums_and_refuses_a_changed_entry(tmp_path):
    settings, cat = _one_layer_env(tmp_path, 3, declared=3)
    first = catalog.load_layer("habitat", catalog=cat, settings=settings)
    assert first.attrs["expected_features"] == 3 and len(first.attrs["source_sha256"]) == 64
    meta_path = next(settings.cache_dir.glob("habitat-*.json"))
    meta = json.loads(meta_path.read_text())
    assert meta["cache_features"] == 3 and len(meta["cache_sha256"]) == 64
    again = catalog.load_layer("habitat", catalog=cat, settings=settings)
    assert again.attrs["origin"] == "mirror" and len(again) == 3  # a clean cache hit

    parquet = meta_path.with_suffix(".parquet")
    first.iloc[:2].to_parquet(parquet)  # the entry shrinks under the same key
    with pytest.raises(LayerDataError, match=r"cache entry .*habitat.*changed since it was written"):
        catalog.load_layer("habitat", catalog=cat, settings=settings)
    first.to_parquet(parquet)
    meta["cache_sha256"] = catalog._layer_cache.file_sha256(parquet)
    meta["source_sha256"] = "0" * 64  # recorded for another source file under this key
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(LayerDataError, match="source checksum"):
        catalog.load_layer("habitat", catalog=cat, settings=settings)


def test_online_layer_that_shrinks_since_the_last_fetch_is_an_error(tmp_path, monkeypatch):
    spec = _spec(source={"kind": "wfs", "url": "https://example.invalid/wfs", "typename": "x:y",
                         "publisher": "test", "licence": "CC0"}, mirror=None)
    cat = Catalog(layers=(spec,))
    settings = Settings(mirror_root=None, cache_dir=tmp_path / "cache", online=True)

    def served(n):
        return gpd.GeoDataFrame({"name": [f"s{i}" for i in range(n)]},
                                geometry=[box(X0 + 20 * i, Y0, X0 + 20 * i + 10, Y0 + 10) for i in range(n)],
                                crs=25832)

    monkeypatch.setattr(_fetch, "fetch", lambda spec, settings: served(7))
    assert len(catalog.load_layer("habitat", catalog=cat, settings=settings)) == 7
    for path in settings.cache_dir.glob("habitat-*"):
        path.unlink()  # the cache is cleared; the service now answers a truncated layer
    monkeypatch.setattr(_fetch, "fetch", lambda spec, settings: served(5))
    with pytest.raises(LayerDamagedError, match=r"5 features.*7 when last loaded"):
        catalog.load_layer("habitat", catalog=cat, settings=settings)


@pytest.mark.mirror
def test_manifest_records_counts_and_checksums_of_every_layer(mirror_root, tmp_path):
    apps = mirror_root / "submissions/applications_2025_approx.gpkg"
    res = CliRunner().invoke(main, ["screen", str(apps), "--no-report", "--out", str(tmp_path), *ALLOW])
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "latest" / "manifest.json").read_text())
    assert manifest["damaged_layers"] == {} and manifest["allow_damaged"] == []
    birds = manifest["layers"]["natura2000_fuglebeskyttelse"]
    assert birds["features"] == birds["source_features"] == birds["expected_features"] == 125
    assert birds["damaged"] == 0 and birds["damaged_ids"] == []
    birds_file = mirror_root / "protected_nature/natura2000_fuglebeskyttelse.gpkg"
    assert birds["source_sha256"] == catalog.file_sha256(birds_file)
    for lid, entry in manifest["layers"].items():
        assert len(entry["source_sha256"]) == 64 and len(entry["cache_sha256"]) == 64, lid
        assert entry["source_features"] is not None, lid
        assert np.isclose(entry["features"] + entry["damaged"] + entry["empty"], entry["source_features"]), lid


def test_prepared_cache_entry_that_changed_is_refused(tmp_path):
    from screening import coverage

    layer = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[box(X0, Y0, X0 + 10, Y0 + 10),
                                                            box(X0 + 20, Y0, X0 + 30, Y0 + 10)], crs=25832)
    layer.attrs.update({"layer_id": "habitat", "version": "v1"})
    prepared = coverage.prepare_layer(layer, label_column="name")
    key = coverage.prepared_key(layer, label_column="name")
    coverage.write_prepared(tmp_path, key, prepared)
    assert len(coverage.read_prepared(tmp_path, key)) == len(prepared)
    prepared.iloc[:1].to_parquet(tmp_path / f"{key}.parquet")  # a piece lost under the same key
    with pytest.raises(LayerDataError, match="changed since it was written"):
        coverage.read_prepared(tmp_path, key)

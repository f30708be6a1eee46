"""No traceback reaches the user (issue 11, items 5 and 8): unreadable layers, a missing kommuner layer, a bad,
unwritable or full --out (checked before any work), anything unexpected; preview refuses as screen does."""

from __future__ import annotations

import errno
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from screening import _layer_cache, _run_folder, catalog, pipeline
from screening.cli import main

ALLOW = ["--allow-missing", "natura2000_habitat", "--allow-missing", "bes_naturtyper",
         "--allow-missing", "naturnationalparker"]


@pytest.fixture
def apps(mirror_root):
    return mirror_root / "submissions" / "applications_2025_approx.gpkg"


@pytest.fixture
def link_mirror(mirror_root, tmp_path):
    """A mirror of symlinks to the real files, to be altered by a test."""
    root = tmp_path / "mirror"
    for src in mirror_root.rglob("*.gpkg"):
        dst = root / src.relative_to(mirror_root)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.symlink_to(src)
    return root


def _clean(res) -> None:
    assert "Traceback" not in res.output, res.output
    assert res.exc_info is None or res.exc_info[0] is SystemExit, res.exc_info


@pytest.fixture
def no_assessment(monkeypatch):
    """Fail the test if layers are loaded: the output location must be refused before any work."""

    def refuse(*args, **kwargs):
        raise AssertionError("layers were loaded before the output location was checked")

    monkeypatch.setattr(catalog, "load_layers", refuse)


# --------------------------------------------------------------------------- unreadable layers


@pytest.mark.mirror
def test_a_folder_where_a_layer_file_is_expected_is_named(link_mirror, apps, tmp_path):
    bird = link_mirror / "protected_nature" / "natura2000_fuglebeskyttelse.gpkg"
    bird.unlink()
    bird.mkdir()
    res = CliRunner().invoke(main, ["screen", str(apps), "--mirror", str(link_mirror), "--out", str(tmp_path / "o"),
                                    "--no-report", *ALLOW])
    assert res.exit_code == 1, res.output
    assert str(bird) in res.output and "folder" in res.output and "natura2000_fuglebeskyttelse" in res.output
    _clean(res)


@pytest.mark.mirror
def test_an_unreadable_layer_file_is_a_clear_error(link_mirror, apps, tmp_path, monkeypatch):
    """Tests run as root, who reads any file: the PermissionError is raised where the checksum reads."""
    real = _layer_cache.file_sha256

    def denied(path):
        if Path(path).name == "hv_lines.gpkg":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(_layer_cache, "file_sha256", denied)
    _layer_cache._sha256_cached.cache_clear()
    res = CliRunner().invoke(main, ["screen", str(apps), "--mirror", str(link_mirror), "--out", str(tmp_path / "o"),
                                    "--no-report", *ALLOW])
    _layer_cache._sha256_cached.cache_clear()
    assert res.exit_code == 1, res.output
    assert "hv_lines.gpkg" in res.output and "Permission denied" in res.output and "permissions" in res.output
    _clean(res)


@pytest.mark.mirror
def test_missing_kommuner_layer_in_screen_is_a_clear_error(link_mirror, apps, tmp_path):
    (link_mirror / "boundaries" / "kommuner.gpkg").unlink()
    for args in (["screen", str(apps), "--out", str(tmp_path / "o"), "--no-report", *ALLOW],
                 ["submissions", "check", str(apps)]):
        res = CliRunner().invoke(main, [*args, "--mirror", str(link_mirror)])
        assert res.exit_code == 1, res.output
        assert "kommuner" in res.output and "unavailable" in res.output
        _clean(res)
    assert not (tmp_path / "o" / "latest").exists()


# --------------------------------------------------------------------------- --out checked first


def test_out_under_a_file_is_refused_before_any_work(apps, tmp_path, no_assessment):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    res = CliRunner().invoke(main, ["screen", str(apps), "--out", str(blocker / "reports"), *ALLOW])
    assert res.exit_code == 1, res.output
    assert f"--out {blocker / 'reports'}" in res.output and "not a folder" in res.output
    _clean(res)


def test_unwritable_out_is_refused_before_any_work(apps, tmp_path, monkeypatch, no_assessment):
    out = tmp_path / "reports"
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if str(self).startswith(str(out)):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    res = CliRunner().invoke(main, ["screen", str(apps), "--out", str(out), *ALLOW])
    assert res.exit_code == 1, res.output
    assert f"--out {out}" in res.output and "permission denied" in res.output
    _clean(res)


def test_full_out_is_refused_before_any_work(apps, tmp_path, monkeypatch, no_assessment):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(_run_folder.shutil, "disk_usage", lambda p: usage._replace(free=2_000_000))
    res = CliRunner().invoke(main, ["screen", str(apps), "--out", str(tmp_path / "reports"), *ALLOW])
    assert res.exit_code == 1, res.output
    assert "not enough free space" in res.output and "2 MB free" in res.output
    assert not (tmp_path / "reports").exists()  # a failed job leaves no trace
    _clean(res)


@pytest.mark.mirror
def test_disk_full_while_writing_leaves_no_run(apps, tmp_path, monkeypatch):
    def full(run_dir, result):
        (Path(run_dir) / "screening.gpkg").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device", str(Path(run_dir) / "candidates.gpkg"))

    monkeypatch.setattr(pipeline, "write_run", full)
    out = tmp_path / "reports"
    res = CliRunner().invoke(main, ["screen", str(apps), "--out", str(out), "--no-report", *ALLOW])
    assert res.exit_code == 1, res.output
    assert "the disk is full" in res.output and "--out" in res.output
    assert not out.exists()  # the half-written run and the root it created are gone
    _clean(res)


# --------------------------------------------------------------------------- anything else


def test_unexpected_error_is_a_short_message_with_a_pointer_to_verbose(apps, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("something nobody foresaw\nsecond line")

    monkeypatch.setattr(pipeline, "screen", boom)
    res = CliRunner().invoke(main, ["screen", str(apps), *ALLOW])
    assert res.exit_code == 1
    assert "unexpected RuntimeError: something nobody foresaw" in res.output and "-v" in res.output
    assert "second line" not in res.output
    _clean(res)
    res = CliRunner().invoke(main, ["-v", "screen", str(apps), *ALLOW])
    assert res.exit_code == 1 and "Traceback" in res.output and "boom" in res.output


def test_group_handler_catches_commands_without_their_own(monkeypatch):
    import click

    from screening.cli import main as group

    @click.command("explode")
    def explode():
        raise KeyError("layer")

    group.add_command(explode)
    try:
        res = CliRunner().invoke(group, ["explode"])
    finally:
        group.commands.pop("explode")
    assert res.exit_code == 1 and "unexpected KeyError" in res.output
    _clean(res)


# --------------------------------------------------------------------------- preview refuses as screen


@pytest.mark.mirror
def test_preview_without_allow_missing_refuses_as_screen_does(apps, tmp_path):
    """The reference run allowed the missing exclusion layers; the preview without --allow-missing does not."""
    runs = tmp_path / "runs"
    res = CliRunner().invoke(main, ["screen", str(apps), "--out", str(runs), "--no-report", *ALLOW])
    assert res.exit_code == 0, res.output
    screen_refusal = CliRunner().invoke(main, ["screen", str(apps), "--out", str(tmp_path / "x")])
    res = CliRunner().invoke(main, ["preview", str(apps), "--reference", str(runs / "latest"),
                                    "--out", str(tmp_path / "p")])
    assert screen_refusal.exit_code == res.exit_code == 1, res.output
    flags = set(re.findall(r"--allow-missing \w+", screen_refusal.output))
    assert flags and all(flag in res.output for flag in flags), (flags, res.output)
    assert not (tmp_path / "p" / "previews").exists() or not list((tmp_path / "p" / "previews").iterdir())
    manifest = json.loads((runs / "latest" / "manifest.json").read_text())
    assert {f.split()[1] for f in flags} <= set(manifest["allow_missing"])  # the reference allowed them
    _clean(res)


# --------------------------------------------------------------------------- a hostile number of applications


@pytest.mark.mirror
def test_screen_refuses_more_applications_than_the_declared_limit(apps, tmp_path):
    """A 5,000-feature file would take over an hour of report writing (measured: ~0.9 s a card on a busy
    machine); above `pipeline.MAX_APPLICATIONS` a screening refuses at once, naming the limit and the option."""
    assert 31 < pipeline.MAX_APPLICATIONS < 1000  # the real rounds have ~31 applications
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["screen", str(apps), "--out", str(out), "--no-report", "--max-applications",
                                    "3", *ALLOW])
    assert res.exit_code == 1, res.output
    assert "15 applications" in res.output and "at most 3" in res.output and "--max-applications" in res.output
    assert not out.exists()
    _clean(res)
    res = CliRunner().invoke(main, ["screen", "--help"])
    assert f"default {pipeline.MAX_APPLICATIONS}," in " ".join(res.output.split())  # the CLI states the same


@pytest.mark.mirror
@pytest.mark.slow
def test_the_hostile_5000_site_file_is_refused_without_assessing_it(mirror_root, tmp_path, monkeypatch):
    import geopandas as gpd

    from tests._hostile_fixtures import many_sites

    path = tmp_path / "hostile.geojson"
    many_sites(gpd.read_file(mirror_root / "boundaries" / "kommuner.gpkg"), 5000).to_crs(4326).to_file(
        path, driver="GeoJSON", COORDINATE_PRECISION=8)
    assert path.stat().st_size > 9_000_000  # the campaign's 10 MB file

    def no_assessment(*args, **kwargs):
        raise AssertionError("the applications were assessed")

    monkeypatch.setattr(pipeline, "assess", no_assessment)
    res = CliRunner().invoke(main, ["screen", str(path), "--out", str(tmp_path / "o"), *ALLOW])
    assert res.exit_code == 1, res.output
    assert f"5000 applications in hostile.geojson: a screening takes at most {pipeline.MAX_APPLICATIONS}" in res.output
    _clean(res)

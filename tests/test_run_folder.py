"""Run folders appear only when complete (issue 11, item 4): written under <out>/.partial/, renamed into place,
`latest` moved last; readers refuse an unfinished folder; a SIGKILL mid-report leaves nothing that looks
like a run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from screening import pipeline
from screening.cli import main
from screening.errors import ScreeningError

ALLOW = ["--allow-missing", "natura2000_habitat", "--allow-missing", "bes_naturtyper",
         "--allow-missing", "naturnationalparker"]


def _visible(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not p.name.startswith("."))


def test_folder_appears_only_when_complete_and_latest_moves_last(tmp_path):
    with pipeline.run_folder(tmp_path) as first:
        (first.path / "a.json").write_text("{}")
    assert first.final.is_dir() and (first.final / "a.json").is_file()
    assert (tmp_path / "latest").resolve() == first.final.resolve()
    with pipeline.run_folder(tmp_path) as second:
        assert second.path.name == second.final.name != first.final.name  # the run id is known while writing
        assert pipeline.is_partial(second.path) and not second.final.exists()
        assert _visible(tmp_path) == sorted([first.final.name, "latest"])
        assert (tmp_path / "latest").resolve() == first.final.resolve()  # still the finished run
    assert (tmp_path / "latest").resolve() == second.final.resolve()
    assert not (tmp_path / ".partial").exists()


def test_failed_block_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), pipeline.run_folder(tmp_path) as folder:
        (folder.path / "half.json").write_text("{")
        raise RuntimeError("step failed")
    assert list(tmp_path.iterdir()) == []


def test_readers_refuse_a_partial_folder(tmp_path):
    partial = tmp_path / ".partial" / "20260101T000000Z"
    partial.mkdir(parents=True)
    with pytest.raises(ScreeningError, match="unfinished"):
        pipeline.require_complete(partial, "reference run folder")
    with pytest.raises(ScreeningError, match="unfinished"):
        pipeline._checked_surface(partial, "0" * 16)
    assert pipeline.require_complete(tmp_path) == tmp_path.resolve()


@pytest.mark.mirror
def test_preview_refuses_a_partial_reference(tmp_path, mirror_root):
    partial = tmp_path / ".partial" / "20260101T000000Z"
    partial.mkdir(parents=True)
    (partial / "candidates.parquet").write_bytes(b"")
    draft = mirror_root / "submissions" / "applications_2025_approx.gpkg"
    res = CliRunner().invoke(main, ["preview", str(draft), "--reference", str(partial), "--out", str(tmp_path),
                                    *ALLOW])
    assert res.exit_code == 1 and "unfinished" in res.output, res.output


_CHILD = """
import pathlib, sys, time
from screening import report

def slow_report(run_dir, *args, **kwargs):  # writes a page that looks finished, then hangs
    (pathlib.Path(run_dir) / "index.html").write_text("<html>looks finished</html>")
    pathlib.Path(sys.argv[1]).write_text(str(run_dir))
    time.sleep(600)

report.write_report = slow_report
from screening.cli import main
main(sys.argv[2:])
"""


@pytest.mark.mirror
def test_sigkill_during_report_leaves_nothing_that_looks_like_a_run(tmp_path, mirror_root):
    out, marker = tmp_path / "reports", tmp_path / "writing"
    apps = mirror_root / "submissions" / "applications_2025_approx.gpkg"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(marker), "screen", str(apps), "--out", str(out),
                              *ALLOW], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 600  # a guard against hanging, not a timing assertion
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), child.communicate(timeout=30)[0].decode()[-3000:]
        writing = Path(marker.read_text())
        assert (writing / "manifest.json").is_file() and (writing / "index.html").is_file()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert _visible(out) == []  # no reports/<ts>/ and no latest
    assert pipeline.is_partial(writing) and writing.parent == out / ".partial"
    res = CliRunner().invoke(main, ["preview", str(apps), "--reference", str(writing), "--out", str(tmp_path),
                                    *ALLOW])
    assert res.exit_code == 1 and "unfinished" in res.output, res.output


@pytest.mark.mirror
def test_screen_writes_through_a_partial_folder(tmp_path, mirror_root, monkeypatch):
    """While the data files are written the run is under .partial/; the manifest's run id is its final name."""
    seen = {}
    real = pipeline.write_run

    def spy(run_dir, result):
        seen["dir"] = run_dir
        seen["visible"] = _visible(tmp_path)
        return real(run_dir, result)

    monkeypatch.setattr(pipeline, "write_run", spy)
    apps = mirror_root / "submissions" / "applications_2025_approx.gpkg"
    res = CliRunner().invoke(main, ["screen", str(apps), "--out", str(tmp_path), "--no-report", *ALLOW])
    assert res.exit_code == 0, res.output
    assert pipeline.is_partial(seen["dir"]) and seen["visible"] == []
    final = (tmp_path / "latest").resolve()
    assert final.name == seen["dir"].name and str(final) in res.output
    assert json.loads((final / "manifest.json").read_text())["run_id"] == final.name

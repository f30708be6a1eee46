"""Run folders that appear only when complete: written under ``<root>/.partial/<name>/``, renamed into place.

Every job that writes a folder of results (a screening run, the surface, a preview's cards) writes it with
`run_folder`:

>>> with run_folder(Path("reports")) as folder:          # doctest: +SKIP
...     (folder.path / "result.json").write_text("{}")   # write everything into folder.path
>>> folder.final                                          # doctest: +SKIP
PosixPath('reports/20261207T120000Z')

On entry the output location is checked first (created, written to, enough free space), so a bad ``--out``
fails before any work. On a normal exit the folder is renamed to ``<root>/<name>/`` in one step (a rename
on the same file system) and then ``<root>/latest`` is pointed at it. On an exception the partial folder is
removed; after a kill (SIGKILL, power loss) it stays under ``<root>/.partial/``, where no reader looks:
``latest`` never points there and `require_complete` refuses it. Because ``folder.path.name`` is already
the final name, a job may use it as its run id.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from screening.errors import OutputError, ScreeningError

__all__ = ["RunFolder", "run_folder", "is_partial", "require_complete", "point_latest", "PARTIAL_DIR",
           "MIN_FREE_MB"]

log = logging.getLogger(__name__)

PARTIAL_DIR = ".partial"
"""Sub-folder of an output root where folders are written until complete."""

MIN_FREE_MB = 50.0
"""Free space an output root must have before a job starts (a report run with maps is about 10 MB)."""

_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


@dataclass(frozen=True)
class RunFolder:
    """``path``: where to write while the job runs; ``final``: where the folder is once complete."""

    path: Path
    final: Path

    @property
    def name(self) -> str:
        """The folder's name (a UTC timestamp, suffixed ``-N`` when taken), the same in both places."""
        return self.final.name


@contextmanager
def run_folder(out_root: Path, *, latest: bool = True, min_free_mb: float = MIN_FREE_MB) -> Iterator[RunFolder]:
    """Write a new folder under `out_root` that appears there only when the block completes.

    Parameters
    ----------
    out_root
        The output root (``--out``), created if needed.
    latest
        Point ``<out_root>/latest`` at the folder once it is in place (a link, or ``latest.txt``).
    min_free_mb
        Refuse to start when the file system of `out_root` has less free space (MB).

    Yields
    ------
    RunFolder
        Write into ``.path``; ``.final`` is where it will be.

    Raises
    ------
    OutputError
        Up front, when `out_root` cannot be created or written or is (nearly) full; from the block, when
        writing fails because the disk is full, read-only or not permitted. The partial folder is removed.
    """
    out_root = Path(out_root)
    created_root = not out_root.exists()
    folder = _new_partial(out_root)
    try:
        _check_writable(folder.path, out_root, min_free_mb)
        yield folder
        _finish(folder)
    except BaseException as exc:
        shutil.rmtree(folder.path, ignore_errors=True)
        _remove_if_empty(folder.path.parent)
        if created_root:
            _remove_if_empty(out_root)  # a failed job leaves no trace
        if isinstance(exc, OSError) and not isinstance(exc, ScreeningError) and _is_write_error(exc, folder):
            raise OutputError(_write_message(out_root, exc)) from exc
        raise
    if latest:
        point_latest(out_root, folder.final)


def is_partial(path: Path) -> bool:
    """True for a folder still being written (or left by a killed job): it lies in a ``.partial`` folder."""
    path = Path(path)
    return path.parent.name == PARTIAL_DIR or path.name == PARTIAL_DIR


def require_complete(path: Path, what: str = "run folder") -> Path:
    """Return `path` resolved, refusing a partial folder (an unfinished or killed job).

    Raises
    ------
    ScreeningError
        When `path` is a partial folder.
    """
    resolved = Path(path).resolve()
    if is_partial(resolved):
        msg = (f"{path}: this {what} is unfinished (a job still running or killed while writing it); it is not a "
               f"run. Pass a finished folder, e.g. {resolved.parent.parent / 'latest'}")
        raise ScreeningError(msg)
    return resolved


def point_latest(out_root: Path, run_dir: Path) -> None:
    """Point ``<out_root>/latest`` at `run_dir` (a relative symlink, replaced atomically), or write its
    name to ``latest.txt`` where links are not possible."""
    out_root, run_dir = Path(out_root), Path(run_dir)
    latest = out_root / "latest"
    tmp = out_root / f".latest.{os.getpid()}.tmp"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(run_dir.name, tmp, target_is_directory=True)
        if latest.exists() and not latest.is_symlink():
            shutil.rmtree(latest) if latest.is_dir() else latest.unlink()
        os.replace(tmp, latest)
    except OSError as exc:  # e.g. a file system without symlinks: write the name instead
        log.info("cannot link %s (%s); writing its name to latest.txt", latest, exc)
        tmp.unlink(missing_ok=True)
        (out_root / "latest.txt").write_text(run_dir.name + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- helpers


def _new_partial(out_root: Path) -> RunFolder:
    """Create ``<root>/.partial/<UTC timestamp>[-N]/`` whose final name is free (partial first: race-free)."""
    partial_root = out_root / PARTIAL_DIR
    try:
        partial_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(_write_message(out_root, exc)) from None
    leftovers = [p.name for p in partial_root.iterdir()]
    if leftovers:
        log.warning("%s holds unfinished folders of interrupted jobs (not runs; they can be deleted): %s",
                    partial_root, ", ".join(sorted(leftovers)[:10]))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1000):
        name = stamp if n == 0 else f"{stamp}-{n}"
        try:
            (partial_root / name).mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(_write_message(out_root, exc)) from None
        if (out_root / name).exists():  # a finished folder of that name: try the next
            (partial_root / name).rmdir()
            continue
        return RunFolder(path=partial_root / name, final=out_root / name)
    raise OutputError(f"{out_root}: cannot find a free folder name for {stamp}")


def _check_writable(path: Path, out_root: Path, min_free_mb: float) -> None:
    probe = path / ".write-test"
    try:
        with probe.open("wb") as fh:
            fh.write(b"\0" * 4096)
            fh.flush()
            os.fsync(fh.fileno())
        probe.unlink()
        free_mb = shutil.disk_usage(path).free / 1e6
    except OSError as exc:
        raise OutputError(_write_message(out_root, exc)) from None
    if free_mb < min_free_mb:
        raise OutputError(_write_message(out_root, OSError(errno.ENOSPC, f"only {free_mb:,.0f} MB free, a run "
                                                                         f"needs at least {min_free_mb:,.0f} MB")))


def _finish(folder: RunFolder) -> None:
    try:
        os.rename(folder.path, folder.final)
    except OSError as exc:
        raise OutputError(_write_message(folder.final.parent, exc)) from None
    _remove_if_empty(folder.path.parent)


def _remove_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass  # not empty (another job's partial folder) or gone


def _is_write_error(exc: OSError, folder: RunFolder) -> bool:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        return True
    names = [n for n in (exc.filename, exc.filename2) if n]
    inside = any(str(n).startswith(str(folder.path)) for n in names)
    return inside and exc.errno in _WRITE_ERRNOS


def _write_message(out_root: Path, exc: OSError) -> str:
    """The one message for an output location that cannot take a run (bad, unwritable or full)."""
    reason = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
              errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
              errno.EPERM: "not permitted", errno.ENOTDIR: "a part of the path is a file, not a folder",
              errno.EEXIST: "a file of that name is in the way"}.get(exc.errno, exc.strerror or str(exc))
    detail = f" ({exc.strerror})" if exc.strerror and exc.strerror.lower() != reason.lower() else ""
    if exc.errno == errno.ENOSPC and not exc.filename and exc.strerror and "MB" in exc.strerror:
        reason, detail = f"not enough free space: {exc.strerror}", ""
    return (f"--out {out_root}: cannot write the results there: {reason}{detail}. Nothing was written; choose "
            f"another output folder with --out, or fix this one (space, permissions) and run again.")

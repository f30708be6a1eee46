"""The preview server's workers: each preview runs in a forked process that is killed when its time is up.

A forked child starts with the server's memory as it is - the layers, their spatial indexes, the prepared
exclusion coverages and the reference, loaded once - shared copy-on-write, so it starts in milliseconds
and loads nothing. Unlike a thread, a process can be stopped: when a request's time budget runs out the
child is killed (SIGKILL) and reaped, its memory is returned at once, and the request is answered. The
server calls `gc.freeze` once after loading (`freeze_loaded`) so the children's garbage collector does not
touch, and so copy, the loaded objects.

Each server keeps its work folders under ``<tmp>/industripark-preview-<pid>/`` (`work_root`); a server that
was killed leaves its folder behind, and the next server to start removes the folders of servers that no
longer run (`sweep_stale`).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import re
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

__all__ = ["WorkerTimeout", "WorkerDied", "run_in_process", "work_root", "sweep_stale", "freeze_loaded",
           "WORK_PREFIX"]

log = logging.getLogger(__name__)

WORK_PREFIX = "industripark-preview-"
"""Name of a server's work root in the temporary folder, followed by the server's process id."""

_FORK = multiprocessing.get_context("fork")
_KILL_WAIT_S = 10.0


class WorkerTimeout(Exception):
    """The worker did not finish within its time; it has been killed and reaped."""


class WorkerDied(Exception):
    """The worker ended without an answer (killed from outside, out of memory, a crash in C code)."""


def run_in_process(target: Callable, args: tuple, kwargs: dict | None = None, *, timeout_s: float):
    """Run ``target(*args, **kwargs)`` in a forked child process and return its result, or stop it after
    `timeout_s` seconds.

    The arguments are not pickled (the child is a fork); the result is, through a pipe.

    Returns
    -------
    tuple
        ``("ok", result)``, or ``("error", traceback_text)`` when `target` raised.

    Raises
    ------
    WorkerTimeout
        After `timeout_s` seconds: the child has been killed and reaped.
    WorkerDied
        When the child ended without sending its result.
    """
    receive, send = _FORK.Pipe(duplex=False)
    child = _FORK.Process(target=_child, args=(send, target, args, kwargs or {}), daemon=True,
                          name="industripark-preview")
    child.start()
    send.close()  # the child holds the only sending end: a dead child reads as end-of-file
    try:
        if not receive.poll(max(timeout_s, 0.0)):
            raise WorkerTimeout(f"preview worker {child.pid} still running after {timeout_s:.1f} s")
        try:
            result = receive.recv()
        except (EOFError, OSError) as exc:
            child.join(_KILL_WAIT_S)
            raise WorkerDied(f"preview worker {child.pid} ended without an answer (exit code "
                             f"{child.exitcode})") from exc
    except BaseException:
        receive.close()
        _stop(child)  # killed and reaped before the answer: nothing of it runs on
        raise
    receive.close()
    # the child has answered and is exiting (unmapping its memory takes a moment): reaped off the request
    threading.Thread(target=_reap, args=(child,), daemon=True, name="industripark-reaper").start()
    return result


def work_root() -> Path:
    """This server's folder for the work of its requests: ``<tmp>/industripark-preview-<pid>`` (not created)."""
    return Path(tempfile.gettempdir()) / f"{WORK_PREFIX}{os.getpid()}"


def sweep_stale(tmp_dir: Path | None = None, *, unowned_after_s: float = 3600.0) -> list[Path]:
    """Remove the work roots of preview servers that no longer run (killed before they could clean up).

    A root belongs to the process in its name; roots of running processes are left alone, so several
    servers can share a temporary folder. Folders of the same prefix without a process id (the per-request
    folders of earlier versions) are removed once untouched for `unowned_after_s` seconds. Returns the
    folders removed.
    """
    tmp_dir = Path(tmp_dir or tempfile.gettempdir())
    removed = []
    for path in tmp_dir.glob(f"{WORK_PREFIX}*"):  # a few folders at most
        if not path.is_dir() or path.is_symlink():
            continue
        match = re.fullmatch(re.escape(WORK_PREFIX) + r"(\d+)", path.name)
        stale = (not _alive(int(match.group(1))) if match is not None
                 else time.time() - path.stat().st_mtime > unowned_after_s)
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        log.warning("removed %d work folder(s) left by preview servers that were stopped: %s", len(removed),
                    ", ".join(p.name for p in removed))
    return removed


def freeze_loaded() -> None:
    """Move everything loaded so far out of the garbage collector's reach (`gc.freeze`): forked workers
    then share those pages with the server instead of copying them when the collector walks them."""
    gc.collect()
    gc.freeze()


# --------------------------------------------------------------------------- helpers


def _child(send, target: Callable, args: tuple, kwargs: dict) -> None:
    """The worker process: run the target, send ``("ok", result)`` or ``("error", traceback)``."""
    try:
        result = ("ok", target(*args, **kwargs))
    except BaseException:  # the server logs it; the child only reports
        result = ("error", traceback.format_exc())
    try:
        send.send(result)
    finally:
        send.close()


def _stop(child) -> None:
    """Kill the child if it still runs and reap it, so no process and no zombie is left."""
    if child.is_alive():
        child.kill()
        log.warning("preview worker %s killed", child.pid)
    child.join(_KILL_WAIT_S)
    if child.is_alive():  # pragma: no cover - SIGKILL is not refused; a hung kernel call could delay it
        log.error("preview worker %s did not stop within %g s", child.pid, _KILL_WAIT_S)
    else:
        child.close()


def _reap(child) -> None:
    """Wait for a child that has answered to exit; one that lingers (it should not) is stopped."""
    child.join(_KILL_WAIT_S)
    _stop(child)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True

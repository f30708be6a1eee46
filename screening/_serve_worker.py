"""The preview server's workers: previews run in forked processes that are killed when their time is up.

A worker is forked from the server with its memory as it is - the layers, their spatial indexes, the
prepared exclusion coverages, the kept travel times and the reference, loaded once - shared copy-on-write,
so it loads nothing. Workers are kept and reused (`WorkerPool`): a warm worker answers the next preview
without a fork and without copying again the pages it already copied. Unlike a thread, a process can be
stopped: when a request's time budget runs out its worker is killed (SIGKILL) and reaped, its memory is
returned at once, the request is answered and the next request gets a fresh worker. The server calls
`gc.freeze` once after loading (`freeze_loaded`) so the workers' garbage collector does not touch, and so
copy, the loaded objects.

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
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

__all__ = ["WorkerTimeout", "WorkerDied", "WorkerPool", "work_root", "sweep_stale", "freeze_loaded", "WORK_PREFIX",
           "MAX_JOBS"]

log = logging.getLogger(__name__)

WORK_PREFIX = "industripark-preview-"
"""Name of a server's work root in the temporary folder, followed by the server's process id."""

MAX_JOBS = 200
"""Previews a worker answers before it is retired and replaced (its memory returned)."""

_FORK = multiprocessing.get_context("fork")
_KILL_WAIT_S = 10.0
_PARENT_ENDS: weakref.WeakSet = weakref.WeakSet()  # the server's ends of the workers' pipes


class WorkerTimeout(Exception):
    """The worker did not finish within its time; it has been killed and reaped."""


class WorkerDied(Exception):
    """The worker ended without an answer (killed from outside, out of memory, a crash in C code)."""


class WorkerPool:
    """Worker processes forked from the server and reused, one preview at a time each, stopped when one
    runs past its time.

    A worker is forked (`start`, or when a request finds none idle) with the server's memory as it is - the
    layers, indexes, prepared coverages, kept travel times and `context` - and then waits for jobs: each
    job is ``target(*context, *args, **kwargs)``, its arguments and its result pickled through the worker's
    pipe (the upload and the answer; never the loaded layers). A worker that answers goes back to the pool
    warm: the pages it has copied from the server and the caches it has filled serve its next preview, so
    a preview pays neither a fork nor the copy-on-write faults of a fresh process (about a quarter of a
    preview's time when each had its own process). A worker still running when its job's time is up is
    killed (SIGKILL) and reaped, and the next job gets a fresh one; so is a worker that died. After
    `max_jobs` jobs a worker is retired (exits when its pipe closes) and replaced, so no worker grows
    for ever.

    The caller bounds how many jobs run at once (`size`, the server's worker slots); the pool keeps the idle
    ones.
    Objects changed in the server after a worker was forked are not seen by that worker.
    """

    def __init__(self, target: Callable, context: tuple = (), *, size: int = 1, max_jobs: int = MAX_JOBS):
        self._target, self._context, self._max_jobs = target, tuple(context), max_jobs
        self.size = size
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    def start(self, n: int | None = None) -> None:
        """Fork `n` (default `size`) idle workers now (the server does so after its warm-up, before it serves)."""
        workers = [self._fork() for _ in range(self.size if n is None else n)]
        with self._lock:
            self._idle.extend(workers)

    def run(self, args: tuple = (), kwargs: dict | None = None, *, timeout_s: float):
        """Run one job in an idle worker (one is forked when none is idle) and return its result, or stop
        the worker after `timeout_s` seconds.

        Returns
        -------
        tuple
            ``("ok", result)``, or ``("error", traceback_text)`` when the target raised.

        Raises
        ------
        WorkerTimeout
            After `timeout_s` seconds: the worker has been killed and reaped.
        WorkerDied
            When the worker ended without sending its result.
        """
        job = (tuple(args), dict(kwargs or {}))
        worker = self._take()
        try:
            try:
                worker.conn.send(job)
            except OSError:  # it died while idle: a fresh one takes the job
                worker.stop()
                worker = self._fork()
                worker.conn.send(job)
            if not worker.conn.poll(max(timeout_s, 0.0)):
                raise WorkerTimeout(f"preview worker {worker.pid} still running after {timeout_s:.1f} s")
            try:
                result = worker.conn.recv()
            except (EOFError, OSError) as exc:
                worker.process.join(_KILL_WAIT_S)
                raise WorkerDied(f"preview worker {worker.pid} ended without an answer (exit code "
                                 f"{worker.process.exitcode})") from exc
        except BaseException:
            worker.stop()  # killed and reaped before the answer: nothing of it runs on
            raise
        worker.jobs += 1
        self._give_back(worker)
        return result

    def close(self) -> None:
        """Retire every idle worker; busy ones are retired when they finish."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:  # a few workers
            worker.retire()

    def pids(self) -> list[int]:
        """Process ids of the idle workers."""
        with self._lock:
            return [w.pid for w in self._idle]

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()  # the most recently used: the warmest
                if worker.process.is_alive():
                    return worker
                worker.stop()
        return self._fork()

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if not self._closed and worker.jobs < self._max_jobs:
                self._idle.append(worker)
                return
        worker.retire()

    def _fork(self) -> _Worker:
        parent_end, child_end = _FORK.Pipe(duplex=True)
        _PARENT_ENDS.add(parent_end)  # closed in every worker forked from now on (so each sees its own EOF)
        process = _FORK.Process(target=_worker_main, args=(child_end, self._target, self._context), daemon=True,
                                name="industripark-preview")
        process.start()
        child_end.close()  # the worker holds the only other end: a dead worker reads as end-of-file
        return _Worker(process, parent_end)


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


@dataclass(eq=False)
class _Worker:
    """One worker process of a `WorkerPool` and the server's end of its pipe."""

    process: multiprocessing.process.BaseProcess
    conn: Connection
    jobs: int = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def stop(self) -> None:
        """Kill and reap it now."""
        _close(self.conn)
        _stop(self.process)

    def retire(self) -> None:
        """Let it finish: its pipe is closed, it exits, a thread reaps it (and kills it if it lingers)."""
        _close(self.conn)
        threading.Thread(target=_reap, args=(self.process,), daemon=True, name="industripark-reaper").start()


def _worker_main(conn: Connection, target: Callable, context: tuple) -> None:
    """A worker process: answer jobs from the pipe until it closes, each ``("ok", result)`` or ``("error",
    traceback)``."""
    for other in list(_PARENT_ENDS):  # the server's ends of every worker's pipe, this one's included
        _close(other)
    while True:
        try:
            args, kwargs = conn.recv()
        except BaseException:  # the pipe closed (retired), or the server is stopping
            return
        try:
            result = ("ok", target(*context, *args, **kwargs))
        except BaseException:  # the server logs it; the worker only reports
            result = ("error", traceback.format_exc())
        try:
            conn.send(result)
        except BaseException:
            try:  # a result that cannot be sent: say why instead
                conn.send(("error", traceback.format_exc()))
            except BaseException:
                return


def _close(conn) -> None:
    try:
        conn.close()
    except OSError:
        pass


def _stop(child) -> None:
    """Kill the child if it still runs and reap it, so no process and no zombie is left."""
    if child.is_alive():
        child.kill()
        log.warning("preview worker %s killed", child.pid)
    child.join(_KILL_WAIT_S)  # reaped: no zombie (its pipe and sentinel are closed when it is collected)
    if child.is_alive():  # pragma: no cover - SIGKILL is not refused; a hung kernel call could delay it
        log.error("preview worker %s did not stop within %g s", child.pid, _KILL_WAIT_S)


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

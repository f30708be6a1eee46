"""Preview benchmark: one preview of the 50 ha Give draft as the server answers it, old path against new.

Figures, all from one run on the same machine (the preview server's own `screening._serve_answer.answer`,
the JSON of ``POST /api/preview``, and the page of ``POST /preview``):

- **old path**: each preview in a freshly forked worker (as the server did per request) with nothing kept
  from earlier previews - the travel times from every target to the network's nodes computed again
  (`screening._target_times` cleared) and every exclusion and criterion label made again
  (`screening._kept` cleared) - what a preview cost before the times were kept;
- **new path**: each preview in a warm, reused worker (`screening._serve_worker.WorkerPool`) of a server
  that prepared the target times at start-up (`preview.preview_context`) and keeps labels;
- the same two in the server process itself (no worker), which separates the preview's own work from the
  worker's (fork, copy-on-write faults of a fresh process, pickling the answer).

Wall and CPU seconds of each preview are measured inside the worker (`time.process_time`), plus the wall
time seen by the caller; medians of several runs. The machine may be shared: the load average is recorded.
The answers must be equal (same score, same breakdown) on both paths. The load test
(tests/test_serve_load.py) measures the whole server (waitress, 50 sequential, 10 concurrent).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from screening import _kept, _serve_worker, _target_times, preview
from screening._serve_answer import WorkContext, answer, public_layer_set
from screening.config import load_catalog, load_criteria, settings_from_env
from tests import _preview_fixtures as fx

RUNS = 7
TARGETS_S = {"sequential_p50_s": 0.3, "concurrent_p95_s": 2.0}


def run(mirror_root: Path) -> dict:
    settings = settings_from_env(mirror_root=mirror_root, online=False)
    catalog = load_catalog(settings=settings)
    criteria = load_criteria(settings=settings, catalog=catalog)
    with tempfile.TemporaryDirectory() as empty:
        t0 = time.perf_counter()
        ctx = preview.preview_context(catalog=catalog, criteria=criteria, settings=settings,
                                      reports_root=Path(empty), allow_missing=fx.MAKE_ALLOW_MISSING)
        start_s = time.perf_counter() - t0
    work = WorkContext(public_layer_set(ctx.layer_set), criteria, settings, ctx.reference, dict(ctx.prepared),
                       200_000, preview.MAX_PREVIEW_FEATURES)
    data = fx.good_geojson_bytes()
    for html in (False, True):  # warm the server process as the server's warm-up does
        _job(work, data, html=html, cold=False)
    _serve_worker.freeze_loaded()
    load = os.getloadavg()[0]

    cases, answers = {}, {}
    for html in (False, True):
        kind = "page" if html else "api"
        old = _serve_worker.WorkerPool(_job, (work, data), max_jobs=1)  # a fresh fork per preview
        new = _serve_worker.WorkerPool(_job, (work, data), size=1)
        new.start()
        _in_pool(new, html=html, cold=False)  # the worker's first preview (its copy-on-write faults)
        for name, pool, cold in (("old_worker", old, True), ("new_worker", new, False),
                                 ("old_in_process", None, True), ("new_in_process", None, False)):
            runs = [_in_pool(pool, html=html, cold=cold) if pool else _job(work, data, html=html, cold=cold)
                    for _ in range(RUNS)]  # alternating would mix the cold runs' caches into the warm ones
            cases[f"{kind}_{name}"] = {k: round(statistics.median(r[k] for r in runs), 4)
                                       for k in ("wall_s", "cpu_s", "caller_s")}
            answers[f"{kind}_{name}"] = {r["answer"] for r in runs}
        old.close()
        new.close()
    _target_times.prepare(ctx.layer_set.layers, criteria)
    same = len(set().union(*answers.values())) == 1

    def ratio(kind, where, key):
        return round(cases[f"{kind}_old_{where}"][key] / cases[f"{kind}_new_{where}"][key], 2)

    return {
        "case": (f"one preview of the 50 ha Give draft (Vejle), JSON answer (api) and result page (page), "
                 f"median of {RUNS}; reference: {ctx.reference.label_text()}"),
        "times_s": cases,
        "ratios": {f"{kind}_{where}_{key}": ratio(kind, where, key) for kind in ("api", "page")
                   for where in ("worker", "in_process") for key in ("cpu_s", "caller_s")},
        "server_start_s": round(start_s, 2),
        "answers_equal": same,
        "load_avg_1min": round(load, 2),
        "targets_on_a_quiet_machine": TARGETS_S,
    }


def _job(work: WorkContext, data: bytes, *, html: bool, cold: bool) -> dict:
    """One preview as the server's worker answers it; `cold` forgets the kept travel times and labels first."""
    if cold:
        _target_times.clear()
        _kept.clear()
    with tempfile.TemporaryDirectory() as tmp:
        w0, c0 = time.perf_counter(), time.process_time()
        status, body = answer(work, data, "draft.geojson", repair=False, html=html, workdir=Path(tmp))
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    assert status == 200, body
    app = body["applications"][0]
    fingerprint = json.dumps([app["score_total"], app["breakdown"], app["overlaps"]], sort_keys=True, default=str)
    return {"wall_s": wall, "cpu_s": cpu, "caller_s": wall, "answer": fingerprint}


def _in_pool(pool: _serve_worker.WorkerPool, *, html: bool, cold: bool) -> dict:
    t0 = time.perf_counter()
    outcome, value = pool.run((), {"html": html, "cold": cold}, timeout_s=120)
    caller = time.perf_counter() - t0
    if outcome != "ok":
        raise RuntimeError(value)
    return {**value, "caller_s": caller}

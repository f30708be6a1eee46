"""`make bench`: run every benchmark module in one process, print its figures, save reports/bench/*.json.

Each ``tests/benchmarks/bench_<name>.py`` exposes ``run(mirror_root: Path) -> dict`` returning a JSON-able
dict with at least ``case`` (a description of the case built), ``times_s`` and ``ratios``; this runner only
collects, prints and saves. Run one with ``python -m tests.benchmarks.run exclusion``.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path

from screening.config import settings_from_env

BENCHES = ("exclusion", "scoring", "selection", "surface", "scenarios", "travel", "overview", "preview")
OUT = Path(__file__).resolve().parents[2] / "reports" / "bench"


def main(argv: list[str]) -> int:
    names = argv or list(BENCHES)
    settings = settings_from_env()
    if settings.mirror_root is None or not settings.mirror_root.is_dir():
        print("make bench needs the real layers: put ../shared/dk-layers beside the project "
              "or set INDUSTRIPARK_MIRROR", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names:
        try:
            module = importlib.import_module(f"tests.benchmarks.bench_{name}")
        except ModuleNotFoundError:
            print(f"[{name}] no benchmark module yet (tests/benchmarks/bench_{name}.py)")
            continue
        print(f"\n=== {name} ===", flush=True)
        t0 = time.perf_counter()
        result = module.run(settings.mirror_root)
        result["wall_s"] = round(time.perf_counter() - t0, 3)
        result["machine"] = {"python": platform.python_version(), "cpus": _cpus(), "platform": platform.platform()}
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
        print(f"saved {path}")
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

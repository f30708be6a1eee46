"""Policy scenarios side by side: the same applications under several political weightings, compared.

A scenario is ``layers/scenarios/<id>.yaml``: a title, a rationale and an overlay on ``criteria.yaml``
(`screening._scenario_config`). `run` is the one function behind ``industripark scenarios`` and
``make scenarios``: the layers, the submissions, the exclusion and every raw measurement are made once
and shared; each scenario only rescores (`screening.scoring.score_measured`), ranks and selects
(`screening.pipeline.assess`). The comparison (`screening._scenario_compare`), the robust proposal
(`screening._scenario_robust`) and the page (`screening._scenario_page`) follow.

Run folder (``reports/<timestamp>/``): the base scenario's usual run (tables, ``selection.json``,
``index.html``, map, cards) and ``scenarios/`` with one sub-folder per scenario (the usual tables,
``selection.json``, ``manifest.json``), ``scenarios.json`` and ``scenarios.html``.

Language: every text of a run (reasons, titles, the page, the summary) is in the language current when
`run` is called (``lang=``, else `screening.i18n.current`: ``$INDUSTRIPARK_LANG``, else Danish); `write`
writes the page and the tables in that same language, and ``scenarios.json`` and the manifests record it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd

from screening import catalog as catalog_mod
from screening import exclusion, i18n, pipeline, scoring, submissions
from screening._json import write_json
from screening._run_files import manifest as run_manifest
from screening._scenario_compare import Comparison, compare
from screening._scenario_config import Scenario, load_scenarios
from screening._scenario_robust import RobustProposal, robust_proposal
from screening.config import Catalog, Criteria, Settings, config_hash
from screening.errors import ScreeningError
from screening.i18n import N_, gettext, ngettext

__all__ = ["ScenarioRun", "ScenariosResult", "SMOKE_TEST_INPUTS", "run", "evaluate", "write", "summary_text",
           "load_scenarios"]

log = logging.getLogger(__name__)

SMOKE_TEST_INPUTS = ("applications_2025_approx",)
"""File-name stems of inputs that hold invented sites (the mirror's approximate 2025 applications): every
output then says the comparison is a smoke test of the method, not evidence about the real decision."""


@dataclass(frozen=True)
class ScenarioRun:
    """One scenario's outcome: the scenario and the `pipeline.RunResult` of its rescoring and selection."""

    scenario: Scenario
    result: pipeline.RunResult
    timings: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.scenario.id


@dataclass(frozen=True)
class ScenariosResult:
    """Every scenario's run, the comparison, the robust proposal, timings (seconds) and the written files."""

    runs: tuple[ScenarioRun, ...]
    comparison: Comparison
    robust: RobustProposal
    timings: dict
    manifest: dict
    smoke_test: bool
    measurements: int = 1
    run_dir: Path | None = None
    outputs: dict[str, Path] = field(default_factory=dict)
    lang: str = i18n.DEFAULT
    """The language of the texts (reasons, titles) and of the pages written: ``da`` or ``en``."""

    @property
    def base(self) -> ScenarioRun:
        return self.runs[0]

    def to_dict(self) -> dict:
        """Plain JSON-able content of ``scenarios.json``."""
        return {
            "run_id": self.manifest.get("run_id"), "created": self.manifest.get("created"), "lang": self.lang,
            "smoke_test": self.smoke_test, "inputs": self.manifest.get("inputs", []),
            "incomplete": self.manifest.get("incomplete", False),
            "incomplete_text": self.manifest.get("incomplete_text", ""),
            "base": self.base.id,
            "scenarios": [{**r.scenario.to_dict(), "folder": f"{r.id}/",
                           "config_hash": config_hash(r.scenario.criteria),
                           "selection": _selection_summary(r)} for r in self.runs],
            **self.comparison.to_dict(),
            "robust_proposal": self.robust.to_dict(),
            "measurements_made": self.measurements,
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
        }


def run(inputs: Sequence[str | Path], *, settings: Settings, catalog: Catalog, criteria: Criteria,
        scenarios_dir: str | Path, out_root: Path | None, allow_missing: Iterable[str] = (),
        allow_damaged: Iterable[str] = (), repair: bool = False, report: bool = True,
        max_applications: int | None = pipeline.MAX_APPLICATIONS, lang: str | None = None) -> ScenariosResult:
    """Run every scenario of `scenarios_dir` on the submission files and, with `out_root`, write the run folder.

    Parameters
    ----------
    inputs
        Submission files (GeoJSON, GeoPackage, zipped Shapefile, GeoParquet); never modified.
    criteria
        The rules of ``criteria.yaml``; each scenario's overlay is merged onto them.
    scenarios_dir
        Folder of scenario files (``layers/scenarios``), with ``base.yaml``.
    out_root
        Folder under which ``<timestamp>/`` is created (`pipeline.run_folder`: checked before any work,
        appearing only once complete), with a ``latest`` link; None writes nothing.
    allow_missing, allow_damaged
        Layer ids the run may proceed without (exclusion) or with unreadable features left out (score,
        flag, context); every output then says so.
    report
        Also write the base scenario's ``index.html``, map and cards (linking to ``scenarios.html``).
    max_applications
        Refuse more applications than this when writing the report (`pipeline.MAX_APPLICATIONS`).
    lang
        ``da`` or ``en``: the language of the reasons, titles and pages; None: `screening.i18n.current`.

    Returns
    -------
    ScenariosResult
        With ``run_dir`` and ``outputs`` when written.

    Raises
    ------
    ConfigError
        For a bad scenario file (before any layer is loaded).
    """
    if lang is not None:
        with i18n.use(lang):
            return run(inputs, settings=settings, catalog=catalog, criteria=criteria, scenarios_dir=scenarios_dir,
                       out_root=out_root, allow_missing=allow_missing, allow_damaged=allow_damaged, repair=repair,
                       report=report, max_applications=max_applications)
    scenarios = load_scenarios(scenarios_dir, criteria, catalog=catalog)  # bad files fail before any work
    if out_root is not None:
        with pipeline.run_folder(Path(out_root)) as folder:
            result = run(inputs, settings=settings, catalog=catalog, criteria=criteria, scenarios_dir=scenarios_dir,
                         out_root=None, allow_missing=allow_missing, allow_damaged=allow_damaged, repair=repair,
                         report=report, max_applications=max_applications)
            result = write(result, folder.path, catalog=catalog, settings=settings, inputs=inputs, report=report)
        outputs = {k: folder.final / p.relative_to(folder.path) for k, p in result.outputs.items()}
        return replace(result, run_dir=folder.final, outputs=outputs)
    timings: dict[str, float] = {}
    allow_missing = tuple(allow_missing)
    t0 = time.perf_counter()
    used = sorted(set().union(*(s.criteria.layer_ids() for s in scenarios)))
    needed = ["kommuner", "regioner", *used, *pipeline.CONTEXT_LAYERS]
    layer_set = catalog_mod.load_layers(needed, catalog=catalog, settings=settings, allow_missing=allow_missing,
                                        allow_damaged=allow_damaged)
    timings["load_layers"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    candidates = submissions.load_submissions(inputs, kommuner=layer_set.layers["kommuner"], repair=repair)
    if report and max_applications is not None and len(candidates) > max_applications:
        files = ", ".join(Path(p).name for p in inputs)
        raise ScreeningError(pipeline.TOO_MANY.format(n=len(candidates), files=files, limit=max_applications))
    timings["load_submissions"] = time.perf_counter() - t0

    runs = evaluate(candidates, layer_set, scenarios, settings=settings, allow_missing=allow_missing,
                    timings=timings)
    t0 = time.perf_counter()
    comparison = compare(runs, towns=layer_set.layers.get("towns"))
    timings["compare"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    robust = robust_proposal(runs, towns=layer_set.layers.get("towns"))
    timings["robust_proposal"] = time.perf_counter() - t0
    smoke = any(Path(p).stem.startswith(SMOKE_TEST_INPUTS) for p in inputs)
    manifest = run_manifest(inputs, layer_set, catalog, criteria, settings, allow_missing, timings, runs[0].result)
    measurements = len({r.timings["measurement"] for r in runs})
    return ScenariosResult(runs, comparison, robust, timings, manifest, smoke, measurements, lang=i18n.current())


def evaluate(candidates: gpd.GeoDataFrame, layer_set: catalog_mod.LayerSet, scenarios: Sequence[Scenario], *,
             settings: Settings, allow_missing: Iterable[str] = (), timings: dict | None = None
             ) -> tuple[ScenarioRun, ...]:
    """Exclude and measure once, then rescore, rank and select under each scenario; writes nothing.

    Every scenario shares the first scenario's exclusion rules (overlays cannot change them). The raw
    measurements are shared by every scenario that measures the same way (`scoring.measurement_key`);
    a scenario that changes how something is measured (a layer, a filter, the travel model) is measured
    separately, and the log says so; scenarios that differ only in their selection or sensitivity rules
    share the scores too. `timings` receives ``exclusion``, ``measure`` (shared work; with
    ``cpu_exclusion``, ``cpu_measure`` in CPU seconds),
    ``scenario:<id>`` (that scenario's rescoring, ranking and selection) and ``selection:<id>``, in
    seconds; each run's own ``timings`` hold its steps and ``measurement`` (which measurement it used).
    """
    timings = {} if timings is None else timings
    allow_missing = tuple(allow_missing)
    layers = layer_set.layers
    base = scenarios[0].criteria
    t0, c0 = time.perf_counter(), time.process_time()
    prepared = exclusion.prepared_layers(layers, base.exclusions, cache_dir=settings.cache_dir)
    excluded = exclusion.evaluate(candidates, layers, base.exclusions, allow_missing=allow_missing,
                                  prepared=prepared)
    timings["exclusion"], timings["cpu_exclusion"] = time.perf_counter() - t0, time.process_time() - c0
    meta = {lid: {"missing": catalog_mod.short_reason(reason)} for lid, reason in layer_set.missing.items()}
    measured: dict[tuple[str, ...], scoring.Measurements] = {}
    scored: dict[tuple, scoring.ScoreResult] = {}  # scenarios that change only selection rules share scores
    runs = []
    timings["measure"] = timings["cpu_measure"] = 0.0
    for scenario in scenarios:  # a handful of scenarios; each call is vectorised over the candidates
        crit = scenario.criteria
        key = tuple(scoring.measurement_key(item, crit) for item in (*crit.criteria, *crit.bonus))
        if key not in measured:
            if measured:
                log.info("scenario %s measures differently from the base (layer, filter, unit or travel "
                         "model); measuring again", scenario.id)
            t0, c0 = time.perf_counter(), time.process_time()
            measured[key] = scoring.measure(candidates, layers, crit, catalog_meta=meta)
            timings["measure"] += time.perf_counter() - t0
            timings["cpu_measure"] += time.process_time() - c0
        t0 = time.perf_counter()
        steps: dict[str, float] = {}
        how = (key, json.dumps(crit.model_dump(mode="json", include={"groups", "criteria", "bonus"}),
                               sort_keys=True))
        result = pipeline.assess(candidates, layer_set, crit, settings=settings, allow_missing=allow_missing,
                                 timings=steps, excluded=excluded, measured=measured[key], scored=scored.get(how))
        scored.setdefault(how, result.scores)
        timings[f"scenario:{scenario.id}"] = time.perf_counter() - t0
        timings[f"selection:{scenario.id}"] = steps.get("selection", 0.0)
        runs.append(ScenarioRun(scenario, result, steps | {"measurement": list(measured).index(key)}))
        log.info("scenario %s: %s, %d chosen", scenario.id, result.selection.status,
                 len(result.selection.selected_ids))
    return tuple(runs)


def write(result: ScenariosResult, run_dir: Path, *, catalog: Catalog, settings: Settings,
          inputs: Sequence[str | Path], report: bool = True) -> ScenariosResult:
    """Write the run into the (new, empty) folder `run_dir`: ``scenarios/`` first, then the base rules' run.

    Everything is written in the run's language (``result.lang``), whatever language is current.

    ``scenarios/<id>/`` gets each scenario's usual tables (`pipeline.write_run`) with a manifest naming
    the scenario; ``scenarios/scenarios.json`` and ``scenarios/scenarios.html`` follow; then the base
    scenario's run is written at the top (`pipeline.write_outputs`: tables, and with `report` the index,
    which links the comparison, the map and the cards). The folder's name is the run id.

    Returns
    -------
    ScenariosResult
        `result` with ``run_dir`` and ``outputs`` (paths by name) set.
    """
    with i18n.use(result.lang):
        return _write(result, Path(run_dir), catalog=catalog, settings=settings, inputs=inputs, report=report)


def _write(result: ScenariosResult, run_dir: Path, *, catalog: Catalog, settings: Settings,
           inputs: Sequence[str | Path], report: bool) -> ScenariosResult:
    from screening import _scenario_page

    timings = dict(result.timings)
    t0 = time.perf_counter()
    result = replace(result, manifest=result.manifest | {"run_id": run_dir.name})
    base = result.base
    folder = run_dir / "scenarios"
    outputs: dict[str, Path] = {}
    for r in result.runs:  # a handful of scenarios
        sub = folder / r.id
        sub.mkdir(parents=True)
        steps = {k: v for k, v in r.timings.items() if k != "measurement"}
        manifest = run_manifest(inputs, base.result.layers, catalog, r.scenario.criteria, settings,
                                result.manifest.get("allow_missing", []), steps, r.result)
        manifest |= {"run_id": run_dir.name, "scenario": r.scenario.to_dict()}
        files = pipeline.write_run(sub, replace(r.result, manifest=manifest))
        outputs |= {f"{r.id}:{k}": v for k, v in files.items()}
    timings["write_tables"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    outputs["scenarios_page"] = _scenario_page.write_page(folder / "scenarios.html", result,
                                                          context=_context(base.result), cards_written=report)
    timings["page"] = time.perf_counter() - t0
    outputs["scenarios_json"] = folder / "scenarios.json"
    write_json(outputs["scenarios_json"], replace(result, timings=timings).to_dict())
    t0 = time.perf_counter()
    base_result = replace(base.result, manifest=result.manifest)
    outputs |= pipeline.write_outputs(run_dir, base_result, criteria=base.scenario.criteria, report=report)
    timings["base_run"] = time.perf_counter() - t0
    result = replace(result, timings=timings)
    write_json(run_dir / "manifest.json", base_result.manifest | {
        "lang": result.lang, "scenarios": [r.id for r in result.runs],
        "scenario_timings_s": {k: round(v, 3) for k, v in timings.items()}})
    log.info("scenarios written to %s (%d scenarios)", folder, len(result.runs))
    return replace(result, run_dir=run_dir, outputs=outputs)


SUMMARY = {
    "scenario": N_("%(title)s %(status)s, %(proof)s: %(parks)s - %(ids)s"),
    "proven": N_("proven optimal"),
    "not_proven": N_("NOT proven optimal"),
    "core": N_("Robust core (chosen in all %(count)s): %(ids)s"),
    "swing": N_("Swing: %(ids)s"),
    "robust": N_("Robust proposal (%(status)s, %(proof)s): %(ids)s"),
}
"""The terminal summary's words (`summary_text`)."""


def summary_text(result: ScenariosResult) -> str:
    """A short summary for the terminal: each scenario's proposal, the robust core and the robust proposal.

    In the current language (the CLI runs it inside the run's language)."""
    from screening._scenario_words import solver_status, words

    def proof(proven: bool) -> str:
        return gettext(SUMMARY["proven" if proven else "not_proven"])

    lines = [words("smoke_test")] if result.smoke_test else []
    width = max(len(str(r.scenario.title)) for r in result.runs)
    for r in result.runs:  # a handful of scenarios
        sel = r.result.selection
        title = f"{r.scenario.title!s:<{width}}"  # the proposals line up in the terminal
        lines.append(gettext(SUMMARY["scenario"], title=title,
                             status=solver_status(sel.status), proof=proof(sel.proven_optimal),
                             parks=ngettext("%(num)s park", "%(num)s parks", len(sel.selected_ids)),
                             ids=", ".join(sorted(sel.selected_ids)) or "-"))
    stab = result.comparison.stability
    lines.append(gettext(SUMMARY["core"], count=len(result.runs),
                         ids=", ".join(stab.index[stab["stability"] == "core"]) or "-"))
    lines.append(gettext(SUMMARY["swing"], ids=", ".join(stab.index[stab["stability"] == "swing"]) or "-"))
    rp = result.robust
    lines.append(gettext(SUMMARY["robust"], status=solver_status(rp.status), proof=proof(rp.proven_optimal),
                         ids=", ".join(rp.selected) or "-"))
    return "\n".join(lines)


# --------------------------------------------------------------------------- helpers


def _selection_summary(r: ScenarioRun) -> dict:
    sel = r.result.selection
    return {"status": sel.status, "proven_optimal": sel.proven_optimal, "objective": sel.objective,
            "mip_gap": sel.mip_gap, "selected": sel.selected_ids, "infeasibility": sel.infeasibility}


def _context(result: pipeline.RunResult) -> dict[str, gpd.GeoDataFrame]:
    return {k: v for k, v in result.layers.layers.items() if k in pipeline.CONTEXT_LAYERS}

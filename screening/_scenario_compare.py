"""The scenarios compared: the matrix, stability (robust core, swing) with reasons, differences to the base.

Internal to `screening.scenarios`. The reasons are made by `screening._scenario_reasons` from each
scenario's run (its proposal, its rules, the criterion breakdown), in the current language
(`screening.i18n.current`), as are the scenario titles kept here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from screening._scenario_reasons import clause, positions, sentence, status_of

__all__ = ["FULL_REASONS_MAX", "Comparison", "compare"]

log = logging.getLogger(__name__)

FULL_REASONS_MAX = 200
"""Up to this many applications every one gets a reason under every scenario; beyond, an application
chosen in no scenario is explained under the base rules only (keeps thousands of candidates fast)."""


@dataclass(frozen=True)
class Comparison:
    """The scenarios side by side.

    ``matrix``: long, one row per (application, scenario): ``application_id, scenario, status`` (one of
    `STATUSES`), ``rank`` (at the scenario's weights, among the eligible), ``score_total`` (0-100),
    ``proposal_rank``. ``stability``: indexed by ``application_id`` in the base ranking order:
    ``site_name, kommunenavn, regionsnavn, chosen_in, scenarios, chosen_under`` (list of ids),
    ``stability`` (``core`` chosen in all, ``swing`` in some, ``never``, ``excluded``), ``reason`` (words)
    and ``clauses`` (per scenario: ``scenario, chosen, kind, text`` and the facts). ``differences``: per
    scenario other than the base, who enters and leaves, totals and parks per region.
    """

    base_id: str
    scenario_ids: tuple[str, ...]
    titles: Mapping[str, str]
    matrix: pd.DataFrame
    stability: pd.DataFrame
    differences: list[dict]

    def to_dict(self) -> dict:
        """``matrix``, ``applications`` (stability and reasons), ``robust_core``, ``swing``, ``differences``."""
        cells: dict[str, dict] = {}
        for rec in self.matrix.to_dict("records"):  # applications x scenarios
            cells.setdefault(rec.pop("application_id"), {})[rec.pop("scenario")] = {
                k: _plain(v) for k, v in rec.items()}
        apps = [{"application_id": aid, **{k: _plain(v) for k, v in row.items()}, "cells": cells[aid]}
                for aid, row in self.stability.to_dict("index").items()]
        stab = self.stability["stability"]
        return {"applications": apps, "robust_core": list(stab.index[stab == "core"]),
                "swing": list(stab.index[stab == "swing"]), "differences": self.differences}


def compare(runs: Sequence, *, towns: gpd.GeoDataFrame | None = None) -> Comparison:
    """Compare scenario runs (the first is the base): matrix, stability, reasons, differences to the base.

    Parameters
    ----------
    runs
        `screening.scenarios.ScenarioRun` objects over the same candidates, base first.
    towns
        Town points with ``population`` (EPSG:25832): which sites count as inside a large town for a
        scenario's outside-towns minimum (as the selection decides it).
    """
    ids = tuple(r.scenario.id for r in runs)
    titles = {r.scenario.id: str(r.scenario.title) for r in runs}  # in the current language
    base = runs[0].result.candidates.set_index("application_id", drop=False)
    order = base.assign(_x=base["excluded"].astype(bool)).sort_values(
        ["_x", "rank", "score_total"], ascending=[True, True, False], na_position="last").index
    frames, pos = [], {}
    contrib_base = _contributions(runs[0].result.scores.breakdown, order)
    tables = [r.result.candidates.set_index("application_id", drop=False).loc[order] for r in runs]
    ever = np.logical_or.reduce([status_of(t) == "chosen" for t in tables])
    for n, (r, table) in enumerate(zip(runs, tables, strict=True)):  # a handful of scenarios
        frames.append(pd.DataFrame({
            "application_id": order, "scenario": r.scenario.id, "status": status_of(table),
            "rank": table["rank"].to_numpy(dtype=float), "score_total": table["score_total"].to_numpy(dtype=float),
            "proposal_rank": pd.array(table["proposal_rank"], dtype="Int64")}))
        contrib = _contributions(r.result.scores.breakdown, order)
        only = ever if n and len(order) > FULL_REASONS_MAX else None  # the base examines every application
        pos[r.scenario.id] = positions(table, r.scenario.criteria.selection, towns=towns,
                                       contributions=(contrib, contrib_base), only=only,
                                       feasible=r.result.selection.objective is not None)
    matrix = pd.concat(frames, ignore_index=True)
    stability = _stability(base.loc[order], matrix, pos, ids, titles)
    differences = [_difference(runs[0], r) for r in runs[1:]]
    log.info("compared %d scenarios: %d in the robust core, %d swing", len(ids),
             int((stability["stability"] == "core").sum()), int((stability["stability"] == "swing").sum()))
    return Comparison(ids[0], ids, titles, matrix, stability, differences)


# --------------------------------------------------------------------------- helpers


def _contributions(breakdown: pd.DataFrame, order: pd.Index) -> pd.DataFrame:
    """Points per application (rows, in `order`) and criterion title (columns), bonus included.

    The scoring's breakdown lists each application's criteria in the same order, so it is reshaped
    directly; any other layout is pivoted.
    """
    ids = breakdown["application_id"].to_numpy(dtype=object)
    titles = breakdown["title"].to_numpy(dtype=object)
    n = breakdown["application_id"].nunique()
    c = len(breakdown) // max(n, 1)
    if n and n * c == len(breakdown) and (ids.reshape(n, c) == ids[::c, None]).all() \
            and (titles.reshape(n, c) == titles[:c]).all() and len(set(titles[:c])) == c:
        wide = pd.DataFrame(breakdown["contribution"].to_numpy(dtype=float).reshape(n, c), index=ids[::c],
                            columns=titles[:c])
    else:
        wide = breakdown.pivot_table(index="application_id", columns="title", values="contribution",
                                     aggfunc="sum", sort=False)
    return wide.reindex(order).fillna(0.0)


def _stability(base: pd.DataFrame, matrix: pd.DataFrame, pos: Mapping[str, Mapping], ids, titles) -> pd.DataFrame:
    chosen = matrix.assign(c=matrix["status"] == "chosen").pivot(index="application_id", columns="scenario",
                                                                 values="c").reindex(base.index)[list(ids)]
    count = chosen.sum(axis=1).astype(int)
    excluded = base["excluded"].astype(bool)
    kind = np.where(excluded, "excluded", np.where(count == len(ids), "core",
                                                   np.where(count > 0, "swing", "never")))
    out = pd.DataFrame({"site_name": base["site_name"], "kommunenavn": base["kommunenavn"],
                        "regionsnavn": base["regionsnavn"], "chosen_in": count, "scenarios": len(ids),
                        "chosen_under": [list(np.asarray(ids)[row]) for row in chosen.to_numpy(dtype=bool)],
                        "stability": kind}, index=base.index)
    reasons, clauses = [], []
    for aid, k in zip(out.index, kind, strict=True):  # one sentence per application (tens)
        per = [{"scenario": s, **pos[s][aid], "text": clause(pos[s][aid])} for s in ids
               if pos[s][aid]["kind"] != "not_examined"]
        clauses.append(per)
        reasons.append(sentence(k, per, titles, len(ids)))
    out["reason"] = reasons
    out["clauses"] = clauses
    return out


def _difference(base_run, run) -> dict:
    """Who enters and leaves against the base, the totals and the parks per region."""
    b = base_run.result.candidates.set_index("application_id")
    s = run.result.candidates.set_index("application_id")
    b_set = set(b.index[b["selected"].fillna(False).astype(bool)])
    s_set = set(s.index[s["selected"].fillna(False).astype(bool)])
    regions = sorted(set(b.loc[list(b_set), "regionsnavn"]) | set(s.loc[list(s_set), "regionsnavn"]))
    return {
        "scenario": run.scenario.id, "title": str(run.scenario.title),
        "status": run.result.selection.status, "proven_optimal": run.result.selection.proven_optimal,
        "entered": sorted(s_set - b_set), "left": sorted(b_set - s_set), "kept": sorted(s_set & b_set),
        "parks": [len(b_set), len(s_set)],
        "total_score": float(s.loc[sorted(s_set), "score_total"].sum()),
        "total_score_base_rules": float(b.loc[sorted(s_set), "score_total"].sum()),
        "base_total_score": float(b.loc[sorted(b_set), "score_total"].sum()),
        "regions": {r: [int((b.loc[list(b_set), "regionsnavn"] == r).sum()),
                        int((s.loc[list(s_set), "regionsnavn"] == r).sum())] for r in regions},
    }


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return value

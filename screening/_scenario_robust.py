"""The robust proposal: the set, within the base rules, whose members are chosen in the most scenarios.

Internal to `screening.scenarios`. Declared objective (`OBJECTIVE`): maximise the number of (member,
scenario) pairs in which the member is chosen, i.e. the sum over the proposal of "chosen in c of S
scenarios"; ties are broken by the members' mean score over the scenarios. It is solved by the same
HiGHS model as every proposal (`screening.selection.select`: the same spread rules, the base scenario's),
with the objective weight of application i

    w_i = 100 * (c_i + d * m_i / 100) / (S + d),   d = 1 / (k_max + 1),

where c_i is the number of scenarios choosing i and m_i its mean score (0-100). Because the tie-break
of a whole proposal (at most k_max members, each below d) stays under one scenario count, maximising
the sum of w_i maximises the count first and the mean score second, and w_i lies in 0..100 as the model
expects. Only applications chosen in at least one scenario take part (the base scenario's own proposal
is among them, so the base rules can always be met); the objective is always the score (never score x
area), whatever the base's ``objective``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from screening import selection as selection_mod
from screening._scenario_reasons import clause, positions
from screening._scenario_words import words
from screening.i18n import N_, fmt_number, gettext

__all__ = ["OBJECTIVE", "RobustProposal", "robust_proposal"]

log = logging.getLogger(__name__)

OBJECTIVE = N_("maximise the number of scenarios in which the members of the proposal are chosen (summed over "
               "the members); ties broken by the members' mean score over the scenarios; under the base rules")
"""The robustness objective in words (shown on the page and written to scenarios.json, translated there)."""


@dataclass(frozen=True)
class RobustProposal:
    """The robust proposal, its proof, and per application its count and the reason it is in or out.

    ``table`` is indexed by ``application_id``: ``chosen_in`` (scenarios choosing it), ``mean_score``,
    ``weight`` (the objective coefficient), ``selected``, ``reason`` (words). ``chosen_pairs`` is the sum of
    ``chosen_in`` over the members, ``best_possible`` the sum of the k_max largest counts (an upper bound,
    reached only when the rules allow it).
    """

    selected: list[str]
    status: str
    proven_optimal: bool
    mip_gap: float | None
    objective: float | None
    chosen_pairs: int
    best_possible: int
    scenarios: int
    table: pd.DataFrame
    solver: dict

    def to_dict(self) -> dict:
        """Plain JSON-able content of ``scenarios.json``'s ``robust_proposal``."""
        rows = self.table.reset_index().to_dict("records")
        for row in rows:  # tens of applications
            row.update({k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()})
            if isinstance(row.get("mean_score"), float) and np.isnan(row["mean_score"]):
                row["mean_score"] = None
        return {"objective": gettext(OBJECTIVE), "status": self.status, "proven_optimal": self.proven_optimal,
                "mip_gap": self.mip_gap, "objective_value": self.objective, "selected": self.selected,
                "chosen_pairs": self.chosen_pairs, "best_possible": self.best_possible,
                "scenarios": self.scenarios, "solver": self.solver, "applications": rows}


def robust_proposal(runs: Sequence, *, towns: gpd.GeoDataFrame | None = None) -> RobustProposal:
    """Solve for the robust proposal of scenario `runs` (base first) under the base scenario's rules.

    Parameters
    ----------
    runs
        `screening.scenarios.ScenarioRun` objects over the same candidates, the base first.
    towns
        Town points with ``population`` (EPSG:25832), for the base's outside-towns minimum.

    Returns
    -------
    RobustProposal
        ``status`` and ``proven_optimal`` as HiGHS reports them through `selection.select`.
    """
    base = runs[0].result.candidates.set_index("application_id", drop=False)
    rules = runs[0].scenario.criteria.selection.model_copy(update={"objective": "score", "alternatives": 0})
    chosen = pd.DataFrame({r.scenario.id: r.result.candidates.set_index("application_id")["selected"]
                           .reindex(base.index).fillna(False).astype(bool) for r in runs})
    scores = pd.DataFrame({r.scenario.id: r.result.candidates.set_index("application_id")["score_total"]
                           .reindex(base.index) for r in runs})
    count = chosen.sum(axis=1).astype(int)
    mean = scores.mean(axis=1)
    d = 1.0 / (rules.k_max + 1)
    weight = 100.0 * (count + d * mean.fillna(0.0) / 100.0) / (len(runs) + d)
    ever = (count > 0).to_numpy()  # only applications chosen somewhere take part (never excluded ones)
    frame = base.loc[ever].drop(columns=["score_total", "designated_2025", "selected", "selection_reason",
                                         "proposal_rank"], errors="ignore").reset_index(drop=True)
    frame["score_total"] = weight[ever].to_numpy()
    sel = selection_mod.select(frame, rules, towns=towns)
    selected = list(sel.selected_ids)
    table = pd.DataFrame({"chosen_in": count, "mean_score": mean, "weight": weight,
                          "selected": base.index.isin(selected)}, index=base.index)
    reasons = _reasons(frame, sel, rules, count, towns, len(runs))
    table["reason"] = [reasons.get(a) or words("robust_count", len(runs), count=fmt_number(int(count[a])))
                       for a in base.index]
    pairs = int(count[table["selected"]].sum())
    best = int(np.sort(count.to_numpy())[::-1][: rules.k_max].sum())
    log.info("robust proposal: %s (%s), %d members chosen in %d scenario-pairs (at most %d)", sel.status,
             "proven optimal" if sel.proven_optimal else "not proven", len(selected), pairs, best)
    return RobustProposal(sorted(selected, key=lambda a: (-count[a], -mean[a], a)), sel.status,
                          sel.proven_optimal, sel.mip_gap, sel.objective, pairs, best, len(runs), table,
                          sel.solver)


def _reasons(frame: pd.DataFrame, sel, rules, count: pd.Series, towns, n: int) -> dict[str, str]:
    """For the applications that took part: "chosen in c of n scenarios" and, when the rules decide it, the
    rule and the member holding its place."""
    table = selection_mod.apply_selection(frame, sel).set_index("application_id", drop=False)
    facts = positions(table.assign(rank=np.nan), rules, towns=towns, value=count.astype(float),
                      unit="scenarios", feasible=sel.objective is not None)
    out = {}
    for aid, fact in facts.items():  # the applications chosen in some scenario (tens)
        head = words("robust_count", n, count=fmt_number(int(count[aid])))
        if fact["kind"] in ("score", "excluded", "no_score"):  # in on its count
            out[aid] = head
        else:
            out[aid] = words("robust_in" if fact["chosen"] else "robust_out", head=head, text=clause(fact))
    return out

"""Why the selection chose what it chose: per-candidate reasons, the back-test, the terminal summary.

The infeasibility statements are made in `screening._selection_search.infeasibility`.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from screening._selection_model import Limits, Problem, Rows, conflicts
from screening.i18n import N_, fmt_number
from screening.i18n import gettext as _

__all__ = ["reasons", "backtest", "summary_text"]

log = logging.getLogger(__name__)


def reasons(problem: Problem, limits: Limits, rows: Rows, chosen: np.ndarray, *, objective: float,
            counterfactual: np.ndarray | None = None) -> list[str]:
    """One sentence per eligible candidate (model column order): why it is, or is not, in the proposal.

    Chosen: score and rank, what it does for its region, distance to the nearest chosen park and, when
    `counterfactual` is given, how much the best proposal loses without it. Not chosen: every rule that
    adding it to the proposal would break (spacing to a named chosen park, municipality already used,
    region maximum reached, proposal full, proportional share), phrased as "outscored ... by X" where a
    better-scored park holds the place, and the counterfactual loss when forced in.

    Parameters
    ----------
    counterfactual
        Best objective with the decision flipped, per column (NaN: no feasible proposal then), or None.
    """
    x = chosen.astype(float)
    activity = rows.matrix @ x
    cols = rows.matrix.tocsc()
    rank = _ranks(problem.weight, problem.ids)
    nearest = _nearest_chosen(problem.xy, chosen)
    partners = _chosen_partners(problem, rows, chosen)
    users = problem.kommune.toarray() > 0  # (n_kommuner, n): municipalities are about a hundred
    lowest = _lowest_chosen(problem, chosen)
    out = []
    for c in range(problem.n):  # one sentence per eligible candidate (tens, at most a few thousand)
        if chosen[c]:
            text = _why_chosen(problem, limits, chosen, c, rank, nearest[c])
            if counterfactual is not None:
                text += _loss("without", objective, counterfactual[c])
        else:
            rows_c = cols.indices[cols.indptr[c]:cols.indptr[c + 1]]
            new = activity[rows_c] + cols.data[cols.indptr[c]:cols.indptr[c + 1]]
            broken = rows_c[(new > rows.upper[rows_c] + 1e-9) | (new < rows.lower[rows_c] - 1e-9)]
            kinds = {rows.kind[r] for r in broken}
            codes = sorted({rows.key[r] for r in broken if rows.kind[r] == "kommune"})
            sharing = np.flatnonzero(chosen & users[users[:, c]].any(axis=0)) if codes else []
            text = _why_not(problem, limits, c, kinds, partners.get(c, []), (codes, sharing), lowest)
            if counterfactual is not None:
                text += _loss("forced", objective, counterfactual[c])
        out.append(text)
    return out


def backtest(frame: pd.DataFrame, breakdown: pd.DataFrame | None) -> dict:
    """Compare the proposal with the 2025 designation, with criterion-level reasons for each difference.

    Parameters
    ----------
    frame
        Indexed by ``application_id``: ``designated_2025`` (bool), ``selected`` (bool), ``score_total``,
        ``regionsnavn``, ``selection_reason``.
    breakdown
        The scoring's long table (``application_id, criterion, title, group, raw_value, unit,
        contribution``), or None (then only total scores are compared).

    Returns
    -------
    dict
        ``designated``, ``proposed``, ``both`` (counts), ``text``, and lists ``designated_not_proposed`` /
        ``proposed_not_designated`` of {application_id, compared_with, reason, differences, text}. Each
        difference pairs a proposed-not-designated application with a designated-not-proposed one (same
        region first, then nearest score).
    """
    designated = frame["designated_2025"].fillna(False).astype(bool)
    proposed = frame["selected"].astype(bool)
    only_d = list(frame.index[designated & ~proposed])
    only_p = list(frame.index[proposed & ~designated])
    pairs = _pair_up(frame, only_d, only_p)
    both = int((designated & proposed).sum())
    result = {
        "designated": int(designated.sum()), "proposed": int(proposed.sum()), "both": both,
        "text": _("The proposal picks %(both)s of the %(designated)s applications designated in 2025.",
                  both=fmt_number(both), designated=fmt_number(int(designated.sum()))),
        "designated_not_proposed": [], "proposed_not_designated": [],
    }
    for aid in only_d:  # differences are a handful of applications
        other = pairs.get(aid)
        diffs = _differences(breakdown, other, aid) if other else []
        text = _("%(id)s designated, not proposed: %(reason)s", id=aid, reason=frame.at[aid, "selection_reason"])
        if other:
            text += _("; vs %(other)s (proposed): %(comparison)s", other=other,
                      comparison=_diff_text(frame, other, aid, diffs))
        result["designated_not_proposed"].append(
            {"application_id": aid, "compared_with": other, "reason": frame.at[aid, "selection_reason"],
             "differences": diffs, "text": text})
    for aid in only_p:
        other = pairs.get(aid)
        diffs = _differences(breakdown, aid, other) if other else []
        text = _("%(id)s proposed, not designated", id=aid)
        text += _(": vs %(other)s (designated): %(comparison)s", other=other,
                  comparison=_diff_text(frame, aid, other, diffs)) if other else ""
        result["proposed_not_designated"].append(
            {"application_id": aid, "compared_with": other, "reason": frame.at[aid, "selection_reason"],
             "differences": diffs, "text": text})
    return result


def summary_text(result, *, limit: int = 25) -> str:
    """Readable summary of a `SelectionResult` for the terminal: proof, proposal, rejections, back-test."""
    if result.status == "infeasible":
        return "\n".join([_("Selection: INFEASIBLE - no proposal meets the rules:"),
                          *[f"  - {s}" for s in result.infeasibility or []]])
    if result.objective is None:
        return _("Selection: %(status)s", status=status_text(result.status))
    proof = _("proven optimal") if result.proven_optimal else _("NOT proven optimal")
    gap = _("n/a") if result.mip_gap is None else f"{fmt_number(100 * result.mip_gap, 4)} %"
    solver = f"{result.solver.get('name')} {result.solver.get('version')}"
    lines = [_("Selection (%(mode)s): %(status)s, %(proof)s; objective %(objective)s, MIP gap %(gap)s, "
               "%(seconds)s s (%(solver)s)", mode=result.mode, status=status_text(result.status), proof=proof,
               objective=fmt_number(result.objective, 1), gap=gap, seconds=fmt_number(result.solve_s, 2),
               solver=solver)]
    if result.greedy_objective is not None:
        lines.append(_("Greedy heuristic (not proven): %(objective)s (%(pct)s %% below)",
                       objective=fmt_number(result.greedy_objective, 1),
                       pct=fmt_number(100 * (1 - result.greedy_objective / result.objective), 2))
                     if result.objective else
                     _("Greedy heuristic: %(objective)s", objective=fmt_number(result.greedy_objective, 1)))
    if result.min_distance_km is not None:
        lines.append(_("Smallest distance between chosen parks: %(km)s km", km=fmt_number(result.min_distance_km, 1)))
    table = result.table
    lines.append(_("Proposal (%(n)s parks):", n=fmt_number(int(table["selected"].sum()))))
    lines += [f"  {i:>2}. {aid:<12} {table.at[aid, 'selection_reason']}" for i, aid in
              enumerate(result.selected_ids, start=1)]
    eligible = table["eligible"] if "eligible" in table else table["selection_reason"].str.startswith("not chosen")
    rejected = table[~table["selected"] & eligible.astype(bool)]
    lines.append(_("Not chosen (%(n)s eligible):", n=fmt_number(len(rejected))))
    lines += [f"      {aid:<12} {why}" for aid, why in rejected["selection_reason"].head(limit).items()]
    if len(rejected) > limit:
        lines.append("      " + _("... %(n)s more in selection.json", n=fmt_number(len(rejected) - limit)))
    for alt in result.alternatives:  # a handful
        diff = alt["differs_from_best"]
        lines.append(_("Alternative #%(rank)s: %(objective)s (%(delta)s); out %(out)s, in %(in)s", rank=alt["rank"],
                       objective=fmt_number(alt["objective"], 1), delta=_signed(alt["delta"]),
                       out=", ".join(diff["out"]) or "-", **{"in": ", ".join(diff["in"]) or "-"}))
    if result.backtest:
        lines.append(_("Back-test: %(text)s", text=result.backtest["text"]))
        for item in result.backtest["designated_not_proposed"] + result.backtest["proposed_not_designated"]:
            lines.append(f"  - {item['text']}")
    return "\n".join(lines)


STATUS_WORDS = {
    "optimal": N_("optimal"), "infeasible": N_("infeasible"), "time limit reached": N_("time limit reached"),
    "greedy fallback (not proven optimal)": N_("greedy fallback (not proven optimal)"),
    "no proposal found": N_("no proposal found"),
    "dispersion search stopped at the time limit": N_("dispersion search stopped at the time limit"),
}
"""The parts of a selection status (``"optimal; greedy fallback (not proven optimal)"``) in words; the status
itself stays English in selection.json (a value programs compare)."""


def status_text(status: str) -> str:
    """A selection status in the current language (its known parts translated, others as they are)."""
    return "; ".join(_(STATUS_WORDS[p]) if p in STATUS_WORDS else p for p in str(status).split("; "))


# --------------------------------------------------------------------------- helpers


def _ranks(weight: np.ndarray, ids: np.ndarray) -> np.ndarray:
    order = np.lexsort((ids, -weight))
    rank = np.empty(len(weight), dtype=int)
    rank[order] = np.arange(1, len(weight) + 1)
    return rank


def _nearest_chosen(xy: np.ndarray, chosen: np.ndarray) -> list[tuple[int, float] | None]:
    """For each column, the nearest OTHER chosen column and its distance in metres (None if none)."""
    idx = np.flatnonzero(chosen)
    d = np.hypot(xy[:, None, 0] - xy[None, idx, 0], xy[:, None, 1] - xy[None, idx, 1])  # n x k, k parks
    d[idx, np.arange(len(idx))] = np.inf
    best = d.argmin(axis=1) if len(idx) else np.zeros(len(xy), dtype=int)
    return [(int(idx[b]), float(d[c, b])) if len(idx) and np.isfinite(d[c, b]) else None
            for c, b in enumerate(best)]


def _chosen_partners(problem, rows, chosen) -> dict[int, list[int]]:
    """Chosen parks closer than the spacing to each candidate, best-scored first."""
    idx = np.flatnonzero(chosen)
    near = conflicts(rows, idx).tocoo()
    out: dict[int, list[int]] = {}
    for a, b in zip(near.row, idx[near.col], strict=True):  # conflicts with the k chosen parks
        if a != b:
            out.setdefault(int(a), []).append(int(b))
    return {c: sorted(ps, key=lambda p: (-problem.score[p], problem.ids[p])) for c, ps in out.items()}


def _lowest_chosen(problem, chosen) -> dict:
    """Lowest-scored chosen park overall (key None) and per region index."""
    idx = np.flatnonzero(chosen)
    order = idx[np.lexsort((problem.ids[idx], problem.score[idx]))]
    out = {None: order[0]} if len(order) else {}
    for c in order[::-1]:  # k parks; the last write per region is its lowest
        out[int(problem.region[c])] = c
    return out


def _why_chosen(problem, limits, chosen, c, rank, nearest) -> str:
    r = problem.region[c]
    name = problem.region_names[r]
    in_region = np.flatnonzero(problem.region == r)
    region_rank = int((rank[in_region] < rank[c]).sum()) + 1
    text = _("chosen: score %(score)s (%(rank)s of %(n)s eligible, %(region_rank)s in %(region)s)",
             score=fmt_number(problem.score[c], 1), rank=_ord(rank[c]), n=fmt_number(problem.n),
             region_rank=_ord(region_rank), region=name)
    if problem.weight[c] != problem.score[c]:
        text += _(", objective weight %(weight)s", weight=fmt_number(problem.weight[c]))
    n_r = int(chosen[problem.region == r].sum())
    if limits.region_min[r] > 0 and n_r <= limits.region_min[r]:
        text += _("; needed for the %(region)s minimum of %(min)s", region=name, min=_g(limits.region_min[r]))
    else:
        bounds = (_("min %(min)s, max %(max)s", min=_g(limits.region_min[r]), max=_g(limits.region_max[r]))
                  if np.isfinite(limits.region_max[r]) else _("min %(min)s", min=_g(limits.region_min[r])))
        text += _("; %(n)s chosen in %(region)s (%(bounds)s)", n=fmt_number(n_r), region=name, bounds=bounds)
    if limits.min_outside_urban > 0 and not problem.urban[c]:
        text += _("; outside the largest urban areas")
    if nearest is not None:
        other, d = nearest
        text += _("; nearest chosen park %(other)s at %(km)s km", other=problem.ids[other], km=fmt_number(d / 1000, 1))
        if limits.spacing_m > 0:
            text += _(" (spacing %(km)s km)", km=_km(limits.spacing_m))
    return text


def _why_not(problem, limits, c, kinds, partners, kommune, lowest) -> str:
    s = problem.score[c]
    parts = []
    for p in partners:  # chosen parks within spacing
        d = np.hypot(*(problem.xy[p] - problem.xy[c])) / 1000
        parts.append(_("within %(km)s km of chosen %(other)s (spacing %(spacing)s km; %(other)s scores "
                       "%(other_score)s vs %(score)s)", km=fmt_number(d, 1), other=problem.ids[p],
                       spacing=_km(limits.spacing_m), other_score=fmt_number(problem.score[p], 1),
                       score=fmt_number(s, 1)))
    codes, sharing = kommune
    if codes:
        parts.append(_("municipality %(codes)s already has chosen %(ids)s (at most %(max)s per municipality, as "
                       "lead or co-applicant)", codes=", ".join(codes), ids=", ".join(problem.ids[sharing]),
                       max=_g(limits.max_per_kommune)))
    if "region" in kinds:
        r = int(problem.region[c])
        parts.append(_outscored(problem, lowest[r], s, _("within %(region)s", region=problem.region_names[r]),
                                _("the region maximum of %(max)s is reached", max=_g(limits.region_max[r]))))
    if "count" in kinds:
        parts.append(_outscored(problem, lowest[None], s, _("in the proposal"),
                                _("the proposal is full (%(k)s parks)", k=fmt_number(limits.k_max))))
    if "share" in kinds:
        parts.append(_("adding it breaks a proportional regional target (tolerance %(tolerance)s parks)",
                       tolerance=_g(limits.share_tol)))
    if not parts:
        return _("not chosen: fits the rules but adding it does not improve the objective")
    # the first listed is the binding reason: a conflict with a named park before a full capacity
    if len(parts) == 1:
        return _("not chosen: %(reason)s", reason=parts[0])
    return _("not chosen: %(reason)s; also %(others)s", reason=parts[0], others="; ".join(parts[1:]))


def _outscored(problem, low, s, where, why) -> str:
    if problem.score[low] >= s:
        return _("outscored %(where)s by %(other)s (%(other_score)s vs %(score)s, %(gap)s): %(why)s", where=where,
                 other=problem.ids[low], other_score=fmt_number(problem.score[low], 1), score=fmt_number(s, 1),
                 gap=_signed(problem.score[low] - s), why=why)
    return _("%(why)s (lowest chosen %(where)s: %(other)s, %(other_score)s)", why=why, where=where,
             other=problem.ids[low], other_score=fmt_number(problem.score[low], 1))


_LOSS = {
    ("without", False): N_("; without it no proposal meets the rules"),
    ("without", True): N_("; without it the best proposal scores %(loss)s less (%(objective)s)"),
    ("forced", False): N_("; forcing it in no proposal meets the rules"),
    ("forced", True): N_("; forcing it in the best proposal scores %(loss)s less (%(objective)s)"),
}


def _loss(what, objective, alt) -> str:
    if alt is None or np.isnan(alt):
        return _(_LOSS[(what, False)])
    return _(_LOSS[(what, True)], loss=fmt_number(objective - alt, 1), objective=fmt_number(alt, 1))


def _km(m: float) -> str:
    """Metres as km in a text: one decimal, none when whole ("40", "2.5")."""
    km = round(m / 1000, 1)
    return fmt_number(km, 0 if km.is_integer() else 1)


def _g(x: float) -> str:
    """A count or limit in a text, like ``%g``: no decimals when whole."""
    return fmt_number(x, 0 if float(x).is_integer() else 2)


def _signed(x: float) -> str:
    """``+1.2`` / ``-0.5`` in the current language."""
    return ("+" if x >= 0 else "") + fmt_number(x, 1)


def _pair_up(frame, only_d, only_p) -> dict[str, str]:
    """Pair designated-not-proposed with proposed-not-designated: same region first, then nearest score."""
    pairs: dict[str, str] = {}
    free = list(only_p)
    for same_region in (True, False):  # two passes
        for d in only_d:
            if d in pairs or not free:
                continue
            region = frame.at[d, "regionsnavn"]
            pool = [p for p in free if not same_region or frame.at[p, "regionsnavn"] == region]
            if pool:
                p = min(pool, key=lambda q: (abs(frame.at[q, "score_total"] - frame.at[d, "score_total"]), q))
                pairs[d], pairs[p] = p, d
                free.remove(p)
    return pairs


def _differences(breakdown, a, b) -> list[dict]:
    """Criteria where `a` beats `b` most, in points (contribution of a minus contribution of b)."""
    if breakdown is None or a is None or b is None or breakdown.empty:
        return []
    sub = breakdown[breakdown["application_id"].isin([a, b])]
    wide = sub.pivot_table(index="criterion", columns="application_id", values="contribution", aggfunc="sum")
    if a not in wide or b not in wide:
        return []
    diff = (wide[a].fillna(0) - wide[b].fillna(0)).sort_values(ascending=False)
    meta = sub.drop_duplicates(["application_id", "criterion"]).set_index(["application_id", "criterion"])
    out = []
    for crit, pts in diff[diff > 0.05].head(3).items():  # the three largest differences
        row_a = meta.loc[(a, crit)] if (a, crit) in meta.index else None
        row_b = meta.loc[(b, crit)] if (b, crit) in meta.index else None
        ref = row_a if row_a is not None else row_b
        out.append({"criterion": crit, "title": ref.get("title", crit), "group": ref.get("group", ""),
                    "points": round(float(pts), 2), "unit": ref.get("unit", ""),
                    "raw": [_raw(row_a), _raw(row_b)]})
    return out


def _diff_text(frame, a, b, diffs) -> str:
    gap = frame.at[a, "score_total"] - frame.at[b, "score_total"]
    text = _("%(id)s scores %(gap)s points (%(score)s vs %(other_score)s)", id=a, gap=_signed(gap),
             score=fmt_number(frame.at[a, "score_total"], 1), other_score=fmt_number(frame.at[b, "score_total"], 1))
    if gap < 0:
        text += _("; %(id)s is in the proposal for the rules (see its reason), not for its score", id=a)
    elif diffs:
        items = [_("%(group)s: %(title)s %(points)s (%(raw)s vs %(other_raw)s %(unit)s)", group=d["group"],
                   title=d["title"], points=_signed(d["points"]), raw=d["raw"][0], other_raw=d["raw"][1],
                   unit=_(_UNITS[d["unit"]]) if d["unit"] in _UNITS else d["unit"]).replace(" )", ")")
                 for d in diffs]  # the three largest differences
        text += _(", mostly %(differences)s", differences=", ".join(items))
    return text


_UNITS = {"persons": N_("persons"), "institutions": N_("institutions"), "areas": N_("areas"),
          "letters": N_("letters"), "points": N_("points")}
"""Criterion units that are words (``unit`` of criteria.yaml), for the back-test's comparisons."""


def _raw(row) -> str:
    if row is None:
        return _("n/a")
    value = row.get("raw_value")
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return _("n/a")
    if isinstance(value, (int, float, np.number)):
        if abs(value) >= 100:
            return fmt_number(float(value))
        three = f"{float(value):.3g}"  # three significant digits, as %.3g, in the current language
        return three if "e" in three else fmt_number(float(value), len(three.split(".")[1]) if "." in three else 0)
    return str(value)


_ORDINALS = {"st": N_("%(rank)sst"), "nd": N_("%(rank)snd"), "rd": N_("%(rank)srd"), "th": N_("%(rank)sth")}
"""English ordinal suffixes as texts, so each language words its own ("1st" / "1.")."""


def _ord(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return _(_ORDINALS[suffix], rank=k)

"""Why the selection chose what it chose: per-candidate reasons, the back-test, the terminal summary.

The infeasibility statements are made in `screening._selection_search.infeasibility`.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from screening._selection_model import Limits, Problem, Rows, conflicts

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
                text += _loss("without it", objective, counterfactual[c])
        else:
            rows_c = cols.indices[cols.indptr[c]:cols.indptr[c + 1]]
            new = activity[rows_c] + cols.data[cols.indptr[c]:cols.indptr[c + 1]]
            broken = rows_c[(new > rows.upper[rows_c] + 1e-9) | (new < rows.lower[rows_c] - 1e-9)]
            kinds = {rows.kind[r] for r in broken}
            codes = sorted({rows.key[r] for r in broken if rows.kind[r] == "kommune"})
            sharing = np.flatnonzero(chosen & users[users[:, c]].any(axis=0)) if codes else []
            text = _why_not(problem, limits, c, kinds, partners.get(c, []), (codes, sharing), lowest)
            if counterfactual is not None:
                text += _loss("forcing it in", objective, counterfactual[c])
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
        "text": f"The proposal picks {both} of the {int(designated.sum())} applications designated in 2025.",
        "designated_not_proposed": [], "proposed_not_designated": [],
    }
    for aid in only_d:  # differences are a handful of applications
        other = pairs.get(aid)
        diffs = _differences(breakdown, other, aid) if other else []
        text = f"{aid} designated, not proposed: {frame.at[aid, 'selection_reason']}"
        if other:
            text += f"; vs {other} (proposed): " + _diff_text(frame, other, aid, diffs)
        result["designated_not_proposed"].append(
            {"application_id": aid, "compared_with": other, "reason": frame.at[aid, "selection_reason"],
             "differences": diffs, "text": text})
    for aid in only_p:
        other = pairs.get(aid)
        diffs = _differences(breakdown, aid, other) if other else []
        text = f"{aid} proposed, not designated"
        text += f": vs {other} (designated): " + _diff_text(frame, aid, other, diffs) if other else ""
        result["proposed_not_designated"].append(
            {"application_id": aid, "compared_with": other, "reason": frame.at[aid, "selection_reason"],
             "differences": diffs, "text": text})
    return result


def summary_text(result, *, limit: int = 25) -> str:
    """Readable summary of a `SelectionResult` for the terminal: proof, proposal, rejections, back-test."""
    if result.status == "infeasible":
        return "\n".join(["Selection: INFEASIBLE - no proposal meets the rules:",
                          *[f"  - {s}" for s in result.infeasibility or []]])
    if result.objective is None:
        return f"Selection: {result.status}"
    proof = "proven optimal" if result.proven_optimal else "NOT proven optimal"
    gap = "n/a" if result.mip_gap is None else f"{100 * result.mip_gap:.4f} %"
    solver = f"{result.solver.get('name')} {result.solver.get('version')}"
    lines = [f"Selection ({result.mode}): {result.status}, {proof}; objective {result.objective:,.1f}, "
             f"MIP gap {gap}, {result.solve_s:.2f} s ({solver})"]
    if result.greedy_objective is not None:
        lines.append(f"Greedy heuristic (not proven): {result.greedy_objective:,.1f} "
                     f"({100 * (1 - result.greedy_objective / result.objective):.2f} % below)"
                     if result.objective else f"Greedy heuristic: {result.greedy_objective:,.1f}")
    if result.min_distance_km is not None:
        lines.append(f"Smallest distance between chosen parks: {result.min_distance_km:.1f} km")
    table = result.table
    lines.append(f"Proposal ({int(table['selected'].sum())} parks):")
    lines += [f"  {i:>2}. {aid:<12} {table.at[aid, 'selection_reason']}" for i, aid in
              enumerate(result.selected_ids, start=1)]
    rejected = table[~table["selected"] & table["selection_reason"].str.startswith("not chosen")]
    lines.append(f"Not chosen ({len(rejected)} eligible):")
    lines += [f"      {aid:<12} {why}" for aid, why in rejected["selection_reason"].head(limit).items()]
    if len(rejected) > limit:
        lines.append(f"      ... {len(rejected) - limit} more in selection.json")
    for alt in result.alternatives:  # a handful
        diff = alt["differs_from_best"]
        lines.append(f"Alternative #{alt['rank']}: {alt['objective']:,.1f} ({alt['delta']:+.1f}); "
                     f"out {', '.join(diff['out']) or '-'}, in {', '.join(diff['in']) or '-'}")
    if result.backtest:
        lines.append("Back-test: " + result.backtest["text"])
        for item in result.backtest["designated_not_proposed"] + result.backtest["proposed_not_designated"]:
            lines.append(f"  - {item['text']}")
    return "\n".join(lines)


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
    text = (f"chosen: score {problem.score[c]:.1f} ({_ord(rank[c])} of {problem.n} eligible, "
            f"{_ord(region_rank)} in {name})")
    if problem.weight[c] != problem.score[c]:
        text += f", objective weight {problem.weight[c]:,.0f}"
    n_r = int(chosen[problem.region == r].sum())
    if limits.region_min[r] > 0 and n_r <= limits.region_min[r]:
        text += f"; needed for the {name} minimum of {int(limits.region_min[r])}"
    else:
        bounds = f"min {limits.region_min[r]:g}" + (f", max {limits.region_max[r]:g}"
                                                     if np.isfinite(limits.region_max[r]) else "")
        text += f"; {n_r} chosen in {name} ({bounds})"
    if limits.min_outside_urban > 0 and not problem.urban[c]:
        text += "; outside the largest urban areas"
    if nearest is not None:
        other, d = nearest
        text += f"; nearest chosen park {problem.ids[other]} at {d / 1000:.1f} km"
        if limits.spacing_m > 0:
            text += f" (spacing {_km(limits.spacing_m)} km)"
    return text


def _why_not(problem, limits, c, kinds, partners, kommune, lowest) -> str:
    s = problem.score[c]
    parts = []
    for p in partners:  # chosen parks within spacing
        d = np.hypot(*(problem.xy[p] - problem.xy[c])) / 1000
        parts.append(f"within {d:.1f} km of chosen {problem.ids[p]} (spacing {_km(limits.spacing_m)} km; "
                     f"{problem.ids[p]} scores {problem.score[p]:.1f} vs {s:.1f})")
    codes, sharing = kommune
    if codes:
        parts.append(f"municipality {', '.join(codes)} already has chosen {', '.join(problem.ids[sharing])} "
                     f"(at most {limits.max_per_kommune:g} per municipality, as lead or co-applicant)")
    if "region" in kinds:
        r = int(problem.region[c])
        parts.append(_outscored(problem, lowest[r], s, f"within {problem.region_names[r]}",
                                f"the region maximum of {limits.region_max[r]:g} is reached"))
    if "count" in kinds:
        parts.append(_outscored(problem, lowest[None], s, "in the proposal",
                                f"the proposal is full ({limits.k_max} parks)"))
    if "share" in kinds:
        parts.append("adding it breaks a proportional regional target "
                     f"(tolerance {limits.share_tol:g} parks)")
    if not parts:
        return "not chosen: fits the rules but adding it does not improve the objective"
    # the first listed is the binding reason: a conflict with a named park before a full capacity
    return "not chosen: " + parts[0] + ("; also " + "; ".join(parts[1:]) if len(parts) > 1 else "")


def _outscored(problem, low, s, where, why) -> str:
    if problem.score[low] >= s:
        return (f"outscored {where} by {problem.ids[low]} ({problem.score[low]:.1f} vs {s:.1f}, "
                f"{problem.score[low] - s:+.1f}): {why}")
    return f"{why} (lowest chosen {where}: {problem.ids[low]}, {problem.score[low]:.1f})"


def _loss(what, objective, alt) -> str:
    if alt is None or np.isnan(alt):
        return f"; {what} no proposal meets the rules"
    return f"; {what} the best proposal scores {objective - alt:.1f} less ({alt:.1f})"


def _km(m: float) -> str:
    return f"{m / 1000:.1f}".removesuffix(".0")


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
    text = (f"{a} scores {gap:+.1f} points "
            f"({frame.at[a, 'score_total']:.1f} vs {frame.at[b, 'score_total']:.1f})")
    if gap < 0:
        text += f"; {a} is in the proposal for the rules (see its reason), not for its score"
    elif diffs:
        text += ", mostly " + ", ".join(f"{d['group']}: {d['title']} {d['points']:+.1f} "
                                        f"({d['raw'][0]} vs {d['raw'][1]} {d['unit']})".replace(" )", ")")
                                        for d in diffs)
    return text


def _raw(row) -> str:
    if row is None:
        return "n/a"
    value = row.get("raw_value")
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    if isinstance(value, (int, float, np.number)):
        return f"{float(value):,.0f}" if abs(value) >= 100 else f"{float(value):.3g}"
    return str(value)


def _ord(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"

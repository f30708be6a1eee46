"""Why an application is, or is not, chosen under one scenario's rules: the facts, derived from the data.

Internal to `screening.scenarios`. `positions` states, for every application under one scenario, the fact
that decides it: a region minimum or the outside-towns minimum holding its place, or its score; or, when it
is left out, the chosen park in its way (closer than the spacing, sharing a municipality, the weakest of a
full region or of a full proposal), by how much that park outscores it and the criteria behind the gap
(from the criterion breakdown). `clause` and `sentence` (`screening._scenario_sentences`, re-exported
here) put facts in words, in the current language (`screening.i18n`); the words live in one table,
`screening._scenario_words.TEXT`. The facts themselves hold numbers and ids, no words, so they can be put
in words in either language.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from screening._scenario_sentences import clause, sentence
from screening._scenario_words import TEXT
from screening.config import Selection

__all__ = ["TEXT", "STATUSES", "status_of", "positions", "clause", "sentence"]

log = logging.getLogger(__name__)

STATUSES = ("chosen", "eligible", "excluded")
"""Status of an application in one scenario's matrix cell."""


def status_of(table: pd.DataFrame) -> np.ndarray:
    """``chosen``, ``eligible`` or ``excluded`` per row (``excluded`` first, then ``selected``)."""
    excluded = table["excluded"].fillna(False).astype(bool).to_numpy()
    chosen = table["selected"].astype("boolean").fillna(False).astype(bool).to_numpy()
    return np.where(excluded, "excluded", np.where(chosen, "chosen", "eligible"))


def positions(table: pd.DataFrame, rules: Selection, *, towns: gpd.GeoDataFrame | None = None,
              contributions: tuple[pd.DataFrame, pd.DataFrame | None] | None = None, value: pd.Series | None = None,
              unit: str = "points", feasible: bool = True, only: np.ndarray | None = None) -> dict[str, dict]:
    """For each application (row of `table`, indexed by ``application_id``), the fact that decides it.

    A chosen application is "needed for" a region minimum (or the outside-towns minimum) when its region
    holds no more chosen parks than the minimum AND a better-valued eligible application is left out (so
    the rule, not its value, holds its place); otherwise it is chosen on its value. For one not chosen,
    the first rule adding it would break names the chosen park that holds the place: a park closer than
    the spacing (the best-valued of them), one sharing a municipality, the weakest of its full region, or
    the weakest of a full proposal; with the value gap and the criteria behind it.

    Parameters
    ----------
    table
        One scenario's candidate table: ``excluded, selected, score_total, rank, regionsnavn,
        kommunekode, co_applicant_kommunekoder, kommunenavn``, polygons in EPSG:25832.
    rules
        That scenario's selection rules.
    contributions
        Points per criterion (applications x criteria, columns are criterion titles) under this scenario
        and under the base: name the criteria behind a score gap or a score change.
    value, unit
        What the proposal maximised per application (default ``score_total``) and its unit: ``points``
        or ``scenarios`` (the robust proposal's counts).
    feasible
        False when the scenario's rules admit no proposal.
    only
        Boolean per row: examine only these (and the chosen); the others get ``{"kind": "not_examined"}``
        (the comparison of thousands of applications skips those never chosen in other scenarios).

    Returns
    -------
    dict
        application_id -> ``{"kind": ..., "chosen": bool, ...facts}``; `clause` puts one in words.
    """
    value = table["score_total"] if value is None else value.reindex(table.index)
    v = value.to_numpy(dtype=float)
    status = status_of(table)
    chosen = status == "chosen"
    xy = shapely.get_coordinates(shapely.centroid(table.geometry.to_numpy()))
    idx = np.flatnonzero(chosen)
    region = table["regionsnavn"].astype(str).to_numpy(dtype=object)
    kommuner = [_kommuner(lead, co) for lead, co in  # text parsing per application (tens)
                zip(table["kommunekode"].to_numpy(dtype=object),
                    table["co_applicant_kommunekoder"].to_numpy(dtype=object), strict=True)]
    urban = _urban(xy, rules, towns) if rules.min_outside_urban > 0 else np.zeros(len(xy), dtype=bool)
    left_out = (status == "eligible") & ~np.isnan(v)
    titles, points, base_points = _points(*(contributions or (None, None)), table.index)
    ids = np.asarray(table.index, dtype=object)
    names = ids.astype(str) + " (" + table["kommunenavn"].astype(str).to_numpy(dtype=str) + ")"
    ctx = _Context(v, unit, names.astype(object),
                   region, kommuner, titles, points, base_points, ids, rules, urban, idx,
                   Counter(k for j in idx for k in kommuner[j]), Counter(region[idx]), _weakest(v, ids, region, idx),
                   float(np.max(v[left_out])) if left_out.any() else -np.inf, int((status != "excluded").sum()),
                   table["rank"].to_numpy(dtype=float))
    facts: dict[int, dict] = {}
    for i in idx:  # the chosen first: a blocked application's reason names their rule
        facts[int(i)] = _why_chosen(int(i), ctx)
    dist = np.hypot(xy[:, None, 0] - xy[None, idx, 0], xy[:, None, 1] - xy[None, idx, 1])  # n x k parks
    for i in range(len(table)):  # one fact per application (tens; a few thousand in the bench)
        if only is not None and not only[i] and not chosen[i]:
            facts[i] = {"kind": "not_examined"}
        elif status[i] == "excluded":
            facts[i] = {"kind": "excluded"}
        elif np.isnan(v[i]):
            facts[i] = {"kind": "no_score"}
        elif not feasible:
            facts[i] = {"kind": "no_proposal"}
        elif not chosen[i]:
            facts[i] = _why_not(i, dist[i], ctx, facts)
    return {aid: {"chosen": bool(chosen[i]), **facts[i]} for i, aid in enumerate(table.index)}


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _Context:
    """One scenario's arrays, aligned to the rows of its table (``chosen`` holds row positions)."""

    value: np.ndarray
    unit: str
    names: np.ndarray
    region: np.ndarray
    kommuner: list
    titles: np.ndarray
    points: np.ndarray | None
    base_points: np.ndarray | None
    ids: np.ndarray
    rules: Selection
    urban: np.ndarray
    chosen: np.ndarray
    used: Mapping[str, int]
    in_region: Mapping[str, int]
    weakest: Mapping[str | None, int]
    best_left_out: float
    eligible: int
    rank: np.ndarray


def _why_chosen(i: int, ctx: _Context) -> dict:
    rules, region = ctx.rules, ctx.region[i]
    displaced = ctx.best_left_out > ctx.value[i]  # a better application is left out: a rule holds this place
    rule = rules.regions.get(region)
    n_region = int((ctx.region[ctx.chosen] == region).sum())
    if displaced and rule is not None and 0 < rule.min and n_region <= rule.min:
        return {"kind": "region_minimum", "region": region, "minimum": rule.min}
    outside = int((~ctx.urban[ctx.chosen]).sum())
    if displaced and rules.min_outside_urban > 0 and not ctx.urban[i] and outside <= rules.min_outside_urban:
        return {"kind": "outside_towns", "minimum": rules.min_outside_urban}
    fact = {"kind": "score", "score": float(ctx.value[i]), "eligible": ctx.eligible,
            "rank": None if np.isnan(ctx.rank[i]) else int(ctx.rank[i]), "delta": None,
            "change_drivers": []}
    if ctx.unit == "points" and ctx.points is not None and ctx.base_points is not None:
        change = ctx.points[i] - ctx.base_points[i]
        delta = float(change.sum())
        if abs(delta) >= 0.05:
            fact["delta"] = round(delta, 2)
            fact["change_drivers"] = _top(ctx.titles, change * np.sign(delta), sign=np.sign(delta))
    return fact


def _why_not(i: int, dist_i: np.ndarray, ctx: _Context, facts: Mapping[int, dict]) -> dict:
    """The first rule adding application `i` would break, with the chosen park that holds the place."""
    rules, idx = ctx.rules, ctx.chosen
    close = np.flatnonzero(dist_i < rules.spacing_km * 1000)
    if len(close):
        close = close[np.lexsort((dist_i[close], -ctx.value[idx[close]]))]  # best-valued first
        j = close[0]
        fact = {"kind": "spacing", "distance_km": float(dist_i[j]) / 1000, "spacing_km": rules.spacing_km,
                **_rival(i, int(idx[j]), ctx, facts)}
        if len(close) > 1 and fact["other_gap"] < 0 and not fact["other_rule"]:  # it would displace several
            others = [{"other": ctx.names[idx[k]], "distance_km": float(dist_i[k]) / 1000} for k in close]
            gap = float(ctx.value[idx[close]].sum() - ctx.value[i])
            fact |= {"kind": "spacing_many", "others": others, "other_gap": round(gap, 2),
                     "other_id": "+".join(str(ctx.ids[idx[k]]) for k in close), "other_drivers": [],
                     "together": True, "other_rule": None}
        return fact
    if rules.max_per_kommune is not None:
        full = sorted(k for k in ctx.kommuner[i] if ctx.used.get(k, 0) >= rules.max_per_kommune)
        if full:
            holder = next(int(j) for j in idx if full[0] in ctx.kommuner[j])
            return {"kind": "kommune", "maximum": rules.max_per_kommune, **_rival(i, holder, ctx, facts)}
    region = ctx.region[i]
    rule = rules.regions.get(region)
    n_region = ctx.in_region.get(region, 0)
    if rule is not None and rule.max is not None and n_region and n_region >= rule.max:
        return {"kind": "region_full", "region": region, "maximum": rule.max,
                **_rival(i, ctx.weakest[region], ctx, facts)}
    if len(idx) and len(idx) >= rules.k_max:
        return {"kind": "full", "k": rules.k_max, **_rival(i, ctx.weakest[None], ctx, facts)}
    return {"kind": "not_better"}


def _rival(i: int, other: int, ctx: _Context, facts: Mapping[int, dict]) -> dict:
    """The chosen park `other` that holds the place of `i`: its name, the gap, the criteria or rule behind it."""
    gap = float(ctx.value[other] - ctx.value[i])
    drivers = []
    if ctx.unit == "points" and ctx.points is not None and gap > 0:
        drivers = _top(ctx.titles, ctx.points[other] - ctx.points[i], sign=1)
    held = facts.get(other, {})
    return {"other": ctx.names[other], "other_id": str(ctx.ids[other]), "other_gap": round(gap, 2),
            "other_drivers": drivers, "unit": ctx.unit,
            "other_rule": {k: held[k] for k in ("kind", "region", "minimum") if k in held}
            if held.get("kind") in ("region_minimum", "outside_towns") else None}


def _urban(xy: np.ndarray, rules: Selection, towns: gpd.GeoDataFrame | None) -> np.ndarray:
    """True where a centroid (EPSG:25832) lies within ``urban_radius_km`` of a town of at least
    ``urban_town_min_population`` inhabitants: the selection's reading of "large towns" (its NOTES)."""
    if towns is None or not len(xy):
        return np.zeros(len(xy), dtype=bool)
    big = towns.geometry.to_numpy()[pd.to_numeric(towns["population"], errors="coerce").to_numpy()
                                    >= rules.urban_town_min_population]
    hit, _ = shapely.STRtree(big).query(shapely.points(xy), predicate="dwithin", distance=rules.urban_radius_km * 1000)
    return np.isin(np.arange(len(xy)), hit)


def _weakest(value: np.ndarray, ids: np.ndarray, region: np.ndarray, chosen: np.ndarray) -> dict:
    """The lowest-valued chosen row overall (key None) and per region (ties: the smaller id)."""
    order = chosen[np.lexsort((ids[chosen].astype(str), value[chosen]))][::-1]  # strongest first
    out: dict[str | None, int] = {}
    for j in order:  # the chosen parks, strongest first: the last write per key is the weakest
        out[None] = out[region[j]] = int(j)
    return out


def _top(titles: np.ndarray, diff: np.ndarray, *, sign: float, n: int = 2) -> list[dict]:
    """The `n` criteria with the largest positive `diff` (points), as ``{title, points}`` (points x `sign`)."""
    order = np.argsort(-diff, kind="stable")[:n]
    return [{"title": str(titles[k]), "points": round(float(sign * diff[k]), 2)} for k in order if diff[k] > 0.05]


def _points(contributions: pd.DataFrame | None, base: pd.DataFrame | None, ids: pd.Index):
    """Criterion titles and the points arrays (rows aligned to `ids`, columns to the titles; 0 where absent)."""
    if contributions is None:
        return np.array([], dtype=object), None, None
    titles = contributions.columns
    mine = contributions.reindex(ids).fillna(0.0).to_numpy(dtype=float)
    before = None if base is None else base.reindex(index=ids, columns=titles).fillna(0.0).to_numpy(dtype=float)
    return titles.to_numpy(dtype=object), mine, before


def _kommuner(lead, co) -> frozenset[str]:
    co = co if isinstance(co, str) else ""
    return frozenset({str(lead).strip()} | {c.strip() for c in co.split(",") if c.strip()})


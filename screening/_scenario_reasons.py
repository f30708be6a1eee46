"""Why an application is, or is not, chosen under one scenario's rules, in words derived from the data.

Internal to `screening.scenarios`. `positions` states, for every application under one scenario, the fact
that decides it: a region minimum or the outside-towns minimum holding its place, or its score; or, when it
is left out, the chosen park in its way (closer than the spacing, sharing a municipality, the weakest of a
full region or of a full proposal), by how much that park outscores it and the criteria behind the gap
(from the criterion breakdown). `clause` and `sentence` put facts in words, in the current language
(`screening.i18n`); the words live in one table, `screening._scenario_words.TEXT`. The facts themselves
hold numbers and ids, no words, so they can be put in words in either language.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from babel import Locale

from screening import i18n
from screening._scenario_words import ORDINALS, RANGE, TEXT, TITLES_REASON, words
from screening.config import Selection
from screening.i18n import fmt_number, gettext

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


def clause(fact: Mapping) -> str:
    """One fact of `positions` in words, e.g. "it is needed for the minimum of 2 parks in Region Sjælland"."""
    kind = fact["kind"]
    compared = _compared(fact) if "other_gap" in fact else ""
    other = fact.get("other", "")
    if kind in ("region_minimum", "outside_towns"):
        return words(kind, rule=_rule(fact))
    if kind == "score":
        values = {"score": fmt_number(fact["score"], 1), "eligible": fmt_number(fact["eligible"]),
                  "rank": "–" if fact["rank"] is None else _ordinal(fact["rank"])}
        if fact.get("delta") is not None and fact.get("change_drivers"):
            return words("score_change", delta=_signed(fact["delta"]), drivers=_drivers(fact["change_drivers"]),
                         **values)
        return words("score", **values)
    if kind == "spacing":
        return words(kind, distance_km=fmt_number(fact["distance_km"]), other=other,
                     spacing_km=_general(fact["spacing_km"]), compared=compared)
    if kind == "spacing_many":
        others = [words("at_km", other=o["other"], distance_km=fmt_number(o["distance_km"])) for o in fact["others"]]
        return words(kind, spacing_km=_general(fact["spacing_km"]), others=_joined(others), compared=compared)
    if kind == "kommune":
        return words(kind, other=other, maximum=_general(fact["maximum"]), compared=compared)
    if kind == "region_full":
        return words(kind, fact["maximum"], region=fact["region"], other=other, compared=compared)
    if kind == "full":
        return words(kind, fact["k"], other=other, compared=compared)
    return words(kind)


def sentence(kind: str, per: Sequence[Mapping], titles: Mapping[str, str], n: int) -> str:
    """The reason of one application in words: its scenarios grouped by outcome and by the fact behind it.

    Parameters
    ----------
    kind
        ``core``, ``swing``, ``never`` or ``excluded``.
    per
        Per scenario (base first): the `positions` fact with ``scenario`` and ``text`` (its `clause`).
    titles
        Scenario id -> title.
    n
        Number of scenarios.
    """
    if kind == "excluded":
        return words("excluded_all")
    if kind == "core":
        return words("core", n)
    base_chosen = per[0]["chosen"]
    parts = []
    for chosen, key in ((True, "chosen_under"), (False, "not_under")):  # the two halves of the sentence
        side = [c for c in per if c["chosen"] == chosen]
        if not side:
            continue
        groups: dict[tuple, list[Mapping]] = {}
        for c in side:  # a handful of scenarios, grouped by the same fact (kind and the park in the way)
            plain = c["kind"] == "score" and chosen == base_chosen
            if plain:
                key_ = ("score",)
            elif "other_gap" in c:  # the same park in the way under the same rule
                key_ = (c["kind"], c["other_id"], c.get("k"), c.get("spacing_km"), c.get("maximum"), c.get("region"))
            else:
                key_ = (c["kind"], c["text"])
            groups.setdefault(key_, []).append(c)
        items = []
        for group_key, members in groups.items():  # a few groups
            text = words("on_score") if group_key == ("score",) else _group_text(members)
            names = [words("title", title=titles[c["scenario"]]) for c in members]
            items.append(TITLES_REASON.format(titles=_joined(names), text=text))
        parts.append("; ".join(items) if kind == "never" else words(key, items="; ".join(items)))
    text = words("never", text=parts[0]) if kind == "never" else "; ".join(parts)
    return text[0].upper() + text[1:]


# --------------------------------------------------------------------------- helpers


def _group_text(members: Sequence[Mapping]) -> str:
    """The clause of scenarios grouped on one fact: the gap as a range, the criteria only if all agree."""
    if len(members) == 1 or "other_gap" not in members[0]:
        return members[0]["text"]
    gaps = [m["other_gap"] for m in members]
    drivers = [[d["title"] for d in m["other_drivers"]] for m in members]
    fact = {k: v for k, v in members[0].items() if k not in ("chosen", "scenario", "text")}
    fact["other_gap"] = (min(gaps), max(gaps))
    fact["other_drivers"] = members[0]["other_drivers"] if all(d == drivers[0] for d in drivers) else []
    if fact["other_drivers"] and min(gaps) != max(gaps):  # points differ per scenario: name the criteria only
        fact["other_drivers"] = [{"title": d["title"], "points": None} for d in fact["other_drivers"]]
    return clause(fact)


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


def _rule(fact: Mapping) -> str:
    """The rule a chosen park is needed for, in words: a region minimum or the outside-towns minimum."""
    if fact["kind"] == "region_minimum":
        return words("rule_region_minimum", fact["minimum"], region=fact["region"])
    return words("rule_outside_towns", fact["minimum"])


def _compared(fields: Mapping) -> str:
    """How the park holding the place compares: its value gap (a number, or a (low, high) range when
    scenarios are grouped), the criteria behind it, or the rule that needs it."""
    gap = fields["other_gap"]
    rule = _rule(fields["other_rule"]) if fields.get("other_rule") else ""
    lo, hi = gap if isinstance(gap, tuple) else (gap, gap)
    counts = fields.get("unit") == "scenarios"
    n_ = round(max(abs(lo), abs(hi)))  # the plural follows the largest number shown
    if fields.get("together") and lo > 0:
        if counts:
            return words("outscore_together_count", n_, gap=_span(lo, hi, 0))
        return words("outscore_together", gap=_span(lo, hi))
    if counts:
        if lo == hi == 0:
            return words("ties_count")
        if lo > 0:
            return words("outscores_count", n_, gap=_span(lo, hi, 0))
        return words("held_by_rules_count", n_, gap=_span(-hi, -lo, 0), rule=rule or words("the_rules"))
    if lo == hi == 0:
        return words("ties")
    if hi < 0:
        return words("held_by_rules", gap=_span(-hi, -lo), rule=rule) if rule else \
            words("held_otherwise", gap=_span(-hi, -lo))
    if lo < 0:
        return words("gap_mixed", gap=_span(lo, hi, signed=True))
    if fields.get("other_drivers"):
        return words("outscores_by", gap=_span(lo, hi), drivers=_drivers(fields["other_drivers"]))
    return words("outscores", gap=_span(lo, hi))


def _span(lo: float, hi: float, decimals: int = 1, *, signed: bool = False) -> str:
    """One number, or a range "13.6–25.1" when the grouped scenarios differ (in the language's format)."""
    fmt = _signed if signed else fmt_number
    a, b = fmt(lo, decimals), fmt(hi, decimals)
    return a if a == b else RANGE.format(lo=a, hi=b)


def _signed(value: float, decimals: int = 1) -> str:
    """A difference with its sign: "+3.8" / "+3,8", "-1.2" / "-1,2"."""
    text = fmt_number(abs(value), decimals)
    negative = value < 0 and text.strip("0.,") != ""
    return ("-" if negative else "+") + text


def _general(value: float) -> str:
    """A rule's value as written, without trailing zeros: 40, 12.5 (12,5 in Danish)."""
    plain = f"{float(value):g}"
    decimals = len(plain.split(".")[1]) if "." in plain and "e" not in plain else 0
    return fmt_number(value, decimals)


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


def _drivers(drivers: Sequence[Mapping]) -> str:
    """Criteria and points in words; a title's first letter lower-cased inside the sentence (not "HV")."""
    return ", ".join(_in_sentence(d["title"]) + ("" if d["points"] is None else f" {_signed(d['points'])}")
                     for d in drivers)


def _in_sentence(title: str) -> str:
    return title[0].lower() + title[1:] if len(title) > 1 and title[1].islower() else title


def _joined(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c" (in the current language)."""
    return items[0] if len(items) == 1 else words("and", items=", ".join(items[:-1]), last=items[-1])


def _kommuner(lead, co) -> frozenset[str]:
    co = co if isinstance(co, str) else ""
    return frozenset({str(lead).strip()} | {c.strip() for c in co.split(",") if c.strip()})


def _ordinal(k: int) -> str:
    """A rank in words: "4th" in English, "nr. 4" in Danish (the language's CLDR ordinal category)."""
    form = Locale.parse(i18n.current()).ordinal_form(k)
    return gettext(ORDINALS.get(form, ORDINALS["other"]), rank=fmt_number(k))

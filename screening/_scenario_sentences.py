"""The facts of `screening._scenario_reasons` in words, in the current language (`screening.i18n`).

Internal to `screening.scenarios` (`_scenario_reasons` re-exports `clause` and `sentence`). `clause` puts
one fact of `positions` in words; `sentence` groups one application's facts across the scenarios by outcome
and by the fact behind it. Numbers, ranges, signed differences and ranks are written for the language;
the phrases themselves live in one table, `screening._scenario_words.TEXT`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from babel import Locale

from screening import i18n
from screening._scenario_words import ORDINALS, RANGE, TITLES_REASON, words
from screening.i18n import fmt_number, gettext

__all__ = ["clause", "sentence"]


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


def _drivers(drivers: Sequence[Mapping]) -> str:
    """Criteria and points in words; a title's first letter lower-cased inside the sentence (not "HV")."""
    return ", ".join(_in_sentence(d["title"]) + ("" if d["points"] is None else f" {_signed(d['points'])}")
                     for d in drivers)


def _in_sentence(title: str) -> str:
    return title[0].lower() + title[1:] if len(title) > 1 and title[1].islower() else title


def _joined(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c" (in the current language)."""
    return items[0] if len(items) == 1 else words("and", items=", ".join(items[:-1]), last=items[-1])



def _ordinal(k: int) -> str:
    """A rank in words: "4th" in English, "nr. 4" in Danish (the language's CLDR ordinal category)."""
    form = Locale.parse(i18n.current()).ordinal_form(k)
    return gettext(ORDINALS.get(form, ORDINALS["other"]), rank=fmt_number(k))

"""The words of the policy scenarios' reasons and summary: one table, translated where used.

Internal to `screening.scenarios`. Source texts are English msgids, marked for extraction (``make
translations``) with `screening.i18n.N_`, or, where the words follow a number, wrapped in a function of that
number calling `screening.i18n.ngettext`; `words` translates one into the current language and fills in its
named placeholders. Numbers are formatted for the language before they are filled in.
"""

from __future__ import annotations

from screening.i18n import N_, gettext, ngettext

__all__ = ["TEXT", "ORDINALS", "STATUS_TEXT", "SOLVER_STATUS", "CHANGE_TEXT", "RANGE", "TITLES_REASON", "words",
           "solver_status"]

TEXT = {
    "smoke_test": N_("SMOKE TEST, NOT EVIDENCE: the inputs are the approximate 2025 applications, whose squares are "
                     "invented and whose positions are mostly guesses; nothing here says anything about the real "
                     "2025 decision."),
    # why an application is chosen under a scenario
    "region_minimum": N_("it is needed for %(rule)s"),
    "outside_towns": N_("it is needed for %(rule)s"),
    "rule_region_minimum": lambda n_, **v: ngettext("the minimum of %(num)s park in %(region)s",
                                                    "the minimum of %(num)s parks in %(region)s", n_, **v),
    "rule_outside_towns": lambda n_, **v: ngettext("the minimum of %(num)s park outside the large towns",
                                                   "the minimum of %(num)s parks outside the large towns", n_, **v),
    "the_rules": N_("the rules"),
    "score": N_("it scores %(score)s (%(rank)s of %(eligible)s)"),
    "score_change": N_("it scores %(score)s (%(rank)s of %(eligible)s), %(delta)s against the base, mostly "
                       "%(drivers)s"),
    "on_score": N_("on its score"),
    # why it is not chosen
    "spacing": N_("it lies %(distance_km)s km from chosen %(other)s (spacing %(spacing_km)s km), %(compared)s"),
    "spacing_many": N_("it lies within %(spacing_km)s km of chosen %(others)s, %(compared)s"),
    "at_km": N_("%(other)s at %(distance_km)s km"),
    "kommune": N_("its municipality already has %(other)s (at most %(maximum)s per municipality), %(compared)s"),
    "region_full": lambda n_, **v: ngettext(
        "%(region)s already has its maximum of %(num)s park and %(other)s %(compared)s",
        "%(region)s already has its maximum of %(num)s parks and %(other)s %(compared)s", n_, **v),
    "full": lambda n_, **v: ngettext(
        "the proposal holds only %(num)s park and %(other)s, the lowest chosen, %(compared)s",
        "the proposal holds only %(num)s parks and %(other)s, the lowest chosen, %(compared)s", n_, **v),
    "not_better": N_("adding it would not raise the total within the rules"),
    "excluded": N_("excluded by the screening"),
    "no_score": N_("not scored"),
    "no_proposal": N_("no proposal meets this scenario's rules"),
    "not_examined": N_("not examined (chosen in no scenario)"),
    # comparing with the park that holds the place
    "outscores": N_("which scores %(gap)s points more"),
    "outscores_by": N_("which scores %(gap)s points more, mostly %(drivers)s"),
    "outscore_together": N_("which together score %(gap)s points more"),
    "outscore_together_count": lambda n_, **v: ngettext("which together are chosen in %(gap)s more scenario",
                                                        "which together are chosen in %(gap)s more scenarios", n_, **v),
    "held_by_rules": N_("which is needed for %(rule)s although it scores %(gap)s points less"),
    "held_otherwise": N_("which fits the rules better although it scores %(gap)s points less"),
    "gap_mixed": N_("whose score differs by %(gap)s points"),
    "outscores_count": lambda n_, **v: ngettext("which is chosen in %(gap)s more scenario",
                                                "which is chosen in %(gap)s more scenarios", n_, **v),
    "held_by_rules_count": lambda n_, **v: ngettext(
        "which is needed for %(rule)s although it is chosen in %(gap)s fewer scenario",
        "which is needed for %(rule)s although it is chosen in %(gap)s fewer scenarios", n_, **v),
    "ties": N_("which scores as much"),
    "ties_count": N_("which is chosen in as many scenarios and scores more on average"),
    # the sentence per application
    "chosen_under": N_("chosen under %(items)s"),
    "not_under": N_("not under %(items)s"),
    "title": N_("'%(title)s'"),
    "and": N_("%(items)s and %(last)s"),
    "core": lambda n_, **v: ngettext("chosen in the one scenario", "chosen in all %(num)s scenarios", n_, **v),
    "never": N_("chosen in no scenario: %(text)s"),
    "excluded_all": N_("excluded by the screening in every scenario"),
    # the robust proposal
    "robust_count": lambda n_, **v: ngettext("chosen in %(count)s of %(num)s scenario",
                                             "chosen in %(count)s of %(num)s scenarios", n_, **v),
    "robust_in": N_("%(head)s; in the robust proposal because %(text)s"),
    "robust_out": N_("%(head)s; left out because %(text)s"),
}
"""Every scenario reason's words (English msgids, translated where used by `words`): a text marked with
`N_`, or, where the words follow a number, a function of that number calling `ngettext`. Placeholders are
named; numbers are formatted for the language (`screening.i18n`) before they are filled in."""

ORDINALS = {"one": N_("%(rank)sst"), "two": N_("%(rank)snd"), "few": N_("%(rank)srd"), "other": N_("%(rank)sth")}
"""A rank in words by the language's ordinal plural category (CLDR, from Babel): 1st, 2nd, 3rd, 4th."""

STATUS_TEXT = {"chosen": N_("chosen"), "eligible": N_("eligible, not chosen"), "excluded": N_("excluded")}
"""A matrix cell's status in words."""

SOLVER_STATUS = {"optimal": N_("optimal"), "infeasible": N_("infeasible"),
                 "time limit reached": N_("time limit reached"),
                 "greedy fallback (not proven optimal)": N_("greedy fallback (not proven optimal)"),
                 "no proposal found": N_("no proposal found"),
                 "dispersion search stopped at the time limit": N_("dispersion search stopped at the time limit")}
"""The solver's status texts (`screening.selection`: HiGHS's model status and the notes added to it) in words."""

CHANGE_TEXT = {
    # sections of criteria.yaml an overlay changes (groups, criteria and bonus are named by their titles)
    "selection": N_("Selection"), "sensitivity": N_("Sensitivity"), "travel": N_("Travel model"),
    # the fields changed
    "weight": N_("weight"), "points": N_("points"), "within_m": N_("within (m)"), "band": N_("point scale"),
    "k_min": N_("fewest parks"), "k_max": N_("most parks"), "objective": N_("objective"),
    "spacing_km": N_("minimum spacing (km)"), "max_per_kommune": N_("most parks per municipality"),
    "min_outside_urban": N_("fewest parks outside the large towns"),
    "urban_town_min_population": N_("large town: fewest inhabitants"), "urban_radius_km": N_("large town: radius (km)"),
    "top_k": N_("top places counted"), "draws": N_("draws"),
    "regions.min": N_("fewest parks in %(region)s"), "regions.max": N_("most parks in %(region)s"),
    # values
    "none": N_("none"), "yes": N_("yes"), "no": N_("no"),
}
"""The rows of a scenario's table of changes against criteria.yaml: sections, fields and values in words (a
field not named here is shown by its key only)."""

RANGE = "{lo}–{hi}"
"""Two numbers as a range (no words: the same in both languages)."""
TITLES_REASON = "{titles} ({text})"
"""Scenario titles and the reason that holds for them (no words)."""


def words(key: str, n_: int | None = None, **values) -> str:
    """The text `key` of `TEXT` in the current language with `values` filled in (`n_`: the number choosing
    the plural form of a text that has one)."""
    entry = TEXT[key]
    return entry(int(n_), **values) if callable(entry) else gettext(entry, **values)


def solver_status(status: str) -> str:
    """A selection's status (e.g. "time limit reached; no proposal found") in the current language; a part
    not in `SOLVER_STATUS` is kept as HiGHS wrote it."""
    return "; ".join(gettext(SOLVER_STATUS[p]) if p in SOLVER_STATUS else p for p in str(status).split("; "))

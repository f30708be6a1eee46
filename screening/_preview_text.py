"""The terminal text of a preview (``industripark preview``): verdict, overlaps, scores, breakdown, rank and
what would raise the score, in the current language (`screening.i18n`; Danish by default).

Internal to `screening.preview` (`render_text` is re-exported there). Every sentence is in `TEXTS`, English
source texts with named placeholders, translated where used; numbers, areas and shares are formatted for the
language.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from screening._figures import unit_word
from screening.i18n import N_, fmt_ha, fmt_number, fmt_percent
from screening.i18n import gettext as _

__all__ = ["TEXTS", "ACTIONS", "render_text"]

TEXTS = {
    "incomplete": N_("INCOMPLETE SCREENING - %(text)s"),
    "provisional": N_("PROVISIONAL DATA - %(text)s"),
    "note": N_("Note: %(text)s"),
    "eligible": N_("ELIGIBLE: passes the exclusions; usable (net) area %(area)s"),
    "not_eligible": N_("NOT ELIGIBLE: %(reasons)s"),
    "buffer": N_("%(layer)s + %(m)s m buffer"),
    "overlap": N_("%(action)s %(layer)s: %(area)s (%(share)s of the site) - %(features)s"),
    "site_incomplete": N_("INCOMPLETE FOR THIS SITE - %(text)s"),
    "flags": N_("Flags: %(flags)s"),
    "score": N_("Score: %(score)s of 100  (%(groups)s; bonus %(bonus)s)"),
    "criterion": N_("criterion"), "raw": N_("raw value"), "points": N_("points"), "how": N_("how"),
    "score_head": N_("score"),
    "of": N_("%(earned)s of %(most)s"),
    "not_assessed": N_("not assessed: %(note)s"),
    "n/a": N_("n/a"),
    "excluded": N_("Rank: not ranked (it is excluded)"),
    "no_reference": N_("Rank: not ranked (no reference set)"),
    "rank": N_("Rank: %(rank)s of %(of)s eligible overall (between %(low)s and %(high)s under other weights), "
               "%(region_rank)s of %(region_of)s in %(region)s"),
    "among": N_("among the %(reference)s"),
    "changes": N_("Changes that would raise the score most:"),
}
"""Every sentence of the preview's terminal text (English source texts, translated where used)."""

ACTIONS = {"exclude": N_("exclude"), "cut": N_("cut"), "flag": N_("flag")}
"""The effect of an exclusion rule, one word each (the overlap lines)."""


def render_text(data: dict, *, group_titles: Mapping[str, str] | None = None) -> str:
    """The preview (`screening.preview.to_dict`) as terminal text in the current language.

    Parameters
    ----------
    data
        `screening.preview.to_dict` of a preview (its texts already in the current language).
    group_titles
        Group id -> the title shown for it (e.g. "Erhvervsinfrastruktur"); ids are shown when absent.
    """
    titles = dict(group_titles or {})
    lines = [_(TEXTS["incomplete"], text=data["incomplete"])] if data["incomplete"] else []
    lines += [_(TEXTS["provisional"], text=f"{p['layer']}: {p['note']}") for p in data.get("provisional", [])]
    lines += [_(TEXTS["note"], text=text) for text in (data["reference"]["note"], *data["warnings"]) if text]
    for a in data["applications"]:  # one block per draft application (a handful)
        lines += ["", f"{a['application_id']}  {a['site_name']}  ({a['kommunenavn']}, {a['regionsnavn']}), "
                      f"{fmt_ha(a['area_ha'])}"]
        lines.append("  " + (_(TEXTS["eligible"], area=fmt_ha(a["net_area_ha"])) if a["eligible"]
                             else _(TEXTS["not_eligible"], reasons=a["exclusion_reasons"])))
        lines += [f"    {_overlap(o)}" for o in a["overlaps"]]  # a few overlapping rules
        if a.get("incomplete"):
            lines.append("  " + _(TEXTS["site_incomplete"], text=a["incomplete"]))
        if a["flags"]:
            lines.append("  " + _(TEXTS["flags"], flags=a["flags"]))
        groups = ", ".join(f"{titles.get(g, g)} {_pts(v)}" for g, v in a["group_scores"].items())
        lines.append("  " + _(TEXTS["score"], score=_pts(a["score_total"]), groups=groups,
                              bonus=_pts(a["bonus_points"])))
        lines.append(f"    {_(TEXTS['criterion']):<22} {_(TEXTS['raw']):>18} {_(TEXTS['score_head']):>5} "
                     f"{_(TEXTS['points']):>12}  {_(TEXTS['how'])}")
        lines += [f"    {_criterion(b)}" for b in a["breakdown"]]  # ~20 criteria
        lines += _rank(a, data["reference"]["label"])
        if a["improvements"]:
            lines.append("  " + _(TEXTS["changes"]))
            lines += [f"    {i}. {t['text']}" for i, t in enumerate(a["improvements"], 1)]
    return "\n".join(lines).lstrip("\n")


# --------------------------------------------------------------------------- helpers


def _overlap(o: Mapping) -> str:
    layer = _(TEXTS["buffer"], layer=o["layer"], m=fmt_number(o["buffer_m"])) if o["buffer_m"] else o["layer"]
    action = _(ACTIONS[o["action"]]) if o["action"] in ACTIONS else str(o["action"])
    return _(TEXTS["overlap"], action=f"{action:<7}", layer=layer, area=fmt_ha(o["overlap_ha"], 2),
             share=fmt_percent(o["overlap_share"]), features=o["features"])


def _criterion(b: Mapping) -> str:
    raw = b["raw_value"]
    raw = "-" if raw is None else (f"{_fmt(raw)} {unit_word(b['unit'])}" if isinstance(raw, (int, float))
                                   and not isinstance(raw, bool) else str(raw))
    how = (b["method"] + (f"; {b['nearest']}" if b["nearest"] else "")) if b["assessed"] \
        else _(TEXTS["not_assessed"], note=b["note"])
    score = fmt_number(b["score"], 2) if b["assessed"] and b["score"] is not None else _(TEXTS["n/a"])
    points = _(TEXTS["of"], earned=f"{fmt_number(b['contribution'], 1):>5}", most=f"{fmt_number(b['weight'], 1):>4}")
    return f"{b['criterion']:<22} {raw[:18]:>18} {score:>5} {points}  {how}"


def _rank(a: Mapping, reference: str) -> list[str]:
    r = a["rank"]
    if r["rank"] is None:
        line = _(TEXTS["excluded"] if not a["eligible"] else TEXTS["no_reference"])
    else:
        line = _(TEXTS["rank"], rank=fmt_number(r["rank"]), of=fmt_number(r["of_overall"]),
                 low=fmt_number(r["rank_min"]), high=fmt_number(r["rank_max"]),
                 region_rank=fmt_number(r["rank_region"]), region_of=fmt_number(r["of_region"]),
                 region=r["regionsnavn"])
    return ["  " + line, "        " + _(TEXTS["among"], reference=reference)]


def _fmt(x: float) -> str:
    return fmt_number(x, 0 if math.isfinite(x) and float(x).is_integer() else 1)


def _pts(x) -> str:
    return _(TEXTS["n/a"]) if x is None else fmt_number(float(x), 1)


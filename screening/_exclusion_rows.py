"""The overlap rows of one exclusion rule and their reason texts, in the current language.

Internal to `screening.exclusion`. `rule_rows` turns a rule's `screening._exclusion_measure.Measure`
into rows of `screening.exclusion.OVERLAP_COLUMNS` (plus ``reason_text``, the reason or flag of each reported
row); the texts name the features, the overlap or cut in hectares and percent, the distance and the limit
in metres (`screening.i18n`), and the note of a provisional copy.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from screening._exclusion_measure import Measure
from screening._geo import M2_PER_HA
from screening._provenance import source_and_date
from screening.config import ExclusionRule
from screening.i18n import fmt_number
from screening.i18n import gettext as _

__all__ = ["rule_rows", "rows", "reason_text", "source_text", "ha", "metres"]


def rule_rows(rule: ExclusionRule, ids: np.ndarray, area_m2: np.ndarray, m: Measure, source: str,
              note: str = "") -> pd.DataFrame:
    """One row per candidate the rule overlaps, comes within `buffer_m` of, or cuts; whether it decides; and
    the text of each reported one (``_text``: a reason for an exclude rule, a flag for a cut or flag rule)."""
    within = ~np.isnan(m.distance_m) & (m.distance_m <= rule.buffer_m)
    hit = (m.overlap_m2 > 0) | (within if rule.buffer_m > 0 else False) | (m.cut_m2 > 0)
    overlap_ha, cut_ha = m.overlap_m2 / M2_PER_HA, m.cut_m2 / M2_PER_HA
    share = np.divide(m.overlap_m2, area_m2, out=np.zeros_like(area_m2), where=area_m2 > 0)
    triggered = within if rule.buffer_m > 0 else overlap_ha > rule.tolerance_ha
    decisive = {"exclude": triggered, "cut": cut_ha > 0, "flag": np.zeros(len(ids), dtype=bool)}[rule.action]
    reported = cut_ha > 0 if rule.action == "cut" else triggered
    text = [reason_text(rule, f, o, s, d, c, a) + (f" — {note}" if note else "") if r else ""  # one per candidate
            for f, o, s, d, c, a, r in zip(m.features, overlap_ha, share, m.distance_m, cut_ha,
                                           area_m2 / M2_PER_HA, reported, strict=True)]
    return rows(rule, ids, source, hit, note, overlap_ha=overlap_ha, overlap_share=share,
                distance_m=m.distance_m, cut_ha=cut_ha, features=m.features, decisive=decisive, _text=text)


def rows(rule: ExclusionRule, ids: np.ndarray, source: str, keep: np.ndarray, note: str = "",
         **columns) -> pd.DataFrame:
    """`columns` per candidate with the rule's id, layer, action, buffer and `source`, kept where `keep`."""
    head = {"application_id": ids, "rule_id": rule.id, "layer": rule.layer, "action": rule.action,
            "buffer_m": float(rule.buffer_m)}
    out = pd.DataFrame({**head, **columns, "source": source, "provisional": note})
    return out.loc[keep].reset_index(drop=True)


def reason_text(rule: ExclusionRule, features: str, overlap_ha: float, share: float, distance_m: float,
                cut_ha: float, area_ha: float) -> str:
    """The reason or flag of one candidate: "<features>: 1.2 ha overlap (3.4 %)", "... cut ...", "... m away ..."."""
    names = features.replace("; ", ", ")
    limit = metres(rule.buffer_m)
    if rule.action == "cut":
        values = {"ha": ha(cut_ha), "pct": fmt_number(100 * cut_ha / area_ha, 1), "limit": limit}
        what = (_("%(ha)s ha cut (%(pct)s %%) within %(limit)s m", **values) if rule.buffer_m > 0
                else _("%(ha)s ha cut (%(pct)s %%)", **values))
    elif rule.buffer_m > 0 and overlap_ha > 0:
        what = _("%(ha)s ha overlap (%(pct)s %%), within the %(limit)s m limit", ha=ha(overlap_ha),
                 pct=fmt_number(100 * share, 1), limit=limit)
    elif rule.buffer_m > 0:
        what = _("%(distance)s m away, within the %(limit)s m limit", distance=fmt_number(distance_m), limit=limit)
    else:
        what = _("%(ha)s ha overlap (%(pct)s %%)", ha=ha(overlap_ha), pct=fmt_number(100 * share, 1))
    return _("%(features)s: %(what)s", features=names, what=what)


def source_text(layer_id: str, layer: gpd.GeoDataFrame) -> str:
    """``natura2000_fuglebeskyttelse (Danmarks Miljøportal, CC0 1.0, 2018-10-31)`` in the current language;
    attrs may be absent."""
    details = [text for text in source_and_date(layer.attrs) if text]
    return f"{layer_id} ({', '.join(details)})" if details else layer_id


def ha(value: float) -> str:
    """Hectares in a text: two decimals below 10 ha, else one, in the current language."""
    return fmt_number(value, 2 if abs(value) < 10 else 1)


def metres(value: float) -> str:
    """A configured limit (metres, hectares) in a text: no decimals when whole, like ``%g``."""
    return fmt_number(value, 0 if float(value).is_integer() else 2)

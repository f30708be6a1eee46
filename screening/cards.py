"""Score cards: one plain-language page per application (``cards/<slug>-<hash>.html``, `card_filename`).

A card says what happened to the site (proposed, eligible or excluded and why), how its score is made up
(table and contribution chart), what would raise it most, how stable its rank is under other weights, where
the site lies relative to the nearest infrastructure (a static map that works offline), and which data with
which dates the verdict rests on.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd

from screening import i18n
from screening._figures import GROUP_COLOURS, MAPPING_WORDS, contribution_charts, format_value, nominal_points
from screening._sitemap import nearest_infrastructure, site_maps
from screening.config import Criteria, Criterion
from screening.errors import ScreeningError
from screening.i18n import N_, fmt_number
from screening.i18n import gettext as _
from screening.maps import STATUS_COLOURS

__all__ = ["FIELD_PHRASES", "write_cards", "card_filename", "improvements", "format_value"]

log = logging.getLogger(__name__)

FIELD_PHRASES = {
    "kb_decision_date": N_("a council decision date (kb_decision_date)"),
    "municipal_land_control": N_("who controls the land (municipal_land_control: owned, option, mixed, private)"),
    "planning_lokalplan_status": N_("the local plan status (planning_lokalplan_status)"),
    "business_loi_count": N_("the number of letters of intent from firms (business_loi_count)"),
    "infra_vand_status": N_("the water supply status (infra_vand_status: existing, planned, none)"),
    "infra_spildevand_status": N_("the waste-water status (infra_spildevand_status: existing, planned, none)"),
    "transport_motorway_km": N_("the road distance to the nearest motorway junction (transport_motorway_km)"),
}
"""Plain words for the submission fields a municipality can state to let a criterion count (English source
texts, translated where used)."""

RAISE_TEXTS = {
    "unknown": N_("%(title)s: %(value)s; the full score would add %(points)s points."),
    "state": N_("Stating %(phrase)s would add %(points)s points."),
    "mapping": N_("%(title)s is '%(value)s'; '%(best)s' would add %(points)s points."),
    "distance": N_("The %(subject)s is %(value)s away%(where)s; within %(full)s would add %(points)s points."),
    "travel_time": N_("%(title)s is %(value)s%(where)s; within %(full)s would add %(points)s points."),
    "more": N_("%(title)s: %(value)s; %(full)s or more would add %(points)s points."),
    "unstated": N_("Stating %(phrase)s would let this criterion count (worth up to %(points)s points)."),
    "field": N_("the field %(field)s"),
}
"""Every sentence of "what would raise the score most", in one place (English source texts with named
placeholders, translated where used)."""
_SUBJECT_PREFIXES = ("Distance to ", "Travel time to ", "Afstand til ", "Køretid til ")
"""Leading words of a distance criterion's title (English and Danish) that the sentence replaces."""

_SLUG_MAX = 60  # characters of the readable part of a card's file name
_TRANSLIT = str.maketrans({"æ": "ae", "Æ": "Ae", "ø": "oe", "Ø": "Oe", "å": "aa", "Å": "Aa", "ß": "ss"})


def write_cards(
    cards_dir: Path, candidates: gpd.GeoDataFrame, breakdown: pd.DataFrame, overlaps: pd.DataFrame, *,
    context: Mapping[str, gpd.GeoDataFrame], criteria: Criteria, env: jinja2.Environment, page: Mapping
) -> dict[str, Path]:
    """Write one card per application, with its chart and site map under ``cards_dir/img/``.

    Parameters
    ----------
    cards_dir
        Folder of the cards (``<run>/cards``); created when absent.
    candidates
        One row per application, EPSG:25832, with the columns of the candidate contract and ``status``.
    breakdown, overlaps
        The long score breakdown and the exclusion overlaps of the run.
    context
        Context layers (EPSG:25832) for the site map and the nearest infrastructure.
    criteria
        The run's criteria: bands, fields and nominal weights for "what would raise the score".
    env
        Template environment with ``card.html.j2``.
    page
        Values every page shows (``banners``, ``run_id``, ``created``, ``config_hash``, ``layers``).

    Returns
    -------
    dict of str to pathlib.Path
        ``card_<id>``, ``chart_<id>`` and ``site_map_<id>`` for every application.
    """
    img_dir = Path(cards_dir) / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    ids = candidates["application_id"].astype(str).tolist()
    stems = {aid: card_filename(aid).removesuffix(".html") for aid in ids}
    if len(set(stems.values())) != len(stems):  # two ids whose 32-bit hashes collide: never silently merge
        clash = pd.Series(list(stems)).groupby(list(stems.values())).agg(list)
        msg = f"application ids {clash[clash.map(len) > 1].iloc[0]} get the same card file name; rename one"
        raise ScreeningError(msg)
    charts = contribution_charts(
        breakdown, {a: img_dir / f"{s}_contributions.svg" for a, s in stems.items()}, criteria=criteria
    )
    nearest = nearest_infrastructure(candidates, context, criteria)
    sites = site_maps(
        candidates, nearest, context, {a: img_dir / f"{s}_site.png" for a, s in stems.items()},
        colours=STATUS_COLOURS
    )
    template = env.get_template("card.html.j2")
    n_eligible = int((candidates["status"] != "excluded").sum())
    bd_ids, ov_ids = breakdown["application_id"].astype(str), overlaps["application_id"].astype(str)
    geom = candidates.geometry.name
    out: dict[str, Path] = {}
    for aid, (_row, cand) in zip(ids, candidates.iterrows(), strict=True):  # one card per application (tens)
        rows = breakdown.loc[bd_ids == aid]
        html = template.render(
            page=page, root="../", c=cand.drop(labels=geom).to_dict(), rows=rows.to_dict("records"),
            overlaps=overlaps.loc[ov_ids == aid].to_dict("records"), raise_most=improvements(rows, criteria),
            groups=_group_scores(cand, criteria), n_eligible=n_eligible, sensitivity=criteria.sensitivity,
            sources=_sources(rows, overlaps.loc[ov_ids == aid], page.get("layers", {})),
            chart=f"img/{charts[aid].name}", site_map=f"img/{sites[aid].name}", colours=STATUS_COLOURS,
            not_assessed=_titles(cand.get("not_assessed"), criteria)
        )
        card = Path(cards_dir) / card_filename(aid)
        card.write_text(html, encoding="utf-8")
        out |= {f"card_{aid}": card, f"chart_{aid}": charts[aid], f"site_map_{aid}": sites[aid]}
    log.info("wrote %d score cards to %s", len(candidates), cards_dir)
    return out


def card_filename(application_id: str) -> str:
    """File name of an application's card: a readable ASCII slug of the id plus a short hash of the exact id.

    Injective in practice (two ids share a name only if their SHA-256 digests share 32 bits; `write_cards`
    refuses that case), bounded (at most 60 + 14 characters, whatever the id's length), safe as a path and a
    URL (letters, digits, ``_`` and ``-`` only: no separators, no ``..``) and distinct on case-insensitive
    disks (the hash is lower-case hex, so ids differing only in case still differ). The same function names
    the card everywhere: the card itself, the index, the map popups and the preview.

    Examples
    --------
    >>> card_filename("VEJ-2026-01"), card_filename("A/1"), card_filename("A_1")
    ('VEJ-2026-01-2ba73e60.html', 'A_1-a5b3d27a.html', 'A_1-47b34af5.html')
    >>> card_filename("Århus Ø/2")
    'Aarhus_Oe_2-477ced74.html'
    """
    text = str(application_id)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    plain = unicodedata.normalize("NFKD", text[:_SLUG_MAX * 4].translate(_TRANSLIT))
    plain = plain.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9-]+", "_", plain)[:_SLUG_MAX].strip("_-") or "site"
    return f"{slug}-{digest}.html"


def improvements(rows: pd.DataFrame, criteria: Criteria, *, limit: int = 3) -> list[dict]:
    """What would raise one application's score most, in plain words, largest gain first.

    For assessed criteria the gain is ``weight - contribution`` (points to full score); for attribute
    criteria the municipality did not state, the gain is the criterion's points when it counts
    ("stating a council decision date would let this criterion count (worth up to 10.0 points)").

    Parameters
    ----------
    rows
        The breakdown rows of one application.
    criteria
        Bands and fields of the criteria; rows whose criterion is unknown use the title only.
    limit
        Number of suggestions returned.

    Returns
    -------
    list of dict
        ``{"criterion", "title", "gain_points", "text"}``, at most `limit`, gains above 0.05 points.
    """
    known = {c.id: c for c in criteria.criteria}
    nominal = nominal_points(criteria)
    found = []
    for row in rows.to_dict("records"):  # the criteria of one application (about twenty)
        crit = known.get(str(row.get("criterion")))
        assessed = bool(row.get("assessed")) and not _missing(row.get("score"))
        if assessed:
            gain = _num(row.get("weight")) - _num(row.get("contribution"))
            text = _raise_text(row, crit, gain) if gain > 0.05 else None
        else:
            gain = _num(row.get("weight")) or nominal.get(str(row.get("criterion")), 0.0)
            text = _unstated_text(crit, gain)
        if text and gain > 0.05:
            found.append(
                {
                    "criterion": row.get("criterion"), "title": row.get("title"),
                    "gain_points": round(gain, 1), "text": text
                }
            )
    return sorted(found, key=lambda d: -d["gain_points"])[:limit]


# --------------------------------------------------------------------------- helpers


def _raise_text(row: Mapping, crit: Criterion | None, gain: float) -> str:
    value = format_value(row.get("raw_value"), row.get("unit"))
    title = str(row.get("title") or (i18n.text(crit.title) if crit else row.get("criterion")))
    points = fmt_number(gain, 1)
    if crit is None:
        return _(RAISE_TEXTS["unknown"], title=title, value=value, points=points)
    if crit.measure == "attribute" and _missing_text(row.get("raw_value")):
        return _(RAISE_TEXTS["state"], phrase=_field_phrase(crit.field), points=points)
    if crit.measure == "attribute" and crit.mapping:
        best = max(crit.mapping, key=crit.mapping.get)
        return _(RAISE_TEXTS["mapping"], title=title, value=value, points=points,
                 best=_(MAPPING_WORDS[best]) if best in MAPPING_WORDS else best.replace("_", " "))
    target = _full_score_raw(crit)
    full = format_value(target, crit.unit)
    if crit.measure in ("distance", "travel_time"):
        near = str(row.get("nearest") or "").strip()
        where = f" ({near})" if near else ""
        kind = "distance" if title.startswith(_SUBJECT_PREFIXES) else "travel_time"
        return _(RAISE_TEXTS[kind], title=title, subject=_subject(title), value=value, where=where, full=full,
                 points=points)
    return _(RAISE_TEXTS["more"], title=title, value=value, full=full, points=points)


def _unstated_text(crit: Criterion | None, worth: float) -> str | None:
    if crit is None:
        return None
    field = crit.field if crit.measure == "attribute" else crit.declared_field
    if not field:
        return None
    return _(RAISE_TEXTS["unstated"], phrase=_field_phrase(field), points=fmt_number(worth, 1))


def _field_phrase(field: str | None) -> str:
    """A submission field in plain words (`FIELD_PHRASES`), or "the field <name>"."""
    return _(FIELD_PHRASES[field]) if field in FIELD_PHRASES else _(RAISE_TEXTS["field"], field=field)


def _full_score_raw(crit: Criterion) -> float | None:
    """The raw value nearest the current range at which the band gives its best score."""
    if crit.band is None:
        return None
    best = max(p[1] for p in crit.band.points)
    xs = [p[0] for p in crit.band.points if p[1] == best]
    decreasing = crit.band.points[0][1] >= crit.band.points[-1][1]
    return max(xs) if decreasing else min(xs)


def _subject(title: str) -> str:
    for prefix in _SUBJECT_PREFIXES:  # four prefixes
        if title.startswith(prefix):
            return title[len(prefix) :]
    return title[:1].lower() + title[1:]


def _titles(ids, criteria: Criteria) -> str:
    """Comma-separated criterion ids (the ``not_assessed`` column) as their titles in the current language."""
    titles = {c.id: i18n.text(c.title) for c in criteria.criteria}
    return "; ".join(titles.get(i.strip(), i.strip()) for i in str(ids or "").split(",") if i.strip())


def _group_scores(cand: pd.Series, criteria: Criteria) -> list[dict]:
    return [
        {
            "id": g.id,
            "title": i18n.text(g.title),
            "weight_pct": g.weight * 100,
            "score": cand.get(f"score_{g.id}"),
            "colour": GROUP_COLOURS.get(g.id, "#737373"),
        }
        for g in criteria.groups
    ]


def _sources(rows: pd.DataFrame, mine: pd.DataFrame, layers: Mapping) -> list[dict]:
    """One row per layer the card rests on: what it was used for, source, date and where it was read."""
    used: dict[str, dict] = {}
    for rec in [*rows.to_dict("records"), *mine.to_dict("records")]:  # tens of rows
        layer = str(rec.get("layer") or "")
        if not layer or layer == "nan":
            continue
        info = layers.get(layer, {})
        entry = used.setdefault(
            layer,
            {
                "layer": layer, "title": i18n.text(info.get("title")), "uses": [],
                "source": rec.get("source") or info.get("source_text") or info.get("source") or "",
                "date": info.get("date_text") or _text(rec.get("date")) or _text(info.get("date")),
                "origin": info.get("origin") or "",
                "provisional": bool(info.get("provisional")), "coverage_note": i18n.text(info.get("coverage_note"))
            },
        )
        use = rec.get("title") or rec.get("rule_id")
        if use and use not in entry["uses"]:
            entry["uses"].append(use)
    return sorted(used.values(), key=lambda d: d["layer"])


def _missing(value) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)) or value is pd.NA


def _missing_text(value) -> bool:
    return _missing(value) or (isinstance(value, str) and value.strip().lower() in ("", "absent"))


def _num(value) -> float:
    return 0.0 if _missing(value) else float(value)


def _text(value) -> str:
    return "" if _missing(value) else str(value)

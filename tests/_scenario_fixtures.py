"""The synthetic applications and scenarios of the scenario tests (tests/test_scenarios.py has the table).

Two attribute criteria (no layers needed) give each site the score 0.5 q + 0.5 a; six 1 km squares on
round EPSG:25832 coordinates, each in its own municipality (A6 is a 100 m square: below the 10 ha minimum).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from shapely.geometry import box

from screening._scenario_config import Scenario, overlay_changes, scenario_criteria
from screening.config import Criteria, LocalText

REGIONS = ("Region Nordjylland", "Region Midtjylland", "Region Syddanmark")
X0, Y0 = 500_000, 6_200_000
SITES = [  # id, region, kommunekode, x km, y km, q, a, side m
    ("A1", "Region Nordjylland", "0851", 0, 300, 90, 90, 1000),
    ("A2", "Region Nordjylland", "0849", 20, 300, 80, 80, 1000),
    ("A3", "Region Midtjylland", "0751", 0, 150, 70, 70, 1000),
    ("A4", "Region Syddanmark", "0561", 0, 0, 40, 40, 1000),
    ("A5", "Region Midtjylland", "0791", 60, 150, 100, 0, 1000),
    ("A6", "Region Syddanmark", "0461", 60, 0, 90, 90, 100),
]


DANISH_TITLES = {"quality": {"da": "Kvalitet", "en": "Quality"}, "access": {"da": "Adgang", "en": "Access"},
                 "q": {"da": "Arealets kvalitet", "en": "Quality of the site"},
                 "a": {"da": "Adgang til arealet", "en": "Access to the site"}}
"""Titles in both languages for `synthetic_criteria(titles=DANISH_TITLES)`."""


def synthetic_criteria(titles: dict | None = None) -> Criteria:
    """Two groups of one attribute criterion each, 1-3 parks, no spacing, no region limit (min 0, no max).

    `titles`: group and criterion id -> title (default: the English titles as plain text)."""
    band = {"points": [[0, 0.0], [100, 1.0]]}
    titles = {"quality": "Quality", "access": "Access", "q": "Quality of the site", "a": "Access to the site"} \
        | (titles or {})
    return Criteria.model_validate({
        "exclusions": {"min_net_area_ha": 10, "rules": []},
        "groups": [{"id": "quality", "title": titles["quality"], "weight": 0.5},
                   {"id": "access", "title": titles["access"], "weight": 0.5}],
        "criteria": [
            {"id": "q", "group": "quality", "title": titles["q"], "measure": "attribute", "field": "q",
             "unit": "points", "weight": 1, "band": band},
            {"id": "a", "group": "access", "title": titles["a"], "measure": "attribute", "field": "a",
             "unit": "points", "weight": 1, "band": band}],
        "travel": {"speeds_kmh": {"motorway": 110}, "default_speed_kmh": 30, "detour_factor": 1.3,
                   "fallback_speed_kmh": 60},
        "sensitivity": {"draws": 20, "top_k": 3},
        "selection": {"k_min": 1, "k_max": 3, "spacing_km": 0, "max_per_kommune": 1, "alternatives": 0,
                      "time_limit_s": 10, "regions": {r: {"min": 0, "max": None} for r in REGIONS}}})


def make_scenario(sid: str, overlay: dict, base: Criteria, title: LocalText | str | None = None) -> Scenario:
    """Scenario `sid` with `overlay` on `base`; its title `title` (default: the id capitalised)."""
    crit = scenario_criteria(base, overlay, path=f"{sid}.yaml")
    return Scenario(sid, title or sid.capitalize(), f"Rationale of {sid}.", "", 0, Path(f"{sid}.yaml"), overlay,
                    crit, overlay_changes(base, overlay))


def synthetic_candidates() -> gpd.GeoDataFrame:
    """The six synthetic applications of `SITES` (EPSG:25832)."""
    rows = [{"application_id": a, "site_name": f"Site {a}", "kommunekode": k, "kommunenavn": f"Kommune {a}",
             "regionskode": "", "regionsnavn": r, "co_applicant_kommunekoder": "", "q": q, "a": acc}
            for a, r, k, _x, _y, q, acc, _s in SITES]
    geoms = [box(X0 + x * 1000, Y0 + y * 1000, X0 + x * 1000 + s, Y0 + y * 1000 + s)
             for _a, _r, _k, x, y, _q, _acc, s in SITES]
    gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs=25832)
    gdf["area_ha"] = gdf.area / 10_000
    return gdf


def english_fragments(*sources: str) -> set[str]:
    """Runs of at least two English words from the texts marked for translation in `sources` (paths under
    screening/, as `make translations` extracts them): what a Danish page or reason must not contain.
    Placeholders split a text into runs; runs whose words are the same in the Danish catalog are left out."""
    import re

    from babel.messages.extract import extract_from_file

    from screening import i18n

    root = Path(__file__).resolve().parents[1] / "screening"
    assert all((root / source).is_file() for source in sources), sources
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    out = set()
    for source in sources:  # a few source files
        method = "jinja2.ext.babel_extract" if source.endswith(".j2") else "python"
        options = {"extensions": "jinja2.ext.i18n", "trimmed": "true"} if method != "python" else {}
        for _line, message, _comments, _context in extract_from_file(method, root / source, keywords=keywords,
                                                                     options=options):
            da = i18n.translations("da")
            danish = " ".join((da.ngettext(*message, 1), da.ngettext(*message, 2))) \
                if isinstance(message, tuple) else da.gettext(message)
            for text in (message if isinstance(message, tuple) else (message,)):  # singular and plural
                for run in re.split(r"%\([a-z_]+\)s|<[^>]+>", text):
                    run = run.strip(" .,:;()'–-")
                    if len(re.findall(r"[A-Za-z]{2,}", run)) >= 2 and run not in danish:
                        out.add(run)
    return out

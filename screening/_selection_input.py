"""From the candidate table to the selection model's arrays: validation, eligibility, `Problem`, `Limits`.

Internal to `screening.selection` (which re-exports `REGIONS`).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from screening._geo import require_crs
from screening._selection_model import Limits, Problem
from screening.config import Selection
from screening.errors import SelectionError
from screening.i18n import fmt_number
from screening.i18n import gettext as _

__all__ = ["REGIONS"]  # and _prepare, _problem, _limits for `screening.selection`

REGIONS = ("Region Nordjylland", "Region Midtjylland", "Region Syddanmark", "Region Hovedstaden",
           "Region Sjælland")
"""The five Danish regions, as ``regionsnavn`` in the DAGI boundaries."""
_REQUIRED = ("application_id", "score_total", "excluded", "regionsnavn", "kommunekode",
             "co_applicant_kommunekoder")


def _prepare(candidates, rules, towns, mode):
    """Validate; return the frame in input order, the eligibility mask and reasons for the ineligible."""
    if mode not in ("score", "dispersion"):
        msg = f"mode was {mode!r} but must be one of 'score', 'dispersion'"
        raise SelectionError(msg)
    require_crs(candidates, "selection candidates")
    missing = [c for c in _REQUIRED if c not in candidates.columns]
    if rules.objective == "score_x_area" and "net_area_ha" not in candidates.columns:
        missing.append("net_area_ha")
    if missing:
        msg = f"selection candidates lack column(s) {missing}; run exclusion and scoring first"
        raise SelectionError(msg)
    frame = candidates.set_index(candidates["application_id"].astype(str).rename("application_id"))
    dupes = sorted(frame.index[frame.index.duplicated()].astype(str).unique())
    if dupes or frame.index.isna().any():
        msg = f"application_id must be unique and set; duplicated: {dupes}"
        raise SelectionError(msg)
    score = pd.to_numeric(frame["score_total"], errors="coerce")
    bad = sorted(frame.index[(score < 0) | (score > 100)])
    if bad or frame["excluded"].isna().any():
        msg = f"score_total must lie in 0..100 and excluded be True/False; check {bad or 'excluded'}"
        raise SelectionError(msg)
    known = set(REGIONS) | set(frame["regionsnavn"].dropna())
    unknown = sorted((set(rules.regions) | set(rules.proportional_targets)) - known)
    if unknown:
        msg = f"selection rules name unknown region(s) {unknown}; allowed: {sorted(known)}"
        raise SelectionError(msg)
    if rules.use_proportional_targets and sum(rules.proportional_targets.values()) > 1 + 1e-6:
        total = sum(rules.proportional_targets.values())
        msg = f"proportional_targets sum to {total:.4f}; they must sum to <= 1 (shares of the parks)"
        raise SelectionError(msg)
    if rules.min_outside_urban > 0 and (towns is None or "population" not in towns.columns):
        msg = "min_outside_urban > 0 needs the towns layer with a 'population' column; pass towns= or set 0"
        raise SelectionError(msg)
    if mode == "dispersion" and rules.k_min < 2:
        msg = f"dispersion mode needs k_min >= 2 (got {rules.k_min}): a distance needs two parks"
        raise SelectionError(msg)
    reason = pd.Series("", index=frame.index, dtype=object)
    excluded = frame["excluded"].astype(bool)
    why = frame["exclusion_reasons"].fillna("").astype(str) if "exclusion_reasons" in frame else ""
    why = why if isinstance(why, pd.Series) else pd.Series(why, index=frame.index)
    reason[excluded] = [_("excluded by screening: %(reasons)s", reasons=w) if w else _("excluded by screening")
                        for w in why[excluded]]  # the excluded applications (tens)
    reason[~excluded & score.isna()] = _("not eligible: no score")
    if mode == "dispersion":
        low = ~excluded & (score < rules.dispersion_min_score)
        threshold = rules.dispersion_min_score
        reason[low] = _("not eligible: score below the dispersion threshold %(threshold)s",
                        threshold=fmt_number(threshold, 0 if float(threshold).is_integer() else 2))
    eligible = reason == ""
    if frame.loc[eligible, "regionsnavn"].isna().any():
        msg = f"regionsnavn is missing for {sorted(frame.index[eligible & frame['regionsnavn'].isna()])}"
        raise SelectionError(msg)
    return frame, eligible.to_numpy(), reason[~eligible]


def _problem(frame, rules, towns) -> Problem:
    """Arrays of the eligible candidates, sorted by application_id."""
    frame = frame.sort_index()
    score = frame["score_total"].to_numpy(dtype=float)
    weight = score.copy()
    if rules.objective == "score_x_area":
        area = pd.to_numeric(frame["net_area_ha"], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(area).all():
            missing = sorted(frame.index[~np.isfinite(area)])
            msg = f"net_area_ha is missing for {missing}; the score_x_area objective needs it"
            raise SelectionError(msg)
        weight = score * area
    xy = shapely.get_coordinates(shapely.centroid(frame.geometry.to_numpy()))
    names = tuple(sorted(set(frame["regionsnavn"]) | set(rules.regions) | set(rules.proportional_targets)))
    region = pd.Categorical(frame["regionsnavn"], categories=names).codes.astype(np.int64)
    sets = [_kommuner(a, lead, co) for a, lead, co in  # string parsing per application (tens)
            zip(frame.index, frame["kommunekode"], frame["co_applicant_kommunekoder"], strict=True)]
    codes = tuple(sorted(set().union(*sets))) if sets else ()
    position = {code: k for k, code in enumerate(codes)}
    rows = np.array([position[k] for s in sets for k in sorted(s)], dtype=np.int64)
    cols = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    kommune = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(len(codes), len(sets)))
    return Problem(frame.index.to_numpy(dtype=str), weight, score, xy, region, names, kommune, codes,
                   _urban(xy, rules, towns))


def _kommuner(aid, lead, co) -> set[str]:
    co = co if isinstance(co, str) else ""
    codes = {str(lead).strip()} | {c.strip() for c in co.split(",") if c.strip()}
    bad = sorted(c for c in codes if not re.fullmatch(r"\d{4}", c))
    if bad:
        msg = f"{aid}: municipality code(s) {bad} are not 4 digits (kommunekode / co_applicant_kommunekoder)"
        raise SelectionError(msg)
    return codes


def _urban(xy, rules, towns) -> np.ndarray:
    if towns is None or len(xy) == 0:
        return np.zeros(len(xy), dtype=bool)
    require_crs(towns, "towns")
    big = towns[pd.to_numeric(towns["population"], errors="coerce") >= rules.urban_town_min_population]
    tree = shapely.STRtree(big.geometry.to_numpy())
    hit, _towns = tree.query(shapely.points(xy), predicate="dwithin", distance=rules.urban_radius_km * 1000)
    return np.isin(np.arange(len(xy)), hit)


def _limits(problem: Problem, rules: Selection) -> Limits:
    names = problem.region_names
    region_min = np.array([rules.regions[r].min if r in rules.regions else 0 for r in names], dtype=float)
    region_max = np.array([rules.regions[r].max if r in rules.regions and rules.regions[r].max is not None
                           else np.inf for r in names], dtype=float)
    shares = np.array([rules.proportional_targets.get(r, np.nan) if rules.use_proportional_targets else np.nan
                       for r in names], dtype=float)
    return Limits(rules.k_min, rules.k_max, rules.spacing_km * 1000, region_min, region_max,
                  np.inf if rules.max_per_kommune is None else float(rules.max_per_kommune), shares,
                  rules.proportional_tolerance_parks, rules.min_outside_urban)


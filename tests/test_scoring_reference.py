"""The vectorised scoring and ranking against simple per-row references on small synthetic cases.

`scoring.score_measured` builds the breakdown column by column (no per-row Python, each text once per
distinct value) and `sensitivity` ranks by sorting packed integer keys; here a plain loop over candidates
and criteria, written from the documented rules (ARCHITECTURE.md "ScoreResult"), and
`scipy.stats.rankdata` give the same answers. Sites on round EPSG:25832 coordinates: five 1 km squares
10 km apart along a row, a substation beside s0 and a line beside s4, so the distances (and so the band
scores) differ per site; an attribute with a known, an empty, an unknown and a missing value; a bonus of
60 points declared by s0, s1 and s2, so the total caps at 100 for the best of them.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from scipy.stats import rankdata
from shapely.geometry import Point, box

from screening import _scoring_breakdown, scoring, sensitivity
from screening.config import Criteria, Sensitivity
from screening.i18n import gettext as _
from screening.i18n import text as _text

X0, Y0 = 550_000, 6_200_000
TRAVEL = {"speeds_kmh": {"motorway": 110}, "default_speed_kmh": 30, "detour_factor": 1.3,
          "fallback_speed_kmh": 60, "access_snap_max_m": 5000}


def _criteria(*, points: float = 60.0, weights=(0.6, 0.4), missing_layer: bool = False) -> Criteria:
    """Group `infra` (substation and line distance, weights 3 and 1; optionally a criterion on a layer that
    is not loaded) and `commit` (a plan status, a letter count); a declared bonus worth `points`."""
    crits = [
        {"id": "sub", "group": "infra", "title": "Substation", "measure": "distance", "layer": "subs",
         "unit": "m", "weight": 3, "band": {"points": [[2000, 1.0], [25000, 0.0]]}},
        {"id": "line", "group": "infra", "title": "Line", "measure": "distance", "layer": "lines",
         "unit": "km", "weight": 1, "band": {"points": [[1, 1.0], [30, 0.0]]}},
        {"id": "plan", "group": "commit", "title": "Plan", "measure": "attribute", "field": "plan",
         "unit": "status", "weight": 2, "mapping": {"adopted": 1.0, "in_preparation": 0.5, "none": 0.0}},
        {"id": "letters", "group": "commit", "title": "Letters", "measure": "attribute", "field": "letters",
         "unit": "letters", "weight": 1, "band": {"points": [[0, 0.0], [4, 1.0]]}},
    ]
    if missing_layer:
        crits.append({"id": "heat", "group": "infra", "title": "Heat", "measure": "distance", "layer": "heat",
                      "unit": "m", "weight": 1, "band": {"points": [[1000, 1.0], [9000, 0.0]]}})
    return Criteria.model_validate({
        "exclusions": {"min_net_area_ha": 10, "rules": []},
        "groups": [{"id": "infra", "title": "Infrastructure", "weight": weights[0]},
                   {"id": "commit", "title": "Commitment", "weight": weights[1]}],
        "criteria": crits,
        "bonus": [{"id": "park", "title": "Energy park", "points": points, "field": "park"}],
        "travel": TRAVEL, "selection": {"k_min": 1, "k_max": 1}})


@pytest.fixture
def sites():
    """Five 1 km squares, s0..s4, 10 km apart eastwards; plan, letters and park as submitted."""
    return gpd.GeoDataFrame(
        {"application_id": [f"s{i}" for i in range(5)],
         "plan": ["adopted", "in_preparation", "", "bogus", None],
         "letters": [4, 1, None, 2, 0],
         "park": ["true", "yes", "ja", "", None]},
        geometry=[box(X0 + 10_000 * i, Y0, X0 + 10_000 * i + 1000, Y0 + 1000) for i in range(5)], crs=25832)


@pytest.fixture
def layers():
    """A substation 500 m north of s0, a line point 2 km north of s4."""
    def points(*xy):
        return gpd.GeoDataFrame(geometry=[Point(p) for p in xy], crs=25832)

    return {"subs": points((X0 + 500, Y0 + 1_500)), "lines": points((X0 + 40_500, Y0 + 3_000))}


def reference(measured: scoring.Measurements, criteria: Criteria) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores and breakdown by a plain loop over candidates and items, from the documented rules."""
    rows, table = [], []
    ids = measured.candidates["application_id"].astype(str).tolist()
    for i, aid in enumerate(ids):  # candidates, then criteria: the slow, obvious way
        s, ok = {}, {}
        for c in criteria.criteria:
            part = measured.parts[c.id].iloc[i]
            ok[c.id] = bool(part["assessed"])
            if not ok[c.id]:
                s[c.id] = np.nan
            elif c.measure == "attribute":
                s[c.id] = part["_value"] if c.mapping is not None else \
                    float(scoring.band_score(c.band.points, [part["_value"]])[0])
            else:
                s[c.id] = float(scoring.band_score(c.band.points, [float(part["raw_value"])])[0])
        within = {g.id: sum(c.weight for c in criteria.criteria if c.group == g.id and ok[c.id])
                  for g in criteria.groups}
        active = sum(g.weight for g in criteria.groups if within[g.id] > 0)
        group_w = {g.id: g.weight / active if within[g.id] > 0 else 0.0 for g in criteria.groups}
        base, group_scores = 0.0, {}
        for g in criteria.groups:
            members = [c for c in criteria.criteria if c.group == g.id and ok[c.id]]
            group_scores[g.id] = (100.0 * sum(c.weight * s[c.id] for c in members) / within[g.id]
                                  if members else np.nan)
        for c in criteria.criteria:
            weight = 100.0 * group_w[c.group] * c.weight / within[c.group] if ok[c.id] else 0.0
            contribution = weight * s[c.id] if ok[c.id] else 0.0
            base += contribution
            part = measured.parts[c.id].iloc[i]
            rows.append({"application_id": aid, "group": c.group, "criterion": c.id, "title": _text(c.title),
                         "raw_value": part["raw_value"], "unit": c.unit, "band": scoring.band_text(c),
                         "score": s[c.id], "weight": weight, "contribution": contribution,
                         "assessed": ok[c.id], **{k: part[k] for k in ("method", "nearest", "note", "layer",
                                                                         "source", "date")}})
        base = base if active > 0 else np.nan
        room, earned = max(0.0, 100.0 - (0.0 if np.isnan(base) else base)), 0.0
        for b in criteria.bonus:
            part = measured.bonus_rows[b.id].iloc[i]
            got = part["earned"] * b.points
            applied = min(got, room)
            room -= applied
            earned += got
            note = part["note"]
            if applied < got - 1e-12:
                note = _("total capped at 100: %(applied)s of %(points)s points applied",
                         applied=_scoring_breakdown.num(applied),
                         points=_scoring_breakdown.num(b.points))
            rows.append({"application_id": aid, "group": "bonus", "criterion": b.id, "title": _text(b.title),
                         "raw_value": part["raw_value"], "unit": "points",
                         "band": _scoring_breakdown._bonus_band(b),
                         "score": (1.0 if got > 0 else 0.0) if part["assessed"] else np.nan,
                         "weight": b.points, "contribution": applied, "assessed": bool(part["assessed"]),
                         **{k: note if k == "note" else part[k] for k in ("method", "nearest", "note", "layer",
                                                                          "source", "date")}})
        not_assessed = ", ".join([c.id for c in criteria.criteria if not ok[c.id]] +
                                 [b.id for b in criteria.bonus if not measured.bonus_rows[b.id].iloc[i]["assessed"]])
        table.append({"application_id": aid, "score_total": min(100.0, base + earned),
                      **{f"score_{g}": v for g, v in group_scores.items()}, "bonus_points": earned,
                      "not_assessed": not_assessed, "flagged": not_assessed != ""})
    return pd.DataFrame(table).set_index("application_id"), pd.DataFrame(rows)


def _same(got: scoring.ScoreResult, ref: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Same values and texts; floats to rounding (the reference sums in another order); dtypes not compared
    (the reference frames are built from Python objects)."""
    scores, breakdown = ref
    assert_frame_equal(got.scores, scores, check_dtype=False, check_index_type=False, rtol=1e-12)
    assert list(got.breakdown.columns) == list(scoring.BREAKDOWN_COLUMNS)
    assert_frame_equal(got.breakdown.drop(columns="raw_value"), breakdown.drop(columns="raw_value"),
                       check_dtype=False, rtol=1e-12)
    pd.testing.assert_series_equal(got.breakdown["raw_value"].astype(str), breakdown["raw_value"].astype(str))


@pytest.mark.parametrize("lang", ["da", "en"])
@pytest.mark.parametrize("kwargs", [{}, {"points": 5.0}, {"weights": (0.1, 0.9)}, {"missing_layer": True}])
def test_score_measured_equals_a_per_row_reference(sites, layers, kwargs, lang):
    from screening import i18n

    crit = _criteria(**kwargs)
    with i18n.use(lang):
        measured = scoring.measure(sites, layers, crit)
        got = scoring.score_measured(measured, crit)
        _same(got, reference(measured, crit))


def test_reference_case_is_what_it_claims(sites, layers):
    """The case exercises what the vectorised path must get right: a capped bonus, texts per row."""
    crit = _criteria()
    got = scoring.score_measured(scoring.measure(sites, layers, crit), crit)
    rows = got.breakdown.set_index(["application_id", "criterion"])
    assert got.scores.loc["s0", "score_total"] == 100.0  # s0: every criterion at 1.0 bar the line, + 60
    assert rows.loc[("s0", "park"), "contribution"] < 60.0
    assert rows.loc[("s0", "park"), "note"] == _("total capped at 100: %(applied)s of %(points)s points applied",
                                                 applied=_scoring_breakdown.num(
                                                     rows.loc[("s0", "park"), "contribution"]),
                                                 points="60")
    assert rows.loc[("s3", "park"), "note"] != ""  # s3 states nothing: not assessed
    assert got.scores["not_assessed"].tolist() == ["", "", "plan, letters", "plan, park", "plan, park"]
    assert got.breakdown["contribution"].groupby(got.breakdown["application_id"], sort=False).sum().to_numpy() \
        == pytest.approx(got.scores["score_total"].to_numpy())


def test_rescoring_leaves_the_measurements_as_they_were(sites, layers):
    measured = scoring.measure(sites, layers, _criteria())
    before = {k: v.copy() for k, v in measured.parts.items()}
    scoring.score_measured(measured, _criteria(points=5.0))
    for k, part in measured.parts.items():
        assert_frame_equal(part, before[k])


@pytest.mark.parametrize("shape", [(500, 300), (40, 7), (1, 1), (3, 2), (0, 4), (4, 0)])
@pytest.mark.parametrize("ties", [False, True])
def test_ranks_equal_scipy_rankdata(shape, ties):
    """Competition ranks of the totals rounded to 9 decimals, with and without ties (and 1e-12 noise)."""
    rng = np.random.default_rng(sum(shape))
    totals = rng.random(shape) * 100
    if ties:
        totals = np.round(totals / 5) * 5 + rng.choice([0.0, 1e-12, -1e-12], size=shape)
    expected = rankdata(-np.round(totals, 9), method="min", axis=1).astype(float)
    np.testing.assert_array_equal(sensitivity._ranks(totals), expected)


def test_ranks_fall_back_to_rankdata_for_non_finite_totals():
    totals = np.array([[3.0, np.nan, 1.0], [2.0, 2.0, 5.0], [np.inf, 0.0, 1e300]])
    with np.errstate(over="ignore", invalid="ignore"):
        expected = rankdata(-np.round(totals, 9), method="min", axis=1).astype(float)
        np.testing.assert_array_equal(sensitivity._ranks(totals), expected)
    big = np.array([[1e8, 1e8 + 1e-10, 5.0]])  # finite but too large to pack: the same ties as rankdata
    np.testing.assert_array_equal(sensitivity._ranks(big), rankdata(-np.round(big, 9), method="min", axis=1))


def test_rank_sensitivity_matches_a_rankdata_reference():
    """The whole sensitivity table against the same draws ranked by scipy."""
    rng = np.random.default_rng(3)
    groups = pd.DataFrame(np.round(rng.random((60, 3)) * 20) * 5, columns=["a", "b", "c"],
                          index=[f"c{i}" for i in range(60)])
    groups.iloc[::7, 1] = np.nan
    weights, cfg = {"a": 0.5, "b": 0.3, "c": 0.2}, Sensitivity(draws=200, concentration=20, top_k=5, seed=11)
    got = sensitivity.rank_sensitivity(groups, weights, cfg)
    w = np.array(list(weights.values()))
    draws = np.random.default_rng(cfg.seed).dirichlet(cfg.concentration * w / w.sum(), size=cfg.draws)
    scores = groups.to_numpy()

    def ranks(vectors):
        return rankdata(-np.round(sensitivity.weighted_totals(scores, vectors), 9), method="min", axis=1)

    at, all_ranks = ranks(w[None, :])[0], ranks(draws)
    assert got["rank"].tolist() == at.tolist()
    assert got["rank_min"].tolist() == np.minimum(all_ranks.min(axis=0), at).tolist()
    assert got["rank_max"].tolist() == np.maximum(all_ranks.max(axis=0), at).tolist()
    assert got["top_k_probability"].tolist() == (all_ranks <= cfg.top_k).mean(axis=0).tolist()

"""The municipality preview: ranking among a reference set, and the real screening of drafts on the mirror."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from screening import _preview_reference, cards, pipeline, preview, preview_card, submissions
from screening.config import load_criteria
from screening.errors import SubmissionError
from tests import _preview_fixtures as fx

GROUPS = ("infrastructure", "transport", "labour", "commitment")


def _apps(rows: list[tuple[str, str, bool, float]]) -> pd.DataFrame:
    """Applications (id, region, excluded, score): every group scores `score`, so the total is `score`
    under any group weights and ranks are known by construction."""
    frame = pd.DataFrame(rows, columns=["application_id", "regionsnavn", "excluded", "score_total"])
    frame["bonus_points"] = 0.0
    for g in GROUPS:
        frame[f"score_{g}"] = frame["score_total"]
    return frame


@pytest.fixture(scope="module")
def criteria():
    """The project's own criteria (four groups, 500 Dirichlet draws, top 11)."""
    return load_criteria()


@pytest.fixture
def reference():
    """A: 80 (R1), B: 50 (R1), C: 70 but excluded (R1), D: 60 (R2)."""
    return _apps([("A", "R1", False, 80.0), ("B", "R1", False, 50.0), ("C", "R1", True, 70.0),
                  ("D", "R2", False, 60.0)])


@pytest.mark.parametrize(
    ("draft", "expected"),
    [
        (("X", "R1", False, 65.0), (2, 4, 2, 3)),      # below A only; in R1 below A, above B
        (("X", "R2", False, 65.0), (2, 4, 1, 2)),      # same score, R2 holds only D
        (("X", "R1", False, 80.0), (1, 4, 1, 3)),      # a tie shares the better rank
        (("X", "R1", False, 10.0), (4, 4, 3, 3)),      # last
        (("A", "R1", False, 10.0), (3, 3, 2, 2)),      # a draft replaces the reference row with its id
    ],
)
def test_rank_against_known_by_construction(criteria, reference, draft, expected):
    ranks = preview.rank_against(_apps([draft]), reference, criteria)
    r = ranks.loc[draft[0]]
    assert (r["rank"], r["of_overall"], r["rank_region"], r["of_region"]) == expected
    assert r["rank_min"] == r["rank_max"] == expected[0]  # equal group scores: weights cannot move it
    assert r["top_k_probability"] == 1.0                     # 4 applications, top 11


def test_rank_against_excluded_draft_or_empty_reference_is_not_ranked(criteria, reference):
    excluded = preview.rank_against(_apps([("X", "R1", True, 90.0)]), reference, criteria)
    assert excluded[["rank", "of_overall", "rank_region"]].isna().all(axis=None)
    alone = preview.rank_against(_apps([("X", "R1", False, 90.0)]), reference.iloc[:0], criteria)
    assert alone[["rank", "rank_min", "of_region"]].isna().all(axis=None)


# --------------------------------------------------------------------------- on the real mirror


@pytest.fixture(scope="module")
def ctx(mirror_root):
    """Layers, rules and the mirror's approximate 2025 applications as reference, loaded once."""
    return fx.mirror_context()


@pytest.fixture
def good_draft(tmp_path):
    """The good Give draft (50 ha, Vejle 0630) as a GeoJSON file."""
    path = tmp_path / "draft.geojson"
    path.write_bytes(fx.good_geojson_bytes())
    return path


def _run(ctx, paths, **kw):
    settings, _, criteria, context = ctx
    return preview.preview(paths, layer_set=context.layer_set, criteria=criteria, settings=settings,
                           reference=context.reference, **kw)


@pytest.mark.mirror
def test_context_uses_the_mirror_reference_and_marks_incomplete(ctx):
    _, _, criteria, context = ctx
    assert context.reference.label.startswith("approximate 2025 applications (15,")
    assert len(context.reference.table) == 15
    assert set(fx.MAKE_ALLOW_MISSING) <= set(context.layer_set.allow_missing)


@pytest.mark.mirror
def test_preview_of_a_good_draft(ctx, good_draft):
    result = _run(ctx, [good_draft])
    row = result.candidates.iloc[0]
    assert row["application_id"] == "VEJ-2026-01"
    assert row["regionsnavn"] == "Region Syddanmark"
    assert not row["excluded"]
    assert row["area_ha"] == pytest.approx(50.0, rel=0.02)
    rows = result.breakdown.loc[result.breakdown["application_id"] == "VEJ-2026-01"]
    assert rows["contribution"].sum() == pytest.approx(row["score_total"], abs=1e-6)
    r = result.ranks.loc["VEJ-2026-01"]
    assert r["of_overall"] == 1 + int((~ctx[3].reference.table["excluded"].astype(bool)).sum())
    assert 1 <= r["rank"] <= r["of_overall"] and 1 <= r["rank_region"] <= r["of_region"]
    assert result.incomplete == "; ".join(f"incomplete: {i} missing"  # layers absent from the server
                                          for i in preview.incomplete_layers(ctx[3].layer_set, ctx[2]))
    assert row["incomplete"] == fx.GIVE_INCOMPLETE  # Give lies outside the § 3 copy's coverage
    tips = result.improvements["VEJ-2026-01"]
    assert 1 <= len(tips) <= 3 and tips == sorted(tips, key=lambda t: -t["gain_points"])


@pytest.mark.mirror
def test_preview_scores_a_2025_application_as_the_state_run_does(ctx, tmp_path):
    """VEJ-2025 exported to GeoJSON and previewed gets the score the reference screening gave it."""
    settings, _, criteria, context = ctx
    apps = gpd.read_file(settings.mirror_root / preview.MIRROR_REFERENCE)
    path = tmp_path / "vej.geojson"
    apps.loc[apps["application_id"] == "VEJ-2025"].to_crs(4326).to_file(path, driver="GeoJSON")
    result = _run(ctx, [path])
    state = context.reference.table.set_index("application_id").loc["VEJ-2025"]
    assert result.candidates.iloc[0]["score_total"] == pytest.approx(state["score_total"], abs=0.01)
    assert bool(result.candidates.iloc[0]["excluded"]) == bool(state["excluded"])


@pytest.mark.mirror
@pytest.mark.parametrize("draft", ["give", "applications_2025"])
def test_preview_numbers_equal_a_screening_of_the_same_file(ctx, good_draft, draft):
    """The server's path (prepared coverages and target times kept from start-up) gives exactly what a
    screening of the same file from nothing gives (`pipeline.assess`, coverages read from the cache, no
    kept travel times): every overlap, raw value, score, contribution and text, to the last bit."""
    from screening import _target_times

    settings, _, criteria, context = ctx
    path = good_draft if draft == "give" else settings.mirror_root / preview.MIRROR_REFERENCE
    result = _run(ctx, [path], prepared=context.prepared)
    _target_times.clear()  # the screening computes its own travel times
    cand = submissions.load_submissions([path], kommuner=context.layer_set.layers["kommuner"])
    state = pipeline.assess(cand, context.layer_set, criteria, settings=settings,
                            allow_missing=_preview_reference.allowed_missing(context.layer_set, criteria), select=False)
    pd.testing.assert_frame_equal(result.breakdown, state.scores.breakdown)
    pd.testing.assert_frame_equal(result.overlaps, state.exclusion.overlaps)
    cols = ["application_id", "excluded", "exclusion_reasons", "net_area_ha", "incomplete", "score_total",
            "bonus_points", "not_assessed", *(f"score_{g.id}" for g in criteria.groups)]
    pd.testing.assert_frame_equal(result.candidates[cols].reset_index(drop=True),
                                  state.candidates[cols].reset_index(drop=True))
    assert result.breakdown["assessed"].sum() > 10 * len(cand)  # travel criteria measured, not skipped
    _target_times.prepare(context.layer_set.layers, criteria)  # as the context had them


@pytest.mark.mirror
def test_preview_excludes_a_site_inside_a_bird_protection_area(ctx, tmp_path):
    """A 50 ha square well inside the largest on-land piece of an SPA overlaps it by 50 ha."""
    settings, _, _, context = ctx
    spa = context.layer_set.layers["natura2000_fuglebeskyttelse"][["geometry"]]
    kommuner = context.layer_set.layers["kommuner"][["kommunekode", "geometry"]]
    pieces = gpd.overlay(spa, kommuner, how="intersection")
    piece = pieces.loc[pieces.area.idxmax()]
    point = piece.geometry.buffer(-600).representative_point()  # the square's corners are 500 m away
    kode = piece["kommunekode"]
    props = dict(fx.GOOD_PROPERTIES, application_id="SPA-2026-01", kommunekode=kode, kommunenavn=None,
                 region=None, area_name="inside an SPA")
    path = tmp_path / "spa.geojson"
    path.write_bytes(fx.square_geojson(point.x, point.y, side_m=707.1, properties=props))
    result = _run(ctx, [path])
    row = result.candidates.iloc[0]
    assert row["excluded"]
    ov = result.overlaps.loc[result.overlaps["rule_id"] == "natura2000_fuglebeskyttelse"].iloc[0]
    assert ov["overlap_ha"] == pytest.approx(50.0, rel=0.02)
    assert pd.isna(result.ranks.loc["SPA-2026-01", "rank"])
    text = preview.render_text(preview.to_dict(result))
    assert "NOT ELIGIBLE" in text and "natura2000_fuglebeskyttelse" in text
    assert "not ranked (it is excluded)" in text


@pytest.mark.mirror
def test_bad_draft_raises_the_submission_problems(ctx, tmp_path):
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(fx.feature_collection(dict(fx.GOOD_PROPERTIES, kommunekode="9999"))))
    with pytest.raises(SubmissionError) as info:
        _run(ctx, [path])
    assert any(p.field == "kommunekode" and "9999" in p.message for p in info.value.problems)


@pytest.mark.mirror
def test_vertex_cap(ctx, good_draft):
    with pytest.raises(SubmissionError, match="a preview accepts at most 4;"):
        _run(ctx, [good_draft], max_vertices=4)


@pytest.mark.mirror
def test_text_json_and_card(ctx, good_draft, tmp_path):
    _, _, criteria, context = ctx
    result = _run(ctx, [good_draft])
    data = preview.to_dict(result)
    app = data["applications"][0]
    assert json.loads(json.dumps(data)) == data  # plain JSON, no NaN
    assert app["eligible"] is True and set(app["group_scores"]) == set(GROUPS)
    text = preview.render_text(data)
    for expected in ("VEJ-2026-01", "ELIGIBLE", f"Score: {app['score_total']:.1f} of 100", "Rank: ",
                     "Changes that would raise the score most:", "INCOMPLETE FOR THIS SITE - " + fx.GIVE_INCOMPLETE):
        assert expected in text
    folder = pipeline.new_run_dir(tmp_path / "reports" / "previews")
    written = preview_card.write_card(result, folder, layer_set=context.layer_set, criteria=criteria)
    assert written == {"VEJ-2026-01": folder / "cards" / cards.card_filename("VEJ-2026-01")}
    card = written["VEJ-2026-01"].read_text(encoding="utf-8")
    assert "Give Øst test site" in card and fx.GIVE_INCOMPLETE in card
    assert "preview only" in card
    saved = json.loads((folder / "preview.json").read_text())
    assert saved["applications"][0]["application_id"] == "VEJ-2026-01"
    assert not (tmp_path / "reports" / "latest").exists()


@pytest.mark.mirror
def test_reference_from_a_run_folder(ctx, tmp_path):
    """A run folder's candidates.parquet is the reference; another configuration hash gives a note."""
    settings, catalog, criteria, context = ctx
    run = tmp_path / "20260301T120000Z"
    run.mkdir()
    table = context.reference.table.assign(geometry=None)
    gpd.GeoDataFrame(table, geometry="geometry", crs=25832).to_parquet(run / "candidates.parquet")
    (run / "manifest.json").write_text(json.dumps({"config_hash": "0000000000000000", "allow_missing": []}))
    ref = preview.load_reference(run, layer_set=context.layer_set, catalog=catalog, criteria=criteria,
                                 settings=settings)
    assert ref.label == "screening run 20260301T120000Z (15 applications)"  # named by id, not by path
    assert "another configuration" in ref.note
    pd.testing.assert_frame_equal(ref.table.reset_index(drop=True),
                                  context.reference.table.reset_index(drop=True), check_dtype=False)


def test_latest_run_is_followed(tmp_path):
    """``reports/latest`` (a link) or ``latest.txt`` names the run; a run without its parquet is ignored."""
    run = tmp_path / "20260301T120000Z"
    run.mkdir()
    assert _preview_reference.latest_run(tmp_path) is None
    (tmp_path / "latest.txt").write_text(run.name + "\n")
    assert _preview_reference.latest_run(tmp_path) is None
    (run / "candidates.parquet").write_bytes(b"")
    assert _preview_reference.latest_run(tmp_path) == run


def test_preview_runs_the_state_steps(monkeypatch, tmp_path, criteria):
    """Without layers: `preview` is load_submissions -> pipeline.assess(select=False) -> rank (fakes)."""
    calls = []
    cand = gpd.GeoDataFrame(_apps([("X", "R1", False, 65.0)]).assign(site_name="s", kommunenavn="k"),
                            geometry=gpd.points_from_xy([0], [0]), crs=25832)
    breakdown = pd.DataFrame({
        "application_id": ["X"], "group": ["commitment"], "criterion": ["council_decision"],
        "title": ["Kommunalbestyrelse decision to apply"], "raw_value": ["(not stated)"], "unit": ["date"],
        "score": [0.0], "weight": [6.667], "contribution": [0.0], "assessed": [True], "method": [""],
        "nearest": [""], "note": [""]})
    monkeypatch.setattr(submissions, "load_submissions", lambda p, **kw: calls.append(("load", kw)) or cand)

    def fake_assess(c, layer_set, crit, **kw):
        calls.append(("assess", kw))
        exclusion_result = type("E", (), {"overlaps": pd.DataFrame(), "provisional": {}})()
        return pipeline.RunResult(candidates=c, exclusion=exclusion_result,
                                  scores=type("S", (), {"breakdown": breakdown})(), selection=None,
                                  layers=layer_set, manifest={})

    monkeypatch.setattr(pipeline, "assess", fake_assess)
    layer_set = type("L", (), {"layers": {"kommuner": None}, "missing": {"natura2000_habitat": "absent"},
                               "allow_missing": ()})()
    ref = preview.Reference(_apps([("A", "R1", False, 80.0)]), "test")
    result = preview.preview([tmp_path / "x.geojson"], layer_set=layer_set, criteria=criteria, settings=None,
                             reference=ref)
    assert [c[0] for c in calls] == ["load", "assess"]
    assert calls[1][1]["select"] is False and calls[1][1]["allow_missing"] == ("natura2000_habitat",)
    assert result.ranks.loc["X", "rank"] == 2 and result.candidates.iloc[0]["rank"] == 2
    assert result.improvements["X"][0]["gain_points"] == pytest.approx(6.7)
    assert np.isclose(result.candidates.iloc[0]["top_k_probability"], 1.0)


# --------------------------------------------------------------------------- a handful of areas


@pytest.mark.mirror
def test_the_hostile_5000_feature_file_is_refused_before_it_is_read(ctx, tmp_path, monkeypatch):
    path = tmp_path / "many.geojson"
    path.write_bytes(fx.many_features_bytes())

    def not_read(*args, **kwargs):
        raise AssertionError("the file was read whole")

    monkeypatch.setattr(submissions, "load_submissions", not_read)
    with pytest.raises(SubmissionError) as info:
        _run(ctx, [path])
    (problem,) = info.value.problems
    assert problem.field == "file" and problem.file.endswith("many.geojson")
    assert f"5,000 features; a preview takes at most {preview.MAX_PREVIEW_FEATURES}" in problem.message


@pytest.mark.mirror
@pytest.mark.parametrize("n", [preview.MAX_PREVIEW_FEATURES, preview.MAX_PREVIEW_FEATURES + 1])
def test_the_feature_limit_is_exact(ctx, tmp_path, n):
    from tests._hostile_fixtures import many_sites

    sites = many_sites(ctx[3].layer_set.layers["kommuner"], n, seed=1)
    path = tmp_path / "few.geojson"
    sites.to_crs(4326).to_file(path, driver="GeoJSON")
    assert preview._preview_guards.count_features(path) == n
    if n > preview.MAX_PREVIEW_FEATURES:
        with pytest.raises(SubmissionError, match=f"holds {n} features"):
            preview._preview_guards.check_feature_count([path])
    else:
        preview._preview_guards.check_feature_count([path])


@pytest.mark.mirror
def test_cli_preview_refuses_the_hostile_file_clearly(mirror_root, tmp_path):
    from click.testing import CliRunner

    from screening.cli import main

    path = tmp_path / "many.geojson"
    path.write_bytes(fx.many_features_bytes())
    res = CliRunner().invoke(main, ["preview", str(path), "--out", str(tmp_path / "out"),
                                    *(f"--allow-missing={i}" for i in fx.MAKE_ALLOW_MISSING)])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "5,000 features; a preview takes at most 25" in text and "industripark screen" in text
    assert "Traceback" not in res.output
    assert not (tmp_path / "out" / "previews").exists() or not any((tmp_path / "out" / "previews").iterdir())

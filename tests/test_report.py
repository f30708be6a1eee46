"""The report: index, map and score cards written from synthetic run data (tests/_report_fixtures.py)."""

from __future__ import annotations

import doctest
import re

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon, box

from screening import _figures, _sitemap, cards, maps, report
from screening.config import load_criteria
from screening.errors import CRSError, ScreeningError
from tests._report_fixtures import SITES, X0, Y0, mirror_context, mirror_run, synthetic_context, synthetic_run

BANNER = "incomplete: natura2000_habitat missing"


def _write(run_dir, *, incomplete=True, **changes):
    run = synthetic_run(incomplete=incomplete) | changes
    return report.write_report(
        run_dir, run["candidates"], run["breakdown"], run["overlaps"], run["selection"], run["manifest"],
        context=synthetic_context(), criteria=run["criteria"]
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A synthetic incomplete run written once: six applications, candidates.csv present beside it."""
    path = tmp_path_factory.mktemp("run")
    (path / "candidates.csv").write_text("application_id\nA1\n", encoding="utf-8")
    paths = _write(path)
    return path, paths


def _pages(path):
    return [path / "index.html", path / "map.html", *sorted((path / "cards").glob("*.html"))]


def test_write_report_returns_every_page(run_dir):
    path, paths = run_dir
    ids = [s[0] for s in SITES]
    assert paths["index"] == path / "index.html"
    assert paths["map"] == path / "map.html"
    assert sorted(p.name for p in (path / "cards").glob("*.html")) == sorted(cards.card_filename(i) for i in ids)
    for aid in ids:
        assert paths[f"card_{aid}"] == path / "cards" / cards.card_filename(aid)
        assert paths[f"chart_{aid}"].suffix == ".svg" and paths[f"chart_{aid}"].stat().st_size > 1000
        assert paths[f"site_map_{aid}"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_incomplete_banner_on_every_page(run_dir):
    path, _ = run_dir
    pages = _pages(path)
    assert len(pages) == 8  # index, map, six cards
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert BANNER in html, page.name
        assert "not in the mirror and the official source is offline" in html, page.name
        assert 'id="incomplete-banner"' in html, page.name


def test_complete_run_has_no_banner(tmp_path):
    run = synthetic_run(incomplete=False)
    keep = ["A1", "A5"]  # one proposed, one excluded: enough pages, half the drawing
    _write(
        tmp_path, incomplete=False, candidates=run["candidates"].iloc[[0, 4]],
        breakdown=run["breakdown"].loc[run["breakdown"]["application_id"].isin(keep)],
        overlaps=run["overlaps"].loc[run["overlaps"]["application_id"].isin(keep)]
    )
    assert len(_pages(tmp_path)) == 4
    for page in _pages(tmp_path):
        html = page.read_text(encoding="utf-8")
        assert 'id="incomplete-banner"' not in html and "incomplete:" not in html, page.name


def test_map_needs_no_network(run_dir):
    """Leaflet is inlined; the only external URL is the optional basemap's tile template."""
    html = (run_dir[0] / "map.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=\"https?:", html)
    assert "L.map(" in html and "Leaflet 1.9" in html
    assert re.findall(r"https?://[^\"' ]*\{z\}[^\"' ]*", html) == [
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    ]
    assert "Basemap: OpenStreetMap (needs internet)" in html
    assert "Municipalities (simplified 100 m)" in html  # the tolerance is stated in the layer name


def test_map_marks_each_candidate(run_dir):
    html = (run_dir[0] / "map.html").read_text(encoding="utf-8")
    for aid, *_, status in SITES:
        assert f"candidate candidate-marker candidate-{status} cand-{aid}" in html
        assert f"candidate candidate-site candidate-{status} cand-{aid}" in html
        card = cards.card_filename(aid)
        assert f'href=\\"cards/{card}\\"' in html or f'href="cards/{card}"' in html


def test_index_lists_ranking_proposal_and_existing_downloads(run_dir):
    html = (run_dir[0] / "index.html").read_text(encoding="utf-8")
    for aid, *_ in SITES:
        assert f'href="cards/{cards.card_filename(aid)}"' in html
    assert 'href="map.html"' in html
    assert "proven optimal" in html and "optimal" in html
    assert "out: A1; in: A3" in html  # the alternative, as its difference from the proposal
    assert "The proposal picks 1 of the 2 applications designated in 2025." in html
    assert "<li>A3 designated, not proposed</li>" in html
    assert 'href="candidates.csv"' in html
    assert 'href="candidates.gpkg"' not in html  # not written in this folder, so not linked
    counts = dict(re.findall(r'id="count-(\w+)"[^>]*>(\d+)<', html))
    assert counts == {"all": "6", "excluded": "2", "eligible": "2", "proposed": "2"}


@pytest.mark.parametrize(
    ("aid", "words"),
    [
        (
            "A1",
            [
                "Proposed.", "number 2 of the proposal", "What would raise the score most",
                "Rank <strong>4</strong>"
            ],
        ),
        ("A3", ["Eligible, not proposed.", "a higher-scoring site in the same region"]),
        ("A5", ["Excluded.", "Natura 2000 F-område &#39;Vejlerne&#39;", "excludes the site", "not ranked"]),
    ],
)
def test_card_says_verdict_in_plain_words(run_dir, aid, words):
    stem = cards.card_filename(aid).removesuffix(".html")
    html = (run_dir[0] / "cards" / f"{stem}.html").read_text(encoding="utf-8")
    for word in words:
        assert word in html, word
    assert f'src="img/{stem}_contributions.svg"' in html and f'src="img/{stem}_site.png"' in html
    assert 'id="sources"' in html and "Test source, CC0" in html


def test_write_report_refuses_other_crs(tmp_path):
    run = synthetic_run()
    with pytest.raises(CRSError, match="EPSG:4326"):
        _write(tmp_path, candidates=run["candidates"].to_crs(4326))


def test_write_report_names_missing_column(tmp_path):
    run = synthetic_run()
    with pytest.raises(ScreeningError, match=r"lack column\(s\) \['score_total'\]"):
        _write(tmp_path, candidates=run["candidates"].drop(columns="score_total"))


@pytest.mark.parametrize(
    ("excluded", "selected", "expected"),
    [
        (True, True, "excluded"),  # excluded wins over a stray selected flag
        (False, True, "proposed"),
        (False, False, "eligible"),
        (False, None, "eligible"),  # selection not run
    ],
)
def test_candidate_status(excluded, selected, expected):
    frame = pd.DataFrame({"excluded": [excluded], "selected": [selected]})
    assert maps.candidate_status(frame).tolist() == [expected]


def _rows(*records):
    cols = [
        "application_id", "group", "criterion", "title", "raw_value", "unit", "score", "weight",
        "contribution", "assessed", "nearest"
    ]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in records])


def test_improvements_largest_gap_first_in_plain_words():
    criteria = load_criteria()
    rows = _rows(
        # 14.2 km from a substation: band 2 km -> 1.0, 25 km -> 0.0; score 0.4696, 11.25 points
        (
            "X", "infrastructure", "hv_substation", "Distance to nearest high-voltage substation", 14_200.0,
            "m", 0.4696, 11.25, 5.28, True, "400 kV Idomlund"
        ),
        (
            "X", "commitment", "council_decision", "Kommunalbestyrelse decision to apply", None, "date",
            float("nan"), 0.0, 0.0, False, ""
        ),
        (
            "X", "commitment", "lokalplan_status", "Local plan status", "in_preparation", "status", 0.5, 3.33,
            1.67, True, ""
        ),
        (
            "X", "transport", "rail_station", "Distance to nearest rail station", 1_500.0, "m", 1.0, 3.57,
            3.57, True, "Vejle St."
        ),  # full score: nothing to gain
    )
    assert cards.improvements(rows, criteria) == [
        {
            "criterion": "council_decision",
            "title": "Kommunalbestyrelse decision to apply",
            "gain_points": 6.7,
            "text": "Stating a council decision date (kb_decision_date) would let this criterion count "
                    "(worth up to 6.7 points).",
        },
        {
            "criterion": "hv_substation",
            "title": "Distance to nearest high-voltage substation",
            "gain_points": 6.0,
            "text": "The nearest high-voltage substation is 14.2 km away (400 kV Idomlund); "
                    "within 2 km would add 6.0 points.",
        },
        {
            "criterion": "lokalplan_status", "title": "Local plan status", "gain_points": 1.7,
            "text": "Local plan status is 'in preparation'; 'adopted' would add 1.7 points."
        },
    ]


def test_nearest_infrastructure_known_by_construction():
    """A 1 km square site; a substation 3 km east of its east edge, a 'joint' 1 km east (filtered out)."""
    criteria = load_criteria()
    site = gpd.GeoDataFrame(
        {"application_id": ["S"]}, geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000)], crs="EPSG:25832"
    )
    subs = gpd.GeoDataFrame(
        {"name": ["Far", "Joint"], "typ": ["substation", "joint"]},
        geometry=[Point(X0 + 4000, Y0 + 500), Point(X0 + 2000, Y0 + 500)], crs="EPSG:25832"
    )
    near = _sitemap.nearest_infrastructure(site, {"hv_substations": subs}, criteria)
    assert near.drop(columns="geometry").to_dict("records") == [
        {
            "application_id": "S", "criterion": "hv_substation", "layer": "hv_substations", "label": "Far",
            "distance_m": 3000.0, "kind": "straight"
        }
    ]


def test_display_frame_simplifies_rounds_and_labels():
    """A 2 km round polygon of 400 vertices; 50 m tolerance leaves far fewer; coordinates at 1e-5 degrees."""
    ring = gpd.GeoSeries([Point(X0, Y0)], crs="EPSG:25832").buffer(2000, quad_segs=100).iloc[0]
    towns = gpd.GeoDataFrame(
        {"name": ["Aarhus"], "population": [285_000]}, geometry=[Polygon(ring.exterior)], crs="EPSG:25832"
    )
    out = maps.display_frame(towns, tolerance_m=50, label=("name", "population"))
    assert out.crs.to_epsg() == 4326
    assert out["label"].tolist() == ["Aarhus (285,000 inhabitants)"]
    coords = list(out.geometry.iloc[0].exterior.coords)
    assert 8 < len(coords) < 100
    assert all(round(c, 5) == c for xy in coords for c in xy)


def test_format_value_and_doc_examples():
    assert _figures.format_value(2000.0, "m") == "2 km"
    assert _figures.format_value(18.0, "min") == "18 min"
    for module in (_figures, _sitemap, cards, maps, report):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__


@pytest.mark.mirror
def test_map_of_real_layers_stays_light(mirror_root, tmp_path):
    """All ten real context layers and the 15 approximate 2025 applications: map.html well under 10 MB."""
    context = mirror_context(mirror_root)
    run = mirror_run(mirror_root, context)
    paths = report.write_report(
        tmp_path, run["candidates"], run["breakdown"], run["overlaps"], run["selection"], run["manifest"],
        context=context, criteria=run["criteria"]
    )
    size_mb = paths["map"].stat().st_size / 1e6
    assert size_mb < 10, f"map.html is {size_mb:.1f} MB"
    html = paths["map"].read_text(encoding="utf-8")
    for layer_id in context:
        assert f"ctx-{layer_id}" in html, layer_id
    assert len(list((tmp_path / "cards").glob("*.html"))) == len(run["candidates"])


def test_surface_overlay_is_an_optional_layer(tmp_path):
    """A 2 x 2 PNG with WGS84 bounds (as surface.overlay_png returns) is embedded, off by default, named."""
    import matplotlib.image

    png = tmp_path / "surface.png"
    matplotlib.image.imsave(png, [[0.0, 1.0], [1.0, 0.0]])
    cand = synthetic_run()["candidates"]
    cand = cand.assign(status=maps.candidate_status(cand))
    page = {"run_id": "t", "banners": []}
    path = maps.write_map(tmp_path / "map.html", cand, {}, context={}, env=report.template_env(), page=page,
                          surface_overlay=(png, ((55.8, 9.2), (55.9, 9.4))))
    html = path.read_text(encoding="utf-8")
    assert "Suitability surface 0-100" in html
    assert "[[55.8, 9.2], [55.9, 9.4]]" in html
    assert "data:image/png;base64," in html
    assert re.search(r"L\.imageOverlay\(", html)


# --------------------------------------------------------------------------- card file names

TRICKY_IDS = ["A/1", "A_1", "A 1", "a/1", "x" * 10_000, "..", "../etc/passwd", ".", "Århus-Ø 1",
              "Aarhus-Oe 1", "A1", "a1", "CON", "-rf", "\u00a0", "日本-1", "VEJ-2026-01"]


def test_card_filenames_are_injective_bounded_and_plain():
    names = [cards.card_filename(aid) for aid in TRICKY_IDS]
    assert len(set(names)) == len(TRICKY_IDS)
    assert len({n.lower() for n in names}) == len(TRICKY_IDS)  # distinct on case-insensitive disks too
    for aid, name in zip(TRICKY_IDS, names, strict=True):
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,59}-[0-9a-f]{8}\.html", name), (aid, name)
        assert cards.card_filename(aid) == name  # stable
    assert cards.card_filename("VEJ-2026-01").startswith("VEJ-2026-01-")  # readable
    assert cards.card_filename("Århus-Ø 1").startswith("Aarhus-Oe_1-")


@pytest.mark.parametrize("ids", [("A/1", "A_1"), ("x" * 10_000, "x" * 9_999 + "y"), ("..", "../x"),
                                 ("Åby", "Aaby"), ("SITE-1", "site-1")])
def test_each_id_gets_its_own_card_and_links(tmp_path, ids):
    """Two applications whose ids differ only where a naive file name would not: two cards, each linked."""
    run = synthetic_run()
    keep = run["candidates"].iloc[[0, 4]].copy()
    old = keep["application_id"].tolist()
    keep["application_id"] = list(ids)
    rename = dict(zip(old, ids, strict=True))
    breakdown = run["breakdown"].loc[run["breakdown"]["application_id"].isin(old)].copy()
    breakdown["application_id"] = breakdown["application_id"].map(rename)
    overlaps = run["overlaps"].loc[run["overlaps"]["application_id"].isin(old)].copy()
    overlaps["application_id"] = overlaps["application_id"].map(rename)
    paths = _write(tmp_path, candidates=keep, breakdown=breakdown, overlaps=overlaps)
    written = sorted((tmp_path / "cards").glob("*.html"))
    assert len(written) == 2 and all(p.parent == tmp_path / "cards" for p in written)
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    site_map = (tmp_path / "map.html").read_text(encoding="utf-8")
    for aid in ids:
        card = paths[f"card_{aid}"]
        assert card.parent == tmp_path / "cards" and card.name == cards.card_filename(aid)
        assert f"<strong>{aid}</strong>" in card.read_text(encoding="utf-8").replace("&#39;", "'")
        assert f'href="cards/{card.name}"' in index
        assert f"cards/{card.name}" in site_map


# --------------------------------------------------------------------------- script injection

PAYLOAD = "<img src=x onerror=\"window.__pwned=1;document.title='pwned'\">"


def injected_run(run_dir):
    """The synthetic run with the payload as a site name, a municipality name and a layer feature name."""
    run = synthetic_run()
    cand = run["candidates"].copy()
    cand.loc[cand["application_id"] == "A1", "site_name"] = PAYLOAD
    cand.loc[cand["application_id"] == "A3", "kommunenavn"] = PAYLOAD
    context = synthetic_context()
    context["kommuner"] = context["kommuner"].assign(kommunenavn=PAYLOAD)
    context["hv_lines"] = context["hv_lines"].assign(name=PAYLOAD)
    report.write_report(run_dir, cand, run["breakdown"], run["overlaps"], run["selection"],
                        run["manifest"] | {"run_id": PAYLOAD}, context=context, criteria=run["criteria"])
    return run_dir


def test_no_value_reaches_html_unescaped(tmp_path):
    """The payload appears only as text: never as a tag in the HTML, nor as a tag hidden in the map's data."""
    injected_run(tmp_path)
    for page in _pages(tmp_path):
        html = page.read_text(encoding="utf-8")
        assert "<img src=x" not in html, page.name
        assert "\\u003cimg src=x" not in html, page.name  # inside JSON, decoded and set as innerHTML
    site_map = (tmp_path / "map.html").read_text(encoding="utf-8")
    assert "\\u0026lt;img src=x" in site_map  # there, escaped once: the tooltip shows the text as typed


def test_report_templates_escape():
    env = report.template_env()
    assert env.from_string("{{ x }}").render(x=PAYLOAD).startswith("&lt;img")
    assert env.get_template("popup.html.j2").render(c={"site_name": PAYLOAD}, rows=[], card="", colours={},
                                                    labels={}).count("&lt;img") == 1


def _inline_scripts(html: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S | re.I)


def test_static_pages_carry_a_content_security_policy(run_dir):
    """map.html allows exactly its own inline scripts (by SHA-256); cards and index allow no script."""
    import base64
    import hashlib

    path, _ = run_dir
    site_map = (path / "map.html").read_text(encoding="utf-8")
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)"', site_map)
    assert policy and site_map.index(policy.group(0)) < site_map.index("<script")
    directives = dict(d.strip().split(" ", 1) for d in policy.group(1).split(";") if d.strip())
    scripts = _inline_scripts(site_map)
    assert len(scripts) >= 2  # inlined Leaflet and the map
    hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts}
    assert set(directives["script-src"].split()) == hashes  # no 'unsafe-inline': handlers like onerror are blocked
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'"
    for page in [path / "index.html", *sorted((path / "cards").glob("*.html"))]:
        html = page.read_text(encoding="utf-8")
        assert "script-src 'none'" in html and not _inline_scripts(html), page.name


# --------------------------------------------------------------------------- wording for what it is


def test_a_drafts_map_says_your_draft_not_proposed(tmp_path):
    run = synthetic_run()
    cand = run["candidates"].iloc[[2, 4]]  # one eligible, one excluded
    cand = cand.assign(status=maps.candidate_status(cand.assign(selected=False)))
    env = report.template_env()
    draft = maps.write_map(tmp_path / "draft.html", cand, {}, context={}, env=env,
                           page={"run_id": "draft", "banners": [], "preview": True}).read_text(encoding="utf-8")
    assert "Your draft: eligible" in draft and "Your draft: excluded" in draft
    assert "not proposed" not in draft.lower() and "Proposed (" not in draft  # no selection for a draft
    run_map = maps.write_map(tmp_path / "run.html", cand, {}, context={}, env=env,
                             page={"run_id": "r", "banners": []}).read_text(encoding="utf-8")
    assert "Eligible, not proposed" in run_map and "Your draft" not in run_map


@pytest.mark.parametrize(
    ("bounds", "distance_m", "words"),
    [
        ((500_500, 6_200_000, 501_500, 6_201_000), 0.0, "overlapping this site"),  # half over the site
        ((501_000, 6_200_000, 502_000, 6_201_000), 0.0, "adjoining this site"),    # sharing its east edge
        ((501_030, 6_200_000, 502_030, 6_201_000), 30.0, "adjoining this site"),   # 30 m: "0.0 km" before
        ((503_000, 6_200_000, 504_000, 6_201_000), 2000.0, "2.0 km away"),
    ],
)
def test_better_land_is_worded_for_where_it_lies(monkeypatch, tmp_path, bounds, distance_m, words):
    """A 1 km square site at (500,000, 6,200,000) and better land placed by construction."""
    from screening import pipeline, surface

    site = gpd.GeoDataFrame({"application_id": ["S"], "area_ha": [100.0]},
                            geometry=[box(500_000, 6_200_000, 501_000, 6_201_000)], crs="EPSG:25832")
    found = {"area_ha": 100.0, "bounds": bounds, "distance_m": distance_m, "centroid_lonlat": (9.0, 55.9),
             "score_mean": 70.0, "site_score_mean": 50.0, "gain_points": 20.0}
    monkeypatch.setattr(surface, "better_land_nearby", lambda *a, **k: found)
    note = pipeline.better_land_notes(site, tmp_path).iloc[0]
    assert words in note and "0.0 km" not in note


def test_every_report_page_environment_escapes(tmp_path):
    """The overview page's environment too: its templates end in .j2, which select_autoescape() alone
    would not escape."""
    from screening import _overview_assets

    manifest = {"title": PAYLOAD, "land": {"id": "land", "status": "ok", "title": "K", "source": "s"},
                "layers": [], "groups": [], "surface": None, "surface_missing": "x", "built": "2026-12-07T12:00:00Z",
                "run": None,
                "config_hash": "abcdef12"}
    html = _overview_assets.render_index(tmp_path, None, manifest).read_text(encoding="utf-8")
    assert "<img src=x" not in html and "&lt;img src=x" in html


def test_an_excluded_sites_popup_gives_its_reasons_once():
    """The pipeline's selection reason of an excluded site repeats its exclusion reasons ("excluded by the
    screening: ..."): the popup shows the reasons once, under "Excluded:"."""
    reason = "Natura 2000 H-område 'Brede Å': 0.99 ha overlap"
    cand = gpd.GeoDataFrame(
        {"application_id": ["X"], "site_name": ["Bredebro"], "kommunenavn": ["Tønder"],
         "regionsnavn": ["Region Syddanmark"], "excluded": [True], "selected": [False], "score_total": [16.0],
         "rank": [float("nan")], "exclusion_reasons": [reason],
         "selection_reason": [f"excluded by the screening: {reason}"], "incomplete": [""]},
        geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000)], crs=25832)
    cand["status"] = maps.candidate_status(cand)
    breakdown = pd.DataFrame(columns=["application_id", "title", "raw_value", "unit", "assessed", "contribution",
                                      "weight"])
    popup = report._popups(cand, breakdown, report.template_env())["X"]
    assert popup.count("Brede Å") == 1 and "Excluded:" in popup

"""The national suitability surface on tiny synthetic grids with answers known by construction.

All grids are EPSG:25832 with 100 m cells whose origin is (X0, Y0 + height): cell (row, col) has its
centre at (X0 + 100 col + 50, Y0 + height - 100 row - 50).
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from shapely.geometry import LineString, Point, box

from screening import exclusion, scoring, surface
from screening.config import Criteria, load_criteria
from screening.errors import ConfigError, CRSError, LayerUnavailableError

# rasterio's MemoryDataset hides this warning with warnings.catch_warnings(), which is not thread-safe:
# with tiles on two threads it sometimes leaks. The grids here always have a transform.
# rasterio.warp still multiplies Affines with `*` (PendingDeprecationWarning), not our code.
pytestmark = [pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning"),
              pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")]

X0, Y0 = 550_000, 6_200_000  # round EPSG:25832 coordinates (metres) inside Denmark
RES = 100.0
TRAVEL = {"speeds_kmh": {"motorway": 110}, "default_speed_kmh": 30, "detour_factor": 1.0,
          "fallback_speed_kmh": 60, "access_snap_max_m": 5000}  # 60 km/h, no detour: 1 km per minute


def _criteria(criteria, *, rules=(), groups=None) -> Criteria:
    """A Criteria model: the given rules and criteria, groups `a` (0.6) and `b` (0.4) unless given."""
    groups = groups or [{"id": "a", "title": "A", "weight": 0.6}, {"id": "b", "title": "B", "weight": 0.4}]
    return Criteria.model_validate({
        "exclusions": {"min_net_area_ha": 10, "rules": list(rules)}, "groups": groups, "criteria": criteria,
        "travel": TRAVEL, "selection": {"k_min": 1, "k_max": 1}})


def _rule(rid, layer, action="exclude", buffer_m=0):
    return {"id": rid, "layer": layer, "action": action, "buffer_m": buffer_m, "why": rid}


def _dist(cid, layer, band, group="a", weight=1):
    return {"id": cid, "group": group, "title": cid, "measure": "distance", "layer": layer, "unit": "m",
            "weight": weight, "band": {"points": [list(p) for p in band]}}


def _frame(geoms, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=list(geoms), crs=25832)


def _land(width_m=10_000, height_m=10_000) -> gpd.GeoDataFrame:
    """A land rectangle from (X0, Y0), grid-aligned at 100 m."""
    return _frame([box(X0, Y0, X0 + width_m, Y0 + height_m)])


def _read(path):
    with rasterio.open(path) as ds:
        return ds.read(1)


def _cell(x, y, *, height_m=10_000):
    """(row, col) of the cell containing (x, y) on the grid of `_land(height_m=...)`."""
    return int((Y0 + height_m - y) // RES), int((x - X0) // RES)


# --------------------------------------------------------------------------- exclusion mask


@pytest.mark.parametrize(
    ("d", "expected_cells", "inside"),
    [
        (0, 100, np.s_[60:70, 20:30]),   # 1 km square on cell edges: exactly its 10 x 10 cells
        (50, 121, np.s_[60:69, 21:30]),  # shifted half a cell: all_touched takes the 11 x 11 it touches
    ],
)
def test_square_excludes_exactly_its_cells(tmp_path, d, expected_cells, inside):
    square = box(X0 + 2_000 + d, Y0 + 3_000 + d, X0 + 3_000 + d, Y0 + 4_000 + d)
    crit = _criteria([_dist("d", "pts", [[0, 1], [1000, 0]])], rules=[_rule("bird", "bird")])
    res = surface.build_surface({"bird": _frame([square])}, crit, res_m=RES, out_dir=tmp_path, land=_land())
    bits = _read(res.paths["exclusion"])
    assert res.excluded_cells == expected_cells == int((bits == 1).sum())
    assert (bits[inside] == 1).all()  # every cell fully inside the square is excluded
    assert res.land_cells == 10_000 and res.rule_bits == {"bird": 1}


def test_two_rules_set_distinct_bits(tmp_path):
    a = box(X0 + 1_000, Y0 + 1_000, X0 + 2_000, Y0 + 2_000)
    b = box(X0 + 1_500, Y0 + 1_000, X0 + 2_500, Y0 + 2_000)  # overlaps the east half of a
    crit = _criteria([_dist("d", "pts", [[0, 1], [1000, 0]])],
                     rules=[_rule("ra", "la"), _rule("rb", "lb", action="cut"), _rule("flag", "lb", "flag")])
    res = surface.build_surface({"la": _frame([a]), "lb": _frame([b])}, crit, res_m=RES, out_dir=tmp_path,
                                land=_land())
    bits = _read(res.paths["exclusion"])
    row = _cell(0, Y0 + 1_500)[0]
    assert bits[row, 12] == 1 and bits[row, 17] == 3 and bits[row, 22] == 2 and bits[row, 40] == 0
    assert np.unique(bits).tolist() == [0, 1, 2, 3]  # the flag rule is not rasterized
    with rasterio.open(res.paths["exclusion"]) as ds:
        assert ds.tags()["bit_0"] == "ra" and ds.tags()["bit_1"] == "rb"
        assert ds.descriptions[0] == "exclusion_bits: 1=ra, 2=rb"


def test_buffered_rule_grows_the_polygon(tmp_path):
    square = box(X0 + 2_000, Y0 + 3_000, X0 + 3_000, Y0 + 4_000)
    crit = _criteria([_dist("d", "pts", [[0, 1], [1000, 0]])], rules=[_rule("bird", "bird", buffer_m=200)])
    res = surface.build_surface({"bird": _frame([square])}, crit, res_m=RES, out_dir=tmp_path, land=_land())
    bits = _read(res.paths["exclusion"])
    row = _cell(0, Y0 + 3_500)[0]
    assert bits[row, 18:32].tolist() == [1] * 14 and bits[row, 17] == 0 and bits[row, 32] == 0


# --------------------------------------------------------------------------- criteria at known cells


@pytest.fixture
def point_and_line():
    """A point on the centre of cell (50, 50) and an east-west line along y = Y0 + 2,000 m."""
    return {"pts": _frame([Point(X0 + 5_050, Y0 + 4_950)]),
            "line": _frame([LineString([(X0, Y0 + 2_000), (X0 + 10_000, Y0 + 2_000)])])}


@pytest.mark.parametrize(
    ("x", "y", "distance_m"),
    [
        (X0 + 5_050, Y0 + 4_950, 0.0),    # the point's own cell
        (X0 + 5_350, Y0 + 4_950, 300.0),  # three cells east
        (X0 + 5_350, Y0 + 5_350, 500.0),  # 3-4-5 triangle
        (X0 + 9_950, Y0 + 9_950, 6_363.96),  # far corner: beyond the band, flat
    ],
)
def test_point_distance_and_band_at_known_cells(tmp_path, point_and_line, x, y, distance_m):
    crit = _criteria([_dist("p", "pts", [[100, 1.0], [1100, 0.0]]), _dist("l", "line", [[0, 1.0], [400, 0.0]])])
    res = surface.build_surface(point_and_line, crit, res_m=RES, out_dir=tmp_path, land=_land(),
                                criterion_bands=True, block_size=16)
    r, c = _cell(x, y)
    expected = float(np.interp(distance_m, [100, 1100], [1.0, 0.0]))
    assert _read(res.paths["criteria/p"])[r, c] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(("y", "line_score"), [(Y0 + 2_050, 0.875), (Y0 + 1_950, 0.875), (Y0 + 2_350, 0.125),
                                               (Y0 + 2_450, 0.0)])
def test_line_distance_is_exact_to_the_segment(tmp_path, point_and_line, y, line_score):
    crit = _criteria([_dist("l", "line", [[0, 1.0], [400, 0.0]])])
    res = surface.build_surface(point_and_line, crit, res_m=RES, out_dir=tmp_path, land=_land(),
                                criterion_bands=True)
    assert _read(res.paths["criteria/l"])[_cell(X0 + 7_777, y)] == pytest.approx(line_score, abs=1e-6)


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        (X0 + 2_450, Y0 + 2_450, 1.0),   # inside the polygon: distance 0
        (X0 + 3_250, Y0 + 2_450, 0.75),  # 250 m east of its east edge
        (X0 + 3_250, Y0 + 3_350, 1 - math.hypot(250, 350) / 1_000),  # nearest is the north-east corner
    ],
)
def test_polygon_distance_is_zero_inside_and_to_the_edge_outside(tmp_path, x, y, expected):
    poly = _frame([box(X0 + 2_000, Y0 + 2_000, X0 + 3_000, Y0 + 3_000)])
    crit = _criteria([_dist("g", "poly", [[0, 1.0], [1_000, 0.0]])])
    res = surface.build_surface({"poly": poly}, crit, res_m=RES, out_dir=tmp_path, land=_land(),
                                criterion_bands=True)
    assert _read(res.paths["criteria/g"])[_cell(x, y)] == pytest.approx(expected, abs=1e-6)


def test_reach_sum_adds_points_within_the_radius(tmp_path):
    """Two towns 1,500 m apart; 2 minutes at 1 km/min = 2,000 m radius (centre within, inclusive)."""
    towns = _frame([Point(X0 + 3_050, Y0 + 5_050), Point(X0 + 4_550, Y0 + 5_050)], population=[1_000, 3_000])
    crit = _criteria([{"id": "pop", "group": "a", "title": "pop", "measure": "reach_sum", "layer": "towns",
                       "value_column": "population", "within_min": 2, "unit": "persons", "weight": 1,
                       "band": {"points": [[0, 0.0], [4_000, 1.0]]}}])
    res = surface.build_surface({"towns": towns}, crit, res_m=RES, out_dir=tmp_path, land=_land(),
                                criterion_bands=True, block_size=13)
    band = _read(res.paths["criteria/pop"])
    row = _cell(0, Y0 + 5_050)[0]
    assert band[row, _cell(X0 + 3_750, 0)[1]] == pytest.approx(1.0)    # both within 2 km
    assert band[row, _cell(X0 + 1_050, 0)[1]] == pytest.approx(0.25)   # exactly 2,000 m from the first only
    assert band[row, _cell(X0 + 950, 0)[1]] == pytest.approx(0.0)      # 2,100 m: none
    assert band[row, _cell(X0 + 6_550, 0)[1]] == pytest.approx(0.75)   # 2,000 m from the second only


def test_weights_redistributed_like_the_vector_scoring():
    crit = load_criteria()
    assessed = ["hv_substation", "hv_line", "rail_station", "port", "population_30min"]
    points = surface.effective_points(crit, assessed)
    # infrastructure 0.30 (3:1), transport 0.25 (1:2), labour 0.25; commitment (0.20) has nothing assessed
    assert points == pytest.approx({"hv_substation": 28.125, "hv_line": 9.375, "rail_station": 10.416667,
                                    "port": 20.833333, "population_30min": 31.25}, abs=1e-6)
    assert sum(points.values()) == pytest.approx(100.0)


# --------------------------------------------------------------------------- tiling, dask, files


@pytest.fixture
def mixed_layers():
    """Points, a diagonal line, a polygon (distance 0 inside), towns, two exclusion rules: every path."""
    return {
        "pts": _frame([Point(X0 + 1_234, Y0 + 2_345), Point(X0 + 3_210, Y0 + 2_990)]),
        "line": _frame([LineString([(X0 - 500, Y0 + 300), (X0 + 2_111, Y0 + 3_777), (X0 + 4_500, Y0 + 2_900)])]),
        "poly": _frame([box(X0 + 2_510, Y0 + 510, X0 + 3_020, Y0 + 1_290)]),
        "towns": _frame([Point(X0 + 700, Y0 + 800), Point(X0 + 3_900, Y0 + 2_100)], population=[5_000, 20_000]),
        "bird": _frame([box(X0 + 333, Y0 + 1_777, X0 + 1_111, Y0 + 2_555)]),
    }


def _mixed_criteria():
    return _criteria([
        _dist("p", "pts", [[200, 1.0], [2_500, 0.0]]),
        _dist("l", "line", [[0, 1.0], [1_500, 0.2], [3_000, 0.0]], weight=2),
        _dist("g", "poly", [[0, 1.0], [2_000, 0.0]], group="b"),
        {"id": "pop", "group": "b", "title": "pop", "measure": "reach_sum", "layer": "towns",
         "value_column": "population", "within_min": 2.5, "unit": "persons", "weight": 1,
         "band": {"points": [[0, 0.0], [25_000, 1.0]]}},
        {"id": "t", "group": "b", "title": "t", "measure": "travel_time", "layer": "pts", "unit": "min",
         "weight": 1, "band": {"points": [[1, 1.0], [3, 0.0]]}},
    ], rules=[_rule("bird", "bird"), _rule("near_pts", "pts", buffer_m=150)])


def _all_arrays(res):
    return {name: _read(path) for name, path in res.paths.items()}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_tiled_run_equals_untiled_run(tmp_path, mixed_layers):
    crit, land = _mixed_criteria(), _frame([box(X0, Y0, X0 + 4_700, Y0 + 3_900)])
    whole = surface.build_surface(mixed_layers, crit, res_m=RES, out_dir=tmp_path / "whole", land=land,
                                  criterion_bands=True, block_size=4_096)
    tiled = surface.build_surface(mixed_layers, crit, res_m=RES, out_dir=tmp_path / "tiled", land=land,
                                  criterion_bands=True, block_size=7)  # 7 x 6 tiles, 7 cells each
    assert whole.land_cells == tiled.land_cells == 47 * 39
    _assert_same(_all_arrays(whole), _all_arrays(tiled))
    score = _read(whole.paths["suitability"])
    assert np.isfinite(score).all() and 0 < score.min() < score.max() <= 100


def test_dask_scheduler_equals_single_run(tmp_path, mixed_layers):
    pytest.importorskip("dask")
    crit, land = _mixed_criteria(), _frame([box(X0, Y0, X0 + 4_700, Y0 + 3_900)])
    single = surface.build_surface(mixed_layers, crit, res_m=RES, out_dir=tmp_path / "single", land=land,
                                   criterion_bands=True, block_size=9)
    dasked = surface.build_surface(mixed_layers, crit, res_m=RES, out_dir=tmp_path / "dask", land=land,
                                   criterion_bands=True, block_size=9, scheduler="dask")
    _assert_same(_all_arrays(single), _all_arrays(dasked))


def test_cog_is_tiled_with_overviews_descriptions_and_config_hash(tmp_path):
    land = _frame([box(X0, Y0, X0 + 60_000, Y0 + 60_000)])  # 600 x 600 cells: more than one 512 tile
    crit = _criteria([_dist("p", "pts", [[0, 1.0], [20_000, 0.0]])], rules=[_rule("bird", "bird")])
    layers = {"pts": _frame([Point(X0 + 30_000, Y0 + 30_000)]), "bird": _frame([box(X0, Y0, X0 + 900, Y0 + 900)])}
    res = surface.build_surface(layers, crit, res_m=RES, out_dir=tmp_path, land=land, config_hash="c0ffee",
                                criterion_bands=True)
    assert sorted(res.paths) == ["criteria/p", "exclusion", "suitability"]
    for name, path in res.paths.items():
        with rasterio.open(path) as ds:
            assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
            assert ds.block_shapes == [(512, 512)] and ds.overviews(1) == [2]
            assert ds.crs.to_epsg() == 25832 and ds.res == (100.0, 100.0)
            assert ds.transform.c == X0 and ds.transform.f == Y0 + 60_000
            assert ds.tags()["config_hash"] == "c0ffee" and ds.tags()["res_m"] == "100"
            assert ds.descriptions[0] == {"suitability": "score_total", "criteria/p": "p"}.get(
                name, "exclusion_bits: 1=bird")
    assert (tmp_path / "surface.json").exists()


# --------------------------------------------------------------------------- consistency with the vector path


def _slope_per_m(crit, travel) -> float:
    """Steepest slope of a criterion's band per metre of straight-line distance (score units / m)."""
    xs, ys = np.array(crit.band.points).T
    per_raw = np.max(np.abs(np.diff(ys) / np.diff(xs)))
    return per_raw * (travel.detour_factor / (travel.fallback_speed_kmh * 1000 / 60)
                      if crit.measure == "travel_time" else 1.0)


@pytest.fixture
def national_like():
    """The real configuration with synthetic layers for its distance, travel and reach criteria."""
    layers = {
        "hv_substations": _frame([Point(X0 + 9_000, Y0 + 1_000), Point(X0 - 20_000, Y0)],
                                 typ=["substation", "joint"], name=["A", "B"]),
        "hv_lines": _frame([LineString([(X0 - 5_000, Y0 + 8_000), (X0 + 25_000, Y0 + 14_000)])]),
        "rail_stations": _frame([Point(X0 + 2_500, Y0 + 6_500)], name=["st"]),
        "ports": _frame([Point(X0 + 18_000, Y0 - 3_000)], name=["port"]),
        "motorway_junctions": _frame([Point(X0 + 6_000, Y0 + 12_000)]),
        "towns": _frame([Point(X0 + 5_000, Y0 + 5_000), Point(X0 + 60_000, Y0 + 5_000)],
                        population=[80_000, 200_000], name=["t1", "t2"]),
        "natura2000_fuglebeskyttelse": _frame([box(X0 + 12_000, Y0 + 2_000, X0 + 15_000, Y0 + 6_000)],
                                              objektnavn=["F1"]),
    }
    sites = gpd.GeoDataFrame(
        {"application_id": ["inside_bird", "west", "north", "east"]},
        geometry=[box(X0 + 13_000, Y0 + 3_000, X0 + 13_500, Y0 + 3_500), box(X0 + 1_000, Y0 + 2_000, X0 + 1_500,
                  Y0 + 2_500), box(X0 + 4_000, Y0 + 9_000, X0 + 4_500, Y0 + 9_500),
                  box(X0 + 17_000, Y0 + 1_000, X0 + 17_500, Y0 + 1_500)], crs=25832)
    return load_criteria(), layers, sites


def test_raster_mean_agrees_with_vector_scoring(tmp_path, national_like):
    """Tolerance, derived: at a cell centre q inside site P, d(P) <= d(q) <= d(P) + diam(P) (both exact);
    a band with slope L per metre moves by at most L diam(P), so |raster mean - vector| <= sum of
    points_c L_c diam(P). Reach criteria are equal here by construction: no town lies within diam(P)
    of a reach radius around any site (checked below)."""
    crit, layers, sites = national_like
    allow = ["natura2000_habitat", "naturnationalparker", "bes_naturtyper"]
    land = _frame([box(X0 - 1_000, Y0 - 1_000, X0 + 21_000, Y0 + 16_000)])
    res = surface.build_surface(layers, crit, res_m=RES, out_dir=tmp_path, land=land, allow_missing=allow)
    vec = scoring.score(sites, layers, crit).scores
    m_per_min = crit.travel.fallback_speed_kmh * 1000 / 60 / crit.travel.detour_factor
    radii = [c.within_min * m_per_min for c in crit.criteria if c.measure.startswith("reach")]
    score = _read(res.paths["suitability"])
    with rasterio.open(res.paths["suitability"]) as ds:
        transform = ds.transform
    by_id = {c.id: c for c in crit.criteria}
    for site in sites.itertuples():
        inside = rasterio.features.geometry_mask([site.geometry], score.shape, transform, invert=True)
        diam = math.dist(site.geometry.bounds[:2], site.geometry.bounds[2:])
        gap = np.abs(np.subtract.outer(layers["towns"].distance(site.geometry).to_numpy(), radii))
        assert gap.min() > diam  # reach counts are the same from every cell centre and from the site
        tolerance = sum(p * _slope_per_m(by_id[c], crit.travel) * diam
                        for c, p in res.points.items() if by_id[c].measure in ("distance", "travel_time"))
        assert tolerance < 2.5  # points of 100 for these 25 ha squares (diam 707 m) under the real bands
        assert abs(score[inside].mean() - vec.loc[site.application_id, "score_total"]) <= tolerance
    assert sorted(res.not_assessed) == sorted(c for c in vec.loc["west", "not_assessed"].split(", ")
                                              if c != "energy_park_adjacency")


def test_exclusion_agrees_with_vector_exclusion(tmp_path, national_like):
    """Cells of a site fully inside the excluded polygon are all excluded, as the vector rule excludes the
    site; a site away from it has no excluded cell."""
    crit, layers, sites = national_like
    allow = ["natura2000_habitat", "naturnationalparker", "bes_naturtyper"]
    land = _frame([box(X0 - 1_000, Y0 - 1_000, X0 + 21_000, Y0 + 16_000)])
    res = surface.build_surface(layers, crit, res_m=RES, out_dir=tmp_path, land=land, allow_missing=allow)
    vec = exclusion.evaluate(sites, layers, crit.exclusions, allow_missing=allow).summary
    bits = _read(res.paths["exclusion"])
    with rasterio.open(res.paths["exclusion"]) as ds:
        transform = ds.transform
    for site in sites.itertuples():
        cells = bits[rasterio.features.geometry_mask([site.geometry], bits.shape, transform, invert=True)]
        assert bool(vec.loc[site.application_id, "excluded"]) == bool((cells != 0).all()) == bool(cells.any())


# --------------------------------------------------------------------------- cards and map


@pytest.fixture
def gradient_surface(tmp_path):
    """Score rising eastwards (distance band to a far eastern line), one excluded block in the east."""
    layers = {"line": _frame([LineString([(X0 + 30_000, Y0), (X0 + 30_000, Y0 + 10_000)])]),
              "bird": _frame([box(X0 + 8_000, Y0, X0 + 10_000, Y0 + 10_000)])}
    crit = _criteria([_dist("l", "line", [[20_000, 1.0], [30_000, 0.0]])], rules=[_rule("bird", "bird")])
    surface.build_surface(layers, crit, res_m=RES, out_dir=tmp_path, land=_land())
    return tmp_path


def test_better_land_nearby_finds_the_best_free_square(gradient_surface):
    site = box(X0 + 1_000, Y0 + 4_000, X0 + 1_500, Y0 + 4_500)  # 25 ha in the low-scoring west
    found = surface.better_land_nearby(site, gradient_surface, radius_m=10_000, min_area_ha=25)
    assert found["area_ha"] == 25.0 and found["bounds"][2] == X0 + 8_000  # flush against the excluded block
    # its cell centres lie 22,050-22,450 m from the line: mean band score (30,000 - 22,250) / 10,000
    assert found["score_mean"] == pytest.approx(77.5, abs=1e-3)
    assert found["gain_points"] == pytest.approx(found["score_mean"] - found["site_score_mean"])
    assert 9.0 < found["centroid_lonlat"][0] < 10.0 and 55.0 < found["centroid_lonlat"][1] < 56.5


def test_better_land_nearby_none_when_the_site_is_best(gradient_surface):
    site = box(X0 + 7_500, Y0 + 4_000, X0 + 8_000, Y0 + 4_500)  # the best free land already
    assert surface.better_land_nearby(site, gradient_surface, min_area_ha=25) is None


def test_overlay_png_is_rgba_with_wgs84_bounds(gradient_surface, tmp_path):
    png, ((south, west), (north, east)) = surface.overlay_png(gradient_surface, tmp_path / "o.png", max_px=50)
    from PIL import Image

    img = Image.open(png)
    assert img.mode == "RGBA" and max(img.size) <= 60
    assert 55.9 < south < north < 56.2 and 9.7 < west < east < 10.0


# --------------------------------------------------------------------------- errors


def test_missing_exclude_layer_is_an_error_unless_allowed(tmp_path):
    crit = _criteria([_dist("p", "pts", [[0, 1], [1000, 0]])], rules=[_rule("bird", "bird")])
    with pytest.raises(LayerUnavailableError, match="needs layer 'bird'.*--allow-missing bird"):
        surface.build_surface({}, crit, res_m=RES, out_dir=tmp_path, land=_land())
    res = surface.build_surface({}, crit, res_m=RES, out_dir=tmp_path, land=_land(), allow_missing=["bird"])
    assert res.missing_rules == {"bird": "layer bird missing (allowed)"} and res.excluded_cells == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"res_m": 0}, ConfigError, "res_m must be a positive"),
        ({"scheduler": "spark"}, ConfigError, "'spark' is not a valid option"),
        ({"block_size": -1}, ConfigError, "block_size must be a positive"),
        ({"land": gpd.GeoDataFrame(geometry=[box(9, 55, 10, 56)], crs=4326)}, CRSError, "EPSG:4326"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, kwargs, error, match):
    crit = _criteria([_dist("p", "pts", [[0, 1], [1000, 0]])])
    args = {"res_m": RES, "out_dir": tmp_path, "land": _land(), **kwargs}
    with pytest.raises(error, match=match):
        surface.build_surface({}, crit, **args)


# --------------------------------------------------------------------------- the real mirror


@pytest.mark.mirror
def test_mirror_surface_at_1km(tmp_path, mirror_root):
    """Real layers at 1,000 m: Denmark's ~43,000 km² of land in ~43,000 cells, bird and habitat areas and
    naturnationalparker excluded (provisional copies), § 3 checked only inside its Vestegnen subset."""
    from screening.config import load_catalog, settings_from_env

    settings = settings_from_env(mirror_root=mirror_root, online=False)
    catalog = load_catalog(settings=settings)
    crit = load_criteria(settings=settings, catalog=catalog)
    res = surface.surface_from_catalog(settings=settings, catalog=catalog, criteria=crit, out_dir=tmp_path,
                                       res_m=1_000, allow_missing=["bes_naturtyper"])
    assert 41_000 < res.land_cells < 45_000  # 4.31 M ha of land (the kommuner layer)
    assert 0.06 < res.excluded_cells / res.land_cells < 0.25  # bird and habitat areas: ~0.33 M ha on land
    assert set(res.rule_bits) == {"natura2000_habitat", "natura2000_fuglebeskyttelse", "naturnationalpark",
                                  "paragraf3_natur"}
    assert res.layers["natura2000_habitat"]["provisional"] and res.not_checked["paragraf3_natur"]["cells"] > 40_000
    score = _read(res.paths["suitability"])
    assert np.nanmin(score) >= 0 and np.nanmax(score) <= 100 and np.isfinite(score).sum() == res.land_cells
    assert res.missing_rules == {}
    assert "motorway_access" in res.points and "hv_substation" in res.points  # exits by road (OSM 2023)

"""The surface and the nature layers' copies: provisional provenance in tags and surface.json, and the cells a
partial copy leaves unchecked (``not_checked.tif``), on a 10 km x 10 km synthetic grid of 100 m cells."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import rasterio
import shapely
from shapely.geometry import box

from screening import surface
from screening.config import Criteria
from screening.errors import LayerUnavailableError

pytestmark = [pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning"),
              pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")]

X0, Y0 = 550_000, 6_200_000
RES = 100.0
COVER = box(X0, Y0, X0 + 4_050, Y0 + 10_000)  # the § 3 copy covers x < X0 + 4,050 m (a cell edge + 50 m)
NOTE = "the west of the test land"
HABITAT_NOTE = "provisional copy of about 2013, check against the official layer"


def _criteria() -> Criteria:
    return Criteria.model_validate({
        "exclusions": {"min_net_area_ha": 10, "rules": [
            {"id": "habitat", "layer": "hab", "action": "exclude", "why": "h"},
            {"id": "p3", "layer": "p3", "action": "cut", "why": "p"},
            {"id": "fred", "layer": "fred", "action": "flag", "why": "f"}]},
        "groups": [{"id": "a", "title": "A", "weight": 1.0}],
        "criteria": [{"id": "d", "group": "a", "title": "d", "measure": "distance", "layer": "pts", "unit": "m",
                      "weight": 1, "band": {"points": [[0, 1], [1000, 0]]}}],
        "travel": {"speeds_kmh": {"motorway": 110}, "default_speed_kmh": 30, "detour_factor": 1.0,
                   "fallback_speed_kmh": 60}, "selection": {"k_min": 1, "k_max": 1}})


def _frame(geoms, **attrs) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(geometry=list(geoms), crs=25832)
    gdf.attrs.update(attrs)
    return gdf


@pytest.fixture
def layers():
    return {
        "hab": _frame([box(X0 + 6_000, Y0 + 6_000, X0 + 7_000, Y0 + 7_000)], origin="mirror", source="copy",
                      date="about 2013", provisional=True),
        "p3": _frame([box(X0 + 1_000, Y0 + 1_000, X0 + 2_000, Y0 + 2_000)], origin="mirror", source="subset",
                     date="2026-06-12", coverage=shapely.to_wkt(COVER), coverage_note=NOTE),
        "fred": _frame([box(X0, Y0, X0 + 500, Y0 + 500)], origin="mirror", provisional=True, date="2024"),
        "pts": _frame([shapely.Point(X0 + 5_000, Y0 + 5_000)]),
    }


def _land():
    return gpd.GeoDataFrame(geometry=[box(X0, Y0, X0 + 10_000, Y0 + 10_000)], crs=25832)


def test_cells_outside_a_partial_copy_are_marked_not_checked_not_excluded(tmp_path, layers):
    res = surface.build_surface(layers, _criteria(), res_m=RES, out_dir=tmp_path, land=_land(),
                                allow_missing=["p3"])
    bit = res.rule_bits["p3"]
    with rasterio.open(res.paths["not_checked"]) as ds:
        nc = ds.read(1)
        assert ds.tags()["not_checked"] == f"p3 (p3) only inside {NOTE}, bit {bit} of not_checked.tif"
        assert ds.descriptions[0] == f"not_checked_bits: {bit}=p3"
    # columns 0-39 lie wholly inside the coverage; column 40 straddles its edge (x = X0 + 4,050): not checked
    assert (nc[:, :40] == 0).all() and (nc[:, 40:] == bit).all()
    assert res.not_checked == {"p3": {"layer": "p3", "bit": bit, "coverage_note": NOTE, "cells": 60 * 100}}
    with rasterio.open(res.paths["exclusion"]) as ds:
        excl = ds.read(1)
    assert (excl[:, 40:] & bit == 0).all() and int(((excl & bit) > 0).sum()) == 100  # the § 3 square only
    assert res.excluded_cells == 200  # the § 3 and habitat squares; unchecked cells are not excluded
    saved = json.loads((tmp_path / "surface.json").read_text())
    assert saved["not_checked"]["p3"]["cells"] == 6_000
    assert (f"incomplete: p3 checked only inside the coverage of the p3 copy ({NOTE}): 6,000 land cells not "
            "checked (not_checked.tif)") in surface.summary_text(res)


def test_partial_copy_needs_allowing_like_a_missing_layer(tmp_path, layers):
    with pytest.raises(LayerUnavailableError, match=f"covers only {NOTE}.*--allow-missing p3"):
        surface.build_surface(layers, _criteria(), res_m=RES, out_dir=tmp_path, land=_land())


def test_tags_and_surface_json_name_the_provisional_copies(tmp_path, layers):
    layers["p3"].attrs.pop("coverage")
    res = surface.build_surface(layers, _criteria(), res_m=RES, out_dir=tmp_path, land=_land())
    assert "not_checked" not in res.paths and res.not_checked == {}
    for name in ("suitability", "exclusion"):  # every COG
        with rasterio.open(res.paths[name]) as ds:
            tags = ds.tags()
        assert tags["provisional_layers"] == f"hab: {HABITAT_NOTE}"  # the flag layer is not rasterized
        assert tags["exclusion_layers"] == "hab: mirror, copy, about 2013; p3: mirror, subset, 2026-06-12"
    saved = json.loads((tmp_path / "surface.json").read_text())
    assert saved["layers"]["hab"] | {"location": ""} == {
        "rules": ["habitat"], "origin": "mirror", "source": "copy", "date": "about 2013", "version": "",
        "location": "", "provisional": True, "provisional_note": HABITAT_NOTE, "coverage_note": ""}
    assert saved["layers"]["p3"]["provisional"] is False
    assert f"provisional data: hab: {HABITAT_NOTE}" in surface.summary_text(res)

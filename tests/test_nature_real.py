"""The nature rules on the mirror's real copies, with answers computed from their polygons.

Sites are squares placed with `shapely.maximum_inscribed_circle` inside (or a few hundred metres beside)
the real polygons: the habitat areas of about 2013, the naturnationalparker, fredninger and nationalparker
copies (all provisional) and the § 3 subset for six municipalities west of Copenhagen with its coverage.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import box

from screening import exclusion
from screening.catalog import load_layers
from screening.config import Settings, load_catalog, load_criteria
from screening.errors import LayerUnavailableError

pytestmark = pytest.mark.mirror

SIDE_M = 400.0  # 16 ha squares: above the 10 ha minimum net area
PROVISIONAL_2013 = "provisional copy of about 2013, check against the official layer"
PROVISIONAL_2024 = "provisional copy of early 2024 at the latest, check against the official layer"
OUTSIDE_S3 = "incomplete: bes_naturtyper missing (outside the coverage of the available copy)"


@pytest.fixture(scope="module")
def real(mirror_root, tmp_path_factory):
    """The exclusion layers from the mirror (offline), the criteria and the kommuner (land)."""
    settings = Settings(mirror_root=mirror_root, cache_dir=tmp_path_factory.mktemp("cache"), online=False)
    catalog = load_catalog()
    criteria = load_criteria(catalog=catalog)
    ids = {r.layer for r in criteria.exclusions.rules} | {"kommuner"}
    layer_set = load_layers(sorted(ids), catalog=catalog, settings=settings, allow_missing=["bes_naturtyper"])
    return layer_set.layers, criteria


def _square(centre, side=SIDE_M):
    x, y = shapely.get_coordinates(centre)[0]
    return box(x - side / 2, y - side / 2, x + side / 2, y + side / 2)


def _inside(region, side=SIDE_M):
    """A square of `side` metres wholly inside `region` (its maximum inscribed circle), or None."""
    if region.is_empty:
        return None
    circle = shapely.maximum_inscribed_circle(region, 10.0)
    if shapely.length(circle) < side / 2 * 2 ** 0.5 + 1:
        return None
    return _square(shapely.get_point(circle, 0), side)


def _near(geom, *frames, grow_m=0.0):
    """Union of the features of `frames` within `grow_m` of `geom`, each grown by `grow_m` (metres)."""
    window = shapely.buffer(shapely.envelope(geom), grow_m + 1.0)
    parts = [f.geometry.to_numpy()[f.sindex.query(window, predicate="intersects")] for f in frames]
    near = np.concatenate(parts)
    return shapely.union_all(shapely.buffer(near, grow_m) if grow_m else near)


def _evaluate(real, geoms, ids, *, allow=("bes_naturtyper",)):
    layers, criteria = real
    sites = gpd.GeoDataFrame({"application_id": ids}, geometry=list(geoms), crs=25832)
    return exclusion.evaluate(sites, layers, criteria.exclusions, allow_missing=allow)


def _rows(result, application_id):
    return result.overlaps.loc[result.overlaps["application_id"] == application_id].set_index("rule_id")


def test_site_wholly_inside_a_habitat_area_is_excluded_naming_it(real):
    layers, _ = real
    hab, bird, land = layers["natura2000_habitat"], layers["natura2000_fuglebeskyttelse"], layers["kommuner"]
    named = hab.loc[hab["objektnavn"].notna() & hab["h_nr"].notna()]
    named = named.iloc[np.argsort(-named.area.to_numpy())]
    for row in named.itertuples():  # the largest named habitat areas first, until one has room on land
        site = _inside(row.geometry.intersection(_near(row.geometry, land)).difference(
            _near(row.geometry, bird, grow_m=100)))
        if site is not None:
            break
    result = _evaluate(real, [site], ["hab"])
    label = f"Natura 2000 H-område {row.h_nr} '{row.objektnavn}'"
    summary = result.summary.loc["hab"]
    assert summary["excluded"]
    assert summary["exclusion_reasons"].startswith(f"{label}") and ": 16.0 ha overlap (100.0 %) — " in \
        summary["exclusion_reasons"]
    assert PROVISIONAL_2013 in summary["exclusion_reasons"]
    row_h = _rows(result, "hab").loc["natura2000_habitat"]
    assert label in row_h["features"].split("; ") and row_h["decisive"]
    assert row_h["overlap_ha"] == pytest.approx(SIDE_M**2 / 1e4)
    assert row_h["provisional"] == PROVISIONAL_2013


def _nnp_site(layers):
    nnp = layers["naturnationalparker"]
    for row in nnp.itertuples():  # 15 parks
        n2000 = _near(row.geometry, layers["natura2000_habitat"], layers["natura2000_fuglebeskyttelse"], grow_m=100)
        site = _inside(row.geometry.difference(n2000))
        if site is not None:
            return row, site
    pytest.fail("no naturnationalpark of the copy has 16 ha outside the habitat and bird areas")


def test_site_inside_a_naturnationalpark_outside_natura2000_is_excluded_by_that_rule(real):
    layers, _ = real
    park, site = _nnp_site(layers)
    result = _evaluate(real, [site], ["nnp"])
    rows = _rows(result, "nnp")
    decisive = rows.index[rows["decisive"].astype(bool)].tolist()
    assert decisive == ["naturnationalpark"]
    assert {"natura2000_habitat", "natura2000_fuglebeskyttelse"}.isdisjoint(rows.index)
    reason = result.summary.loc["nnp", "exclusion_reasons"]
    assert reason.startswith(f"Naturnationalpark {park.park_id} (status not stated in the layer: counted as "
                             f"designated or proposed): 16.0 ha overlap (100.0 %) — {PROVISIONAL_2024} — ")


def test_site_a_few_hundred_metres_outside_is_kept(real):
    layers, _ = real
    park, _ = _nnp_site(layers)
    outer = park.geometry.buffer(300 + SIDE_M * 2)
    excluding = _near(outer, layers["natura2000_habitat"], layers["natura2000_fuglebeskyttelse"],
                      layers["naturnationalparker"], grow_m=300)
    ring = outer.difference(excluding)
    site = _inside(ring)
    distance = shapely.distance(site, park.geometry)
    assert 300 <= distance <= 1500
    result = _evaluate(real, [site], ["near"])
    assert not result.summary.loc["near", "excluded"], result.summary.loc["near", "exclusion_reasons"]
    assert result.summary.loc["near", "net_area_ha"] == pytest.approx(16.0)
    assert result.summary.loc["near", "incomplete"] == OUTSIDE_S3


def test_site_inside_a_fredning_is_flagged_not_excluded(real):
    layers, _ = real
    fred = layers["fredninger"]
    big = fred.iloc[np.argsort(-fred.area.to_numpy())[:40]]
    for row in big.itertuples():  # the largest fredninger first
        excluding = _near(row.geometry, layers["natura2000_habitat"], layers["natura2000_fuglebeskyttelse"],
                          layers["naturnationalparker"], layers["nationalparker"], grow_m=100)
        site = _inside(row.geometry.difference(excluding))
        if site is not None:
            break
    result = _evaluate(real, [site], ["fred"])
    summary = result.summary.loc["fred"]
    assert not summary["excluded"]
    label = f"Fredning {row.fred_id} ({row.fred_type}, unnamed in the copy)"
    assert f"{label}: 16.0 ha overlap (100.0 %) — {PROVISIONAL_2024} — fredninger (" in summary["flags"]
    assert _rows(result, "fred").loc["fredning", "overlap_ha"] == pytest.approx(16.0)


def test_site_inside_a_nationalpark_is_flagged_with_its_inferred_name(real):
    layers, _ = real
    parks = layers["nationalparker"]
    row = next(parks.itertuples())
    site = _inside(row.geometry)
    result = _evaluate(real, [site], ["np"])
    label = f"Nationalpark {row.park_id} ({row.name_inferred}, name inferred from its municipalities)"
    assert f"{label}: 16.0 ha overlap (100.0 %) — {PROVISIONAL_2024}" in result.summary.loc["np", "flags"]


# --------------------------------------------------------------------------- § 3 on the Vestegnen subset


@pytest.fixture(scope="module")
def s3(real):
    layers, _ = real
    layer = layers["bes_naturtyper"]
    from screening._nature_layers import coverage_of

    return layer, coverage_of(layer)


def test_paragraph3_cut_equals_the_overlap_with_the_real_polygons(real, s3):
    layer, cover = s3
    polys = layer.geometry.to_numpy()
    biggest = polys[np.argmax(shapely.area(polys))]
    site = _square(shapely.centroid(biggest), 900.0)  # 81 ha around the largest § 3 polygon
    assert shapely.contains(cover, site)
    expected_m2 = shapely.area(shapely.intersection(site, shapely.union_all(polys)))
    assert expected_m2 > 5e4  # a real cut, several hectares
    result = _evaluate(real, [site], ["s3"], allow=())  # inside the coverage: complete without allowing
    summary = result.summary.loc["s3"]
    cut = _rows(result, "s3").loc["paragraf3_natur"]
    assert cut["cut_ha"] == pytest.approx(expected_m2 / 1e4, abs=1e-6)
    assert summary["incomplete"] == ""
    hit = layer.loc[shapely.intersects(polys, site) & ~shapely.touches(polys, site)]
    expected_labels = sorted(f"§ 3-natur {r.objekt_id} (type code {r.natyp_kode}, unverified)"
                             for r in hit.itertuples())
    shown = cut["features"].split("; ")
    assert shown[:len(shown) - ("more" in shown[-1])] == expected_labels[:exclusion.MAX_LABELS]
    assert summary["net_area_ha"] == pytest.approx(81.0 - expected_m2 / 1e4, abs=1e-6)  # § 3 is the one cut rule


def test_site_outside_the_paragraph3_coverage_says_it_was_not_checked(real, s3):
    _, cover = s3
    centre = shapely.centroid(cover)
    site = _square(shapely.Point(centre.x + 40_000, centre.y - 10_000))  # 40 km west-ish of Copenhagen
    assert not shapely.intersects(site, cover)
    result = _evaluate(real, [site], ["far"])
    assert result.summary.loc["far", "incomplete"] == OUTSIDE_S3
    assert "paragraf3_natur" not in _rows(result, "far").index
    with pytest.raises(LayerUnavailableError, match="covers only six municipalities west of Copenhagen"):
        _evaluate(real, [site], ["far"], allow=())


def test_site_partly_inside_the_paragraph3_coverage_says_which_share(real, s3):
    layer, cover = s3
    xmin, ymin, xmax, ymax = shapely.bounds(cover)
    edge = shapely.Point(xmin, (ymin + ymax) / 2)
    boundary_pt = shapely.shortest_line(cover.boundary, edge)
    x, y = shapely.get_coordinates(boundary_pt)[0]
    site = box(x - 300, y - 200, x + 300, y + 200)  # 24 ha across the western edge of the coverage
    outside = shapely.area(shapely.difference(site, cover))
    assert 0 < outside < shapely.area(site)
    result = _evaluate(real, [site], ["edge"])
    pct, ha = 100 * outside / shapely.area(site), outside / 1e4
    fmt = f"{ha:.2f}" if ha < 10 else f"{ha:.1f}"
    assert result.summary.loc["edge", "incomplete"] == (
        f"incomplete: bes_naturtyper missing for {pct:.0f} % of the site ({fmt} ha outside the coverage of the "
        "available copy)")
    out = result.outside_coverage.set_index("application_id").loc["edge"]
    assert out["outside_ha"] == pytest.approx(ha, abs=1e-6)
    expected_cut = shapely.area(shapely.intersection(site, shapely.union_all(layer.geometry.to_numpy()))) / 1e4
    cut = _rows(result, "edge")["cut_ha"].get("paragraf3_natur", 0.0)
    assert cut == pytest.approx(expected_cut, abs=1e-6)


def test_prepared_coverages_give_the_same_labels_and_areas(real, s3, tmp_path):
    """The screening uses prepared coverages (labels from the templates, notes included): same answers."""
    from screening.config import Exclusions

    layers, criteria = real
    rules = tuple(r for r in criteria.exclusions.rules if r.layer in ("bes_naturtyper", "naturnationalparker",
                                                                       "natura2000_habitat"))
    excl = Exclusions(min_net_area_ha=criteria.exclusions.min_net_area_ha, rules=rules)
    polys = s3[0].geometry.to_numpy()
    park, nnp_site = _nnp_site(layers)
    sites = gpd.GeoDataFrame({"application_id": ["s3", "nnp"]}, crs=25832, geometry=[
        _square(shapely.centroid(polys[np.argmax(shapely.area(polys))]), 900.0), nnp_site])
    prepared = exclusion.prepared_layers(layers, excl, cache_dir=tmp_path)
    raw = exclusion.evaluate(sites, layers, excl, allow_missing=["bes_naturtyper"])
    prep = exclusion.evaluate(sites, layers, excl, allow_missing=["bes_naturtyper"], prepared=prepared)
    cols = ["application_id", "rule_id", "features", "provisional", "decisive"]
    assert prep.overlaps[cols].equals(raw.overlaps[cols])
    assert np.allclose(prep.overlaps[["overlap_ha", "cut_ha"]], raw.overlaps[["overlap_ha", "cut_ha"]], atol=1e-6)
    assert prep.summary["exclusion_reasons"].equals(raw.summary["exclusion_reasons"])

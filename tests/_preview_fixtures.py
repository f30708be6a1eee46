"""Draft submissions for the preview tests: a good one near Give (Vejle) and each bad kind, built in tmp_path.

The good draft is the shipped template's example feature (a 50 ha square, WGS84, around lon 9.262 lat 55.858,
inside Vejle Kommune) with kommunekode 0630 and ``is_example`` false. Every bad kind changes one thing.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import tempfile
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
from shapely.geometry import box

MAKE_ALLOW_MISSING = ("bes_naturtyper",)
"""The Makefile's ALLOW_MISSING: the exclusion layers the mirror has no (complete) copy of."""

GIVE_INCOMPLETE = "incomplete: bes_naturtyper missing (outside the coverage of the available copy)"
"""The mark of a site near Give: the mirror's § 3 copy covers six municipalities near Copenhagen only."""

GIVE_SQUARE = [[9.256345, 55.85482], [9.267655, 55.85482], [9.267655, 55.86118], [9.256345, 55.86118],
               [9.256345, 55.85482]]
"""The template's example polygon, lon/lat (EPSG:4326), about 707 m x 707 m = 50 ha, in Vejle Kommune."""

GOOD_PROPERTIES = {
    "schema_version": "1.0", "is_example": False, "application_id": "VEJ-2026-01", "kommunekode": "0630",
    "kommunenavn": "Vejle", "co_applicant_kommunekoder": "", "region": "Syddanmark",
    "area_name": "Give Øst test site", "area_ha_declared": 50.0, "new_plots_ha": 35.0,
    "kb_decision_date": "2026-01-28", "municipal_land_control": "private",
    "planning_zone": "landzone", "planning_kommuneplanramme_erhverv": True,
    "planning_lokalplan_status": "in_preparation", "planning_permission_needed": True,
    "business_loi_count": 2, "infra_el_status": "planned", "infra_vand_status": "existing",
    "infra_varme_status": "planned", "infra_gas_status": "none", "infra_spildevand_status": "existing",
    "transport_motorway_km": 12.0, "transport_rail_status": "none", "transport_port_status": "none",
    "nature_declared_clear": True, "energy_park_adjacent": False,
}
"""A filled-in application for the Give square (fictional values within the schema)."""


def feature_collection(properties: dict | None = None, ring: list | None = None, **extra) -> dict:
    """A one-feature GeoJSON FeatureCollection (WGS84) with `properties` over the Give square or `ring`."""
    props = copy.deepcopy(GOOD_PROPERTIES if properties is None else properties)
    feature = {"type": "Feature", "properties": props,
               "geometry": {"type": "Polygon", "coordinates": [ring or GIVE_SQUARE]}}
    return {"type": "FeatureCollection", "features": [feature], **extra}


def good_geojson_bytes() -> bytes:
    """The good draft as GeoJSON bytes."""
    return json.dumps(feature_collection()).encode()


@functools.cache
def bad_uploads() -> dict[str, tuple[str, bytes]]:
    """Each bad kind of upload: id -> (file name, bytes)."""
    good = good_geojson_bytes()
    swapped = [[lat, lon] for lon, lat in GIVE_SQUARE]
    bow_tie = [[9.256345, 55.85482], [9.267655, 55.86118], [9.267655, 55.85482], [9.256345, 55.86118],
               [9.256345, 55.85482]]
    unknown = dict(GOOD_PROPERTIES, kommunekode="9999")
    return {
        "corrupt": ("draft.geojson", good[: len(good) // 2]),
        "empty_file": ("draft.geojson", b""),
        "empty_collection": ("draft.geojson", b'{"type": "FeatureCollection", "features": []}'),
        "no_crs": ("draft.zip", shapefile_zip(with_prj=False)),
        "swapped_lon_lat": ("draft.geojson", json.dumps(feature_collection(ring=swapped)).encode()),
        "unknown_kommunekode": ("draft.geojson", json.dumps(feature_collection(unknown)).encode()),
        "invalid_geometry": ("draft.geojson", json.dumps(feature_collection(ring=bow_tie)).encode()),
        "zip_slip": ("draft.zip", zip_bytes({"../../evil.shp": b"x", "site.dbf": b"y"})),
        "zip_bomb": ("draft.zip", zip_bytes({"site.shp": b"\0" * (64 * 2**20)})),
        "wrong_extension": ("draft.exe", good),
        "renamed_content": ("draft.gpkg", good),
    }


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A deflated zip archive of `members` (name -> bytes); names are written as given, '../' included."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def shapefile_zip(*, with_prj: bool = True) -> bytes:
    """The good draft's required fields as a zipped Shapefile in EPSG:25832; without its .prj the CRS is
    unknown."""
    gdf = gpd.read_file(io.BytesIO(good_geojson_bytes()))[["application_id", "kommunekode", "geometry"]]
    gdf = gdf.to_crs(25832)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Shapefile field names are cut to 10 characters, as in real exports
        path = Path(tmp) / "site.shp"
        gdf.to_file(path, engine="pyogrio")
        members = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if with_prj or p.suffix != ".prj"}
    return zip_bytes(members)


def square_geojson(x: float, y: float, *, side_m: float, properties: dict) -> bytes:
    """A square of `side_m` metres centred on (x, y) in EPSG:25832, written as WGS84 GeoJSON."""
    half = side_m / 2
    gdf = gpd.GeoDataFrame([properties], geometry=[box(x - half, y - half, x + half, y + half)], crs=25832)
    return gdf.to_crs(4326).to_json().encode()


@functools.cache
def mirror_context():
    """(settings, catalog, criteria, PreviewContext) on the real mirror, loaded once per test session.

    The reference is the mirror's approximate 2025 applications screened now (``reports_root`` points at
    an empty folder so a developer's own runs never leak in); the layer cache is the session's temp cache.
    """
    from screening import preview
    from screening.config import load_catalog, load_criteria, settings_from_env

    settings = settings_from_env()
    catalog = load_catalog(settings=settings)
    criteria = load_criteria(settings=settings, catalog=catalog)
    with tempfile.TemporaryDirectory() as empty:
        ctx = preview.preview_context(catalog=catalog, criteria=criteria, settings=settings,
                                      reports_root=Path(empty), allow_missing=MAKE_ALLOW_MISSING)
    return settings, catalog, criteria, ctx


@functools.cache
def many_features_bytes(n: int = 5000) -> bytes:
    """The hostile campaign's upload: `n` small valid round sites on Danish land with full properties, as
    GeoJSON (about 10 MB for 5,000, 33 vertices each: inside the 20 MB and 200,000-vertex limits)."""
    import shapely

    from tests._hostile_fixtures import many_sites

    _, _, _, ctx = mirror_context()
    sites = many_sites(ctx.layer_set.layers["kommuner"], n)
    rings = shapely.buffer(shapely.centroid(sites.geometry.to_numpy()), 200.0, quad_segs=8)
    props = [dict(GOOD_PROPERTIES, application_id=aid, kommunekode=kode, kommunenavn=None, region=None,
                  area_name=name, area_ha_declared=12.5)
             for aid, kode, name in zip(sites["application_id"], sites["kommunekode"], sites["site_name"],
                                        strict=True)]
    frame = gpd.GeoDataFrame(props, geometry=rings, crs=25832).to_crs(4326)
    return frame.to_json(drop_id=True).encode()

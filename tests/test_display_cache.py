"""The report's speed-ups keep every output the same: the site maps' per-frame background and the display
cache (`screening._sitemap_background`, `screening._display_cache`), on synthetic layers with round
EPSG:25832 coordinates."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point, box

from screening import _display_cache, _map_context, _sitemap_background, maps, report, surface
from screening._raster import EXCLUSION_NODATA
from screening.errors import LayerDataError
from tests._report_fixtures import synthetic_context, synthetic_run

CRS = "EPSG:25832"
X0, Y0 = 500_000, 6_200_000
KM = 1000


@pytest.fixture(scope="module")
def background_layers():
    """A 6 x 6 grid of 10 km municipalities, 36 small Natura 2000 discs (300 m) at the grid centres and
    one east-west HV line per grid row."""
    cells = [box(X0 + i * 10 * KM, Y0 + j * 10 * KM, X0 + (i + 1) * 10 * KM, Y0 + (j + 1) * 10 * KM)
             for j in range(6) for i in range(6)]
    discs = [Point(X0 + (i + 0.5) * 10 * KM, Y0 + (j + 0.5) * 10 * KM).buffer(300) for j in range(6) for i in range(6)]
    lines = [LineString([(X0, Y0 + (j + 0.3) * 10 * KM), (X0 + 60 * KM, Y0 + (j + 0.3) * 10 * KM)]) for j in range(6)]
    return {"kommuner": gpd.GeoDataFrame({"kommunekode": [f"{i:04d}" for i in range(36)]}, geometry=cells, crs=CRS),
            "natura2000_habitat": gpd.GeoDataFrame({"objektnavn": [f"N{i}" for i in range(36)]}, geometry=discs,
                                                   crs=CRS),
            "hv_lines": gpd.GeoDataFrame({"name": [f"L{j}" for j in range(6)]}, geometry=lines, crs=CRS)}


def _frame(cx_km: float, cy_km: float, half_km: float) -> tuple[float, float, float, float]:
    cx, cy, half = X0 + cx_km * KM, Y0 + cy_km * KM, half_km * KM
    return cx - half, cy - half, cx + half, cy + half


# many discs in view; exactly one disc (the single-path case of matplotlib); none (a frame between them);
# a frame leaving the grid
FRAMES = [_frame(30, 30, 25), _frame(15, 15, 3), _frame(10, 20, 3), _frame(58, 58, 6)]


def _pixels(ax, frame) -> np.ndarray:
    ax.set_xlim(frame[0], frame[2])
    ax.set_ylim(frame[1], frame[3])
    ax.set_aspect("equal")
    canvas = ax.figure.canvas
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def _axes():
    fig = Figure(figsize=(5.6, 5.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.005, 0.005, 0.99, 0.99))
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


@pytest.mark.parametrize("frame", FRAMES, ids=["many", "one-disc", "none", "edge"])
def test_background_cut_per_frame_draws_the_pixels_of_whole_layers(background_layers, frame):
    """The site map's background cut to one frame's paths renders exactly as the whole layers (the drawing
    before: every feature simplified to 10 m and plotted)."""
    whole = _axes()
    for layer_id, style in _sitemap_background.STYLES:  # the reference: whole layers
        gdf = background_layers.get(layer_id)
        if gdf is not None:
            simple = shapely.simplify(gdf.geometry.to_numpy(), _sitemap_background.SIMPLIFY_M, preserve_topology=False)
            gpd.GeoSeries(simple).plot(ax=whole, zorder=1, **style)
    cut = _axes()
    layers = _sitemap_background.draw(cut, background_layers, FRAMES)
    assert [len(layer.paths) for layer in layers] == [36, 36, 6]  # every frame together meets all of them
    _sitemap_background.show(layers, frame)
    np.testing.assert_array_equal(_pixels(cut, frame), _pixels(whole, frame))


@pytest.mark.parametrize(("frame", "counts"), [
    (_frame(15, 15, 3), [1, 1, 1]),  # inside one cell, around its disc, across the line at y = 13 km
    (_frame(20, 20, 3), [4, 1]),  # on a corner of four cells, between the discs (no collection), one line
])
def test_background_draws_only_features_near_some_frame(background_layers, frame, counts):
    """Features no frame meets are neither simplified nor drawn."""
    layers = _sitemap_background.draw(_axes(), background_layers, [frame])
    assert [len(layer.paths) for layer in layers] == counts
    assert all(layer.cut for layer in layers)


# --------------------------------------------------------------------------- display cache: context GeoJSON


def _reference(gdf, style):
    """What folium embedded before the cache: the display frame's ``__geo_interface__`` through JSON."""
    frame = maps.display_frame(gdf, tolerance_m=style.tolerance_m, label=style.label)
    return json.loads(json.dumps(frame.__geo_interface__))


@pytest.mark.parametrize("layer_id", ["kommuner", "natura2000_fuglebeskyttelse", "hv_lines", "towns"])
def test_context_geojson_is_the_display_frames_geojson(tmp_path, layer_id):
    """Built, read back from disk and from the process memo: always the display frame's own GeoJSON."""
    gdf = synthetic_context()[layer_id]
    style = _map_context.style_for(layer_id, gdf)

    def get(cache_dir):
        return _display_cache.context_geojson(
            gdf, _map_context.context_labels(gdf, style.label), tolerance_m=style.tolerance_m,
            decimals=maps.COORD_DECIMALS,
            build=lambda: maps.display_frame(gdf, tolerance_m=style.tolerance_m, label=style.label),
            cache_dir=cache_dir)

    expected = _reference(gdf, style)
    _display_cache._MEMO.clear()
    assert get(tmp_path) == expected  # built and saved
    assert len(list(tmp_path.glob("map-*.geojson"))) == 1
    _display_cache._MEMO.clear()
    assert get(tmp_path) == expected  # read from disk
    assert get(None) == expected  # from the memo


def test_context_key_follows_geometries_and_labels():
    """A clipped copy (same attrs, same length) or other label texts never share an entry."""
    gdf = synthetic_context()["kommuner"]
    labels = _map_context.context_labels(gdf, ("kommunenavn",))
    key = _display_cache.context_key(gdf, labels, tolerance_m=100, decimals=5)
    cut = box(X0, Y0, X0 + 30 * KM, Y0 + 90 * KM)
    clipped = gdf.assign(geometry=shapely.intersection(gdf.geometry.to_numpy(), cut))
    assert clipped.attrs == gdf.attrs and len(clipped) == len(gdf)
    assert _display_cache.context_key(clipped, labels, tolerance_m=100, decimals=5) != key
    assert _display_cache.context_key(gdf, labels + " kommune", tolerance_m=100, decimals=5) != key
    assert _display_cache.context_key(gdf, labels, tolerance_m=50, decimals=5) != key
    assert _display_cache.context_key(gdf.copy(), labels.copy(), tolerance_m=100, decimals=5) == key


def test_changed_context_entry_is_refused(tmp_path):
    gdf = synthetic_context()["kommuner"]
    style = _map_context.style_for("kommuner", gdf)
    args = {"tolerance_m": style.tolerance_m, "decimals": maps.COORD_DECIMALS, "cache_dir": tmp_path,
            "build": lambda: maps.display_frame(gdf, tolerance_m=style.tolerance_m, label=style.label)}
    _display_cache.context_geojson(gdf, _map_context.context_labels(gdf, style.label), **args)
    entry = next(tmp_path.glob("map-*.geojson"))
    entry.write_text(entry.read_text(encoding="utf-8").replace("Vestby", "Westby"), encoding="utf-8")
    _display_cache._MEMO.clear()
    with pytest.raises(LayerDataError, match=r"changed since it was written.*delete"):
        _display_cache.context_geojson(gdf, _map_context.context_labels(gdf, style.label), **args)


def _without_ids(html: str) -> str:
    """A folium page with its random element ids and the script hashes that follow from them blanked."""
    return re.sub(r"sha256-[A-Za-z0-9+/=]+", "sha", re.sub(r"_[0-9a-f]{32}", "_X", html))


def test_map_with_cached_context_is_the_same_page(tmp_path):
    """map.html from a cold cache, a warm cache and no cache is the same page."""
    run = synthetic_run()
    cand = run["candidates"].assign(status=lambda c: maps.candidate_status(c))
    env, page = report.template_env(), {"run_id": "t", "banners": []}

    def page_html(name, cache_dir):
        _display_cache._MEMO.clear()
        path = maps.write_map(tmp_path / name, cand, {}, context=synthetic_context(), env=env, page=page,
                              cache_dir=cache_dir)
        return _without_ids(path.read_text(encoding="utf-8"))

    plain = page_html("plain.html", None)
    assert page_html("cold.html", tmp_path / "cache") == plain
    assert page_html("warm.html", tmp_path / "cache") == plain
    assert len(list((tmp_path / "cache").glob("map-*.geojson"))) == len(synthetic_context())


# --------------------------------------------------------------------------- display cache: surface overlay


@pytest.fixture()
def surface_dir(tmp_path):
    """A 40 x 30 cell surface at 1 km: scores rising west to east, a sea column (NaN), two excluded cells."""
    out = tmp_path / "surface"
    out.mkdir()
    transform = from_origin(X0, Y0 + 30 * KM, KM, KM)
    score = np.tile(np.linspace(0, 100, 40, dtype=np.float32), (30, 1))
    score[:, 0] = np.nan
    bits = np.zeros((30, 40), dtype=np.uint16)
    bits[:, 0] = EXCLUSION_NODATA
    bits[10, 10] = bits[20, 30] = 1
    for name, data, nodata in (("suitability.tif", score, np.nan), ("exclusion.tif", bits, EXCLUSION_NODATA)):
        with rasterio.open(out / name, "w", driver="GTiff", width=40, height=30, count=1, dtype=data.dtype,
                           crs=CRS, transform=transform, nodata=nodata) as ds:
            ds.write(data, 1)
    return out


def test_overlay_from_the_cache_is_the_same_file(tmp_path, surface_dir, monkeypatch):
    expected_png, expected_bounds = surface.overlay_png(surface_dir, tmp_path / "plain.png", max_px=64)
    cache = tmp_path / "cache"
    png, bounds = _display_cache.overlay_png(surface_dir, tmp_path / "cold.png", max_px=64, cache_dir=cache)
    assert png.read_bytes() == expected_png.read_bytes() and bounds == expected_bounds

    def not_again(*_args, **_kwargs):
        raise AssertionError("the overlay was rendered again")

    monkeypatch.setattr(surface, "overlay_png", not_again)
    png, bounds = _display_cache.overlay_png(surface_dir, tmp_path / "warm.png", max_px=64, cache_dir=cache)
    assert png == tmp_path / "warm.png"
    assert png.read_bytes() == expected_png.read_bytes() and bounds == expected_bounds
    assert _display_cache.overlay_key(surface_dir, max_px=64) != _display_cache.overlay_key(surface_dir, max_px=65)

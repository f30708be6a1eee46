"""The national background of the card site maps: land, Natura 2000 and HV lines, drawn per map frame.

Internal to `screening._sitemap`. The layers are drawn once on the reused figure (geopandas collections,
simplified to 10 m, below a pixel of the smallest frame), and only their features that meet some site's
frame. Before each save `show` cuts every collection down to the paths that meet that map's frame (an
STRtree over the paths' boxes, one query per map), so Agg walks the vertices of a few kommuner per map
instead of the whole country's. A path that lies outside the frame widened by `MARGIN` puts no pixel in
view (lines are at most 1.2 pt wide), so each map is the same, pixel for pixel, as one drawn with the whole
layers; `tests/test_report.py` checks this against the whole-layer drawing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from matplotlib.collections import Collection, LineCollection, PatchCollection
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

__all__ = ["STYLES", "SIMPLIFY_M", "MARGIN", "BackgroundLayer", "draw", "show"]

STYLES = (
    ("kommuner", {"color": "#f7f6f0", "edgecolor": "#b0b0b0", "linewidth": 0.6}),
    ("natura2000_omraader_simplified", {"color": "#c7e9c0", "edgecolor": "#74c476", "linewidth": 0.4}),
    ("natura2000_fuglebeskyttelse", {"color": "#a1d99b", "edgecolor": "#41ab5d", "linewidth": 0.4, "alpha": 0.8}),
    ("natura2000_habitat", {"color": "#a1d99b", "edgecolor": "#238b45", "linewidth": 0.4, "alpha": 0.6}),
    ("hv_lines", {"color": "#6a51a3", "linewidth": 1.2}),
)
"""Background layers in drawing order, with their matplotlib style (all at ``zorder`` 1)."""
SIMPLIFY_M = 10.0
"""Simplification of the background, metres: below a pixel of the smallest frame (6 km on 560 px)."""
MARGIN = 0.05
"""Share of the frame's width added on every side when choosing the paths of a map (28 px at 560 px)."""


@dataclass(frozen=True)
class BackgroundLayer:
    """One background collection on the figure: all its paths (in data coordinates, EPSG:25832), an
    STRtree of their boxes, and whether `show` may cut it down (it may not when its colours vary per path)."""

    collection: Collection
    paths: tuple
    tree: shapely.STRtree
    cut: bool


_EMPTY = MplPath(np.zeros((0, 2)))
def draw(ax, context: Mapping[str, gpd.GeoDataFrame], frames: Sequence[tuple[float, float, float, float]]
         ) -> list[BackgroundLayer]:
    """Draw the features of the `STYLES` layers that meet any of `frames` (widened by `MARGIN`) on `ax`.

    Parameters
    ----------
    ax
        The site map's axes.
    context
        Layer id -> GeoDataFrame (EPSG:25832); absent or empty layers are skipped.
    frames
        ``(xmin, ymin, xmax, ymax)`` of every map that will be saved (EPSG:25832 m).

    Returns
    -------
    list of BackgroundLayer
        One per collection added, in drawing order, for `show`.
    """
    if not len(frames):
        return []
    boxes = shapely.box(*np.asarray([_widened(f) for f in frames], dtype=float).T)
    out = []
    for layer_id, style in STYLES:  # five layers, each one bulk query
        gdf = context.get(layer_id)
        if gdf is None or not len(gdf):
            continue
        geoms = gdf.geometry.to_numpy()
        hit = np.unique(shapely.STRtree(geoms).query(boxes)[1])
        if not hit.size:
            continue
        before = len(ax.collections)
        simple = shapely.simplify(geoms[hit], SIMPLIFY_M, preserve_topology=False)  # per feature: as whole layers
        gpd.GeoSeries(simple).plot(ax=ax, zorder=1, **style)
        out += [_layer(coll) for coll in ax.collections[before:]]
    return out


def show(background: Sequence[BackgroundLayer], frame: tuple[float, float, float, float]) -> None:
    """Keep in each background collection only the paths that meet `frame` widened by `MARGIN`, in their
    drawing order."""
    box = shapely.box(*_widened(frame))
    for layer in background:  # a handful of collections
        if not layer.cut:
            continue
        keep = [layer.paths[i] for i in np.sort(layer.tree.query(box))]
        if len(keep) == 1 and len(layer.paths) > 1:
            # with one path matplotlib blits it as a marker at a whole pixel (Collection.draw's single path
            # optimisation), up to half a pixel off the collection drawing; an empty path keeps the latter
            keep.append(_EMPTY)
        if isinstance(layer.collection, LineCollection):
            layer.collection.set_segments([p.vertices for p in keep])
        else:  # a PatchCollection takes patches; an identity PathPatch hands its path over unchanged
            layer.collection.set_paths([PathPatch(p) for p in keep])


# --------------------------------------------------------------------------- helpers


def _widened(frame) -> tuple[float, float, float, float]:
    pad = MARGIN * (frame[2] - frame[0])
    return frame[0] - pad, frame[1] - pad, frame[2] + pad, frame[3] + pad


def _layer(coll: Collection) -> BackgroundLayer:
    """The paths of a collection with an STRtree of their boxes; cut only when its style is uniform."""
    paths = tuple(coll.get_paths())
    lo = np.array([p.vertices.min(axis=0) if len(p.vertices) else (np.nan, np.nan) for p in paths]).reshape(-1, 2)
    hi = np.array([p.vertices.max(axis=0) if len(p.vertices) else (np.nan, np.nan) for p in paths]).reshape(-1, 2)
    uniform = (coll.get_array() is None and isinstance(coll, (LineCollection, PatchCollection))
               and all(len(v) <= 1 for v in (coll.get_facecolor(), coll.get_edgecolor(), coll.get_linewidth())))
    return BackgroundLayer(coll, paths, shapely.STRtree(shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1])),
                           uniform)

"""The small static site maps of the score cards: a site and its nearest infrastructure (matplotlib, Agg).

No basemap is needed: municipalities are drawn as land on a blue sea, with Natura 2000, HV lines, the
main roads and towns for orientation. With the road layer the map also shows the site's 30- and 45-minute
catchments and its route from the nearest motorway exit (`screening._sitemap_travel`), credited to
OpenStreetMap. One figure is reused for all applications and the national background is drawn on it once,
so tens of maps take seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

from screening import _sitemap_background, _sitemap_travel
from screening._figures import format_value
from screening.config import Criteria
from screening.errors import LayerDataError
from screening.i18n import N_
from screening.i18n import gettext as _

__all__ = ["nearest_infrastructure", "site_maps"]

log = logging.getLogger(__name__)

_SITE_MAP_LABELS = {
    "hv_substations": N_("substation"), "hv_lines": N_("HV line"), "rail_stations": N_("station"),
    "ports": N_("port"), "airports": N_("airport")
}  # English msgids, translated where drawn
_MAX_FRAME_M = 25_000.0  # nearest features further than this are drawn as a line leaving the site map
_SITE_MAP_PX = 560


def nearest_infrastructure(
    candidates: gpd.GeoDataFrame, context: Mapping[str, gpd.GeoDataFrame], criteria: Criteria
) -> gpd.GeoDataFrame:
    """The nearest feature of each distance criterion's context layer to each site, as a connecting line.

    Uses the criterion's filter (e.g. substations only, airports with an IATA code) and one bulk
    ``sindex.nearest`` query per criterion. With the road layer in `context`, travel criteria are drawn
    as the scoring measures them instead (`screening._sitemap_travel.travel_overlays`): the route from the
    nearest exit and the catchment polygons.

    Returns
    -------
    geopandas.GeoDataFrame
        ``application_id, criterion, layer, label, distance_m, kind`` and the geometry (EPSG:25832):
        ``kind`` ``straight`` (the shortest line from the site to the feature), ``route`` or ``direct``
        (from the site to the nearest exit; ``minutes``), ``catchment`` (a polygon; ``minutes``); empty
        when no criterion's layer is in `context`.
    """
    cols = ["application_id", "criterion", "layer", "label", "distance_m", "kind"]
    parts = []
    geoms = candidates.geometry.to_numpy()
    on_roads = criteria.travel.road_layer in context
    for crit in criteria.criteria:  # a loop over the handful of criteria, each a vectorised query
        layer = context.get(crit.layer or "")
        if crit.measure not in ("distance", "travel_time") or layer is None or layer.empty:
            continue
        if crit.measure == "travel_time" and on_roads:
            continue  # drawn as the route from the road network below
        try:
            layer = crit.filter.apply(layer, what=str(crit.layer))
        except LayerDataError as exc:
            log.info("site map: %s; drawing the unfiltered layer", exc)
        if layer.empty:
            continue
        src, dst = layer.sindex.nearest(geoms, return_all=False)
        lines = shapely.shortest_line(geoms[src], layer.geometry.to_numpy()[dst])
        label_col = crit.label_column or "name"
        labels = layer[label_col].astype(str).to_numpy()[dst] if label_col in layer else np.full(len(dst), "")
        parts.append(
            gpd.GeoDataFrame(
                {
                    "application_id": candidates["application_id"].astype(str).to_numpy()[src],
                    "criterion": crit.id, "layer": crit.layer, "label": labels,
                    "distance_m": shapely.length(lines), "kind": "straight"
                },
                geometry=lines,
                crs=candidates.crs,
            )
        )
    if on_roads:
        parts.append(_sitemap_travel.travel_overlays(candidates, context, criteria))
    parts = [p for p in parts if len(p)]
    if not parts:
        return gpd.GeoDataFrame(columns=cols, geometry=[], crs=candidates.crs)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=candidates.crs)


def site_maps(
    candidates: gpd.GeoDataFrame, nearest: gpd.GeoDataFrame, context: Mapping[str, gpd.GeoDataFrame],
    paths: Mapping[str, Path], *, colours: Mapping[str, str]
) -> dict[str, Path]:
    """Draw, per site, a small static map of the site and its nearest infrastructure to a PNG.

    The frame is centred on the site and wide enough for the nearest features within 25 km (at least
    6 km across); features further away are drawn as a line leaving the frame, labelled with an arrow.

    Parameters
    ----------
    candidates
        Sites in EPSG:25832 with ``application_id`` and ``status`` (the key of `colours`).
    nearest
        Lines from `nearest_infrastructure`.
    context
        Context layers in EPSG:25832: municipalities are drawn as land on a blue sea, Natura 2000 in green,
        HV lines in purple, and towns of 2,000 inhabitants or more for orientation.
    paths
        application_id -> output PNG.
    colours
        status -> fill colour of the site.

    Returns
    -------
    dict of str to pathlib.Path
        `paths`, once written.
    """
    fig = Figure(figsize=(_SITE_MAP_PX / 100, _SITE_MAP_PX / 100), dpi=100)
    ax = fig.add_axes((0.005, 0.005, 0.99, 0.99))
    ax.set_facecolor("#dbeaf5" if "kommuner" in context else "#ffffff")
    by_id = candidates.set_index(candidates["application_id"].astype(str))
    near_ids = nearest["application_id"].astype(str)
    frames = {aid: _frame(by_id.loc[aid].geometry, nearest.loc[near_ids == aid])[0] for aid in paths}
    background = _sitemap_background.draw(ax, context, list(frames.values()))
    roads = _sitemap_travel.prepare_roads(context.get("roads"), "road_class")
    credit = _sitemap_travel.draw_attribution(ax) if roads is not None else []  # ODbL: wherever roads show
    has_catchments = "kind" in nearest and (nearest["kind"] == "catchment").any()
    inset = _sitemap_travel.inset_axes(fig, context, roads) if has_catchments else None
    towns = _towns(context)
    ax.set_xticks([])
    ax.set_yticks([])
    for aid, path in paths.items():  # one map per application (tens), on the one figure
        cand = by_id.loc[aid]
        _sitemap_background.show(background, frames[aid])
        rows, colour = nearest.loc[near_ids == aid], colours.get(str(cand["status"]), "#d7301f")
        added = _draw_site(ax, cand.geometry, rows, towns, colour, roads, inset is not None)
        if inset is not None:
            added += _sitemap_travel.draw_inset(inset, cand.geometry, rows.loc[rows["kind"] == "catchment"], colour)
        fig.savefig(path, format="png")
        for artist in added:
            artist.remove()
    for artist in credit:
        artist.remove()
    return dict(paths)


# --------------------------------------------------------------------------- helpers


def _towns(context: Mapping[str, gpd.GeoDataFrame]) -> pd.DataFrame:
    towns = context.get("towns")
    if towns is None or "population" not in towns or "name" not in towns:
        return pd.DataFrame({"x": [], "y": [], "name": [], "population": []})
    pop = pd.to_numeric(towns["population"], errors="coerce").fillna(0)
    big = towns.loc[pop >= 2000]
    return pd.DataFrame({"x": big.geometry.x, "y": big.geometry.y, "name": big["name"].astype(str),
                         "population": pop.loc[big.index]}).sort_values("population", ascending=False)


def _frame(site, nearest: pd.DataFrame) -> tuple[tuple[float, float, float, float], float]:
    """The site map's frame ``(xmin, ymin, xmax, ymax)`` (EPSG:25832 m), centred on the site, and its half
    width: at least 3 km, the site with a margin, and the nearest features and routes within 25 km."""
    cx, cy = site.centroid.x, site.centroid.y
    xmin, ymin, xmax, ymax = site.bounds
    kind = nearest["kind"] if "kind" in nearest else pd.Series("straight", index=nearest.index)
    within = nearest.loc[kind.isin(["straight", "route", "direct"]), "distance_m"]
    within = within.loc[within <= _MAX_FRAME_M]
    half = max(3000.0, 0.75 * max(xmax - xmin, ymax - ymin),
               1.15 * (float(within.max()) if len(within) else 0.0) + 1500.0)
    return (cx - half, cy - half, cx + half, cy + half), half


def _draw_site(ax, site, nearest: pd.DataFrame, towns: pd.DataFrame, colour: str, roads=None,
               inset: bool = False) -> list:
    """Add the site, its catchments, route and nearest features, the roads in view, town labels and a
    scale bar; return the artists added."""
    cx, cy = site.centroid.x, site.centroid.y
    xmin, ymin, xmax, ymax = site.bounds
    frame, half = _frame(site, nearest)
    kind = nearest["kind"] if "kind" in nearest else pd.Series("straight", index=nearest.index)
    routes = nearest.loc[kind.isin(["route", "direct"])]  # catchments go to the inset (`site_maps`)
    nearest = nearest.loc[kind == "straight"]
    px = 2 * half / (_SITE_MAP_PX - 20)  # metres per pixel
    added = [
        ax.add_patch(_patch(site, facecolor=colour, alpha=0.75, edgecolor="#000000", linewidth=1.2, zorder=5))
    ]
    if max(xmax - xmin, ymax - ymin) < 0.04 * half:  # too small to see at this scale: mark it
        added += ax.plot(
            [cx], [cy], marker="*", markersize=16, color=colour, markeredgecolor="#000000", zorder=6
        )
    placed = [
        (min(xmin, cx - 10 * px), min(ymin, cy - 10 * px), max(xmax, cx + 10 * px), max(ymax, cy + 10 * px))
    ]
    added += _sitemap_travel.draw_roads(ax, roads, frame)
    if inset:  # keep labels off the inset (upper right): its box in this frame's metres
        left, bottom, width, height = _sitemap_travel.INSET
        span = frame[2] - frame[0]
        placed.append((frame[0] + left * span, frame[1] + bottom * span, frame[2], frame[3]))
    for row in routes.itertuples():  # the route from the nearest exit (one per travel criterion)
        added += _sitemap_travel.draw_route(ax, row, frame)
        added += _route_label(ax, row, frame, placed, px)
    for row in nearest.sort_values("distance_m").to_dict("records"):  # the five or so nearest features
        added += _draw_nearest(ax, row, (cx, cy), half, frame, placed)
    added += _sitemap_travel.draw_legend(ax, None, len(routes) > 0)
    shown = towns.loc[(abs(towns["x"] - cx) < half * 0.95) & (abs(towns["y"] - cy) < half * 0.95)].head(6)
    added += ax.plot(shown["x"], shown["y"], "o", color="#636363", markersize=3, zorder=3)
    for row in shown.itertuples():  # at most six town labels, only where they hide nothing
        spot = _free_spot(
            [(row.x, row.y)], (5.5 * len(row.name) * px + 8 * px, 14 * px), placed, frame, strict=True
        )
        if spot:
            added.append(
                ax.annotate(
                    row.name,
                    spot[:2],
                    xytext=(3 if spot[2] == "left" else -3, 0),
                    textcoords="offset points",
                    fontsize=7,
                    color="#525252",
                    zorder=3,
                    ha=spot[2],
                    va=spot[3],
                )
            )
    added += _scale_bar(ax, frame)
    ax.set_xlim(frame[0], frame[2])
    ax.set_ylim(frame[1], frame[3])
    ax.set_aspect("equal")
    return added


def _route_label(ax, row, frame, placed: list, px: float) -> list:
    """The exit's name and minutes beside the route, where it hides no other label."""
    text = _sitemap_travel.text("route" if row.kind == "route" else "direct", label=row.label,
                                minutes=row.minutes)
    xy = shapely.get_coordinates(row.geometry)
    inside = [(x, y) for x, y in xy[::-1] if frame[0] < x < frame[2] and frame[1] < y < frame[3]]
    anchors = inside[:1] + inside[len(inside) // 2:len(inside) // 2 + 1] if inside else [tuple(xy[0])]
    size = ((6.0 * max(len(s) for s in text.split("\n")) + 14) * px, 32 * px)
    x, y, ha, va = _free_spot(anchors, size, placed, frame)
    return [ax.annotate(text, (x, y), xytext=(4 if ha == "left" else -4, -3 if va == "top" else 3),
                        textcoords="offset points", fontsize=7.5, zorder=7, ha=ha, va=va,
                        bbox={"boxstyle": "round,pad=0.2", "fc": "#fff5eb", "ec": "#d94801", "alpha": 0.9})]


def _free_spot(anchors, size, placed: list, frame, *, strict: bool = False):
    """The first (x, y, ha, va) at an anchor whose label box overlaps no placed box and stays in the frame.

    Without a free spot: the least-overlapping one, or None when `strict`. The chosen box joins `placed`.
    """
    best = None
    for x, y in anchors:  # a few anchors, four corners each
        for ha, va in (("left", "top"), ("right", "top"), ("left", "bottom"), ("right", "bottom")):
            left = x if ha == "left" else x - size[0]
            top = y if va == "top" else y + size[1]
            box = (left, top - size[1], left + size[0], top)
            clash = sum(_overlap(box, b) for b in placed)
            clash += size[0] * size[1] - _overlap(box, frame)  # the part outside the frame
            if best is None or clash < best[0]:
                best = (clash, (x, y, ha, va), box)
            if clash <= 0:
                break
        if best[0] <= 0:
            break
    if strict and best[0] > 0:
        return None
    placed.append(best[2])
    return best[1]


def _overlap(a, b) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _patch(geom, **kw) -> PathPatch:
    """A matplotlib patch of a (multi)polygon, holes kept."""
    verts, codes = [], []
    for poly in getattr(geom, "geoms", [geom]):  # the parts of one site
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(ring.coords)[:, :2]
            verts.append(xy)
            codes.append([MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY])
    return PathPatch(MplPath(np.concatenate(verts), np.concatenate(codes)), **kw)


def _draw_nearest(ax, row: Mapping, centre: tuple[float, float], half: float, frame, placed: list) -> list:
    """Draw the line to one nearest feature and its label where it hides no other label nor the site."""
    line = row["geometry"]
    (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
    added = ax.plot([x0, x1], [y0, y1], linestyle="--", color="#252525", linewidth=0.9, zorder=4)
    layer = str(row["layer"])
    what = _(_SITE_MAP_LABELS[layer]) if layer in _SITE_MAP_LABELS else str(row["criterion"])
    label = f"{what}: {row['label']}" if str(row.get("label") or "").strip() not in ("", "nan") else what
    inside = abs(x1 - centre[0]) < half * 0.92 and abs(y1 - centre[1]) < half * 0.92
    text = f"{label}\n{format_value(row['distance_m'], 'm')}" + ("" if inside else " →")
    if inside:
        added += ax.plot(
            [x1],
            [y1],
            marker="o",
            color="#6a51a3" if "hv" in str(row["layer"]) else "#08519c",
            markersize=6,
            markeredgecolor="#ffffff",
            zorder=6,
        )
    reach = min(1.0, 0.9 * half / max(abs(x1 - x0), abs(y1 - y0), 1.0))  # share of the line in the frame
    fracs = (1.0, 0.7, 0.45) if inside else (0.95, 0.75, 0.55, 0.4)
    anchors = [(x0 + (x1 - x0) * reach * f, y0 + (y1 - y0) * reach * f) for f in fracs]
    px = 2 * half / (_SITE_MAP_PX - 20)
    size = ((6.0 * max(len(s) for s in text.split("\n")) + 14) * px, 32 * px)
    x, y, ha, va = _free_spot(anchors, size, placed, frame)
    added.append(
        ax.annotate(
            text,
            (x, y),
            xytext=(4 if ha == "left" else -4, -3 if va == "top" else 3),
            textcoords="offset points",
            fontsize=7.5,
            zorder=7,
            ha=ha,
            va=va,
            bbox={"boxstyle": "round,pad=0.2", "fc": "#ffffff", "ec": "#bdbdbd", "alpha": 0.88},
        )
    )
    return added


def _scale_bar(ax, frame) -> list:
    x0, y0, x1, _ = frame
    width = x1 - x0
    length = next(v for v in (500, 1000, 2000, 5000, 10000, 20000, 50000, 100000) if v >= width / 6)
    bx, by = x0 + width * 0.05, y0 + width * 0.05
    added = ax.plot(
        [bx, bx + length], [by, by], color="#000000", linewidth=3, zorder=8, solid_capstyle="butt"
    )
    added.append(
        ax.annotate(
            format_value(float(length), "m"), (bx, by), xytext=(0, 4), textcoords="offset points",
            fontsize=7.5, zorder=8
        )
    )
    return added

"""Travel on the card site maps: the route from the nearest motorway exit and the 30/45-minute catchments.

Internal to `screening._sitemap`. The numbers are the scoring's own (`screening.routing` on the same
network, access and direct legs); the catchments are `screening.isochrones` polygons. Drawing here is
matplotlib on the site map's axes; every map that uses the roads says "© OpenStreetMap contributors".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from screening import isochrones, routing
from screening.config import Criteria
from screening.i18n import N_, fmt_number
from screening.i18n import gettext as _
from screening.road_network import ATTRIBUTION, network_for

__all__ = ["travel_overlays", "prepare_roads", "draw_roads", "draw_catchments", "draw_route", "draw_legend",
           "draw_attribution", "inset_axes", "draw_inset", "TEXT", "text", "INSET"]

log = logging.getLogger(__name__)

TEXT = {
    "route": N_("%(label)s\n%(minutes)s min by road"),
    "direct": N_("%(label)s\n%(minutes)s min by local roads"),
    "legend_catchment": N_("within %(minutes)s min by road"),
    "inset": N_("Catchments (70 km across)"),
    "legend_route": N_("route from the nearest exit"),
    "attribution": N_("Roads %(attribution)s"),
}
"""User-facing words of the travel overlay, in one place (English msgids; `text` translates them). The
attribution itself, "© OpenStreetMap contributors", is the same in every language."""
CATCHMENT_STYLE = {30.0: {"facecolor": "#fd8d3c", "alpha": 0.45}, 45.0: {"facecolor": "#fdd0a2", "alpha": 0.5}}
ROUTE_COLOUR = "#d94801"
ROAD_STYLE = {"motorway": (1.4, "#8c6d31"), "trunk": (1.0, "#a6844a"), "primary": (0.7, "#b8a27a")}
INSET = (0.625, 0.625, 0.37, 0.37)
"""Position of the catchment inset in the figure (left, bottom, width, height), upper right."""
INSET_HALF_M = 35_000.0


def text(key: str, **values) -> str:
    """`TEXT[key]` in the current language; ``minutes`` formatted for it (one decimal, or as ``:g`` writes
    a limit in the legend)."""
    if "minutes" in values:
        m = float(values["minutes"])
        values["minutes"] = fmt_number(m, len(f"{m:g}".partition(".")[2])) if key == "legend_catchment" \
            else fmt_number(m, 1)
    return _(TEXT[key], attribution=ATTRIBUTION, **values)


def travel_overlays(candidates: gpd.GeoDataFrame, context: Mapping[str, gpd.GeoDataFrame],
                    criteria: Criteria) -> gpd.GeoDataFrame:
    """Per site: the route from the nearest target of each ``travel_time`` criterion (``kind`` ``route``,
    or ``direct`` when the local roads are faster) and the catchment polygons for each ``within_min`` of
    the reach criteria (``kind`` ``catchment``); empty without the road layer in `context`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``application_id, kind, criterion, layer, label, minutes, distance_m`` (straight line from the
        site to the target, for framing) and the geometry (EPSG:25832): the route drawn from the site to the
        target, or the catchment polygon.
    """
    cols = ["application_id", "kind", "criterion", "layer", "label", "minutes", "distance_m", "note"]
    roads = context.get(criteria.travel.road_layer)
    if roads is None or roads.empty or candidates.empty:
        return gpd.GeoDataFrame(columns=cols, geometry=[], crs=candidates.crs)
    net = network_for(roads, criteria.travel)
    geoms = candidates.geometry.to_numpy()
    ids = candidates["application_id"].astype(str).to_numpy()
    places = routing.access(net, geoms, role="arrive")
    parts = [_routes(net, crit, context[crit.layer], geoms, ids, places)
             for crit in criteria.criteria  # the one or two travel_time criteria
             if crit.measure == "travel_time" and crit.layer in context and not context[crit.layer].empty]
    limits = sorted({float(c.within_min) for c in criteria.criteria if c.measure.startswith("reach")})
    if limits:
        parts.append(_catchments(net, geoms, ids, limits, context.get("kommuner")))
    parts = [p for p in parts if len(p)]
    if not parts:
        return gpd.GeoDataFrame(columns=cols, geometry=[], crs=candidates.crs)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=candidates.crs)


def prepare_roads(roads: gpd.GeoDataFrame | None, class_column: str):
    """The main roads for the site maps, simplified to 20 m (below a pixel) with an STRtree, or None."""
    if roads is None or roads.empty or class_column not in roads:
        return None
    cls = roads[class_column].astype(str).str.removesuffix("_link").to_numpy()
    keep = np.isin(cls, list(ROAD_STYLE))
    geoms = shapely.simplify(roads.geometry.to_numpy()[keep], 20.0)
    return geoms, cls[keep], shapely.STRtree(geoms)


def draw_roads(ax, prepared, frame) -> list:
    """The main roads within `frame`, faint, by class; returns the artists added."""
    from matplotlib.collections import LineCollection

    if prepared is None:
        return []
    geoms, cls, tree = prepared
    hit = tree.query(shapely.box(*frame))
    added = []
    for name, (width, colour) in ROAD_STYLE.items():  # three road classes
        part = geoms[hit[cls[hit] == name]]
        if part.size:
            coords, idx = shapely.get_coordinates(part, return_index=True)
            segs = np.split(coords, np.flatnonzero(np.diff(idx)) + 1)
            added.append(ax.add_collection(LineCollection(segs, linewidths=width, colors=colour, alpha=0.8,
                                                          zorder=2)))
    return added


def draw_catchments(ax, rows: pd.DataFrame) -> list:
    """The catchment polygons, largest first; returns the artists added."""
    from screening._sitemap import _patch

    added = []
    for row in rows.sort_values("minutes", ascending=False).itertuples():  # two catchments
        style = CATCHMENT_STYLE.get(float(row.minutes), {"facecolor": "#fdd0a2", "alpha": 0.35})
        if not row.geometry.is_empty:
            added.append(_add(ax, [_patch(row.geometry, edgecolor="#e6550d", linewidth=0.6, zorder=1.5, **style)]))
    return added


def draw_route(ax, row, frame) -> list:
    """The route from the site to the exit (a solid line), the exit marked; returns the artists added."""
    xy = shapely.get_coordinates(row.geometry)
    added = ax.plot(xy[:, 0], xy[:, 1], color=ROUTE_COLOUR, linewidth=2.2 if row.kind == "route" else 1.4,
                    linestyle="-" if row.kind == "route" else "--", zorder=4.5, solid_capstyle="round")
    x1, y1 = xy[-1]
    if frame[0] <= x1 <= frame[2] and frame[1] <= y1 <= frame[3]:
        added += ax.plot([x1], [y1], marker="s", color=ROUTE_COLOUR, markersize=6, markeredgecolor="#ffffff",
                         zorder=6)
    return added


def draw_legend(ax, catchments: pd.DataFrame, route: bool) -> list:
    """A small legend of the route (upper left of the map) and of the catchments (in the inset `ax`)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if catchments is not None:
        handles = [Patch(label=text("legend_catchment", minutes=m), edgecolor="#e6550d", linewidth=0.6,
                         **CATCHMENT_STYLE.get(float(m), {"facecolor": "#fdd0a2", "alpha": 0.35}))
                   for m in sorted(catchments["minutes"].unique())]
        return [ax.legend(handles=handles, loc="lower left", fontsize=6, framealpha=0.85)] if handles else []
    if not route:
        return []
    return [ax.legend(handles=[Line2D([], [], color=ROUTE_COLOUR, linewidth=2.2, label=text("legend_route"))],
                      loc="upper left", fontsize=7, framealpha=0.85)]


def inset_axes(fig, context: Mapping[str, gpd.GeoDataFrame], prepared_roads):
    """The catchment inset (upper right): its axes, and the land (simplified 100 m, with an STRtree) and
    main roads it draws around each site (`draw_inset`)."""
    ax = fig.add_axes(INSET)
    ax.set_facecolor("#dbeaf5" if "kommuner" in context else "#ffffff")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.5, 0.985, text("inset"), transform=ax.transAxes, ha="center", va="top", fontsize=6.5, zorder=9,
            bbox={"boxstyle": "square,pad=0.15", "fc": "#ffffff", "ec": "none", "alpha": 0.8})
    for spine in ax.spines.values():
        spine.set_edgecolor("#404040")
    land = context.get("kommuner")
    prepared_land = None
    if land is not None and len(land):
        geoms = shapely.simplify(land.geometry.to_numpy(), 100.0)
        prepared_land = (geoms, shapely.STRtree(geoms))
    return ax, prepared_land, prepared_roads


def draw_inset(inset, site, catchments: pd.DataFrame, colour: str) -> list:
    """The land, motorways and trunk roads, and the site's catchments on the inset, centred on the site;
    returns the artists added."""
    from screening._sitemap import _patch

    ax, land, roads = inset
    cx, cy = site.centroid.x, site.centroid.y
    box = (cx - INSET_HALF_M, cy - INSET_HALF_M, cx + INSET_HALF_M, cy + INSET_HALF_M)
    added = []
    if land is not None:
        geoms, tree = land
        clipped = shapely.intersection(geoms[tree.query(shapely.box(*box))], shapely.box(*box))
        patches = [_patch(g, facecolor="#f7f6f0", edgecolor="#c8c8c8", linewidth=0.3, zorder=1)
                   for g in clipped if not g.is_empty and g.geom_type in ("Polygon", "MultiPolygon")]
        added += [_add(ax, patches)] if patches else []
    if roads is not None:
        geoms, cls, tree = roads
        added += draw_roads(ax, (geoms, np.where(np.isin(cls, ["motorway", "trunk"]), cls, "none"), tree), box)
    added += draw_catchments(ax, catchments)
    added += ax.plot([cx], [cy], marker="*", markersize=9, color=colour, markeredgecolor="#000000", zorder=6)
    added += draw_legend(ax, catchments, False)
    ax.set_xlim(box[0], box[2])
    ax.set_ylim(box[1], box[3])
    ax.set_aspect("equal")
    return added


def _add(ax, patches: list):
    """Patches as one collection, without updating the data limits (they are set per site)."""
    from matplotlib.collections import PatchCollection

    return ax.add_collection(PatchCollection(patches, match_original=True, zorder=patches[0].get_zorder()),
                             autolim=False)


def draw_attribution(ax) -> list:
    """'Roads © OpenStreetMap contributors' in the lower right corner (ODbL)."""
    return [ax.text(0.99, 0.01, text("attribution"), transform=ax.transAxes, ha="right", va="bottom", fontsize=6.5,
                    color="#404040", zorder=9, bbox={"boxstyle": "square,pad=0.15", "fc": "#ffffff", "ec": "none",
                                                     "alpha": 0.75})]


# --------------------------------------------------------------------------- helpers


def _routes(net, crit, layer: gpd.GeoDataFrame, geoms: np.ndarray, ids: np.ndarray, places) -> pd.DataFrame:
    """The route of each site from its nearest feature of `crit` (as the scoring finds it)."""
    from screening.travel import template_labels

    feats = crit.filter.apply(layer, what=str(crit.layer))
    tg = feats.geometry.to_numpy()
    if tg.size == 0:
        return pd.DataFrame()
    times = routing.nearest_times(net, routing.access(net, tg, role="depart", on_node=True))
    direct = routing.direct_for(net, tg, place_geoms=geoms)
    minutes, target, slot, _ = routing.nearest_with_direct(times, places, direct)
    labels = template_labels(feats, crit.label_template) if crit.label_template else \
        feats.get(crit.label_column or "name", pd.Series([""] * len(feats))).astype(str).to_numpy()
    rows = []
    for i in np.flatnonzero(np.isfinite(minutes)):  # one route per site (tens), walked back once
        t = int(target[i])
        if slot[i] >= 0:
            node = int(places.node[i, slot[i]])
            line = routing.route_line_to(net, times, node)
            ends = [net.node_xy[node]] if line is None else [*shapely.get_coordinates(line)]
            on_site = shapely.get_coordinates(shapely.shortest_line(shapely.Point(net.node_xy[node]), geoms[i]))[-1]
            geom, kind = shapely.LineString([*ends, on_site][::-1] if len(ends) else [on_site]), "route"
            if len(shapely.get_coordinates(geom)) < 2:
                geom = shapely.shortest_line(geoms[i], tg[t])
        else:
            geom, kind = shapely.shortest_line(geoms[i], tg[t]), "direct"
        rows.append({"application_id": ids[i], "kind": kind, "criterion": crit.id, "layer": crit.layer,
                     "label": str(labels[t]), "minutes": float(minutes[i]),
                     "distance_m": float(shapely.distance(geoms[i], tg[t])), "note": "", "geometry": geom})
    return pd.DataFrame(rows)


def _catchments(net, geoms: np.ndarray, ids: np.ndarray, limits: list[float], land) -> pd.DataFrame:
    """The isochrone polygons of each site, clipped to the land (the kommuner) where it is given."""
    rows = []
    land_geoms = shapely.simplify(land.geometry.to_numpy(), 50.0) if land is not None and len(land) else None
    tree = shapely.STRtree(land_geoms) if land_geoms is not None else None
    for aid, geom in zip(ids, geoms, strict=True):  # one isochrone run per site (tens)
        polys = isochrones.isochrones(net, geom, minutes=tuple(limits), cell_m=500.0, half_m=INSET_HALF_M)
        if tree is not None:
            box = shapely.buffer(shapely.centroid(geom), INSET_HALF_M * 1.5, cap_style="square")
            near = shapely.union_all(shapely.intersection(land_geoms[tree.query(box)], box))
            polys = {k: shapely.intersection(v, near) for k, v in polys.items()}
        polys = {k: shapely.simplify(v, 250.0) for k, v in polys.items()}  # half a cell: drawing only
        for limit, poly in polys.items():
            rows.append({"application_id": aid, "kind": "catchment", "criterion": f"catchment_{limit:g}",
                         "layer": "roads", "label": "", "minutes": limit, "distance_m": np.nan, "note": "",
                         "geometry": poly})
    return pd.DataFrame(rows)

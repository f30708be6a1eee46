"""Value formatting and the static figures of the score cards (matplotlib, Agg; no basemap needed).

`contribution_charts` draws the criterion contributions of every application; `site_maps` draws each site
with the nearest infrastructure found by `nearest_infrastructure`. Each reuses one figure for all
applications (the national background is drawn once), which keeps a run of tens of cards within seconds.
`format_value` writes a raw value with its unit in plain words for the cards, the popups and the index.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

from screening.catalog import apply_filter
from screening.config import Criteria
from screening.errors import LayerDataError

__all__ = ["GROUP_COLOURS", "nominal_points", "contribution_charts", "nearest_infrastructure", "site_maps",
           "format_value"]

log = logging.getLogger(__name__)

GROUP_COLOURS = {"infrastructure": "#7570b3", "transport": "#d95f02", "labour": "#1b9e77",
                 "commitment": "#e7298a"}
"""Bar colour of each criterion group in the contribution chart (other groups are grey)."""

_SITE_MAP_LABELS = {"hv_substations": "substation", "hv_lines": "HV line", "rail_stations": "station",
                    "ports": "port", "airports": "airport"}
_MAX_FRAME_M = 25_000.0  # nearest features further than this are drawn as a line leaving the site map
_SITE_MAP_PX = 560


def nominal_points(criteria: Criteria) -> dict[str, float]:
    """Points each criterion carries when all criteria are assessed: group weight x 100 x its share.

    Examples
    --------
    >>> from screening.config import load_criteria
    >>> round(nominal_points(load_criteria())["hv_substation"], 2)  # 0.30 x 100 x 3/8
    11.25
    """
    out = {}
    for group in criteria.groups:  # four groups
        members = [c for c in criteria.criteria if c.group == group.id]
        total = sum(c.weight for c in members)
        out |= {c.id: group.weight * 100.0 * c.weight / total for c in members}
    return out


def contribution_charts(breakdown: pd.DataFrame, paths: Mapping[str, Path], *, criteria: Criteria
                        ) -> dict[str, Path]:
    """Draw, per application, horizontal bars per criterion: points earned over the most it could give.

    Parameters
    ----------
    breakdown
        The long breakdown (``application_id``, ``criterion``, ``title``, ``group``, ``weight``,
        ``contribution``, ``assessed``); bars follow its row order.
    paths
        application_id -> output file; the suffix (``.svg`` or ``.png``) picks the format. SVG keeps the
        text as text (small files).
    criteria
        Gives the nominal points of criteria that were not assessed (drawn hatched).

    Returns
    -------
    dict of str to pathlib.Path
        `paths`, once written.
    """
    nominal = nominal_points(criteria)
    ids = breakdown["application_id"].astype(str)
    key, parts = None, None
    for aid, path in paths.items():  # one chart per application (tens), all on one reused figure
        rows = breakdown.loc[ids == aid].reset_index(drop=True)
        layout = tuple(rows["title"].astype(str)) + tuple(rows["group"].astype(str))
        if layout != key:  # a new set of criteria: lay the figure out again
            key, parts = layout, _chart_figure(rows)
        _chart_update(parts, rows, nominal)
        fmt = Path(path).suffix.lstrip(".") or "svg"
        with rc_context({"svg.fonttype": "none", "svg.hashsalt": "industripark"}):
            parts["fig"].savefig(path, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return dict(paths)


def nearest_infrastructure(candidates: gpd.GeoDataFrame, context: Mapping[str, gpd.GeoDataFrame],
                           criteria: Criteria) -> gpd.GeoDataFrame:
    """The nearest feature of each distance criterion's context layer to each site, as a connecting line.

    Uses the criterion's filter (e.g. substations only, airports with an IATA code) and one bulk
    ``sindex.nearest`` query per criterion.

    Returns
    -------
    geopandas.GeoDataFrame
        ``application_id, criterion, layer, label, distance_m`` and the shortest line from the site to the
        feature (EPSG:25832); empty when no criterion's layer is in `context`.
    """
    cols = ["application_id", "criterion", "layer", "label", "distance_m"]
    parts = []
    geoms = candidates.geometry.to_numpy()
    for crit in criteria.criteria:  # a loop over the handful of criteria, each a vectorised query
        layer = context.get(crit.layer or "")
        if crit.measure not in ("distance", "travel_time") or layer is None or layer.empty:
            continue
        try:
            layer = apply_filter(layer, crit.filter, what=str(crit.layer))
        except LayerDataError as exc:
            log.info("site map: %s; drawing the unfiltered layer", exc)
        if layer.empty:
            continue
        src, dst = layer.sindex.nearest(geoms, return_all=False)
        lines = shapely.shortest_line(geoms[src], layer.geometry.to_numpy()[dst])
        label_col = crit.label_column or "name"
        labels = (layer[label_col].astype(str).to_numpy()[dst] if label_col in layer else
                  np.full(len(dst), ""))
        parts.append(gpd.GeoDataFrame({
            "application_id": candidates["application_id"].astype(str).to_numpy()[src],
            "criterion": crit.id, "layer": crit.layer, "label": labels,
            "distance_m": shapely.length(lines)}, geometry=lines, crs=candidates.crs))
    if not parts:
        return gpd.GeoDataFrame(columns=cols, geometry=[], crs=candidates.crs)
    return pd.concat(parts, ignore_index=True)


def site_maps(candidates: gpd.GeoDataFrame, nearest: gpd.GeoDataFrame, context: Mapping[str, gpd.GeoDataFrame],
              paths: Mapping[str, Path], *, colours: Mapping[str, str]) -> dict[str, Path]:
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
    _draw_background(ax, context)
    towns = _towns(context)
    ax.set_xticks([])
    ax.set_yticks([])
    by_id = candidates.set_index(candidates["application_id"].astype(str))
    near_ids = nearest["application_id"].astype(str)
    for aid, path in paths.items():  # one map per application (tens), on the one figure
        cand = by_id.loc[aid]
        added = _draw_site(ax, cand.geometry, nearest.loc[near_ids == aid], towns,
                           colours.get(str(cand["status"]), "#d7301f"))
        fig.savefig(path, format="png")
        for artist in added:
            artist.remove()
    return dict(paths)


def format_value(value, unit: str | None = "") -> str:
    """A raw criterion value with its unit in plain words: metres above 1 km as km, counts with separators.

    Examples
    --------
    >>> format_value(14213.0, "m"), format_value(850, "m"), format_value(85000, "persons")
    ('14.2 km', '850 m', '85,000 persons')
    >>> format_value(None, "m"), format_value("in_preparation", "status")
    ('not stated', 'in preparation')
    """
    unit = unit or ""
    if _missing(value) or (isinstance(value, str) and not value.strip()):
        return "not stated"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if unit == "m":
            return f"{v / 1000:.1f}".removesuffix(".0") + " km" if abs(v) >= 1000 else f"{v:.0f} m"
        if unit in ("min", "km"):
            return f"{v:.1f} {unit}" if abs(v) < 10 and v != round(v) else f"{v:.0f} {unit}"
        return f"{v:,.0f} {unit}".strip() if v == round(v) or abs(v) >= 100 else f"{v:,.2f} {unit}".strip()
    return str(value).replace("_", " ")


# --------------------------------------------------------------------------- helpers


def _chart_figure(rows: pd.DataFrame) -> dict:
    """Lay out a chart for these criteria: bars and labels exist once, `_chart_update` sets their values."""
    n = max(len(rows), 1)
    height = 0.30 * n + 0.9
    fig = Figure(figsize=(7.2, height), dpi=100)
    ax = fig.add_axes((0.42, 0.75 / height, 0.5, 1 - 0.9 / height))
    y = np.arange(len(rows))[::-1]
    colours = rows["group"].map(GROUP_COLOURS).fillna("#737373").tolist()
    zeros = np.zeros(len(rows))
    parts = {"fig": fig, "ax": ax,
             "weight": ax.barh(y, zeros, color="#ececec", edgecolor="#bdbdbd", linewidth=0.6, height=0.7),
             "contrib": ax.barh(y, zeros, color=colours, height=0.7),
             "hatch": ax.barh(y, zeros, color="none", edgecolor="#969696", hatch="///", linewidth=0,
                              height=0.7),
             "notes": [ax.text(0, yi, "", va="center", fontsize=7.5, color="#404040") for yi in y]}
    ax.set_yticks(y, labels=[_short(t) for t in rows["title"].astype(str)], fontsize=8)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel("points: coloured = earned, grey = the most this criterion can give", fontsize=8)
    ax.tick_params(axis="x", labelsize=7.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return parts


def _chart_update(parts: dict, rows: pd.DataFrame, nominal: Mapping[str, float]) -> None:
    weight = rows["weight"].astype(float).fillna(0.0).to_numpy()
    assessed = rows["assessed"].astype("boolean").fillna(False).astype(bool).to_numpy()
    fallback = rows["criterion"].astype(str).map(nominal).fillna(0.0).to_numpy()
    weight = np.where(~assessed & (weight <= 0), fallback, weight)
    contrib = np.where(assessed, rows["contribution"].astype(float).fillna(0.0).to_numpy(), 0.0)
    top = max(float(weight.max(initial=0.0)), 1.0)
    for i in range(len(rows)):  # the criteria of one application (about twenty)
        parts["weight"][i].set_width(weight[i])
        parts["contrib"][i].set_width(contrib[i])
        parts["hatch"][i].set_width(weight[i] if not assessed[i] else 0.0)
        note = parts["notes"][i]
        note.set_x(weight[i] + top * 0.02)
        note.set_text(f"{contrib[i]:.1f} of {weight[i]:.1f}" if assessed[i] else f"not assessed ({weight[i]:.1f})")
    parts["ax"].set_xlim(0, top * 1.32)


def _short(title: str, width: int = 44) -> str:
    title = title.replace("Distance to nearest ", "").replace("Distance to ", "")
    title = title.replace("Travel time to nearest ", "Travel time: ")
    return title if len(title) <= width else title[: width - 1] + "…"


def _draw_background(ax, context: Mapping[str, gpd.GeoDataFrame]) -> None:
    """Land, Natura 2000 and HV lines, whole layers, once per run (each save draws only what is in view)."""
    styles = [("kommuner", {"color": "#f7f6f0", "edgecolor": "#b0b0b0", "linewidth": 0.6}),
              ("natura2000_omraader_simplified", {"color": "#c7e9c0", "edgecolor": "#74c476", "linewidth": 0.4}),
              ("natura2000_fuglebeskyttelse", {"color": "#a1d99b", "edgecolor": "#41ab5d", "linewidth": 0.4,
                                               "alpha": 0.8}),
              ("hv_lines", {"color": "#6a51a3", "linewidth": 1.2})]
    for layer_id, kw in styles:  # four layers
        gdf = context.get(layer_id)
        if gdf is not None and len(gdf):
            gdf.plot(ax=ax, zorder=1, **kw)


def _towns(context: Mapping[str, gpd.GeoDataFrame]) -> pd.DataFrame:
    towns = context.get("towns")
    if towns is None or "population" not in towns or "name" not in towns:
        return pd.DataFrame({"x": [], "y": [], "name": [], "population": []})
    pop = pd.to_numeric(towns["population"], errors="coerce").fillna(0)
    big = towns.loc[pop >= 2000]
    return pd.DataFrame({"x": big.geometry.x, "y": big.geometry.y, "name": big["name"].astype(str),
                         "population": pop.loc[big.index]}).sort_values("population", ascending=False)


def _draw_site(ax, site, nearest: pd.DataFrame, towns: pd.DataFrame, colour: str) -> list:
    """Add the site, its nearest features, town labels and a scale bar; return the artists added."""
    cx, cy = site.centroid.x, site.centroid.y
    xmin, ymin, xmax, ymax = site.bounds
    within = nearest.loc[nearest["distance_m"] <= _MAX_FRAME_M, "distance_m"]
    half = max(3000.0, 0.75 * max(xmax - xmin, ymax - ymin),
               1.15 * (float(within.max()) if len(within) else 0.0) + 1500.0)
    added = [ax.add_patch(_patch(site, facecolor=colour, alpha=0.75, edgecolor="#000000", linewidth=1.2,
                                 zorder=5))]
    if max(xmax - xmin, ymax - ymin) < 0.04 * half:  # too small to see at this scale: mark it
        added += ax.plot([cx], [cy], marker="*", markersize=16, color=colour, markeredgecolor="#000000",
                         zorder=6)
    shown = towns.loc[(abs(towns["x"] - cx) < half * 0.95) & (abs(towns["y"] - cy) < half * 0.95)].head(6)
    added += ax.plot(shown["x"], shown["y"], "o", color="#636363", markersize=3, zorder=3)
    for row in shown.itertuples():  # at most six town labels
        added.append(ax.annotate(row.name, (row.x, row.y), xytext=(3, 3), textcoords="offset points",
                                 fontsize=7, color="#525252", zorder=3))
    placed: list = []
    for row in nearest.sort_values("distance_m").to_dict("records"):  # the five or so nearest features
        added += _draw_nearest(ax, row, (cx, cy), half, placed)
    added += _scale_bar(ax, (cx - half, cy - half, cx + half, cy + half))
    ax.set_xlim(cx - half, cx + half)
    ax.set_ylim(cy - half, cy + half)
    ax.set_aspect("equal")
    return added


def _patch(geom, **kw) -> PathPatch:
    """A matplotlib patch of a (multi)polygon, holes kept."""
    verts, codes = [], []
    for poly in getattr(geom, "geoms", [geom]):  # the parts of one site
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(ring.coords)[:, :2]
            verts.append(xy)
            codes.append([MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY])
    return PathPatch(MplPath(np.concatenate(verts), np.concatenate(codes)), **kw)


def _draw_nearest(ax, row: Mapping, centre: tuple[float, float], half: float, placed: list) -> list:
    """Draw the line to one nearest feature and its label where it overlaps no label placed before."""
    line = row["geometry"]
    (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
    added = ax.plot([x0, x1], [y0, y1], linestyle="--", color="#252525", linewidth=0.9, zorder=4)
    what = _SITE_MAP_LABELS.get(str(row["layer"]), str(row["criterion"]))
    label = f"{what}: {row['label']}" if str(row.get("label") or "").strip() not in ("", "nan") else what
    inside = abs(x1 - centre[0]) < half * 0.92 and abs(y1 - centre[1]) < half * 0.92
    text = f"{label}\n{format_value(row['distance_m'], 'm')}" + ("" if inside else " →")
    if inside:
        added += ax.plot([x1], [y1], marker="o", color="#6a51a3" if "hv" in str(row["layer"]) else "#08519c",
                         markersize=6, markeredgecolor="#ffffff", zorder=6)
    reach = min(1.0, 0.85 * half / max(abs(x1 - x0), abs(y1 - y0), 1.0))  # share of the line in the frame
    m_per_px = 2 * half / (_SITE_MAP_PX - 20)
    size = (6.2 * max(len(s) for s in text.split("\n")) * m_per_px, 26 * m_per_px)
    for frac in (1.0, 0.8, 0.62, 0.45, 0.3, 0.9, 0.7):  # first spot along the line clear of other labels
        pos = (x0 + (x1 - x0) * reach * frac, y0 + (y1 - y0) * reach * frac)
        right = pos[0] > centre[0] + 0.3 * half  # labels on the right half grow leftwards: none is cut off
        box = (pos[0] - size[0] if right else pos[0], pos[1] - size[1],
               pos[0] if right else pos[0] + size[0], pos[1])
        if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
            break
    placed.append(box)
    added.append(ax.annotate(text, pos, xytext=(-4 if right else 4, -3), textcoords="offset points",
                             fontsize=7.5, zorder=7, ha="right" if right else "left", va="top",
                             bbox={"boxstyle": "round,pad=0.2", "fc": "#ffffff", "ec": "#bdbdbd", "alpha": 0.88}))
    return added


def _scale_bar(ax, frame) -> list:
    x0, y0, x1, _ = frame
    width = x1 - x0
    length = next(v for v in (500, 1000, 2000, 5000, 10000, 20000, 50000, 100000) if v >= width / 6)
    bx, by = x0 + width * 0.05, y0 + width * 0.05
    added = ax.plot([bx, bx + length], [by, by], color="#000000", linewidth=3, zorder=8, solid_capstyle="butt")
    added.append(ax.annotate(format_value(float(length), "m"), (bx, by), xytext=(0, 4),
                             textcoords="offset points", fontsize=7.5, zorder=8))
    return added


def _missing(value) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)) or value is pd.NA

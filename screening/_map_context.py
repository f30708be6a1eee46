"""The context layers of the run's map: how each is drawn, its feature labels and its display frame.

Internal to `screening.maps` (which re-exports `ContextStyle`, `CONTEXT_STYLES`, `COORD_DECIMALS` and
`display_frame`). A context layer is simplified in EPSG:25832, reprojected to EPSG:4326 with rounded
coordinates and added to the folium map as one optional layer, its GeoJSON cached by
`screening._display_cache`. Every text Leaflet sets as HTML is escaped here (`html_text`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import folium
import geopandas as gpd
import markupsafe
import numpy as np
import pandas as pd
import shapely

from screening import _display_cache, i18n
from screening._geo import require_crs
from screening.i18n import N_, fmt_number
from screening.i18n import gettext as _

__all__ = ["COORD_DECIMALS", "LAND_COLOUR", "ContextStyle", "CONTEXT_STYLES", "display_frame", "add_context_layers",
           "style_for", "context_labels", "html_text"]

log = logging.getLogger(__name__)

COORD_DECIMALS = 5
"""Decimals kept of EPSG:4326 coordinates in map.html: 1e-5 degrees is about 1 m in Denmark."""



@dataclass(frozen=True)
class ContextStyle:
    """How a context layer is drawn: ``kind`` area/line/point, ``tolerance_m`` the display simplification
    (topology-preserving, in metres of EPSG:25832; 0 keeps the geometry), ``label`` the columns that name a
    feature in its tooltip (the first present name column, then columns with a unit such as ``population``
    or ``voltage_kv`` in brackets)."""

    title: str
    kind: Literal["area", "line", "point"]
    colour: str
    show: bool = True
    label: tuple[str, ...] = ("name",)
    tolerance_m: float = 0.0
    fill_opacity: float = 0.0
    weight: float = 1.0
    dash: str | None = None
    radius: float = 3.5
    land: bool = False  # filled with the land colour in a pane below all others, not clickable
    merge_by: tuple[str, ...] = ()  # lines: merged per value of these columns first (fewer, longer features)


CONTEXT_STYLES: dict[str, ContextStyle] = {
    "regioner": ContextStyle(N_("Regions"), "area", "#252525", label=("regionsnavn", "navn"), tolerance_m=200,
                             weight=1.6, land=True),
    "kommuner": ContextStyle(N_("Municipalities"), "area", "#8c8c8c", label=("kommunenavn", "navn"),
                             tolerance_m=100, weight=0.6),
    "natura2000_fuglebeskyttelse": ContextStyle(
        N_("Natura 2000 bird protection areas"), "area", "#238b45", label=("objektnavn", "site_nr"),
        tolerance_m=50, fill_opacity=0.35, weight=0.8),
    "natura2000_omraader_simplified": ContextStyle(
        N_("Natura 2000 sites (coarse layer)"), "area", "#74c476", label=("n2000_navn", "n2000_nr"),
        tolerance_m=50, fill_opacity=0.25, weight=0.8, dash="4 3"),
    "natura2000_habitat": ContextStyle(
        N_("Natura 2000 habitat areas"), "area", "#006d2c", label=("objektnavn", "h_nr"), tolerance_m=50,
        fill_opacity=0.25, weight=0.8),
    "naturnationalparker": ContextStyle(
        N_("Naturnationalparker"), "area", "#7a0177", label=("navn", "park_id"), tolerance_m=25, fill_opacity=0.3,
        weight=1.0),
    "nationalparker": ContextStyle(
        N_("Nationalparker"), "area", "#d95f0e", show=False, label=("navn", "name_inferred"), tolerance_m=50,
        fill_opacity=0.1, weight=1.2, dash="6 3"),
    "hv_lines": ContextStyle(N_("High-voltage lines"), "line", "#6a51a3", label=("name", "voltage_kv"),
                             tolerance_m=50, weight=2.0),
    "hv_substations": ContextStyle(N_("High-voltage substations"), "point", "#6a51a3",
                                   label=("name", "max_voltage_kv"), radius=4),
    "rail_stations": ContextStyle(N_("Rail stations"), "point", "#111111", show=False),
    "ports": ContextStyle(N_("Ports"), "point", "#08519c", show=False),
    "airports": ContextStyle(N_("Airports"), "point", "#c51b8a", show=False, label=("name", "iata")),
    "towns": ContextStyle(N_("Towns"), "point", "#8c510a", show=False, label=("name", "population"), radius=3),
    "roads": ContextStyle(N_("Main roads (© OpenStreetMap contributors)"), "line", "#a6761d", show=False,
                          label=("ref", "road_class"), tolerance_m=150, weight=1.2, merge_by=("road_class", "ref")),
    "motorway_junctions": ContextStyle(N_("Motorway exits (© OpenStreetMap contributors)"), "point", "#d94801",
                                       show=False, label=("ref", "name"), radius=3),
    "education": ContextStyle(N_("Education institutions"), "point", "#54278f", show=False, radius=3),
}
"""Display style of the known context layers; other layer ids are drawn plainly by geometry type. Titles are
English source texts, translated where shown."""


_LABEL_UNITS = {"population": N_("inhabitants"), "voltage_kv": "kV", "max_voltage_kv": "kV", "iata": "IATA",
                "site_nr": N_("no."), "n2000_nr": N_("no.")}
_PREFIX_UNITS = {"IATA", "no."}
_WORD_UNITS = {"inhabitants", "no."}  # translated where shown
_KIND_ORDER = {"area": 0, "line": 1, "point": 2}
_ORDER = {layer_id: i for i, layer_id in enumerate(CONTEXT_STYLES)}
LAND_COLOUR = "#f7f6f0"
"""Fill of land (the regions layer) on the plain sea-coloured background of the offline map."""


def add_context_layers(fmap: folium.Map, context: Mapping[str, gpd.GeoDataFrame],
                       cache_dir: Path | None = None) -> list[dict]:
    """Add the context layers to `fmap`, areas under lines under points (known layers in `CONTEXT_STYLES`
    order, then by id); return the legend rows ``{"name", "style"}`` of those drawn (empty layers are not).

    Parameters
    ----------
    fmap
        The folium map; it must hold the ``land`` pane for a style with ``land=True``.
    context
        Layer id -> EPSG:25832 GeoDataFrame (checked by the caller).
    cache_dir
        Folder where the layers' GeoJSON is cached (`screening._display_cache`); None keeps it in the
        process only.
    """
    legend_rows = []
    # a loop over the handful of context layers; each layer is handled with vectorised calls
    order = sorted(context, key=lambda k: (_KIND_ORDER[style_for(k, context[k]).kind], _ORDER.get(k, 99), k))
    for layer_id in order:
        style = style_for(layer_id, context[layer_id])
        name = _add_context(fmap, layer_id, context[layer_id], style, cache_dir)
        if name:
            legend_rows.append({"name": name, "style": style})
    return legend_rows


def display_frame(gdf: gpd.GeoDataFrame, *, tolerance_m: float, label: tuple[str, ...] = ("name",)
                  ) -> gpd.GeoDataFrame:
    """Return `gdf` ready for a web map: simplified, in EPSG:4326, coordinates rounded, one ``label`` column.

    Parameters
    ----------
    gdf
        A layer in EPSG:25832 (metres).
    tolerance_m
        Simplification tolerance in metres, applied in EPSG:25832 with ``preserve_topology=True`` before
        reprojecting; 0 keeps the geometry.
    label
        Columns for the feature label: the first present name column names the feature; present columns
        with a unit (``population``, ``voltage_kv``, ``iata``, ...) follow in brackets
        ("Aarhus (285,000 inhabitants)"; "400 kV" for a line without a name).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``label`` and ``geometry`` in EPSG:4326 with `COORD_DECIMALS` decimals; empty geometries
        dropped.
    """
    require_crs(gdf, "layer to display")
    geoms = gdf.geometry.to_numpy()
    if tolerance_m > 0:
        geoms = shapely.simplify(geoms, tolerance_m, preserve_topology=True)
    out = gpd.GeoDataFrame({"label": context_labels(gdf, label).to_numpy()}, geometry=geoms, crs=gdf.crs)
    out = out.loc[~(out.geometry.is_empty | out.geometry.isna())].to_crs(4326)
    out.geometry = shapely.transform(out.geometry.to_numpy(), lambda xy: np.round(xy, COORD_DECIMALS))
    return out


def style_for(layer_id: str, gdf: gpd.GeoDataFrame) -> ContextStyle:
    """The style of a context layer: its `CONTEXT_STYLES` entry, else a plain grey one by geometry type,
    titled by the layer's ``attrs['title']`` (off by default)."""
    if layer_id in CONTEXT_STYLES:
        return CONTEXT_STYLES[layer_id]
    geom_type = str(gdf.geom_type.iloc[0]) if len(gdf) else "Polygon"
    kind = "point" if "Point" in geom_type else ("line" if "Line" in geom_type else "area")
    title = i18n.text(gdf.attrs.get("title")) or layer_id
    return ContextStyle(title, kind, "#525252", show=False, tolerance_m=0 if kind == "point" else 50)


def context_labels(gdf: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """Feature labels: the first present name column, then the present unit columns in brackets."""
    names = [c for c in columns if c in gdf.columns and c not in _LABEL_UNITS]
    extras = [c for c in columns if c in gdf.columns and c in _LABEL_UNITS]
    # element-wise text formatting of a few hundred labels (no geometry work); columns are a handful
    name = gdf[names[0]].map(_text) if names else pd.Series("", index=gdf.index)
    extra = pd.Series("", index=gdf.index)
    for col in extras:
        unit = _LABEL_UNITS[col]
        text = gdf[col].map(_text)
        shown = _(unit) if unit in _WORD_UNITS else unit
        piece = (shown + " " + text) if unit in _PREFIX_UNITS else (text + " " + shown)
        piece = piece.where(text != "", "")
        extra = extra.where(piece == "", extra.where(extra == "", extra + ", ") + piece)
    both = name.where(extra == "", name + " (" + extra + ")")
    return both.where(name != "", extra)


def html_text(text) -> str:
    """Plain text as HTML text: ``<``, ``>``, ``&`` and quotes escaped (Leaflet sets tooltips as HTML)."""
    return str(markupsafe.escape(str(text)))


# --------------------------------------------------------------------------- helpers


def _add_context(fmap: folium.Map, layer_id: str, gdf: gpd.GeoDataFrame, style: ContextStyle,
                 cache_dir: Path | None = None) -> str | None:
    """Add one context layer; return its name in the layer control, or None when it is empty. Its GeoJSON
    is read from `cache_dir` when the same geometries and labels were drawn before (`_display_cache`)."""
    if style.merge_by and all(c in gdf.columns for c in style.merge_by):
        keys = gdf[list(style.merge_by)].astype(str).where(gdf[list(style.merge_by)].notna(), "")
        codes, groups = pd.MultiIndex.from_frame(keys).factorize()
        parts, owner = shapely.get_parts(gdf.geometry.to_numpy(), return_index=True)
        order = np.argsort(codes[owner], kind="stable")
        merged = shapely.line_merge(shapely.multilinestrings(parts[order], indices=codes[owner][order]))
        gdf = gpd.GeoDataFrame(groups.to_frame(index=False), geometry=merged, crs=gdf.crs)
    frame = _display_cache.context_geojson(
        gdf, context_labels(gdf, style.label), tolerance_m=style.tolerance_m, decimals=COORD_DECIMALS,
        cache_dir=cache_dir, build=lambda: display_frame(gdf, tolerance_m=style.tolerance_m, label=style.label))
    if not frame["features"]:
        log.info("context layer %s is empty; not drawn", layer_id)
        return None
    title = _(style.title) if style.title else layer_id
    if style.tolerance_m:
        title = _("%(title)s (simplified %(m)s m)", title=title, m=fmt_number(style.tolerance_m))
    if gdf.attrs.get("provisional"):  # an unofficial or out-of-date copy decided (screening._nature_layers)
        date = i18n.text(gdf.attrs.get("date_text")) or gdf.attrs.get("date") or _("unknown date")
        title = _("%(title)s – provisional copy of %(date)s", title=title, date=date)
    name = html_text(title)
    css = f"context ctx-{layer_id}"
    look = {"color": style.colour, "weight": style.weight, "opacity": 0.9, "className": css,
            "fill": style.kind != "line", "fillColor": style.colour,
            "fillOpacity": style.fill_opacity if style.kind == "area" else 0.85}
    if style.dash:
        look["dashArray"] = style.dash
    if style.kind == "point":
        look.update(color="#ffffff", weight=0.8, opacity=1.0)
    options = {}
    if style.land:
        look.update(fill=True, fillColor=LAND_COLOUR, fillOpacity=1.0)
        options = {"pane": "land", "interactive": False}
    tooltip = None
    if any(f["properties"]["label"] for f in frame["features"]) and not style.land:
        for feature in frame["features"]:  # folium's GeoJsonTooltip sets it as HTML (one text per feature)
            feature["properties"]["label"] = html_text(feature["properties"]["label"])
        tooltip = folium.GeoJsonTooltip(fields=["label"], labels=False, sticky=True)
    folium.GeoJson(frame, name=name, show=style.show, style_function=lambda _f, look=look: look,
                   marker=folium.CircleMarker(radius=style.radius) if style.kind == "point" else None,
                   tooltip=tooltip, smooth_factor=0.5, **options).add_to(fmap)
    return name


def _text(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return fmt_number(value)
    return str(value).strip()

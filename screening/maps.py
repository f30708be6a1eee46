"""The run's interactive map (``map.html``): candidates by status over simplified context layers, offline.

Leaflet's JavaScript and CSS are inlined from the ``xstatic-leaflet`` package, so the page needs no CDN;
the OpenStreetMap basemap is an optional layer, off by default, and every drawn layer renders on a plain
background without it.

Every value that Leaflet sets as HTML (tooltips, layer names; popups are rendered by the caller's
autoescaping templates) is escaped here, and the page carries a Content-Security-Policy that allows
exactly its own inline scripts (by SHA-256), so an injected ``onerror=`` handler could not run either.
The context layers (styles, labels, display frames) are `screening._map_context`; their public names are
re-exported here.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Mapping
from pathlib import Path

import folium
import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd
from folium.template import Template as FoliumTemplate
from folium.utilities import JsCode
from xstatic.pkg import leaflet as xstatic_leaflet

from screening import i18n
from screening._geo import require_crs
from screening._map_context import (
    CONTEXT_STYLES,
    COORD_DECIMALS,
    LAND_COLOUR,
    ContextStyle,
    add_context_layers,
    display_frame,
    html_text,
)
from screening.i18n import N_, fmt_number
from screening.i18n import gettext as _

__all__ = [
    "STATUS_COLOURS", "STATUS_LABELS", "DRAFT_LABELS", "STATUS_WORDS", "status_labels", "COORD_DECIMALS",
    "ContextStyle", "CONTEXT_STYLES", "write_map",
    "candidate_status", "display_frame", "with_script_policy"
]

log = logging.getLogger(__name__)

STATUS_COLOURS = {"proposed": "#d7301f", "eligible": "#2c7fb8", "excluded": "#737373"}
"""Fill colour of a candidate by status, shared by the map, the cards and the index."""

STATUS_LABELS = {"proposed": N_("Proposed"), "eligible": N_("Eligible, not proposed"), "excluded": N_("Excluded")}
"""Status labels of a run's map legend, index and popups (English source texts: translate where shown, or use
`status_labels`)."""

DRAFT_LABELS = {"proposed": N_("Your draft: proposed"), "eligible": N_("Your draft: eligible"),
                "excluded": N_("Your draft: excluded")}
"""Status labels on a preview's map (``page["preview"]``): a draft is not in a selection, so never "not
proposed"; "proposed" does not occur."""

STATUS_WORDS = {"proposed": N_("proposed"), "eligible": N_("eligible"), "excluded": N_("excluded")}
"""A status in one or two words (badges in tables)."""


def status_labels(*, preview: bool = False, words: bool = False) -> dict[str, str]:
    """Status id -> its label in the current language: `STATUS_LABELS`, `DRAFT_LABELS` (`preview`) or the
    short `STATUS_WORDS` (`words`)."""
    table = STATUS_WORDS if words else (DRAFT_LABELS if preview else STATUS_LABELS)
    return {status: _(label) for status, label in table.items()}


_INLINE_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", flags=re.S | re.I)


def write_map(path: Path, candidates: gpd.GeoDataFrame, popups: Mapping[str, str], *,
              context: Mapping[str, gpd.GeoDataFrame], env: jinja2.Environment, page: Mapping,
              surface_overlay: tuple[Path, tuple] | None = None, cache_dir: Path | None = None) -> Path:
    """Write the folium map of a run to `path` and return it.

    Parameters
    ----------
    path
        The HTML file to write (``<run>/map.html``); card links are relative to its folder.
    candidates
        One row per application, EPSG:25832, with ``application_id``, ``site_name``, ``kommunenavn``,
        ``score_total`` and ``status`` (see `candidate_status`).
    popups
        application_id -> popup HTML (the criterion breakdown, exclusion reasons, card link).
    context
        Layer id -> EPSG:25832 GeoDataFrame drawn as optional layers, simplified for display.
    env
        Template environment holding ``map_overlay.html.j2`` (title, incomplete banners, legend).
    page
        Page values for the overlay template (``banners``, ``run_id``, ...).
    surface_overlay
        Optional ``(png, ((south, west), (north, east)))`` from `screening.surface.overlay_png`: the
        suitability surface rendered in Web Mercator and its WGS84 bounds; drawn as an optional layer.
    cache_dir
        Folder where the context layers' GeoJSON is cached (`screening._display_cache`); None keeps it in the
        process only.

    Returns
    -------
    pathlib.Path
        `path`.

    Raises
    ------
    CRSError
        If `candidates` or a context layer is not in EPSG:25832.
    """
    require_crs(candidates, "candidates")
    for layer_id, gdf in context.items():
        require_crs(gdf, f"context layer {layer_id!r}")
    fmap = folium.Map(tiles=None, control_scale=True, zoom_snap=0.5)
    fmap.get_root().title = html_text(_("Industripark screening %(run)s: map", run=page.get("run_id", "")))
    _inline_leaflet(fmap)
    folium.TileLayer("OpenStreetMap", name=_("Basemap: OpenStreetMap (needs internet)"), overlay=True,
                     show=False, control=True).add_to(fmap)
    folium.map.CustomPane("land", z_index=350, pointer_events=False).add_to(fmap)
    legend_rows = add_context_layers(fmap, context, cache_dir)
    if surface_overlay is not None:
        _add_surface(fmap, *surface_overlay)
    labels = status_labels(preview=bool(page.get("preview")))
    statuses = ("excluded", "eligible") if page.get("preview") else ("excluded", "eligible", "proposed")
    counts = _add_candidates(fmap, candidates, popups, labels=labels, statuses=statuses)
    # a preview's map is small (a frame in the result page): its layer list opens on hover
    folium.LayerControl(collapsed=bool(page.get("preview")), position="topright").add_to(fmap)
    overlay = env.get_template("map_overlay.html.j2").render(
        page=page, legend_rows=legend_rows, counts=counts, colours=STATUS_COLOURS, labels=labels,
        statuses=statuses[::-1], land=LAND_COLOUR)
    fmap.get_root().html.add_child(folium.Element(overlay))
    bounds = _bounds_4326(context.get("regioner"), candidates)
    fmap.fit_bounds(bounds, padding_top_left=(20, 60), padding_bottom_right=(300, 20))  # clear of the legend
    _FitWhenSized(bounds, padding_top_left=(20, 60), padding_bottom_right=(300, 20)).add_to(fmap)
    path = Path(path)
    html = re.sub(r"<html>", f'<html lang="{i18n.html_lang()}">', fmap.get_root().render(), count=1)
    path.write_text(with_script_policy(html), encoding="utf-8")
    log.info("wrote %s (%.1f MB, %d candidates, %d context layers)", path, path.stat().st_size / 1e6,
             len(candidates), len(legend_rows))
    return path


def with_script_policy(html: str) -> str:
    """`html` with a ``<meta>`` Content-Security-Policy right after ``<head>`` that allows exactly its own
    inline scripts (by SHA-256), no inline event handlers, no plugins and no ``<base>``.

    A script added later, or an ``onerror=`` attribute smuggled into the page, does not run. Styles and
    images stay open (Leaflet sets inline styles; the basemap's tiles come from its server).
    """
    hashes = sorted({base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
                     for body in _INLINE_SCRIPT.findall(html)})
    policy = ("script-src " + (" ".join(f"'sha256-{h}'" for h in hashes) or "'none'")
              + "; object-src 'none'; base-uri 'none'; form-action 'none'")
    meta = f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
    head = re.search(r"<head\b[^>]*>", html, flags=re.I)
    if head is None:
        return meta + html
    return html[:head.end()] + "\n" + meta + html[head.end():]


def candidate_status(candidates: pd.DataFrame) -> pd.Series:
    """Return ``proposed``, ``eligible`` or ``excluded`` per row.

    Excluded when ``excluded`` is true; otherwise proposed when ``selected`` is true (absent or NaN counts
    as not selected); otherwise eligible.

    Examples
    --------
    >>> candidate_status(pd.DataFrame({"excluded": [True, False, False], "selected": [None, True, False]})
    ...                  ).tolist()
    ['excluded', 'proposed', 'eligible']
    """
    excluded = candidates["excluded"].fillna(False).astype(bool).to_numpy()
    selected = (candidates["selected"] if "selected" in candidates
                else pd.Series(False, index=candidates.index))
    selected = selected.astype("boolean").fillna(False).astype(bool).to_numpy()
    status = np.where(excluded, "excluded", np.where(selected, "proposed", "eligible"))
    return pd.Series(status, index=candidates.index, name="status")


# --------------------------------------------------------------------------- helpers


def _inline_leaflet(fmap: folium.Map) -> None:
    """Drop folium's CDN links and inline Leaflet 1.9 (JS and CSS, images as data URIs) into the page."""
    fmap.default_js = []
    fmap.default_css = []
    base = Path(xstatic_leaflet.BASE_DIR)
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match) -> str:
        png = (base / "images" / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(png).decode()})"

    css = re.sub(r"url\(images/([\w-]+\.png)\)", data_uri, css)
    js = (base / "leaflet.js").read_text(encoding="utf-8").replace("</script", "<\\/script")
    header = fmap.get_root().header
    header.add_child(folium.Element(f"<style>{css}</style>"), name="leaflet_css_inline")
    header.add_child(folium.Element(f"<script>{js}</script>"), name="leaflet_js_inline")



def _add_surface(fmap: folium.Map, png: Path, bounds) -> None:
    """Add the suitability PNG (Web Mercator, from `surface.overlay_png`) at its WGS84 bounds
    ``((south, west), (north, east))``; off by default, embedded in the page so it works offline."""
    (south, west), (north, east) = bounds
    folium.raster_layers.ImageOverlay(
        image=str(png), bounds=[[south, west], [north, east]], opacity=0.65, show=False,
        name=_("Suitability surface 0-100 (raster; excluded land dark grey)"), interactive=False).add_to(fmap)


class _FitWhenSized(folium.MacroElement):
    """Fit the bounds again when the map's first fit was made without a size: a map in an isolated
    (sandboxed, cross-origin) frame may get its size only after its scripts ran, and Leaflet's first fit
    is then lost (the web preview frames its map so). Checked now, on load and whenever the map's box
    changes size."""

    _template = FoliumTemplate("""
        {% macro script(this, kwargs) %}
        (function (map) {
            var box = map.getContainer();
            function lost() {
                try {
                    var c = map.getCenter(), size = map.getSize();
                    return !(isFinite(c.lat) && isFinite(c.lng) && isFinite(map.getZoom()))
                        || size.x !== box.clientWidth
                        || size.y !== box.clientHeight;
                } catch (e) { return true; }
            }
            function refit() {
                if (box.clientWidth === 0 || box.clientHeight === 0 || !lost()) { return; }
                map.invalidateSize();
                map.fitBounds({{ this.bounds|tojson }}, {{ this.options|tojson }});
            }
            refit();
            window.addEventListener("load", refit);
            window.addEventListener("resize", refit);
            if (window.ResizeObserver) { new ResizeObserver(refit).observe(box); }
        })({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, bounds, *, padding_top_left, padding_bottom_right):
        super().__init__()
        self._name = "FitWhenSized"
        self.bounds = bounds
        self.options = {"paddingTopLeft": list(padding_top_left), "paddingBottomRight": list(padding_bottom_right)}


_CANDIDATE_JS = JsCode("""
function (feature, layer) {
    // popups pan clear of the fixed title and incomplete banner (top left) and the legend (bottom right)
    var banner = document.getElementById('incomplete-banner');
    var top = banner ? banner.getBoundingClientRect().bottom + 12 : 70;
    layer.bindPopup(feature.properties.popup,
                    {maxWidth: 460, minWidth: 320, maxHeight: 420, className: 'candidate-popup',
                     autoPanPaddingTopLeft: [20, top], autoPanPaddingBottomRight: [310, 20]});
    layer.bindTooltip(feature.properties.tooltip, {sticky: true});
}
""")


def _add_candidates(fmap: folium.Map, candidates: gpd.GeoDataFrame, popups: Mapping[str, str], *,
                    labels: Mapping[str, str] = STATUS_LABELS,
                    statuses: tuple[str, ...] = ("excluded", "eligible", "proposed")) -> dict:
    """Add one layer per status (in `statuses` order, the last on top), each with the site polygons and a
    marker at each site, named by `labels`; return the count per status."""
    pane = folium.map.CustomPane("candidates", z_index=450, pointer_events=True)
    pane.add_to(fmap)
    cand = candidates.reset_index(drop=True)
    tooltip = _("%(site)s (%(kommune)s) – %(status)s, score %(score)s")
    props = pd.DataFrame({
        "application_id": cand["application_id"].astype(str), "status": cand["status"].astype(str),
        "tooltip": [html_text(tooltip % {"site": site, "kommune": kommune, "status": labels[status].lower(),
                                     "score": fmt_number(score, 1)})  # one text per application (tens)
                    for site, kommune, status, score in zip(cand["site_name"].astype(str),
                                                            cand["kommunenavn"].astype(str), cand["status"],
                                                            cand["score_total"].astype(float), strict=True)]})
    props["popup"] = props["application_id"].map(lambda a: popups.get(a, ""))
    sites = gpd.GeoDataFrame(props, geometry=cand.geometry.to_numpy(), crs=cand.crs).to_crs(4326)
    markers = gpd.GeoDataFrame(props, geometry=cand.geometry.representative_point().to_numpy(),
                               crs=cand.crs).to_crs(4326)
    counts = {}
    for status in statuses:  # three layers at most, proposed drawn on top
        keep = (props["status"] == status).to_numpy()
        counts[status] = int(keep.sum())
        group = folium.FeatureGroup(name=html_text(f"{labels[status]} ({counts[status]})"), show=True)
        colour = STATUS_COLOURS[status]
        site_look = {"color": colour, "weight": 2, "fillColor": colour, "fillOpacity": 0.45,
                     "className": f"candidate candidate-site candidate-{status}", "pane": "candidates"}
        marker_look = {"color": "#ffffff", "weight": 1.5, "fill": True, "fillColor": colour,
                       "fillOpacity": 0.95,
                       "className": f"candidate candidate-marker candidate-{status}", "pane": "candidates"}
        if status == "excluded":
            site_look["dashArray"] = "4 3"
        folium.GeoJson(sites.loc[keep], control=False, style_function=_per_site(site_look),
                       on_each_feature=_CANDIDATE_JS, pane="candidates").add_to(group)
        folium.GeoJson(markers.loc[keep], control=False, style_function=_per_site(marker_look),
                       marker=folium.CircleMarker(radius=8 if status == "proposed" else 6.5),
                       on_each_feature=_CANDIDATE_JS, pane="candidates").add_to(group)
        group.add_to(fmap)
    return counts



def _per_site(look: dict):
    """A style function adding ``cand-<application_id>`` to the class, so a page can find one site."""

    def style(feature: dict) -> dict:
        slug = re.sub(r"[^\w-]", "_", str(feature["properties"]["application_id"]))
        return {**look, "className": f"{look['className']} cand-{slug}"}

    return style



def _bounds_4326(regioner: gpd.GeoDataFrame | None, candidates: gpd.GeoDataFrame) -> list[list[float]]:
    frames = [candidates.geometry] + ([regioner.geometry] if regioner is not None and len(regioner) else [])
    xmin, ymin, xmax, ymax = gpd.GeoSeries(pd.concat(frames), crs=candidates.crs).to_crs(4326).total_bounds
    return [[float(ymin), float(xmin)], [float(ymax), float(xmax)]]

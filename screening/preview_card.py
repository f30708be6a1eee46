"""Score cards and maps of a preview: the reports' card and map code applied to a municipality's drafts.

`write_card` writes each draft's card with `cards.write_cards` and the reports' templates, so a preview's
card is the state's card; `context_layers` cuts the context layers to the drafts' surroundings for the
card and for the web page's map; `page_values` gives the reports' page values (incomplete banners, layer
provenance) for a preview.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from screening import _nature_layers, _provenance, cards, i18n, maps, pipeline, preview, report
from screening import catalog as catalog_mod
from screening._json import write_json
from screening.config import Criteria
from screening.i18n import N_, fmt_number
from screening.i18n import gettext as _

__all__ = ["CARD_CONTEXT_M", "write_card", "context_layers", "page_values"]

log = logging.getLogger(__name__)

TEXTS = {
    "preview_only": N_("preview only, the state selects among all submissions after the deadline"),
    "would_rank": N_("preview only, the state selects among all submissions after the deadline; among the "
                     "%(reference)s it would rank %(rank)s of %(of)s eligible (%(region_rank)s of %(region_of)s "
                     "in %(region)s)"),
    "not_here": N_("not on this server"),
}
"""What a preview's card says in place of a selection reason, and of a layer the web does not name the path of
(English source texts, translated where used)."""

CARD_CONTEXT_M = 60_000.0
"""Area context layers of a preview card are cut to this distance (metres) around the drafts; the card's
site map shows at most about 30 km around a site."""


def write_card(result: preview.PreviewResult, folder: Path, *, layer_set: catalog_mod.LayerSet,
               criteria: Criteria, page: dict | None = None) -> dict[str, Path]:
    """Write each draft's score card with the reports' code and template (`cards.write_cards`).

    ``folder/cards/<slug>-<hash>.html`` (`cards.card_filename`; images under ``cards/img/``) and ``folder/preview.json``
    (`preview.to_dict`). The CLI writes into a new ``reports/previews/<UTC timestamp>/``
    (`pipeline.new_run_dir`), the web page into the request's temporary folder. `page` defaults to
    `page_values`.

    Returns
    -------
    dict of str to pathlib.Path
        The card of each application id.
    """
    folder = Path(folder)
    cand = result.candidates.assign(status=maps.candidate_status(result.candidates),
                                    selection_reason=[_rank_sentence(result, aid)
                                                      for aid in result.candidates["application_id"]])
    # the card draws area layers as background only: cut them (a card of one site need not draw the
    # country); its nearest features are searched in the point and line layers, kept whole
    context = context_layers(layer_set, result.candidates, distance_m=CARD_CONTEXT_M,
                             whole_points_lines=True)
    page = page or page_values(layer_set, criteria, run_id=folder.name,
                               config_hash=result.reference.config_hash)
    written = cards.write_cards(folder / "cards", cand, result.breakdown, result.overlaps, context=context,
                                criteria=criteria, env=report.template_env(), page=page)
    write_json(folder / "preview.json", preview.to_dict(result))
    log.info("preview card(s) of %d application(s) written to %s", len(cand), folder)
    return {str(aid): written[f"card_{aid}"] for aid in cand["application_id"]}


def page_values(layer_set: catalog_mod.LayerSet, criteria: Criteria, *, run_id: str, config_hash: str = "",
                detail: bool = True) -> dict:
    """The reports' page values (`report.page_values`: banners, layer provenance) for a preview; ``preview``
    is true so shared templates can word things for a draft. ``created`` is now (UTC). ``detail=False``
    replaces the reasons a layer is missing (which name server paths) by a short phrase, for the web."""
    missing = dict(layer_set.missing) if detail else dict.fromkeys(layer_set.missing, _(TEXTS["not_here"]))
    manifest = {"run_id": run_id, "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "lang": i18n.current(), "config_hash": config_hash,
                "incomplete": bool(preview.incomplete_layers(layer_set, criteria)),
                "missing_layers": missing,
                "layers": {lid: {k: i18n.text(gdf.attrs.get(k)) if k in ("title", "coverage_note") else gdf.attrs.get(k)
                                 for k in ("title", "origin", "source", "date", "provisional", "coverage_note")}
                           | {"date_text": i18n.text(gdf.attrs.get("date_text")),
                              "source_text": _provenance.source_and_date(gdf.attrs)[0]}
                           for lid, gdf in layer_set.layers.items()},
                "provisional_layers": _nature_layers.provisional_layers(
                    layer_set.layers, {r.layer for r in criteria.exclusions.rules})}
    return report.page_values(manifest, criteria) | {"preview": True}


def context_layers(layer_set: catalog_mod.LayerSet, sites: gpd.GeoDataFrame, *, distance_m: float,
                   whole_points_lines: bool = False) -> dict[str, gpd.GeoDataFrame]:
    """The reports' context layers (`pipeline.CONTEXT_LAYERS`) near `sites`, for a preview's map and card.

    Parameters
    ----------
    sites
        The drafts, EPSG:25832.
    distance_m
        Features within this distance (metres) of the sites' bounding box are kept; areas are cut to it.
    whole_points_lines
        Keep point and line layers whole (the card finds the nearest feature in them, however far).
    """
    window = shapely.box(*sites.total_bounds).buffer(distance_m, join_style="mitre")
    out = {}
    for layer_id in pipeline.CONTEXT_LAYERS:  # ten context layers, each cut with its spatial index
        gdf = layer_set.layers.get(layer_id)
        if gdf is None:
            continue
        areas = bool(gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all())
        if areas or not whole_points_lines:
            gdf = gdf.iloc[gdf.sindex.query(window, predicate="intersects")]
            gdf = gpd.clip(gdf, window) if areas else gdf
        if len(gdf):
            out[layer_id] = gdf
    return out


# --------------------------------------------------------------------------- helpers


def _rank_sentence(result: preview.PreviewResult, aid: str) -> str:
    """Preview in place of a selection reason: no selection is made, only the rank among the reference."""
    r = result.ranks.loc[aid]
    if pd.isna(r["rank"]):
        return _(TEXTS["preview_only"])
    return _(TEXTS["would_rank"], reference=result.reference.label_text(), rank=fmt_number(r["rank"]),
             of=fmt_number(r["of_overall"]), region_rank=fmt_number(r["rank_region"]),
             region_of=fmt_number(r["of_region"]), region=r["regionsnavn"])

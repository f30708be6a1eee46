"""A municipality's preview: screen and score a draft submission with the state's code and rules, rank it.

The draft goes through exactly the steps of a screening run (`submissions.load_submissions`, then
`pipeline.assess` without selection), so a preview can never disagree with the state's screening of the
same file under the same layers and ``layers/criteria.yaml``. It is then ranked among a *reference set*:
the latest screening run, or - when no run exists - the approximate 2025 applications of the mirror,
screened on the fly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from screening import _preview_guards, _target_times, cards, exclusion, pipeline
from screening import catalog as catalog_mod
from screening._preview_reference import (
    MIRROR_REFERENCE,
    REFERENCE_TEXTS,
    Reference,
    allowed_missing,
    incomplete_layers,
    latest_run,
    load_reference,
    rank_against,
    read_manifest,
    rule_layers,
)
from screening._preview_text import render_text
from screening.config import Catalog, Criteria, Settings
from screening.i18n import gettext as _

__all__ = [
    "Reference",
    "PreviewContext",
    "PreviewResult",
    "MIRROR_REFERENCE",
    "REFERENCE_TEXTS",
    "MAX_PREVIEW_FEATURES",
    "preview_context",
    "load_reference",
    "preview",
    "rank_against",
    "incomplete_layers",
    "rule_layers",
    "to_dict",
    "render_text",
]

log = logging.getLogger(__name__)

MAX_PREVIEW_FEATURES = _preview_guards.MAX_PREVIEW_FEATURES
"""Most features (areas) one preview takes (declared in `screening._preview_guards`)."""

_RANK_COLUMNS = ("rank", "rank_min", "rank_max", "top_k_probability", "of_overall", "rank_region",
                 "of_region")
"""The draft's rank among the reference (`rank_against`); replaces the rank `pipeline.assess` gives it."""

_APP_COLUMNS = ("application_id", "site_name", "kommunekode", "kommunenavn", "regionsnavn", "area_ha",
                "net_area_ha", "exclusion_reasons", "flags", "incomplete", "score_total", "bonus_points",
                "not_assessed")

@dataclass(frozen=True)
class PreviewContext:
    """What a preview needs besides the draft: layers (loaded once), the reference, the missing layers
    the screening accepts and the prepared exclusion coverages (`exclusion.prepared_layers`, by rule id)."""

    layer_set: catalog_mod.LayerSet
    reference: Reference
    allow_missing: tuple[str, ...]
    prepared: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PreviewResult:
    """A screened and scored draft.

    ``candidates`` is the `pipeline.assess` table (EPSG:25832, one row per application);
    ``overlaps``/``breakdown`` are the exclusion and score explanations; ``ranks`` is indexed by
    ``application_id`` (see `rank_against`; the same columns are in ``candidates``); ``improvements``
    maps each id to `cards.improvements` (``text``, ``gain_points``), largest gain first.
    """

    candidates: gpd.GeoDataFrame
    overlaps: pd.DataFrame
    breakdown: pd.DataFrame
    ranks: pd.DataFrame
    improvements: dict[str, list[dict]]
    reference: Reference
    incomplete: str = ""
    groups: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    provisional: tuple[tuple[str, str], ...] = ()
    """(layer id, note) of the provisional copies the screening used (`screening._nature_layers`)."""


def preview_context(*, catalog: Catalog, criteria: Criteria, settings: Settings,
                    reference_dir: Path | None = None, reports_root: Path = Path("reports"),
                    allow_missing: Iterable[str] = ()) -> PreviewContext:
    """Load the layers once and the reference set; the CLI and the web app both start here.

    Parameters
    ----------
    reference_dir
        A screening run folder (with ``candidates.parquet``); None uses ``<reports_root>/latest`` when
        it exists, else screens the mirror's approximate 2025 applications.
    allow_missing
        Exclusion layers the preview may run without. Empty: those the reference run allowed (read from
        its ``manifest.json``), so the preview applies the rules of the run it is compared with.

    Raises
    ------
    LayerUnavailableError
        When an exclusion layer is missing and not allowed; the message names the fix.
    """
    if reference_dir is not None:  # never rank against an unfinished run folder (H1, issue 11)
        pipeline.require_complete(Path(reference_dir), "reference run folder")
    run_dir = reference_dir if reference_dir is not None else latest_run(Path(reports_root))
    manifest = read_manifest(run_dir)
    allow = tuple(allow_missing) or tuple(manifest.get("allow_missing", ()))
    if allow and not tuple(allow_missing):
        log.info("using the reference run's --allow-missing %s", " ".join(allow))
    needed = ["kommuner", "regioner", *sorted(criteria.layer_ids()), *pipeline.CONTEXT_LAYERS]
    layer_set = catalog_mod.load_layers(needed, catalog=catalog, settings=settings, allow_missing=allow)
    # build every spatial index and prepared exclusion coverage now, not in concurrent requests
    for gdf in layer_set.layers.values():
        gdf.sindex  # noqa: B018
    prepared = exclusion.prepared_layers(layer_set.layers, criteria.exclusions, cache_dir=settings.cache_dir)
    # the travel times from every criterion's targets to the road network's nodes, kept for every draft
    _target_times.prepare(layer_set.layers, criteria)
    reference = load_reference(run_dir, layer_set=layer_set, catalog=catalog, criteria=criteria,
                               settings=settings, prepared=prepared)
    return PreviewContext(layer_set=layer_set, reference=reference, allow_missing=allow, prepared=prepared)


def preview(paths: Sequence[str | Path], *, layer_set: catalog_mod.LayerSet, criteria: Criteria,
            settings: Settings, reference: Reference, repair: bool = False,
            max_vertices: int | None = None, max_features: int | None = MAX_PREVIEW_FEATURES,
            prepared: dict | None = None, names: dict[str, str] | None = None) -> PreviewResult:
    """Validate, screen and score draft submission files with the state's code and rank them.

    Parameters
    ----------
    paths
        Draft submission files (GeoJSON, GeoPackage, zipped Shapefile, GeoParquet).
    layer_set
        Layers loaded once (`preview_context`); exclusion layers absent from it were allowed missing.
    reference
        The scored applications to rank against (`load_reference`).
    max_vertices
        Refuse drafts whose geometries have more vertices than this in total (web uploads).
    max_features
        Refuse files of more features (areas) than this, before reading them whole; None: no limit.
    prepared
        The prepared exclusion coverages (`PreviewContext.prepared`); None reads them from the cache.
    names
        Path -> name to record as ``source_file`` (an upload's own name instead of its temporary path).

    Returns
    -------
    PreviewResult

    Raises
    ------
    SubmissionError
        With every problem of the file (as ``submissions check`` reports them), too many features or
        vertices, or what the reader raised on a file it could not read (`screening._preview_guards`).
    """
    cand = _preview_guards.read_drafts(paths, kommuner=layer_set.layers["kommuner"], repair=repair,
                                       max_features=max_features, max_vertices=max_vertices)
    warnings = tuple(cand.attrs.get("warnings", ()))
    if names:
        cand["source_file"] = cand["source_file"].map(lambda f: names.get(f, f))
    run = pipeline.assess(cand, layer_set, criteria, settings=settings,
                          allow_missing=allowed_missing(layer_set, criteria), select=False, prepared=prepared)
    breakdown = run.scores.breakdown
    tips = {aid: cards.improvements(rows, criteria)
            for aid, rows in breakdown.groupby("application_id", sort=False)}  # per application (a few)
    ranks = rank_against(run.candidates, reference.table, criteria)
    cand = run.candidates.drop(columns=_RANK_COLUMNS, errors="ignore")
    cand = cand.merge(ranks[list(_RANK_COLUMNS)], how="left", left_on="application_id", right_index=True)
    return PreviewResult(
        candidates=cand, overlaps=run.exclusion.overlaps, breakdown=breakdown,
        ranks=ranks, improvements=tips, reference=reference,
        incomplete="; ".join(_(REFERENCE_TEXTS["incomplete"], layer=lid)
                             for lid in incomplete_layers(layer_set, criteria)),
        groups=tuple(g.id for g in criteria.groups), warnings=warnings,
        provisional=tuple(run.exclusion.provisional.items()))


def to_dict(result: PreviewResult) -> dict:
    """The preview as JSON-ready data (NaN -> None): what the web API answers and the pages show.

    Returns
    -------
    dict
        ``incomplete``, ``reference`` (``label``, ``note``), ``warnings`` and ``applications``: per
        application its identity, ``eligible``, ``exclusion_reasons``, ``flags``, ``incomplete`` (the
        rules not checked for this site, e.g. outside a partial layer copy), ``overlaps`` (rows with
        ``overlap_ha``), ``score_total``, ``group_scores`` (0–100), ``bonus_points``, ``breakdown`` (rows
        as in `scoring.ScoreResult`), ``rank`` and ``improvements``.
    """
    apps = []
    for d in result.candidates.itertuples(index=False):  # one entry per draft application (a handful)
        aid = d.application_id
        overlaps = result.overlaps.loc[result.overlaps["application_id"] == aid]
        rows = result.breakdown.loc[result.breakdown["application_id"] == aid]
        apps.append({
            **{k: _plain(getattr(d, k, None)) for k in _APP_COLUMNS},
            "eligible": not bool(d.excluded),
            "overlaps": _records(overlaps.drop(columns="application_id")),
            "group_scores": {g: _plain(getattr(d, f"score_{g}")) for g in result.groups},
            "breakdown": _records(rows.drop(columns="application_id")),
            "rank": {k: _plain(v) for k, v in result.ranks.loc[aid].items()},
            "improvements": list(result.improvements.get(aid, [])),
        })
    return {"incomplete": result.incomplete, "warnings": list(result.warnings), "applications": apps,
            "provisional": [{"layer": lid, "note": note} for lid, note in result.provisional],
            "reference": {"label": result.reference.label_text(), "note": result.reference.note_text()}}


# --------------------------------------------------------------------------- helpers


def _plain(value):
    """A JSON-ready scalar: numpy scalars to Python, NaN/NA to None."""
    if value is None or (not isinstance(value, str) and pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))

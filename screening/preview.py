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

from screening import _preview_guards, _target_times, cards, exclusion, i18n, pipeline, sensitivity, submissions
from screening import catalog as catalog_mod
from screening._preview_text import render_text
from screening.config import Catalog, Criteria, Settings, config_hash
from screening.errors import ScreeningError
from screening.i18n import N_
from screening.i18n import gettext as _

__all__ = [
    "Reference",
    "PreviewContext",
    "PreviewResult",
    "MIRROR_REFERENCE",
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

MIRROR_REFERENCE = Path("submissions") / "applications_2025_approx.gpkg"
"""The approximate 2025 applications, relative to the mirror root: the reference when no run exists."""

_RANK_COLUMNS = ("rank", "rank_min", "rank_max", "top_k_probability", "of_overall", "rank_region",
                 "of_region")
"""The draft's rank among the reference (`rank_against`); replaces the rank `pipeline.assess` gives it."""

_APP_COLUMNS = ("application_id", "site_name", "kommunekode", "kommunenavn", "regionsnavn", "area_ha",
                "net_area_ha", "exclusion_reasons", "flags", "incomplete", "score_total", "bonus_points",
                "not_assessed")

_REFERENCE_COLUMNS = ("application_id", "site_name", "kommunenavn", "regionsnavn", "excluded", "score_total",
                      "bonus_points")

REFERENCE_TEXTS = {
    "run": lambda n, **v: i18n.ngettext("screening run %(run)s (%(num)s application)",
                                        "screening run %(run)s (%(num)s applications)", n, **v),
    "mirror": N_("approximate 2025 applications (%(n)s, the mirror's %(file)s, screened now)"),
    "none": N_("no reference set available"),
    "other_config": N_("the reference run used another configuration (hash %(then)s, now %(now)s): its scores "
                       "may not be comparable"),
    "incomplete": N_("incomplete: %(layer)s missing"),
}
"""What a preview says about its reference set (English source texts, translated in every language)."""


@dataclass(frozen=True)
class Reference:
    """Scored applications a draft is ranked against.

    ``table`` has `_REFERENCE_COLUMNS` and ``score_<group>`` per group (0–100); ``label`` says where
    it came from; ``config_hash`` is the configuration (catalog and criteria) drafts are screened and
    ranked under; ``note`` warns when the reference was scored under another one. ``labels`` and
    ``notes`` hold both in every language (`label_text` and `note_text` give the current one; ``label``
    and ``note`` are in the language the reference was loaded in).
    """

    table: pd.DataFrame
    label: str
    config_hash: str = ""
    note: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def label_text(self) -> str:
        """Where the reference came from, in the current language."""
        return self.labels.get(i18n.current(), self.label)

    def note_text(self) -> str:
        """The warning about the reference's configuration (or ""), in the current language."""
        return self.notes.get(i18n.current(), self.note)


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
    run_dir = reference_dir if reference_dir is not None else _latest_run(Path(reports_root))
    manifest = _read_manifest(run_dir)
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


def load_reference(run_dir: Path | None, *, layer_set: catalog_mod.LayerSet, catalog: Catalog,
                   criteria: Criteria, settings: Settings, prepared: dict | None = None) -> Reference:
    """Read a run's scores, or screen the mirror's approximate 2025 applications when `run_dir` is None.

    Returns an empty reference (and logs why) when neither exists; drafts are then not ranked.

    Raises
    ------
    ScreeningError
        When `run_dir` has no ``candidates.parquet``.
    """
    config = config_hash(catalog, criteria)
    if run_dir is not None:
        path = Path(run_dir) / "candidates.parquet"
        if not path.is_file():
            msg = f"{run_dir}: no candidates.parquet; pass a screening run folder (reports/<timestamp>/)"
            raise ScreeningError(msg)
        table = pd.read_parquet(path, columns=_reference_columns(criteria))
        manifest = _read_manifest(run_dir)
        notes = _every_language(lambda: "")
        if manifest.get("config_hash") not in (None, config):
            notes = _every_language(lambda: _(REFERENCE_TEXTS["other_config"], then=manifest["config_hash"],
                                              now=config))
        log.info("reference: screening run %s", run_dir)  # the label names the run, never its path
        labels = _every_language(lambda: REFERENCE_TEXTS["run"](len(table), run=Path(run_dir).name))
        return _reference(table, labels, config, notes)
    if settings.mirror_root is None or not (Path(settings.mirror_root) / MIRROR_REFERENCE).is_file():
        log.warning("no screening run and no %s in the mirror: previews are not ranked", MIRROR_REFERENCE)
        return _reference(pd.DataFrame(columns=_reference_columns(criteria)),
                          _every_language(lambda: _(REFERENCE_TEXTS["none"])), config)
    path = Path(settings.mirror_root) / MIRROR_REFERENCE
    cand = submissions.load_submissions([path], kommuner=layer_set.layers["kommuner"])
    run = pipeline.assess(cand, layer_set, criteria, settings=settings,
                          allow_missing=_allowed(layer_set, criteria), select=False, prepared=prepared)
    labels = _every_language(lambda: _(REFERENCE_TEXTS["mirror"], n=i18n.fmt_number(len(cand)),
                                       file=MIRROR_REFERENCE.name))
    return _reference(pd.DataFrame(run.candidates[_reference_columns(criteria)]), labels, config)


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
    run = pipeline.assess(cand, layer_set, criteria, settings=settings, allow_missing=_allowed(layer_set, criteria),
                          select=False, prepared=prepared)
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


def rank_against(drafts: pd.DataFrame, reference: pd.DataFrame, criteria: Criteria) -> pd.DataFrame:
    """Rank each draft among the reference applications with the state's ranking code.

    Each draft joins the reference set on its own (drafts do not compete with each other; a reference
    row with the draft's ``application_id`` is left out, the draft replaces it) and
    `sensitivity.rank_sensitivity` ranks the eligible ones: the rank at the configured group weights
    (ties share the best rank), the range under perturbed weights and the probability of the top k.

    Parameters
    ----------
    drafts, reference
        One row per application with ``application_id``, ``regionsnavn``, ``excluded``,
        ``bonus_points`` and ``score_<group>`` for every group of `criteria`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``application_id``: ``rank``, ``rank_min``, ``rank_max``, ``top_k_probability``,
        ``of_overall`` (eligible applications ranked, the draft included), ``rank_region``, ``of_region``
        (the same within the draft's region) and ``regionsnavn``; NaN ranks for an excluded draft or
        when the reference has no eligible application.
    """
    groups = [g.id for g in criteria.groups]
    cols = ["application_id", "regionsnavn", "excluded", "bonus_points", *(f"score_{g}" for g in groups)]
    rows = []
    for draft in drafts[cols].to_dict("records"):  # one per draft application (a handful)
        ref = reference.loc[reference["application_id"].astype(str) != str(draft["application_id"]), cols]
        both = pd.concat([ref, pd.DataFrame([draft])], ignore_index=True)
        eligible = ~both["excluded"].astype(bool)
        ranks = sensitivity.rank_sensitivity(
            both[[f"score_{g}" for g in groups]].set_axis(groups, axis=1),
            {g.id: g.weight for g in criteria.groups}, criteria.sensitivity, eligible=eligible,
            bonus=both["bonus_points"].astype(float))
        mine = ranks.iloc[-1].to_dict()
        ranked = ranks["rank"].notna().to_numpy()
        region = (both["regionsnavn"].astype(str) == str(draft["regionsnavn"])).to_numpy() & ranked
        if pd.isna(mine["rank"]) or ranked.sum() < 2:
            mine = dict.fromkeys([*mine, "of_overall", "rank_region", "of_region"], np.nan)
        else:
            mine |= {"of_overall": int(ranked.sum()), "of_region": int(region.sum()),
                     "rank_region": 1 + int((region & (ranks["rank"].to_numpy() < mine["rank"])).sum())}
        rows.append({"application_id": draft["application_id"], "regionsnavn": draft["regionsnavn"], **mine})
    return pd.DataFrame(rows).set_index("application_id")


def incomplete_layers(layer_set: catalog_mod.LayerSet, criteria: Criteria) -> tuple[str, ...]:
    """Layers of ``exclude``/``cut`` rules the loaded set lacks (`catalog.load_layers` left them out only
    when allowed): the ``allow_missing`` of the screening, and the "incomplete: <id> missing" marks."""
    return tuple(sorted(set(rule_layers(criteria)) & set(layer_set.missing)))


def rule_layers(criteria: Criteria) -> tuple[str, ...]:
    """The layers of the ``exclude`` and ``cut`` rules: a site on them cannot be (wholly) designated."""
    return tuple(sorted({r.layer for r in criteria.exclusions.rules if r.action in ("exclude", "cut")}))


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


def _every_language(make) -> dict[str, str]:
    """``make()`` in every language: language -> text."""
    out = {}
    for lang in i18n.LANGUAGES:  # two languages
        with i18n.use(lang):
            out[lang] = make()
    return out


def _reference(table: pd.DataFrame, labels: dict[str, str], config: str, notes: dict[str, str] | None = None
               ) -> Reference:
    notes = notes or {}
    return Reference(table, labels[i18n.current()], config, notes.get(i18n.current(), ""), labels=labels,
                     notes=notes)


def _latest_run(reports_root: Path) -> Path | None:
    """The run ``reports/latest`` points to (link or ``latest.txt``), if it has ``candidates.parquet``."""
    link, txt = reports_root / "latest", reports_root / "latest.txt"
    run = link.resolve() if link.exists() else (
        reports_root / txt.read_text(encoding="utf-8").strip() if txt.is_file() else None)
    if run is not None and (run / "candidates.parquet").is_file():
        return run
    return None


def _allowed(layer_set: catalog_mod.LayerSet, criteria: Criteria) -> tuple[str, ...]:
    """The ``allow_missing`` of a preview's screening: the missing exclusion layers and those the loaded set
    was allowed without (a copy covering part of the country: sites outside it are marked incomplete)."""
    return tuple(sorted({*incomplete_layers(layer_set, criteria), *layer_set.allow_missing}))


def _reference_columns(criteria: Criteria) -> list[str]:
    return [*_REFERENCE_COLUMNS, *(f"score_{g.id}" for g in criteria.groups)]


def _read_manifest(run_dir: Path | None) -> dict:
    if run_dir is None or not (Path(run_dir) / "manifest.json").is_file():
        return {}
    return json.loads((Path(run_dir) / "manifest.json").read_text(encoding="utf-8"))


def _plain(value):
    """A JSON-ready scalar: numpy scalars to Python, NaN/NA to None."""
    if value is None or (not isinstance(value, str) and pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))

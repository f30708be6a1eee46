"""The reference set a draft is ranked against, and the rules both are screened under.

The reference is the latest screening run (its ``candidates.parquet``), or - when no run exists - the
mirror's approximate 2025 applications screened on the fly (`load_reference`); a draft joins it on its own
and is ranked with the state's ranking code (`rank_against`). Drafts and an on-the-fly reference are
screened without the same exclusion layers (`allowed_missing`): those the loaded layer set lacks or has
only in part, each named on every page ("incomplete: <id> missing").
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from screening import catalog as catalog_mod
from screening import i18n, pipeline, sensitivity, submissions
from screening.config import Catalog, Criteria, Settings, config_hash
from screening.errors import ScreeningError
from screening.i18n import N_
from screening.i18n import gettext as _

__all__ = ["MIRROR_REFERENCE", "REFERENCE_TEXTS", "Reference", "load_reference", "rank_against",
           "incomplete_layers", "rule_layers", "allowed_missing", "latest_run", "read_manifest"]

log = logging.getLogger(__name__)

MIRROR_REFERENCE = Path("submissions") / "applications_2025_approx.gpkg"
"""The approximate 2025 applications, relative to the mirror root: the reference when no run exists."""

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
        manifest = read_manifest(run_dir)
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
                          allow_missing=allowed_missing(layer_set, criteria), select=False, prepared=prepared)
    labels = _every_language(lambda: _(REFERENCE_TEXTS["mirror"], n=i18n.fmt_number(len(cand)),
                                       file=MIRROR_REFERENCE.name))
    return _reference(pd.DataFrame(run.candidates[_reference_columns(criteria)]), labels, config)


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


def latest_run(reports_root: Path) -> Path | None:
    """The run ``reports/latest`` points to (link or ``latest.txt``), if it has ``candidates.parquet``."""
    link, txt = reports_root / "latest", reports_root / "latest.txt"
    run = link.resolve() if link.exists() else (
        reports_root / txt.read_text(encoding="utf-8").strip() if txt.is_file() else None)
    if run is not None and (run / "candidates.parquet").is_file():
        return run
    return None


def allowed_missing(layer_set: catalog_mod.LayerSet, criteria: Criteria) -> tuple[str, ...]:
    """The ``allow_missing`` of a preview's screening: the missing exclusion layers and those the loaded set
    was allowed without (a copy covering part of the country: sites outside it are marked incomplete)."""
    return tuple(sorted({*incomplete_layers(layer_set, criteria), *layer_set.allow_missing}))


def _reference_columns(criteria: Criteria) -> list[str]:
    return [*_REFERENCE_COLUMNS, *(f"score_{g.id}" for g in criteria.groups)]


def read_manifest(run_dir: Path | None) -> dict:
    if run_dir is None or not (Path(run_dir) / "manifest.json").is_file():
        return {}
    return json.loads((Path(run_dir) / "manifest.json").read_text(encoding="utf-8"))

"""Configuration as data: ``layers/catalog.yaml`` and ``layers/criteria.yaml`` as validated, frozen models.

Everything that steers a run (which layers, which rules, weights, distance bands, spread rules) is read
here once and passed explicitly; no module reads YAML or globals deep inside.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from screening import i18n
from screening.errors import ConfigError

__all__ = [
    "CRS",
    "PROJECT_ROOT",
    "Settings",
    "LocalText",
    "Source",
    "FetchPlan",
    "ColumnSpec",
    "LayerSpec",
    "Catalog",
    "LayerFilter",
    "ExclusionRule",
    "Exclusions",
    "Band",
    "Group",
    "Criterion",
    "Bonus",
    "Travel",
    "Sensitivity",
    "RegionRule",
    "Selection",
    "Surface",
    "Criteria",
    "load_catalog",
    "load_criteria",
    "settings_from_env",
    "config_hash",
    "load_yaml_model",
]

CRS = "EPSG:25832"
"""The one metric CRS of the pipeline: ETRS89 / UTM zone 32N, metres."""

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


BOTH_LANGUAGES = "both_languages"
"""Validation context key: when true (files read by `load_yaml_model`), a `LocalText` must name both languages."""


class LocalText(_Frozen):
    """A text users read, in Danish and English: ``{da: "Afstand til nærmeste havn", en: "Distance to nearest
    port"}`` in the YAML files; both are required and non-empty (`load_yaml_model` refuses a plain string).

    ``str(text)`` (and an f-string, a jinja2 ``{{ }}``, `screening.i18n.text`) gives the text in the current
    language (`screening.i18n.current`). A plain string given in Python, or by a scenario overlay replacing a
    text whole, is accepted as the same text in both languages.

    Examples
    --------
    >>> title = LocalText(da="Afstand til nærmeste havn", en="Distance to nearest port")
    >>> with i18n.use("da"):
    ...     f"{title}"
    'Afstand til nærmeste havn'
    >>> str(LocalText.model_validate("Port"))
    'Port'
    """

    da: str
    en: str

    @model_validator(mode="before")
    @classmethod
    def _plain_or_both(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            if info.context and info.context.get(BOTH_LANGUAGES):
                raise ValueError(f"a text users read needs both languages, e.g. {{da: \"…\", en: \"…\"}}; "
                                 f"got only {value!r}")
            return {"da": value, "en": value}
        if isinstance(value, dict):
            missing = [lang for lang in i18n.LANGUAGES if not str(value.get(lang) or "").strip()]
            if missing:
                names = {"da": "Danish (da)", "en": "English (en)"}
                raise ValueError(f"the text lacks {' and '.join(names[m] for m in missing)}: give both, "
                                 f"{{da: \"…\", en: \"…\"}}")
        return value

    def __str__(self) -> str:
        return self.da if i18n.current() == "da" else self.en

    def get(self, lang: str) -> str:
        """The text in `lang` ("da" or "en")."""
        return getattr(self, i18n.check_lang(lang))


# --------------------------------------------------------------------------- runtime settings


class Settings(_Frozen):
    """Where layers resolve from on this machine.

    ``mirror_root`` is ``$INDUSTRIPARK_MIRROR`` or ``../shared/dk-layers`` beside the project when it exists;
    ``cache_dir`` is ``$INDUSTRIPARK_CACHE`` or ``data/cache``; ``online`` is false when
    ``$INDUSTRIPARK_OFFLINE`` is set (then official sources are not tried); ``lang`` (``da`` or ``en``) is
    the language of the pages and texts a run writes, ``$INDUSTRIPARK_LANG`` or Danish (a command's ``--lang``
    overrides it).
    """

    layers_dir: Path = PROJECT_ROOT / "layers"
    mirror_root: Path | None = None
    cache_dir: Path = PROJECT_ROOT / "data" / "cache"
    online: bool = True
    timeout_s: float = 60.0
    lang: Literal["da", "en"] = i18n.DEFAULT


def settings_from_env(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build `Settings` from environment variables, then apply keyword overrides.

    Raises
    ------
    ConfigError
        When ``$INDUSTRIPARK_LANG`` names a language pages cannot be written in.
    """
    env = dict(os.environ) if env is None else env
    mirror = env.get("INDUSTRIPARK_MIRROR")
    default_mirror = PROJECT_ROOT.parent / "shared" / "dk-layers"
    values: dict[str, Any] = {
        "mirror_root": Path(mirror) if mirror else (default_mirror if default_mirror.is_dir() else None),
        "online": not env.get("INDUSTRIPARK_OFFLINE"),
    }
    if env.get("INDUSTRIPARK_CACHE"):
        values["cache_dir"] = Path(env["INDUSTRIPARK_CACHE"])
    if env.get("INDUSTRIPARK_LAYERS"):
        values["layers_dir"] = Path(env["INDUSTRIPARK_LAYERS"])
    if (env.get(i18n.ENV_VAR) or "").strip():
        try:
            values["lang"] = i18n.check_lang(env[i18n.ENV_VAR])
        except ValueError as exc:
            raise ConfigError(f"${i18n.ENV_VAR}: {exc}; set it to da or en, or unset it (Danish)") from None
    values.update(overrides)
    return Settings(**values)


# --------------------------------------------------------------------------- catalog


class FetchPlan(_Frozen):
    """How a WFS source is fetched completely (see docs/LAYERS.md).

    ``strategy``: ``single`` (one GetFeature), ``paged`` (``startIndex``/``count`` pages sorted by ``key``)
    or ``chunks`` (one request per municipality bounding box or per ``tile_km`` tile, ``workers`` in
    parallel, de-duplicated by ``key``). Every strategy first asks ``resultType=hits`` and checks the
    fetched count against ``numberMatched``. ``key`` is a stable unique feature key: the ``sortBy``
    property of pages, the de-duplication id of chunks (``id`` is GeoServer's feature id, e.g.
    ``ais_par3.134931``). ``sort_by`` orders pages inside a chunk larger than ``page_size``; without it
    such a chunk is split into quadrants. ``extent`` (EPSG:25832 metres) bounds the tiles; default Denmark.
    ``timeout_s`` overrides the settings' timeout for this source.
    """

    strategy: Literal["single", "paged", "chunks"] = "single"
    key: str | None = None
    sort_by: str | None = None
    page_size: int = Field(2000, ge=1)
    chunks: Literal["kommuner", "tiles"] = "kommuner"
    tile_km: float = Field(20.0, gt=0)
    extent: tuple[float, float, float, float] | None = None
    workers: int = Field(4, ge=1, le=16)
    timeout_s: float | None = Field(None, gt=0)
    retries: int = Field(4, ge=0, le=10)

    @model_validator(mode="after")
    def _key_needed(self) -> FetchPlan:
        if self.strategy in ("paged", "chunks") and not self.key:
            raise ValueError(f"fetch strategy {self.strategy!r} needs a stable feature 'key'")
        return self


class Source(_Frozen):
    """The official source of a layer.

    ``kind``: ``wfs`` (OGC WFS 2.0, fetched as ``fetch`` declares), ``download`` (a file fetched with pooch;
    ``member`` names the file inside an archive), ``rest`` (ArcGIS REST query, paged), ``none`` (no public
    service known). ``evidence`` follows OFFICIAL_SOURCES.md: V stated by the publisher, C seen in public
    code, I inferred, ? unknown.
    """

    kind: Literal["wfs", "download", "rest", "none"]
    url: str | None = None
    typename: str | None = None
    format: str | None = None
    member: str | None = None
    params: dict[str, str] = Field(default_factory=dict)
    publisher: str
    licence: str
    evidence: Literal["V", "C", "I", "?"] = "?"
    note: str = ""
    fetch: FetchPlan = Field(default_factory=FetchPlan)

    @model_validator(mode="after")
    def _url_needed(self) -> Source:
        if self.kind != "none" and not self.url:
            raise ValueError(f"source kind {self.kind!r} needs a url")
        if self.kind == "wfs" and not self.typename:
            raise ValueError("a wfs source needs a typename")
        return self


class ColumnSpec(_Frozen):
    """A column the pipeline reads: its catalog name, names it has at the sources, and its meaning."""

    aliases: tuple[str, ...] = ()
    meaning: str
    required: bool = True


class LayerSpec(_Frozen):
    """One layer of `layers/catalog.yaml`.

    ``role``: ``boundary`` (administrative units), ``exclude`` (an exclusion rule rests on it: missing is an
    error), ``flag`` (reported, never scored), ``score`` (feeds a criterion), ``context`` (maps only).
    ``mirror`` is a path relative to the mirror root; where null, the conventional path
    ``<theme>/<id>.gpkg`` is looked for (so an analyst can drop a file there). ``mirror_source`` says who
    made the mirrored copy and under which licence, when that differs from the official source.
    ``alternatives`` are further official sources in order of preference, tried when ``source`` fails.
    ``provisional`` (with ``provisional_reason``) marks the mirror copy as unofficial or out of date: it
    decides when nothing better resolves and every output says so; a fetched or imported official layer
    replaces it (`screening.catalog` tries the official source before such a copy when online).
    ``mirror_coverage``: a polygon file (relative to the mirror root) of where the mirror copy is complete,
    described by ``mirror_coverage_note``; outside it the layer is missing, site by site (see
    `screening.exclusion`).
    """

    @property
    def mirror_path(self) -> str:
        """Path of the layer's file relative to the mirror root."""
        return self.mirror or f"{self.theme}/{self.id}.gpkg"

    id: str
    title: LocalText
    theme: str
    role: Literal["boundary", "exclude", "flag", "score", "context"]
    geometry_type: Literal["Point", "LineString", "Polygon"]
    crs: str = CRS
    mirror: str | None = None
    mirror_layer: str | None = None
    mirror_date: str | LocalText | None = None  # a date, or words in both languages ("about 2013")
    mirror_source: str | None = None
    mirror_features: int | None = Field(None, ge=0)  # features of the mirror copy; fewer on load is an error
    source: Source
    alternatives: tuple[Source, ...] = ()
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    caveat: str = ""
    provisional: bool = False
    provisional_reason: LocalText | None = None
    mirror_coverage: str | None = None
    mirror_coverage_note: LocalText | None = None

    @model_validator(mode="after")
    def _mirror_copy_declared(self) -> LayerSpec:
        if self.provisional and not (self.provisional_reason and self.mirror):
            raise ValueError(f"layer {self.id}: provisional: true needs a mirror file and a provisional_reason "
                             "(why the copy is not the official layer)")
        if self.mirror_coverage and not (self.mirror and self.mirror_coverage_note):
            raise ValueError(f"layer {self.id}: mirror_coverage needs a mirror file and a mirror_coverage_note "
                             "(where the copy covers, in words)")
        return self


class Catalog(_Frozen):
    """All layers, by id."""

    layers: tuple[LayerSpec, ...]

    @field_validator("layers")
    @classmethod
    def _unique_ids(cls, layers: tuple[LayerSpec, ...]) -> tuple[LayerSpec, ...]:
        ids = [spec.id for spec in layers]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate layer ids: {dupes}")
        return layers

    def get(self, layer_id: str) -> LayerSpec:
        """Return the layer spec for `layer_id`; `ConfigError` lists the known ids when it is unknown."""
        for spec in self.layers:
            if spec.id == layer_id:
                return spec
        msg = f"unknown layer id {layer_id!r}; known ids: {', '.join(s.id for s in self.layers)}"
        raise ConfigError(msg)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(spec.id for spec in self.layers)


# --------------------------------------------------------------------------- criteria


class LayerFilter(_Frozen):
    """Structured row filter: keep rows whose column value is in a list, and whose `require` columns are set.

    ``where: {typ: [substation, sub_station]}`` keeps substations; ``require: [iata]`` drops rows with an
    empty ``iata``. Comparison is on the text of the value (case-sensitive). ``keep_unset: true`` keeps
    rows whose ``where`` column is empty, and every row when the layer lacks the column (a copy without
    that attribute); explanations then say the value was not stated.
    """

    where: dict[str, tuple[Any, ...]] = Field(default_factory=dict)
    require: tuple[str, ...] = ()
    keep_unset: bool = False

    def apply(self, gdf, *, what: str = "layer"):
        """The rows of `gdf` (a (Geo)DataFrame) this filter keeps; values compare as text, so ``zone: [1, 3]``
        matches integer 1 and string "1". The only place a rule drops layer rows (H1, issue 11).

        Raises
        ------
        LayerDataError
            When the filter names a column the layer does not have (except a ``where`` column under
            ``keep_unset``).
        """
        import numpy as np

        from screening.errors import LayerDataError

        keep = np.ones(len(gdf), dtype=bool)
        for column in (*self.where, *self.require):
            if column not in gdf.columns and not (self.keep_unset and column in self.where):
                msg = f"{what}: filter column {column!r} not found; columns are {list(gdf.columns)}"
                raise LayerDataError(msg)
        for column, values in self.where.items():  # a filter names a column or two
            if column not in gdf.columns:  # keep_unset: a copy without the column keeps every row
                continue
            wanted = {_as_text(v) for v in values}
            ok = gdf[column].map(_as_text).isin(wanted).to_numpy()
            if self.keep_unset:
                ok = ok | (gdf[column].isna() | (gdf[column].astype(str).str.strip() == "")).to_numpy()
            keep &= ok
        for column in self.require:
            col = gdf[column]
            keep &= (col.notna() & (col.astype(str).str.strip() != "")).to_numpy()
        return gdf.loc[keep]


def _as_text(value) -> str:
    """A filter value as text: 1.0 and 1 both read "1"."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


class ExclusionRule(_Frozen):
    """One declared exclusion: layer, action, buffer and tolerance.

    ``exclude``: the candidate is rejected when the overlap exceeds ``tolerance_ha``; ``cut``: the overlap
    leaves the usable (net) area; ``flag``: reported only. ``buffer_m`` (metres): an exclude or flag rule
    triggers when the site comes within ``buffer_m`` of a feature (``dwithin``; the reported ``overlap_ha``
    stays the true overlap and ``distance_m`` is reported); a cut rule cuts the part of the site within
    ``buffer_m`` of a feature. Only matched features are buffered, never the national layer.
    ``measure``: ``overlap`` (default) or ``zone_shares`` (the byzone / sommerhus / landzone shares of the
    site from a zonekort layer; land without a polygon is landzone). ``label_column`` names the layer
    column whose values identify the touched features in explanations ("Natura 2000 F-område 'Vejlerne'").
    ``labels`` instead lists label templates over layer columns, tried in order: the first whose fields
    are all set names the feature ("Natura 2000 H-område {h_nr} '{objektnavn}'", then "... {h_nr}"), so a
    copy with empty names is labelled by its numbers and nothing is invented (`screening._labels`).
    """

    id: str
    layer: str
    action: Literal["exclude", "cut", "flag"]
    measure: Literal["overlap", "zone_shares"] = "overlap"
    buffer_m: float = Field(0.0, ge=0)
    tolerance_ha: float = Field(0.0, ge=0)
    filter: LayerFilter = Field(default_factory=LayerFilter)
    label_column: str | None = None
    label_prefix: str | LocalText = ""
    labels: tuple[str | LocalText, ...] = ()
    why: LocalText

    @field_validator("labels")
    @classmethod
    def _same_fields(cls, labels: tuple) -> tuple:
        import string

        for t in labels:  # a handful of templates
            if isinstance(t, LocalText):
                da, en = ({f for _, f, _, _ in string.Formatter().parse(x) if f} for x in (t.da, t.en))
                if da != en:
                    raise ValueError(f"label template {t.en!r}: its Danish and English texts must name the same "
                                     f"columns (da {sorted(da)}, en {sorted(en)})")
        return labels


class Exclusions(_Frozen):
    min_net_area_ha: float = Field(ge=0)
    rules: tuple[ExclusionRule, ...]


class Band(_Frozen):
    """Piecewise-linear map from a raw measure to a 0–1 score: ``points`` are (raw, score) pairs, raw
    strictly increasing; below the first raw value the first score holds, above the last the last."""

    points: tuple[tuple[float, float], ...]

    @field_validator("points")
    @classmethod
    def _increasing(cls, points):
        if len(points) < 2:
            raise ValueError("a band needs at least two (raw, score) points")
        xs = [p[0] for p in points]
        if any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
            raise ValueError(f"band raw values must increase strictly, got {xs}")
        if any(not 0.0 <= p[1] <= 1.0 for p in points):
            raise ValueError("band scores must lie in 0..1")
        return points


class Group(_Frozen):
    id: str
    title: LocalText
    weight: float = Field(gt=0)


class Criterion(_Frozen):
    """One scored sub-criterion.

    ``measure`` says how the raw value is obtained:

    - ``distance``: straight-line distance in metres from the site to the nearest feature of ``layer``;
    - ``travel_time``: minutes from the site to the nearest feature of ``layer`` over the road graph, or
      straight line x detour factor at the fallback speed when no road layer resolves;
    - ``reach_sum``: sum of ``value_column`` over features of ``layer`` within ``within_min`` minutes;
    - ``reach_count``: number of features of ``layer`` within ``within_min`` minutes;
    - ``attribute``: a submission field mapped through ``mapping`` (categorical) or ``band`` (numeric).

    ``label_column`` names the features in explanations; ``label_template`` composes a label from several
    columns instead (``"afkørsel {ref} {name}"``; empty fields are left out).
    ``declared_field`` names a submission field that, when the layer is missing, stands in for the measure
    (e.g. ``transport_motorway_km``) with ``declared_unit``.
    """

    id: str
    group: str
    title: LocalText
    measure: Literal["distance", "travel_time", "reach_sum", "reach_count", "attribute"]
    unit: str
    weight: float = Field(gt=0)
    layer: str | None = None
    filter: LayerFilter = Field(default_factory=LayerFilter)
    value_column: str | None = None
    label_column: str | None = None
    label_template: str | None = None
    within_min: float | None = None
    field: str | None = None
    mapping: dict[str, float] | None = None
    band: Band | None = None
    declared_field: str | None = None
    declared_unit: str | None = None
    why: LocalText | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Criterion:
        if self.measure == "attribute":
            if not self.field or (self.mapping is None and self.band is None):
                raise ValueError(f"criterion {self.id}: attribute needs 'field' and 'mapping' or 'band'")
        else:
            if not self.layer or self.band is None:
                raise ValueError(f"criterion {self.id}: measure {self.measure} needs 'layer' and 'band'")
        if self.measure.startswith("reach") and self.within_min is None:
            raise ValueError(f"criterion {self.id}: {self.measure} needs 'within_min'")
        return self


class Bonus(_Frozen):
    """Points added on top of the weighted score (total capped at 100), e.g. adjacency to a state energy
    park: the site is within ``within_m`` of a feature of ``layer``, or declares ``field`` true."""

    id: str
    title: LocalText
    points: float = Field(ge=0)
    layer: str | None = None
    within_m: float = Field(0.0, ge=0)
    field: str | None = None
    why: LocalText | None = None


class Travel(_Frozen):
    """Travel-time model (docs/TRAVEL.md). With a road layer: a directed graph of its segments.

    Speed of a segment: ``speed_column`` (km/h) where > 0, else ``speeds_kmh`` of its class, else
    ``default_speed_kmh``; times ``speed_factors`` of its class (1 when absent). One-way: classes in
    ``oneway_classes`` and junctions in ``oneway_junctions`` are one-way unless ``oneway_column`` says
    no; ``yes``/``-1`` are honoured on any segment. Ferries (class ``ferry_class``): length at
    ``ferry_speed_kmh`` plus ``ferry_boarding_min`` when boarding; their ends join the nearest access node
    within ``ferry_snap_max_m``. Access legs: a site or target reaches its ``access_k`` nearest access
    nodes (any road node not on a road of ``access_excluded_classes``: motorways are entered by their
    ramps) by straight line x ``access_detour_factor`` at
    ``access_speed_kmh``, up to ``access_snap_max_m``; the fastest wins. Local links: each access node
    joins its ``local_link_k`` nearest access nodes within ``local_link_max_m`` the same way (the local
    roads the data lacks). A target and a place within ``direct_max_m`` are also joined directly, the same
    way. Without a road layer: straight line x ``detour_factor`` at ``fallback_speed_kmh``.
    """

    road_layer: str = "roads"
    network_label: str = "road network, OSM"
    class_column: str = "road_class"
    speed_column: str | None = "maxspeed_kph"
    speeds_kmh: dict[str, float]
    speed_factors: dict[str, float] = Field(default_factory=dict)
    default_speed_kmh: float = Field(gt=0)
    oneway_column: str | None = "oneway"
    junction_column: str | None = "junction"
    oneway_classes: tuple[str, ...] = ("motorway", "motorway_link")
    oneway_junctions: tuple[str, ...] = ("roundabout", "circular")
    ferry_class: str = "ferry"
    ferry_speed_kmh: float = Field(30.0, gt=0)
    ferry_boarding_min: float = Field(30.0, ge=0)
    ferry_snap_max_m: float = Field(3000.0, ge=0)
    access_k: int = Field(3, ge=1)
    access_speed_kmh: float = Field(40.0, gt=0)
    access_detour_factor: float = Field(1.3, ge=1)
    access_excluded_classes: tuple[str, ...] = ("motorway",)
    local_link_k: int = Field(4, ge=0)
    local_link_max_m: float = Field(2000.0, ge=0)
    direct_max_m: float = Field(10_000.0, ge=0)
    detour_factor: float = Field(ge=1)
    fallback_speed_kmh: float = Field(gt=0)
    access_snap_max_m: float = Field(5000.0, gt=0)

    @field_validator("speed_factors")
    @classmethod
    def _factors_positive(cls, factors: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in factors.items() if not 0 < v <= 2}
        if bad:
            raise ValueError(f"speed_factors must lie in (0, 2], got {bad}")
        return factors


class Sensitivity(_Frozen):
    """Dirichlet perturbation of the group weights: ``draws`` samples with concentration ``concentration``
    x configured weight; report rank range and probability of being in the top ``top_k``."""

    draws: int = Field(500, ge=10)
    concentration: float = Field(50.0, gt=0)
    top_k: int = Field(11, ge=1)
    seed: int = 0


class RegionRule(_Frozen):
    min: int = Field(0, ge=0)
    max: int | None = Field(None, ge=0)


class Selection(_Frozen):
    """Spread rules for the proposal; see `screening.selection`."""

    k_min: int = Field(ge=1)
    k_max: int = Field(ge=1)
    objective: Literal["score", "score_x_area"] = "score"
    spacing_km: float = Field(0.0, ge=0)
    spacing_reason: LocalText | None = None  # why spacing_km is what it is; shown with the back-test
    max_per_kommune: int | None = Field(1, ge=1)
    regions: dict[str, RegionRule] = Field(default_factory=dict)
    proportional_targets: dict[str, float] = Field(default_factory=dict)
    use_proportional_targets: bool = False
    proportional_tolerance_parks: float = Field(1.0, ge=0)
    min_outside_urban: int = Field(0, ge=0)
    urban_town_min_population: int = Field(100_000, ge=0)
    urban_radius_km: float = Field(10.0, ge=0)
    time_limit_s: float = Field(30.0, gt=0)
    alternatives: int = Field(3, ge=0)
    dispersion_min_score: float = Field(50.0, ge=0, le=100)

    @model_validator(mode="after")
    def _k_range(self) -> Selection:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        return self


class Surface(_Frozen):
    res_m: float = Field(100.0, gt=0)
    block_size: int = Field(2048, ge=256)


class Criteria(_Frozen):
    """The whole of ``layers/criteria.yaml``."""

    exclusions: Exclusions
    groups: tuple[Group, ...]
    criteria: tuple[Criterion, ...]
    bonus: tuple[Bonus, ...] = ()
    travel: Travel
    sensitivity: Sensitivity = Field(default_factory=Sensitivity)
    selection: Selection
    surface: Surface = Field(default_factory=Surface)

    @model_validator(mode="after")
    def _groups_known(self) -> Criteria:
        known = {g.id for g in self.groups}
        unknown = sorted({c.group for c in self.criteria} - known)
        if unknown:
            raise ValueError(f"criteria name unknown groups {unknown}; groups are {sorted(known)}")
        ids = [c.id for c in self.criteria] + [r.id for r in self.exclusions.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule/criterion ids: {dupes}")
        return self

    def layer_ids(self) -> set[str]:
        """Every catalog layer id the rules and criteria refer to (the road layer when a criterion travels)."""
        ids = {r.layer for r in self.exclusions.rules}
        ids |= {c.layer for c in self.criteria if c.layer}
        ids |= {b.layer for b in self.bonus if b.layer}
        if any(c.measure in ("travel_time", "reach_sum", "reach_count") for c in self.criteria):
            ids.add(self.travel.road_layer)
        return ids


# --------------------------------------------------------------------------- loading


def load_catalog(path: str | Path | None = None, *, settings: Settings | None = None) -> Catalog:
    """Read and validate ``layers/catalog.yaml`` (or `path`)."""
    path = Path(path) if path else (settings or Settings()).layers_dir / "catalog.yaml"
    return load_yaml_model(Catalog, path)


def load_criteria(path: str | Path | None = None, *, settings: Settings | None = None,
                  catalog: Catalog | None = None) -> Criteria:
    """Read and validate ``layers/criteria.yaml`` (or `path`); with `catalog`, check its layer ids exist."""
    path = Path(path) if path else (settings or Settings()).layers_dir / "criteria.yaml"
    criteria = load_yaml_model(Criteria, path)
    if catalog is not None:
        unknown = sorted(criteria.layer_ids() - set(catalog.ids))
        if unknown:
            msg = f"{path}: rules refer to layers not in the catalog: {unknown}; add them to catalog.yaml"
            raise ConfigError(msg)
    return criteria


def config_hash(*models: BaseModel) -> str:
    """SHA-256 (first 16 hex digits) of the models' canonical JSON: the key of a run's configuration."""
    blob = json.dumps([m.model_dump(mode="json") for m in models], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def load_yaml_model(model: type[BaseModel], path: Path, *, what: str | None = None):
    """Read YAML at `path` and validate it as `model`; every problem is a `ConfigError` naming the file."""
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is ~20x faster
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except FileNotFoundError:
        msg = f"{path}: {what or 'configuration file'} not found; restore it from git or pass the right path"
        raise ConfigError(msg) from None
    except yaml.YAMLError as exc:
        msg = f"{path}: not valid YAML ({exc}); fix the syntax at the line shown"
        raise ConfigError(msg) from None
    try:
        return model.model_validate(data, context={BOTH_LANGUAGES: True})
    except ValidationError as exc:
        problems = "; ".join(f"{_key_path(data, e['loc'])}: {e['msg']}" for e in exc.errors())
        msg = f"{path}: does not match the {model.__name__} schema: {problems}"
        raise ConfigError(msg) from None


def _key_path(data: Any, loc: tuple) -> str:
    """A validation error's location as a key path, list items named by their ``id`` where they have one:
    ``criteria[hv_substation].title.da`` rather than ``criteria.0.title.da``."""
    out, node = "", data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            node = node[part]
            item = node.get("id") if isinstance(node, dict) else None
            out += f"[{item}]" if isinstance(item, str) else f"[{part}]"
            continue
        node = node.get(part) if isinstance(node, dict) else None
        out += f".{part}" if out else str(part)
    return out

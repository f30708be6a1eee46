"""The rules as models: exclusions, scoring criteria with bands and weights, travel, sensitivity, selection
and surface (``layers/criteria.yaml``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from screening._config_base import LocalText, _Frozen

__all__ = ["LayerFilter", "ExclusionRule", "Exclusions", "Band", "Group", "Criterion", "Bonus", "Travel",
           "Sensitivity", "RegionRule", "Selection", "Surface", "Criteria"]

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
    network_label: LocalText = LocalText(da="vejnet, OSM", en="road network, OSM")  # + the layer's date
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



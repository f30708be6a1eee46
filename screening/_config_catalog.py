"""The layer catalog as models: each layer's official source, fetch plan, mirror copy and columns
(``layers/catalog.yaml``)."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from screening._config_base import CRS, LocalText, _Frozen
from screening.errors import ConfigError

__all__ = ["FetchPlan", "Source", "ColumnSpec", "LayerSpec", "Catalog"]

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
    mirror_source: str | LocalText | None = None  # who made the copy: plain, or in both languages
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



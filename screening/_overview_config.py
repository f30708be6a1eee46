"""``layers/overview.yaml`` as validated, frozen models: which layers the overview map draws, how and when.

Internal to `screening.overview`. Zooms are web-map (EPSG:3857 XYZ) zoom levels. Texts people read are
`LocalText` (``{da: …, en: …}``, both required); a catalog layer without a ``title`` here is named by its
catalog title, in the page's language.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from screening.config import LayerFilter, LocalText, load_yaml_model

__all__ = ["OverviewLayer", "OverviewGroup", "SurfaceTiles", "OverviewConfig", "load_overview_config",
           "RUN_SOURCES"]

RUN_SOURCES = ("candidates",)
"""Layers taken from the latest screening run (``screening.gpkg``) rather than the catalog."""

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Categories(_Frozen):
    """Colour a layer's features by the value of one column (values as text)."""

    column: str
    colors: dict[str, str]


class OverviewLayer(_Frozen):
    """One switchable layer of the overview map.

    ``layer`` is a catalog id, or ``run`` names a layer of the latest screening run; ``kind`` is the
    MapLibre layer type drawn (``fill`` polygons, ``line``, ``circle`` points); tiles are built for zooms
    ``min_zoom``..``max_zoom``; only ``attributes`` reach the tiles. ``title`` names it on the page
    (default: the catalog layer's title; required for a ``run`` layer).
    """

    id: str
    title: LocalText | None = None
    group: str
    layer: str | None = None
    run: Literal["candidates"] | None = None
    filter: LayerFilter = Field(default_factory=LayerFilter)
    kind: Literal["fill", "line", "circle"]
    color: str
    min_zoom: int = Field(ge=0, le=16)
    max_zoom: int = Field(ge=0, le=16)
    attributes: tuple[str, ...] = ()
    label: str | None = None
    visible: bool = True
    categories: Categories | None = None

    @model_validator(mode="after")
    def _check(self) -> OverviewLayer:
        if not _ID.match(self.id):
            raise ValueError(f"layer id {self.id!r} must be lower-case letters, digits and _ (it names a file)")
        if (self.layer is None) == (self.run is None):
            raise ValueError(f"layer {self.id!r}: give exactly one of 'layer' (a catalog id) or 'run'")
        if self.run is not None and self.title is None:
            raise ValueError(f"layer {self.id!r}: a run layer needs a title {{da: \"…\", en: \"…\"}}")
        if self.min_zoom > self.max_zoom:
            raise ValueError(f"layer {self.id!r}: min_zoom {self.min_zoom} > max_zoom {self.max_zoom}")
        colours = [self.color, *(self.categories.colors.values() if self.categories else ())]
        bad = [c for c in colours if not _COLOUR.match(c)]
        if bad:
            raise ValueError(f"layer {self.id!r}: colours {bad} are not '#rrggbb'")
        return self


class OverviewGroup(_Frozen):
    """A heading of the layer list."""

    id: str
    title: LocalText


class SurfaceTiles(_Frozen):
    """Zooms of the suitability surface's raster tiles and its drawing opacity (0-1)."""

    min_zoom: int = Field(default=4, ge=0, le=14)  # zooms of 512 px tiles (`_tiles_surface.SURFACE_TILE_PX`)
    max_zoom: int = Field(default=9, ge=0, le=14)
    opacity: float = Field(default=0.75, ge=0, le=1)


class OverviewConfig(_Frozen):
    """The whole of ``layers/overview.yaml``. ``criterion_titles`` may rename criteria on the point report
    (default: their criteria.yaml titles)."""

    title: LocalText
    land_layer: str = "kommuner"
    land_label: str = "kommunenavn"
    land_max_zoom: int = Field(default=10, ge=0, le=14)
    surface: SurfaceTiles = Field(default_factory=SurfaceTiles)
    groups: tuple[OverviewGroup, ...]
    layers: tuple[OverviewLayer, ...]
    criterion_titles: dict[str, LocalText] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> OverviewConfig:
        ids = [layer.id for layer in self.layers]
        dupes = sorted({i for i in ids if ids.count(i) > 1} | ({self.land_layer} & set(ids)))
        if dupes:
            raise ValueError(f"duplicate or reserved layer ids: {dupes}")
        groups = {g.id for g in self.groups}
        unknown = sorted({layer.group for layer in self.layers} - groups)
        if unknown:
            raise ValueError(f"layers name unknown groups {unknown}; groups are {sorted(groups)}")
        return self

    def with_max_zoom(self, max_zoom: int) -> OverviewConfig:
        """The same configuration with every vector layer's zooms capped at `max_zoom` (small test sites)."""
        layers = tuple(layer.model_copy(update={"max_zoom": min(layer.max_zoom, max_zoom),
                                                "min_zoom": min(layer.min_zoom, max_zoom)})
                       for layer in self.layers)
        return self.model_copy(update={"layers": layers, "land_max_zoom": min(self.land_max_zoom, max_zoom)})


def load_overview_config(path: Path, *, catalog_ids: tuple[str, ...] = ()) -> OverviewConfig:
    """Read and validate ``overview.yaml``; with `catalog_ids`, every ``layer`` must be one of them.

    Raises
    ------
    ConfigError
        Naming the file, the entry and the fix.
    """
    from screening.errors import ConfigError

    config = load_yaml_model(OverviewConfig, Path(path), what="overview configuration")
    if catalog_ids:
        unknown = sorted({layer.layer for layer in config.layers if layer.layer} - set(catalog_ids)
                         | ({config.land_layer} - set(catalog_ids)))
        if unknown:
            msg = (f"{path}: layers {unknown} are not in the catalog; add them to layers/catalog.yaml or "
                   f"fix the ids (known: {', '.join(catalog_ids)})")
            raise ConfigError(msg)
    return config

"""Configuration as data: ``layers/catalog.yaml`` and ``layers/criteria.yaml`` as validated, frozen models.

Everything that steers a run (which layers, which rules, weights, distance bands, spread rules) is read
here once and passed explicitly; no module reads YAML or globals deep inside. This module is the public
face: runtime settings and the two loaders live here; the models by concept in `screening._config_base`
(CRS, bilingual texts, YAML loading), `screening._config_catalog` (layers) and `screening._config_criteria`
(rules).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from screening import i18n
from screening._config_base import (
    CRS,
    PROJECT_ROOT,
    LocalText,
    _Frozen,
    config_hash,
    load_yaml_model,
)
from screening._config_catalog import Catalog, ColumnSpec, FetchPlan, LayerSpec, Source
from screening._config_criteria import (
    Band,
    Bonus,
    Criteria,
    Criterion,
    ExclusionRule,
    Exclusions,
    Group,
    LayerFilter,
    RegionRule,
    Selection,
    Sensitivity,
    Surface,
    Travel,
)
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

"""The foundations of the configuration models: the CRS, frozen models, bilingual texts and YAML loading.

`screening.config` is the public face; this module holds what every model module shares.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from screening import i18n
from screening.errors import ConfigError

__all__ = ["CRS", "PROJECT_ROOT", "BOTH_LANGUAGES", "LocalText", "config_hash", "load_yaml_model"]

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

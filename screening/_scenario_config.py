"""Policy scenarios as data: ``layers/scenarios/<id>.yaml`` overlays on ``layers/criteria.yaml``, merged and checked.

A scenario file holds a ``title``, a one-paragraph ``rationale``, an optional ``basis`` (the article of the
law or the agreement it rests on), each in Danish and English (``{da: …, en: …}``), an ``order`` on the
page and an ``overlay``: only what differs from ``criteria.yaml``. The merge rules (also in ``docs/SCENARIOS.md``):

- a mapping merges key by key, recursively; a key that ``criteria.yaml`` does not have (after its
  defaults are filled in) is an error naming the file, the key path and the valid keys;
- the lists of objects with an ``id`` (`KEYED_LISTS`: ``groups``, ``criteria``, ``bonus``) are written in
  an overlay as a mapping from id to the fields that change (``criteria: {hv_substation: {weight: 5}}``);
  an unknown id is an error listing the ids; items cannot be added, removed or renamed;
- every other value (numbers, text, ``null``, plain lists such as a band's ``points``) replaces the base
  value whole;
- ``exclusions`` cannot be overlaid: what the law excludes (§ 13, stk. 2) is the same in every scenario.

The merged data is validated by the same `screening.config.Criteria` model as ``criteria.yaml`` (and its
layer ids against the catalog), so a scenario can never hold rules the screening would refuse.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from screening.config import Catalog, Criteria, LocalText, load_yaml_model
from screening.errors import ConfigError
from screening.i18n import LANGUAGES

__all__ = ["KEYED_LISTS", "FIXED_SECTIONS", "BASE_ID", "ScenarioFile", "Scenario", "Change", "load_scenarios",
           "merge_overlay", "scenario_criteria", "overlay_changes"]

log = logging.getLogger(__name__)

KEYED_LISTS = (("groups",), ("criteria",), ("bonus",))
"""Key paths of the lists of objects that an overlay addresses by ``id``."""
FIXED_SECTIONS = {"exclusions": "what the law excludes (lov § 13, stk. 2) is the same in every scenario"}
"""Top-level sections of ``criteria.yaml`` that no scenario may change, and why."""
BASE_ID = "base"
"""The reference scenario: ``<folder>/base.yaml``, the rules of ``criteria.yaml`` unchanged (empty overlay)."""
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class ScenarioFile(BaseModel):
    """The content of one ``layers/scenarios/<id>.yaml``; unknown top-level keys are an error.

    ``title``, ``rationale`` and ``basis`` are texts users read: ``{da: …, en: …}``, both required
    (`screening.config.LocalText`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: LocalText
    rationale: LocalText
    basis: LocalText | None = None
    order: int = 100
    overlay: dict[str, Any] = Field(default_factory=dict)

    @field_validator("rationale")
    @classmethod
    def _one_paragraph(cls, text: LocalText) -> LocalText:
        out = {}
        for lang in LANGUAGES:  # Danish and English
            value = text.get(lang).strip()
            if "\n\n" in value:
                raise ValueError(f"the rationale ({lang}) must be one paragraph (no blank line)")
            out[lang] = " ".join(value.split())
        return LocalText(**out)


@dataclass(frozen=True)
class Change:
    """One value a scenario changes: dotted ``path`` (list items by id), the base ``before`` and ``after``."""

    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario: its id (the file stem), texts, the merged and validated `Criteria`, what changed.

    The texts are `LocalText` (``str()`` gives the current language) or, built in Python, plain strings.
    """

    id: str
    title: LocalText | str
    rationale: LocalText | str
    basis: LocalText | str
    order: int
    path: Path
    overlay: Mapping[str, Any]
    criteria: Criteria
    changes: tuple[Change, ...]

    def to_dict(self) -> dict:
        """Plain JSON-able description (for ``scenarios.json``); texts in the current language."""
        return {"id": self.id, "title": str(self.title), "rationale": str(self.rationale), "basis": str(self.basis),
                "file": str(self.path), "overlay": dict(self.overlay),
                "changes": [{"path": c.path, "before": c.before, "after": c.after} for c in self.changes]}


def load_scenarios(folder: str | Path, base: Criteria, *, catalog: Catalog | None = None) -> tuple[Scenario, ...]:
    """Read every ``<folder>/*.yaml`` scenario, merge it onto `base` and validate it; base first, then by order.

    Parameters
    ----------
    folder
        The scenario folder (``layers/scenarios``); it must hold ``base.yaml`` with an empty overlay.
    base
        The rules of ``criteria.yaml``.
    catalog
        When given, every layer id of every merged scenario must exist in it.

    Returns
    -------
    tuple of Scenario
        ``base`` first, the others by ``order`` then id.

    Raises
    ------
    ConfigError
        Naming the file: no scenario files, no ``base.yaml``, a bad file name, YAML or schema error, an
        overlay key not in ``criteria.yaml`` (with the key path and the valid keys), an overlay of a fixed
        section, merged rules that break the `Criteria` schema or name unknown layers.
    """
    folder = Path(folder)
    paths = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not paths:
        msg = f"{folder}: no scenario files (*.yaml) found; pass the folder holding them (layers/scenarios)"
        raise ConfigError(msg)
    scenarios = []
    for path in paths:  # a handful of scenario files
        if not _ID.match(path.stem):
            msg = (f"{path}: a scenario id (the file name) must be lower-case letters, digits, '_' or '-', "
                   f"starting with a letter or digit; rename the file")
            raise ConfigError(msg)
        spec = load_yaml_model(ScenarioFile, path, what="scenario file")
        criteria = scenario_criteria(base, spec.overlay, path=path, catalog=catalog)
        scenarios.append(Scenario(path.stem, spec.title, spec.rationale, spec.basis or "", spec.order, path,
                                  spec.overlay, criteria, overlay_changes(base, spec.overlay)))
    by_id = {s.id: s for s in scenarios}
    if BASE_ID not in by_id:
        msg = (f"{folder}: no {BASE_ID}.yaml; the comparison needs the base rules as its reference: add "
               f"{BASE_ID}.yaml with a title, a rationale and an empty overlay")
        raise ConfigError(msg)
    if by_id[BASE_ID].overlay:
        msg = (f"{by_id[BASE_ID].path}: the base scenario is criteria.yaml unchanged; its overlay must be "
               "empty (put changes in a scenario of their own)")
        raise ConfigError(msg)
    rest = sorted((s for s in scenarios if s.id != BASE_ID), key=lambda s: (s.order, s.id))
    log.info("loaded %d scenarios from %s: %s", len(scenarios), folder, ", ".join(s.id for s in scenarios))
    return (by_id[BASE_ID], *rest)


def scenario_criteria(base: Criteria, overlay: Mapping[str, Any], *, path: Path | str = "overlay",
                      catalog: Catalog | None = None) -> Criteria:
    """Merge `overlay` onto `base` (see the module docstring) and validate the result as `Criteria`.

    Examples
    --------
    >>> from screening.config import load_criteria
    >>> five = scenario_criteria(load_criteria(), {"selection": {"k_min": 5, "k_max": 5}})
    >>> (five.selection.k_min, five.selection.k_max, five.selection.spacing_km)
    (5, 5, 40.0)
    """
    if not isinstance(overlay, Mapping):
        msg = f"{path}: overlay must be a mapping of criteria.yaml sections, got {type(overlay).__name__}"
        raise ConfigError(msg)
    fixed = sorted(set(overlay) & set(FIXED_SECTIONS))
    if fixed:
        msg = f"{path}: overlay of {fixed[0]!r} is not allowed: {FIXED_SECTIONS[fixed[0]]}; remove it"
        raise ConfigError(msg)
    merged = merge_overlay(base.model_dump(mode="json"), overlay, path=path)
    try:
        criteria = Criteria.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        msg = f"{path}: the rules merged with this overlay do not match the Criteria schema: {problems}"
        raise ConfigError(msg) from None
    if catalog is not None:
        unknown = sorted(criteria.layer_ids() - set(catalog.ids))
        if unknown:
            msg = f"{path}: the merged rules refer to layers not in the catalog: {unknown}"
            raise ConfigError(msg)
    return criteria


def merge_overlay(base: Any, overlay: Any, *, path: Path | str = "overlay", where: tuple[str, ...] = ()) -> Any:
    """Return `base` (plain data of ``Criteria.model_dump(mode="json")``) with `overlay` merged in.

    Examples
    --------
    >>> base = {"groups": [{"id": "a", "weight": 1.0}, {"id": "b", "weight": 2.0}], "k": {"min": 1, "max": 2}}
    >>> merge_overlay(base, {"groups": {"b": {"weight": 5.0}}, "k": {"max": 3}})
    {'groups': [{'id': 'a', 'weight': 1.0}, {'id': 'b', 'weight': 5.0}], 'k': {'min': 1, 'max': 3}}
    """
    if where in KEYED_LISTS:
        return _merge_keyed(base, overlay, path, where)
    if isinstance(base, dict):
        if isinstance(overlay, str) and set(base) == set(LANGUAGES):  # a text {da, en} replaced by one for both
            return overlay
        if not isinstance(overlay, Mapping):
            msg = (f"{path}: overlay key {_dotted(where)!r} must be a mapping of its keys "
                   f"({', '.join(map(str, base)) or 'none'}), got {overlay!r}")
            raise ConfigError(msg)
        out = dict(base)
        for key, value in overlay.items():  # the keys of one YAML mapping
            if key not in base:
                valid = ", ".join(map(str, base)) or "(none: nothing can be added here)"
                msg = (f"{path}: overlay key {_dotted((*where, str(key)))!r} does not exist in criteria.yaml; "
                       f"valid keys there: {valid}")
                raise ConfigError(msg)
            out[key] = merge_overlay(base[key], value, path=path, where=(*where, str(key)))
        return out
    return overlay  # a scalar, null or plain list replaces the base value whole


def overlay_changes(base: Criteria, overlay: Mapping[str, Any]) -> tuple[Change, ...]:
    """Every leaf value `overlay` sets, with its base value; unchanged values (same as the base) are left out.

    Examples
    --------
    >>> from screening.config import load_criteria
    >>> [(c.path, c.before, c.after) for c in overlay_changes(load_criteria(), {"selection": {"k_max": 5}})]
    [('selection.k_max', 11, 5)]
    """
    data = base.model_dump(mode="json")
    out: list[Change] = []
    _leaves(data, overlay, (), out)
    return tuple(out)


# --------------------------------------------------------------------------- helpers


def _merge_keyed(base: list, overlay: Any, path, where) -> list:
    """Merge a mapping id -> fields into a list of objects with ``id`` (see `KEYED_LISTS`)."""
    ids = [item["id"] for item in base]
    if not isinstance(overlay, Mapping):
        msg = (f"{path}: overlay key {_dotted(where)!r} is written as a mapping from id to the fields that "
               f"change, e.g. {{{ids[0] if ids else 'id'}: {{weight: 2}}}}; ids: {', '.join(ids)}")
        raise ConfigError(msg)
    out = list(base)
    for key, fields in overlay.items():  # the few items an overlay touches
        if key not in ids:
            msg = (f"{path}: overlay key {_dotted((*where, str(key)))!r} does not exist in criteria.yaml; "
                   f"valid {where[-1]} ids: {', '.join(ids)}")
            raise ConfigError(msg)
        if not isinstance(fields, Mapping):
            msg = f"{path}: overlay key {_dotted((*where, str(key)))!r} must be a mapping of fields, got {fields!r}"
            raise ConfigError(msg)
        if "id" in fields and fields["id"] != key:
            msg = f"{path}: overlay key {_dotted((*where, str(key)))!r} cannot rename an item (id {fields['id']!r})"
            raise ConfigError(msg)
        i = ids.index(key)
        out[i] = merge_overlay(base[i], fields, path=path, where=(*where, str(key)))
    return out


def _leaves(base: Any, overlay: Any, where: tuple[str, ...], out: list[Change]) -> None:
    keyed = where in KEYED_LISTS
    if isinstance(overlay, Mapping) and (keyed or isinstance(base, dict)):
        for key, value in overlay.items():  # a YAML mapping's keys
            sub = next(i for i in base if i["id"] == key) if keyed else base[key]
            _leaves(sub, value, (*where, str(key)), out)
    elif overlay != base:
        out.append(Change(".".join(where), base, overlay))


def _dotted(where: tuple[str, ...]) -> str:
    return ".".join(where)

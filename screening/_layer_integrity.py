"""Every source row of a layer is accounted for; a damaged or shrunken layer is an error, never a silent drop.

For each layer `screening.catalog.normalise` counts what the reader returned and where each row went:

``read == valid + repaired + empty + damaged``

- *valid*: kept as read; *repaired*: invalid, made valid with `shapely.make_valid` and kept;
- *empty*: an empty geometry in the source (it covers nothing, so there is nothing to check against);
- *damaged*: the geometry cannot be read (a bad WKB blob reads as no geometry) or is not of the catalog's
  geometry family and cannot be repaired into it.

Damaged features are an error naming the layer, the file, the count and the feature ids. For an exclusion
(``exclude``) or ``boundary`` layer always: a lost bird area would let a site inside it come out eligible.
For other roles unless the caller allows it (``--allow-damaged LAYER_ID``); then every output says so.
Rows are only ever dropped afterwards by the rules' declared filters (`screening.config.LayerFilter`).

A layer with fewer features than known before (``mirror_features`` in ``layers/catalog.yaml`` for a mirror
copy, the count of the last fetch for an official source) is an error too. All user-facing texts of these
checks are here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from screening import _layer_cache
from screening.config import LayerSpec
from screening.errors import LayerDamagedError

__all__ = ["STRICT_ROLES", "RowCount", "row_labels", "check_read", "check_damaged", "check_expected",
           "check_allowable", "allowed_note", "verify", "ATTRS"]

STRICT_ROLES = ("exclude", "boundary")
"""Roles whose layers must be complete: damaged features there can never be allowed."""

IDS_SHOWN = 100
"""At most this many feature ids are written into a message (all are in the layer's attrs and manifest)."""

ATTRS = ("source_features", "expected_features", "n_valid", "n_repaired", "n_empty", "n_damaged",
         "damaged_ids", "damaged_why", "source_sha256", "cache_sha256")
"""The integrity keys of a layer's ``attrs`` (see docs/ARCHITECTURE.md)."""


@dataclass(frozen=True)
class RowCount:
    """Where each row the reader returned went; ``damaged_ids`` are labels like ``"fid 12"``."""

    read: int
    valid: int
    repaired: int
    empty: int
    damaged_ids: tuple[str, ...] = ()
    damaged_why: str = ""

    def __post_init__(self):
        accounted = self.valid + self.repaired + self.empty + len(self.damaged_ids)
        if accounted != self.read:  # an internal invariant: a row can never vanish between the counts
            raise AssertionError(f"rows not accounted for: read {self.read}, accounted {accounted}")

    def as_attrs(self) -> dict:
        return {"source_features": self.read, "n_valid": self.valid, "n_repaired": self.repaired,
                "n_empty": self.empty, "n_damaged": len(self.damaged_ids), "damaged_ids": list(self.damaged_ids),
                "damaged_why": self.damaged_why}


def row_labels(index: pd.Index, mask: np.ndarray) -> tuple[str, ...]:
    """Labels of the rows in `mask`: ``fid N`` when the reader gave the file's feature ids as the index
    (``fid_as_index``), else ``row N`` (0-based position in what the source returned)."""
    if index.name == "fid":
        return tuple(f"fid {v}" for v in index[mask])
    return tuple(f"row {i}" for i in np.flatnonzero(mask))


def check_read(spec: LayerSpec, *, what: str, read: int, declared: int | None) -> None:
    """The reader must return every feature the source declares.

    Raises
    ------
    LayerDamagedError
        When `read` differs from `declared` (rows the reader skipped are damaged rows without ids).
    """
    if declared is not None and declared >= 0 and read != declared:
        msg = (f"layer {spec.id!r} ({spec.title}): the reader returned {read} of {declared} features of {what}; "
               f"the file is damaged. {_fix(spec)}")
        raise LayerDamagedError(msg)


def check_damaged(spec: LayerSpec, rows: Mapping, *, what: str, allow: bool) -> None:
    """Refuse damaged features (`rows` holds the `RowCount.as_attrs` keys) unless `allow` and the role allows.

    Raises
    ------
    LayerDamagedError
        Naming the layer, the file, the count and the feature ids, and the fix.
    """
    ids = list(rows.get("damaged_ids") or [])
    if not ids or (allow and spec.role not in STRICT_ROLES):
        return
    shown = ", ".join(ids[:IDS_SHOWN]) + (f", ... ({len(ids) - IDS_SHOWN} more)" if len(ids) > IDS_SHOWN else "")
    why = rows.get("damaged_why") or "geometry unreadable or not repairable"
    msg = (f"layer {spec.id!r} ({spec.title}): {len(ids)} of {rows.get('source_features')} features in {what} "
           f"cannot be read or repaired ({why}): {shown}. {_fix(spec)}")
    raise LayerDamagedError(msg)


def check_expected(spec: LayerSpec, *, what: str, count: int, expected: int | None, basis: str) -> None:
    """A layer may not shrink unexpectedly: `count` features where `expected` were known (`basis` says how).

    Raises
    ------
    LayerDamagedError
        When `count` is below `expected`.
    """
    if expected is None or count >= expected:
        return
    if basis == "catalog":
        known = f"layers/catalog.yaml declares mirror_features: {expected}"
        intended = "if the smaller file is intended, update mirror_features in layers/catalog.yaml"
    else:
        known = f"it had {expected} when last loaded ({basis})"
        intended = f"if the official layer really lost features, delete its entry from {basis} and load again"
    msg = (f"layer {spec.id!r} ({spec.title}): {what} has {count} features, but {known}; it may be truncated "
           f"or replaced. {_fix(spec)} ({intended})")
    raise LayerDamagedError(msg)


def verify(gdf: pd.DataFrame, spec: LayerSpec, *, cache_dir, allow_damaged: bool) -> None:
    """The count known before and the damaged rows, for a freshly read layer and a cache hit alike.

    The known count is ``mirror_features`` of the catalog for a mirror copy, the count of the last fetch
    (the cache's ledger) for an official source; it is stored as ``attrs['expected_features']``.
    """
    origin, location = gdf.attrs.get("origin"), str(gdf.attrs.get("location", ""))
    expected, basis = None, ""
    if origin == "mirror":
        expected, basis = spec.mirror_features, "catalog"
    elif origin == "online":
        expected = _layer_cache.ledger_count(cache_dir, spec.id, location)
        basis = str(_layer_cache.ledger_path(cache_dir))
    gdf.attrs["expected_features"] = expected
    count = gdf.attrs.get("source_features", len(gdf))
    check_expected(spec, what=location, count=count, expected=expected, basis=basis)
    check_damaged(spec, gdf.attrs, what=location, allow=allow_damaged)


def check_allowable(spec: LayerSpec) -> None:
    """``--allow-damaged`` applies to score, flag and context layers only.

    Raises
    ------
    LayerDamagedError
        For an ``exclude`` or ``boundary`` layer.
    """
    if spec.role in STRICT_ROLES:
        msg = (f"--allow-damaged {spec.id}: {spec.id!r} is a{'n' if spec.role == 'exclude' else ''} "
               f"{spec.role} layer and cannot be allowed damaged: a lost feature could let a protected or "
               "misplaced site through. Restore the file instead.")
        raise LayerDamagedError(msg)


def allowed_note(attrs: Mapping) -> str:
    """One line for the outputs of a run that accepted a damaged layer, e.g. for the manifest and banner."""
    ids = list(attrs.get("damaged_ids") or [])
    shown = ", ".join(ids[:IDS_SHOWN]) + (", ..." if len(ids) > IDS_SHOWN else "")
    from screening.i18n import fmt_number, gettext  # shown on the run's pages: in the current language

    return gettext("%(n)s of %(total)s features of %(location)s unreadable and left out (--allow-damaged): "
                   "%(ids)s", n=fmt_number(len(ids)), total=fmt_number(attrs.get("source_features")),
                   location=attrs.get("location"), ids=shown)


def _fix(spec: LayerSpec) -> str:
    restore = (f"Fix: restore the file (copy it again from its source, or run 'industripark layers fetch "
               f"{spec.id}' where the official source is reachable)")
    if spec.role in STRICT_ROLES:
        return (restore + f"; a{'n' if spec.role == 'exclude' else ''} {spec.role} layer must be complete, so "
                "--allow-damaged does not apply.")
    return (restore + f", or run knowingly without those features with --allow-damaged {spec.id} (every "
            "output then says so).")

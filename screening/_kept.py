"""Values derived from a loaded layer, kept while the layer is loaded (in this process).

A rule's filtered layer and the feature labels of an exclusion rule or a criterion depend on the layer and
the rule, never on the sites: a preview server makes them once per layer, rule and language instead of once
per request, and a screening reuses them across its scenarios. A value is kept for the very layer object it
was made from (a loaded layer is never modified: inputs are read-only throughout), under the caller's key
(the rule's filter and label settings) and the current language; when the layer object is gone, so is the
value's claim (checked by a weak reference, so a new frame that reuses the address is never mistaken for
it). Kept values are shared: callers must not modify them.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from screening import i18n

__all__ = ["kept", "filtered", "clear", "MAX_KEPT"]

T = TypeVar("T")

MAX_KEPT = 256
"""Most values kept (least recently used dropped): a screening keeps a few dozen."""

_KEPT: OrderedDict = OrderedDict()  # (kind, id(frame), key, lang) -> (weak reference to frame, value)
_LOCK = threading.Lock()  # held for dictionary updates only, never while computing


def kept(kind: str, frame, key: Hashable, make: Callable[[], T]) -> T:
    """``make()``, kept for `frame` (the same object) under (`kind`, `key`, the current language).

    Parameters
    ----------
    kind
        What is kept (e.g. ``"rule_labels"``).
    frame
        The layer (or kept filtered part of it) the value is derived from; never modified.
    key
        Everything else the value depends on (hashable), e.g. the rule's label settings and filter.
    make
        Makes the value.
    """
    full = (kind, id(frame), key, i18n.current())
    with _LOCK:
        got = _KEPT.get(full)
        if got is not None and got[0]() is frame:
            _KEPT.move_to_end(full)
            return got[1]
    value = make()
    try:
        ref = weakref.ref(frame)
    except TypeError:  # not weakly referable: not kept
        return value
    with _LOCK:
        _KEPT[full] = (ref, value)
        _KEPT.move_to_end(full)
        while len(_KEPT) > MAX_KEPT:
            _KEPT.popitem(last=False)
    return value


def filtered(layer, rule_filter, *, what: str):
    """``rule_filter.apply(layer)`` (a `screening.config` filter), kept for `layer`: the same filtered frame
    for every request, so what is kept for it (labels) is found again."""
    return kept("filtered", layer, rule_filter.model_dump_json(), lambda: rule_filter.apply(layer, what=what))


def clear() -> None:
    """Forget every kept value (tests, benchmarks)."""
    with _LOCK:
        _KEPT.clear()

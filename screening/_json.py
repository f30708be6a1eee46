"""Strict JSON for every file a run writes (RFC 8259: no bare NaN or Infinity)."""

from __future__ import annotations

import json
import math
from pathlib import Path

__all__ = ["write_json", "json_default"]


def write_json(path: Path, content) -> None:
    """Write `content` as indented, strict JSON: NaN and infinities become null, numpy scalars and dates
    plain values, anything else its text."""
    text = json.dumps(_strict(json.loads(json.dumps(content, default=json_default))), indent=2, allow_nan=False)
    Path(path).write_text(text, encoding="utf-8")


def json_default(value):
    """`json.dumps` fallback: dates as ISO text, numpy scalars as Python numbers, the rest as text."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _strict(value):
    """Replace float NaN/inf (which json.dumps writes as bare NaN/Infinity) by None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strict(v) for v in value]
    return value

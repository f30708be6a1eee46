"""Folders of this machine never shown to a reader: the layer mirror, the cache, the project, the home folder.

A message may carry a path (a missing layer's "tried mirror /…/protected_nature/x.gpkg"); what a municipality or
the public reads - the preview server's answers, the overview site - says "the layer mirror" instead
(`server_roots`, `scrub`). Analysts' logs and the run's own manifest keep the paths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from screening.config import PROJECT_ROOT, Settings

__all__ = ["server_roots", "scrub"]


def server_roots(settings: Settings) -> dict[str, str]:
    """Folders of this machine an answer must not show -> the words shown instead, longest path first."""
    pairs = ((settings.mirror_root, "the layer mirror"), (settings.cache_dir, "the layer cache"),
             (PROJECT_ROOT, "the project folder"), (Path.home(), "the home folder"))
    roots = {}
    for path, words in pairs:  # four folders
        if path:
            roots |= {form: words for form in {str(path), str(Path(path).resolve())} if len(form) > 1}
    return dict(sorted(roots.items(), key=lambda kv: -len(kv[0])))


def scrub(value, roots: Mapping[str, str]):
    """`value` (text, or lists and dicts of it) with every folder of `roots` replaced by its words.

    A folder counts where it stands as a path (not preceded or followed by a letter or digit), so the
    base64 of an inlined image, where ``/root`` may occur by chance, is left intact.
    """
    if isinstance(value, str):
        for path, words in roots.items():  # a handful of folders
            if path in value:
                value = re.sub(r"(?<![A-Za-z0-9+/])" + re.escape(path) + r"(?![A-Za-z0-9+])", words, value)
        return value
    if isinstance(value, dict):
        return {k: scrub(v, roots) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, roots) for v in value]
    return value

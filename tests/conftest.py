"""Test-wide setup: never touch the network, never write the project's cache; the mirror fixture."""

from __future__ import annotations

import os

import pytest

from screening.config import settings_from_env

os.environ["INDUSTRIPARK_OFFLINE"] = "1"  # tests never need the internet
os.environ.setdefault("MPLBACKEND", "Agg")
# Pages are Danish by default. The suite's wording assertions are written against the English source texts,
# so it runs in English; the Danish pages are tested explicitly (lang "da") in tests/test_i18n*.py.
os.environ["INDUSTRIPARK_LANG"] = "en"


@pytest.fixture(autouse=True, scope="session")
def _session_cache(tmp_path_factory):
    """Point the layer cache at a session temp folder so tests never write data/cache/."""
    os.environ["INDUSTRIPARK_CACHE"] = str(tmp_path_factory.mktemp("layer-cache"))
    yield


@pytest.fixture(scope="session")
def mirror_root():
    """The real mirrored layers (../shared/dk-layers); tests using it are skipped when it is absent."""
    root = settings_from_env().mirror_root
    if root is None or not root.is_dir():
        pytest.skip("the real layers in ../shared/dk-layers are not present (set INDUSTRIPARK_MIRROR)")
    return root

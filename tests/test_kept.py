"""Kept layer-derived values (`screening._kept`): made once per layer object, rule and language, never stale.

The exclusion labels and filtered layers a preview server keeps must be the ones a fresh evaluation makes:
a new layer object (even with equal content, even at a reused address) is labelled again, each language
has its own labels, and a rule with other label settings or another filter gets its own.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import box

from screening import _kept, _labels, exclusion, i18n
from screening.config import ExclusionRule, Exclusions

X0, Y0 = 550_000, 6_200_000


@pytest.fixture(autouse=True)
def _fresh():
    _kept.clear()
    yield
    _kept.clear()


def _layer(names, status=None):
    squares = [box(X0 + 2000 * i, Y0, X0 + 2000 * i + 1000, Y0 + 1000) for i in range(len(names))]
    gdf = gpd.GeoDataFrame({"navn": names, "status": status or ["a"] * len(names)}, geometry=squares,
                           crs=25832)
    gdf.attrs.update(layer_id="prot", source="test", date="2025", version="same-fake-version")
    return gdf


def _rule(**kw):
    return ExclusionRule(id="r", layer="prot", action="exclude", why="test", label_prefix="P",
                         labels=("P '{navn}'",), **kw)


def _features(layer, rule, *, lang="en"):
    sites = gpd.GeoDataFrame({"application_id": ["s0", "s1"]},
                             geometry=[box(X0 + 100, Y0 + 100, X0 + 600, Y0 + 600),
                                       box(X0 + 2100, Y0 + 100, X0 + 2600, Y0 + 600)], crs=25832)
    with i18n.use(lang):
        result = exclusion.evaluate(sites, {"prot": layer}, Exclusions(min_net_area_ha=0, rules=[rule]))
    return result.overlaps.set_index("application_id")["features"].to_dict()


def _counting(monkeypatch):
    calls = []
    real = _labels.rule_labels

    def counted(layer, rule, **kw):
        calls.append(len(layer))
        return real(layer, rule, **kw)

    monkeypatch.setattr(_labels, "rule_labels", counted)
    return calls


def test_labels_are_made_once_per_layer_object(monkeypatch):
    calls = _counting(monkeypatch)
    layer = _layer(["Alpha", "Beta"])
    assert _features(layer, _rule()) == {"s0": "P 'Alpha'", "s1": "P 'Beta'"}
    assert _features(layer, _rule()) == {"s0": "P 'Alpha'", "s1": "P 'Beta'"}
    assert calls == [2]


def test_a_new_layer_object_is_labelled_again_even_with_the_same_version(monkeypatch):
    """Layers that claim one version but differ (or a new frame at a freed address) never share labels."""
    calls = _counting(monkeypatch)
    for i in range(20):  # frames made and dropped: addresses are reused
        assert _features(_layer([f"Name{i}", "x"]), _rule())["s0"] == f"P 'Name{i}'"
    assert len(calls) == 20


def test_each_language_and_each_rule_has_its_own_labels():
    layer = _layer([None, "Beta"])
    english = _features(layer, _rule())["s0"]
    danish = _features(layer, _rule(), lang="da")["s0"]
    assert english == "P (no name or number in the layer)"
    assert danish == "P (uden navn eller nummer i kortet)"
    assert _features(layer, _rule())["s0"] == english  # and back
    other = ExclusionRule(id="r", layer="prot", action="exclude", why="test", label_prefix="Q",
                          labels=("Q {navn}",))
    assert _features(layer, other)["s1"] == "Q Beta"


def test_a_filtered_layer_is_kept_per_filter():
    layer = _layer(["Alpha", "Beta"], status=["a", "b"])
    only_b = _rule(filter={"where": {"status": ["b"]}})
    assert _features(layer, only_b) == {"s1": "P 'Beta'"}
    assert _kept.filtered(layer, only_b.filter, what="t") is _kept.filtered(layer, only_b.filter, what="t")
    only_a = _rule(filter={"where": {"status": ["a"]}})
    assert _features(layer, only_a) == {"s0": "P 'Alpha'"}


def test_the_oldest_values_are_dropped(monkeypatch):
    monkeypatch.setattr(_kept, "MAX_KEPT", 3)
    layer = _layer(["A"])
    made = []
    for k in range(5):  # five keys, three kept
        _kept.kept("test", layer, k, lambda k=k: made.append(k) or k)
    assert _kept.kept("test", layer, 4, lambda: made.append("again")) == 4
    assert _kept.kept("test", layer, 0, lambda: made.append("again") or 0) == 0
    assert made == [0, 1, 2, 3, 4, "again"]

"""Feature labels of the exclusion rules: "Natura 2000 H-område H12 'Store Vildmose'", "Naturnationalpark NNP_03".

A rule names the features a site meets either by one column (``label_column`` with ``label_prefix``:
"Natura 2000 F-område 'Vejlerne'") or by ``labels``, templates over layer columns tried in order: the
first whose fields are all set gives the label, so a copy with empty names is labelled by its numbers and
nothing is invented. A feature no template can name is "<prefix> (no name or number in the layer)". A
filter with ``keep_unset`` adds "(status not stated in the layer: counted as designated or proposed)" to
the features it kept for lack of a value. Internal to `screening.exclusion` and `screening.coverage`.
"""

from __future__ import annotations

import hashlib
import json
import string

import geopandas as gpd
import numpy as np
import pandas as pd

from screening import i18n
from screening._nature_layers import PHRASES, phrase
from screening.config import ExclusionRule

__all__ = ["rule_labels", "label_column", "label_texts", "labelled", "relabelled", "template_fields", "join_groups",
           "site_labels"]

MAX_LABELS = 12
"""At most this many feature labels are named per candidate and rule; the rest are counted."""


def template_fields(template) -> list[str]:
    """The column names a label template refers to: ``"H{site_nr} '{objektnavn}'"`` -> site_nr, objektnavn
    (of both languages for a `screening.config.LocalText` template)."""
    texts = [template] if isinstance(template, str) else [template.da, template.en]
    return list(dict.fromkeys(f for t in texts for _, f, _, _ in string.Formatter().parse(t) if f))


def rule_labels(layer: gpd.GeoDataFrame, rule: ExclusionRule, *, what: str = "layer") -> np.ndarray:
    """The full label of every feature of `layer` under `rule` (object array of str, one per row).

    Raises
    ------
    LayerDataError
        When the rule's ``label_column`` (without ``labels``) is not a column of `layer`.
    """
    prefix = i18n.text(rule.label_prefix)  # the rule's texts in the current language
    if rule.labels:
        text = _from_templates(layer, tuple(i18n.text(t) for t in rule.labels), prefix)
    else:
        from screening.coverage import feature_labels  # coverage imports this module

        base = pd.Series(feature_labels(layer, rule.label_column, what=what), index=layer.index)
        text = (f"{prefix} '" + base + "'") if prefix else base
    return (text + _unset_notes(layer, rule)).to_numpy(dtype=object)


def label_column(rule: ExclusionRule) -> str:
    """Name of the column `labelled` adds: it carries a hash of everything the label depends on in every
    language (templates and prefix in both, the phrases' source texts), so a prepared coverage cached under
    it is rebuilt when they change, and one coverage serves every language (`relabelled`)."""
    def both(t):
        return t.model_dump() if hasattr(t, "model_dump") else t

    blob = json.dumps({"labels": [both(t) for t in rule.labels], "column": rule.label_column,
                       "prefix": both(rule.label_prefix), "filter": rule.filter.model_dump(mode="json"),
                       "phrases": PHRASES}, sort_keys=True)
    return "_label_" + hashlib.sha1(blob.encode()).hexdigest()[:10]


def label_texts(rule: ExclusionRule) -> str:
    """A key of the rule's label texts in the current language (templates, prefix, translated phrases): a
    prepared coverage whose ``attrs['label_texts']`` differs carries labels of another language (or of an
    older translation) and is `relabelled` before use."""
    blob = json.dumps({"lang": i18n.current(), "labels": [i18n.text(t) for t in rule.labels],
                       "prefix": i18n.text(rule.label_prefix),
                       "phrases": {k: i18n.gettext(v) for k, v in PHRASES.items()},
                       "unnamed": i18n.gettext("unnamed"), "feature": i18n.gettext("feature")}, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:10]


def relabelled(prepared: gpd.GeoDataFrame, labels: np.ndarray, texts_key: str) -> gpd.GeoDataFrame:
    """`prepared` with its ``label`` (the one label of a piece's member features, else "") made again from
    `labels`, the current-language label of every feature of the layer it was prepared from (by position).

    Vectorised over the pieces' member lists; geometries and members are shared, not copied.
    """
    members = pd.Series(list(prepared["features"].to_numpy()), index=np.arange(len(prepared))).explode().dropna()
    pairs = pd.DataFrame({"piece": members.index.to_numpy(),
                          "label": labels[members.to_numpy(dtype=np.int64)]}).drop_duplicates()
    one = pairs.groupby("piece")["label"].agg(["first", "size"])
    label = np.full(len(prepared), "", dtype=object)
    single = one[one["size"] == 1]
    label[single.index.to_numpy()] = single["first"].to_numpy(dtype=object)
    out = prepared.copy(deep=False)
    out["label"] = label
    out.attrs = {**prepared.attrs, "label_texts": texts_key}
    return out


def labelled(layer: gpd.GeoDataFrame, rule: ExclusionRule, *, what: str = "layer") -> tuple[gpd.GeoDataFrame, str]:
    """`layer` with the rule's labels in an added column, and that column's name (`label_column`)."""
    column = label_column(rule)
    out = layer.copy()
    out[column] = rule_labels(layer, rule, what=what)
    return out, column


def site_labels(sites: np.ndarray, layer: gpd.GeoDataFrame, labels: np.ndarray, prepared, pair_site: np.ndarray,
                pair_feature: np.ndarray, buffer_m: float) -> np.ndarray:
    """"; "-joined labels of the features each site meets (or comes within `buffer_m` of), per site.

    `pair_site`/`pair_feature` index `sites` and the features of `prepared` (when given) or `layer`;
    a prepared piece with one label is named by it, a piece of several features has its member features
    tested against the site (interiors meet, or within `buffer_m`).
    """
    import shapely

    if prepared is None:
        site_idx, names = pair_site, labels[pair_feature]
    else:
        piece_label = prepared["label"].to_numpy(dtype=object)[pair_feature]
        single = piece_label != ""
        site_idx, names = pair_site[single], piece_label[single]
        if not single.all():  # pieces of several labelled features: test those features against the site
            members = pd.Series(prepared["features"].to_numpy()[pair_feature[~single]],
                                index=pair_site[~single]).explode().dropna()
            key = np.unique(members.index.to_numpy(np.int64) * len(layer) + members.to_numpy(np.int64))
            s, f = key // len(layer), key % len(layer)
            g = layer.geometry.to_numpy()
            if buffer_m > 0:
                ok = shapely.dwithin(sites[s], g[f], buffer_m)
            else:  # interiors meet: intersects (fast on prepared sites), then not merely touching
                ok = shapely.intersects(sites[s], g[f])
                ok[ok] = ~shapely.touches(sites[s[ok]], g[f[ok]])
            site_idx, names = np.r_[site_idx, s[ok]], np.r_[names, labels[f[ok]]]
    pairs = pd.DataFrame({"site": site_idx, "label": names}).drop_duplicates().sort_values(["site", "label"])
    return join_groups(pairs["site"].to_numpy(), pairs["label"].to_numpy(dtype=object), len(sites),
                       limit=MAX_LABELS)


def join_groups(keys: np.ndarray, texts: np.ndarray, n: int, *, limit: int | None = None) -> np.ndarray:
    """"; "-join `texts` per key in ``0..n-1``, keeping their order; beyond `limit`, "and N more"."""
    out = np.full(n, "", dtype=object)
    if len(keys) == 0:
        return out
    order = np.argsort(keys, kind="stable")
    keys, texts = keys[order], texts[order].tolist()
    starts = np.r_[0, np.flatnonzero(np.diff(keys)) + 1]
    ends = np.r_[starts[1:], len(keys)]
    limit = limit or len(texts)
    out[keys[starts]] = [  # one string per candidate, not per feature
        "; ".join(texts[s:min(e, s + limit)])
        + ("; " + i18n.gettext("and %(n)s more", n=i18n.fmt_number(e - s - limit)) if e - s > limit else "")
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    return out


# --------------------------------------------------------------------------- helpers


def _text(values: pd.Series) -> pd.Series:
    """Values as stripped text, "" where empty; whole floats without ".0" (a site number 12.0 -> "12")."""
    def one(v) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return ""
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            v = int(v)
        return str(v).strip()

    return values.map(one)  # element-wise text of one column (no geometry work)


def _from_templates(layer: gpd.GeoDataFrame, templates: tuple[str, ...], prefix: str) -> pd.Series:
    """The first template whose fields are all set, per row; the "unnamed" phrase where none is."""
    fallback = phrase("unnamed", prefix=prefix or phrase("feature")).strip()
    out = pd.Series(fallback, index=layer.index, dtype=object)
    done = np.zeros(len(layer), dtype=bool)
    cache: dict[str, pd.Series] = {}
    for template in templates:  # a handful of declared templates, each vectorised over the layer
        fields = template_fields(template)
        if any(f not in layer.columns for f in fields):
            continue  # a column of another source (the official layer or a copy): not this one
        for f in fields:
            cache.setdefault(f, _text(layer[f]))
        ok = ~done
        for f in fields:
            ok &= (cache[f] != "").to_numpy()
        if not ok.any():
            continue
        text = pd.Series("", index=layer.index, dtype=object)
        for literal, f, _, _ in string.Formatter().parse(template):
            text = text + literal + (cache[f] if f else "")
        out[ok] = text[ok]
        done |= ok
    return out


def _unset_notes(layer: gpd.GeoDataFrame, rule: ExclusionRule) -> pd.Series:
    """" (status not stated ...)" for the features a ``keep_unset`` filter kept for lack of a value."""
    notes = pd.Series("", index=layer.index, dtype=object)
    if not rule.filter.keep_unset:
        return notes
    for column, values in rule.filter.where.items():  # one or two filter columns
        unset = (np.ones(len(layer), dtype=bool) if column not in layer.columns
                 else (_text(layer[column]) == "").to_numpy())
        words = [str(v) for v in values]
        listed = phrase("or", first=", ".join(words[:-1]), last=words[-1]) if len(words) > 1 else "".join(words)
        note = " " + phrase("not_stated", column=column, values=listed)
        notes[unset] = notes[unset] + note
    return notes

"""Per-site overlay kernels and prepared exclusion layers (non-overlapping coverages) with their cache.

A national protection layer overlaps itself (a § 3 meadow inside a bird area inside a habitat area), so
the area of a site inside "any feature" needs a per-site union of the clipped pieces. That union is the
costly step of a screening. `prepare_layer` does it once per data version instead: it dissolves the layer
into a non-overlapping coverage cut on a fixed tile grid, so a screening only clips and sums areas.
All geometries are EPSG:25832 (metres); areas in this module are m², distances metres.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from screening import i18n
from screening._coverage_cache import DEFAULT_TILE_M, PREPARE_VERSION, prepared_key, read_prepared, write_prepared
from screening._geo import require_crs
from screening.config import Exclusions
from screening.errors import LayerDataError

__all__ = [
    "PREPARE_VERSION", "DEFAULT_TILE_M", "Hits", "overlap_hits", "distance_hits",
    "buffered_cut", "union_by_group", "feature_labels", "prepare_layer", "usable_prepared", "prepared_layers",
    "prepared_key", "read_prepared", "write_prepared",
]

log = logging.getLogger(__name__)

"""Layer id whose flag rule reports zone shares (`screening.exclusion.zone_shares`), not overlaps."""

_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)


@dataclass(frozen=True)
class Hits:
    """Overlap of n sites with one layer.

    ``overlap_m2`` (n,) is the area of each site inside the union of the layer's features, m².
    ``site``/``feature`` are the (site, feature) index pairs whose overlap has positive area.
    ``geometry`` (n,) holds the overlap geometry per site (None without overlap) when it was asked for.
    """

    overlap_m2: np.ndarray
    site: np.ndarray
    feature: np.ndarray
    geometry: np.ndarray | None = None


def overlap_hits(sites: np.ndarray, geoms: np.ndarray, *, disjoint: bool = False,
                 keep_geometry: bool = False) -> Hits:
    """Area of each site inside the union of `geoms`, from one STRtree bulk query.

    Parameters
    ----------
    sites
        Site (multi)polygons, EPSG:25832.
    geoms
        Layer (multi)polygons, EPSG:25832.
    disjoint
        True when `geoms` do not overlap each other (a prepared coverage): the overlap is then the sum of
        the clipped pieces' areas and no per-site union is computed.
    keep_geometry
        Also return the overlap geometry per site (for the union of several cut rules).

    Returns
    -------
    Hits
        ``overlap_m2`` in m²; 0.0 where a site meets no feature or only touches one along an edge.
    """
    n = len(sites)
    tree = shapely.STRtree(geoms)
    i, j = tree.query(sites, predicate="intersects")
    shapely.prepare(sites)
    inside = shapely.contains_properly(sites[i], geoms[j])  # piece = whole feature: no clipping needed
    pieces = geoms[j].copy()
    pieces[~inside] = shapely.intersection(sites[i[~inside]], geoms[j[~inside]])
    area = shapely.area(pieces)
    keep = area > 0.0
    i, j, pieces, area = i[keep], j[keep], pieces[keep], area[keep]
    if disjoint:
        overlap = np.bincount(i, weights=area, minlength=n).astype(float)
        geometry = _collect(pieces, i, n) if keep_geometry else None
        return Hits(overlap, i, j, geometry)
    union = union_by_group(pieces, i, n)
    has = union != None  # noqa: E711 - elementwise test of an object array
    overlap = np.zeros(n)
    overlap[has] = shapely.area(union[has].astype(object))
    return Hits(overlap, i, j, union if keep_geometry else None)


def distance_hits(sites: np.ndarray, geoms: np.ndarray, distance_m: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(site, feature, distance_m) for every feature within `distance_m` of a site (``dwithin``, <=).

    The distance is between the true geometries, 0.0 where they touch or overlap; nothing is buffered.
    """
    tree = shapely.STRtree(geoms)
    i, j = tree.query(sites, predicate="dwithin", distance=distance_m)
    return i, j, shapely.distance(sites[i], geoms[j])


def buffered_cut(sites: np.ndarray, geoms: np.ndarray, site_idx: np.ndarray, feature_idx: np.ndarray,
                 distance_m: float) -> np.ndarray:
    """Per site: the part of the site within `distance_m` of the given features (None where empty).

    Only the features already found within `distance_m` of a site (``site_idx``/``feature_idx``, from
    `distance_hits`) are grown, never the whole layer; grown features overlap, so they are united per
    site. Buffers use 8 segments per quarter circle, so curved set-back edges are approximate (< 2 %).
    """
    grown = shapely.buffer(geoms[feature_idx], distance_m)
    pieces = shapely.intersection(sites[site_idx], grown)
    keep = shapely.area(pieces) > 0.0
    return union_by_group(pieces[keep], site_idx[keep], len(sites))


def union_by_group(geoms: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Union of `geoms` per group id in ``0..n_groups-1``; None for groups without geometries.

    Groups of one geometry are returned as they are. Larger groups are padded with None into one
    (groups x width) table per power-of-two size class and united with ``shapely.union_all(axis=1)``,
    so there is no Python loop over groups or features.
    """
    out = np.full(n_groups, None, dtype=object)
    if len(geoms) == 0:
        return out
    counts = np.bincount(groups, minlength=n_groups)
    single = counts[groups] == 1
    out[groups[single]] = geoms[single]
    if single.all():
        return out
    g, gm = groups[~single], geoms[~single]
    order = np.argsort(g, kind="stable")
    g, gm = g[order], gm[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    sizes = np.diff(np.r_[starts, len(g)])
    rank = np.arange(len(g)) - np.repeat(starts, sizes)
    member_of = np.repeat(np.arange(len(sizes)), sizes)
    size_class = np.ceil(np.log2(sizes)).astype(int)
    row = np.empty(len(sizes), dtype=np.intp)
    for cls in np.unique(size_class):  # a dozen size classes at most, not features
        grp = np.flatnonzero(size_class == cls)
        row[grp] = np.arange(len(grp))
        el = size_class[member_of] == cls
        table = np.full((len(grp), sizes[grp].max()), None, dtype=object)
        table[row[member_of[el]], rank[el]] = gm[el]
        out[g[starts[grp]]] = shapely.union_all(table, axis=1)
    return out


def feature_labels(gdf: gpd.GeoDataFrame, label_column: str | None, *, what: str = "layer") -> np.ndarray:
    """Text label of each feature: the `label_column` value, or ``"feature <index>"`` without one.

    Raises
    ------
    LayerDataError
        When `label_column` is not a column of `gdf`.
    """
    if label_column is None:
        return (i18n.gettext("feature") + " " + pd.Index(gdf.index).astype(str)).to_numpy(dtype=object)
    if label_column not in gdf.columns:
        columns = [c for c in gdf.columns if c != gdf.geometry.name]
        msg = (f"{what}: label column {label_column!r} not found; columns are {columns}. "
               "Fix label_column in layers/criteria.yaml")
        raise LayerDataError(msg)
    values = gdf[label_column]
    text = (values.map(_as_text) if values.dtype.kind == "f" else values.astype(str)).to_numpy(dtype=object)
    text[values.isna().to_numpy()] = i18n.gettext("unnamed")
    return text


def prepare_layer(gdf: gpd.GeoDataFrame, *, label_column: str | None = None,
                  tile_m: float = DEFAULT_TILE_M) -> gpd.GeoDataFrame:
    """Dissolve a polygon layer into a non-overlapping coverage cut on a tile grid.

    Every point covered by the layer is covered by exactly one piece, so the overlap of a site with the
    layer is the plain sum of its intersections with the pieces. Steps, all over whole arrays: assign
    features to the tiles their bounds span (grid aligned on multiples of `tile_m`); clip the features
    spanning several tiles with ``clip_by_rect``; link pieces of one tile whose bounding boxes meet;
    unite each connected group; split the unions into polygons.

    Parameters
    ----------
    gdf
        Polygon layer in EPSG:25832 (valid geometries, as the catalog loads them).
    label_column
        Column naming the features; None labels them ``"feature <index>"``.
    tile_m
        Tile edge in metres; no piece is larger than a tile.

    Returns
    -------
    geopandas.GeoDataFrame
        One polygon per row, EPSG:25832, with ``features`` (list of int: positions in `gdf` of the
        features whose tile pieces meet the piece's bounding box - every feature covering part of the
        piece is among them), ``labels`` (their sorted distinct labels), ``label`` (the label when there
        is exactly one, else ""), ``tile`` (int). ``attrs`` keep the source's provenance plus
        ``source_version``, ``n_source_features``, ``label_column``, ``tile_m`` and ``prepare_version``.
        A piece with one label carries exactly the label of every feature covering it; with several the
        list is a superset and `screening.exclusion` checks the member features against the site.
    """
    what = f"layer {gdf.attrs.get('layer_id', '(unnamed)')}"
    require_crs(gdf, what)
    labels = feature_labels(gdf, label_column, what=what)
    geoms = gdf.geometry.to_numpy()
    pieces, feature, tile = _tile_pieces(geoms, tile_m)
    group, n_groups = _overlap_groups(pieces, tile)
    union = union_by_group(pieces, group, n_groups)
    parts, part_group = shapely.get_parts(union, return_index=True)
    keep = np.isin(shapely.get_type_id(parts), _POLYGONAL) & (shapely.area(parts) > 0.0)
    parts, part_group = parts[keep], part_group[keep]
    part_i, piece_k = shapely.STRtree(pieces).query(parts)  # members: pieces of its group meeting its box
    same = group[piece_k] == part_group[part_i]
    part_i, member = part_i[same], feature[piece_k[same]]
    group_tile = np.zeros(n_groups, dtype=np.int64)
    group_tile[group] = tile
    names = _lists_by_group(part_i, labels[member], len(parts))
    single = np.array([x[0] if len(x) == 1 else "" for x in names], dtype=object)  # per piece, one-off
    out = gpd.GeoDataFrame({"features": _lists_by_group(part_i, member, len(parts)), "labels": names,
                            "label": single, "tile": group_tile[part_group]}, geometry=parts, crs=gdf.crs)
    out.attrs.update({k: v for k, v in gdf.attrs.items() if isinstance(v, (str, int, float))})
    out.attrs.update({"source_version": gdf.attrs.get("version", ""), "n_source_features": len(gdf),
                      "label_column": label_column or "", "tile_m": float(tile_m),
                      "prepare_version": PREPARE_VERSION})
    log.info("prepared %s: %d features -> %d non-overlapping pieces on %g m tiles",
             gdf.attrs.get("layer_id", "layer"), len(gdf), len(out), tile_m)
    return out


def usable_prepared(prepared: gpd.GeoDataFrame | None, layer: gpd.GeoDataFrame, *, what: str) -> bool:
    """True when `prepared` was made from `layer` (same version and feature count); logs why not."""
    if prepared is None:
        return False
    src, now = prepared.attrs.get("source_version", ""), layer.attrs.get("version", "")
    if (src and now and src != now) or prepared.attrs.get("n_source_features", len(layer)) != len(layer):
        log.warning("%s: prepared layer is stale (version %s, %s features) for the loaded layer (version %s,"
                    " %d features); using the layer itself - rerun 'industripark layers fetch'", what,
                    src or "?", prepared.attrs.get("n_source_features", "?"), now or "?", len(layer))
        return False
    return True


def prepared_layers(layers: Mapping[str, gpd.GeoDataFrame], exclusions: Exclusions, *, cache_dir: Path,
                    build: bool = True, tile_m: float = DEFAULT_TILE_M) -> dict[str, gpd.GeoDataFrame]:
    """Prepared coverages for the exclusion rules, by rule id: read from `cache_dir`, else built and saved.

    Rules whose layer is absent from `layers`, and zone-share rules (``measure: zone_shares``), are skipped. With
    ``build=False`` only cache hits are returned (a screening then evaluates the other rules on the
    layers themselves). A layer without ``attrs['version']`` is prepared but not cached.
    """
    from screening import _labels  # _labels imports this module

    out: dict[str, gpd.GeoDataFrame] = {}
    for rule in exclusions.rules:  # a handful of declared rules, not features
        if rule.layer not in layers or rule.measure == "zone_shares":
            continue
        layer = layers[rule.layer]
        if rule.filter.where or rule.filter.require:
            layer = rule.filter.apply(layer, what=f"rule {rule.id}: layer {rule.layer}")
        # the pieces carry the rule's full labels (templates, prefix, notes; see screening._labels)
        layer, label_column = _labels.labelled(layer, rule, what=f"rule {rule.id}: layer {rule.layer}")
        key = prepared_key(layer, label_column=label_column, tile_m=tile_m, layer_filter=rule.filter)
        cached = read_prepared(cache_dir, key) if key else None
        if cached is not None:
            out[rule.id] = cached
        elif build:
            out[rule.id] = prepare_layer(layer, label_column=label_column, tile_m=tile_m)
            out[rule.id].attrs["label_texts"] = _labels.label_texts(rule)  # the language its labels are in
            if key:
                write_prepared(cache_dir, key, out[rule.id])
    return out


# --------------------------------------------------------------------------- helpers


def _collect(pieces: np.ndarray, site: np.ndarray, n: int) -> np.ndarray:
    """Disjoint pieces per site as one GeometryCollection (None where a site has none)."""
    out = np.full(n, None, dtype=object)
    if len(pieces):
        order = np.argsort(site, kind="stable")
        ids, dense = np.unique(site[order], return_inverse=True)
        out[ids] = shapely.geometrycollections(pieces[order], indices=dense)
    return out


def _tile_pieces(geoms: np.ndarray, tile_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features cut to the tiles their bounds span: (pieces, feature position, tile id)."""
    b = shapely.bounds(geoms)
    ix0, iy0 = np.floor(b[:, 0] / tile_m).astype(np.int64), np.floor(b[:, 1] / tile_m).astype(np.int64)
    ix1 = np.maximum(ix0, np.ceil(b[:, 2] / tile_m).astype(np.int64) - 1)
    iy1 = np.maximum(iy0, np.ceil(b[:, 3] / tile_m).astype(np.int64) - 1)
    nx, ny = ix1 - ix0 + 1, iy1 - iy0 + 1
    counts = nx * ny
    feature = np.repeat(np.arange(len(geoms)), counts)
    k = np.arange(len(feature)) - np.repeat(np.cumsum(counts) - counts, counts)
    ix, iy = ix0[feature] + k % nx[feature], iy0[feature] + k // nx[feature]
    tile = (ix - ix.min()) * (iy.max() - iy.min() + 1) + (iy - iy.min()) if len(ix) else ix
    pieces = geoms[feature].copy()
    cut = np.flatnonzero(counts[feature] > 1)
    order = cut[np.argsort(tile[cut], kind="stable")]
    starts = np.r_[0, np.flatnonzero(np.diff(tile[order])) + 1, len(order)] if len(order) else [0]
    for s, e in zip(starts[:-1], starts[1:], strict=False):  # tiles crossed by a boundary, not features
        idx = order[s:e]
        x, y = ix[idx[0]] * tile_m, iy[idx[0]] * tile_m
        pieces[idx] = shapely.clip_by_rect(geoms[feature[idx]], x, y, x + tile_m, y + tile_m)
    pieces[cut] = _polygonal(pieces[cut])
    keep = ~shapely.is_missing(pieces) & (shapely.area(pieces) > 0.0)
    return pieces[keep], feature[keep], tile[keep]


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Valid polygonal geometries: repair invalid clip results, keep only polygon parts of collections."""
    geoms = geoms.copy()
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        log.info("repaired %d clipped pieces with make_valid", int(invalid.sum()))
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    mixed = np.flatnonzero(~np.isin(shapely.get_type_id(geoms), _POLYGONAL) & ~shapely.is_empty(geoms))
    if len(mixed):
        parts, idx = shapely.get_parts(geoms[mixed], return_index=True)
        good = np.isin(shapely.get_type_id(parts), _POLYGONAL)
        geoms[mixed] = union_by_group(parts[good], idx[good], len(mixed))
    return geoms


def _lists_by_group(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Sorted distinct `values` per group as an object array of lists (no per-group Python callback)."""
    frame = pd.DataFrame({"g": group, "v": values}).drop_duplicates().sort_values(["g", "v"])
    g = frame["g"].to_numpy()
    starts = np.searchsorted(g, np.arange(n_groups))
    out = np.empty(n_groups, dtype=object)
    out[:] = [chunk.tolist() for chunk in np.split(frame["v"].to_numpy(), starts[1:])]
    return out


def _overlap_groups(pieces: np.ndarray, tile: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected groups of pieces of one tile whose bounding boxes meet (overlaps imply meeting boxes)."""
    a, b = shapely.STRtree(pieces).query(pieces)
    same = (a < b) & (tile[a] == tile[b])
    n = len(pieces)
    graph = coo_matrix((np.ones(int(same.sum()), dtype=bool), (a[same], b[same])), shape=(n, n))
    n_groups, group = connected_components(graph, directed=False)
    return group.astype(np.intp), int(n_groups)


def _as_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)

"""Exclusion benchmark: the project's `exclusion.evaluate` on a national-size case against plain baselines.

The case is built deterministically (seeded numpy) on the real mirrored municipality boundaries (land =
their union) plus the real Natura 2000 bird-area layer; see `build_case` for what it contains. Methods:

- ``project``: `screening.exclusion.evaluate` with one ``cut`` rule on the protected layer, no prepared
  coverage (features, labels and texts included);
- ``project_prepared``: the same with the layer's prepared coverage (`screening.coverage.prepare_layer`,
  a one-off step per data version whose time is reported separately);
- ``reference``: a plain STRtree bulk query, intersection of every (site, feature) pair, a per-site union
  of the pieces and its area - exact;
- ``naive``: a per-site loop with a bounding-box filter, intersection and union, timed on a seeded sample
  of sites and extrapolated linearly to all sites;
- ``io_floor``: reading the protected layer back from GeoParquet (the format of the layer cache), and
  from GeoPackage for comparison.

The three fast methods are timed interleaved, best of `REPEATS`, because the machine is shared.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from screening import _labels, coverage, exclusion
from screening.config import ExclusionRule, Exclusions

SEED = 20251028
N_SITES = 2_000
N_PROTECTED = 200_000
NAIVE_SAMPLE = 50
REPEATS = 2
TARGETS = {"prepared_over_reference_max": 0.5, "project_over_reference_max": 1.2,
           "agree_max_abs_diff_ha": 1e-6}
NATURE_TYPES = np.array(["Hede", "Mose", "Eng", "Overdrev", "Strandeng", "Sø"])


def run(mirror_root: Path) -> dict:
    """Build the case, time every method, check agreement; print a table and return the figures."""
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    sites, layer, case = build_case(Path(mirror_root))
    build_s = time.perf_counter() - t0
    print(f"case built in {build_s:.1f} s: {case['summary']}", flush=True)
    site_geoms, layer_geoms = sites.geometry.to_numpy(), layer.geometry.to_numpy()
    rule = ExclusionRule(id="protected", layer="protected", action="cut", label_column="label",
                         label_prefix="protected", why="benchmark: synthetic national protected layer")
    excl = Exclusions(min_net_area_ha=0.0, rules=(rule,))

    times: dict[str, float] = {"build_case": build_s}
    # prepared as exclusion.prepared_layers prepares a rule's layer: the features carry the rule's labels
    labelled, label_column = _labels.labelled(layer, rule, what="rule protected: layer protected")
    prepared, times["prepare_one_off"] = _timed(coverage.prepare_layer, labelled, label_column=label_column)
    prepared.attrs["label_texts"] = _labels.label_texts(rule)
    if prepared.attrs.get("label_column") != _labels.label_column(rule):  # else evaluate would not use it
        raise RuntimeError("the prepared coverage does not carry the rule's labels: the bench would time the layer")
    case["prepared_pieces"] = len(prepared)
    case["protected_union_ha"] = round(float(shapely.area(prepared.geometry.to_numpy()).sum() / 1e4), 1)
    times.update(_io_floor(layer, prepared))

    runs: dict[str, list[float]] = {"reference": [], "project": [], "project_prepared": []}
    for _ in range(REPEATS):  # interleaved, so a load spike hits every method alike
        ref, t = _timed(reference_overlap_ha, site_geoms, layer_geoms)
        runs["reference"].append(t)
        res, t = _timed(exclusion.evaluate, sites, {"protected": layer}, excl)
        runs["project"].append(t)
        res_p, t = _timed(exclusion.evaluate, sites, {"protected": layer}, excl,
                          prepared={"protected": prepared})
        runs["project_prepared"].append(t)
    times.update({k: min(v) for k, v in runs.items()})
    sample = np.sort(np.random.default_rng(SEED).choice(len(sites), NAIVE_SAMPLE, replace=False))
    naive, t_sample = _timed(naive_overlap_ha, site_geoms[sample], layer_geoms)
    times["naive_sample"] = t_sample
    times["naive_extrapolated"] = t_sample * len(sites) / NAIVE_SAMPLE

    ids = sites["application_id"].to_numpy()
    got = {name: r.overlaps.set_index("application_id")["overlap_ha"].reindex(ids).fillna(0.0).to_numpy()
           for name, r in (("project", res), ("project_prepared", res_p))}
    diffs = {name: float(np.abs(v - ref).max()) for name, v in got.items()}
    diffs["naive_sample"] = float(np.abs(naive - ref[sample]).max())
    ref_s = times["reference"]
    ratios = {"project/reference": times["project"] / ref_s,
              "prepared/reference": times["project_prepared"] / ref_s,
              "naive/reference": times["naive_extrapolated"] / ref_s,
              "io_floor/reference": times["io_floor"] / ref_s,
              "prepared_incl_cache_read/reference": (times["project_prepared"] + times["prepared_cache_read"])
              / ref_s, "prepare_one_off/reference": times["prepare_one_off"] / ref_s}
    agree = max(diffs.values())
    targets = {**TARGETS,
               "prepared_met": ratios["prepared/reference"] <= TARGETS["prepared_over_reference_max"],
               "project_met": ratios["project/reference"] <= TARGETS["project_over_reference_max"],
               "agree_met": agree <= TARGETS["agree_max_abs_diff_ha"]}
    case["sites_with_overlap"] = int((ref > 0).sum())
    case["overlap_total_ha"] = round(float(ref.sum()), 1)
    result = {"case": case, "times_s": {k: round(v, 3) for k, v in times.items()},
              "all_runs_s": {k: [round(x, 3) for x in v] for k, v in runs.items()},
              "ratios": {k: round(v, 3) for k, v in ratios.items()},
              "agree_max_abs_diff_ha": agree, "agree_by_method_ha": diffs, "targets": targets,
              "load_average": {"before": load_before, "after": os.getloadavg()},
              "notes": [f"naive loop timed on {NAIVE_SAMPLE} seeded sites and extrapolated linearly to "
                        f"{len(sites)}", f"reference/project/prepared: best of {REPEATS} interleaved runs",
                        "prepared time excludes the one-off preparation and reading it from the cache "
                        "(both reported separately)"]}
    _print_table(result)
    return result


def build_case(mirror_root: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict]:
    """Sites and a protected layer on Danish land (EPSG:25832), deterministic for `SEED`.

    Land is the union of the mirrored kommuner. Protected: `N_PROTECTED` star-shaped 16-vertex polygons
    centred on land; 98 % of 0.5-20 ha and 2 % of 20-300 ha (log-uniform); half are placed as "children"
    offset 0.2-1.2 radii from another polygon, so clusters overlap; 5 % are multipart (a second part of
    20-60 % of the area 20-300 m beyond the first, so such a feature reaches ~480 ha in all). The real
    bird-area layer (125 multipolygons, large and complex) is appended. Sites: `N_SITES` axis-aligned
    rectangles of 20-800 ha (log-uniform, aspect 1-2.5) centred on land; 10 % are split into two parts
    100 m apart.
    """
    rng = np.random.default_rng(SEED)
    land = shapely.union_all(gpd.read_file(mirror_root / "boundaries" / "kommuner.gpkg").geometry.to_numpy())
    shapely.prepare(land)
    protected = _protected(rng, land)
    bird = gpd.read_file(mirror_root / "protected_nature" / "natura2000_fuglebeskyttelse.gpkg")
    geoms = np.concatenate([protected, bird.geometry.to_numpy()])
    labels = np.concatenate([NATURE_TYPES[rng.integers(0, len(NATURE_TYPES), len(protected))],
                             bird["objektnavn"].fillna("unnamed").to_numpy(dtype=object)])
    layer = gpd.GeoDataFrame({"label": labels}, geometry=geoms, crs=25832)
    layer.attrs.update(layer_id="protected", source="synthetic + Danmarks Miljøportal CC0 1.0", date="bench",
                       version=f"bench-{SEED}")
    sites = gpd.GeoDataFrame({"application_id": [f"S{i:04d}" for i in range(N_SITES)]},
                             geometry=_sites(rng, land), crs=25832)
    area = shapely.area(protected) / 1e4
    site_area = shapely.area(sites.geometry.to_numpy()) / 1e4
    case = {
        "seed": SEED, "land": "union of the 99 mirrored kommuner (boundaries/kommuner.gpkg)",
        "sites": N_SITES,
        "site_area_ha": [round(float(site_area.min()), 1), round(float(site_area.max()), 1)],
        "site_area_total_ha": round(float(site_area.sum()), 1),
        "sites_multipart": int((shapely.get_num_geometries(sites.geometry.to_numpy()) > 1).sum()),
        "protected_synthetic": len(protected), "protected_bird_areas": len(bird),
        "protected_multipart": int((shapely.get_num_geometries(geoms) > 1).sum()),
        "protected_synthetic_area_ha": [round(float(area.min()), 2), round(float(area.max()), 1)],
        "protected_synthetic_area_sum_ha": round(float(area.sum()), 1),
        "bird_area_sum_ha": round(float(shapely.area(bird.geometry.to_numpy()).sum() / 1e4), 1),
        "protected_vertices": int(shapely.get_num_coordinates(geoms).sum()),
        "rule": "one cut rule (tolerance 0) over the whole protected layer",
    }
    case["summary"] = (f"{N_SITES:,} sites of 20-800 ha on land ({case['sites_multipart']} multipart) vs "
                       f"{len(geoms):,} protected polygons ({len(protected):,} synthetic, parts 0.5-300 ha, "
                       f"half in overlapping clusters, {case['protected_multipart']:,} multipart + "
                       f"{len(bird)} real bird areas; {case['protected_vertices']:,} vertices)")
    return sites, layer, case


def reference_overlap_ha(sites: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    """STRtree bulk query, clip every pair, unite the pieces per site, take the area (ha)."""
    i, j = shapely.STRtree(geoms).query(sites, predicate="intersects")
    pieces = shapely.intersection(sites[i], geoms[j])
    order = np.argsort(i, kind="stable")
    i, pieces = i[order], pieces[order]
    starts = np.r_[0, np.flatnonzero(np.diff(i)) + 1, len(i)]
    out = np.zeros(len(sites))
    for s, e in zip(starts[:-1], starts[1:], strict=False):  # one union per site (the reference's way)
        out[i[s]] = shapely.area(shapely.union_all(pieces[s:e]))
    return out / 1e4


def naive_overlap_ha(sites: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    """Per-site loop: bounding-box filter over all features, clip the hits, unite them, take the area (ha)."""
    bounds = shapely.bounds(geoms)
    out = np.zeros(len(sites))
    for k, site in enumerate(sites):  # deliberately naive: one pass over the national layer per site
        x0, y0, x1, y1 = site.bounds
        hit = (bounds[:, 0] <= x1) & (bounds[:, 2] >= x0) & (bounds[:, 1] <= y1) & (bounds[:, 3] >= y0)
        near = geoms[hit]
        out[k] = shapely.area(shapely.union_all(shapely.intersection(site, near)))
    return out / 1e4


# --------------------------------------------------------------------------- helpers


def _timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def _io_floor(layer: gpd.GeoDataFrame, prepared: gpd.GeoDataFrame) -> dict[str, float]:
    """Write the protected layer (GeoParquet, GeoPackage) and its prepared coverage, time reading them."""
    with tempfile.TemporaryDirectory(prefix="bench-exclusion-") as tmp:
        tmp = Path(tmp)
        layer.to_parquet(tmp / "protected.parquet")
        layer.to_file(tmp / "protected.gpkg", layer="protected", engine="pyogrio")
        key = coverage.prepared_key(layer, label_column="label")
        _, save_s = _timed(coverage.write_prepared, tmp, key, prepared)
        _, parquet_s = _timed(gpd.read_parquet, tmp / "protected.parquet")
        _, gpkg_s = _timed(gpd.read_file, tmp / "protected.gpkg", engine="pyogrio", use_arrow=True)
        _, read_prepared_s = _timed(coverage.read_prepared, tmp, key)
    return {"io_floor": parquet_s, "io_read_gpkg": gpkg_s, "prepared_cache_save": save_s,
            "prepared_cache_read": read_prepared_s}


def _on_land(rng: np.random.Generator, land, n: int) -> tuple[np.ndarray, np.ndarray]:
    x0, y0, x1, y1 = land.bounds
    xs, ys = [], []
    while sum(map(len, xs)) < n:  # rejection sampling in batches (a few rounds)
        x, y = rng.uniform(x0, x1, 3 * n), rng.uniform(y0, y1, 3 * n)
        ok = shapely.contains_xy(land, x, y)
        xs.append(x[ok])
        ys.append(y[ok])
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _blobs(rng: np.random.Generator, area_m2: np.ndarray, nv: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Star-shaped polygon rings centred on 0 with the given areas: (coords (n, nv+1, 2), max radius)."""
    n = len(area_m2)
    ang = (np.arange(nv) + rng.uniform(0.1, 0.9, (n, nv))) * (2 * np.pi / nv)  # strictly increasing: simple
    rad = rng.uniform(0.75, 1.25, (n, nv))
    ring = np.stack([rad * np.cos(ang), rad * np.sin(ang)], -1)
    ring = np.concatenate([ring, ring[:, :1]], 1)
    scale = np.sqrt(area_m2 / shapely.area(shapely.polygons(ring)))
    return ring * scale[:, None, None], 1.25 * scale


def _protected(rng: np.random.Generator, land) -> np.ndarray:
    n, n_parent = N_PROTECTED, N_PROTECTED // 2
    px, py = _on_land(rng, land, n_parent)
    big = rng.uniform(0, 1, n) < 0.02
    area_ha = np.where(big, 20 * 15 ** rng.uniform(0, 1, n), 0.5 * 40 ** rng.uniform(0, 1, n))
    ring, rmax = _blobs(rng, area_ha * 1e4)
    parent = rng.integers(0, n_parent, n - n_parent)
    angle = rng.uniform(0, 2 * np.pi, n - n_parent)
    offset = rmax[parent] * rng.uniform(0.2, 1.2, n - n_parent)
    cx = np.r_[px, px[parent] + offset * np.cos(angle)]
    cy = np.r_[py, py[parent] + offset * np.sin(angle)]
    polys = shapely.polygons(ring + np.stack([cx, cy], -1)[:, None, :])
    multi = np.flatnonzero(rng.uniform(0, 1, n) < 0.05)
    ring2, r2 = _blobs(rng, area_ha[multi] * 1e4 * rng.uniform(0.2, 0.6, len(multi)))
    angle = rng.uniform(0, 2 * np.pi, len(multi))
    dist = rmax[multi] + r2 + rng.uniform(20, 300, len(multi))
    second = shapely.polygons(ring2 + np.stack([cx[multi] + dist * np.cos(angle),
                                                cy[multi] + dist * np.sin(angle)], -1)[:, None, :])
    geoms = polys.copy()
    geoms[multi] = shapely.multipolygons(np.stack([polys[multi], second], 1).ravel(),
                                         indices=np.repeat(np.arange(len(multi)), 2))
    return geoms


def _sites(rng: np.random.Generator, land) -> np.ndarray:
    sx, sy = _on_land(rng, land, N_SITES)
    area_m2 = 20 * 40 ** rng.uniform(0, 1, N_SITES) * 1e4
    aspect = rng.uniform(1, 2.5, N_SITES)
    w = np.sqrt(area_m2 * aspect)
    h = area_m2 / w
    x0, y0, x1, y1 = sx - w / 2, sy - h / 2, sx + w / 2, sy + h / 2
    geoms = shapely.box(x0, y0, x1, y1)
    m = np.flatnonzero(rng.uniform(0, 1, N_SITES) < 0.1)
    split = x0[m] + 0.6 * w[m]
    halves = np.stack([shapely.box(x0[m], y0[m], split, y1[m]),  # east part moved 100 m east: area kept
                       shapely.box(split + 100, y0[m], x1[m] + 100, y1[m])], 1)
    geoms[m] = shapely.multipolygons(halves.ravel(), indices=np.repeat(np.arange(len(m)), 2))
    return geoms


def _print_table(result: dict) -> None:
    t, r = result["times_s"], result["ratios"]
    rows = [("project exclusion (no prepared layers)", t["project"], r["project/reference"]),
            ("project exclusion (prepared coverage)", t["project_prepared"], r["prepared/reference"]),
            ("reference: STRtree bulk + per-site union", t["reference"], 1.0),
            (f"naive bbox loop (extrapolated from {NAIVE_SAMPLE})", t["naive_extrapolated"],
             r["naive/reference"]),
            ("I/O floor: read layer (GeoParquet)", t["io_floor"], r["io_floor/reference"]),
            ("read layer (GeoPackage, pyogrio+arrow)", t["io_read_gpkg"], t["io_read_gpkg"] / t["reference"]),
            ("one-off: prepare coverage", t["prepare_one_off"], r["prepare_one_off/reference"]),
            ("one-off: save prepared (GeoParquet)", t["prepared_cache_save"], None),
            ("read prepared from cache", t["prepared_cache_read"], None),
            ("prepared exclusion + reading the prepared layer",
             t["project_prepared"] + t["prepared_cache_read"], r["prepared_incl_cache_read/reference"])]
    print(f"{'method':<48} {'time s':>8} {'x reference':>12}")
    for name, sec, ratio in rows:
        print(f"{name:<48} {sec:8.2f} {'' if ratio is None else f'{ratio:12.2f}'}")
    g = result["targets"]
    print(f"agreement: max |diff| {result['agree_max_abs_diff_ha']:.2e} ha per site "
          f"({'met' if g['agree_met'] else 'MISSED'} <= {g['agree_max_abs_diff_ha']:g})")
    print(f"targets: prepared <= {g['prepared_over_reference_max']} x reference: "
          f"{'met' if g['prepared_met'] else 'MISSED'}; project <= {g['project_over_reference_max']} x "
          f"reference: {'met' if g['project_met'] else 'MISSED'}")
    load = result["load_average"]
    print(f"load average before/after: {load['before']} / {load['after']}")

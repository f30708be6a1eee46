"""What the overview page needs to answer a click without a server: cell values, infrastructure, municipalities.

Internal to `screening.overview`. The page is static, so everything the point report shows is written here
once and read in the browser:

* ``surface/breakdown.tif`` -- one Cloud-Optimised GeoTIFF (EPSG:25832, the surface's own grid and cells,
  uint16, 65535 = no land): band 1 the total score x 100, then one band per assessed criterion (its 0-1
  band score x 10,000), last the exclusion bit mask. The page reads the one pixel under a click with
  geotiff.js (an HTTP range request for one 256 x 256 block), so the report shows the surface's exact cell.
* ``surface/breakdown.json`` -- the bands, each criterion's effective points, the rule of each exclusion bit,
  what was not assessed, every criterion's title (``titles``); texts in the current language.
* ``data/nearest.json`` -- the point and line features of the distance criteria (with the criterion's
  filter) in EPSG:25832 metres, so the page measures the straight-line distance to the nearest one as the
  screening does.
* ``data/kommuner.json`` -- name, code and WGS84 bounds of each municipality for the search box.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from screening import i18n
from screening._json import write_json
from screening.config import Criteria
from screening.errors import LayerUnavailableError

__all__ = ["NODATA", "TOTAL_SCALE", "CRITERION_SCALE", "write_breakdown", "write_nearest", "write_kommuner"]

log = logging.getLogger(__name__)

NODATA = 65535
TOTAL_SCALE = 100
"""``breakdown.tif`` band 1 holds round(score_total x 100): 0-10,000 for 0-100 points."""
CRITERION_SCALE = 10_000
"""Criterion bands hold round(band score x 10,000): 0-10,000 for 0-1."""
_ROWS = 512


def write_breakdown(surface_dir: Path, out_dir: Path, *, criteria: Criteria,
                    titles: Mapping[str, str] | None = None) -> dict:
    """Write ``breakdown.tif`` and ``breakdown.json`` in `out_dir` from a surface run with criterion bands.

    Parameters
    ----------
    surface_dir
        A folder of ``industripark surface --criterion-bands``: ``suitability.tif``, ``exclusion.tif``,
        ``criteria/<id>.tif`` and ``surface.json``.
    out_dir
        Folder to write into (created).
    criteria
        The configuration the surface was made with (titles, units, bands, exclusion rules).
    titles
        Display names by criterion id (in the current language); others keep their criteria.yaml title.

    Returns
    -------
    dict
        The content of ``breakdown.json``.

    Raises
    ------
    LayerUnavailableError
        When the surface folder lacks a file or its criterion bands.
    """
    import json

    import rasterio
    import rasterio.shutil
    from rasterio.windows import Window

    surface_dir = Path(surface_dir)
    meta = json.loads(_need(surface_dir / "surface.json").read_text(encoding="utf-8"))
    crit_ids = [c.id for c in criteria.criteria if c.id in meta["points"]]
    sources = [_need(surface_dir / "suitability.tif"),
               *(_need(surface_dir / "criteria" / f"{c}.tif") for c in crit_ids),
               _need(surface_dir / "exclusion.tif")]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / ".breakdown-tmp.tif"
    scales = [TOTAL_SCALE, *([CRITERION_SCALE] * len(crit_ids)), None]
    readers = [rasterio.open(p) for p in sources]
    try:
        ref = readers[0]
        profile = {"driver": "GTiff", "width": ref.width, "height": ref.height, "count": len(sources),
                   "dtype": "uint16", "nodata": NODATA, "crs": ref.crs, "transform": ref.transform,
                   "tiled": True, "blockxsize": 256, "blockysize": 256, "interleave": "pixel"}
        with rasterio.open(tmp, "w", **profile) as dst:
            for row in range(0, ref.height, _ROWS):  # strips of rows, not features
                win = Window(0, row, ref.width, min(_ROWS, ref.height - row))
                dst.write(np.stack([_scaled(r.read(1, window=win), s) for r, s in zip(readers, scales, strict=True)]),
                          window=win)
            for i, name in enumerate(["score_total", *crit_ids, "exclusion_bits"], start=1):
                dst.set_band_description(i, name)
        with rasterio.Env(GDAL_CACHEMAX=256):
            rasterio.shutil.copy(tmp, out_dir / "breakdown.tif", driver="COG", COMPRESS="DEFLATE", PREDICTOR=2,
                                 BLOCKSIZE=256, OVERVIEWS="NONE", NUM_THREADS=2)
    finally:
        for r in readers:
            r.close()
        tmp.unlink(missing_ok=True)
    rules = {_bit_index(bit): rule for rule, bit in meta.get("rule_bits", {}).items()}
    why = {r.id: i18n.text(r.why) for r in criteria.exclusions.rules}
    by_id = {c.id: c for c in criteria.criteria}
    info = {
        "file": "breakdown.tif", "crs": "EPSG:25832", "res_m": ref.res[0],
        "transform": list(ref.transform)[:6], "width": ref.width, "height": ref.height, "nodata": NODATA,
        "total_scale": TOTAL_SCALE, "criterion_scale": CRITERION_SCALE,
        "criteria": [{"id": c, "title": (titles or {}).get(c, i18n.text(by_id[c].title)), "points": meta["points"][c],
                      "group": by_id[c].group, "band": 2 + i} for i, c in enumerate(crit_ids)],
        "exclusion_band": len(sources),
        "rules": [{"bit": b, "id": r, "why": why.get(r, "")} for b, r in sorted(rules.items())],
        "not_assessed": meta.get("not_assessed", {}), "missing_rules": meta.get("missing_rules", {}),
        "titles": {c.id: (titles or {}).get(c.id, i18n.text(c.title)) for c in criteria.criteria},
        "config_hash": meta.get("config_hash", ""),
    }
    write_json(out_dir / "breakdown.json", info)
    log.info("point report: breakdown.tif with %d criteria, %.1f MB", len(crit_ids),
             (out_dir / "breakdown.tif").stat().st_size / 1e6)
    return info


def write_nearest(layers: Mapping[str, gpd.GeoDataFrame], criteria: Criteria, path: Path, *,
                  titles: Mapping[str, str] | None = None) -> dict:
    """Write the point and line features of every distance criterion whose layer is loaded, in metres.

    ``{"crs": "EPSG:25832", "criteria": [{"id", "title", "layer", "points": [[x, y, label], ...],
    "lines": [{"label", "coords": [[x, y], ...]}]}]}``; coordinates rounded to 1 m. Polygon layers are
    left out (the page reports the polygons under the click instead).
    """
    out = []
    for crit in criteria.criteria:  # about 20 configured criteria
        if crit.measure not in ("distance", "travel_time") or crit.layer not in layers:
            continue
        gdf = crit.filter.apply(layers[crit.layer], what=f"layer {crit.layer!r} ({crit.id})")
        geoms = gdf.geometry.to_numpy()
        kinds = shapely.get_type_id(geoms)
        if np.isin(kinds, (3, 6)).any() or not len(gdf):
            continue
        labels = (gdf[crit.label_column].astype(object).where(gdf[crit.label_column].notna(), "")
                  .astype(str).to_numpy() if crit.label_column and crit.label_column in gdf.columns
                  else np.full(len(gdf), "", dtype=object))
        pts = np.isin(kinds, (0, 4))
        parts, idx = shapely.get_parts(geoms[pts], return_index=True)  # below: lists of a few hundred features
        xy = np.round(shapely.get_coordinates(parts)).astype(int)
        points = [[int(x), int(y), str(lab)] for (x, y), lab in zip(xy, labels[pts][idx], strict=True)]
        lines = []
        line_parts, line_idx = shapely.get_parts(geoms[~pts], return_index=True)
        for part, lab in zip(line_parts, labels[~pts][line_idx], strict=True):  # a few hundred line parts per layer
            lines.append({"label": str(lab), "coords": np.round(shapely.get_coordinates(part)).astype(int).tolist()})
        out.append({"id": crit.id, "title": (titles or {}).get(crit.id, i18n.text(crit.title)), "layer": crit.layer,
                    "travel": crit.measure == "travel_time", "points": points, "lines": lines})
    data = {"crs": "EPSG:25832", "criteria": out}
    write_json(Path(path), data)
    return data


def write_kommuner(kommuner: gpd.GeoDataFrame, path: Path, *, label: str = "kommunenavn") -> list[dict]:
    """Write ``[{"kode", "navn", "bbox": [west, south, east, north]}]`` (WGS84 degrees), sorted by name."""
    wgs = kommuner.to_crs(4326)
    bounds = wgs.geometry.bounds.round(5)
    codes = wgs["kommunekode"].astype(str) if "kommunekode" in wgs.columns else wgs.index.astype(str)
    rows = [{"kode": k, "navn": str(n), "bbox": [b.minx, b.miny, b.maxx, b.maxy]}
            for k, n, b in zip(codes, wgs[label], bounds.itertuples(), strict=True)]  # 99 kommuner
    rows.sort(key=lambda r: r["navn"])
    write_json(Path(path), rows)
    return rows


def copy_surface_source(surface_dir: Path, out_dir: Path) -> None:
    """Copy ``surface.json`` of the surface run used, for provenance."""
    shutil.copy2(Path(surface_dir) / "surface.json", Path(out_dir) / "surface.json")


# --------------------------------------------------------------------------- helpers


def _need(path: Path) -> Path:
    if not path.exists():
        hint = "--criterion-bands " if "criteria" in path.parts else ""
        msg = (f"{path}: surface file not found; build the surface with 'industripark surface {hint}--out "
               f"reports/surface' (the overview needs the criterion bands for its point report)")
        raise LayerUnavailableError(msg)
    return path


def _scaled(values: np.ndarray, scale: int | None) -> np.ndarray:
    """Float band -> uint16 with NODATA where not finite; `scale` None passes the bit mask through."""
    if scale is None:
        return values.astype(np.uint16)
    out = np.full(values.shape, NODATA, dtype=np.uint16)
    ok = np.isfinite(values)
    out[ok] = np.clip(np.round(values[ok] * scale), 0, NODATA - 1).astype(np.uint16)
    return out


def _bit_index(bit: int) -> int:
    """Bit position of a power of two (``rule_bits`` values are 1, 2, 4, ...)."""
    return int(bit).bit_length() - 1

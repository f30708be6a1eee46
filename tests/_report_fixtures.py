"""Synthetic run data shaped like the pipeline's, for the report tests (and the README screenshots).

Coordinates are round EPSG:25832 metres around (X0, Y0); everything is known by construction: six
applications, two proposed (A1, A2), two eligible (A3, A4), two excluded (A5, A6, inside the bird
protection area "Vejlerne"), and a manifest that is incomplete because ``natura2000_habitat`` is missing.

``python -m tests._report_fixtures OUT_DIR [--mirror]`` writes a demo run (on the real mirrored context
layers with ``--mirror``) to OUT_DIR, e.g. to look at it in a browser.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString, Point, box

from screening.config import load_criteria

__all__ = [
    "X0", "Y0", "SITES", "synthetic_context", "synthetic_run", "breakdown_for", "mirror_context",
    "mirror_run"
]

X0, Y0 = 500_000, 6_200_000  # round EPSG:25832 coordinates (metres) in Jutland
CRS = "EPSG:25832"

# id, site name, kommune index (0-3), x offset km, y offset km, status
SITES = [
    ("A1", "Vestpark Nord", 0, 12, 60, "proposed"), ("A2", "Østerby Erhverv", 3, 100, 55, "proposed"),
    ("A3", "Kløvermarken", 1, 20, 15, "eligible"), ("A4", "Hedegård Syd", 2, 75, 65, "eligible"),
    ("A5", "Vejlerne Øst", 3, 88, 14, "excluded"), ("A6", "Fjordengen", 3, 94, 17, "excluded")
]
_KOMMUNER = [
    ("0101", "Vestby", "1081", "Region Vest"), ("0102", "Midtby", "1081", "Region Vest"),
    ("0201", "Nordby", "1082", "Region Øst"), ("0202", "Østby", "1082", "Region Øst")
]


def synthetic_context() -> dict[str, gpd.GeoDataFrame]:
    """Two regions of 60 x 80 km, four municipalities, one bird area, a 400 kV line and a few points."""

    def frame(data, geoms):
        return gpd.GeoDataFrame(data, geometry=geoms, crs=CRS)

    km = 1000
    regioner = frame(
        {"regionskode": ["1081", "1082"], "regionsnavn": ["Region Vest", "Region Øst"]},
        [box(X0, Y0, X0 + 60 * km, Y0 + 80 * km), box(X0 + 60 * km, Y0, X0 + 120 * km, Y0 + 80 * km)],
    )
    kommuner = frame(
        {
            "kommunekode": [k[0] for k in _KOMMUNER], "kommunenavn": [k[1] for k in _KOMMUNER],
            "regionskode": [k[2] for k in _KOMMUNER], "regionsnavn": [k[3] for k in _KOMMUNER]
        },
        [
            box(X0, Y0 + 40 * km, X0 + 60 * km, Y0 + 80 * km), box(X0, Y0, X0 + 60 * km, Y0 + 40 * km),
            box(X0 + 60 * km, Y0 + 40 * km, X0 + 120 * km, Y0 + 80 * km),
            box(X0 + 60 * km, Y0, X0 + 120 * km, Y0 + 40 * km)
        ],
    )
    bird = frame(
        {"objektnavn": ["Vejlerne"], "site_nr": ["F20"]},
        [box(X0 + 85 * km, Y0 + 10 * km, X0 + 97 * km, Y0 + 20 * km)],
    )
    coarse = frame(
        {"n2000_navn": ["Vejlerne og Løgstør Bredning"], "n2000_nr": ["16"]},
        [box(X0 + 84 * km, Y0 + 9 * km, X0 + 98 * km, Y0 + 22 * km)],
    )
    line = frame(
        {"name": ["Vest-Øst 400 kV"], "voltage_kv": [400]},
        [
            LineString(
                [(X0 + 5 * km, Y0 + 70 * km), (X0 + 60 * km, Y0 + 50 * km), (X0 + 115 * km, Y0 + 60 * km)]
            )
        ],
    )

    def points(names, xy, **cols):
        return frame({"name": names, **cols}, [Point(X0 + x * km, Y0 + y * km) for x, y in xy])

    return {
        "regioner": regioner,
        "kommuner": kommuner,
        "natura2000_fuglebeskyttelse": bird,
        "natura2000_omraader_simplified": coarse,
        "hv_lines": line,
        "hv_substations": points(
            ["Idomlund", "Tjele", "Knudshoved"], [(14, 69), (60, 50), (110, 59)], typ=["substation"] * 3,
            max_voltage_kv=[400, 400, 220]
        ),
        "rail_stations": points(["Vestby St.", "Østby St."], [(15, 58), (101, 40)]),
        "ports": points(["Vestby Havn"], [(2, 30)]),
        "airports": points(["Midt Lufthavn", "Svæveflyveplads"], [(60, 30), (30, 40)], iata=["MDL", None]),
        "towns": points(
            ["Vestby", "Østby", "Midtby", "Nordby"], [(16, 59), (101, 41), (30, 20), (80, 70)],
            population=[48_000, 61_000, 12_500, 7_200]
        ),
    }


def synthetic_run(*, incomplete: bool = True) -> dict:
    """The keyword arguments of `write_report` (without `run_dir`) for the six synthetic applications."""
    criteria = load_criteria()
    km = 1000
    rows = []
    for i, (aid, name, k, x, y, _status) in enumerate(SITES):
        kode, knavn, rkode, rnavn = _KOMMUNER[k]
        rows.append(
            {
                "application_id": aid, "site_name": name, "kommunekode": kode, "kommunenavn": knavn,
                "regionskode": rkode, "regionsnavn": rnavn, "co_applicant_kommunekoder": "",
                "_geom": box(X0 + x * km, Y0 + y * km, X0 + x * km + 1000, Y0 + y * km + 1000 + 100 * i)
            }
        )
    cand = gpd.GeoDataFrame(
        pd.DataFrame(rows).drop(columns="_geom"), geometry=[r["_geom"] for r in rows], crs=CRS
    )
    cand["area_ha"] = cand.area / 10_000
    breakdown = pd.concat(
        [breakdown_for(aid, criteria, seed=i) for i, aid in enumerate(cand["application_id"])],
        ignore_index=True,
    )
    return _assemble(cand, breakdown, criteria, [s[5] for s in SITES], incomplete=incomplete)


def breakdown_for(
    aid: str, criteria, *, seed: int, distances: dict[str, tuple[float, str]] | None = None
) -> pd.DataFrame:
    """A breakdown shaped like `scoring.score`'s for one application; scores vary with `seed`.

    `distances` (criterion id -> (metres, nearest label)) replaces the made-up distances.
    """
    rng = np.random.default_rng(seed)
    groups = {g.id: g.weight for g in criteria.groups}
    totals = {g: sum(c.weight for c in criteria.criteria if c.group == g) for g in groups}
    out = []
    for crit in criteria.criteria:
        weight = groups[crit.group] * 100 * crit.weight / totals[crit.group]
        nearest, method, note = "", "straight line", ""
        if crit.measure in ("distance", "travel_time", "reach_sum", "reach_count"):
            lo, hi = crit.band.points[0][0], crit.band.points[-1][0]
            raw = float(np.round(rng.uniform(lo * 0.5, hi * 1.1), 0))
            if distances and crit.id in distances:
                raw, nearest = distances[crit.id]
            elif crit.measure == "distance":
                nearest = {
                    "hv_substation": "Idomlund", "rail_station": "Vestby St.", "port": "Vestby Havn",
                    "airport": "Midt Lufthavn"
                }.get(crit.id, "")
            if crit.measure == "travel_time":
                method = "straight line × 1.3 at 60 km/h"
            xs, ys = zip(*crit.band.points, strict=True)
            score = float(np.interp(raw, xs, ys))
            assessed = crit.id != "business_areas"
        else:
            keys = list(crit.mapping) if crit.mapping else [0, 2, 5]
            raw = keys[int(rng.integers(len(keys)))]
            assessed = not (crit.id == "council_decision" and seed % 3 == 2)
            score = (
                crit.mapping[raw]
                if crit.mapping
                else float(np.interp(raw, *zip(*crit.band.points, strict=True)))
            )
            method = "declared by municipality"
            if crit.id == "council_decision":
                raw = "2025-03-12" if raw == "present" else None
                score = 1.0 if raw else 0.0
        if not assessed:
            raw, score, note = (
                None, np.nan,
                ("layer kommuneplanrammer missing" if crit.layer else f"{crit.field} not stated")
            )
        band = (
            ""
            if crit.band is None
            else (
                f"≤ {crit.band.points[0][0]:,.0f} {crit.unit} → "
                f"{crit.band.points[0][1]:.1f}, ≥ {crit.band.points[-1][0]:,.0f} "
                f"{crit.unit} → {crit.band.points[-1][1]:.1f}"
            )
        )
        out.append(
            {
                "application_id": aid, "group": crit.group, "criterion": crit.id, "title": crit.title,
                "raw_value": raw, "unit": crit.unit, "band": band, "score": score, "weight": weight,
                "contribution": 0.0 if np.isnan(score) else weight * score, "assessed": assessed,
                "method": method if assessed else "", "nearest": nearest, "note": note,
                "layer": crit.layer or "", "source": "Test source, CC0" if crit.layer else "submission",
                "date": "2016" if crit.layer else ""
            }
        )
    return pd.DataFrame(out)


def mirror_context(mirror_root: Path) -> dict[str, gpd.GeoDataFrame]:
    """The real context layers read straight from the mirror (GeoPackages in EPSG:25832)."""
    files = {
        "regioner": "boundaries/regioner.gpkg", "kommuner": "boundaries/kommuner.gpkg",
        "natura2000_fuglebeskyttelse": "protected_nature/natura2000_fuglebeskyttelse.gpkg",
        "natura2000_omraader_simplified": "protected_nature/natura2000_omraader_simplified.gpkg",
        "hv_lines": "energy/hv_lines.gpkg", "hv_substations": "energy/hv_substations.gpkg",
        "rail_stations": "transport/rail_stations.gpkg", "ports": "transport/ports.gpkg",
        "airports": "transport/airports.gpkg", "towns": "labour/towns.gpkg"
    }
    return {k: gpd.read_file(Path(mirror_root) / v) for k, v in files.items()}


def mirror_run(mirror_root: Path, context: dict[str, gpd.GeoDataFrame]) -> dict:
    """A demo run on the real approximate 2025 applications and the real context layers.

    Distances to substations, rail stations, ports and airports are measured (straight line); every other
    criterion value, the exclusions and the proposal are made up. For tests and screenshots only.
    """
    criteria = load_criteria()
    apps = gpd.read_file(Path(mirror_root) / "submissions/applications_2025_approx.gpkg")
    kom = context["kommuner"][["kommunekode", "regionskode", "regionsnavn"]]
    cand = apps.drop(columns=[c for c in ("regionskode", "regionsnavn") if c in apps]).merge(
        kom, on="kommunekode", how="left"
    )
    cand = gpd.GeoDataFrame(cand, geometry="geometry", crs=apps.crs)
    cand["area_ha"] = cand.area / 10_000
    parts = []
    for i, row in enumerate(cand.itertuples()):  # fifteen applications
        dist = {}
        for cid, lid in (
            ("hv_substation", "hv_substations"), ("rail_station", "rail_stations"), ("port", "ports"),
            ("airport", "airports")
        ):
            layer = context[lid]
            if cid == "hv_substation":
                layer = layer.loc[layer["typ"].isin(["substation", "sub_station"])]
            if cid == "airport":
                layer = layer.loc[layer["iata"].notna() & (layer["iata"].astype(str) != "")]
            d = layer.distance(row.geometry)
            dist[cid] = (float(round(d.min())), str(layer.loc[d.idxmin(), "name"]))
        parts.append(breakdown_for(row.application_id, criteria, seed=i, distances=dist))
    breakdown = pd.concat(parts, ignore_index=True)
    inside = cand.intersects(context["natura2000_fuglebeskyttelse"].union_all())
    status = np.where(inside, "excluded", "eligible").astype(object)
    return _assemble(cand, breakdown, criteria, list(status), incomplete=True, propose=6)


def _assemble(cand, breakdown, criteria, status, *, incomplete: bool, propose: int | None = None) -> dict:
    """Totals, ranks, exclusions, selection and manifest consistent with `breakdown` and `status`."""
    totals = breakdown.groupby("application_id", sort=False)["contribution"].sum()
    cand = cand.copy()
    cand["score_total"] = cand["application_id"].map(totals).round(1)
    for g in criteria.groups:
        part = breakdown.loc[(breakdown["group"] == g.id) & breakdown["assessed"]]
        share = (
            part.groupby("application_id")["contribution"].sum()
            / part.groupby("application_id")["weight"].sum()
        )
        cand[f"score_{g.id}"] = cand["application_id"].map(100 * share).round(1)
    status = pd.Series(status, index=cand.index)
    if propose:
        eligible = cand.loc[status != "excluded"].sort_values("score_total", ascending=False)
        status.loc[eligible.index[:propose]] = "proposed"
    cand["excluded"] = status.eq("excluded")
    cand["net_area_ha"] = np.where(cand["excluded"], 0.0, cand["area_ha"] * 0.9)
    vejlerne = (
        "Natura 2000 bird protection area: an industripark may not lie in Natura 2000 (lov § 13, stk. 2)"
    )
    cand["exclusion_reasons"] = np.where(
        cand["excluded"], vejlerne + " – Natura 2000 F-område 'Vejlerne'", ""
    )
    cand["flags"] = ""
    missing = "natura2000_habitat"
    cand["incomplete"] = f"incomplete: {missing} missing" if incomplete else ""
    cand["bonus_points"] = 0.0
    cand["not_assessed"] = "Existing business areas (kommuneplanramme erhverv) within 30 minutes"
    elig = ~cand["excluded"]
    cand["rank"] = cand["score_total"].where(elig).rank(ascending=False, method="min")
    cand["rank_min"] = (cand["rank"] - 1).clip(lower=1)
    cand["rank_max"] = cand["rank"] + 2
    cand["top_k_probability"] = np.where(elig, np.clip(1.1 - 0.15 * cand["rank"].fillna(9), 0, 1), np.nan)
    cand["selected"] = status.eq("proposed")
    prop = cand.loc[cand["selected"]].sort_values("score_total", ascending=False)
    cand["proposal_rank"] = cand["application_id"].map(
        {a: i + 1 for i, a in enumerate(prop["application_id"])}
    )
    cand["selection_reason"] = np.where(
        cand["selected"], "selected: highest score in its region within the spread rules",
        np.where(elig, "not selected: a higher-scoring site in the same region was preferred", "")
    )
    ex = cand.loc[cand["excluded"]]
    overlaps = pd.DataFrame(
        {
            "application_id": ex["application_id"], "rule_id": "natura2000_fuglebeskyttelse",
            "layer": "natura2000_fuglebeskyttelse", "action": "exclude", "buffer_m": 0.0,
            "overlap_ha": (ex["area_ha"] * 0.6).round(1), "overlap_share": 0.6,
            "features": "Natura 2000 F-område 'Vejlerne'", "decisive": True,
            "source": "Danmarks Miljøportal, CC0 1.0"
        }
    )
    selection = {
        "status": "optimal", "proven_optimal": True, "objective": float(prop["score_total"].sum()),
        "selected": prop["application_id"].tolist(),
        "alternatives": [{"rank": 2, "objective": 90.5, "delta": -2.3, "proven_optimal": True,
                          "selected": prop["application_id"].tolist()[:-1],
                          "differs_from_best": {"out": prop["application_id"].tolist()[-1:], "in": ["A3"]}}],
        "backtest": {"designated": 2, "proposed": 2, "both": 1,
                     "text": "The proposal picks 1 of the 2 applications designated in 2025.",
                     "designated_not_proposed": [{"application_id": "A3",
                                                  "text": "A3 designated, not proposed"}]},
        "rules": {"k_min": 2, "k_max": 11, "max_per_kommune": 1, "spacing_km": 25}, "infeasibility": None
    }
    layers = {
        k: {
            "title": k.replace("_", " "), "origin": "mirror", "location": f"/mirror/{k}.gpkg",
            "source": "Test source, CC0", "date": "2016", "version": "abc", "features": 3
        }
        for k in ("natura2000_fuglebeskyttelse", "hv_substations", "rail_stations", "ports", "airports")
    }
    manifest = {
        "run_id": "20250101T120000Z",
        "created": "2025-01-01T12:00:00+00:00",
        "inputs": [{"path": "data/submissions/test.geojson", "sha256": "0123456789abcdef" * 4}],
        "layers": layers,
        "missing_layers": (
            {missing: "not in the mirror and the official source is offline"} if incomplete else {}
        )
        | {"roads": "not in the mirror"},
        "incomplete": incomplete,
        "incomplete_text": f"incomplete: {missing} missing" if incomplete else "",
        "config_hash": "feedc0ffee123456",
        "versions": {"geopandas": "1.x"},
        "timings_s": {"scoring": 0.1},
    }
    return {
        "candidates": cand, "breakdown": breakdown, "overlaps": overlaps.reset_index(drop=True),
        "selection": selection, "manifest": manifest, "criteria": criteria
    }


if __name__ == "__main__":  # python -m tests._report_fixtures OUT_DIR [--mirror]
    from screening.config import settings_from_env
    from screening.report import write_report

    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    if "--mirror" in sys.argv:
        ctx = mirror_context(settings_from_env().mirror_root)
        run = mirror_run(settings_from_env().mirror_root, ctx)
    else:
        ctx, run = synthetic_context(), synthetic_run()
    paths = write_report(
        out_dir, run.pop("candidates"), run.pop("breakdown"), run.pop("overlaps"), run.pop("selection"),
        run.pop("manifest"), context=ctx, criteria=run.pop("criteria")
    )
    sys.stdout.write(f"{paths['index']}\n")

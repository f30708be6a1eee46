"""Location checks of one submission frame: the site on Danish land, in its applying municipalities, in which
region, and of a plausible area.

Danish land is the union of the ``kommuner`` layer (land only: the sea and abroad are outside). Each placed
outline is cut once into its pieces per municipality (STRtree bulk query + one vectorised intersection);
every share below is computed from those pieces. The layer is generalised, so shares are areas, not edges.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from screening._geo import area_ha
from screening._problems import NOTE_JOIN, num, percent, share, shown, text
from screening._validate_geometry import as_multipolygons, guarded

__all__ = ["PLACE_COLUMNS", "check_places"]

PLACE_COLUMNS = ("regionskode", "regionsnavn", "outside_denmark_ha", "outside_denmark_share", "site_notes")
"""What `check_places` finds per feature besides problems (the region is that of the land, not the applicant)."""

_WHOLLY = 0.995  # a largest share at least this is "lies in", below it "lies mostly in"


def check_places(attrs: pd.DataFrame, metric: np.ndarray, placed: np.ndarray, kommuner: gpd.GeoDataFrame,
                 table: pd.DataFrame, rules, at) -> tuple[list, pd.DataFrame, np.ndarray]:
    """Share outside Danish land, the applying municipalities' share, the region of the land, names, areas.

    Returns the problems, a frame of `PLACE_COLUMNS` by feature position, and the outlines to screen
    (EPSG:25832): the outline as drawn, or its part on Danish land when more than the warning share
    (``rules.outside_land_warn_share`` and ``outside_land_warn_min_ha``) lies outside.
    """
    n = len(metric)
    codes = attrs["kommunekode"] if "kommunekode" in attrs else pd.Series(np.nan, attrs.index, dtype=object)
    co = attrs["co_applicant_kommunekoder"] if "co_applicant_kommunekoder" in attrs else None
    pieces, failed = _pieces(metric, placed, kommuner)
    problems = [at(i, "geometry", "geos_failed", operation=text("intersected"), reason=msg)
                for i, msg in failed.items()]
    ok = placed & ~np.isin(np.arange(n), list(failed))
    drawn_m2 = shapely.area(np.where(ok, metric, None))  # NaN where not placed
    land_m2 = np.bincount(pieces["feature"], weights=pieces["area_m2"], minlength=n)
    outside_m2 = np.clip(drawn_m2 - land_m2, 0.0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        share_out = outside_m2 / drawn_m2
    nowhere = ok & (land_m2 <= 1e-9 * drawn_m2)
    refused = ok & ~nowhere & (share_out > rules.outside_land_error_share)
    cut = ok & ~nowhere & ~refused & (share_out > rules.outside_land_warn_share) & (
        outside_m2 / 10_000 > rules.outside_land_warn_min_ha)
    problems += [at(i, "geometry", "no_municipality") for i in np.flatnonzero(nowhere)]
    problems += [at(i, "geometry", "mostly_outside_land", share=percent(share_out[i]),
                    outside_ha=num(outside_m2[i] / 1e4, 1), limit=percent(rules.outside_land_error_share))
                 for i in np.flatnonzero(refused)]
    screened, notes = metric.copy(), [[] for _ in range(n)]
    screened[cut], more = _land_part(pieces, np.flatnonzero(cut), at)
    problems += more
    for i in np.flatnonzero(cut):  # the few sites reaching beyond the land
        values = {"share": percent(share_out[i]), "outside_ha": num(outside_m2[i] / 1e4, 1),
                  "land_ha": num(land_m2[i] / 1e4, 1)}
        problems.append(at(i, "geometry", "outside_land", "warning", **values))
        notes[i].append(text("outside_land", **values))
    on_land = ok & ~nowhere
    pieces["share"] = pieces["area_m2"] / land_m2[pieces["feature"].to_numpy()]
    region = _largest(pieces.groupby(["feature", "regionskode"], as_index=False)["share"].sum(), n, "regionskode")
    stated, other = _applicants_share(pieces, codes, co, n)
    known = codes.isin(table.index).to_numpy()
    problems += _unknown_codes(codes, known, _largest(pieces, n, "kommunekode"), table, at)
    few = on_land & known & (stated < rules.min_share_in_kommune)
    problems += [at(i, "kommunekode", "few_in_applicants", "warning", stated=share(stated[i]),
                    other=share(1 - stated[i]),
                    applying=_applying(codes.iloc[i], co, i, table), code=other["kommunekode"].iloc[i],
                    name=table.loc[other["kommunekode"].iloc[i], "kommunenavn"]) for i in np.flatnonzero(few)]
    regions = table.drop_duplicates("regionskode").set_index("regionskode")["regionsnavn"]
    _region_notes(notes, codes, known, few, on_land, region, _largest(pieces, n, "kommunekode"), table, regions)
    problems += _name_checks(attrs, codes, known, table, at)
    problems += _area_rules(attrs, metric, ok & ~nowhere, rules, at)
    places = pd.DataFrame({
        "regionskode": region["regionskode"].to_numpy(dtype=object),
        "regionsnavn": regions.reindex(region["regionskode"]).to_numpy(dtype=object),
        "outside_denmark_ha": outside_m2 / 10_000, "outside_denmark_share": share_out,
        "site_notes": [NOTE_JOIN.join(parts) for parts in notes]})
    return problems, places, screened


# --------------------------------------------------------------------------- helpers (in call order)


def _pieces(metric: np.ndarray, placed: np.ndarray, kommuner: gpd.GeoDataFrame) -> tuple[pd.DataFrame, dict]:
    """Each placed outline cut by the municipalities it meets: ``feature, kommunekode, regionskode, area_m2,
    geometry``; and {feature: GEOS message} where the cut failed."""
    idx = np.flatnonzero(placed)
    k_geoms = np.asarray(kommuner.geometry.values, dtype=object)
    k_codes = kommuner["kommunekode"].astype(str).str.zfill(4).to_numpy(dtype=object)
    k_regions = kommuner["regionskode"].astype(str).to_numpy(dtype=object)
    left, right = shapely.STRtree(k_geoms).query(metric[idx], predicate="intersects")
    cut, failed = guarded(shapely.intersection, metric[idx][left], k_geoms[right])
    bad = np.isin(np.arange(len(left)), list(failed))
    pieces = pd.DataFrame({"feature": idx[left], "kommunekode": k_codes[right], "regionskode": k_regions[right],
                           "area_m2": np.where(bad, 0.0, shapely.area(np.where(bad, None, cut))), "geometry": cut})
    return pieces[~bad].reset_index(drop=True), {int(idx[left[k]]): msg for k, msg in failed.items()}


def _land_part(pieces: pd.DataFrame, features: np.ndarray, at) -> tuple[np.ndarray, list]:
    """The part of each of `features` on Danish land: its pieces joined, polygonal parts kept."""
    out, problems = np.full(len(features), None, dtype=object), []
    for k, i in enumerate(features):  # only the sites that reach beyond the land (a few)
        parts = pieces.loc[pieces["feature"] == i, "geometry"].to_numpy(dtype=object)
        joined, failed = guarded(lambda g: np.array([shapely.union_all(g)], dtype=object), parts)
        if failed:
            problems.append(at(i, "geometry", "geos_failed", operation=text("joined"), reason=failed[0]))
        out[k] = as_multipolygons(joined[:1])[0]
    return out, problems


def _largest(share_df: pd.DataFrame, n: int, key: str) -> pd.DataFrame:
    """Per feature 0..n-1 the row of `share_df` with the largest share (NaN where the feature has none)."""
    rows = share_df.sort_values("share").drop_duplicates("feature", keep="last")
    return rows.set_index("feature")[[key, "share"]].reindex(range(n))


def _applicants_share(pieces: pd.DataFrame, codes: pd.Series, co: pd.Series | None,
                      n: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Share of each site's land inside its lead municipality plus co-applicants (a joint site may cross their
    border), and the largest other municipality per site (``kommunekode``, ``share``; NaN if none)."""
    applying = codes.astype(object).where(codes.notna(), "").to_numpy(dtype=object)
    if co is not None:
        applying = applying + "," + co.astype(object).where(co.notna(), "").to_numpy(dtype=object)
    owners = applying[pieces["feature"].to_numpy()]
    inside = np.array([code in owner.split(",") for code, owner in  # pairs of site x municipality met
                       zip(pieces["kommunekode"], owners, strict=True)], dtype=bool)
    stated = np.bincount(pieces["feature"][inside], weights=pieces["share"][inside], minlength=n)
    rest = pieces[~inside].groupby(["feature", "kommunekode"], as_index=False)["share"].sum()
    return stated, _largest(rest, n, "kommunekode")


def _unknown_codes(codes: pd.Series, known: np.ndarray, top: pd.DataFrame, table: pd.DataFrame, at) -> list:
    """A declared code that is no municipality's: an error suggesting the one the site lies in."""
    problems = []
    for i in np.flatnonzero(codes.notna().to_numpy() & ~known):  # the bad codes of one file
        guess = top["kommunekode"].iloc[i]
        fix = dict(fix="code_here", code=guess, name=table.loc[guess, "kommunenavn"]) if pd.notna(guess) else dict(
            fix="kommunekode")
        problems.append(at(i, "kommunekode", "unknown_code", value=f"'{codes.iloc[i]}'", count=num(len(table)), **fix))
    return problems


def _applying(code: str, co: pd.Series | None, i: int, table: pd.DataFrame) -> str:
    partners = co.iloc[i] if co is not None and pd.notna(co.iloc[i]) else ""
    name = table.loc[code, "kommunenavn"]
    return text("applying_with", code=code, name=name, partners=partners) if partners else text(
        "applying", code=code, name=name)


def _region_notes(notes: list, codes, known, few, on_land, region, top, table, regions) -> None:
    """Notes where the land is not where the applicant is: another municipality, or another region."""
    for i in np.flatnonzero(on_land & known):  # the applications of one file
        code, area_region = codes.iloc[i], region["regionskode"].iloc[i]
        lead_region = table.loc[code, "regionskode"]
        used = text("region_used") if area_region != lead_region else ""
        if few[i]:
            big = top["kommunekode"].iloc[i]
            kind = "kommune_elsewhere" if top["share"].iloc[i] >= _WHOLLY else "kommune_elsewhere_mostly"
            notes[i].append(text(kind, code=code, name=table.loc[code, "kommunenavn"], big=big,
                                 big_name=table.loc[big, "kommunenavn"], region=regions[area_region]) + used)
        elif used:
            kind = "region_elsewhere" if region["share"].iloc[i] >= _WHOLLY else "region_elsewhere_mostly"
            notes[i].append(text(kind, region=regions[area_region], code=code,
                                 name=table.loc[code, "kommunenavn"], lead_region=regions[lead_region]) + used)


def _name_checks(attrs: pd.DataFrame, codes: pd.Series, known: np.ndarray, table: pd.DataFrame, at) -> list:
    """Declared kommunenavn and region must agree with the kommunekode (warnings)."""
    def norm(name) -> str:
        return re.sub(r"^region\s+|\s+kommune$", "", str(name).strip().casefold())

    problems = []
    looked_up = table.reindex(codes.where(pd.Series(known, codes.index)))
    for field, truth in (("kommunenavn", "kommunenavn"), ("region", "regionsnavn")):
        declared = attrs[field].to_numpy(dtype=object) if field in attrs else np.full(len(codes), None)
        actual = looked_up[truth].to_numpy(dtype=object)
        problems += [at(i, field, "name_mismatch", "warning", value=shown(declared[i]), code=codes.iloc[i],
                        actual=actual[i], column=field)
                     for i in np.flatnonzero(known & pd.notna(declared))
                     if norm(declared[i]) != norm(actual[i])]
    return problems


def _area_rules(attrs: pd.DataFrame, metric: np.ndarray, placed: np.ndarray, rules, at) -> list:
    """Drawn area within the plausible range (error); declared area close to the drawn one (warning)."""
    areas = np.full(len(metric), np.nan)
    areas[placed] = area_ha(metric[placed])
    problems = [at(i, "geometry", "area_too_small", area=num(areas[i], 2), limit=num(rules.min_area_ha, None))
                for i in np.flatnonzero(placed & (areas < rules.min_area_ha))]
    problems += [at(i, "geometry", "area_too_large", area=num(areas[i], 2), limit=num(rules.max_area_ha))
                 for i in np.flatnonzero(placed & (areas > rules.max_area_ha))]
    if "area_ha_declared" in attrs:
        declared = attrs["area_ha_declared"].to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            off = np.abs(areas - declared) / areas
        off_limit = placed & ~np.isnan(declared) & (off > rules.declared_area_tolerance)
        problems += [at(i, "area_ha_declared", "declared_off", "warning", declared=num(declared[i], 2),
                        area=num(areas[i], 2), off=share(off[i])) for i in np.flatnonzero(off_limit)]
    return problems

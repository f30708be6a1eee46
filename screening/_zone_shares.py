"""Zone shares of the candidates (Plandata zonekort): hectares in byzone, sommerhusområde, mixed zone codes
and landzone, and the rows and texts of the ``zonekort`` flag rule.

Internal to `screening.exclusion` (which re-exports `zone_shares`). All geometries are EPSG:25832.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from screening import coverage
from screening._exclusion_measure import check_candidates
from screening._exclusion_rows import rows
from screening._geo import M2_PER_HA, require_crs
from screening.config import ExclusionRule
from screening.errors import LayerDataError
from screening.i18n import N_, fmt_number
from screening.i18n import gettext as _

__all__ = ["ZONES", "zone_shares", "zone_rows"]

log = logging.getLogger(__name__)

ZONES = {"landzone_ha": N_("landzone"), "byzone_ha": N_("byzone"), "sommerhus_ha": N_("sommerhusområde"),
          "mixed_ha": N_("mixed zone codes 4-7")}
"""Zone share columns and their names in texts (translated where used)."""


def zone_shares(candidates: gpd.GeoDataFrame, zonekort: gpd.GeoDataFrame) -> pd.DataFrame:
    """Hectares of each candidate in byzone, sommerhusområde, mixed zone codes and landzone.

    Plandata zone codes: 1 byzone, 2 landzone, 3 sommerhusområde, 4-7 mixed statuses. Land covered by no
    zonekort polygon is landzone. Where polygons overlap, byzone takes precedence over sommerhusområde,
    which takes precedence over the mixed codes, so the four areas sum to the candidate's area.

    Parameters
    ----------
    candidates
        ``application_id`` and (multi)polygons, EPSG:25832.
    zonekort
        Zone polygons with a ``zone`` column, EPSG:25832.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``application_id``: ``byzone_ha``, ``sommerhus_ha``, ``mixed_ha``, ``landzone_ha``
        (hectares) and ``landzone_share`` (0-1).

    Raises
    ------
    LayerDataError
        When `zonekort` has no ``zone`` column.
    """
    ids = check_candidates(candidates)
    require_crs(zonekort, "layer zonekort")
    if "zone" not in zonekort.columns:
        msg = f"layer zonekort: column 'zone' not found; columns: {list(zonekort.columns)}; see catalog.yaml"
        raise LayerDataError(msg)
    codes = pd.to_numeric(zonekort["zone"], errors="coerce").to_numpy()
    unknown = int((~np.isin(codes, [1, 2, 3, 4, 5, 6, 7])).sum())
    if unknown:
        log.warning("layer zonekort: %d polygons with a zone code outside 1-7 count as landzone", unknown)
    sites, geoms = candidates.geometry.to_numpy(), zonekort.geometry.to_numpy()
    area = shapely.area(sites)
    covered = []
    for codes_so_far in ([1], [1, 3], [1, 3, 4, 5, 6, 7]):  # three nested zone classes, not features
        covered.append(coverage.overlap_hits(sites, geoms[np.isin(codes, codes_so_far)]).overlap_m2)
    by, by_som, by_som_mixed = covered
    land = np.clip(area - by_som_mixed, 0.0, None)
    return pd.DataFrame({
        "byzone_ha": by / M2_PER_HA,
        "sommerhus_ha": np.clip(by_som - by, 0.0, None) / M2_PER_HA,
        "mixed_ha": np.clip(by_som_mixed - by_som, 0.0, None) / M2_PER_HA,
        "landzone_ha": land / M2_PER_HA,
        "landzone_share": np.divide(land, area, out=np.zeros_like(area), where=area > 0),
    }, index=pd.Index(ids, name="application_id"))


def zone_rows(rule: ExclusionRule, ids: np.ndarray, shares: pd.DataFrame, source: str, note: str = ""
              ) -> pd.DataFrame:
    """The flag rows of the ``zonekort`` rule: the zone shares as ``features`` and the landzone share as the
    text ("62 % landzone: needs planning permission (landzonetilladelse)"); never decisive."""
    ha = shares[list(ZONES)].to_numpy()
    pct = 100 * ha / np.maximum(ha.sum(axis=1), 1e-12)[:, None]
    names = [_(name) for name in ZONES.values()]
    features = ["; ".join(_("%(zone)s %(pct)s %%", zone=name, pct=fmt_number(p)) for name, p in
                          zip(names, row, strict=True) if p > 0) for row in pct]  # one string per candidate
    text = [(_("%(pct)s %% landzone: needs planning permission (landzonetilladelse), %(mixed)s %% mixed zone codes: "
               "check", pct=fmt_number(row[0]), mixed=fmt_number(row[3])) if row[3] > 0 else
             _("%(pct)s %% landzone: needs planning permission (landzonetilladelse)", pct=fmt_number(row[0])))
            + (f" — {note}" if note else "") for row in pct]
    land = shares["landzone_ha"].to_numpy()
    return rows(rule, ids, source, land > rule.tolerance_ha, note, overlap_ha=land,
                overlap_share=shares["landzone_share"].to_numpy(), distance_m=np.nan, cut_ha=0.0,
                features=features, decisive=False, _text=text)

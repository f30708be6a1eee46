"""What a preview accepts: a handful of areas, a bounded number of vertices, a file its reader can read.

A preview is a municipality checking its draft - a few areas - not a screening of a whole round, so it
refuses a file of more than `MAX_PREVIEW_FEATURES` features before reading it whole (the count comes from
the file's header or one quick pass of GDAL), and a web upload of more vertices than the server allows.
Whatever the reader raises on a hostile file that is not already a `SubmissionError` (a GEOS or GDAL
error on coordinates that are all NaN, say) becomes one, naming the file and the fix, so neither the
terminal nor the web page shows a traceback. Every sentence is in `PHRASES` (English source texts,
translated into the current language where used).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from screening import submissions
from screening.errors import ScreeningError, SubmissionError
from screening.i18n import N_, fmt_number
from screening.i18n import gettext as _

__all__ = ["MAX_PREVIEW_FEATURES", "PHRASES", "read_drafts", "check_feature_count", "count_features"]

log = logging.getLogger(__name__)

MAX_PREVIEW_FEATURES = 25
"""Most features (areas) one preview takes, on the terminal and the web; a municipality previews a handful.
A whole round is screened with ``industripark screen``."""

PHRASES = {
    "too_many": N_("the file holds %(n)s features; a preview takes at most %(limit)s (a municipality previews a "
                   "handful of areas)"),
    "too_many_fix": N_("preview your own areas only, at most %(limit)s at a time (split the file); the state "
                       "screens whole rounds with 'industripark screen'"),
    "unreadable": N_("the file cannot be read: %(reason)s"),
    "unreadable_fix": N_("check that every area has real coordinates (no empty or NaN values), open the file in "
                         "your GIS, export it again and upload that file"),
    "vertices": N_("the geometries have %(n)s vertices in all (feature %(worst)s alone %(worst_n)s); a preview "
                   "accepts at most %(limit)s"),
    "vertices_fix": N_("simplify the boundary (e.g. to 1 m tolerance) before uploading"),
}
"""Every sentence of the preview's limits, in one place (English source texts with named placeholders,
translated where used)."""


def read_drafts(paths: Sequence[str | Path], *, kommuner: gpd.GeoDataFrame, repair: bool = False,
                max_features: int | None = MAX_PREVIEW_FEATURES,
                max_vertices: int | None = None) -> gpd.GeoDataFrame:
    """`submissions.load_submissions` of draft files, within the preview's limits.

    Parameters
    ----------
    max_features
        Refuse files holding more features than this in all, before reading them whole; None: no limit.
    max_vertices
        Refuse drafts whose geometries have more vertices than this in total; None: no limit.

    Raises
    ------
    SubmissionError
        With every problem of the files, too many features or vertices, or what the reader raised.
    """
    paths = [Path(p) for p in paths]
    if max_features is not None:
        check_feature_count(paths, max_features)
    try:
        cand = submissions.load_submissions(paths, kommuner=kommuner, repair=repair)
    except ScreeningError:
        raise
    except Exception as exc:  # a reader failing on a hostile file (GEOS, GDAL, JSON) is a problem of the file
        log.warning("reading %s failed", ", ".join(map(str, paths)), exc_info=True)
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        _refuse(str(paths[0]), "file", _(PHRASES["unreadable"], reason=reason), _(PHRASES["unreadable_fix"]),
                cause=exc)
    if max_vertices is not None:
        _check_vertices(cand, max_vertices)
    return cand


def check_feature_count(paths: Sequence[str | Path], max_features: int = MAX_PREVIEW_FEATURES) -> None:
    """Refuse files holding more than `max_features` features in all, from their headers (`count_features`)
    and before anything is read whole or loaded.

    Raises
    ------
    SubmissionError
        Naming the file with the most features, the count, the limit and the fix.
    """
    counts = {Path(p): count_features(p) for p in paths}
    total = sum(n for n in counts.values() if n is not None)
    if total > max_features:
        worst = max(counts, key=lambda p: counts[p] or 0)
        _refuse(str(worst), "file", _(PHRASES["too_many"], n=fmt_number(total), limit=fmt_number(max_features)),
                _(PHRASES["too_many_fix"], limit=fmt_number(max_features)))


def count_features(path: str | Path) -> int | None:
    """Features in a submission file from its header or one quick GDAL pass; None when it cannot be told
    (the reader then says what is wrong with the file)."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        import pyogrio

        source = f"/vsizip/{path.resolve()}" if path.suffix.lower() == ".zip" else str(path)
        count = int(pyogrio.read_info(source, force_feature_count=True)["features"])
        return count if count >= 0 else None
    except Exception:  # an unreadable file: the reader says why, with the fix
        log.debug("cannot count the features of %s", path, exc_info=True)
        return None


# --------------------------------------------------------------------------- helpers


def _check_vertices(cand: gpd.GeoDataFrame, max_vertices: int) -> None:
    counts = shapely.get_num_coordinates(cand.geometry.to_numpy())
    if int(counts.sum()) > max_vertices:
        worst = int(np.argmax(counts))
        raise SubmissionError([submissions.Problem(
            file=str(cand["source_file"].iloc[worst]) if "source_file" in cand.columns else "",
            feature_index=worst, application_id=str(cand["application_id"].iloc[worst]), field="geometry",
            message=_(PHRASES["vertices"], n=fmt_number(int(counts.sum())), worst=worst,
                      worst_n=fmt_number(int(counts[worst])), limit=fmt_number(max_vertices)),
            fix=_(PHRASES["vertices_fix"]))])


def _refuse(file: str, field: str, message: str, fix: str, *, cause: BaseException | None = None):
    raise SubmissionError([submissions.Problem(file, None, None, field, message, fix)]) from cause

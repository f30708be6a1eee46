"""Sensitivity of the ranking to the group weights: Dirichlet draws, rank range and top-k probability."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from screening.config import Sensitivity
from screening.errors import ConfigError

__all__ = ["rank_sensitivity", "weighted_totals"]

log = logging.getLogger(__name__)


def rank_sensitivity(group_scores: pd.DataFrame, weights: Mapping[str, float], cfg: Sensitivity, *,
                     eligible: pd.Series | None = None, bonus: pd.Series | None = None) -> pd.DataFrame:
    """Rank candidates at the configured group weights and under ``cfg.draws`` perturbed weight vectors.

    Draws are ``Dirichlet(cfg.concentration * w / Σw)`` (mean = the configured weights; larger
    concentration = smaller spread), from ``numpy.random.default_rng(cfg.seed)``, so results are
    deterministic. Totals are computed for all draws at once as a (draws x candidates) matrix, with the
    same renormalisation as `screening.scoring.score`: a group that is NaN for a candidate gives its
    weight to that candidate's other groups in proportion. Ranks are competition ranks (ties share the
    best rank: 1, 1, 3) among eligible candidates.

    Parameters
    ----------
    group_scores
        0–100 per group (columns = group ids), one row per candidate; NaN = group not assessed.
    weights
        Configured weight per group id (> 0); must name exactly the columns of `group_scores`.
    cfg
        ``draws``, ``concentration``, ``top_k``, ``seed``.
    eligible
        Boolean per candidate (aligned on the index); others get NaN. Default: all.
    bonus
        Bonus points per candidate added to every weighted total (total capped at 100). Default: none.

    Returns
    -------
    pandas.DataFrame
        Indexed like `group_scores`: ``rank`` (at the configured weights), ``rank_min``, ``rank_max``
        (over the configured weights and all draws), ``top_k_probability`` (share of draws with
        rank <= ``top_k``); float, NaN for candidates not ranked (not eligible, or no group assessed).

    Raises
    ------
    ConfigError
        If `weights` and the columns of `group_scores` differ, or a weight is not positive.

    Examples
    --------
    >>> g = pd.DataFrame({"a": [90.0, 10.0], "b": [80.0, 20.0]}, index=["x", "y"])
    >>> rank_sensitivity(g, {"a": 1, "b": 1}, Sensitivity(draws=10))["rank_max"].tolist()
    [1.0, 2.0]
    """
    w = _check_weights(group_scores, weights)
    ok = _rankable(group_scores, eligible)
    scores = group_scores.to_numpy(dtype=float)[ok]
    extra = np.zeros(scores.shape[0]) if bonus is None else \
        bonus.reindex(group_scores.index).fillna(0.0).to_numpy(dtype=float)[ok]
    rng = np.random.default_rng(cfg.seed)
    draws = rng.dirichlet(cfg.concentration * w / w.sum(), size=cfg.draws)  # draws x groups
    at_config = _ranks(weighted_totals(scores, w[None, :], bonus=extra))[0]
    ranks = _ranks(weighted_totals(scores, draws, bonus=extra))  # draws x candidates
    out = pd.DataFrame(np.nan, index=group_scores.index,
                       columns=["rank", "rank_min", "rank_max", "top_k_probability"])
    if ok.any():
        out.loc[ok, "rank"] = at_config
        out.loc[ok, "rank_min"] = np.minimum(ranks.min(axis=0), at_config)
        out.loc[ok, "rank_max"] = np.maximum(ranks.max(axis=0), at_config)
        out.loc[ok, "top_k_probability"] = (ranks <= cfg.top_k).mean(axis=0)
    log.info("sensitivity: %d draws (concentration %g), %d candidates ranked, top %d",
             cfg.draws, cfg.concentration, int(ok.sum()), cfg.top_k)
    return out


def weighted_totals(scores: np.ndarray, weights: np.ndarray, *,
                    bonus: np.ndarray | None = None) -> np.ndarray:
    """Weighted 0–100 totals for every weight vector and candidate, NaN groups renormalised away.

    Parameters
    ----------
    scores
        (candidates x groups) 0–100, NaN = not assessed.
    weights
        (vectors x groups), non-negative.
    bonus
        Points per candidate added before capping at 100.

    Returns
    -------
    numpy.ndarray
        (vectors x candidates); NaN for a candidate with no assessed group.

    Examples
    --------
    >>> weighted_totals(np.array([[50.0, np.nan], [100.0, 0.0]]), np.array([[0.5, 0.5]])).tolist()
    [[50.0, 50.0]]
    """
    assessed = ~np.isnan(scores)
    num = weights @ np.where(assessed, scores, 0.0).T
    den = weights @ assessed.T.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = num / den
    if bonus is not None:
        total = total + bonus[None, :]
    return np.minimum(total, 100.0)


# --------------------------------------------------------------------------- helpers


def _check_weights(group_scores: pd.DataFrame, weights: Mapping[str, float]) -> np.ndarray:
    cols, keys = list(group_scores.columns), set(weights)
    if set(cols) != keys:
        msg = (f"group weights name {sorted(keys)} but the group scores have columns {sorted(cols)}; "
               "pass one weight per group column (criteria.yaml 'groups')")
        raise ConfigError(msg)
    w = np.array([float(weights[c]) for c in cols])
    if (w <= 0).any() or not np.isfinite(w).all():
        msg = f"group weights must be positive and finite, got {dict(zip(cols, w.tolist(), strict=True))}"
        raise ConfigError(msg)
    return w


def _rankable(group_scores: pd.DataFrame, eligible: pd.Series | None) -> np.ndarray:
    ok = group_scores.notna().any(axis=1).to_numpy()
    if eligible is not None:
        ok = ok & eligible.reindex(group_scores.index).eq(True).to_numpy()  # missing or NaN: not eligible
    return ok


def _ranks(totals: np.ndarray) -> np.ndarray:
    """Competition ranks (1 = best) per row; higher total ranks first; totals equal to 9 decimals tie.

    Each total becomes an integer count of 1e-9 points (``rint(-total * 1e9)``: equal exactly when
    ``round(total, 9)`` is equal, in the same order) packed with its column number into one int64 key, so a
    plain sort of the keys per row (no argsort, no take) gives the order and the column of every place; a
    place's rank is 1 + the position where its run of equal totals starts. The same ranks as
    ``scipy.stats.rankdata(-np.round(totals, 9), method="min", axis=1)``, which is used when a total is
    not finite or too large to pack.
    """
    if totals.size == 0:  # no candidate, or no weight vector
        return totals
    rows, m = totals.shape
    bits = max(int(m - 1).bit_length(), 1)
    limit = float(2 ** (62 - bits)) / 1e9  # |total| below this packs into an int64 key
    if not np.isfinite(totals).all() or np.abs(totals).max() >= limit:
        return rankdata(-np.round(totals, 9), method="min", axis=1).astype(float)  # NaN rows stay NaN
    key = np.sort((np.rint(totals * -1e9).astype(np.int64) << bits) | np.arange(m, dtype=np.int64), axis=1)
    value, column = key >> bits, key & ((1 << bits) - 1)
    starts = np.ones((rows, m), dtype=bool)
    starts[:, 1:] = value[:, 1:] != value[:, :-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(m), 0), axis=1)
    ranks = np.empty((rows, m))
    ranks[np.arange(rows)[:, None], column] = first + 1.0
    return ranks

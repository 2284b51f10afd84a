"""Outlier careless-response indices: respondents far from the rest of the sample.

:func:`speeding` flags completion times implausibly short per item or relative to the
sample median; :func:`mahalanobis_distance` measures how far a response vector lies from
the sample centroid. Both take the responses table first and return a DataFrame indexed
like ``data``. The response-pattern indices (and the answer-reading helpers shared with
this module) live in :mod:`analysis.screening.indices`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import ConfigError, DataError
from analysis.screening.indices import _answers, _listing

__all__ = [
    "speeding",
    "mahalanobis_distance",
]


def speeding(data: pd.DataFrame, n_items: int, duration_col: str = "duration_sec",
             seconds_per_item: float = 2.0, median_fraction: float = 0.4) -> pd.DataFrame:
    """Flag respondents who completed the survey implausibly fast.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent with a total completion time in seconds.
    n_items : int
        Number of items shown to each respondent.
    duration_col : str, default "duration_sec"
        Column holding the total completion time in seconds.
    seconds_per_item : float, default 2.0
        Minimum plausible reading-and-answering time per item.
    median_fraction : float, default 0.4
        Flag totals below this fraction of the sample median.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``data``: ``seconds_per_item``, ``duration_to_median``,
        ``too_fast_per_item``, ``too_fast_vs_median`` and ``speeding`` (either).

    Notes
    -----
    speeding_i = t_i / n_items < seconds_per_item  or  t_i < median_fraction * median(t).
    The median is over non-missing durations. A respondent without a duration is not
    flagged (NaN ratios, False flags); negative durations are a data error.
    """
    purpose = "speeding"
    if isinstance(n_items, bool) or not isinstance(n_items, (int, np.integer)) or n_items < 1:
        raise ConfigError(f"{purpose}: n_items must be an integer >= 1, got {n_items!r}")
    if not seconds_per_item > 0:
        raise ConfigError(f"{purpose}: seconds_per_item must be > 0, got {seconds_per_item!r}")
    if not 0 < median_fraction <= 1:
        raise ConfigError(f"{purpose}: median_fraction must be in (0, 1], "
                          f"got {median_fraction!r}")
    duration = _answers(data, [duration_col], purpose)[:, 0]
    negative = duration < 0
    if negative.any():
        raise DataError(f"{purpose}: column {duration_col!r} must be >= 0 seconds; rows "
                        f"{_listing(list(data.index[negative]))} are negative")
    per_item = duration / n_items
    median = np.nanmedian(duration) if np.isfinite(duration).any() else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        to_median = duration / median
    result = pd.DataFrame({
        "seconds_per_item": per_item,
        "duration_to_median": to_median,
        "too_fast_per_item": per_item < seconds_per_item,
        "too_fast_vs_median": to_median < median_fraction,
    }, index=data.index)
    result["speeding"] = result["too_fast_per_item"] | result["too_fast_vs_median"]
    return result


def _pseudo_inverse(matrix: np.ndarray) -> tuple[np.ndarray, int]:
    """Moore-Penrose inverse of a symmetric matrix and its numerical rank."""
    values, vectors = np.linalg.eigh(matrix)
    largest = np.abs(values).max(initial=0.0)
    keep = np.abs(values) > largest * matrix.shape[0] * np.finfo(float).eps
    inverse = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    return inverse, int(keep.sum())


def _observed_block_inverse(covariance: np.ndarray, full_inverse: np.ndarray,
                            full_rank: int, observed: np.ndarray) -> tuple[np.ndarray, int]:
    """Inverse of the covariance of the observed items, and its rank.

    With an invertible S and P = S^-1, (S_oo)^-1 = P_oo - P_om (P_mm)^-1 P_mo, which needs
    only the small missing-by-missing block inverted; one eigendecomposition per
    missingness pattern is slow when there are hundreds of patterns.
    """
    if observed.all():
        return full_inverse, full_rank
    if full_rank == len(observed):
        missing = ~observed
        p_mm = full_inverse[np.ix_(missing, missing)]
        if np.linalg.cond(p_mm) < 1e8:
            p_mo = full_inverse[np.ix_(missing, observed)]
            p_oo = full_inverse[np.ix_(observed, observed)]
            return p_oo - p_mo.T @ np.linalg.solve(p_mm, p_mo), int(observed.sum())
    return _pseudo_inverse(covariance[np.ix_(observed, observed)])


def mahalanobis_distance(data: pd.DataFrame, items: Sequence[str],
                         missing: Literal["available", "mean_impute"] = "available",
                         ) -> pd.DataFrame:
    """Squared Mahalanobis distance of each response vector from the sample centroid.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent.
    items : sequence of str
        Item columns entering the distance (substantive items).
    missing : {"available", "mean_impute"}, default "available"
        ``"available"``: each respondent is measured on the items they answered, with the
        covariance sub-matrix of those items and df = their number. ``"mean_impute"``:
        a missing answer counts as the item mean and df = number of items; this
        reproduces ``psych::outlier`` and hence ``careless::mahad``.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``data``: ``mahalanobis_d2``, ``mahalanobis_df`` and
        ``mahalanobis_p`` (upper-tail chi-square probability). All NaN for a respondent
        with no answers.

    Notes
    -----
    D^2_i = (x_i - m)' S^+ (x_i - m), with m the item means over available answers, S the
    pairwise-complete covariance (n - 1 denominator, as R ``cov(x, use = "pairwise")``)
    and S^+ its Moore-Penrose inverse, so a singular S (collinear or constant items) still
    gives a distance; df is then the rank of the matrix used. p_i = P(chi^2_df > D^2_i).
    A pairwise covariance may be indefinite when many answers are missing; D^2 can then be
    negative (as in psych::outlier) and gets p = 1. Checked against
    ``stats::mahalanobis``, ``psych::outlier`` and a per-row ``stats::mahalanobis`` on
    observed items in tests/reference/careless_reference.R.
    """
    purpose = "mahalanobis_distance"
    if missing not in ("available", "mean_impute"):
        raise ConfigError(f"{purpose}: missing must be 'available' or 'mean_impute', "
                          f"got {missing!r}")
    answers = _answers(data, items, purpose)
    observed = ~np.isnan(answers)
    joint = observed.T.astype(int) @ observed.astype(int)
    too_few = np.argwhere(np.triu(joint < 2))
    if too_few.size:
        first, second = too_few[0]
        names = list(items)
        which = (f"item {names[first]!r} is answered" if first == second else
                 f"items {names[first]!r} and {names[second]!r} are answered together")
        raise DataError(f"{purpose}: {which} by {joint[first, second]} respondent(s); "
                        f"a covariance needs at least 2")
    covariance = pd.DataFrame(answers).cov().to_numpy()
    centred = answers - np.nanmean(answers, axis=0)
    d2 = np.full(len(data), np.nan)
    df = np.zeros(len(data), dtype=int)
    if missing == "mean_impute":
        inverse, rank = _pseudo_inverse(covariance)
        filled = np.where(observed, centred, 0.0)
        d2 = np.einsum("ij,jk,ik->i", filled, inverse, filled)
        df[:] = rank
    else:
        full_inverse, full_rank = _pseudo_inverse(covariance)
        patterns, which = np.unique(observed, axis=0, return_inverse=True)
        for number, pattern in enumerate(patterns):
            rows = np.flatnonzero(which.ravel() == number)
            if not pattern.any():
                continue
            inverse, rank = _observed_block_inverse(covariance, full_inverse, full_rank,
                                                    pattern)
            block = centred[np.ix_(rows, pattern)]
            d2[rows] = np.einsum("ij,jk,ik->i", block, inverse, block)
            df[rows] = rank
    empty = ~observed.any(axis=1)
    d2[empty] = np.nan
    with np.errstate(invalid="ignore"):
        p_value = np.where(df > 0, stats.chi2.sf(d2, np.maximum(df, 1)), np.nan)
    return pd.DataFrame({"mahalanobis_d2": d2,
                         "mahalanobis_df": np.where(empty, 0, df),
                         "mahalanobis_p": p_value}, index=data.index)

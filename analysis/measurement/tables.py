"""Tidy report tables of reliability and validity, built from :mod:`analysis.measurement.statistics`.

:func:`reliability_table` (alpha, CR, AVE per construct), :func:`discriminant_validity_table`
(HTMT and Fornell-Larcker per construct pair) and :func:`item_loadings_table` (weak items
with CR/AVE if deleted). All three are re-exported by :mod:`analysis.measurement.statistics`, which
holds the statistics they combine and :class:`~analysis.measurement.statistics.ValidityThresholds`.
"""

from __future__ import annotations

from itertools import combinations
from typing import Mapping

import numpy as np
import pandas as pd

from analysis.errors import DataError

# imported only after the functions above exist; either module may be imported first.
from analysis.measurement.statistics import (
    FornellLarckerResult,
    ValidityThresholds,
    _check_blocks,
    _require_columns,
    average_variance_extracted,
    composite_reliability,
    cronbach_alpha,
)

__all__ = ["reliability_table", "discriminant_validity_table", "item_loadings_table"]

_LOADING_COLUMNS = ("construct", "item", "std_all")


def _loadings_of(std_loadings: pd.DataFrame, construct: str, items: list[str] | None) -> pd.Series:
    rows = std_loadings[std_loadings["construct"] == construct]
    if rows.empty:
        raise DataError(
            f"std_loadings: no loadings for construct {construct!r}; "
            f"available: {sorted(std_loadings['construct'].unique().tolist())}"
        )
    loadings = rows.set_index("item")["std_all"].astype(float)
    if items is not None and set(loadings.index) != set(items):
        raise DataError(
            f"std_loadings: construct {construct!r} has loadings for {list(loadings.index)} "
            f"but its block lists {list(items)}; alpha and CR must use the same items"
        )
    return loadings


def reliability_table(
    data: pd.DataFrame,
    blocks: Mapping[str, list[str]],
    std_loadings: pd.DataFrame,
    thresholds: ValidityThresholds | None = None,
) -> pd.DataFrame:
    """One row per construct: alpha (with CI), composite reliability, AVE, loading range.

    Parameters
    ----------
    data : pandas.DataFrame
        Item responses (alpha uses listwise-complete rows per block).
    blocks : dict of str -> list of str
        Construct code -> items; must match the items in ``std_loadings``.
    std_loadings : pandas.DataFrame
        Columns construct, item, std_all (see :func:`loadings_from_estimates`).
    thresholds : ValidityThresholds, optional

    Returns
    -------
    pandas.DataFrame
        construct, n_items, alpha, alpha_ci_lower, alpha_ci_upper, composite_reliability,
        ave, min_loading, max_loading, meets_alpha, meets_cr, meets_ave.

    Notes
    -----
    Combines :func:`cronbach_alpha`, :func:`composite_reliability` and
    :func:`average_variance_extracted` (each checked against R; see there). ``meets_cr``
    requires cr_min <= CR <= cr_max (above .95 suggests redundant items).
    """
    thresholds = thresholds or ValidityThresholds()
    _check_blocks(data, blocks, "reliability_table")
    _require_columns(std_loadings, _LOADING_COLUMNS, "std_loadings")
    rows = []
    for construct, items in blocks.items():
        alpha = cronbach_alpha(data, items)
        lam = _loadings_of(std_loadings, construct, items)
        cr = composite_reliability(lam)
        ave = average_variance_extracted(lam)
        rows.append({
            "construct": construct,
            "n_items": len(items),
            "alpha": alpha["alpha"],
            "alpha_ci_lower": alpha["ci_lower"],
            "alpha_ci_upper": alpha["ci_upper"],
            "composite_reliability": cr,
            "ave": ave,
            "min_loading": float(lam.min()),
            "max_loading": float(lam.max()),
            "meets_alpha": bool(alpha["alpha"] >= thresholds.alpha),
            "meets_cr": bool(thresholds.cr_min <= cr <= thresholds.cr_max),
            "meets_ave": bool(ave >= thresholds.ave),
        })
    table = pd.DataFrame(rows)
    return table.astype({"alpha": float, "alpha_ci_lower": float, "alpha_ci_upper": float})


def discriminant_validity_table(
    htmt_matrix: pd.DataFrame,
    fornell_larcker_result: FornellLarckerResult,
    thresholds: ValidityThresholds | None = None,
) -> pd.DataFrame:
    """One row per construct pair: HTMT against its cut-off and the Fornell-Larcker check.

    Parameters
    ----------
    htmt_matrix : pandas.DataFrame
        Output of :func:`htmt`.
    fornell_larcker_result : FornellLarckerResult
        Output of :func:`fornell_larcker`; must cover every construct of ``htmt_matrix``.
    thresholds : ValidityThresholds, optional
        ``htmt`` cut-off, or ``htmt_close`` for pairs listed in ``close_pairs``.

    Returns
    -------
    pandas.DataFrame
        construct_a, construct_b, htmt, htmt_threshold, latent_correlation, sqrt_ave_a,
        sqrt_ave_b, fornell_larcker_ok, htmt_ok.

    Notes
    -----
    ``fornell_larcker_ok``: :math:`|\\phi_{ab}| < \\min(\\sqrt{AVE_a}, \\sqrt{AVE_b})`;
    ``htmt_ok``: :math:`HTMT_{ab} <` threshold (Henseler et al. 2015). Both inputs were
    checked against semTools/lavaan (see :func:`htmt`, :func:`fornell_larcker`).
    """
    thresholds = thresholds or ValidityThresholds()
    fl_matrix = fornell_larcker_result.matrix
    missing = [c for c in htmt_matrix.index if c not in fl_matrix.index]
    if missing:
        raise DataError(
            f"discriminant_validity_table: construct(s) {missing} in the HTMT matrix have no "
            f"Fornell-Larcker entry; available: {list(fl_matrix.index)}"
        )
    rows = []
    for a, b in combinations(list(htmt_matrix.index), 2):
        value = float(htmt_matrix.loc[a, b])
        cutoff = thresholds.htmt_threshold(a, b)
        phi = float(fl_matrix.loc[a, b])
        sqrt_a, sqrt_b = float(fl_matrix.loc[a, a]), float(fl_matrix.loc[b, b])
        rows.append({
            "construct_a": a,
            "construct_b": b,
            "htmt": value,
            "htmt_threshold": cutoff,
            "latent_correlation": phi,
            "sqrt_ave_a": sqrt_a,
            "sqrt_ave_b": sqrt_b,
            "fornell_larcker_ok": bool(abs(phi) < min(sqrt_a, sqrt_b)),
            "htmt_ok": bool(value < cutoff),
        })
    columns = ["construct_a", "construct_b", "htmt", "htmt_threshold", "latent_correlation",
               "sqrt_ave_a", "sqrt_ave_b", "fornell_larcker_ok", "htmt_ok"]
    return pd.DataFrame(rows, columns=columns)


def item_loadings_table(
    std_loadings: pd.DataFrame, thresholds: ValidityThresholds | None = None
) -> pd.DataFrame:
    """Flag items whose standardized loading is below the cut-off (purification candidates).

    Parameters
    ----------
    std_loadings : pandas.DataFrame
        Columns construct, item, std_all.
    thresholds : ValidityThresholds, optional
        ``loading`` cut-off (default .708, i.e. the item shares >= 50% variance).

    Returns
    -------
    pandas.DataFrame
        construct, item, std_all, loading_threshold, meets_loading, cr_if_deleted,
        ave_if_deleted (NaN for a construct's last item).

    Notes
    -----
    ``meets_loading`` compares :math:`|\\lambda|` (a reverse-keyed, unrecoded item loads
    negatively). The if-deleted columns recompute :func:`composite_reliability` and
    :func:`average_variance_extracted` from the remaining loadings without refitting;
    drop an item only if that lifts CR/AVE over their cut-offs (Hair et al. 2017).
    """
    thresholds = thresholds or ValidityThresholds()
    _require_columns(std_loadings, _LOADING_COLUMNS, "std_loadings")
    rows = []
    for construct in dict.fromkeys(std_loadings["construct"]):
        lam = _loadings_of(std_loadings, construct, None)
        for item, value in lam.items():
            rest = lam.drop(item)
            rows.append({
                "construct": construct,
                "item": item,
                "std_all": float(value),
                "loading_threshold": thresholds.loading,
                "meets_loading": bool(abs(value) >= thresholds.loading),
                "cr_if_deleted": composite_reliability(rest) if len(rest) else np.nan,
                "ave_if_deleted": average_variance_extracted(rest) if len(rest) else np.nan,
            })
    return pd.DataFrame(rows)


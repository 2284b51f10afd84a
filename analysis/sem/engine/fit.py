"""Global fit measures of an engine fit, on lavaan's definitions (any groups, FIML).

Single-group complete-data formulas are in :mod:`.indices`; this module adds what
differs for multigroup and FIML fits: the chi-square as a likelihood ratio against the
(EM) saturated model, the FIML baseline, RMSEA scaled by sqrt(G), SRMR with the mean
residuals and weighted over groups, and df that exclude fixed-x moments.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from analysis.sem.fit_indices import (
    comparative_fit_index,
    information_criteria,
    rmsea_confidence_interval,
    tucker_lewis_index,
)

__all__ = ["count_moments", "fit_statistics", "srmr_group"]


def count_moments(p: int, p_x: int, meanstructure: bool) -> int:
    """Sample moments a group contributes to df: lavaan's ``ndat`` without fixed-x moments."""
    moments = p * (p + 1) // 2 - p_x * (p_x + 1) // 2
    if meanstructure:
        moments += p - p_x
    return moments


def srmr_group(sample_cov, sample_mean, implied_cov, implied_mean, meanstructure: bool) -> tuple[float, float]:
    """Bentler SRMR of one group with and without the mean residuals.

    Notes
    -----
    Residuals standardised by the sample SDs: (s_ij - sigma_ij) / sqrt(s_ii s_jj) over
    the lower triangle incl. the diagonal, and (m_i - mu_i) / sqrt(s_ii);
    SRMR = sqrt(sum r^2 / number of elements). lavaan's ``srmr_bentler`` (with means,
    reported as ``srmr`` when there is a mean structure) and ``srmr_bentler_nomean``.
    """
    sd = np.sqrt(np.diag(sample_cov))
    residual = (sample_cov - implied_cov) / np.outer(sd, sd)
    rows, cols = np.tril_indices_from(residual)
    cov_sq = np.sum(residual[rows, cols] ** 2)
    nomean = float(np.sqrt(cov_sq / len(rows)))
    if not meanstructure:
        return nomean, nomean
    mean_sq = np.sum(((sample_mean - implied_mean) / sd) ** 2)
    return float(np.sqrt((cov_sq + mean_sq) / (len(rows) + len(sd)))), nomean


def fit_statistics(*, loglik: float, loglik_saturated: float, loglik_baseline: float, npar: int,
                   ndat: int, baseline_df: int, n_per_group: list[int], srmr_parts: list[tuple[float, float]],
                   rmsea_level: float = 0.90) -> dict[str, float]:
    """Fit dictionary from log-likelihoods (model, saturated, baseline) and counts.

    Notes
    -----
    chisq = 2 (logL_sat - logL) (= sum_g N_g F_ML,g for complete data); baseline the
    same against the independence model; df = ndat - npar; RMSEA =
    sqrt(max(chisq - df, 0) / (df N)) * sqrt(G) with its CI scaled alike; SRMR =
    sum_g (N_g / N) SRMR_g; AIC = -2 logL + 2 npar, BIC = -2 logL + npar log N.
    Checked against ``lavaan::fitMeasures`` for single-group, multigroup and FIML fits.
    """
    n = int(sum(n_per_group))
    n_groups = len(n_per_group)
    chisq = max(2.0 * (loglik_saturated - loglik), 0.0)
    df = ndat - npar
    base_chisq = 2.0 * (loglik_saturated - loglik_baseline)
    scale = np.sqrt(n_groups)
    if df > 0:
        point = float(np.sqrt(max(chisq - df, 0.0) / (df * n))) * scale
        low, high = rmsea_confidence_interval(chisq, df, n, rmsea_level)
        low, high = low * scale, high * scale
        pvalue = float(stats.chi2.sf(chisq, df))
    else:
        point, low, high, pvalue = 0.0, 0.0, 0.0, float("nan")
    weights = np.asarray(n_per_group, dtype=float) / n
    measures = {
        "chisq": chisq, "df": int(df), "pvalue": pvalue,
        "cfi": comparative_fit_index(chisq, df, base_chisq, baseline_df),
        "tli": tucker_lewis_index(chisq, df, base_chisq, baseline_df),
        "rmsea": point, "rmsea_ci_lower": low, "rmsea_ci_upper": high,
        "srmr": float(np.dot(weights, [s[0] for s in srmr_parts])),
        "srmr_nomean": float(np.dot(weights, [s[1] for s in srmr_parts])),
        "loglik": float(loglik), "unrestricted_loglik": float(loglik_saturated),
        "baseline_chisq": float(base_chisq), "baseline_df": int(baseline_df),
        "baseline_pvalue": float(stats.chi2.sf(base_chisq, baseline_df)) if baseline_df > 0 else float("nan"),
        "npar": int(npar), "n": n, "ngroups": n_groups,
    }
    measures.update(information_criteria(loglik, npar, n))
    return measures

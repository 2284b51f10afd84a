"""Global fit indices on lavaan's definitions, from S, Sigma, N and the parameter count.

semopy 2.3.11 reports chi-square, CFI, TLI and a point RMSEA, but no SRMR, no RMSEA
confidence interval, and a log-likelihood/AIC/BIC that are not comparable with lavaan
(it reports them per observation and without the normal constant). Everything here is
computed from the matrices alone so the same code serves any estimator that produces a
model-implied covariance matrix.

All functions take the *biased* sample covariance (divisor N), as lavaan does for
``likelihood = "normal"`` (its default for ``estimator = "ML"``).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

__all__ = [
    "ml_discrepancy",
    "baseline_chisq",
    "comparative_fit_index",
    "tucker_lewis_index",
    "rmsea",
    "rmsea_confidence_interval",
    "srmr",
    "ml_loglik",
    "information_criteria",
    "fit_measures",
]


def _logdet(matrix: np.ndarray) -> float:
    sign, value = np.linalg.slogdet(matrix)
    if sign <= 0:
        return float("nan")
    return float(value)


def ml_discrepancy(sample_cov: np.ndarray, implied_cov: np.ndarray) -> float:
    """Maximum-likelihood discrepancy F_ML between S and Sigma.

    Notes
    -----
    F_ML = log|Sigma| + tr(S Sigma^-1) - log|S| - p. The test statistic is N * F_ML,
    as in lavaan (``fitMeasures(fit, "chisq")`` with ``likelihood = "normal"``).
    """
    p = sample_cov.shape[0]
    inv = np.linalg.inv(implied_cov)
    return _logdet(implied_cov) + float(np.trace(sample_cov @ inv)) - _logdet(sample_cov) - p


def baseline_chisq(sample_cov: np.ndarray, n: int) -> tuple[float, int]:
    """Chi-square and df of the independence (baseline) model.

    Notes
    -----
    Sigma_0 = diag(S), so N * F_ML = N * (sum(log s_ii) - log|S|), df = p(p-1)/2.
    Matches lavaan's ``baseline.chisq`` and ``baseline.df``.
    """
    p = sample_cov.shape[0]
    stat = n * (float(np.sum(np.log(np.diag(sample_cov)))) - _logdet(sample_cov))
    return stat, p * (p - 1) // 2


def comparative_fit_index(chisq: float, df: int, base_chisq: float, base_df: int) -> float:
    """Bentler's CFI = 1 - max(chi2 - df, 0) / max(chi2 - df, chi2_0 - df_0, 0).

    Notes
    -----
    Checked against ``lavaan::fitMeasures(fit, "cfi")``.
    """
    numerator = max(chisq - df, 0.0)
    denominator = max(chisq - df, base_chisq - base_df, 0.0)
    return 1.0 if denominator == 0 else 1.0 - numerator / denominator


def tucker_lewis_index(chisq: float, df: int, base_chisq: float, base_df: int) -> float:
    """TLI (NNFI) = (chi2_0/df_0 - chi2/df) / (chi2_0/df_0 - 1).

    Notes
    -----
    Checked against ``lavaan::fitMeasures(fit, "tli")``; 1 when df = 0.
    """
    if df == 0:
        return 1.0
    base_ratio = base_chisq / base_df
    return (base_ratio - chisq / df) / (base_ratio - 1.0)


def rmsea(chisq: float, df: int, n: int) -> float:
    """RMSEA = sqrt(max(chi2 - df, 0) / (df * N)).

    Notes
    -----
    lavaan 0.6 divides by N (not N - 1) for ``likelihood = "normal"``; semopy divides
    by N - 1, which is why semopy's RMSEA differs in the fourth decimal.
    """
    if df == 0:
        return 0.0
    return float(np.sqrt(max(chisq - df, 0.0) / (df * n)))


def _noncentrality_bound(chisq: float, df: int, target: float) -> float:
    """Noncentrality lambda with P(X <= chisq | df, lambda) = target (0 if none)."""

    def gap(lam: float) -> float:
        return float(stats.ncx2.cdf(chisq, df, lam) if lam > 0 else stats.chi2.cdf(chisq, df)) - target

    if gap(0.0) < 0:  # even the central distribution puts chisq below the target quantile
        return 0.0
    upper = max(chisq, 1.0)
    while gap(upper) > 0:
        upper *= 2.0
    return float(optimize.brentq(gap, 0.0, upper, xtol=1e-10))


def rmsea_confidence_interval(chisq: float, df: int, n: int, level: float = 0.90) -> tuple[float, float]:
    """Confidence interval for RMSEA by inverting the noncentral chi-square.

    Notes
    -----
    The bounds solve F_ncx2(chi2; df, lambda) = (1 + level)/2 (lower) and
    (1 - level)/2 (upper); RMSEA_bound = sqrt(lambda / (df * N)). Same construction as
    ``lavaan::fitMeasures(fit, c("rmsea.ci.lower", "rmsea.ci.upper"))`` (90% default).
    """
    if df == 0:
        return 0.0, 0.0
    lam_low = _noncentrality_bound(chisq, df, (1 + level) / 2)
    lam_high = _noncentrality_bound(chisq, df, (1 - level) / 2)
    return float(np.sqrt(lam_low / (df * n))), float(np.sqrt(lam_high / (df * n)))


def srmr(sample_cov: np.ndarray, implied_cov: np.ndarray) -> float:
    """Standardized root mean square residual (Bentler's definition).

    Notes
    -----
    r_ij = (s_ij - sigma_ij) / sqrt(s_ii s_jj) over the lower triangle including the
    diagonal; SRMR = sqrt(mean(r_ij^2)). This is lavaan's ``srmr`` (= ``srmr_bentler``)
    for models without a mean structure.
    """
    scale = np.sqrt(np.diag(sample_cov))
    residual = (sample_cov - implied_cov) / np.outer(scale, scale)
    rows, cols = np.tril_indices_from(residual)
    return float(np.sqrt(np.mean(residual[rows, cols] ** 2)))


def ml_loglik(sample_cov: np.ndarray, implied_cov: np.ndarray, n: int) -> float:
    """Normal-theory log-likelihood of the model, as lavaan's ``logl``.

    Notes
    -----
    logL = -N/2 * (p log(2 pi) + log|Sigma| + tr(S Sigma^-1)); the mean structure is
    saturated so the mean term vanishes.
    """
    p = sample_cov.shape[0]
    inv = np.linalg.inv(implied_cov)
    return -0.5 * n * (p * np.log(2 * np.pi) + _logdet(implied_cov) + float(np.trace(sample_cov @ inv)))


def information_criteria(loglik: float, n_free: int, n: int) -> dict[str, float]:
    """AIC = -2 logL + 2k, BIC = -2 logL + k log N, sample-size adjusted BIC.

    Notes
    -----
    lavaan's ``aic``, ``bic`` and ``bic2`` (N* = (N + 2) / 24).
    """
    return {
        "aic": -2 * loglik + 2 * n_free,
        "bic": -2 * loglik + n_free * np.log(n),
        "bic2": -2 * loglik + n_free * np.log((n + 2) / 24),
    }


def fit_measures(sample_cov: np.ndarray, implied_cov: np.ndarray, n: int, n_free: int,
                 rmsea_level: float = 0.90) -> dict[str, float]:
    """All global fit measures of an ML fit in one dictionary (lavaan's names, snake_case).

    Notes
    -----
    Parity with ``lavaan::fitMeasures`` is tested in ``tests/test_sem_fit.py`` on the
    Holzinger-Swineford CFA and the Political Democracy SEM.
    """
    p = sample_cov.shape[0]
    df = p * (p + 1) // 2 - n_free
    chisq = n * ml_discrepancy(sample_cov, implied_cov)
    base_chisq, base_df = baseline_chisq(sample_cov, n)
    low, high = rmsea_confidence_interval(chisq, df, n, rmsea_level)
    loglik = ml_loglik(sample_cov, implied_cov, n)
    measures = {
        "chisq": chisq,
        "df": df,
        "pvalue": float(stats.chi2.sf(chisq, df)) if df > 0 else float("nan"),
        "cfi": comparative_fit_index(chisq, df, base_chisq, base_df),
        "tli": tucker_lewis_index(chisq, df, base_chisq, base_df),
        "rmsea": rmsea(chisq, df, n),
        "rmsea_ci_lower": low,
        "rmsea_ci_upper": high,
        "srmr": srmr(sample_cov, implied_cov),
        "loglik": loglik,
        "npar": n_free,
        "n": n,
        "baseline_chisq": base_chisq,
        "baseline_df": base_df,
    }
    measures.update(information_criteria(loglik, n_free, n))
    return measures

"""Diagonally weighted least squares (DWLS / WLSMV) for any model of ordinal moments.

The estimator never sees a model: it receives the sample statistics
s = (thresholds, polychoric correlations) with their asymptotic covariance Gamma (see
:mod:`.ordinal_moments`) and a *model function* ``model_fn(theta) -> (thresholds,
correlations)`` giving the model-implied statistics in the same order. Any engine
(CFA, latent regressions, a general parameter table) can plug in.

Conventions follow lavaan's ``estimator = "WLSMV"`` (DWLS estimates, ``se =
"robust.sem"``, ``test = "scaled.shifted"``): F = (s - sigma)' W (s - sigma) with
W = diag(Gamma)^-1. lavaan 0.6 scales both the test and the sampling covariance with
N - 1, not N, for (D)WLS: chi-square = (N - 1) F (its ``fmin`` is (N - 1) / N * F / 2)
and Var(theta) = (...) / (N - 1) (``lav_model_objective``, ``lav_model_vcov``); so does
this module, which is why it matches lavaan to 1e-6 rather than to 1 / N.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

from analysis.errors import ModelError
from analysis.sem.fit_indices import (
    comparative_fit_index,
    rmsea,
    rmsea_confidence_interval,
    tucker_lewis_index,
)

__all__ = ["DWLSResult", "ScaledTest", "dwls_fit_measures", "fit_dwls", "independence_baseline",
           "numerical_jacobian", "scaled_shifted_test"]

ModelFunction = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class ScaledTest:
    """A test statistic with its scaled-and-shifted version (Asparouhov & Muthen, 2010)."""

    chisq: float
    df: int
    chisq_scaled: float
    scaling_factor: float
    shift: float
    trace_ugamma: float
    trace_ugamma2: float

    @property
    def pvalue(self) -> float:
        return float(stats.chi2.sf(self.chisq, self.df)) if self.df > 0 else float("nan")

    @property
    def pvalue_scaled(self) -> float:
        return float(stats.chi2.sf(self.chisq_scaled, self.df)) if self.df > 0 else float("nan")


@dataclass(frozen=True)
class DWLSResult:
    """A fitted DWLS model: estimates, robust covariance and test statistics."""

    theta: np.ndarray
    vcov: np.ndarray
    implied: np.ndarray
    residuals: np.ndarray
    jacobian: np.ndarray
    fmin: float
    test: ScaledTest
    n: int
    converged: bool
    iterations: int
    notes: list[str] = field(default_factory=list)

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.vcov), 0.0, None))


def _vector(model_fn: ModelFunction, theta: np.ndarray) -> np.ndarray:
    thresholds, correlations = model_fn(theta)
    return np.concatenate([np.atleast_1d(np.asarray(thresholds, dtype=float)),
                           np.atleast_1d(np.asarray(correlations, dtype=float))])


def _inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric information matrix; pseudo-inverse when it is singular."""
    try:
        factor = np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(matrix)
    inverse_factor = np.linalg.solve(factor, np.eye(matrix.shape[0]))
    return inverse_factor.T @ inverse_factor


def numerical_jacobian(model_fn: ModelFunction, theta: np.ndarray) -> np.ndarray:
    """d sigma / d theta' by central differences (step 1e-6 max(1, |theta|), error ~1e-10)."""
    theta = np.asarray(theta, dtype=float)
    columns = []
    for k in range(theta.size):
        step = 1e-6 * max(1.0, abs(theta[k]))
        up, down = theta.copy(), theta.copy()
        up[k] += step
        down[k] -= step
        columns.append((_vector(model_fn, up) - _vector(model_fn, down)) / (2.0 * step))
    return np.column_stack(columns) if columns else np.zeros((_vector(model_fn, theta).size, 0))


def scaled_shifted_test(chisq: float, df: int, jacobian: np.ndarray, weights: np.ndarray,
                        gamma: np.ndarray) -> ScaledTest:
    """Scaled-and-shifted chi-square (lavaan ``test = "scaled.shifted"``, Mplus WLSMV).

    Notes
    -----
    U = W - W Delta (Delta' W Delta)^-1 Delta' W; a = sqrt(df / tr((U Gamma)^2));
    shift = df - a tr(U Gamma); T3 = a T + shift, referred to chi2(df). lavaan reports
    1 / a as ``chisq.scaling.factor``. Checked against ``fitMeasures(fit, "chisq.scaled")``
    and ``lavInspect(fit, "UGamma")``.
    """
    weighted = jacobian * weights[:, None]
    information = jacobian.T @ weighted
    projection = weighted @ _inverse(information) @ weighted.T if jacobian.shape[1] else 0.0
    u_gamma = (np.diag(weights) - projection) @ gamma
    trace1 = float(np.trace(u_gamma))
    trace2 = float(np.sum(u_gamma * u_gamma.T))
    if df <= 0 or trace2 <= 0:
        return ScaledTest(chisq, df, chisq, float("nan"), 0.0, trace1, trace2)
    a = np.sqrt(df / trace2)
    shift = df - a * trace1
    return ScaledTest(chisq, df, float(a * chisq + shift), float(1.0 / a), float(shift), trace1, trace2)


def fit_dwls(sample_stats, model_fn: ModelFunction, theta0, *, jacobian_fn: Callable | None = None,
             weights: np.ndarray | None = None, tol: float = 1e-12, max_iter: int = 1000) -> DWLSResult:
    """Fit a model to ordinal sample statistics by DWLS, with robust SEs and scaled test.

    Parameters
    ----------
    sample_stats : OrdinalSampleStats
        Anything with ``statistics`` (s), ``gamma`` (Gamma), ``n`` and ``dwls_weights``.
    model_fn : callable
        ``model_fn(theta) -> (thresholds, correlations)``: model-implied statistics in
        the order of ``sample_stats.statistics``.
    theta0 : array_like
        Starting values of the free parameters.
    jacobian_fn : callable, optional
        ``jacobian_fn(theta) -> d sigma / d theta'`` (default: central differences).
    weights : ndarray, optional
        Diagonal weights (default ``sample_stats.dwls_weights`` = 1 / diag(Gamma)).

    Returns
    -------
    DWLSResult

    Notes
    -----
    Minimises F = (s - sigma(theta))' W (s - sigma(theta)) by Levenberg-Marquardt on
    sqrt(W)(s - sigma). Robust ("sandwich") covariance, lavaan ``se = "robust.sem"``:
    V = (D'WD)^-1 D'W Gamma W D (D'WD)^-1 / (N - 1) with D = d sigma / d theta'. Test:
    T = (N - 1) F with df = len(s) - len(theta), plus :func:`scaled_shifted_test`
    (both with N - 1 as lavaan 0.6 does for DWLS; see the module docstring).
    """
    s = np.asarray(sample_stats.statistics, dtype=float)
    gamma = np.asarray(sample_stats.gamma, dtype=float)
    n = int(sample_stats.n)
    w = np.asarray(sample_stats.dwls_weights if weights is None else weights, dtype=float)
    theta0 = np.asarray(theta0, dtype=float)
    df = s.size - theta0.size
    if df < 0:
        raise ModelError(f"the model has {theta0.size} free parameters but the data give only {s.size} "
                         "sample statistics (thresholds + correlations); it is not identified")
    if _vector(model_fn, theta0).size != s.size:
        raise ModelError(f"model_fn returns {_vector(model_fn, theta0).size} statistics, the sample has {s.size}")
    root_w = np.sqrt(w)
    jac = jacobian_fn if jacobian_fn is not None else (lambda t: numerical_jacobian(model_fn, t))
    notes: list[str] = []
    if theta0.size:
        with np.errstate(all="ignore"):
            solution = optimize.least_squares(
                lambda t: root_w * (s - _vector(model_fn, t)), theta0,
                jac=lambda t: -root_w[:, None] * jac(t), method="lm",
                xtol=tol, ftol=tol, gtol=tol, max_nfev=max_iter)
        theta, converged, iterations = solution.x, bool(solution.status > 0), int(solution.nfev)
        if not converged:
            notes.append(f"DWLS optimiser did not converge: {solution.message}")
    else:
        theta, converged, iterations = theta0, True, 0
    implied = _vector(model_fn, theta)
    residuals = s - implied
    if not np.all(np.isfinite(implied)):
        notes.append("the model-implied statistics are not finite at the solution")
    fit_value = float(residuals @ (w * residuals))
    delta = jac(theta)
    weighted = delta * w[:, None]
    information = delta.T @ weighted
    eigen = np.linalg.eigvalsh(information) if theta.size else np.array([1.0])
    if eigen.min() <= 1e-10 * max(eigen.max(), 1.0):
        notes.append("the information matrix is singular: the model may not be identified "
                     f"(smallest eigenvalue {eigen.min():.2e})")
    bread = _inverse(information)
    vcov = bread @ (weighted.T @ gamma @ weighted) @ bread / (n - 1)
    test = scaled_shifted_test((n - 1) * fit_value, df, delta, w, gamma)
    return DWLSResult(theta=theta, vcov=vcov, implied=implied, residuals=residuals, jacobian=delta,
                      fmin=(n - 1) / n * fit_value / 2.0, test=test, n=n, converged=converged, iterations=iterations,
                      notes=notes)


def independence_baseline(sample_stats) -> ScaledTest:
    """The baseline (independence) model for ordinal data: free thresholds, zero correlations.

    Notes
    -----
    The thresholds are saturated, so T_0 = (N - 1) sum_r w_r rho_r^2 with df_0 = number of
    correlations; its scaled-shifted version uses Delta_0 = [I; 0]. Matches lavaan's
    ``baseline.chisq`` and ``baseline.chisq.scaled`` for ordered data.
    """
    s = np.asarray(sample_stats.statistics, dtype=float)
    w = np.asarray(sample_stats.dwls_weights, dtype=float)
    n_th = int(sample_stats.n_thresholds)
    delta = np.zeros((s.size, n_th))
    delta[np.arange(n_th), np.arange(n_th)] = 1.0
    residual = s.copy()
    residual[:n_th] = 0.0
    chisq = float((sample_stats.n - 1) * residual @ (w * residual))
    return scaled_shifted_test(chisq, s.size - n_th, delta, w, np.asarray(sample_stats.gamma, dtype=float))


def dwls_fit_measures(result: DWLSResult, baseline: ScaledTest, n_variables: int, n_thresholds: int,
                      rmsea_level: float = 0.90) -> dict[str, float]:
    """Global fit of a DWLS fit on lavaan's definitions (snake_case names).

    Notes
    -----
    CFI/TLI from T and the baseline T_0 (``*_scaled`` from the scaled-shifted versions,
    df unchanged as in lavaan 0.6 for ``scaled.shifted``). RMSEA = sqrt(max(T - df, 0) /
    (df (N - 1))): lavaan uses N - 1 for (D)WLS (checked: ``fitMeasures(fit, "rmsea")``
    on hs_ordinal). SRMR = sqrt(sum of squared correlation residuals / (p (p + 1) / 2)),
    lavaan's ``srmr`` for ordered data; WRMR = sqrt(T / number of statistics).
    """
    test, n = result.test, result.n
    df = test.df
    low, high = rmsea_confidence_interval(test.chisq, df, n - 1, rmsea_level)
    low_s, high_s = rmsea_confidence_interval(test.chisq_scaled, df, n - 1, rmsea_level)
    correlation_residuals = result.residuals[n_thresholds:]
    nan = float("nan")
    return {
        "chisq": test.chisq, "df": df, "pvalue": test.pvalue,
        "chisq_scaled": test.chisq_scaled, "df_scaled": df, "pvalue_scaled": test.pvalue_scaled,
        "chisq_scaling_factor": test.scaling_factor, "chisq_shift": test.shift,
        "baseline_chisq": baseline.chisq, "baseline_df": baseline.df,
        "baseline_chisq_scaled": baseline.chisq_scaled,
        "baseline_chisq_scaling_factor": baseline.scaling_factor,
        "cfi": comparative_fit_index(test.chisq, df, baseline.chisq, baseline.df),
        "tli": tucker_lewis_index(test.chisq, df, baseline.chisq, baseline.df),
        "rmsea": rmsea(test.chisq, df, n - 1), "rmsea_ci_lower": low, "rmsea_ci_upper": high,
        "cfi_scaled": comparative_fit_index(test.chisq_scaled, df, baseline.chisq_scaled, baseline.df),
        "tli_scaled": tucker_lewis_index(test.chisq_scaled, df, baseline.chisq_scaled, baseline.df),
        "rmsea_scaled": rmsea(test.chisq_scaled, df, n - 1),
        "rmsea_ci_lower_scaled": low_s, "rmsea_ci_upper_scaled": high_s,
        "srmr": float(np.sqrt(np.sum(correlation_residuals ** 2) / (n_variables * (n_variables + 1) / 2))),
        "wrmr": float(np.sqrt(test.chisq / result.residuals.size)),
        "fmin": result.fmin, "npar": int(result.theta.size), "n": n,
        "loglik": nan, "aic": nan, "bic": nan,
    }

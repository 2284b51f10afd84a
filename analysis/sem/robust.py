"""Robust maximum likelihood (lavaan ``estimator = "MLR"``) for any ML fit, from arrays.

Everything here works on numpy arrays so that any ML estimator can use it: per group the
raw complete-case data ``X`` (N x p), the fitted implied covariance ``Sigma`` (and mean
``mu`` when the model has a mean structure), and the Jacobian ``Delta`` of the implied
moments ``m = (mu, vech(Sigma))`` with respect to the q free parameters. ``vech`` stacks
the lower triangle column by column, as lavaan does. Multigroup fits pass one array per
group (lists); every group's Jacobian is taken with respect to the same parameter vector.

It reproduces lavaan 0.6's defaults for MLR with complete data:
``se = "robust.huber.white"`` with ``information = "observed"``,
``observed.information = "hessian"``, ``h1.information = "structured"`` and
``test = "yuan.bentler.mplus"``. The observed information is the exact Hessian of the ML
discrepancy, which needs the second derivatives of the implied moments
(``moment_hessian``, m x q x q); without them the moment-curvature term is dropped, which
is lavaan's ``observed.information = "h1"``.

:func:`semopy_moment_jacobian` is the adapter that supplies ``Delta`` (and the second
derivatives) for a fitted ``semopy.Model`` by central differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from analysis.errors import ConvergenceError, DataError, ModelError
from analysis.sem.fit_indices import (
    comparative_fit_index,
    rmsea_confidence_interval,
    tucker_lewis_index,
)
from analysis.sem.information import duplication_matrix
from analysis.sem.information import vech_indices as vech_pairs

__all__ = [
    "RobustMLResult",
    "casewise_scores",
    "duplication_matrix",
    "expected_moment_information",
    "ml_moment_derivatives",
    "observed_information",
    "robust_ml",
    "scaled_fit_indices",
    "semopy_moment_jacobian",
    "semopy_parameter_keys",
    "semopy_robust_ml",
    "vech_pairs",
]


def casewise_scores(data: np.ndarray, implied_cov: np.ndarray, implied_mean: np.ndarray | None = None) -> np.ndarray:
    """Per-case gradient of the normal log-likelihood with respect to (mu, vech(Sigma)).

    Notes
    -----
    With z_i = y_i - mu and P = Sigma^-1: d l_i / d mu = P z_i and d l_i / d sigma_jk =
    (P z_i z_i' P - P)_jk, halved on the diagonal. Without ``implied_mean`` the mean is
    the sample mean and only the covariance scores are returned. Same as lavaan's
    ``lav_mvnorm_scores_mu_vech_sigma`` / ``lav_mvnorm_scores_vech_sigma``.
    """
    p = implied_cov.shape[0]
    precision = np.linalg.inv(implied_cov)
    mean = data.mean(axis=0) if implied_mean is None else np.asarray(implied_mean, dtype=float)
    weighted = (data - mean) @ precision
    rows, cols = vech_pairs(p)
    scores = weighted[:, rows] * weighted[:, cols] - precision[rows, cols]
    scores[:, rows == cols] /= 2.0
    return scores if implied_mean is None else np.hstack([weighted, scores])


def ml_moment_derivatives(sample_cov: np.ndarray, implied_cov: np.ndarray, sample_mean: np.ndarray | None = None,
                          implied_mean: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of lavaan's ML discrepancy with respect to the moments.

    Notes
    -----
    F = 1/2 [log|Sigma| + tr(S Sigma^-1) + r' Sigma^-1 r] + const, r = ybar - mu (lavaan's
    ``fmin``, = -logL/N + const). With P = Sigma^-1 and S* = S + r r':
    dF/dvech(Sigma) = D' vec(1/2 (P - P S* P)), dF/dmu = -P r,
    d2F/dvech^2 = D' (P S* P (x) P) D - 1/2 D' (P (x) P) D, d2F/dmu^2 = P and
    d2F/dmu dvech = (r'P (x) P) D. At S* = Sigma the Hessian is the expected information.
    """
    p = implied_cov.shape[0]
    precision = np.linalg.inv(implied_cov)
    rows, cols = vech_pairs(p)
    off_diagonal = (rows != cols).astype(float)
    residual = np.zeros(p) if implied_mean is None else np.asarray(sample_mean) - np.asarray(implied_mean)
    middle = precision @ (sample_cov + np.outer(residual, residual)) @ precision
    grad_cov = (0.5 * (precision - middle))[rows, cols] * (1.0 + off_diagonal)
    hess_cov = _dup_kron(middle, precision) - 0.5 * _dup_kron(precision, precision)
    if implied_mean is None:
        return grad_cov, hess_cov
    weighted = precision @ residual
    cross = (precision[:, rows] * weighted[cols] + precision[:, cols] * weighted[rows]) / (2.0 - off_diagonal)
    gradient = np.concatenate([-weighted, grad_cov])
    hessian = np.block([[precision, cross], [cross.T, hess_cov]])
    return gradient, hessian


def _dup_kron(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """D' (left (x) right) D for symmetric matrices, without forming the p^2 x p^2 product."""
    rows, cols = vech_pairs(left.shape[0])
    i, j, k, m = rows[:, None], cols[:, None], rows[None, :], cols[None, :]
    total = left[j, m] * right[i, k] + left[j, k] * right[i, m] + left[i, m] * right[j, k] + left[i, k] * right[j, m]
    return total / ((1.0 + (i == j)) * (1.0 + (k == m)))


def expected_moment_information(implied_cov: np.ndarray, meanstructure: bool = False) -> np.ndarray:
    """Normal-theory information per case: blockdiag(P, 1/2 D'(P (x) P) D)."""
    p = implied_cov.shape[0]
    _, hessian = ml_moment_derivatives(implied_cov, implied_cov, np.zeros(p) if meanstructure else None,
                                       np.zeros(p) if meanstructure else None)
    return hessian


def observed_information(jacobian: np.ndarray, sample_cov: np.ndarray, implied_cov: np.ndarray, *,
                         sample_mean: np.ndarray | None = None, implied_mean: np.ndarray | None = None,
                         moment_hessian: np.ndarray | None = None) -> np.ndarray:
    """Observed information per case: the Hessian of F with respect to the parameters.

    Notes
    -----
    H = Delta' (d2F/dm2) Delta + sum_k (dF/dm_k) d2m_k/dtheta2. This is lavaan's
    ``information = "observed"`` with ``observed.information = "hessian"`` (lavaan
    differentiates its analytic gradient numerically). Without ``moment_hessian`` the
    second term is dropped (lavaan's ``observed.information = "h1"``).
    """
    gradient, hessian = ml_moment_derivatives(sample_cov, implied_cov, sample_mean, implied_mean)
    information = jacobian.T @ hessian @ jacobian
    if moment_hessian is not None:
        information = information + np.tensordot(gradient, moment_hessian, axes=(0, 0))
    return 0.5 * (information + information.T)


def _ml_discrepancy(sample_cov, implied_cov, sample_mean=None, implied_mean=None) -> float:
    p = implied_cov.shape[0]
    precision = np.linalg.inv(implied_cov)
    value = (np.linalg.slogdet(implied_cov)[1] + np.trace(sample_cov @ precision)
             - np.linalg.slogdet(sample_cov)[1] - p)
    if implied_mean is not None:
        residual = np.asarray(sample_mean) - np.asarray(implied_mean)
        value += residual @ precision @ residual
    return float(value)


def _as_list(value, n_groups: int | None = None) -> list:
    if value is None:
        return [None] * (n_groups or 1)
    if isinstance(value, np.ndarray):
        return [value]
    return list(value)


@dataclass(frozen=True)
class RobustMLResult:
    """Robust ML quantities of one fit (lavaan names in ``fit``, snake_case)."""

    vcov: np.ndarray
    se: np.ndarray
    chisq: float
    df: int
    scaling_factor: float
    trace_ugamma: float
    baseline_chisq: float
    baseline_df: int
    baseline_scaling_factor: float
    n: int
    n_groups: int
    fit: dict = field(default_factory=dict)


def _group_pieces(data, implied_cov, implied_mean, jacobian, moment_hessian, information: str):
    n = data.shape[0]
    sample_mean = data.mean(axis=0)
    sample_cov = np.cov(data, rowvar=False, bias=True)
    if information == "given":  # the caller supplies the pooled bread
        a_info = None
    elif information == "expected":
        w = expected_moment_information(implied_cov, implied_mean is not None)
        a_info = jacobian.T @ w @ jacobian
    else:
        a_info = observed_information(jacobian, sample_cov, implied_cov, sample_mean=sample_mean,
                                      implied_mean=implied_mean, moment_hessian=moment_hessian)
    scores = casewise_scores(data, implied_cov, implied_mean)
    b0 = jacobian.T @ (scores.T @ scores / n) @ jacobian
    # Yuan-Bentler-Mplus: the h1 part is always "unstructured", i.e. at the sample moments
    h1_scores = casewise_scores(data, sample_cov, None if implied_mean is None else sample_mean)
    h1_info = expected_moment_information(sample_cov, implied_mean is not None)
    trace_h1 = float(np.trace(np.linalg.solve(h1_info, h1_scores.T @ h1_scores / n)))
    chisq = n * _ml_discrepancy(sample_cov, implied_cov, sample_mean, implied_mean)
    return n, a_info, b0, trace_h1, chisq


def robust_ml(data, implied_cov, jacobian, *, implied_mean=None, moment_hessian=None, df: int | None = None,
              information: str = "observed", baseline: bool = True, rmsea_level: float = 0.90,
              bread: np.ndarray | None = None) -> RobustMLResult:
    """Huber-White standard errors and Yuan-Bentler scaled test of an ML fit (lavaan MLR).

    Parameters
    ----------
    data : ndarray (N x p), or list of them (one per group)
        Complete rows, columns in the order of ``implied_cov``.
    implied_cov, jacobian : ndarray or list of ndarray
        Fitted Sigma and d m / d theta (m x q) per group; m = p(p+1)/2, or p + p(p+1)/2
        with ``implied_mean`` (means first).
    implied_mean : ndarray or list, optional
        Fitted mu when the model has a mean structure.
    moment_hessian : ndarray (m x q x q) or list, optional
        Second derivatives of the moments; gives lavaan's exact observed information.
    df : int, optional
        Model degrees of freedom; default sum of moments - q.
    information : {"observed", "expected"}
        Bread of the sandwich (MLR default "observed").
    bread : ndarray (q x q), optional
        The pooled per-case information A itself (e.g. half the Hessian of the fitted
        engine's objective); when given it replaces the one built from the moments.

    Notes
    -----
    With per-case information A = sum_g f_g A_g (f_g = N_g/N) and first-order matrix
    B = sum_g f_g Delta_g' B1_g Delta_g, B1_g = mean of casewise score outer products at
    the fitted moments, vcov = A^-1 B A^-1 / N. The Yuan-Bentler (Mplus) scaling factor is
    c = [sum_g tr(W_g^-1 B1u_g) - tr(A^-1 B)] / df, where W_g and B1u_g are the expected and
    first-order h1 information at the sample moments (tr(W^-1 B1u) = tr(Gamma W)).
    chisq_scaled = chisq / c. Checked against ``lavaan::cfa(..., estimator = "MLR")``
    (``lavInspect(fit, "se")``, ``fitMeasures(fit, "chisq.scaling.factor")``) and
    ``lav_test_yuan_bentler_mplus_trace``.
    """
    if information not in ("observed", "expected"):
        raise ModelError(f"information must be 'observed' or 'expected', got {information!r}")
    datas = [np.asarray(d, dtype=float) for d in _as_list(data)]
    groups = len(datas)
    covs, jacs = _as_list(implied_cov), _as_list(jacobian)
    means, hessians = _as_list(implied_mean, groups), _as_list(moment_hessian, groups)
    if not (len(covs) == len(jacs) == len(means) == len(hessians) == groups):
        raise ModelError(f"data, implied_cov, jacobian (and implied_mean, moment_hessian) need one entry per "
                         f"group; got {groups}, {len(covs)}, {len(jacs)}, {len(means)}, {len(hessians)}")
    for g, (x, cov, jac) in enumerate(zip(datas, covs, jacs)):
        if x.ndim != 2 or not np.all(np.isfinite(x)):
            raise DataError(f"group {g + 1}: data must be a 2-d array of complete numeric rows")
        if cov.shape != (x.shape[1], x.shape[1]):
            raise ModelError(f"group {g + 1}: implied_cov has shape {cov.shape}, data has {x.shape[1]} columns")
        expected_rows = x.shape[1] * (x.shape[1] + 1) // 2 + (0 if means[g] is None else x.shape[1])
        if jac.shape[0] != expected_rows:
            raise ModelError(f"group {g + 1}: jacobian has {jac.shape[0]} rows, expected {expected_rows} moments")
        if hessians[g] is not None and hessians[g].shape != (jac.shape[0], jac.shape[1], jac.shape[1]):
            raise ModelError(f"group {g + 1}: moment_hessian has shape {hessians[g].shape}, expected "
                             f"{(jac.shape[0], jac.shape[1], jac.shape[1])}")
    n, vcov, df, trace_ugamma, chisq = _sandwich_and_trace(datas, covs, means, jacs, hessians,
                                                           "given" if bread is not None else information, df,
                                                           bread)
    # lavaan reports no scaled test when tr(U Gamma) is negative
    scaling = trace_ugamma / df if df > 0 and trace_ugamma > 0 else float("nan")
    base = _baseline(datas, means[0] is not None) if baseline else (float("nan"), 0, float("nan"))
    fit = scaled_fit_indices(chisq, df, scaling, *base, n=n, n_groups=groups, level=rmsea_level) if baseline else {}
    se = np.sqrt(np.clip(np.diag(vcov), 0.0, None))
    return RobustMLResult(vcov, se, chisq, df, scaling, trace_ugamma, base[0], base[1], base[2], n, groups, fit)


def _sandwich_and_trace(datas, covs, means, jacs, hessians, information, df, bread=None):
    pieces = [_group_pieces(x, c, m, j, h, information)
              for x, c, m, j, h in zip(datas, covs, means, jacs, hessians)]
    n = sum(piece[0] for piece in pieces)
    a_info = sum(piece[0] / n * piece[1] for piece in pieces) if bread is None else np.asarray(bread, dtype=float)
    b_info = sum(piece[0] / n * piece[2] for piece in pieces)
    magnitudes = np.abs(np.linalg.eigvalsh(a_info))
    if magnitudes.min() <= 1e-10 * magnitudes.max():
        raise ConvergenceError("the information matrix is singular, so no robust standard errors or scaled test "
                               "exist; the model is probably not identified")
    a_inv = np.linalg.inv(a_info)
    vcov = a_inv @ b_info @ a_inv / n
    df = sum(j.shape[0] for j in jacs) - jacs[0].shape[1] if df is None else int(df)
    trace_ugamma = sum(piece[3] for piece in pieces) - float(np.sum(b_info * a_inv.T))
    return n, vcov, df, trace_ugamma, sum(piece[4] for piece in pieces)


def _baseline(datas: list[np.ndarray], meanstructure: bool) -> tuple[float, int, float]:
    """Independence model (diagonal Sigma, free means) and its scaling factor."""
    covs, jacs, means = [], [], []
    offset = 0
    q = sum(x.shape[1] * (2 if meanstructure else 1) for x in datas)
    for x in datas:
        p = x.shape[1]
        rows, cols = vech_pairs(p)
        diagonal = np.flatnonzero(rows == cols)
        m_rows = p * (p + 1) // 2 + (p if meanstructure else 0)
        jac = np.zeros((m_rows, q))
        start = p if meanstructure else 0
        if meanstructure:
            jac[np.arange(p), offset + np.arange(p)] = 1.0
            offset += p
        jac[start + diagonal, offset + np.arange(p)] = 1.0
        offset += p
        covs.append(np.diag(np.var(x, axis=0)))
        jacs.append(jac)
        means.append(x.mean(axis=0) if meanstructure else None)
    # Sigma is linear in the variances and the fit is exact on the diagonal, so the observed
    # information equals the expected one here
    _, _, df, trace_ugamma, chisq = _sandwich_and_trace(datas, covs, means, jacs, [None] * len(datas),
                                                        "expected", None)
    return chisq, df, trace_ugamma / df


def scaled_fit_indices(chisq: float, df: int, scaling_factor: float, baseline_chisq: float, baseline_df: int,
                       baseline_scaling_factor: float, *, n: int, n_groups: int = 1, level: float = 0.90) -> dict:
    """Scaled and robust CFI/TLI/RMSEA of a Yuan-Bentler (or Satorra-Bentler) scaled test.

    Notes
    -----
    Scaled: the indices applied to T/c and T_B/c_B; RMSEA.scaled and its interval use T
    with df* = c df (lavaan). Robust (Brosseau-Liard, Savalei & Li 2012; Brosseau-Liard &
    Savalei 2014): CFI = 1 - max(T - c df, 0) / max(T - c df, T_B - c_B df_B, 0),
    TLI = 1 - (T - c df) df_B / ((T_B - c_B df_B) df), RMSEA = sqrt(max(T/(N df) - c/N, 0))
    and interval sqrt(c lambda / (N df)) from T/c. RMSEA is multiplied by sqrt(G) for G
    groups. Checked against ``lavaan::fitMeasures`` (``*.scaled``, ``*.robust``).
    """
    chisq_scaled = chisq / scaling_factor
    base_scaled = baseline_chisq / baseline_scaling_factor
    groups = np.sqrt(n_groups)
    out = {
        "chisq_scaled": chisq_scaled,
        "df_scaled": df,
        "pvalue_scaled": float(stats.chi2.sf(chisq_scaled, df)) if df > 0 else float("nan"),
        "chisq_scaling_factor": scaling_factor,
        "baseline_chisq_scaled": base_scaled,
        "baseline_df_scaled": baseline_df,
        "baseline_pvalue_scaled": float(stats.chi2.sf(base_scaled, baseline_df)) if baseline_df > 0 else float("nan"),
        "baseline_chisq_scaling_factor": baseline_scaling_factor,
        "cfi_scaled": comparative_fit_index(chisq_scaled, df, base_scaled, baseline_df),
        "tli_scaled": tucker_lewis_index(chisq_scaled, df, base_scaled, baseline_df),
    }
    df_star = scaling_factor * df
    out["rmsea_scaled"] = groups * float(np.sqrt(max(chisq / (n * df_star) - 1.0 / n, 0.0))) if df > 0 else 0.0
    low, high = rmsea_confidence_interval(chisq, df_star, n, level) if df > 0 else (0.0, 0.0)
    out["rmsea_ci_lower_scaled"], out["rmsea_ci_upper_scaled"] = groups * low, groups * high
    t1 = chisq - scaling_factor * df
    t2 = baseline_chisq - baseline_scaling_factor * baseline_df
    denominator = max(t1, t2, 0.0)
    out["cfi_robust"] = 1.0 if denominator == 0 else 1.0 - max(t1, 0.0) / denominator
    out["tli_robust"] = 1.0 - (t1 * baseline_df) / (t2 * df) if df > 0 and t2 != 0 else 1.0
    out["rmsea_robust"] = groups * float(np.sqrt(max(chisq / (n * df) - scaling_factor / n, 0.0))) if df > 0 else 0.0
    low, high = rmsea_confidence_interval(chisq_scaled, df, n, level) if df > 0 else (0.0, 0.0)
    root_c = np.sqrt(scaling_factor)
    out["rmsea_ci_lower_robust"], out["rmsea_ci_upper_robust"] = groups * root_c * low, groups * root_c * high
    return out


def _semopy_sigma(model, params: np.ndarray) -> np.ndarray:
    model.update_matrices(params)
    sigma = np.asarray(model.calc_sigma()[0], dtype=float)
    rows, cols = vech_pairs(sigma.shape[0])
    return sigma[rows, cols]


def semopy_moment_jacobian(semopy_model, params: np.ndarray | None = None, *, second_order: bool = False,
                           step: float = 1e-4):
    """Jacobian (and optionally second derivatives) of vech(Sigma) of a fitted semopy Model.

    Parameters
    ----------
    semopy_model : semopy.Model
        A fitted model (covariance structure only; no mean structure).
    params : ndarray, optional
        Where to differentiate; default ``semopy_model.param_vals``.
    second_order : bool
        Also return d2 vech(Sigma) / dtheta dtheta' (m x q x q).
    step : float
        Central-difference step.

    Notes
    -----
    d sigma / d theta_j = [sigma(theta + h e_j) - sigma(theta - h e_j)] / 2h and the
    four-point mixed difference for the second derivatives, through semopy's
    ``Model.update_matrices`` + ``calc_sigma``. Columns follow ``param_vals`` (active
    parameters in ``semopy_model.parameters`` order). For polynomial structures (CFA)
    the differences are exact up to rounding (~1e-9).
    """
    base = np.asarray(semopy_model.param_vals if params is None else params, dtype=float).copy()
    q = len(base)
    try:
        plus = [_semopy_sigma(semopy_model, base + step * np.eye(q)[j]) for j in range(q)]
        minus = [_semopy_sigma(semopy_model, base - step * np.eye(q)[j]) for j in range(q)]
        jacobian = np.column_stack([(a - b) / (2 * step) for a, b in zip(plus, minus)])
        if not second_order:
            return jacobian
        centre = _semopy_sigma(semopy_model, base)
        hessian = np.empty((len(centre), q, q))
        for i in range(q):
            hessian[:, i, i] = (plus[i] - 2 * centre + minus[i]) / step**2
            for j in range(i):
                e_i, e_j = step * np.eye(q)[i], step * np.eye(q)[j]
                value = (_semopy_sigma(semopy_model, base + e_i + e_j) - _semopy_sigma(semopy_model, base + e_i - e_j)
                         - _semopy_sigma(semopy_model, base - e_i + e_j)
                         + _semopy_sigma(semopy_model, base - e_i - e_j)) / (4 * step**2)
                hessian[:, i, j] = hessian[:, j, i] = value
        return jacobian, hessian
    finally:
        semopy_model.update_matrices(np.asarray(semopy_model.param_vals, dtype=float))


def semopy_robust_ml(semopy_model, **kwargs) -> RobustMLResult:
    """:func:`robust_ml` for a fitted semopy Model (its data, Sigma and numerical Delta)."""
    jacobian, hessian = semopy_moment_jacobian(semopy_model, second_order=True)
    sigma = np.asarray(semopy_model.calc_sigma()[0], dtype=float)
    return robust_ml(np.asarray(semopy_model.mx_data, dtype=float), sigma, jacobian, moment_hessian=hessian, **kwargs)


def semopy_parameter_keys(semopy_model) -> list[tuple[str, str, str]]:
    """lavaan-style (lhs, op, rhs) of each free parameter, in ``param_vals`` order.

    Loadings (semopy's ``x ~ F`` rows held in Lambda) become ``F =~ x``; a label shared by
    several paths (equality constraint) is named by its first path.
    """
    from semopy.inspector import inspect_list

    table = inspect_list(semopy_model, index_names=True, information=None)
    lam = getattr(semopy_model, "mx_lambda", None)
    keys = []
    for name, parameter in semopy_model.parameters.items():
        if not parameter.active:
            continue
        row = table.loc[[name]].iloc[0]
        if row["op"] == "~" and any(loc.matrix is lam for loc in parameter.locations):
            keys.append((str(row["rval"]), "=~", str(row["lval"])))
        else:
            keys.append((str(row["lval"]), str(row["op"]), str(row["rval"])))
    return keys

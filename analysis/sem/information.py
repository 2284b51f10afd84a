"""Information matrices, moment Jacobian, casewise scores and standard errors.

Everything takes a fitted :class:`analysis.sem.engine.estimator.SEMEngine` (``engine``) and,
optionally, a free-parameter vector ``theta`` (default: the estimates ``engine.x_``).
Conventions, shared with ``analysis/sem/robust.py``:

* free parameters are ordered by the parameter table's ``free`` index (1..npar);
* sample moments of a group are ordered ``[mu (p, only with a mean structure);
  vech(Sigma)]`` with lavaan's ``vech`` (lower triangle, column by column);
* information matrices are *per observation* ("unit" information, lavaan's
  ``lavTech(fit, "information")``): ``sum_g (N_g / N) * I_g``; the covariance of the
  estimates is ``inv(I) / N``;
* casewise scores are d logL_i / d theta, one row per used case, groups stacked in
  group order and rows in the order of ``engine.groups_[g].raw``.

An MLR sandwich is then ``inv(A) @ (S.T @ S / N) @ inv(A) / N`` with
``A = observed_information(engine)`` and ``S = casewise_scores(engine)``.
"""

from __future__ import annotations

import numpy as np

from analysis.errors import check_choice

__all__ = [
    "casewise_scores",
    "complete_data_information",
    "duplication_matrix",
    "expected_information",
    "moment_jacobian",
    "normal_weight",
    "observed_information",
    "parameter_covariance",
    "vech_indices",
]


def vech_indices(p: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of lavaan's ``lav_matrix_vech``: lower triangle, column by column."""
    cols, rows = np.triu_indices(p)
    return rows, cols


def duplication_matrix(p: int) -> np.ndarray:
    """D with vec(S) = D vech(S) for symmetric S (column-major vec)."""
    rows, cols = vech_indices(p)
    D = np.zeros((p * p, len(rows)))
    for k, (i, j) in enumerate(zip(rows, cols)):
        D[i + j * p, k] = 1.0
        D[j + i * p, k] = 1.0
    return D


def normal_weight(sigma: np.ndarray, meanstructure: bool = True) -> np.ndarray:
    """Normal-theory weight matrix of the moments ``[mu; vech(Sigma)]``.

    Notes
    -----
    W = blockdiag(Sigma^-1, 1/2 D' (Sigma^-1 kron Sigma^-1) D), so the expected unit
    information is Delta' W Delta (lavaan ``lav_mvnorm_information_expected``).
    """
    inv = np.linalg.inv(sigma)
    D = duplication_matrix(sigma.shape[0])
    cov_block = 0.5 * D.T @ np.kron(inv, inv) @ D
    if not meanstructure:
        return cov_block
    p = sigma.shape[0]
    out = np.zeros((p + cov_block.shape[0],) * 2)
    out[:p, :p] = inv
    out[p:, p:] = cov_block
    return out


def _trace_products(X: np.ndarray) -> np.ndarray:
    """0.5 * tr(X_k X_l) for a stack X (k, p, p), as one matrix product (BLAS)."""
    k = X.shape[0]
    return 0.5 * X.reshape(k, -1) @ np.swapaxes(X, 1, 2).reshape(k, -1).T


def _theta(engine, theta):
    return np.asarray(engine.x_ if theta is None else theta, dtype=float)


def moment_jacobian(engine, theta=None) -> list[np.ndarray]:
    """Delta per group: d [mu; vech(Sigma)] / d theta', shape (n_moments, npar).

    Analytic (RAM chain rule, :meth:`RamModel.jacobian`); the mean rows are present only
    when the model has a mean structure.
    """
    out = []
    rows, cols = vech_indices(engine.model_.p)
    for d_sigma, d_mu in engine.model_.jacobian(_theta(engine, theta)):
        blocks = [d_mu.T] if engine.meanstructure_ else []
        blocks.append(d_sigma[:, rows, cols].T)
        out.append(np.vstack(blocks))
    return out


def expected_information(engine, theta=None) -> np.ndarray:
    """Expected (Fisher) unit information, lavaan ``information = "expected"``.

    Notes
    -----
    I = sum_g sum_patterns (n / N) [dmu_o' Sigma_oo^-1 dmu_o + 1/2 tr(Sigma_oo^-1
    dSigma_oo Sigma_oo^-1 dSigma_oo)]; with complete data (one pattern) this is
    Delta' W Delta at the model-implied moments (``h1.information = "structured"``).
    """
    x = _theta(engine, theta)
    implied = engine.model_.implied(x)
    info = np.zeros((engine.model_.npar,) * 2)
    for group, (sigma, _), (d_sigma, d_mu) in zip(engine.groups_, implied, engine.model_.jacobian(x)):
        for pattern in group.patterns:
            o = pattern.index
            inv = np.linalg.inv(sigma[np.ix_(o, o)])
            part = _trace_products(inv @ d_sigma[:, o][:, :, o])
            if engine.meanstructure_:
                dm = d_mu[:, o]
                part += dm @ inv @ dm.T
            info += pattern.n / engine.n_ * part
    return (info + info.T) / 2


def complete_data_information(engine, theta=None) -> np.ndarray:
    """Expected unit information as if no data were missing (Delta' W Delta per group).

    Equal to :func:`expected_information` for complete data; under FIML it is the cheap
    approximation the engine's Fisher-scoring steps use (one p x p block per group
    instead of one per missing-data pattern).
    """
    x = _theta(engine, theta)
    info = np.zeros((engine.model_.npar,) * 2)
    for group, (sigma, _), (d_sigma, d_mu) in zip(engine.groups_, engine.model_.implied(x),
                                                 engine.model_.jacobian(x)):
        inv = np.linalg.inv(sigma)
        part = _trace_products(inv @ d_sigma)
        if engine.meanstructure_:
            part += d_mu @ inv @ d_mu.T
        info += group.n / engine.n_ * part
    return (info + info.T) / 2


def observed_information(engine, theta=None, h: float = 1e-5) -> np.ndarray:
    """Observed unit information: Hessian of -logL/N, by differencing the analytic gradient.

    Notes
    -----
    Central differences of the analytic gradient with step ``h``, then symmetrised;
    lavaan's ``lav_model_hessian`` (the default ``observed.information = "hessian"``
    used for FIML standard errors) does the same with a five-point stencil. Costs 2 *
    npar gradient evaluations, each a pass over all missing-data patterns.
    """
    x = _theta(engine, theta)
    npar = len(x)
    hessian = np.zeros((npar, npar))
    for j in range(npar):
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        hessian[:, j] = (engine.gradient(up) - engine.gradient(down)) / (2 * h)
    hessian = (hessian + hessian.T) / 2
    return hessian / 2.0  # the engine's objective is -2 logL / N


def casewise_scores(engine, theta=None) -> np.ndarray:
    """Casewise gradient contributions d logL_i / d theta, shape (N, npar).

    Notes
    -----
    For case i with observed set o, d = y_o - mu_o and a = Sigma_oo^-1 d:
    dl_i/dmu_o = a and dl_i/dSigma_oo = (a a' - Sigma_oo^-1) / 2, chained through
    dSigma/dtheta and dmu/dtheta. Without a mean structure mu is the sample mean.
    The scores sum to (numerically) zero at the ML estimates. Rows: groups stacked.
    """
    x = _theta(engine, theta)
    implied = engine.model_.implied(x)
    blocks = []
    for group, (sigma, mu), (d_sigma, d_mu) in zip(engine.groups_, implied, engine.model_.jacobian(x)):
        scores = np.zeros((group.n, engine.model_.npar))
        centre = mu if engine.meanstructure_ else group.mean
        for pattern in group.patterns:
            o = pattern.index
            inv = np.linalg.inv(sigma[np.ix_(o, o)])
            a = (group.raw[np.ix_(pattern.rows, o)] - centre[o]) @ inv
            dS = d_sigma[:, o][:, :, o]
            quad = np.einsum("ia,kab,ib->ik", a, dS, a)
            trace = np.einsum("ab,kba->k", inv, dS)
            part = 0.5 * (quad - trace[None, :])
            if engine.meanstructure_:
                part += a @ d_mu[:, o].T
            scores[pattern.rows] = part
        blocks.append(scores)
    return np.vstack(blocks)


def information_matrix(engine, information: str = "expected", theta=None) -> np.ndarray:
    """Unit information at ``theta``: ``"expected"`` (Fisher) or ``"observed"`` (Hessian)."""
    check_choice("information", information, ("expected", "observed"))
    if information == "expected":
        return expected_information(engine, theta)
    return observed_information(engine, theta)


def covariance_from_information(info: np.ndarray, n: int, skip: np.ndarray | None = None) -> np.ndarray:
    """inv(N * I) over the parameters not in ``skip`` (those rows and columns are NaN).

    An all-NaN matrix when the information is singular (the model is then not identified).
    """
    keep = np.ones(len(info), dtype=bool) if skip is None else ~np.asarray(skip, dtype=bool)
    out = np.full_like(info, np.nan)
    reduced = info[np.ix_(keep, keep)]
    if not reduced.size:
        return out
    eig = np.linalg.eigvalsh(reduced)
    if eig.min() <= 1e-10 * max(eig.max(), 1e-300):
        return out
    out[np.ix_(keep, keep)] = np.linalg.inv(reduced) / n
    return out


def parameter_covariance(engine, information: str = "expected", theta=None) -> np.ndarray:
    """Covariance matrix of the free parameters, inv(N * I).

    Parameters
    ----------
    information : {"expected", "observed"}
        lavaan's default is "expected" for complete-data ML and "observed" for FIML.

    Returns
    -------
    ndarray, or an all-NaN matrix when the information matrix is singular (the model
    is then not identified).
    """
    return covariance_from_information(information_matrix(engine, information, theta), engine.n_)

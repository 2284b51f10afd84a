"""Normal-theory (FIML) likelihood over missing-data patterns, EM saturated model, baseline.

Complete data is one pattern with every variable observed, so the same function gives
the ML discrepancy (complete data) and the casewise FIML likelihood (missing data).
For a pattern with n rows, observed index o, pattern mean ybar and covariance S (divisor n)

    -2 logL_pattern = n [p_o log(2 pi) + log|Sigma_oo| + tr(Sigma_oo^-1 (S + d d'))],
    d = ybar - mu_o   (d = 0 without a mean structure: the means are then saturated).

This is lavaan's ``logl`` (``lav_mvnorm_missing_loglik_samplestats``); rows sharing a
pattern are summarised by their moments, which is exact and much faster than casewise.
"""

from __future__ import annotations

import numpy as np

from analysis.sem.engine.data import GroupData

__all__ = ["EM_MAX_ITER", "baseline_loglik", "covariate_loglik", "em_saturated", "loglik", "objective",
           "saturated_loglik"]

_LOG2PI = np.log(2 * np.pi)
EM_MAX_ITER = 5000


def _missing_blocks(batch, inverse: np.ndarray):
    """K_.m (k, p, p_m) and K_mm^-1 (k, p_m, p_m) of every pattern, with K = Sigma^-1.

    Notes
    -----
    Partitioned inverse: embedded in p-space (zeros at the missing positions),
    Sigma_oo^-1 = K - K_.m K_mm^-1 K_m. and log|Sigma_oo| = log|Sigma| + log|K_mm|,
    so only the small missing blocks are inverted per pattern and nothing of size
    p_o x p_o is formed per pattern.
    """
    mis = batch.missing
    k_m = np.transpose(inverse[:, mis], (1, 0, 2))
    k_mm = inverse[mis[:, :, None], mis[:, None, :]]
    return k_m, np.linalg.inv(k_mm), np.linalg.slogdet(k_mm)[1]


def _group_terms(group: GroupData, sigma: np.ndarray, mu: np.ndarray, meanstructure: bool,
                 with_gradient: bool):
    """sum over patterns of n [log|Sigma_oo| + tr(Sigma_oo^-1 (S + d d'))] and its
    derivatives w.r.t. Sigma and mu (unscaled). Raises LinAlgError if Sigma is not PD."""
    p = len(mu)
    chol = np.linalg.cholesky(sigma)
    inverse = np.linalg.inv(sigma)
    inverse = (inverse + inverse.T) / 2
    logdet = 2.0 * float(np.log(np.diag(chol)).sum())
    value, ws, wm = 0.0, np.zeros((p, p)), np.zeros(p)
    for batch in group.batches:
        o, n, has_missing = batch.observed, batch.n, batch.missing.shape[1] > 0
        if has_missing:
            k_m, k_mm_inv, k_mm_logdet = _missing_blocks(batch, inverse)
            value += float(n @ (logdet + k_mm_logdet))
        else:
            value += float(n.sum() * logdet)
        if meanstructure and batch.casewise:
            # few rows per pattern: a = Sigma_oo^-1 (y_o - mu_o), embedded, row by row
            rows = np.arange(len(batch.row_pattern))[:, None]
            resid = np.zeros((len(batch.row_pattern), p))
            cols = o[batch.row_pattern]
            resid[rows, cols] = batch.row_values - mu[cols]
            a = resid @ inverse
            if has_missing:
                which = batch.row_pattern
                v = k_mm_inv[which] @ a[rows, batch.missing[which]][:, :, None]
                a -= (k_m[which] @ v)[:, :, 0]
            value += float(np.sum(a * resid))
            if with_gradient:
                ws += n.sum() * inverse - a.T @ a
                if has_missing:
                    # sum_k n_k K_.m K_mm^-1 K_m. as one matrix product
                    left = (n[:, None, None] * k_m) @ k_mm_inv
                    ws -= left.transpose(1, 0, 2).reshape(p, -1) @ k_m.transpose(1, 0, 2).reshape(p, -1).T
                wm -= 2.0 * a.sum(axis=0)
            continue
        embedded = np.broadcast_to(inverse, (len(n), p, p))  # Sigma_oo^-1 of each pattern in p-space
        if has_missing:
            embedded = embedded - k_m @ k_mm_inv @ np.swapaxes(k_m, 1, 2)
        k = len(n)
        d = batch.mean - mu[o] if meanstructure else np.zeros_like(batch.mean)
        moment = np.zeros((k, p, p))
        idx = np.arange(k)[:, None, None]
        moment[idx, o[:, :, None], o[:, None, :]] = batch.cov + d[:, :, None] * d[:, None, :]
        value += float(n @ np.einsum("kab,kab->k", embedded, moment))
        if with_gradient:
            ws += np.einsum("k,kpq->pq", n, embedded - embedded @ moment @ embedded)
            if meanstructure:
                d_full = np.zeros((k, p))
                d_full[np.arange(k)[:, None], o] = d
                wm -= 2.0 * np.einsum("k,kpq,kq->p", n, embedded, d_full)
    return value, ws, wm


def objective(groups: list[GroupData], implied, n_total: int, meanstructure: bool,
              with_gradient: bool = True):
    """F = -2 logL / N without the 2 pi constant, and its derivatives.

    Returns ``(F, d_sigma, d_mu)``: lists with, per group, dF/dSigma (p x p, as an
    unconstrained matrix) and dF/dmu; ``(inf, None, None)`` if some implied Sigma is
    not positive definite.
    """
    value = 0.0
    d_sigma, d_mu = [], []
    try:
        for group, (sigma, mu) in zip(groups, implied):
            v, ws, wm = _group_terms(group, sigma, mu, meanstructure, with_gradient)
            value += v / n_total
            d_sigma.append(ws / n_total)
            d_mu.append(wm / n_total)
    except np.linalg.LinAlgError:
        return np.inf, None, None
    return value, d_sigma, d_mu


def loglik(groups: list[GroupData], implied, meanstructure: bool) -> list[float]:
    """Log-likelihood per group (lavaan's ``logl`` summed over groups = total)."""
    out = []
    for group, (sigma, mu) in zip(groups, implied):
        value = _group_terms(group, sigma, mu, meanstructure, with_gradient=False)[0]
        n_observed = sum(float(b.n @ np.full(len(b.n), b.observed.shape[1])) for b in group.batches)
        out.append(-0.5 * (value + n_observed * _LOG2PI))
    return out


def em_saturated(group: GroupData, tol: float = 1e-11, max_iter: int = EM_MAX_ITER) -> tuple[np.ndarray, np.ndarray, int]:
    """Unrestricted ML mean and covariance under missing data (EM algorithm).

    Notes
    -----
    Standard EM (Dempster, Laird & Rubin 1977) on pattern sufficient statistics; the
    h1 model lavaan fits for ``missing = "ml"`` (``lav_mvnorm_missing_h1_estimate_moments``).
    Stops when no moment changes by more than ``tol`` (relative).
    """
    p = group.raw.shape[1]
    mu = np.nanmean(group.raw, axis=0)
    sigma = np.diag(np.nanvar(group.raw, axis=0))
    n = group.n
    for iteration in range(1, max_iter + 1):
        t1, t2 = np.zeros(p), np.zeros((p, p))
        for batch in group.batches:
            o, mis, k = batch.observed, batch.missing, batch.n
            m2 = batch.cov + batch.mean[:, :, None] * batch.mean[:, None, :]
            np.add.at(t1, o, k[:, None] * batch.mean)
            np.add.at(t2, (o[:, :, None], o[:, None, :]), k[:, None, None] * m2)
            if mis.shape[1] == 0:
                continue
            s_oo = sigma[o[:, :, None], o[:, None, :]]
            s_om = sigma[o[:, :, None], mis[:, None, :]]
            coef = np.swapaxes(np.linalg.solve(s_oo, s_om), 1, 2)  # k x p_m x p_o
            c = mu[mis] - np.einsum("kmo,ko->km", coef, mu[o])
            resid = sigma[mis[:, :, None], mis[:, None, :]] - coef @ s_om
            fitted = np.einsum("kmo,ko->km", coef, batch.mean)
            np.add.at(t1, mis, k[:, None] * (c + fitted))
            cross = k[:, None, None] * (c[:, :, None] * batch.mean[:, None, :] + coef @ m2)
            np.add.at(t2, (mis[:, :, None], o[:, None, :]), cross)
            np.add.at(t2, (o[:, :, None], mis[:, None, :]), np.swapaxes(cross, 1, 2))
            cb = c[:, :, None] * fitted[:, None, :]
            block = (c[:, :, None] * c[:, None, :] + cb + np.swapaxes(cb, 1, 2)
                     + coef @ m2 @ np.swapaxes(coef, 1, 2) + resid)
            np.add.at(t2, (mis[:, :, None], mis[:, None, :]), k[:, None, None] * block)
        new_mu = t1 / n
        new_sigma = t2 / n - np.outer(new_mu, new_mu)
        new_sigma = (new_sigma + new_sigma.T) / 2
        change = max(np.max(np.abs(new_mu - mu) / (1 + np.abs(mu))),
                     np.max(np.abs(new_sigma - sigma) / (1 + np.abs(sigma))))
        mu, sigma = new_mu, new_sigma
        if change < tol:
            break
    return mu, sigma, iteration


def saturated_loglik(group: GroupData) -> float:
    """Log-likelihood of the unrestricted model at the group's h1 moments."""
    return loglik([group], [(group.cov, group.mean)], meanstructure=True)[0]


def baseline_loglik(group: GroupData, x_index: list[int]) -> float:
    """Log-likelihood of lavaan's independence (baseline) model.

    Notes
    -----
    Independent variables with free means and variances; fixed-x covariates keep their
    sample covariance matrix. Under FIML the likelihood factorises over variables, so
    each variable's ML mean/variance come from its observed values alone (which is what
    lavaan's FIML baseline fit converges to).
    """
    raw = group.raw
    total = covariate_loglik(group, x_index)
    for k in range(raw.shape[1]):
        if k in x_index:
            continue
        values = raw[~np.isnan(raw[:, k]), k]
        total += -0.5 * len(values) * (_LOG2PI + np.log(values.var()) + 1.0)
    return total


def covariate_loglik(group: GroupData, x_index: list[int]) -> float:
    """Saturated log-likelihood of the fixed-x covariates alone (complete by construction).

    Notes
    -----
    lavaan subtracts it from ``logl`` when ``fixed.x = TRUE``, so reported
    log-likelihoods (and AIC/BIC) are conditional on the covariates.
    """
    if not x_index:
        return 0.0
    block = group.raw[:, x_index]
    cov = np.atleast_2d(np.cov(block, rowvar=False, bias=True))
    return -0.5 * len(block) * (len(x_index) * _LOG2PI + np.linalg.slogdet(cov)[1] + len(x_index))

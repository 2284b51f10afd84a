"""Sample statistics of ordinal data for WLS estimation: thresholds, polychorics and Gamma.

The statistics vector is s = (thresholds, polychoric correlations), ordered as lavaan
orders ``lavInspect(fit, "wls.obs")``: the thresholds of each variable in turn
(``x1|t1, x1|t2, ..., x2|t1, ...``), then the correlations of the lower triangle column
by column (``x1~~x2, x1~~x3, ..., x8~~x9``). Gamma (lavaan's ``NACOV``) is the
asymptotic covariance matrix of sqrt(N) s, estimated by Muthen's (1984) sandwich from
casewise scores of the univariate and bivariate likelihoods.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr

from analysis.errors import DataError
from analysis.sem.ordinal.polychoric import (
    OrdinalData,
    cell_probabilities,
    ordinal_data,
    pair_tables,
    polychoric_correlations,
)

__all__ = ["OrdinalSampleStats", "asymptotic_covariance", "ordinal_sample_stats"]


def _density(x: np.ndarray) -> np.ndarray:
    finite = np.isfinite(x)
    safe = np.where(finite, x, 0.0)
    return np.where(finite, np.exp(-0.5 * safe * safe) / np.sqrt(2.0 * np.pi), 0.0)


@dataclass(frozen=True)
class OrdinalSampleStats:
    """Thresholds, polychorics and their asymptotic covariance, ready for DWLS.

    Attributes
    ----------
    variables : tuple of str
    n : int
        Complete rows used (``n_dropped`` rows had a missing value).
    threshold_names : tuple of (variable, "t1") pairs, in statistics order
    pairs : tuple of (i, j) index pairs (i > j) in statistics order
    statistics : ndarray
        s = (thresholds, correlations).
    gamma : ndarray
        Asymptotic covariance of sqrt(N) s (lavaan ``lavInspect(fit, "gamma")``).
    correlation : DataFrame
        The polychoric matrix.
    notes : tuple of str
        Estimation warnings (non-convergence, |rho| near 1).
    """

    variables: tuple[str, ...]
    n: int
    n_dropped: int
    threshold_names: tuple[tuple[str, str], ...]
    threshold_owner: np.ndarray
    pairs: tuple[tuple[int, int], ...]
    statistics: np.ndarray
    gamma: np.ndarray
    correlation: pd.DataFrame
    notes: tuple[str, ...] = ()

    @property
    def n_thresholds(self) -> int:
        return len(self.threshold_names)

    @property
    def thresholds(self) -> np.ndarray:
        return self.statistics[:self.n_thresholds]

    @property
    def correlations(self) -> np.ndarray:
        return self.statistics[self.n_thresholds:]

    @property
    def dwls_weights(self) -> np.ndarray:
        """Diagonal of lavaan's DWLS weight matrix W_D = diag(Gamma)^-1 (``lavInspect(fit, "wls.v")``)."""
        return 1.0 / np.diag(self.gamma)

    @property
    def statistic_names(self) -> list[str]:
        names = [f"{v}|{t}" for v, t in self.threshold_names]
        return names + [f"{self.variables[j]}~~{self.variables[i]}" for i, j in self.pairs]


def _univariate_scores(coded: OrdinalData) -> np.ndarray:
    """Casewise d log P(y_j) / d tau of every threshold (one column per threshold)."""
    columns = []
    rows = np.arange(coded.n)
    for j, tau in enumerate(coded.thresholds):
        ext = np.concatenate([[-np.inf], tau, [np.inf]])
        code = coded.codes[:, j]
        lik = ndtr(ext[code + 1]) - ndtr(ext[code])
        scores = np.zeros((coded.n, len(tau)))
        # a missing value (code -1) scores 0, as lavaan's NA-skipping crossproducts
        upper = (code >= 0) & (code < len(tau))
        scores[rows[upper], code[upper]] = _density(tau[code[upper]]) / lik[upper]
        lower = code > 0
        scores[rows[lower], code[lower] - 1] = -_density(tau[code[lower] - 1]) / lik[lower]
        columns.append(scores)
    return np.hstack(columns)


def _threshold_derivatives(ext_own: np.ndarray, ext_other: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """d pi_ab / d tau_t of one variable's thresholds: M[pair, t, category of the other variable]."""
    tau = ext_own[:, 1:-1]
    finite = np.isfinite(tau)
    tau_safe = np.where(finite, tau, 0.0)[:, :, None]
    r = rho[:, None, None]
    scale = np.sqrt((1.0 - r) * (1.0 + r))
    other = ext_other[:, None, :]
    with np.errstate(invalid="ignore"):
        cdf = ndtr((other - r * tau_safe) / scale)
    cdf = np.where(np.isnan(cdf), 1.0, cdf)  # +inf - (+inf) padding: probability mass 0 either way
    band = cdf[:, :, 1:] - cdf[:, :, :-1]
    return _density(np.where(finite, tau, np.inf))[:, :, None] * band


def asymptotic_covariance(coded: OrdinalData, rho: np.ndarray) -> np.ndarray:
    """Gamma: asymptotic covariance of sqrt(N) (thresholds, polychorics).

    Notes
    -----
    Muthen (1984), as ``lavaan:::muthen1984``: with casewise scores SC = [SC_th, SC_rho],
    INNER = SC'SC, A11 = block-diagonal INNER_th,th per variable, A22 = diag(SC_rho'SC_rho),
    A21 = sum over cases of SC_rho x (bivariate d log pi / d tau), and
    B^-1 = [[A11^-1, 0], [-A22^-1 A21 A11^-1, A22^-1]],
    Gamma = N B^-1 INNER B^-T. Checked against ``lavInspect(fit, "gamma")``.
    """
    pairs = coded.pairs()
    first = np.array([i for i, _ in pairs])
    second = np.array([j for _, j in pairs])
    perfect = np.flatnonzero(np.abs(rho) >= 1.0)
    if perfect.size:
        i, j = pairs[perfect[0]]
        raise DataError(f"the 2x2 table of {coded.variables[j]!r} and {coded.variables[i]!r} has two empty cells, so "
                        "their polychoric correlation is +-1 and has no sampling variance; drop or merge one item")
    ext = coded.extended_thresholds()
    tables = pair_tables(coded, pairs)
    prob, d_rho, _ = cell_probabilities(ext[first], ext[second], rho, derivatives=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(prob > 0, d_rho / np.where(prob > 0, prob, 1.0), 0.0)
    pair_index = np.arange(len(pairs))[None, :]
    code_first, code_second = coded.codes[:, first], coded.codes[:, second]
    score_rho = ratio[pair_index, np.maximum(code_first, 0), np.maximum(code_second, 0)]
    score_rho[(code_first < 0) | (code_second < 0)] = 0.0
    score_th = _univariate_scores(coded)
    scores = np.hstack([score_th, score_rho])
    inner = scores.T @ scores

    n_th = score_th.shape[1]
    start = np.concatenate([[0], np.cumsum(coded.n_categories - 1)])
    a11_inv = np.zeros((n_th, n_th))
    for j in range(len(coded.variables)):
        block = slice(start[j], start[j + 1])
        a11_inv[block, block] = np.linalg.inv(inner[block, block])
    a22 = np.sum(score_rho ** 2, axis=0)
    if np.any(a22 <= 0):
        raise DataError("cannot compute the asymptotic covariance of the polychorics: a pair of items has "
                        "no information about its correlation (a zero score for every respondent)")

    # sum_n score_rho * d log pi / d tau = sum_ab n_ab (pi'_ab / pi_ab) (d pi_ab / d tau) / pi_ab
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(tables > 0, tables * ratio / np.where(prob > 0, prob, 1.0), 0.0)
    a21 = np.zeros((len(pairs), n_th))
    deriv_first = _threshold_derivatives(ext[first], ext[second], rho)       # [pair, t, b]
    deriv_second = _threshold_derivatives(ext[second], ext[first], rho)      # [pair, t, a]
    w_first = weight[:, :-1, :] - weight[:, 1:, :]                           # rows t vs t + 1
    w_second = np.swapaxes(weight[:, :, :-1] - weight[:, :, 1:], 1, 2)
    grad_first = np.sum(deriv_first * w_first, axis=2)
    grad_second = np.sum(deriv_second * w_second, axis=2)
    for m, (i, j) in enumerate(pairs):
        a21[m, start[i]:start[i + 1]] = grad_first[m, :start[i + 1] - start[i]]
        a21[m, start[j]:start[j + 1]] = grad_second[m, :start[j + 1] - start[j]]

    b_inv = np.zeros_like(inner)
    b_inv[:n_th, :n_th] = a11_inv
    b_inv[n_th:, n_th:] = np.diag(1.0 / a22)
    b_inv[n_th:, :n_th] = -(a21 / a22[:, None]) @ a11_inv
    return coded.n * (b_inv @ inner @ b_inv.T)


def ordinal_sample_stats(data: pd.DataFrame, columns=None, missing: str = "listwise") -> OrdinalSampleStats:
    """Thresholds, polychoric correlations and Gamma of ordinal columns.

    Parameters
    ----------
    data : DataFrame
    columns : list of str, optional
        The ordinal variables, in model order (default: all columns).
    missing : {"listwise", "pairwise"}
        lavaan's ``missing = "listwise"`` (default) or ``"pairwise"``: thresholds from each
        item's observed values, polychorics from pairwise-complete rows, and casewise
        scores of missing values set to 0 in Gamma (N = rows with any observed value).

    Returns
    -------
    OrdinalSampleStats

    Notes
    -----
    Equivalent to lavaan's sample statistics for ``cfa(..., ordered = columns)`` with the
    ``missing = "listwise"`` or ``"pairwise"``: ``lavInspect(fit, "wls.obs")`` and
    ``lavInspect(fit, "gamma")`` (parity to 1e-6 in tests/test_polychoric.py).
    """
    coded = ordinal_data(data, columns, missing=missing)
    rho, notes = polychoric_correlations(coded)
    gamma = asymptotic_covariance(coded, rho)
    names = tuple((v, f"t{k + 1}") for v, tau in zip(coded.variables, coded.thresholds) for k in range(len(tau)))
    owner = np.array([j for j, tau in enumerate(coded.thresholds) for _ in tau])
    corr = np.eye(len(coded.variables))
    for (i, j), value in zip(coded.pairs(), rho):
        corr[i, j] = corr[j, i] = value
    return OrdinalSampleStats(
        variables=coded.variables, n=coded.n, n_dropped=coded.n_dropped, threshold_names=names,
        threshold_owner=owner, pairs=tuple(coded.pairs()),
        statistics=np.concatenate([np.concatenate(coded.thresholds), rho]), gamma=gamma,
        correlation=pd.DataFrame(corr, index=coded.variables, columns=coded.variables), notes=tuple(notes))

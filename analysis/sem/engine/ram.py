"""Model-implied moments in RAM form, their gradient and Jacobian.

Variables are ordered observed first (lavaan order), then latent; with m variables,
p of them observed:

* ``A`` (m x m) directed paths: ``A[y, x]`` is the effect of x on y (``y ~ x``) or the
  loading of indicator y on latent x (``x =~ y``);
* ``S`` (m x m) symmetric (residual) variances and covariances (``~~``);
* ``m`` (m) intercepts and latent means (``~ 1``).

With ``B = (I - A)^-1`` and ``G = B[:p]`` (the filter F selects the observed rows):
``Sigma = G S G'`` and ``mu = G m`` (McArdle & McDonald 1984). Every parameter-table row
maps to one matrix entry (two for an off-diagonal ``~~``); parameters sharing a free
index (equality constraints) simply accumulate over their entries.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["RamModel"]

_A, _S, _M = 0, 1, 2


class RamModel:
    """Implied moments of a lavaan parameter table (any number of groups).

    Parameters
    ----------
    partable : DataFrame
        Output of :func:`analysis.sem.partable.build_partable` (``free``: 0 fixed,
        else 1-based index).
    observed, latent : sequence of str
        Variable names; observed order defines the order of Sigma and mu.
    ngroups : int
    meanstructure : bool
    """

    def __init__(self, partable: pd.DataFrame, observed, latent, ngroups: int, meanstructure: bool):
        self.observed = list(observed)
        self.latent = list(latent)
        self.names = self.observed + self.latent
        self.p, self.m = len(self.observed), len(self.names)
        self.ngroups = ngroups
        self.meanstructure = meanstructure
        self.npar = int(partable["free"].max()) if len(partable) else 0
        position = {name: k for k, name in enumerate(self.names)}
        entries = []  # (row, group, kind, i, j)
        for row, rec in enumerate(partable[["lhs", "op", "rhs", "group"]].itertuples(index=False)):
            g = int(rec.group) - 1
            if rec.op == "=~":
                entries.append((row, g, _A, position[rec.rhs], position[rec.lhs]))
            elif rec.op == "~":
                entries.append((row, g, _A, position[rec.lhs], position[rec.rhs]))
            elif rec.op == "~~":
                i, j = position[rec.lhs], position[rec.rhs]
                entries.append((row, g, _S, i, j))
                if i != j:
                    entries.append((row, g, _S, j, i))
            elif rec.op == "~1":
                entries.append((row, g, _M, position[rec.lhs], 0))
        self.entries = np.array(entries, dtype=int).reshape(-1, 5)
        free = partable["free"].to_numpy()
        self.entry_param = free[self.entries[:, 0]] - 1  # -1 = fixed
        self.values = partable["ustart"].to_numpy(dtype=float).copy()

    def set_row_values(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Set the values of fixed rows (e.g. fixed-x moments from the sample)."""
        self.values[rows] = values

    # ------------------------------------------------------------------ matrices
    def matrices(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(A, S, m) per group at free-parameter vector ``x``."""
        out = []
        vals = self.values[self.entries[:, 0]].copy()
        free_rows = self.entry_param >= 0
        vals[free_rows] = np.asarray(x, dtype=float)[self.entry_param[free_rows]]
        for g in range(self.ngroups):
            A, S, mvec = np.zeros((self.m, self.m)), np.zeros((self.m, self.m)), np.zeros(self.m)
            sel = self.entries[:, 1] == g
            kind, i, j, v = self.entries[sel, 2], self.entries[sel, 3], self.entries[sel, 4], vals[sel]
            A[i[kind == _A], j[kind == _A]] = v[kind == _A]
            S[i[kind == _S], j[kind == _S]] = v[kind == _S]
            mvec[i[kind == _M]] = v[kind == _M]
            out.append((A, S, mvec))
        return out

    def _parts(self, x):
        parts = []
        eye = np.eye(self.m)
        for A, S, mvec in self.matrices(x):
            B = np.linalg.solve(eye - A, eye)
            G = B[: self.p]
            parts.append((A, S, mvec, B, G))
        return parts

    def implied(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Model-implied (Sigma, mu) per group (mu is zeros without a mean structure)."""
        out = []
        for _, S, mvec, _, G in self._parts(x):
            sigma = G @ S @ G.T
            out.append(((sigma + sigma.T) / 2, G @ mvec))
        return out

    def total_covariance(self, x: np.ndarray) -> list[np.ndarray]:
        """Implied covariance of all variables (observed then latent) per group."""
        return [B @ S @ B.T for _, S, _, B, _ in self._parts(x)]

    # ------------------------------------------------------------------ derivatives
    def gradient(self, x: np.ndarray, d_sigma: list[np.ndarray], d_mu: list[np.ndarray]) -> np.ndarray:
        """Chain rule: gradient w.r.t. ``x`` of a function whose derivatives w.r.t.
        each group's Sigma (as an unconstrained matrix) and mu are ``d_sigma``/``d_mu``."""
        grad = np.zeros(self.npar)
        for g, (_, S, mvec, B, G) in enumerate(self._parts(x)):
            GW = G.T @ d_sigma[g] @ G
            Gmu = G.T @ d_mu[g]
            dA = 2.0 * GW @ S @ B.T + np.outer(Gmu, B @ mvec)
            sel = (self.entries[:, 1] == g) & (self.entry_param >= 0)
            kind, i, j = self.entries[sel, 2], self.entries[sel, 3], self.entries[sel, 4]
            partial = np.where(kind == _A, dA[i, j], np.where(kind == _S, GW[i, j], Gmu[i]))
            np.add.at(grad, self.entry_param[sel], partial)
        return grad

    def jacobian(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per group ``(dSigma, dmu)`` with shapes (npar, p, p) and (npar, p).

        ``dSigma[k]`` is the symmetric derivative of Sigma w.r.t. free parameter k.
        """
        out = []
        for g, (_, S, mvec, B, G) in enumerate(self._parts(x)):
            d_sigma = np.zeros((self.npar, self.p, self.p))
            d_mu = np.zeros((self.npar, self.p))
            sel = (self.entries[:, 1] == g) & (self.entry_param >= 0)
            kind, i, j, k = (self.entries[sel, 2], self.entries[sel, 3], self.entries[sel, 4],
                             self.entry_param[sel])
            V = B @ S @ G.T  # m x p
            Bm = B @ mvec
            a = kind == _A
            if a.any():
                u, v = G[:, i[a]].T, V[j[a]]
                _accumulate(d_sigma, k[a], u[:, :, None] * v[:, None, :] + v[:, :, None] * u[:, None, :])
                _accumulate(d_mu, k[a], u * Bm[j[a], None])
            s = kind == _S
            if s.any():
                _accumulate(d_sigma, k[s], G[:, i[s]].T[:, :, None] * G[:, j[s]].T[:, None, :])
            mm = kind == _M
            if mm.any():
                _accumulate(d_mu, k[mm], G[:, i[mm]].T)
            out.append((d_sigma, d_mu))
        return out


def _accumulate(target: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """``target[index] += values``, summing repeated indices (equality-constrained parameters).

    Plain fancy-index addition is several times faster than ``np.add.at`` and exact when
    no index repeats, which is the common case.
    """
    if len(np.unique(index)) == len(index):
        target[index] += values
    else:
        np.add.at(target, index, values)

"""Bounds on labelled parameters (``v1 > 0``, ``a < 1``): estimation at an active bound.

lavaan treats a bound as an inequality constraint: the estimate stays inside, a bound
that binds holds the parameter at its value, the parameter keeps counting as free (npar
and df do not change) and gets no standard error. Here the bounded problem is solved
by L-BFGS-B (scipy's well-tested bound-constrained quasi-Newton), and the parameters
not at a bound are then polished by secant scoring on the reduced problem, so the
result has the same precision as an unconstrained fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from analysis.errors import ModelError
from analysis.sem.engine.scoring import secant_scoring

__all__ = ["Bound", "bounds_of", "violated", "optimize_within_bounds"]


@dataclass(frozen=True)
class Bound:
    """``x[index] > value`` (``lower``) or ``x[index] < value``, from syntax line ``line``."""

    index: int
    lower: bool
    value: float
    label: str
    line: int


def bounds_of(parsed, table: pd.DataFrame) -> list[Bound]:
    """The bounds of a parsed model as constraints on free-parameter indices."""
    out = []
    for label, direction, value, line in parsed.bounds:
        rows = table[(table["label"] == label) & (table["op"] != ":=")]
        free = rows["free"].to_numpy()
        if not len(free) or (free == 0).all():
            raise ModelError(f"model syntax line {line}: bound on {label!r}, which labels a fixed parameter; "
                             "a bound applies to a free parameter")
        out.append(Bound(int(free[free > 0][0]) - 1, direction == ">", value, label, line))
    return out


def violated(bounds: list[Bound], x: np.ndarray) -> bool:
    return any((x[b.index] < b.value) if b.lower else (x[b.index] > b.value) for b in bounds)


class _Reduced:
    """The engine's objective over the parameters not held at a bound."""

    def __init__(self, engine, x: np.ndarray, free: np.ndarray):
        self.engine, self.x, self.free = engine, x.copy(), free

    def full(self, reduced: np.ndarray) -> np.ndarray:
        x = self.x.copy()
        x[self.free] = reduced
        return x

    def _value_and_gradient(self, reduced: np.ndarray):
        value, grad = self.engine._value_and_gradient(self.full(reduced))
        return value, grad[self.free]


def optimize_within_bounds(engine, x: np.ndarray, metric: np.ndarray, bounds: list[Bound],
                           step_tol: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Minimise within ``bounds`` from ``x``; returns (x, mask of parameters at a bound, last step)."""
    lo, hi = np.full(len(x), -np.inf), np.full(len(x), np.inf)
    for b in bounds:
        if b.lower:
            lo[b.index] = max(lo[b.index], b.value)
        else:
            hi[b.index] = min(hi[b.index], b.value)
    start = np.clip(x, lo, hi)
    result = optimize.minimize(engine._value_and_gradient, start, jac=True, method="L-BFGS-B",
                               bounds=[(a if np.isfinite(a) else None, c if np.isfinite(c) else None)
                                       for a, c in zip(lo, hi)],
                               options={"maxiter": 20000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 30})
    x = np.clip(result.x, lo, hi)
    at_bound = np.zeros(len(x), dtype=bool)
    for b in bounds:
        if abs(x[b.index] - b.value) <= 1e-8 * max(1.0, abs(b.value)):
            x[b.index] = b.value
            at_bound[b.index] = True
    free = ~at_bound
    reduced = _Reduced(engine, x, free)
    polished, step, _ = secant_scoring(reduced, x[free], metric[np.ix_(free, free)], step_tol=step_tol)
    return reduced.full(polished), at_bound, step

"""Robust maximum likelihood (lavaan ``estimator = "MLR"``) for a fitted engine.

The estimates are the ML estimates; what changes is the standard errors (Huber-White
sandwich) and the test statistic (Yuan-Bentler scaling), both computed by
:func:`analysis.sem.robust.robust_ml` from the engine's complete rows, implied moments
and analytic moment Jacobian. lavaan's MLR bread is the observed information, the
Hessian of the ML objective; it is obtained here by central differences of the engine's
analytic gradient (2q gradients), far cheaper than differentiating every moment twice.
"""

from __future__ import annotations

import numpy as np

from analysis.errors import ConfigError
from analysis.sem.information import moment_jacobian
from analysis.sem.robust import RobustMLResult, robust_ml

__all__ = ["moment_hessian", "objective_hessian", "robust_result"]


def moment_hessian(engine, x: np.ndarray, step: float = 1e-5) -> list[np.ndarray]:
    """d2 m / dx dx' per group (m x q x q) by central differences of the analytic Jacobian."""
    q = len(x)
    columns = []
    for j in range(q):
        h = step * max(1.0, abs(x[j]))
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        columns.append([(a - b) / (2 * h) for a, b in zip(moment_jacobian(engine, up), moment_jacobian(engine, down))])
    out = []
    for g in range(len(engine.groups_)):
        hessian = np.stack([columns[j][g] for j in range(q)], axis=2)  # m x q x q
        out.append(0.5 * (hessian + hessian.transpose(0, 2, 1)))
    return out


def objective_hessian(engine, x: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """Hessian of the engine's objective (-2 logL / N) by central differences of its analytic gradient."""
    q = len(x)
    hessian = np.empty((q, q))
    for j in range(q):
        h = step * max(1.0, abs(x[j]))
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        hessian[:, j] = (engine.gradient(up) - engine.gradient(down)) / (2 * h)
    return 0.5 * (hessian + hessian.T)


def robust_result(engine) -> RobustMLResult:
    """Huber-White vcov and the Yuan-Bentler scaled test of a complete-data ML fit.

    Notes
    -----
    Checked against ``lavaan::cfa(model, data, estimator = "MLR")`` (SEs, scaled chi-square,
    scaling factor, scaled and robust CFI/TLI/RMSEA).
    """
    if any(not g.complete for g in engine.groups_):
        raise ConfigError("estimator: 'MLR' is supported for complete data (missing='listwise'); "
                          "with missing='fiml' use estimator 'ML'")
    if len(engine.variables_.ov_x):
        raise ConfigError("estimator: 'MLR' with observed exogenous covariates (fixed.x) is not supported yet; "
                          f"covariates: {', '.join(engine.variables_.ov_x)}; use estimator 'ML'")
    x = engine.x_
    implied = engine.model_.implied(x)
    means = [m for _, m in implied] if engine.meanstructure_ else None
    return robust_ml([g.raw for g in engine.groups_], [s for s, _ in implied], moment_jacobian(engine, x),
                     implied_mean=means, df=int(engine.fit_["df"]), rmsea_level=engine.rmsea_level,
                     bread=0.5 * objective_hessian(engine, x))

"""Scoring iterations with secant (BFGS) updates of the scoring metric.

Fisher scoring with the complete-data expected information converges only linearly
when the model does not fit exactly or data are missing, because the expected
information is not the Hessian there; recomputing it at every step is also the most
expensive part of an iteration. Starting from the expected information and improving
it with BFGS secant updates learns the missing curvature from the gradients, so the
iterations converge superlinearly while each costs one objective and gradient.
"""

from __future__ import annotations

import numpy as np

__all__ = ["halving_step", "secant_scoring"]


def halving_step(engine, x: np.ndarray, step: np.ndarray, value: float):
    """``x + t * step`` for the largest t in 1, 1/2, 1/4, ... that does not increase the objective.

    Returns (trial, its value, its gradient), or None when 40 halvings find no such point.
    """
    t = 1.0
    for _ in range(40):
        trial = x + t * step
        trial_value, trial_grad = engine._value_and_gradient(trial)
        if trial_value <= value + 1e-13 * max(1.0, abs(value)):
            return trial, trial_value, trial_grad
        t /= 2
    return None


def secant_scoring(engine, x: np.ndarray, metric: np.ndarray, *, step_tol: float,
                   max_iter: int = 500) -> tuple[np.ndarray, float, int]:
    """Minimise ``engine``'s objective from ``x``; returns (x, last relative step, iterations).

    ``metric`` is the initial scoring matrix (twice the unit information); steps are halved
    until the objective does not increase, and iterations stop when no parameter moves
    by more than ``step_tol`` relative to max(1, |x|). A step of ``inf`` means no
    decreasing step could be found (the caller falls back to another optimiser).
    """
    value, grad = engine._value_and_gradient(x)
    step_size = np.inf
    for iteration in range(1, max_iter + 1):
        try:
            step = -np.linalg.solve(metric, grad)
        except np.linalg.LinAlgError:
            return x, np.inf, iteration
        found = halving_step(engine, x, step, value)
        if found is None:
            return x, step_size, iteration
        trial, trial_value, trial_grad = found
        s, y = trial - x, trial_grad - grad
        x, value, grad = trial, trial_value, trial_grad
        step_size = float(np.max(np.abs(s) / np.maximum(1.0, np.abs(x))))
        if step_size < step_tol:
            return x, step_size, iteration
        sy = float(y @ s)
        if sy > 1e-12 * float(np.linalg.norm(s) * np.linalg.norm(y)):
            ms = metric @ s
            metric = metric - np.outer(ms, ms) / float(s @ ms) + np.outer(y, y) / sy
    return x, step_size, max_iter

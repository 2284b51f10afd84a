"""One Monte Carlo replication: simulate a survey, analyse it as the study would, test.

Each replication is a pure function of the design, the sample size and its seed, so the
results are the same whatever machine or number of workers runs it. Standardized
estimates come from the fitted engine's matrices; their standard errors by the delta
method (central differences of the standardized value with respect to the free
parameters, times the parameter covariance), as lavaan's ``standardizedSolution()``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from analysis.errors import WorkbenchError
from analysis.sem.effects import effect_matrices
from analysis.sem.engine import SEMEngine
from analysis.sem.engine.derived import structure_at

__all__ = ["standardized_targets", "run_replication", "wald"]

_KINDS = {"path": "direct", "indirect": "indirect", "total": "total"}


def standardized_targets(engine: SEMEngine, x: np.ndarray, targets) -> np.ndarray:
    """Standardized value of each (kind, outcome, cause) target at parameters ``x``."""
    structure = structure_at(engine, x)
    index = {name: k for k, name in enumerate(structure.names)}
    mats = effect_matrices(structure, standardized=True)
    return np.array([mats[_KINDS[kind]][index[outcome], index[cause]] for kind, outcome, cause, _ in targets])


def _delta_se(engine: SEMEngine, targets, values: np.ndarray) -> np.ndarray:
    x = engine.x_
    jac = np.empty((len(values), len(x)))
    for j in range(len(x)):
        h = 1e-6 * max(1.0, abs(x[j]))
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        jac[:, j] = (standardized_targets(engine, up, targets) - standardized_targets(engine, down, targets)) / (2 * h)
    covariance = np.nan_to_num(engine.vcov_)
    return np.sqrt(np.clip(np.einsum("ij,jk,ik->i", jac, covariance, jac), 0.0, None))


def run_replication(design, n: int, seed, instrument) -> dict:
    """Estimates, SEs and convergence of one replication (values in ``hypotheses`` order)."""
    from analysis.power.design import hypotheses
    from analysis.screening import screen_responses
    from analysis.simulate import simulate_survey

    targets = hypotheses(design.truth)
    empty = np.full(len(targets), np.nan)
    survey = simulate_survey(instrument, n=n, truth=design.truth, careless_share=design.careless_share,
                             missing_share=design.missing_share, random_state=seed)
    data = screen_responses(survey.responses, instrument).clean if design.screen else survey.responses
    try:
        engine = SEMEngine(design.syntax, missing=design.missing, estimator=design.estimator).fit(data)
    except WorkbenchError:
        return {"estimate": empty, "se": empty, "converged": False, "n_used": 0}
    estimate = standardized_targets(engine, engine.x_, targets)
    return {"estimate": estimate, "se": _delta_se(engine, targets, estimate), "converged": True,
            "n_used": int(engine.n_)}


def wald(estimate: np.ndarray, se: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-sided Wald test and interval: (significant, lower, upper)."""
    crit = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        significant = np.abs(estimate / se) > crit
    return significant, estimate - crit * se, estimate + crit * se

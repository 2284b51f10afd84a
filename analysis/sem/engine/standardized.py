"""Standardized solution (lavaan ``std.all``) of an engine fit with delta-method SEs and Wald intervals.

The one job of this module: :func:`standardized_solution`, the analogue of
``lavaan::standardizedSolution(fit, type = "std.all")`` for a fitted
:class:`analysis.sem.engine.SEMEngine`, so that reports can show standard errors,
p-values and confidence intervals on standardized paths, loadings, correlations and
defined (``:=``) effects. The point values come from the engine's own standardization
(:func:`analysis.sem.engine.results.standardize_all`), so they are identical to the
``std_all`` column of ``partable_``.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import ConfigError, ModelError
from analysis.sem.defined import evaluate
from analysis.sem.engine.results import standardize_all
from analysis.sem.fitted import FittedSEM

__all__ = ["standardized_solution"]

#: Standard errors below this are numerically zero: the standardized value does not
#: depend on the free parameters (lavaan's parameterEstimates() uses the same cut-off).
_ZERO_SE = float(np.sqrt(np.finfo(float).eps))
#: Relative step of the central differences (as lavaan's lav_func_jacobian_simple).
_STEP = 1e-6
_COLUMNS = ["lhs", "op", "rhs", "group", "label", "est_std", "se", "z", "pvalue", "ci_lower", "ci_upper"]


def standardized_solution(fitted, *, level: float | None = None) -> pd.DataFrame:
    """Completely standardized solution with delta-method standard errors.

    Parameters
    ----------
    fitted : SEMEngine
        A model fitted by the workbench engine (:class:`analysis.sem.engine.SEMEngine`:
        ML, FIML or MLR, one or more groups).
    level : float, optional
        Confidence level of the Wald intervals, between 0 and 1; defaults to the fit's
        ``ci_level`` (lavaan's ``standardizedSolution()`` defaults to 0.95 whatever the
        fit).

    Returns
    -------
    DataFrame
        One row per row of lavaan's ``standardizedSolution()``, in the order of the
        parameter table (``partable_``): every parameter incl. fixed ones, intercepts
        ``~1`` when the model has a mean structure, then the ``:=`` defined parameters.
        Columns ``lhs, op, rhs, [group], label, est_std, se, z, pvalue, ci_lower,
        ci_upper``; ``group`` (1-based, 0 for ``:=`` rows) only for multigroup fits, as
        lavaan. The ``rhs`` of a ``:=`` row is its expression without blanks, as lavaan
        stores it (``c+a*b``).

    Raises
    ------
    ModelError
        If the model is not fitted yet, or was not fitted by the workbench engine.
    ConfigError
        If ``level`` is not a number strictly between 0 and 1.

    Notes
    -----
    With v the model-implied total variances (all variables, observed and latent) and
    theta the residual (co)variance parameters, the standardized value of each row is
    (lavaan's ``std.all`` with ``cov.std = TRUE``)

    * loading ``f =~ y``: lambda * sd(f) / sd(y); regression ``y ~ x``: beta * sd(x) / sd(y);
    * variance ``y ~~ y``: theta_yy / v_y; covariance ``y ~~ z``:
      theta_yz / sqrt(theta_yy theta_zz), a (residual) correlation;
    * intercept or mean ``y ~ 1``: nu_y / sd(y);
    * defined ``d := g(a, b, ...)``: g evaluated at the standardized values of the
      labelled parameters (lavaan's ``def.function`` applied to the standardized
      solution).

    Writing this as theta* = s(x) for the free-parameter vector x, the delta method
    gives Cov(theta*) = J Cov(x) J' with J = ds/dx at the estimates; J is taken by
    central differences with step 1e-6 * max(1, |x_k|) through the engine's own
    ``standardize_all`` (so the chain through defined parameters is included), and
    ``Cov(x)`` is the fit's ``vcov_`` (inverse expected information for complete-data
    ML, observed information for FIML, the Huber-White sandwich for MLR where the engine
    offers it), so the standardized SEs are robust whenever the raw ones are. Then se = sqrt(diag Cov(theta*)),
    z = theta* / se, p = 2 (1 - Phi(|z|)) (computed as ``2 * norm.sf(|z|)``, so tiny
    p-values are not rounded to 0 as in R) and the interval is
    theta* -/+ Phi^-1((1 + level) / 2) se.

    Rows whose standardized value does not depend on the free parameters (fixed zero
    loadings, fixed intercepts, the variance of an exogenous latent variable, fixed.x
    covariates) get se = 0, z and p NaN and the interval (est_std, est_std), as in
    lavaan. lavaan 0.6.14 zeroes every standardized SE below eps^(1/4) (about 1.2e-4);
    here only SEs below sqrt(eps) (about 1.5e-8), i.e. numerically constant rows, so a
    genuinely small SE is kept. When the fit has no usable covariance matrix (singular
    information) se, z, p and the intervals are NaN (not available), as are the SEs of
    rows whose standardized value is NaN (non-positive implied variance).

    Checked against ``lavaan::standardizedSolution(fit, type = "std.all")`` (lavaan
    0.6.14) on the cases of ``tests/reference/regression_reference.json`` (growth
    models with and without covariates, written-out std.lv, ``==`` constraints,
    observed and latent mediation with ``:=``, FIML, MLR); see
    ``tests/test_standardized.py`` for the calls and tolerances.

    Examples
    --------
    >>> fitted = SEMEngine("visual =~ x1 + x2 + x3").fit(data)  # doctest: +SKIP
    >>> standardized_solution(fitted).query("op == '=~'")       # doctest: +SKIP
    """
    _require_engine_fit(fitted)
    level = _check_level(fitted.ci_level if level is None else level)
    table = fitted.partable_
    is_defined = (table["op"] == ":=").to_numpy()
    rows = table.loc[~is_defined].reset_index(drop=True)
    defined_rows = table.loc[is_defined].reset_index(drop=True)
    definitions = list(getattr(fitted.parsed_, "defined", []) or [])
    if len(definitions) != len(defined_rows):
        raise ModelError(f"{type(fitted).__name__}: partable_ has {len(defined_rows)} ':=' rows but the model "
                         f"defines {len(definitions)} parameters; refit the model")
    std_of = _standardizer(fitted, rows, definitions)
    x = np.asarray(fitted.x_, dtype=float)
    est_std = std_of(x)
    vcov = np.asarray(fitted.vcov_, dtype=float)
    held = getattr(fitted, "at_bound_", np.zeros(len(x), dtype=bool))
    if held.any():  # a parameter held at its bound has no sampling variance (lavaan: the constraint is active)
        vcov = vcov.copy()
        vcov[held, :] = 0.0
        vcov[:, held] = 0.0
    se = _delta_se(std_of, x, est_std, vcov)

    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, est_std / se, np.nan)
    crit = stats.norm.ppf(0.5 + level / 2)
    out = pd.DataFrame({
        "lhs": np.concatenate([rows["lhs"].to_numpy(object), defined_rows["lhs"].to_numpy(object)]),
        "op": np.concatenate([rows["op"].to_numpy(object), defined_rows["op"].to_numpy(object)]),
        "rhs": np.concatenate([rows["rhs"].to_numpy(object),
                               ["".join(str(r).split()) for r in defined_rows["rhs"]]]).astype(object),
        "group": np.concatenate([rows["group"].to_numpy(int), defined_rows["group"].to_numpy(int)]),
        "label": np.concatenate([rows["label"].fillna("").to_numpy(object),
                                 defined_rows["label"].fillna("").to_numpy(object)]),
        "est_std": est_std,
        "se": se,
        "z": z,
        "pvalue": 2 * stats.norm.sf(np.abs(z)),
        "ci_lower": est_std - crit * se,
        "ci_upper": est_std + crit * se,
    }, columns=_COLUMNS)
    if len(fitted.groups_) <= 1:
        out = out.drop(columns="group")
    return out


# ---------------------------------------------------------------------- helpers
def _require_engine_fit(fitted) -> None:
    needed = ("partable_", "x_", "vcov_", "model_", "groups_", "parsed_")
    if isinstance(fitted, FittedSEM) and not hasattr(fitted, "estimates_"):
        raise ModelError(f"{type(fitted).__name__}: the model is not fitted yet; call fit(data) first")
    missing = [name for name in needed if not hasattr(fitted, name)]
    if missing:
        raise ModelError(f"standardized_solution: needs a model fitted by the workbench engine (SEMEngine); "
                         f"{type(fitted).__name__} has no {', '.join(missing)}. For point values only, use "
                         "fitted.standardized_solution()")


def _check_level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ConfigError(f"level: expected a number between 0 and 1 (e.g. 0.95), got {level!r}")
    return float(level)


def _standardizer(fitted, rows: pd.DataFrame, definitions):
    """s(x): std_all of every parameter row, then of every ``:=`` row, at free vector x.

    Builds the row values from x exactly as ``SEMEngine._build_tables`` does (fixed rows
    keep their value, free rows take ``x[free - 1]``) and standardizes them with the
    engine's :func:`standardize_all`; defined parameters are evaluated on the
    standardized values of the labelled rows, as the engine's ``defined_rows``.
    """
    model = fitted.model_
    free = rows["free"].to_numpy(dtype=int)
    is_free = free > 0
    base = rows["est"].to_numpy(dtype=float).copy()
    labels = rows["label"].fillna("").to_numpy(object)
    labelled = {}
    for k, label in enumerate(labels):
        if label != "" and label not in labelled:  # a label refers to the first row carrying it
            labelled[label] = k

    def std_of(x: np.ndarray) -> np.ndarray:
        est = base.copy()
        est[is_free] = x[free[is_free] - 1]
        total_var = [dict(zip(model.names, np.diag(c))) for c in model.total_covariance(x)]
        std = standardize_all(rows, est, total_var)
        if not definitions:
            return std
        values = {label: std[k] for label, k in labelled.items()}
        extra = np.empty(len(definitions))
        for k, parameter in enumerate(definitions):
            extra[k] = values[parameter.name] = evaluate(parameter.expression, values)
        return np.concatenate([std, extra])

    return std_of


def _jacobian(func, x: np.ndarray, f0: np.ndarray) -> np.ndarray:
    """Central-difference Jacobian of ``func`` at ``x`` (step 1e-6 * max(1, |x_k|))."""
    jac = np.zeros((len(f0), len(x)))
    for k in range(len(x)):
        step = _STEP * max(1.0, abs(x[k]))
        up, down = x.copy(), x.copy()
        up[k] += step
        down[k] -= step
        jac[:, k] = (func(up) - func(down)) / (up[k] - down[k])
    return jac


def _delta_se(func, x: np.ndarray, est_std: np.ndarray, vcov: np.ndarray) -> np.ndarray:
    """sqrt(diag(J V J')); 0 for constant rows, NaN where unavailable."""
    if len(x) and not np.all(np.isfinite(vcov)):
        return np.full(len(est_std), np.nan)
    jac = _jacobian(func, x, est_std)
    with np.errstate(invalid="ignore"):
        variance = np.einsum("ij,jk,ik->i", jac, vcov, jac) if len(x) else np.zeros(len(est_std))
    variance[(variance < 0) & (variance > -_ZERO_SE**2)] = 0.0  # rounding of an exact zero
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.where(variance < 0, np.nan, variance))
    se[se < _ZERO_SE] = 0.0
    se[~np.isfinite(est_std)] = np.nan
    return se

"""Nested-model comparison: chi-square difference tests (plain and scaled) and a fit table.

Model 0 is always the *restricted* model (more degrees of freedom), model 1 the less
restricted one, as in lavaan's ``lavTestLRT``. A fit is the project's fit dict (keys
``chisq, df, npar, loglik, aic, bic, cfi, rmsea``; scaled fits also carry
``chisq_scaled`` and ``chisq_scaling_factor`` from :func:`analysis.sem.robust.robust_ml`)
or any object with such a dict in ``fit_``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import ModelError
from analysis.sem.robust import (
    _semopy_sigma,
    robust_ml,
    semopy_moment_jacobian,
    vech_pairs,
)

__all__ = [
    "chisq_difference",
    "chisq_difference_test",
    "compare_models",
    "satorra_bentler_2001",
    "satorra_bentler_2010",
    "semopy_m10_scaling_factor",
]

_METHODS = ("default", "standard", "satorra.bentler.2001", "satorra.bentler.2010")


def _result(statistic: float, df_diff: int, scaling: float, method: str, note: str = "") -> dict:
    pvalue = float(stats.chi2.sf(statistic, df_diff)) if df_diff > 0 and np.isfinite(statistic) else float("nan")
    return {"chisq_diff": float(statistic), "df_diff": int(df_diff), "pvalue": pvalue,
            "scaling_factor": float(scaling), "method": method, "note": note}


def chisq_difference_test(chisq0: float, df0: int, chisq1: float, df1: int) -> dict:
    """Likelihood-ratio (chi-square difference) test of a restricted model 0 against model 1.

    Notes
    -----
    Delta chi2 = T0 - T1 on df0 - df1 degrees of freedom; ``lavTestLRT(fit1, fit0)`` for
    ML fits (``method = "standard"``).
    """
    df_diff = int(df0) - int(df1)
    note = "" if df_diff > 0 else "models have the same degrees of freedom; no test"
    return _result(chisq0 - chisq1, df_diff, float("nan"), "standard", note)


def satorra_bentler_2001(chisq0: float, df0: int, scaling0: float, chisq1: float, df1: int,
                         scaling1: float) -> dict:
    """Satorra-Bentler (2001) scaled chi-square difference test.

    Notes
    -----
    c_d = (df0 c0 - df1 c1) / (df0 - df1) and T_d = (T0 - T1) / c_d, where T are the
    unscaled ML statistics and c the scaling factors (c1 = 1 when df1 = 0). A negative
    c_d gives no test. ``lavTestLRT(fit1, fit0, method = "satorra.bentler.2001")``
    (lavaan's default for MLR fits).
    """
    df_diff = int(df0) - int(df1)
    if df_diff <= 0:
        return _result(chisq0 - chisq1, df_diff, float("nan"), "satorra.bentler.2001",
                       "models have the same degrees of freedom; no test")
    scaling1 = 1.0 if df1 == 0 else scaling1
    scaling = (df0 * scaling0 - df1 * scaling1) / df_diff
    if scaling < 0:
        return _result(float("nan"), df_diff, float("nan"), "satorra.bentler.2001",
                       f"difference scaling factor is negative ({scaling:.4f}); use satorra.bentler.2010")
    return _result((chisq0 - chisq1) / scaling, df_diff, scaling, "satorra.bentler.2001")


def satorra_bentler_2010(chisq0: float, df0: int, scaling0: float, chisq1: float, df1: int,
                         scaling10: float) -> dict:
    """Satorra-Bentler (2010) scaled difference test with the M10 scaling factor.

    Parameters
    ----------
    scaling10 : float
        Scaling factor of model 1 evaluated at model 0's estimates (the "M10" model; see
        :func:`semopy_m10_scaling_factor`).

    Notes
    -----
    c_d = (df0 c0 - df1 c10) / (df0 - df1), T_d = (T0 - T1) / c_d. With expected
    information c_d is positive by construction; with MLR's observed information at the
    non-optimal M10 point it can still be negative, and lavaan then reports the negative
    statistic with p = 1. This function does the same and says so in ``note``.
    ``lavTestLRT(fit1, fit0, method = "satorra.bentler.2010")``.
    """
    df_diff = int(df0) - int(df1)
    if df_diff <= 0:
        return _result(chisq0 - chisq1, df_diff, float("nan"), "satorra.bentler.2010",
                       "models have the same degrees of freedom; no test")
    scaling0 = 1.0 if df0 == 0 else scaling0
    scaling10 = 1.0 if df1 == 0 else scaling10
    scaling = (df0 * scaling0 - df1 * scaling10) / df_diff
    note = "" if scaling > 0 else (f"difference scaling factor is negative ({scaling:.4f}): the M10 information "
                                   "is not positive definite; the test is not interpretable")
    return _result((chisq0 - chisq1) / scaling, df_diff, scaling, "satorra.bentler.2010", note)


def _fit_dict(name: str, fit, required: Sequence[str] = ("chisq", "df", "npar", "loglik")) -> Mapping:
    measures = getattr(fit, "fit_", fit)
    if not isinstance(measures, Mapping):
        raise ModelError(f"model {name!r}: expected a fitted model (with fit_ holding chisq and df) or a fit dict, "
                         f"got {type(fit).__name__}")
    missing = [key for key in required if key not in measures]
    if missing:
        raise ModelError(f"model {name!r}: fit lacks {', '.join(missing)}; available keys: {', '.join(measures)}")
    return measures


def chisq_difference(fit_restricted, fit_free) -> dict:
    """Chi-square difference test of two nested ML fits (fitted models or fit dicts).

    Notes
    -----
    Delta chi2 = chi2_restricted - chi2_free on df_restricted - df_free degrees of freedom
    (:func:`chisq_difference_test`); ``lavaan::lavTestLRT(free, restricted)`` for ML.
    Nesting itself cannot be verified from the fits; the call checks the df order and
    that both were fitted on the same number of rows.
    """
    r = _fit_dict("restricted", fit_restricted, ("chisq", "df"))
    f = _fit_dict("free", fit_free, ("chisq", "df"))
    if int(r["df"]) <= int(f["df"]):
        raise ModelError(f"chisq_difference: the restricted model must have more degrees of freedom than "
                         f"the free one; got df {int(r['df'])} (restricted) vs {int(f['df'])} (free)")
    if "n" in r and "n" in f and int(r["n"]) != int(f["n"]):
        raise ModelError(f"chisq_difference: the models were fitted on different numbers of rows "
                         f"({int(r['n'])} vs {int(f['n'])}); nested models need the same data")
    return chisq_difference_test(float(r["chisq"]), int(r["df"]), float(f["chisq"]), int(f["df"]))


def compare_models(fits: Mapping[str, object] | Sequence, names: Sequence[str] | None = None, *,
                   method: str = "default",
                   m10_scaling_factors: Mapping[tuple[str, str], float] | None = None) -> pd.DataFrame:
    """Fit table of several models with a difference test of each model to the previous one.

    Parameters
    ----------
    fits : mapping name -> fit dict (or fitted model with ``fit_``), or a sequence of them
        Rows are ordered by increasing df (least constrained first, as ``lavTestLRT``);
        each row is tested against the row above.
    names : sequence of str, optional
        Names for a sequence of fits (default "model_1", ...).
    method : {"default", "standard", "satorra.bentler.2001", "satorra.bentler.2010"}
        "default" is "standard" for ML fits and "satorra.bentler.2001" when the fits
        carry a scaling factor (lavaan's default for MLR).
    m10_scaling_factors : mapping (restricted, unrestricted) -> float
        Needed for "satorra.bentler.2010".

    Returns
    -------
    DataFrame
        model, npar, df, loglik, aic, bic, chisq, cfi, rmsea, (scaled fits:
        chisq_scaled, scaling_factor, cfi_robust, rmsea_robust), chisq_diff, df_diff,
        pvalue, diff_scaling_factor, cfi_change, rmsea_change (robust versions for scaled
        fits), method, note.

    Notes
    -----
    AIC = -2 logL + 2 npar and BIC = -2 logL + npar log N (lavaan's ``AIC()``/``BIC()``).
    Checked against ``lavTestLRT`` (see tests/reference/robust_reference.R).
    """
    if method not in _METHODS:
        raise ModelError(f"method must be one of {', '.join(_METHODS)}; got {method!r}")
    if not isinstance(fits, Mapping):
        fits = list(fits)
        names = list(names) if names is not None else [f"model_{k}" for k in range(1, len(fits) + 1)]
        if len(names) != len(fits):
            raise ModelError(f"compare_models: {len(names)} names for {len(fits)} models")
        fits = dict(zip(names, fits))
    table = {name: _fit_dict(name, fit) for name, fit in fits.items()}
    if len(table) < 2:
        raise ModelError(f"compare_models needs at least two models, got {len(table)}")
    table = dict(sorted(table.items(), key=lambda item: int(item[1]["df"])))  # stable: ties keep their order
    scaled = [name for name, fit in table.items() if np.isfinite(fit.get("chisq_scaling_factor", np.nan))
              or fit["df"] == 0]
    any_scaled = any("chisq_scaling_factor" in fit for fit in table.values())
    if any_scaled and len(scaled) != len(table):
        plain = [name for name in table if name not in scaled]
        raise ModelError(f"some models have scaled test statistics and some not ({', '.join(plain)}); "
                         "fit all models with the same estimator")
    if method == "default":
        method = "satorra.bentler.2001" if any_scaled else "standard"
    if method != "standard" and not any_scaled:
        raise ModelError(f"method {method!r} needs scaled fits (estimator MLR); these are plain ML fits")
    rows, previous = [], None
    for name, fit in table.items():
        row = {"model": name, "npar": int(fit["npar"]), "df": int(fit["df"]), "loglik": float(fit["loglik"]),
               "aic": float(fit.get("aic", -2 * fit["loglik"] + 2 * fit["npar"])),
               "bic": float(fit.get("bic", np.nan)), "chisq": float(fit["chisq"]),
               "cfi": float(fit.get("cfi", np.nan)), "rmsea": float(fit.get("rmsea", np.nan))}
        if any_scaled:
            row.update(chisq_scaled=float(fit.get("chisq_scaled", np.nan)),
                       scaling_factor=float(fit.get("chisq_scaling_factor", np.nan)),
                       cfi_robust=float(fit.get("cfi_robust", np.nan)),
                       rmsea_robust=float(fit.get("rmsea_robust", np.nan)))
        test = {"chisq_diff": np.nan, "df_diff": np.nan, "pvalue": np.nan, "scaling_factor": np.nan,
                "method": "", "note": ""}
        if previous is not None:
            test = _difference(previous, (name, fit), method, m10_scaling_factors or {})
            cfi_key, rmsea_key = ("cfi_robust", "rmsea_robust") if any_scaled else ("cfi", "rmsea")
            row["cfi_change"] = row[cfi_key] - rows[-1][cfi_key]
            row["rmsea_change"] = row[rmsea_key] - rows[-1][rmsea_key]
        row.update(chisq_diff=test["chisq_diff"], df_diff=test["df_diff"], pvalue=test["pvalue"],
                   diff_scaling_factor=test["scaling_factor"], method=test["method"], note=test["note"])
        rows.append(row)
        previous = (name, fit)
    columns = ["model", "npar", "df", "loglik", "aic", "bic", "chisq", "cfi", "rmsea"]
    if any_scaled:
        columns += ["chisq_scaled", "scaling_factor", "cfi_robust", "rmsea_robust"]
    columns += ["chisq_diff", "df_diff", "pvalue", "diff_scaling_factor", "cfi_change", "rmsea_change",
                "method", "note"]
    return pd.DataFrame(rows).reindex(columns=columns)


def _difference(first: tuple[str, Mapping], second: tuple[str, Mapping], method: str,
                m10: Mapping[tuple[str, str], float]) -> dict:
    (name0, fit0), (name1, fit1) = sorted([first, second], key=lambda item: -item[1]["df"])
    if fit0["df"] == fit1["df"]:
        return chisq_difference_test(fit0["chisq"], fit0["df"], fit1["chisq"], fit1["df"]) | {"method": method}
    if method == "standard":
        return chisq_difference_test(fit0["chisq"], fit0["df"], fit1["chisq"], fit1["df"])
    c0, c1 = fit0.get("chisq_scaling_factor", 1.0), fit1.get("chisq_scaling_factor", 1.0)
    if method == "satorra.bentler.2001":
        return satorra_bentler_2001(fit0["chisq"], fit0["df"], c0, fit1["chisq"], fit1["df"], c1)
    if (name0, name1) not in m10:
        raise ModelError(f"method 'satorra.bentler.2010' needs m10_scaling_factors[({name0!r}, {name1!r})]: the "
                         f"scaling factor of {name1!r} at the estimates of {name0!r}; given keys: {list(m10)}")
    return satorra_bentler_2010(fit0["chisq"], fit0["df"], c0, fit1["chisq"], fit1["df"], m10[(name0, name1)])


def _semopy_rows(model) -> pd.DataFrame:
    from semopy.inspector import inspect_list

    table = inspect_list(model, index_names=True, information=None)
    return table.rename(columns={"Estimate": "est"})[["lval", "op", "rval", "est"]]


def _restricted_values(unrestricted, restricted) -> np.ndarray:
    """Parameters of the unrestricted model that reproduce the restricted solution.

    Every parameter takes the restricted model's estimate of the same (lhs, op, rhs),
    0 when the restricted model does not have it (a path or covariance fixed to zero).
    """
    known: dict[tuple[str, str, str], float] = {}
    for row in _semopy_rows(restricted).itertuples():
        known[(row.lval, row.op, row.rval)] = float(row.est)
        if row.op == "~~":
            known[(row.rval, row.op, row.lval)] = float(row.est)
    rows = _semopy_rows(unrestricted)
    active = [name for name, param in unrestricted.parameters.items() if param.active]
    values = []
    for name in active:
        candidates = {known.get((r.lval, r.op, r.rval), 0.0) for r in rows.loc[[name]].itertuples()}
        if len(candidates) > 1:
            raise ModelError(f"parameter {name!r} of the unrestricted model is shared by paths that have different "
                             "values in the restricted model; the models are not nested")
        values.append(candidates.pop())
    return np.array(values)


def semopy_m10_scaling_factor(unrestricted, restricted) -> float:
    """Yuan-Bentler scaling factor of a semopy model at a nested model's estimates (M10).

    Notes
    -----
    lavaan's ``lav_test_diff_m10``: the unrestricted model's parameters are set to the
    restricted solution (same paths, zeros for freed ones), its observed information and
    first-order matrices are evaluated there, and c10 = tr(U Gamma) / df1. Both models
    must be fitted with :class:`analysis.sem.StructuralEquationModel` (or semopy) on the
    same data.
    """
    values = _restricted_values(unrestricted, restricted)
    try:
        sigma10 = _semopy_sigma(unrestricted, values)
    finally:
        unrestricted.update_matrices(np.asarray(unrestricted.param_vals, dtype=float))
    names0, names1 = list(restricted.vars["observed"]), list(unrestricted.vars["observed"])
    if sorted(names0) != sorted(names1):
        raise ModelError(f"nested models must use the same observed variables; restricted: {', '.join(names0)}; "
                         f"unrestricted: {', '.join(names1)}")
    order = [names0.index(name) for name in names1]
    sigma0 = np.asarray(restricted.calc_sigma()[0], dtype=float)[np.ix_(order, order)]
    rows, cols = vech_pairs(sigma0.shape[0])
    if not np.allclose(sigma10, sigma0[rows, cols], atol=1e-8):
        raise ModelError("the restricted model's solution cannot be written in the unrestricted model's parameters "
                         "(same paths, freed paths at zero); the models are not nested that way")
    jacobian, hessian = semopy_moment_jacobian(unrestricted, values, second_order=True)
    sigma = np.empty_like(sigma0)
    sigma[rows, cols] = sigma10
    sigma[cols, rows] = sigma10
    result = robust_ml(np.asarray(unrestricted.mx_data, dtype=float), sigma, jacobian, moment_hessian=hessian,
                       baseline=False)
    return result.scaling_factor

"""Comparing nested ML models: chi-square difference test and an AIC/BIC table.

Plain normal-theory versions (lavaan ``lavTestLRT`` with ``method = "default"`` for
ML). Scaled (Satorra-Bentler / Satorra 2000) differences for robust estimators are
in ``analysis.sem.robust``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ModelError

__all__ = ["chisq_difference", "compare_models"]


def _fit_dict(fit) -> Mapping:
    measures = fit if isinstance(fit, Mapping) else getattr(fit, "fit_", None)
    if not isinstance(measures, Mapping) or not {"chisq", "df"} <= set(measures):
        raise ModelError(f"expected a fitted model (with fit_ holding chisq and df) or a fit dict, "
                         f"got {type(fit).__name__}")
    return measures


def chisq_difference(fit_restricted, fit_free) -> dict[str, float]:
    """Likelihood-ratio (chi-square difference) test of two nested ML fits.

    Parameters
    ----------
    fit_restricted, fit_free : fitted model or fit dict
        The more constrained model (larger df) and the less constrained one, fitted
        on the same rows.

    Returns
    -------
    dict with chisq_diff, df_diff, pvalue.

    Notes
    -----
    Delta chi2 = chi2_restricted - chi2_free, Delta df = df_restricted - df_free,
    p = P(chi2_{Delta df} > Delta chi2). Matches ``lavaan::lavTestLRT(free, restricted)``
    for ML. Nesting itself cannot be verified from the fits; the call checks df and N.
    """
    r, f = _fit_dict(fit_restricted), _fit_dict(fit_free)
    df_diff = int(r["df"]) - int(f["df"])
    if df_diff <= 0:
        raise ModelError(f"chisq_difference: the restricted model must have more degrees of freedom than "
                         f"the free one; got df {int(r['df'])} (restricted) vs {int(f['df'])} (free)")
    if "n" in r and "n" in f and int(r["n"]) != int(f["n"]):
        raise ModelError(f"chisq_difference: the models were fitted on different numbers of rows "
                         f"({int(r['n'])} vs {int(f['n'])}); nested models need the same data")
    diff = float(r["chisq"]) - float(f["chisq"])
    return {"chisq_diff": diff, "df_diff": df_diff, "pvalue": float(stats.chi2.sf(max(diff, 0.0), df_diff))}


def compare_models(fits: Sequence | Mapping, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Fit table of several nested models with consecutive chi-square differences.

    Parameters
    ----------
    fits : sequence of fitted models / fit dicts, or a mapping name -> fit
    names : model names (default "model_1", ...; the mapping's keys)

    Returns
    -------
    DataFrame
        model, npar, df, chisq, pvalue, cfi, rmsea, srmr, aic, bic, chisq_diff,
        df_diff, pvalue_diff; ordered by df (least constrained first), each difference
        taken against the previous row, as ``lavTestLRT``.

    Notes
    -----
    AIC = -2 logL + 2 npar and BIC = -2 logL + npar log N (lavaan's definitions; both
    need the same data for every model).
    """
    if isinstance(fits, Mapping):
        names, fits = list(fits.keys()), list(fits.values())
    fits = list(fits)
    if len(fits) < 2:
        raise ModelError(f"compare_models needs at least two models, got {len(fits)}")
    names = list(names) if names is not None else [f"model_{k}" for k in range(1, len(fits) + 1)]
    if len(names) != len(fits):
        raise ModelError(f"compare_models: {len(names)} names for {len(fits)} models")
    rows = []
    for name, fit in zip(names, fits):
        m = _fit_dict(fit)
        rows.append({"model": name, **{k: m.get(k, np.nan) for k in
                                       ("npar", "df", "chisq", "pvalue", "cfi", "rmsea", "srmr", "aic", "bic")}})
    table = pd.DataFrame(rows).sort_values("df", kind="stable").reset_index(drop=True)
    table["chisq_diff"] = table["chisq"].diff()
    table["df_diff"] = table["df"].diff()
    table["pvalue_diff"] = [np.nan] + [float(stats.chi2.sf(max(c, 0.0), d)) if d > 0 else np.nan
                                       for c, d in zip(table["chisq_diff"][1:], table["df_diff"][1:])]
    return table

"""Parameter table of an engine fit: Wald statistics, std.all, defined parameters, checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.sem.defined import DefinedParameter, delta_method_se, evaluate

__all__ = ["defined_rows", "r_squared", "standardize_all", "wald_columns"]


def standardize_all(table: pd.DataFrame, est: np.ndarray, total_var: list[dict[str, float]],
                    row_variance: list[dict[str, float]] | None = None) -> np.ndarray:
    """lavaan's ``std.all`` of every row.

    Parameters
    ----------
    table : DataFrame with lhs, op, rhs, group (1-based)
    est : values to standardise (estimates, or EPCs for modification indices)
    total_var : per group, model-implied total variance of every variable
    row_variance : per group, the estimated (residual) variance parameter of every
        variable (the ``x ~~ x`` rows); defaults to ``est`` of those rows.

    Notes
    -----
    ``=~``: est * sd(lhs) / sd(rhs); ``~``: est * sd(rhs) / sd(lhs); variances:
    est / var(lhs); covariances: est / sqrt(|v_lhs| |v_rhs|) with v the two variables'
    own (residual) variance parameters, i.e. a residual correlation; ``~1``:
    est / sd(lhs). As ``lavaan::standardizedSolution`` / ``lav_standardize_all``
    (``cov.std = TRUE``); negative or zero total variances give NaN.
    """
    groups = table["group"].to_numpy()
    if row_variance is None:
        row_variance = [{} for _ in total_var]
        for k, rec in enumerate(table[["lhs", "op", "rhs", "group"]].itertuples(index=False)):
            if rec.op == "~~" and rec.lhs == rec.rhs and rec.group >= 1:
                row_variance[rec.group - 1][rec.lhs] = est[k]
    sds = [{name: np.sqrt(v) if v > 0 else np.nan for name, v in var.items()} for var in total_var]
    out = np.full(len(table), np.nan)
    for k, rec in enumerate(table[["lhs", "op", "rhs"]].itertuples(index=False)):
        g = int(groups[k]) - 1
        if g < 0:
            continue
        var, sd = total_var[g], sds[g]
        sd_lhs, sd_rhs = sd.get(rec.lhs, np.nan), sd.get(rec.rhs, np.nan)
        if rec.op == "=~":
            out[k] = est[k] * sd_lhs / sd_rhs
        elif rec.op == "~":
            out[k] = est[k] * sd_rhs / sd_lhs
        elif rec.op == "~1":
            out[k] = est[k] / sd_lhs
        elif rec.op == "~~" and rec.lhs == rec.rhs:
            out[k] = est[k] / sd_lhs**2
        elif rec.op == "~~":
            a = abs(row_variance[g].get(rec.lhs, var.get(rec.lhs, np.nan)))
            b = abs(row_variance[g].get(rec.rhs, var.get(rec.rhs, np.nan)))
            out[k] = est[k] / np.sqrt(a * b) if a * b > 0 else np.nan
    return out


def wald_columns(est: np.ndarray, se: np.ndarray, ci_level: float) -> dict[str, np.ndarray]:
    """z, two-sided normal p-value and Wald CI; fixed rows (se NaN) get CI = est."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, est / se, np.nan)
    crit = stats.norm.ppf(0.5 + ci_level / 2)
    fixed = ~np.isfinite(se)
    return {
        "z": z,
        "pvalue": 2 * stats.norm.sf(np.abs(z)),
        "ci_lower": np.where(fixed, est, est - crit * se),
        "ci_upper": np.where(fixed, est, est + crit * se),
    }


def defined_rows(defined: list[DefinedParameter], table: pd.DataFrame, vcov: np.ndarray,
                 ci_level: float) -> pd.DataFrame:
    """Rows for ``name := expression``: estimate, delta-method SE, std_all.

    Notes
    -----
    Labels refer to the first row carrying them; a label on a fixed parameter has zero
    variance. std_all evaluates the expression at the labelled parameters' std_all
    values, as lavaan's ``def.function`` applied to the standardised solution.
    """
    labelled = table[table["label"] != ""].drop_duplicates("label").set_index("label")
    values = labelled["est"].to_dict()
    std_values = labelled["std_all"].to_dict()
    free_of = labelled["free"].to_dict()
    rows = []
    for parameter in defined:
        est = evaluate(parameter.expression, values)
        std = evaluate(parameter.expression, std_values)
        names = list(parameter.labels)
        index = [int(free_of.get(n, 0)) - 1 for n in names]
        cov = np.zeros((len(names), len(names)))
        for a, ia in enumerate(index):
            for b, ib in enumerate(index):
                if ia >= 0 and ib >= 0:
                    cov[a, b] = vcov[ia, ib]
        se = delta_method_se(parameter.expression, {n: values[n] for n in names}, cov, names) if names else 0.0
        values[parameter.name] = est  # later definitions may use earlier ones
        std_values[parameter.name] = std
        # lavaan stores the expression without spaces ("c+a*b"), which keeps the tables joinable
        rows.append({"lhs": parameter.name, "op": ":=", "rhs": "".join(parameter.expression.split()),
                     "label": parameter.name,
                     "group": 0, "free": 0, "est": est, "se": se if se > 0 else np.nan, "std_all": std})
    out = pd.DataFrame(rows)
    if len(out):
        out = out.assign(**wald_columns(out["est"].to_numpy(), out["se"].to_numpy(float), ci_level))
    return out


def r_squared(table: pd.DataFrame, group_labels: list[str]) -> pd.Series:
    """R^2 = 1 - std_all of the residual variance, for every endogenous variable."""
    endogenous = set(table.loc[table["op"] == "~", "lhs"]) | set(table.loc[table["op"] == "=~", "rhs"])
    rows = table[(table["op"] == "~~") & (table["lhs"] == table["rhs"]) & table["lhs"].isin(endogenous)]
    values = 1.0 - rows["std_all"].to_numpy()
    if len(group_labels) == 1:
        return pd.Series(values, index=pd.Index(rows["lhs"], name="variable"), name="r2")
    index = pd.MultiIndex.from_arrays([[group_labels[g - 1] for g in rows["group"]], rows["lhs"]],
                                      names=["group", "variable"])
    return pd.Series(values, index=index, name="r2")

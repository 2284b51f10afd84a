"""Attitude-behaviour linkage: do loyal, satisfied, trusting customers actually buy more?

Joins attitude scores (latent truth or survey construct scores, one row per customer)
to behaviour from the CRM (RFM summary, churn status, CLV) by pseudonymous customer id
and reports (1) Pearson and Spearman correlations with confidence intervals and
(2) regressions of each behaviour on all attitudes together: OLS for continuous
outcomes (``log1p`` of counts and values) and a logit for binary ones. statsmodels is
not a dependency, so OLS is numpy least squares and the logit is Newton-Raphson with
the inverse Fisher information as covariance (checked against R ``lm``/``glm``).
Mittal & Kamakura (2001) expect intention-behaviour links of only about .2-.4.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special, stats

from analysis.errors import ConvergenceError, DataError

__all__ = ["behaviour_table", "attitude_behaviour", "attitude_behaviour_models",
           "ols", "logit"]

BINARY_BEHAVIOURS = ("repeat_purchase", "churned")


def _indexed(frame: pd.DataFrame, customer_id_col: str, name: str) -> pd.DataFrame:
    if customer_id_col in frame.columns:
        return frame.set_index(customer_id_col)
    if frame.index.name not in (customer_id_col, None):
        raise DataError(f"{name}: expected a '{customer_id_col}' column or index, got index "
                        f"{frame.index.name!r} and columns {list(frame.columns)}")
    return frame


def behaviour_table(rfm: pd.DataFrame, clv: pd.DataFrame | None = None,
                    churn: pd.DataFrame | None = None,
                    customer_id_col: str = "customer_id") -> pd.DataFrame:
    """Behaviour per customer: ``repeat_purchase``, ``log_frequency``, ``churned``, ``log_clv``."""
    rfm = _indexed(rfm, customer_id_col, "rfm")
    if "frequency" not in rfm:
        raise DataError("rfm: missing column 'frequency'; expected the output of rfm_summary()")
    table = pd.DataFrame({"repeat_purchase": (rfm["frequency"] > 0).astype(float),
                          "log_frequency": np.log1p(rfm["frequency"].astype(float))},
                         index=rfm.index)
    if churn is not None:
        churn = _indexed(churn, customer_id_col, "churn")
        table["churned"] = churn["churned"].reindex(table.index).astype(float)
    if clv is not None:
        clv = _indexed(clv, customer_id_col, "clv")
        if "clv" not in clv:
            raise DataError("clv: missing column 'clv'; expected customer_lifetime_value() "
                            "output")
        table["log_clv"] = np.log1p(clv["clv"].reindex(table.index).astype(float))
    return table


def _joined(attitudes, behaviour, customer_id_col, names):
    scores = _indexed(attitudes, customer_id_col, "attitudes")
    names = list(names) if names is not None else [
        c for c in scores.columns if pd.api.types.is_numeric_dtype(scores[c])]
    missing = [c for c in names if c not in scores]
    if missing or not names:
        raise DataError(f"attitudes: missing column(s) {missing or names}; available "
                        f"columns are {list(scores.columns)}")
    data = scores[names].join(behaviour, how="inner")
    if len(data) < 10:
        raise DataError(f"attitudes and behaviour share only {len(data)} customer ids; "
                        "expected at least 10 (are both keyed by the same customer_id?)")
    return data, names


def _fisher_interval(r, n, alpha, spearman=False):
    z = stats.norm.ppf(1 - alpha / 2)
    # Bonett & Wright (2000) widen the Spearman interval: se = sqrt((1 + r^2/2)/(n-3)).
    se = np.sqrt((1 + r ** 2 / 2) / (n - 3)) if spearman else 1 / np.sqrt(n - 3)
    centre = np.arctanh(np.clip(r, -0.999999, 0.999999))
    return np.tanh(centre - z * se), np.tanh(centre + z * se)


def attitude_behaviour(attitudes: pd.DataFrame, rfm: pd.DataFrame,
                       clv: pd.DataFrame | None = None, churn: pd.DataFrame | None = None,
                       attitude_names=None, customer_id_col: str = "customer_id",
                       alpha: float = 0.05) -> pd.DataFrame:
    """Pearson and Spearman correlations of every attitude with every behaviour.

    Returns a tidy DataFrame: ``attitude``, ``behaviour``, ``method``, ``n``, ``r``,
    ``ci_lower``, ``ci_upper``, ``pvalue`` (pairwise complete cases).

    Notes
    -----
    Pearson CI: Fisher z, ``tanh(atanh(r) +- z / sqrt(n - 3))`` as R ``cor.test``.
    Spearman CI: Fisher z with the Bonett-Wright standard error. p-values from
    ``scipy.stats.pearsonr`` / ``spearmanr`` (t approximation, as ``cor.test`` with
    ``exact = FALSE``). With a binary behaviour Pearson r is the point-biserial r.
    """
    behaviour = behaviour_table(rfm, clv, churn, customer_id_col)
    data, names = _joined(attitudes, behaviour, customer_id_col, attitude_names)
    rows = []
    for attitude in names:
        for outcome in behaviour.columns:
            pair = data[[attitude, outcome]].dropna().to_numpy(float)
            n = len(pair)
            for method, test in (("pearson", stats.pearsonr), ("spearman", stats.spearmanr)):
                if n < 4 or np.ptp(pair[:, 0]) == 0 or np.ptp(pair[:, 1]) == 0:
                    r = pvalue = lower = upper = np.nan
                else:
                    r, pvalue = (float(v) for v in test(pair[:, 0], pair[:, 1]))
                    lower, upper = _fisher_interval(r, n, alpha, method == "spearman")
                rows.append({"attitude": attitude, "behaviour": outcome, "method": method,
                             "n": n, "r": r, "ci_lower": lower, "ci_upper": upper,
                             "pvalue": pvalue})
    return pd.DataFrame(rows)


def ols(y: np.ndarray, X: np.ndarray, alpha: float = 0.05) -> dict:
    """OLS with classical standard errors; ``X`` must include the intercept column.

    Notes
    -----
    ``b = (X'X)^-1 X'y``, ``Var(b) = s^2 (X'X)^-1``, ``s^2 = RSS / (n - k)``; t tests with
    ``n - k`` df, as R ``summary(lm())``.
    """
    n, k = X.shape
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    df = n - k
    sigma2 = resid @ resid / df
    se = np.sqrt(np.diag(sigma2 * np.linalg.pinv(X.T @ X)))
    t = coef / se
    crit = stats.t.ppf(1 - alpha / 2, df)
    r2 = 1 - resid @ resid / ((y - y.mean()) @ (y - y.mean()))
    return {"coef": coef, "se": se, "stat": t, "pvalue": 2 * stats.t.sf(np.abs(t), df),
            "ci_lower": coef - crit * se, "ci_upper": coef + crit * se, "r_squared": r2}


def logit(y: np.ndarray, X: np.ndarray, alpha: float = 0.05, max_iter: int = 50,
          tol: float = 1e-10) -> dict:
    """Logistic regression by Newton-Raphson; Wald z tests, McFadden pseudo R^2.

    Notes
    -----
    Maximises ``sum y log(p) + (1-y) log(1-p)``, ``p = expit(X b)``; ``Var(b)`` is the
    inverse of ``X' W X`` with ``W = diag(p(1-p))``. Same estimates and standard errors
    as R ``glm(family = binomial)``.
    """
    coef = np.zeros(X.shape[1])
    for _ in range(max_iter):
        p = special.expit(X @ coef)
        information = X.T @ (X * (p * (1 - p))[:, None])
        step = np.linalg.solve(information, X.T @ (y - p))
        coef = coef + step
        if np.max(np.abs(step)) < tol:
            break
    else:
        raise ConvergenceError(f"logit: Newton-Raphson did not converge in {max_iter} "
                               "iterations (complete separation?)")
    p = special.expit(X @ coef)
    information = X.T @ (X * (p * (1 - p))[:, None])
    se = np.sqrt(np.diag(np.linalg.inv(information)))
    z = coef / se
    crit = stats.norm.ppf(1 - alpha / 2)
    eps = 1e-300
    loglik = np.sum(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))
    mean = y.mean()
    null = len(y) * (mean * np.log(mean) + (1 - mean) * np.log(1 - mean))
    return {"coef": coef, "se": se, "stat": z, "pvalue": 2 * stats.norm.sf(np.abs(z)),
            "ci_lower": coef - crit * se, "ci_upper": coef + crit * se,
            "r_squared": 1 - loglik / null}


def attitude_behaviour_models(attitudes: pd.DataFrame, rfm: pd.DataFrame,
                              clv: pd.DataFrame | None = None,
                              churn: pd.DataFrame | None = None, attitude_names=None,
                              customer_id_col: str = "customer_id",
                              alpha: float = 0.05) -> pd.DataFrame:
    """Regress every behaviour on all attitudes jointly (standardised attitudes).

    Returns a tidy DataFrame: ``behaviour``, ``model`` (``"ols"`` or ``"logit"``), ``term``
    (``"intercept"`` or attitude), ``coef``, ``se``, ``stat`` (t or z), ``pvalue``,
    ``ci_lower``, ``ci_upper``, ``n``, ``r_squared`` (McFadden's for the logit).
    Attitudes are z-scored so coefficients are per standard deviation; logit
    coefficients are log odds ratios.
    """
    behaviour = behaviour_table(rfm, clv, churn, customer_id_col)
    data, names = _joined(attitudes, behaviour, customer_id_col, attitude_names)
    frames = []
    for outcome in behaviour.columns:
        rows = data[names + [outcome]].dropna()
        if len(rows) <= len(names) + 2:
            continue
        scores = rows[names].to_numpy(float)
        scores = (scores - scores.mean(axis=0)) / scores.std(axis=0, ddof=1)
        X = np.column_stack([np.ones(len(rows)), scores])
        y = rows[outcome].to_numpy(float)
        binary = outcome in BINARY_BEHAVIOURS
        fit = logit(y, X, alpha) if binary else ols(y, X, alpha)
        frame = pd.DataFrame({key: fit[key] for key in
                              ("coef", "se", "stat", "pvalue", "ci_lower", "ci_upper")})
        frame.insert(0, "term", ["intercept"] + names)
        frame.insert(0, "model", "logit" if binary else "ols")
        frame.insert(0, "behaviour", outcome)
        frame["n"] = len(rows)
        frame["r_squared"] = fit["r_squared"]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)

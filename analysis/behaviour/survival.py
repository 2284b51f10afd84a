"""Customer retention curves: churn definition, Kaplan-Meier by group, median retention.

Churn definition (non-contractual setting, where nobody announces that they leave):
a customer counts as **churned** when they have made no purchase in the final
``churn_window`` periods before the end of observation, i.e. ``T - recency >=
churn_window``. The churn time is then the time of their last purchase (``recency``,
measured from the first purchase), and the customer is an observed event. Everyone
else is still active and is **censored** at their age ``T``. So the Kaplan-Meier curve
``S(t)`` is the share of customers still buying ``t`` periods after their first order;
``S(0) < 1`` is the share who never came back. Customers younger than the window
(``T < churn_window``) cannot have churned yet and are censored.

This is an operational rule, not the BG/NBD "dropout" (which is never observed); the
BG/NBD ``P(alive)`` in :mod:`analysis.behaviour.clv` is the model-based alternative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times

from analysis.errors import ConfigError, DataError

__all__ = ["churn_table", "kaplan_meier_retention", "median_retention"]


def churn_table(rfm: pd.DataFrame, churn_window: float = 26.0) -> pd.DataFrame:
    """Churn status and retention time per customer from an RFM summary.

    Parameters
    ----------
    rfm : DataFrame
        :func:`analysis.behaviour.rfm.rfm_summary` output (``recency``, ``T``).
    churn_window : float
        Periods without a purchase after which a customer counts as churned
        (default 26 weeks = half a year).

    Returns
    -------
    DataFrame indexed like ``rfm`` with ``duration`` (recency if churned, else ``T``),
    ``churned`` (bool, the event indicator) and ``inactive_periods`` (``T - recency``).
    """
    missing = [c for c in ("recency", "T") if c not in rfm]
    if missing:
        raise DataError(f"churn_table: rfm lacks column(s) {missing}; expected the output "
                        "of rfm_summary()")
    if not churn_window > 0:
        raise ConfigError(f"churn_window: expected a number of periods > 0, got "
                          f"{churn_window!r}")
    recency, age = rfm["recency"].to_numpy(float), rfm["T"].to_numpy(float)
    inactive = age - recency
    churned = inactive >= churn_window
    return pd.DataFrame({"duration": np.where(churned, recency, age), "churned": churned,
                         "inactive_periods": inactive}, index=rfm.index)


def _groups(churn: pd.DataFrame, groups) -> pd.Series:
    if groups is None:
        return pd.Series("all", index=churn.index)
    if isinstance(groups, str):
        if groups not in churn:
            raise DataError(f"groups: column {groups!r} not in the churn table; columns are "
                            f"{list(churn.columns)}")
        keys = churn[groups]
    else:
        keys = pd.Series(groups).reindex(churn.index)
    if keys.isna().any():
        raise DataError(f"groups: no group for {int(keys.isna().sum())} customer(s), e.g. "
                        f"{keys.index[keys.isna()][0]!r}")
    return keys.astype(str)


def _fit(durations, events, alpha, timeline=None) -> KaplanMeierFitter:
    return KaplanMeierFitter(alpha=alpha).fit(durations, events, timeline=timeline)


def kaplan_meier_retention(churn: pd.DataFrame, groups=None, alpha: float = 0.05,
                           timeline=None) -> pd.DataFrame:
    """Kaplan-Meier retention curve with pointwise confidence band, per group.

    Parameters
    ----------
    churn : DataFrame
        Output of :func:`churn_table` (``duration``, ``churned``).
    groups : str, Series or None
        A column of ``churn`` or a Series aligned on its index (e.g. city tier).
    timeline : array-like, optional
        Times at which to report the curve (default: every distinct duration).

    Returns
    -------
    Tidy DataFrame: ``group``, ``timeline``, ``survival``, ``ci_lower``, ``ci_upper``.

    Notes
    -----
    ``S(t) = prod_{t_i <= t} (1 - d_i / n_i)`` with the log(-log) Greenwood interval, from
    lifelines ``KaplanMeierFitter`` (same as R ``survival::survfit(conf.type =
    "log-log")``).
    """
    keys = _groups(churn, groups)
    frames = []
    for group, index in keys.groupby(keys, sort=True).groups.items():
        rows = churn.loc[index]
        kmf = _fit(rows["duration"], rows["churned"], alpha, timeline)
        band = kmf.confidence_interval_survival_function_
        frames.append(pd.DataFrame({
            "group": group,
            "timeline": kmf.survival_function_.index.to_numpy(float),
            "survival": kmf.survival_function_.iloc[:, 0].to_numpy(),
            "ci_lower": band.iloc[:, 0].to_numpy(),
            "ci_upper": band.iloc[:, 1].to_numpy(),
        }))
    return pd.concat(frames, ignore_index=True)


def median_retention(churn: pd.DataFrame, groups=None, alpha: float = 0.05) -> pd.DataFrame:
    """Median retention time (time at which ``S(t)`` falls to 0.5) with its CI, per group.

    Returns ``group``, ``n_customers``, ``n_churned``, ``median``, ``ci_lower``,
    ``ci_upper``; ``inf`` means the curve never falls to one half within the data
    (more than half of the customers are still active).

    Notes
    -----
    CI from the times where the pointwise confidence band crosses 0.5 (Brookmeyer-Crowley
    style), via lifelines ``median_survival_times``.
    """
    keys = _groups(churn, groups)
    rows = []
    for group, index in keys.groupby(keys, sort=True).groups.items():
        part = churn.loc[index]
        kmf = _fit(part["duration"], part["churned"], alpha)
        bounds = median_survival_times(kmf.confidence_interval_survival_function_)
        rows.append({"group": group, "n_customers": len(part),
                     "n_churned": int(part["churned"].sum()),
                     "median": float(kmf.median_survival_time_),
                     "ci_lower": float(bounds.iloc[0, 0]),
                     "ci_upper": float(bounds.iloc[0, 1])})
    return pd.DataFrame(rows)

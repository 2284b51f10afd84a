"""Recency-frequency-monetary summaries, repeat-customer rates and cohort retention.

``rfm_summary`` follows the BTYD conventions of lifetimes'
``summary_data_from_transaction_data`` (Fader, Hardie & Lee 2005): time is cut into
periods (``freq``), several orders in one period count as one purchase occasion whose
value is their sum, and for each customer

* ``frequency`` = number of *repeat* purchase periods (distinct periods - 1);
* ``recency``   = periods between the first and the last purchase;
* ``T``         = periods between the first purchase and the end of observation;
* ``monetary_value`` = mean value of the repeat purchase occasions (0 if none).

It is pure numpy (one ``np.unique`` over an integer key, no row-wise Python), so ten
million orders summarise in a few seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import ConfigError, DataError

__all__ = ["rfm_summary", "repeat_customer_rate", "cohort_retention", "FREQUENCIES"]

FREQUENCIES = ("D", "W", "M")


def _period_numbers(timestamps: np.ndarray, freq: str) -> np.ndarray:
    """Integer period index: days, Monday-based weeks (pandas ``W-SUN``) or months."""
    if freq == "M":
        return timestamps.astype("datetime64[M]").astype(np.int64)
    days = timestamps.astype("datetime64[D]").astype(np.int64)
    # 1970-01-01 was a Thursday; shifting by 3 days puts week boundaries on Mondays.
    return days if freq == "D" else np.floor_divide(days + 3, 7)


def _distinct(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort + diff; numpy 2.4's hash-based ``np.unique`` is ~20x
    slower than a sort on ten million int64 keys)."""
    ordered = np.sort(keys)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def _customer_codes(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes 0..k-1 for customer ids and the sorted distinct ids."""
    if ids.dtype.kind in "iu" and len(ids) and ids.min() >= 0 and ids.max() < 4 * len(ids) + 1024:
        present = np.bincount(ids) > 0  # small non-negative integer ids: no hashing needed
        remap = np.cumsum(present) - 1
        return remap[ids], np.flatnonzero(present).astype(ids.dtype)
    codes, uniques = pd.factorize(ids, sort=True)
    return codes, np.asarray(uniques)


def _timestamps(frame: pd.DataFrame, column: str, table: str) -> np.ndarray:
    try:
        values = pd.to_datetime(frame[column]).to_numpy("datetime64[ns]")
    except (ValueError, TypeError) as error:
        raise DataError(f"{table}: column '{column}' must hold dates or timestamps "
                        f"({error})") from None
    if np.isnat(values).any():
        row = int(np.flatnonzero(np.isnat(values))[0])
        raise DataError(f"{table}: column '{column}' row {row}: expected a timestamp, got a "
                        "missing value")
    return values


def _require(frame: pd.DataFrame, columns, table: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{table}: missing column(s) {missing}; available columns are "
                        f"{list(frame.columns)}")


def _check_freq(freq: str) -> None:
    if freq not in FREQUENCIES:
        raise ConfigError(f"freq: expected one of {list(FREQUENCIES)}, got {freq!r}")


def rfm_summary(orders: pd.DataFrame, customer_id_col: str = "customer_id",
                datetime_col: str = "timestamp", monetary_col: str | None = "amount",
                observation_end=None, freq: str = "W") -> pd.DataFrame:
    """Per-customer ``frequency``, ``recency``, ``T`` and ``monetary_value`` in ``freq`` units.

    Parameters
    ----------
    orders : DataFrame
        One row per order.
    observation_end : timestamp-like, optional
        End of the calibration period (default: the last order). Later orders are ignored.
    freq : {"D", "W", "M"}
        Period length; ``"W"`` gives the weekly units of the BG/NBD CDNOW parameters.

    Returns
    -------
    DataFrame indexed by customer id (sorted), columns ``frequency``, ``recency``, ``T``,
    ``monetary_value`` (floats, as lifetimes returns them) and ``first_purchase``.

    Notes
    -----
    Matches lifetimes ``summary_data_from_transaction_data(..., freq=freq)``; weekly
    periods are pandas ``W-SUN`` periods (Monday to Sunday).
    """
    _check_freq(freq)
    columns = [customer_id_col, datetime_col] + ([monetary_col] if monetary_col else [])
    _require(orders, columns, "orders")
    stamps = _timestamps(orders, datetime_col, "orders")
    end = stamps.max() if observation_end is None else np.datetime64(
        pd.Timestamp(observation_end).to_datetime64(), "ns")
    ids = orders[customer_id_col]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise DataError(f"orders: column '{customer_id_col}' row {row}: missing customer id")
    amounts = (orders[monetary_col].to_numpy(float) if monetary_col
               else np.zeros(len(orders)))
    if monetary_col and not np.all(np.isfinite(amounts)):
        row = int(np.flatnonzero(~np.isfinite(amounts))[0])
        raise DataError(f"orders: column '{monetary_col}' row {row}: expected a number, got "
                        f"{amounts[row]!r}")
    inside = stamps <= end
    id_values = ids.to_numpy()
    codes, uniques = _customer_codes(id_values if inside.all() else id_values[inside])
    if len(uniques) == 0:
        raise DataError(f"orders: no orders on or before observation_end {end}")
    period = _period_numbers(stamps[inside], freq)
    amounts = amounts[inside]
    first_period = np.full(len(uniques), np.iinfo(np.int64).max)
    np.minimum.at(first_period, codes, period)
    last_period = np.full(len(uniques), np.iinfo(np.int64).min)
    np.maximum.at(last_period, codes, period)
    span = int(period.max() - period.min()) + 1
    occasions = _distinct(codes.astype(np.int64) * span + (period - period.min()))
    n_periods = np.bincount(occasions // span, minlength=len(uniques))
    total = np.bincount(codes, weights=amounts, minlength=len(uniques))
    first_value = np.bincount(codes, weights=amounts * (period == first_period[codes]),
                              minlength=len(uniques))
    frequency = (n_periods - 1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, (total - first_value) / frequency, 0.0)
    end_period = _period_numbers(np.array([end]), freq)[0]
    result = pd.DataFrame({
        "frequency": frequency,
        "recency": (last_period - first_period).astype(float),
        "T": (end_period - first_period).astype(float),
        "monetary_value": monetary,
    }, index=pd.Index(uniques, name=customer_id_col))
    first_stamp = np.full(len(uniques), np.iinfo(np.int64).max)
    np.minimum.at(first_stamp, codes, stamps[inside].view(np.int64))
    result["first_purchase"] = first_stamp.view("datetime64[ns]")
    return result


def repeat_customer_rate(rfm: pd.DataFrame, groups: pd.Series | None = None,
                         alpha: float = 0.05) -> pd.DataFrame:
    """Share of customers with at least one repeat purchase, overall or by group.

    Returns one row per group (``group`` is ``"all"`` without groups) with
    ``n_customers``, ``n_repeat``, ``repeat_rate`` and a Wilson score interval.

    Notes
    -----
    Wilson interval: ``(p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``, as in
    R ``prop.test(correct = FALSE)``.
    """
    _require(rfm, ["frequency"], "rfm")
    repeat = rfm["frequency"].to_numpy(float) > 0
    if groups is None:
        keys = pd.Series("all", index=rfm.index)
    else:
        keys = groups.reindex(rfm.index)
        if keys.isna().any():
            raise DataError(f"repeat_customer_rate: groups has no value for "
                            f"{int(keys.isna().sum())} customer(s) of rfm, e.g. "
                            f"{keys.index[keys.isna()][0]!r}")
    table = pd.DataFrame({"group": keys.to_numpy(), "repeat": repeat}).groupby(
        "group", observed=True, sort=True)["repeat"].agg(["size", "sum"])
    n, k = table["size"].to_numpy(float), table["sum"].to_numpy(float)
    z = stats.norm.ppf(1 - alpha / 2)
    p = k / n
    centre = (p + z ** 2 / (2 * n)) / (1 + z ** 2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z ** 2 / (4 * n ** 2)) / (1 + z ** 2 / n)
    return pd.DataFrame({"group": table.index.astype(str), "n_customers": n.astype(int),
                         "n_repeat": k.astype(int), "repeat_rate": p,
                         "ci_lower": centre - half, "ci_upper": centre + half})


def cohort_retention(orders: pd.DataFrame, customers: pd.DataFrame | None = None,
                     customer_id_col: str = "customer_id", datetime_col: str = "timestamp",
                     signup_col: str = "signup_date", freq: str = "M") -> pd.DataFrame:
    """Share of each acquisition cohort that orders in each later period.

    Cohorts are the ``freq`` period of ``customers[signup_col]`` (or of the first order
    when ``customers`` is None). Returns a tidy table: ``cohort`` (period label),
    ``period`` (periods since acquisition, 0 = acquisition period), ``cohort_size``,
    ``n_active`` (customers with >= 1 order in that period) and ``retention``.
    Periods after the last order in the data are not reported.
    """
    _check_freq(freq)
    _require(orders, [customer_id_col, datetime_col], "orders")
    order_period = _period_numbers(_timestamps(orders, datetime_col, "orders"), freq)
    if customers is None:
        codes, uniques = _customer_codes(orders[customer_id_col].to_numpy())
        cohort = np.full(len(uniques), np.iinfo(np.int64).max)
        np.minimum.at(cohort, codes, order_period)
    else:
        _require(customers, [customer_id_col, signup_col], "customers")
        uniques = customers[customer_id_col].to_numpy()
        cohort = _period_numbers(_timestamps(customers, signup_col, "customers"), freq)
        codes = pd.Index(uniques).get_indexer(orders[customer_id_col].to_numpy())
        if (codes < 0).any():
            row = int(np.flatnonzero(codes < 0)[0])
            raise DataError(f"orders: row {row} has {customer_id_col}="
                            f"{orders[customer_id_col].iloc[row]!r}, which is not in customers")
    offset = order_period - cohort[codes]
    if (offset < 0).any():
        row = int(np.flatnonzero(offset < 0)[0])
        raise DataError(f"orders: row {row} is dated before the customer's {signup_col}")
    horizon = int(order_period.max())
    span = int(offset.max()) + 1
    pairs = _distinct(codes.astype(np.int64) * span + offset)
    active = pd.DataFrame({"cohort": cohort[pairs // span], "period": pairs % span})
    active = active.groupby(["cohort", "period"]).size().rename("n_active")
    sizes = pd.Series(cohort).value_counts().rename("cohort_size")
    grid = pd.DataFrame([(c, k) for c in sorted(sizes.index) for k in range(horizon - c + 1)],
                        columns=["cohort", "period"])
    table = grid.join(active, on=["cohort", "period"]).join(sizes, on="cohort")
    table["n_active"] = table["n_active"].fillna(0).astype(int)
    table["retention"] = table["n_active"] / table["cohort_size"]
    table["cohort"] = _period_labels(table["cohort"].to_numpy(), freq)
    return table[["cohort", "period", "cohort_size", "n_active", "retention"]]


def _period_labels(period: np.ndarray, freq: str) -> np.ndarray:
    if freq == "M":
        return np.datetime_as_string(period.astype("datetime64[M]"), unit="M")
    days = period if freq == "D" else period * 7 - 3
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D")

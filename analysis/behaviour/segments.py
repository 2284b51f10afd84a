"""Web-behaviour segmentation combined with attitudes, with small-cell suppression.

The CRM essays ask to segment customers by referral source, search keywords, click
depth, dwell time, IP city and visit counts. :func:`web_behaviour_profile` turns the
session log into one row per customer; customers are then grouped either by
engagement quantiles (:func:`quantile_segments`, transparent and stable) or by a seeded
k-means written in numpy (:func:`kmeans_segments`; scikit-learn is not a dependency).
:func:`segment_profile` describes each segment, adding attitude scores (latent or
survey) where available, and suppresses every cell based on fewer than ``min_cell``
customers (value NaN, ``suppressed`` True) so that tables can be shared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import ConfigError, DataError
from analysis.seeding import make_rng

__all__ = ["web_behaviour_profile", "quantile_segments", "kmeans_segments",
           "segment_profile", "ENGAGEMENT_COLUMNS"]

ENGAGEMENT_COLUMNS = ("visit_count", "pages_per_session", "dwell_sec_per_session")


def _require(frame: pd.DataFrame, columns, table: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{table}: missing column(s) {missing}; available columns are "
                        f"{list(frame.columns)}")


def _main_category(sessions: pd.DataFrame, key: str, column: str,
                   exclude: str | None = None) -> pd.Series:
    """Most frequent category per customer (ties: first category in sort order)."""
    rows = sessions if exclude is None else sessions[sessions[column].astype(str) != exclude]
    counts = rows.groupby([key, column], observed=True).size().rename("n").reset_index()
    counts = counts.sort_values([key, "n"], ascending=[True, False], kind="stable")
    return counts.drop_duplicates(key).set_index(key)[column].astype(str)


def web_behaviour_profile(sessions: pd.DataFrame, customers: pd.DataFrame | None = None,
                          customer_id_col: str = "customer_id") -> pd.DataFrame:
    """One row per customer: visit count, click depth, dwell time, conversion, main sources.

    Returns a DataFrame indexed by customer id with ``visit_count``, ``pages_per_session``,
    ``dwell_sec_per_session``, ``conversion_rate`` (share of sessions with an order),
    ``main_referral_source``, ``main_keyword_class`` (among search visits, ``"none"``
    without any) and, when ``customers`` is given, ``city_tier`` and ``device``.
    Customers without sessions get ``visit_count`` 0 and NaN means.
    """
    _require(sessions, [customer_id_col, "pages", "dwell_sec", "referral_source",
                        "keyword_class"], "sessions")
    grouped = sessions.groupby(customer_id_col, sort=True)
    profile = pd.DataFrame({
        "visit_count": grouped.size(),
        "pages_per_session": grouped["pages"].mean(),
        "dwell_sec_per_session": grouped["dwell_sec"].mean(),
    })
    if "converted" in sessions:
        profile["conversion_rate"] = grouped["converted"].mean()
    profile["main_referral_source"] = _main_category(sessions, customer_id_col,
                                                     "referral_source")
    profile["main_keyword_class"] = _main_category(
        sessions, customer_id_col, "keyword_class", exclude="none").reindex(
        profile.index).fillna("none")
    if customers is not None:
        _require(customers, [customer_id_col], "customers")
        extra = customers.set_index(customer_id_col)
        profile = profile.reindex(extra.index)
        profile["visit_count"] = profile["visit_count"].fillna(0).astype(int)
        for column in ("city_tier", "device"):
            if column in extra:
                profile[column] = extra[column].astype(str)
    profile.index.name = customer_id_col
    return profile


def quantile_segments(profile: pd.DataFrame, columns=ENGAGEMENT_COLUMNS,
                      labels=("low", "medium", "high"), by: str | None = None) -> pd.Series:
    """Engagement level from the mean percentile rank of ``columns``, cut into equal groups.

    ``by`` (e.g. ``"main_referral_source"``) crosses the level with a categorical column,
    giving labels such as ``"high|search"``. Customers with missing values get NaN.
    """
    _require(profile, list(columns) + ([by] if by else []), "profile")
    score = profile[list(columns)].rank(pct=True).mean(axis=1, skipna=False)
    # Ranking the score first (ties in index order) keeps the quantile edges distinct.
    level = pd.qcut(score.rank(method="first"), q=len(labels), labels=list(labels))
    segment = level.astype("string")
    if by is not None:
        segment = segment + "|" + profile[by].astype("string")
    return segment.rename("segment")


def _kmeans_once(data: np.ndarray, k: int, rng: np.random.Generator, max_iter: int):
    n = len(data)
    centres = [data[rng.integers(n)]]
    for _ in range(1, k):  # k-means++ seeding
        gap = np.min([((data - c) ** 2).sum(axis=1) for c in centres], axis=0)
        total = gap.sum()
        pick = rng.integers(n) if total == 0 else rng.choice(n, p=gap / total)
        centres.append(data[pick])
    centres = np.array(centres)
    norms = (data ** 2).sum(axis=1)[:, None]
    for _ in range(max_iter):
        distance = norms - 2 * data @ centres.T + (centres ** 2).sum(axis=1)[None, :]
        labels = distance.argmin(axis=1)
        counts = np.bincount(labels, minlength=k)
        sums = np.zeros_like(centres)
        np.add.at(sums, labels, data)
        updated = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres)
        if np.allclose(updated, centres, rtol=0, atol=1e-10):
            break
        centres = updated
    inertia = float(np.take_along_axis(distance, labels[:, None], axis=1).sum())
    return labels, centres, inertia


def kmeans_segments(profile: pd.DataFrame, columns=ENGAGEMENT_COLUMNS, n_clusters: int = 4,
                    random_state=None, n_init: int = 10, max_iter: int = 300,
                    log_transform: bool = True) -> pd.Series:
    """Seeded k-means (k-means++ start, Lloyd iterations, best of ``n_init``) on z-scores.

    Non-negative skewed columns are ``log1p``-transformed first when ``log_transform``.
    Clusters are named ``cluster_1``... by decreasing size, so labels do not depend on
    the arbitrary cluster order. Rows with missing values get NaN.

    Notes
    -----
    Minimises the within-cluster sum of squares like R ``kmeans(algorithm = "Lloyd")``;
    each restart draws from its own ``SeedSequence`` child.
    """
    _require(profile, list(columns), "profile")
    if not isinstance(n_clusters, (int, np.integer)) or n_clusters < 1:
        raise ConfigError(f"n_clusters: expected a positive integer, got {n_clusters!r}")
    values = profile[list(columns)].to_numpy(float)
    complete = np.all(np.isfinite(values), axis=1)
    data = values[complete]
    if len(data) < n_clusters:
        raise DataError(f"kmeans_segments: {len(data)} complete rows, fewer than "
                        f"n_clusters={n_clusters}")
    if log_transform:
        data = np.where((data >= 0).all(axis=0), np.log1p(np.maximum(data, 0)), data)
    spread = data.std(axis=0)
    data = (data - data.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    seed = make_rng(random_state, "kmeans_segments")
    best = None
    for child in seed.spawn(n_init):
        result = _kmeans_once(data, n_clusters, child, max_iter)
        if best is None or result[2] < best[2]:
            best = result
    labels = best[0]
    by_size = np.argsort(-np.bincount(labels, minlength=n_clusters), kind="stable")
    rename = np.empty(n_clusters, dtype=object)
    rename[by_size] = [f"cluster_{i + 1}" for i in range(n_clusters)]
    segment = pd.Series(pd.NA, index=profile.index, dtype="string", name="segment")
    segment[complete] = rename[labels]
    return segment


def segment_profile(profile: pd.DataFrame, segments: pd.Series,
                    attitudes: pd.DataFrame | None = None, variables=None,
                    min_cell: int = 5) -> pd.DataFrame:
    """Size, means and SDs of every variable per segment, small cells suppressed.

    Parameters
    ----------
    profile : DataFrame
        Per-customer behaviour (e.g. :func:`web_behaviour_profile`), indexed by customer.
    segments : Series
        Segment label per customer (same index).
    attitudes : DataFrame, optional
        Attitude scores indexed by customer (latent truth or survey construct scores);
        customers without scores (not surveyed) are simply not counted for them.
    variables : list, optional
        Columns to describe (default: all numeric columns, plus category shares).
    min_cell : int
        Cells based on fewer customers than this are suppressed (NaN, ``suppressed``).

    Returns
    -------
    Tidy DataFrame: ``segment``, ``segment_size``, ``variable``, ``n``, ``mean``, ``sd``,
    ``suppressed``. Categorical columns appear as shares ``<column>=<level>`` whose
    ``n`` is the number of customers in that level; a share is also suppressed when that
    count is between 1 and ``min_cell - 1``.
    """
    if not isinstance(min_cell, (int, np.integer)) or min_cell < 1:
        raise ConfigError(f"min_cell: expected a positive integer, got {min_cell!r}")
    data = profile.copy()
    if attitudes is not None:
        overlap = [c for c in attitudes.columns if c in data.columns]
        if overlap:
            raise DataError(f"segment_profile: attitude columns {overlap} clash with profile "
                            "columns; rename them")
        data = data.join(attitudes, how="left")
    data["segment"] = segments.reindex(data.index)
    data = data[data["segment"].notna()]
    chosen = list(variables) if variables is not None else [c for c in data.columns
                                                            if c != "segment"]
    _require(data, chosen, "profile")
    columns: dict[str, pd.Series] = {}
    shares: list[str] = []
    for name in chosen:
        series = data[name]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            columns[name] = series.astype(float)
            continue
        for level in sorted(series.dropna().astype(str).unique()):
            label = f"{name}={level}"
            columns[label] = (series.astype(str) == level).astype(float).where(series.notna())
            shares.append(label)
    wide = pd.DataFrame(columns, index=data.index)
    keys = data["segment"].astype(str)
    grouped = wide.groupby(keys, sort=True)
    size = keys.groupby(keys, sort=True).size()
    tidy = pd.concat({"n": grouped.count().stack(future_stack=True),
                      "mean": grouped.mean().stack(future_stack=True),
                      "sd": grouped.std(ddof=1).stack(future_stack=True),
                      "hits": grouped.sum().stack(future_stack=True)}, axis=1)
    tidy.index.names = ["segment", "variable"]
    tidy = tidy.reset_index()
    tidy["segment_size"] = tidy["segment"].map(size).astype(float)
    is_share = tidy["variable"].isin(shares).to_numpy()
    # A share's n is the count of customers in that level; zero reveals nobody.
    tidy["n"] = np.where(is_share, tidy["hits"], tidy["n"]).astype(float)
    small_base = (tidy["segment_size"] < min_cell).to_numpy()
    small_cell = np.where(is_share, (tidy["n"] > 0) & (tidy["n"] < min_cell),
                          tidy["n"] < min_cell)
    suppressed = small_base | small_cell
    tidy.loc[suppressed, ["mean", "sd", "n"]] = np.nan
    tidy.loc[small_base, "segment_size"] = np.nan
    tidy["suppressed"] = suppressed
    tidy = tidy[["segment", "segment_size", "variable", "n", "mean", "sd", "suppressed"]]
    tidy.attrs.update(suppressed=int(suppressed.sum()), min_cell_size=int(min_cell))  # for the table's note
    return tidy

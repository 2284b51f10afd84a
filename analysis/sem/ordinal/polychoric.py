"""Thresholds, polychoric and polyserial correlations (lavaan's two-step estimators).

Ordinal items are treated as coarse measurements of latent standard-normal responses.
Step 1 estimates each item's thresholds from its marginal proportions; step 2 estimates
each pair's correlation by maximum likelihood with the thresholds held fixed, exactly
as ``lavaan::lavCor(data, ordered = ...)`` (and the sample statistics of
``cfa(..., ordered = ...)``) do. Missing values are removed listwise, as lavCor's
default ``missing = "listwise"``; ``missing = "pairwise"`` uses every available value
(thresholds from each item's observed values, correlations from pairwise-complete rows),
as lavaan's ``missing = "pairwise"``.

Categories are the observed values of a column in increasing order (the categories
of an ordered ``pandas.Categorical``), so unused scale points do not create empty
categories.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import ndtr, ndtri

from analysis.errors import DataError, check_choice
from analysis.sem.ordinal.bivariate_normal import (
    bivariate_normal_cdf,
    bivariate_normal_pdf,
)

__all__ = ["RHO_BOUND", "OrdinalData", "ordinal_data", "polychoric", "polychoric_matrix", "polyserial",
           "thresholds"]

# lavaan bounds the polychoric optimiser to [-0.999, 0.999] (lav_bvord_cor_twostep_fit)
RHO_BOUND = 0.999
_MIN_ROWS = 10


@dataclass(frozen=True)
class OrdinalData:
    """Ordinal columns coded 0..K-1, with their step-1 thresholds.

    ``codes[n, j]`` is respondent n's category on variable j (-1 when missing, only with
    pairwise deletion); ``levels[j]`` the observed values in order; ``thresholds[j]`` the
    K_j - 1 thresholds; ``n_dropped`` the rows removed for missing values.
    """

    variables: tuple[str, ...]
    codes: np.ndarray
    levels: tuple[tuple, ...]
    thresholds: tuple[np.ndarray, ...]
    n_dropped: int

    @property
    def n(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_categories(self) -> np.ndarray:
        return np.array([len(level) for level in self.levels])

    def extended_thresholds(self) -> np.ndarray:
        """Thresholds with -inf/+inf ends, padded with +inf to a common length K_max + 1."""
        width = int(self.n_categories.max()) + 1
        ext = np.full((len(self.variables), width), np.inf)
        for j, tau in enumerate(self.thresholds):
            ext[j, 0] = -np.inf
            ext[j, 1:len(tau) + 1] = tau
        return ext

    def pairs(self) -> list[tuple[int, int]]:
        """Variable pairs (i, j), i > j, in lavaan's order (lower triangle, column by column)."""
        p = len(self.variables)
        return [(i, j) for j in range(p - 1) for i in range(j + 1, p)]


def _category_codes(column: pd.Series) -> tuple[np.ndarray, tuple]:
    name = column.name
    if isinstance(column.dtype, pd.CategoricalDtype):
        if not column.cat.ordered:
            raise DataError(f"column {name!r} is an unordered categorical; ordinal analysis needs numeric "
                            "scores or an ordered categorical (pandas.Categorical(..., ordered=True))")
        column = column.cat.remove_unused_categories()
        return column.cat.codes.to_numpy(dtype=np.int64), tuple(column.cat.categories)
    if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
        bad = column[pd.to_numeric(column, errors="coerce").isna()]
        example = f"; first non-numeric value {bad.iloc[0]!r} at index {bad.index[0]}" if len(bad) else ""
        raise DataError(f"ordinal column {name!r} must hold numeric category scores, got dtype "
                        f"{column.dtype}{example}")
    values = column.to_numpy(dtype=float)
    levels, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int64), tuple(levels.tolist())


def _column_thresholds(column: pd.Series) -> tuple[np.ndarray, tuple, np.ndarray]:
    """Category codes, levels and thresholds Phi^-1(cumulative proportions) of a complete column."""
    code, level = _category_codes(column)
    if len(level) < 2:
        raise DataError(f"ordinal column {column.name!r} has a single observed category ({level[0]!r}); "
                        "it carries no information about correlations")
    counts = np.bincount(code, minlength=len(level))
    return code, level, ndtri(np.cumsum(counts)[:-1] / len(code))


_MISSING = ("listwise", "pairwise")


def ordinal_data(data: pd.DataFrame, columns=None, missing: str = "listwise") -> OrdinalData:
    """Code ordinal columns 0..K-1 and estimate their thresholds.

    ``missing = "listwise"`` keeps the complete rows; ``"pairwise"`` keeps every row with
    at least one observed value and codes missing cells as -1.

    Notes
    -----
    tau_jk = Phi^-1(proportion of responses in categories 1..k), the ML estimate without
    covariates (``lavaan:::lav_uvord_fit``; ``lavCor(..., output = "th")``).
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    columns = list(data.columns) if columns is None else list(columns)
    absent = [c for c in columns if c not in data.columns]
    if absent:
        raise DataError(f"ordinal columns not in the data: {', '.join(map(str, absent))}; "
                        f"available columns: {', '.join(map(str, data.columns))}")
    if len(columns) < 2:
        raise DataError(f"polychoric correlations need at least 2 ordinal columns, got {len(columns)}")
    check_choice("missing", missing, _MISSING)
    frame = data[columns]
    kept = frame.dropna() if missing == "listwise" else frame.dropna(how="all")
    if len(kept) < _MIN_ROWS:
        what = "complete rows" if missing == "listwise" else "rows with any observed value"
        raise DataError(f"only {len(kept)} {what} for the ordinal columns {', '.join(columns)}; "
                        f"need at least {_MIN_ROWS}")
    codes, levels, taus = [], [], []
    for name in columns:
        observed = kept[name].notna().to_numpy()
        if observed.sum() < _MIN_ROWS:
            raise DataError(f"ordinal column {name!r} has only {observed.sum()} observed values; "
                            f"need at least {_MIN_ROWS}")
        code, level, tau = _column_thresholds(kept[name][observed])
        full = np.full(len(kept), -1, dtype=np.int64)
        full[observed] = code
        codes.append(full)
        levels.append(level)
        taus.append(tau)
    return OrdinalData(tuple(map(str, columns)), np.column_stack(codes), tuple(levels), tuple(taus),
                       len(frame) - len(kept))


def thresholds(data: pd.DataFrame, columns=None) -> dict[str, np.ndarray]:
    """Thresholds of each ordinal column: Phi^-1 of its cumulative category proportions.

    Returns
    -------
    dict
        Column name -> array of K - 1 increasing thresholds (lavaan's ``x|t1``, ``x|t2``...).

    Notes
    -----
    Checked against ``lavCor(data, ordered = names(data), output = "th")``.
    """
    coded = ordinal_data(data, columns)
    return dict(zip(coded.variables, coded.thresholds))


# --------------------------------------------------------------------------- step 2
def pair_tables(coded: OrdinalData, pairs: list[tuple[int, int]]) -> np.ndarray:
    """Contingency tables n[pair, a, b] (rows: first variable of the pair), padded to K_max."""
    width = int(coded.n_categories.max())
    offsets = np.arange(len(pairs))[:, None] * width * width
    first = coded.codes[:, [i for i, _ in pairs]].T
    second = coded.codes[:, [j for _, j in pairs]].T
    both = (first >= 0) & (second >= 0)
    flat = np.bincount((offsets + first * width + second)[both], minlength=len(pairs) * width * width)
    return flat.reshape(len(pairs), width, width).astype(float)


def _cells(grid: np.ndarray) -> np.ndarray:
    """Rectangle probabilities from a grid of CDF values at the threshold crossings."""
    return grid[:, 1:, 1:] - grid[:, :-1, 1:] - grid[:, 1:, :-1] + grid[:, :-1, :-1]


def cell_probabilities(ext_first: np.ndarray, ext_second: np.ndarray, rho: np.ndarray,
                       derivatives: bool = False):
    """pi[pair, a, b] and, with ``derivatives``, d pi / d rho and d2 pi / d rho2."""
    h = ext_first[:, :, None]
    k = ext_second[:, None, :]
    r = rho[:, None, None]
    prob = _cells(bivariate_normal_cdf(h, k, r))
    if not derivatives:
        return prob
    density = bivariate_normal_pdf(h, k, r)
    one_minus = (1.0 - r) * (1.0 + r)
    hf = np.where(np.isfinite(h), h, 0.0)
    kf = np.where(np.isfinite(k), k, 0.0)
    curvature = r / one_minus + (hf * kf * (1.0 + r * r) - r * (hf * hf + kf * kf)) / one_minus ** 2
    return prob, _cells(density), _cells(density * curvature)


def _loglik(tables, ext_first, ext_second, rho):
    prob = cell_probabilities(ext_first, ext_second, rho)
    with np.errstate(divide="ignore"):
        logs = np.where(tables > 0, np.log(np.where(tables > 0, prob, 1.0)), 0.0)
    return np.sum(tables * logs, axis=(1, 2))


def fit_polychorics(tables: np.ndarray, ext_first: np.ndarray, ext_second: np.ndarray,
                    start: np.ndarray, tol: float = 1e-12, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """ML polychoric correlations of many tables at once (damped Newton, bounded to +-0.999).

    Returns the estimates and a boolean array telling which pairs converged.
    """
    rho = np.clip(np.asarray(start, dtype=float), -0.9, 0.9)
    total = tables.sum(axis=(1, 2))
    observed = tables > 0
    converged = np.zeros(len(rho), dtype=bool)
    ll = _loglik(tables, ext_first, ext_second, rho)
    for _ in range(max_iter):
        prob, d1, d2 = cell_probabilities(ext_first, ext_second, rho, derivatives=True)
        safe = np.where(observed, prob, 1.0)
        ratio = np.where(observed, d1 / safe, 0.0)
        gradient = np.sum(tables * ratio, axis=(1, 2))
        hessian = np.sum(tables * (np.where(observed, d2 / safe, 0.0) - ratio ** 2), axis=(1, 2))
        fisher = total * np.sum(np.where(prob > 0, d1 ** 2 / np.where(prob > 0, prob, 1.0), 0.0), axis=(1, 2))
        step = np.where(hessian < 0, -gradient / np.where(hessian < 0, hessian, -1.0),
                        gradient / np.maximum(fisher, 1e-300))
        step = np.where(converged, 0.0, step)
        new = np.clip(rho + step, -RHO_BOUND, RHO_BOUND)
        ll_new = _loglik(tables, ext_first, ext_second, new)
        for _halving in range(60):
            worse = ll_new < ll - 1e-12 * np.abs(ll)
            if not worse.any():
                break
            step[worse] /= 2.0
            new[worse] = np.clip(rho[worse] + step[worse], -RHO_BOUND, RHO_BOUND)
            ll_new[worse] = _loglik(tables[worse], ext_first[worse], ext_second[worse], new[worse])
        change = np.abs(new - rho)
        at_bound = (np.abs(new) >= RHO_BOUND) & (np.sign(gradient) == np.sign(new))
        rho, ll = new, ll_new
        converged |= (change < tol) | at_bound
        if converged.all():
            break
    return rho, converged


def _pairwise_pearson(codes: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Pearson correlation of the category codes over pairwise-complete rows (lavaan's start)."""
    x, y = codes[:, first].astype(float), codes[:, second].astype(float)
    both = (x >= 0) & (y >= 0)
    count = np.maximum(both.sum(axis=0), 1)
    mx = np.where(both, x, 0.0).sum(axis=0) / count
    my = np.where(both, y, 0.0).sum(axis=0) / count
    dx, dy = np.where(both, x - mx, 0.0), np.where(both, y - my, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (dx * dy).sum(axis=0) / np.sqrt((dx * dx).sum(axis=0) * (dy * dy).sum(axis=0))
    return np.nan_to_num(r)


def _binary_table_rule(table: np.ndarray, tau_first: np.ndarray, tau_second: np.ndarray):
    """lavaan's special cases for 2x2 tables; returns (table, closed-form rho or None)."""
    table = table.copy()
    zeros = np.flatnonzero(table == 0)
    if len(zeros) == 2:
        return table, (1.0 if table[0, 0] > 0 else -1.0)
    if len(zeros) == 1:
        # add 0.5 to the empty cell keeping the margins (zero.add = c(0.5, 0), zero.keep.margins)
        sign = 1.0 if zeros[0] in (0, 3) else -1.0
        table += sign * 0.5 * np.array([[1.0, -1.0], [-1.0, 1.0]])
    if table[0, 0] * table[1, 1] == table[0, 1] * table[1, 0]:
        return table, 0.0
    if tau_first[0] == 0 and tau_second[0] == 0:
        return table, float(-np.cos(2 * np.pi * table[0, 0] / table.sum()))
    return table, None


def polychoric_correlations(coded: OrdinalData) -> tuple[np.ndarray, list[str]]:
    """Polychoric correlation of every pair in :meth:`OrdinalData.pairs` order, plus warnings."""
    pairs = coded.pairs()
    tables = pair_tables(coded, pairs)
    ext = coded.extended_thresholds()
    first = np.array([i for i, _ in pairs])
    second = np.array([j for _, j in pairs])
    start = _pairwise_pearson(coded.codes, first, second)
    start = np.where(np.abs(start) >= 1, 0.0, start)
    fixed = np.full(len(pairs), np.nan)
    binary = (coded.n_categories[first] == 2) & (coded.n_categories[second] == 2)
    for m in np.flatnonzero(binary):
        tables[m, :2, :2], closed = _binary_table_rule(tables[m, :2, :2], coded.thresholds[first[m]],
                                                      coded.thresholds[second[m]])
        if closed is not None:
            fixed[m] = closed
    free = np.isnan(fixed)
    rho = fixed.copy()
    notes = []
    if free.any():
        rho[free], converged = fit_polychorics(tables[free], ext[first[free]], ext[second[free]], start[free])
        for m in np.flatnonzero(free)[~converged]:
            notes.append(f"polychoric correlation of {coded.variables[first[m]]} and "
                         f"{coded.variables[second[m]]} did not converge")
    for m in np.flatnonzero(np.abs(rho) > 0.99):
        notes.append(f"correlation between {coded.variables[first[m]]} and {coded.variables[second[m]]} "
                     f"is (nearly) {np.sign(rho[m]):+.0f}")
    return rho, notes


def polychoric(x, y) -> float:
    """Polychoric correlation of two ordinal variables (two-step ML, lavaan's estimator).

    Notes
    -----
    Thresholds tau = Phi^-1(cumulative proportions); rho maximises
    sum_ab n_ab log pi_ab(rho), pi_ab = Phi2(tau_a, tau_b) - Phi2(tau_a-1, tau_b)
    - Phi2(tau_a, tau_b-1) + Phi2(tau_a-1, tau_b-1). Checked against
    ``lavCor(data, ordered = names(data))``.
    """
    frame = pd.DataFrame({"x": pd.Series(x).reset_index(drop=True), "y": pd.Series(y).reset_index(drop=True)})
    rho, _ = polychoric_correlations(ordinal_data(frame, ["x", "y"]))
    return float(rho[0])


def polyserial(continuous, ordinal) -> float:
    """Polyserial correlation of a continuous and an ordinal variable (two-step ML).

    Notes
    -----
    z = (y - mean) / sd (ML, divisor N); thresholds from the ordinal margins; rho
    maximises sum_n log[Phi((tau_c+1 - rho z_n) / sqrt(1 - rho^2)) - Phi((tau_c - rho z_n) /
    sqrt(1 - rho^2))], as ``lavaan:::lav_bvmix_cor_twostep_fit`` (``lavCor`` with a mix of
    numeric and ordered columns).
    """
    frame = pd.DataFrame({"y": pd.to_numeric(pd.Series(continuous).reset_index(drop=True), errors="coerce"),
                          "x": pd.Series(ordinal).reset_index(drop=True)}).dropna()
    y = frame["y"].to_numpy(dtype=float)
    codes, _, thresholds_x = _column_thresholds(frame["x"])
    tau = np.concatenate([[-np.inf], thresholds_x, [np.inf]])
    z = (y - y.mean()) / y.std()
    upper, lower = tau[codes + 1], tau[codes]

    def negative_loglik(rho: float) -> float:
        scale = np.sqrt(1.0 - rho * rho)
        prob = ndtr((upper - rho * z) / scale) - ndtr((lower - rho * z) / scale)
        return -float(np.sum(np.log(np.maximum(prob, 1e-300))))

    result = optimize.minimize_scalar(negative_loglik, bounds=(-RHO_BOUND, RHO_BOUND), method="bounded",
                                      options={"xatol": 1e-10})
    return float(result.x)


def polychoric_matrix(data: pd.DataFrame, columns=None, ordered=None,
                      missing: str = "listwise") -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Correlation matrix of ordinal (and optionally continuous) columns, with thresholds.

    Parameters
    ----------
    data : DataFrame
    columns : list of str, optional
        Columns to correlate (default: all).
    ordered : list of str, optional
        Which of ``columns`` are ordinal (default: all). Pairs of ordinal columns get
        polychoric, ordinal/continuous pairs polyserial and continuous pairs Pearson
        correlations.
    missing : {"listwise", "pairwise"}
        Drop rows with any missing value first (lavCor's default), or use all
        available values per column / pair.

    Returns
    -------
    corr : DataFrame
        Symmetric correlation matrix with unit diagonal.
    thresholds : dict
        Ordinal column -> array of its thresholds.

    Notes
    -----
    By default rows with a missing value in any of ``columns`` are removed first
    (listwise), as ``lavCor(data, ordered = ...)`` does; the polychorics and thresholds agree
    with lavCor to 1e-6 on the Holzinger-Swineford quartile data (tests/test_polychoric.py).
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    columns = list(data.columns) if columns is None else list(columns)
    ordered = list(columns) if ordered is None else list(ordered)
    unknown = [c for c in ordered if c not in columns]
    if unknown:
        raise DataError(f"ordered columns {', '.join(map(str, unknown))} are not among the columns "
                        f"to correlate: {', '.join(map(str, columns))}")
    absent = [c for c in columns if c not in data.columns]
    if absent:
        raise DataError(f"columns not in the data: {', '.join(map(str, absent))}; "
                        f"available columns: {', '.join(map(str, data.columns))}")
    frame = data[columns].dropna() if missing == "listwise" else data[columns]
    corr = pd.DataFrame(np.eye(len(columns)), index=columns, columns=columns)
    taus: dict[str, np.ndarray] = {}
    if len(ordered) >= 2:
        coded = ordinal_data(frame, ordered, missing=missing)
        rho, _ = polychoric_correlations(coded)
        for (i, j), value in zip(coded.pairs(), rho):
            corr.loc[ordered[i], ordered[j]] = corr.loc[ordered[j], ordered[i]] = value
        taus = dict(zip(coded.variables, coded.thresholds))
    elif ordered:
        taus = {ordered[0]: _column_thresholds(frame[ordered[0]].dropna())[2]}
    continuous = [c for c in columns if c not in ordered]
    for c in continuous:
        if not pd.api.types.is_numeric_dtype(frame[c]):
            raise DataError(f"continuous column {c!r} must be numeric, got dtype {frame[c].dtype}")
    for a, name in enumerate(continuous):
        for other in continuous[a + 1:]:
            pair = frame[[name, other]].dropna()
            corr.loc[name, other] = corr.loc[other, name] = float(np.corrcoef(pair[name], pair[other])[0, 1])
        for other in ordered:
            corr.loc[name, other] = corr.loc[other, name] = polyserial(frame[name], frame[other])
    return corr, taus

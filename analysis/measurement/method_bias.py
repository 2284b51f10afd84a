"""Common-method-bias diagnostics and a bootstrap interval for HTMT.

One function per statistic: Harman's single-factor share, full-collinearity VIFs
(Kock 2015), the Lindell & Whitney (2001) marker-variable correction, and percentile
bootstrap intervals for the heterotrait-monotrait ratio. :func:`construct_scores`
turns item responses into construct scores for the first three. Thresholds follow
``shared/DOMAIN.md`` (Harman < 50 %, report only; VIF <= 3.3; HTMT < .85 / .90).
Every statistic was checked against R; see ``tests/reference/method_bias_reference.R``.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.errors import ConfigError, DataError
from analysis.measurement.statistics import htmt
from analysis.seeding import make_rng
from analysis.sem.bootstrap import percentile_interval, run_seeded_draws, seed_sequence

__all__ = [
    "construct_scores",
    "full_collinearity_vif",
    "harman_single_factor",
    "htmt_bootstrap",
    "marker_variable_correction",
]

_HARMAN_METHODS = ("pca", "ml")


def _numeric_columns(data: pd.DataFrame, columns: list[str], what: str) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"{what}: data must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DataError(f"{what}: missing column(s) {missing}; available: {list(map(str, data.columns))}")
    for column in columns:
        if not (pd.api.types.is_numeric_dtype(data[column]) or pd.api.types.is_bool_dtype(data[column])):
            raise DataError(f"{what}: column {column!r} must be numeric, got dtype {data[column].dtype}")
    return data[columns].astype("float64")


def construct_scores(data: pd.DataFrame, blocks: Mapping[str, list[str]]) -> pd.DataFrame:
    """Construct scores as the mean of each construct's items.

    Parameters
    ----------
    data : pandas.DataFrame
        Item responses (numeric or nullable integer columns).
    blocks : dict of str -> list of str
        Construct code -> its item columns.

    Returns
    -------
    pandas.DataFrame
        One column per construct, same index as ``data``; a respondent's score is the
        mean of the items they answered (NaN if none).

    Notes
    -----
    Equal-weight scores, R ``rowMeans(x[, items], na.rm = TRUE)``. VIFs and
    correlations do not change if sums are used instead of means.
    """
    if not isinstance(blocks, Mapping) or not blocks:
        raise ConfigError(f"construct_scores: blocks must map construct codes to item lists, got {blocks!r}")
    scores = {}
    for construct, items in blocks.items():
        if isinstance(items, str) or not items:
            raise ConfigError(f"construct_scores: block {construct!r} must be a non-empty list of items, got {items!r}")
        scores[construct] = _numeric_columns(data, list(items), "construct_scores").mean(axis=1, skipna=True)
    return pd.DataFrame(scores, index=data.index)


def _one_factor_ml(corr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-factor ML factor analysis of a correlation matrix, as ``stats::factanal``."""
    p = corr.shape[0]

    def spectrum(psi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scale = 1 / np.sqrt(psi)
        return np.linalg.eigh(corr * np.outer(scale, scale))

    def objective(psi: np.ndarray) -> float:
        rest = spectrum(psi)[0][:-1]  # all but the largest eigenvalue
        return -float(np.sum(np.log(rest) - rest)) - p + 1

    def loadings(psi: np.ndarray) -> np.ndarray:
        values, vectors = spectrum(psi)
        return np.sqrt(psi) * vectors[:, -1] * np.sqrt(max(values[-1] - 1, 0.0))

    def gradient(psi: np.ndarray) -> np.ndarray:
        lam = loadings(psi)
        return (lam**2 + psi - np.diag(corr)) / psi**2

    start = 0.5 * (2 - 1 / p) / np.diag(np.linalg.inv(corr))
    start = np.clip(start, 0.005, 1.0)
    result = optimize.minimize(objective, start, jac=gradient, method="L-BFGS-B", bounds=[(0.005, 1.0)] * p,
                               options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 1000})
    lam = loadings(result.x)
    return lam * (1 if lam.sum() >= 0 else -1), result.x


def harman_single_factor(data: pd.DataFrame, items: list[str], method: str = "pca",
                         threshold: float = 0.50) -> pd.Series:
    """Harman's single-factor test: variance share of one unrotated factor.

    Parameters
    ----------
    data : pandas.DataFrame
        Item responses; rows with any missing item are dropped (listwise).
    items : list of str
        All substantive items (at least three).
    method : {"pca", "ml"}, default "pca"
        ``"pca"``: first principal component of the correlation matrix (the usual
        practice). ``"ml"``: one-factor maximum-likelihood factor analysis.
    threshold : float, default 0.50
        A share above it is the conventional warning sign of common-method variance.

    Returns
    -------
    pandas.Series
        method, first_eigenvalue (of the correlation matrix), variance_share,
        n_items, n, exceeds_threshold.

    Notes
    -----
    ``"pca"``: :math:`\\lambda_1 / p`, with :math:`\\lambda_1` the largest eigenvalue of
    the :math:`p \\times p` item correlation matrix; R ``eigen(cor(x))$values[1] / p``
    and ``psych::principal(x, nfactors = 1, rotate = "none")$Vaccounted["Proportion
    Var", 1]``. ``"ml"``: :math:`\\sum_j \\hat\\lambda_j^2 / p` for the standardized
    loadings of a one-factor ML solution; R ``factanal(x, factors = 1)`` (same
    objective, uniquenesses bounded to [0.005, 1]). The test is weak evidence either
    way (Podsakoff et al. 2003): report it, do not rely on it.
    """
    if method not in _HARMAN_METHODS:
        raise ConfigError(f"harman_single_factor: method expected one of {list(_HARMAN_METHODS)}, got {method!r}")
    if isinstance(items, str) or len(items) < 3:
        raise ConfigError(f"harman_single_factor: expected a list of at least 3 items, got {items!r}")
    frame = _numeric_columns(data, list(items), "harman_single_factor").dropna()
    if len(frame) <= len(items):
        raise DataError(f"harman_single_factor: {len(frame)} complete rows for {len(items)} items; "
                        f"need more rows than items")
    corr = np.corrcoef(frame.to_numpy(), rowvar=False)
    if not np.all(np.isfinite(corr)):
        constant = [c for c in items if frame[c].std() == 0]
        raise DataError(f"harman_single_factor: items with zero variance: {constant}")
    first = float(np.linalg.eigvalsh(corr)[-1])
    if method == "pca":
        share = first / len(items)
    else:
        loadings, _ = _one_factor_ml(corr)
        share = float(np.sum(loadings**2) / len(items))
    return pd.Series({"method": method, "first_eigenvalue": first, "variance_share": share,
                      "n_items": len(items), "n": len(frame), "exceeds_threshold": share > threshold})


def full_collinearity_vif(scores: pd.DataFrame, threshold: float = 3.3) -> pd.DataFrame:
    """Full-collinearity VIF of every construct on all the others (Kock 2015).

    Parameters
    ----------
    scores : pandas.DataFrame
        Construct scores, one column per construct (e.g. :func:`construct_scores`);
        rows with any missing score are dropped.
    threshold : float, default 3.3
        A VIF above it suggests pathological collinearity or common-method bias.

    Returns
    -------
    pandas.DataFrame
        construct, r_squared, vif, exceeds_threshold; one row per construct.

    Notes
    -----
    :math:`VIF_j = 1/(1 - R^2_j)`, :math:`R^2_j` from the OLS regression (with
    intercept) of construct *j* on all other constructs; equivalently the *j*-th
    diagonal element of the inverse correlation matrix. R:
    ``1 / (1 - summary(lm(y ~ ., data = scores))$r.squared)``.
    """
    if not isinstance(scores, pd.DataFrame) or scores.shape[1] < 2:
        raise DataError("full_collinearity_vif: expected a DataFrame of at least two construct scores, "
                        f"got {type(scores).__name__} with shape {getattr(scores, 'shape', None)}")
    frame = _numeric_columns(scores, list(scores.columns), "full_collinearity_vif").dropna()
    if len(frame) <= frame.shape[1]:
        raise DataError(f"full_collinearity_vif: {len(frame)} complete rows for {frame.shape[1]} constructs")
    corr = np.corrcoef(frame.to_numpy(), rowvar=False)
    try:
        vif = np.diag(np.linalg.inv(corr))
    except np.linalg.LinAlgError:
        raise DataError("full_collinearity_vif: the construct scores are perfectly collinear "
                        "(or one is constant); VIF is infinite") from None
    return pd.DataFrame({"construct": [str(c) for c in frame.columns], "r_squared": 1 - 1 / vif,
                         "vif": vif, "exceeds_threshold": vif > threshold})


def _marker_r(correlations: pd.DataFrame, marker: str, substantive: list[str], rank: int) -> float:
    values = correlations.loc[marker, substantive].astype(float)
    positive = np.sort(values[values > 0].to_numpy())
    # No positive marker correlation means no detectable method variance: nothing to remove.
    return float(positive[rank - 1]) if len(positive) >= rank else 0.0


def marker_variable_correction(correlations: pd.DataFrame, n: int, marker: str | None = None,
                               marker_correlation: float | None = None, rank: int = 1) -> pd.DataFrame:
    """Lindell & Whitney (2001) correction of correlations for common-method variance.

    Parameters
    ----------
    correlations : pandas.DataFrame
        Square correlation matrix with construct names as index and columns (e.g.
        ``construct_scores(data, blocks).corr()``), optionally including the marker.
    n : int
        Sample size behind the correlations.
    marker : str, optional
        Name of the marker construct in ``correlations``. Its correlations with the
        substantive constructs give :math:`r_M`; its own row is not corrected.
    marker_correlation : float, optional
        :math:`r_M` given directly (then ``marker`` is only excluded from the pairs).
    rank : int, default 1
        Use the ``rank``-th smallest positive marker correlation: 1 = smallest (L&W's
        :math:`r_S`), 2 = second smallest (their more conservative choice).

    Returns
    -------
    pandas.DataFrame
        construct_a, construct_b, r, r_m, r_adjusted, t, df, pvalue, n.

    Notes
    -----
    :math:`r_A = (r - r_M)/(1 - r_M)` and
    :math:`t = r_A / \\sqrt{(1 - r_A^2)/(n - 3)}` on :math:`n - 3` degrees of freedom,
    two-sided p-value. :math:`r_M` is the smallest (``rank=1``) or second-smallest
    (``rank=2``) positive correlation of the marker with the substantive constructs; 0
    if there is none. Checked in R with the same formula on a fixed example and on
    Holzinger-Swineford sum scores with ``agemo`` as the marker.
    """
    if not isinstance(correlations, pd.DataFrame) or list(correlations.index) != list(correlations.columns):
        raise DataError("marker_variable_correction: correlations must be a square DataFrame with the same "
                        "construct names as index and columns")
    if not isinstance(n, (int, np.integer)) or n <= 3:
        raise ConfigError(f"marker_variable_correction: n expected an integer > 3, got {n!r}")
    if rank not in (1, 2):
        raise ConfigError(f"marker_variable_correction: rank expected 1 or 2, got {rank!r}")
    names = [str(c) for c in correlations.columns]
    if marker is not None and marker not in names:
        raise DataError(f"marker_variable_correction: marker {marker!r} is not in the correlation matrix; "
                        f"available: {names}")
    substantive = [c for c in names if c != marker]
    if marker_correlation is None:
        if marker is None:
            raise ConfigError("marker_variable_correction: give marker (a column of correlations) "
                              "or marker_correlation")
        r_m = _marker_r(correlations, marker, substantive, rank)
    else:
        r_m = float(marker_correlation)
        if not -1 < r_m < 1:
            raise ConfigError(f"marker_variable_correction: marker_correlation expected in (-1, 1), got {r_m!r}")
    rows = []
    for a, b in combinations(substantive, 2):
        r = float(correlations.loc[a, b])
        r_adjusted = (r - r_m) / (1 - r_m)
        t = r_adjusted / np.sqrt((1 - r_adjusted**2) / (n - 3))
        rows.append({"construct_a": a, "construct_b": b, "r": r, "r_m": r_m, "r_adjusted": r_adjusted,
                     "t": t, "df": n - 3, "pvalue": float(2 * stats.t.sf(abs(t), n - 3)), "n": int(n)})
    return pd.DataFrame(rows)


def _htmt_draws(values: np.ndarray, columns: list[str], blocks: dict[str, list[str]],
                pairs: list[tuple[str, str]], seeds: list[np.random.SeedSequence]) -> np.ndarray:
    out = np.full((len(seeds), len(pairs)), np.nan)
    n = len(values)
    for row, seed in enumerate(seeds):
        sample = pd.DataFrame(values[make_rng(seed).integers(0, n, n)], columns=columns)
        with np.errstate(all="ignore"):
            matrix = htmt(sample, blocks)
        out[row] = [matrix.loc[a, b] for a, b in pairs]
    return out


def htmt_bootstrap(data: pd.DataFrame, blocks: Mapping[str, list[str]], n_draws: int = 1000,
                   random_state: int | np.random.Generator | None = None, n_jobs: int = 1,
                   level: float = 0.95) -> pd.DataFrame:
    """Percentile bootstrap confidence intervals for HTMT (Henseler et al. 2015).

    Parameters
    ----------
    data : pandas.DataFrame
        Item responses; rows with any missing item are dropped first (as in
        :func:`analysis.measurement.statistics.htmt`).
    blocks : dict of str -> list of str
        Construct code -> its items (at least two items each).
    n_draws : int, default 1000
        Number of resamples.
    random_state : int, numpy.random.Generator or None
        Root of the ``SeedSequence`` whose ``k``-th child drives draw ``k``.
    n_jobs : int, default 1
        Worker processes; the result is bit-identical for every value.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        construct_a, construct_b, htmt, boot_mean, boot_se, ci_lower, ci_upper,
        n_draws (successful), n_failed (draws where the ratio was not finite, e.g. a
        constant item; excluded, never replaced).

    Notes
    -----
    Statistic: :func:`analysis.measurement.statistics.htmt` (HTMT2, geometric means; checked
    against ``semTools::htmt``). Interval: :math:`(1-\\text{level})/2` and
    :math:`(1+\\text{level})/2` quantiles of the draws. Discriminant validity is
    supported when ``ci_upper`` lies below the threshold (.85 / .90).
    """
    if not 0 < level < 1:
        raise ConfigError(f"htmt_bootstrap: level expected a number between 0 and 1, got {level!r}")
    if not isinstance(n_draws, (int, np.integer)) or n_draws < 1:
        raise ConfigError(f"htmt_bootstrap: n_draws expected an integer >= 1, got {n_draws!r}")
    if not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise ConfigError(f"htmt_bootstrap: n_jobs expected an integer >= 1, got {n_jobs!r}")
    estimate = htmt(data, blocks)
    blocks = {str(k): list(v) for k, v in blocks.items()}
    columns = list(dict.fromkeys(item for items in blocks.values() for item in items))
    values = data[columns].astype("float64").dropna().to_numpy()
    pairs = list(combinations(blocks, 2))
    seeds = seed_sequence(random_state).spawn(n_draws)
    draws = run_seeded_draws(_htmt_draws, (values, columns, blocks, pairs), seeds, n_jobs)
    rows = []
    for k, (a, b) in enumerate(pairs):
        column = draws[:, k]
        good = column[np.isfinite(column)]
        low, high = percentile_interval(good, level) if len(good) else (np.nan, np.nan)
        rows.append({"construct_a": a, "construct_b": b, "htmt": float(estimate.loc[a, b]),
                     "boot_mean": float(good.mean()) if len(good) else np.nan,
                     "boot_se": float(good.std(ddof=1)) if len(good) > 1 else np.nan,
                     "ci_lower": low, "ci_upper": high,
                     "n_draws": len(good), "n_failed": int(len(column) - len(good))})
    return pd.DataFrame(rows)

"""Reliability and validity statistics for reflective measurement models.

One function per statistic (alpha, composite reliability, AVE, omega, HTMT,
Fornell-Larcker) plus three tidy report tables, which are built in
:mod:`analysis.measurement.tables` and re-exported here. Thresholds default to the values
in ``shared/DOMAIN.md`` and live in :class:`ValidityThresholds`. Every statistic was
checked against R (psych, lavaan, semTools); see ``tests/reference/measurement_reference.R``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
import pingouin
from scipy import stats

from analysis.errors import ConfigError, ConvergenceError, DataError

__all__ = [
    "ValidityThresholds",
    "FornellLarckerResult",
    "cronbach_alpha",
    "composite_reliability",
    "average_variance_extracted",
    "mcdonald_omega",
    "htmt",
    "fornell_larcker",
    "loadings_from_estimates",
]

_HTMT_MEANS = ("geometric", "arithmetic")


@dataclass(frozen=True)
class ValidityThresholds:
    """Cut-offs for reliability and validity checks (defaults: DOMAIN.md, Hair et al.).

    ``close_pairs`` lists construct pairs that are conceptually close (e.g. ``("SAT",
    "LOY")``); their HTMT is judged against ``htmt_close`` instead of ``htmt``.
    """

    alpha: float = 0.70
    cr_min: float = 0.70
    cr_max: float = 0.95
    ave: float = 0.50
    loading: float = 0.708
    htmt: float = 0.85
    htmt_close: float = 0.90
    close_pairs: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for name in ("alpha", "cr_min", "cr_max", "ave", "loading", "htmt", "htmt_close"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise ConfigError(
                    f"ValidityThresholds.{name}: expected a number in (0, 1], got {value!r}"
                )
        if self.cr_min >= self.cr_max:
            raise ConfigError(
                f"ValidityThresholds: expected cr_min < cr_max, got {self.cr_min} >= {self.cr_max}"
            )
        for pair in self.close_pairs:
            if len(pair) != 2:
                raise ConfigError(
                    f"ValidityThresholds.close_pairs: expected pairs of construct codes, got {pair!r}"
                )

    def htmt_threshold(self, construct_a: str, construct_b: str) -> float:
        """HTMT cut-off for one pair (order does not matter)."""
        close = {frozenset(pair) for pair in self.close_pairs}
        return self.htmt_close if frozenset((construct_a, construct_b)) in close else self.htmt


@dataclass(frozen=True)
class FornellLarckerResult:
    """Fornell-Larcker criterion.

    ``matrix``: constructs x constructs, sqrt(AVE) on the diagonal, latent correlations
    off it. ``summary``: one row per construct with columns construct, sqrt_ave,
    max_abs_correlation, most_correlated_with, passes.
    """

    matrix: pd.DataFrame
    summary: pd.DataFrame


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{what}: missing column(s) {missing}; available: {list(map(str, frame.columns))}"
        )


def _as_vector(values, name: str) -> np.ndarray:
    vector = np.asarray(values, dtype=float).ravel()
    if vector.size == 0 or not np.all(np.isfinite(vector)):
        raise DataError(f"{name}: expected a non-empty array of finite numbers, got {values!r}")
    return vector


def cronbach_alpha(data: pd.DataFrame, items: list[str], ci: float = 0.95) -> pd.Series:
    """Cronbach's alpha with a Feldt confidence interval, on listwise-complete rows.

    Parameters
    ----------
    data : pandas.DataFrame
        Respondents in rows; numeric (or nullable integer) item columns.
    items : list of str
        At least two item columns of one scale.
    ci : float, default 0.95
        Confidence level of the interval.

    Returns
    -------
    pandas.Series
        alpha, ci_lower, ci_upper, n (complete rows used), n_items.

    Notes
    -----
    Rows with any missing item are dropped first (listwise; R ``use="complete.obs"``).
    With item covariance matrix :math:`C` of :math:`k` items,
    :math:`\\alpha = \\frac{k}{k-1}\\left(1 - \\frac{\\operatorname{tr} C}{\\mathbf 1^\\top C \\mathbf 1}\\right)`
    (``pingouin.cronbach_alpha``). Feldt interval:
    :math:`1 - (1-\\alpha) F_{q}(n-1, (n-1)(k-1))` for :math:`q = (1 \\pm ci)/2`.
    The interval is computed here because pingouin rounds it to three decimals.
    Checked against R ``psych::alpha(x)$total$raw_alpha`` and ``psych::alpha(x)$feldt``.
    """
    _require_columns(data, items, "cronbach_alpha data")
    if len(items) < 2:
        raise DataError(f"cronbach_alpha: expected at least 2 items, got {list(items)}")
    if not 0 < ci < 1:
        raise ConfigError(f"cronbach_alpha: ci expected in (0, 1), got {ci!r}")
    try:
        complete = data[list(items)].astype("float64").dropna(axis=0, how="any")
    except (TypeError, ValueError) as exc:
        raise DataError(f"cronbach_alpha: items {list(items)} must be numeric ({exc})") from None
    n, k = complete.shape
    if n < 2:
        raise DataError(
            f"cronbach_alpha: items {list(items)} have {n} complete row(s); expected at least 2"
        )
    alpha, _ = pingouin.cronbach_alpha(complete, nan_policy="listwise", ci=ci)
    df1, df2 = n - 1, (n - 1) * (k - 1)
    tail = (1 - ci) / 2
    return pd.Series(
        {
            "alpha": float(alpha),
            "ci_lower": float(1 - (1 - alpha) * stats.f.isf(tail, df1, df2)),
            "ci_upper": float(1 - (1 - alpha) * stats.f.isf(1 - tail, df1, df2)),
            "n": n,
            "n_items": k,
        },
        dtype=object,
    )


def _check_standardized(loadings: np.ndarray, name: str) -> None:
    if np.any(np.abs(loadings) > 1):
        raise ConvergenceError(
            f"{name}: standardized loadings must lie in [-1, 1], got {loadings.round(3).tolist()} "
            "(a Heywood case; the solution is not admissible for reporting)"
        )


def composite_reliability(loadings) -> float:
    """Composite reliability (Jöreskog's rho_c) from standardized loadings.

    Parameters
    ----------
    loadings : array-like of float
        Completely standardized loadings (lavaan ``std.all``) of one construct.

    Returns
    -------
    float

    Notes
    -----
    :math:`\\rho_c = (\\sum\\lambda_i)^2 / ((\\sum\\lambda_i)^2 + \\sum(1-\\lambda_i^2))`.
    This is omega of the *standardized* items, so it differs slightly from omega of the
    raw sum score (:func:`mcdonald_omega`). Checked against the same formula evaluated in R
    on ``lavaan::standardizedSolution(fit)`` (semTools has no standardized-loading input).
    """
    lam = _as_vector(loadings, "composite_reliability loadings")
    _check_standardized(lam, "composite_reliability")
    explained = lam.sum() ** 2
    return float(explained / (explained + np.sum(1 - lam**2)))


def average_variance_extracted(loadings) -> float:
    """Average variance extracted (Fornell & Larcker 1981) from standardized loadings.

    Parameters
    ----------
    loadings : array-like of float
        Completely standardized loadings of one construct.

    Returns
    -------
    float

    Notes
    -----
    :math:`AVE = \\frac{1}{k}\\sum\\lambda_i^2`. Checked against the same formula in R on
    ``lavaan::standardizedSolution(fit)``. ``semTools::AVE(fit)`` instead returns
    :math:`\\sum\\lambda_i^2\\phi / \\sum s_{ii}` (raw loadings, observed item variances),
    a variance-weighted variant; on Holzinger-Swineford the two differ by up to .005.
    """
    lam = _as_vector(loadings, "average_variance_extracted loadings")
    _check_standardized(lam, "average_variance_extracted")
    return float(np.mean(lam**2))


def mcdonald_omega(
    loadings, residual_variances, factor_variance: float = 1.0, observed_covariance=None
) -> float:
    """McDonald's omega (total) of a unit-weighted sum score from a congeneric solution.

    Parameters
    ----------
    loadings : array-like of float
        Unstandardized loadings of the construct's items (e.g. CFA ``est``).
    residual_variances : array-like of float
        Residual (unique) variances of the same items, same order.
    factor_variance : float, default 1.0
        Variance of the latent factor (1 under ``std.lv``; estimated under marker scaling).
    observed_covariance : array-like, optional
        k x k observed covariance matrix of the items. If given, the denominator is the
        observed variance of the sum score (semTools default ``obs.var = TRUE``); lavaan's
        sample covariance divides by N, so pass ``data.cov(ddof=0)`` to match it.

    Returns
    -------
    float

    Notes
    -----
    Model-implied: :math:`\\omega = (\\sum\\lambda)^2\\phi / ((\\sum\\lambda)^2\\phi + \\sum\\theta)`,
    checked against ``semTools::compRelSEM(fit, obs.var = FALSE)``. With
    ``observed_covariance`` :math:`S`: :math:`\\omega = (\\sum\\lambda)^2\\phi / \\mathbf 1^\\top S
    \\mathbf 1`, checked against ``semTools::compRelSEM(fit)`` (.612/.885/.686 on HS).
    """
    lam = _as_vector(loadings, "mcdonald_omega loadings")
    theta = _as_vector(residual_variances, "mcdonald_omega residual_variances")
    if lam.size != theta.size:
        raise DataError(
            f"mcdonald_omega: got {lam.size} loadings but {theta.size} residual variances"
        )
    if not np.isfinite(factor_variance) or factor_variance <= 0:
        raise DataError(f"mcdonald_omega: factor_variance must be > 0, got {factor_variance!r}")
    true_variance = lam.sum() ** 2 * factor_variance
    if observed_covariance is None:
        return float(true_variance / (true_variance + theta.sum()))
    cov = np.asarray(observed_covariance, dtype=float)
    if cov.shape != (lam.size, lam.size):
        raise DataError(
            f"mcdonald_omega: observed_covariance expected shape {(lam.size, lam.size)}, "
            f"got {cov.shape}"
        )
    return float(true_variance / cov.sum())


def _check_blocks(data: pd.DataFrame, blocks: Mapping[str, list[str]], what: str) -> None:
    if not blocks:
        raise DataError(f"{what}: expected at least one block of items, got none")
    _require_columns(data, [i for items in blocks.values() for i in items], f"{what} data")


def htmt(
    data: pd.DataFrame,
    blocks: Mapping[str, list[str]],
    mean: str = "geometric",
    absolute: bool = True,
) -> pd.DataFrame:
    """Heterotrait-monotrait ratio of correlations (construct x construct).

    Parameters
    ----------
    data : pandas.DataFrame
        Item responses; rows with any missing item of any block are dropped (listwise).
    blocks : dict of str -> list of str
        Construct code -> its items (at least two items for a defined ratio).
    mean : {"geometric", "arithmetic"}, default "geometric"
        ``"geometric"`` is HTMT2 (Roemer, Schuberth & Henseler 2021), the default of
        ``semTools::htmt`` since 0.5-6; ``"arithmetic"`` is the original HTMT of
        Henseler, Ringle & Sarstedt (2015).
    absolute : bool, default True
        Use absolute correlations (as semTools). Must be True for the geometric mean.

    Returns
    -------
    pandas.DataFrame
        Symmetric, ones on the diagonal; NaN for constructs with a single item.

    Notes
    -----
    :math:`HTMT_{ij} = \\bar r_{ij} / \\sqrt{\\bar r_{ii}\\bar r_{jj}}`, where
    :math:`\\bar r_{ij}` is the mean of the Pearson correlations between items of *i* and
    items of *j* and :math:`\\bar r_{ii}` the mean of the off-diagonal correlations within
    *i*. Checked against ``semTools::htmt(model, data)`` (and ``htmt2 = FALSE``).
    """
    if mean not in _HTMT_MEANS:
        raise ConfigError(f"htmt: mean expected one of {list(_HTMT_MEANS)}, got {mean!r}")
    if mean == "geometric" and not absolute:
        raise ConfigError("htmt: the geometric mean needs absolute=True (log of a negative r)")
    _check_blocks(data, blocks, "htmt")
    items = list(dict.fromkeys(i for block in blocks.values() for i in block))
    corr = data[items].astype("float64").dropna(axis=0, how="any").corr().to_numpy()
    if absolute:
        corr = np.abs(corr)
    position = {item: idx for idx, item in enumerate(items)}

    def average(values: np.ndarray) -> float:
        if values.size == 0:
            return np.nan
        with np.errstate(divide="ignore"):
            return float(np.exp(np.mean(np.log(values)))) if mean == "geometric" else float(values.mean())

    def block_values(a: str, b: str) -> np.ndarray:
        rows = [position[i] for i in blocks[a]]
        cols = [position[i] for i in blocks[b]]
        sub = corr[np.ix_(rows, cols)]
        return sub[~np.eye(len(rows), dtype=bool)] if a == b else sub.ravel()

    names = list(blocks)
    within = {name: average(block_values(name, name)) for name in names}
    result = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for a, b in combinations(names, 2):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = average(block_values(a, b)) / np.sqrt(within[a] * within[b])
        result.loc[a, b] = result.loc[b, a] = ratio
    return result


def fornell_larcker(ave: pd.Series, latent_correlations: pd.DataFrame) -> FornellLarckerResult:
    """Fornell-Larcker criterion: sqrt(AVE) of each construct above its latent correlations.

    Parameters
    ----------
    ave : pandas.Series
        AVE indexed by construct code.
    latent_correlations : pandas.DataFrame
        Square latent correlation matrix (e.g. lavaan ``cor.lv``) labelled by construct.

    Returns
    -------
    FornellLarckerResult

    Notes
    -----
    Construct *i* passes when :math:`\\sqrt{AVE_i} > \\max_{j \\ne i} |\\phi_{ij}|`
    (Fornell & Larcker 1981). Inputs were taken from ``semTools::AVE`` / lavaan
    ``lavInspect(fit, "cor.lv")`` in the tests.
    """
    constructs = list(ave.index)
    missing = [c for c in constructs if c not in latent_correlations.index
               or c not in latent_correlations.columns]
    if missing:
        raise DataError(
            f"fornell_larcker latent_correlations: missing construct(s) {missing}; "
            f"available: {list(latent_correlations.columns)}"
        )
    sqrt_ave = np.sqrt(ave.astype(float))
    matrix = latent_correlations.loc[constructs, constructs].astype(float).copy()
    np.fill_diagonal(matrix.values, sqrt_ave.to_numpy())
    rows = []
    for construct in constructs:
        others = matrix.loc[construct].drop(construct).abs()
        partner = others.idxmax() if len(others) else None
        largest = float(others.max()) if len(others) else np.nan
        rows.append({
            "construct": construct,
            "sqrt_ave": float(sqrt_ave[construct]),
            "max_abs_correlation": largest,
            "most_correlated_with": partner,
            "passes": bool(len(others) == 0 or sqrt_ave[construct] > largest),
        })
    return FornellLarckerResult(matrix=matrix, summary=pd.DataFrame(rows))


def loadings_from_estimates(estimates: pd.DataFrame) -> pd.DataFrame:
    """Standardized loadings (construct, item, std_all) from a lavaan-style estimates table."""
    _require_columns(estimates, ("lhs", "op", "rhs", "std_all"), "estimates")
    rows = estimates.loc[estimates["op"] == "=~", ["lhs", "rhs", "std_all"]]
    return rows.rename(columns={"lhs": "construct", "rhs": "item"}).reset_index(drop=True)


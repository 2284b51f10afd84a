"""Response-pattern careless-response indices (R package ``careless`` style).

One function per index read from a respondent's own answer pattern: instructed-response
failures, longstring (overall and per block), even-odd consistency and intra-individual
response variability. Every function takes the responses table first and returns a
Series or a tidy DataFrame indexed like ``data``. Answers are read as floats with NaN
for a missing answer, so the pandas nullable ``Int8`` columns of the simulated survey
table work as they are. Indices that compare a respondent with the sample (speeding,
Mahalanobis distance) live in :mod:`analysis.screening.outliers`; the screening rules
that combine all indices live in :mod:`analysis.screening.rules`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.errors import ConfigError, DataError

__all__ = [
    "instructed_response_failures",
    "longstring",
    "longstring_by_block",
    "even_odd_consistency",
    "intra_individual_response_variability",
]

_SHOWN = 8  # how many offending names/rows an error message lists


def _listing(values: Sequence[object]) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:_SHOWN])
    more = len(values) - _SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _require_columns(data: pd.DataFrame, columns: Sequence[str], purpose: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"{purpose}: expected a pandas DataFrame of responses, "
                        f"got {type(data).__name__}")
    missing = [c for c in dict.fromkeys(columns) if c not in data.columns]
    if missing:
        raise DataError(f"{purpose}: the data lacks column(s) {_listing(missing)}; "
                        f"it has {len(data.columns)} columns: {_listing(list(data.columns))}")


def _answers(data: pd.DataFrame, items: Sequence[str], purpose: str) -> np.ndarray:
    """Return ``data[items]`` as a float matrix with NaN for missing answers."""
    items = list(items)
    if not items:
        raise ConfigError(f"{purpose}: expected at least one item column, got none")
    _require_columns(data, items, purpose)
    selected = data[items]
    if all(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
           for dtype in selected.dtypes):  # already numbers: nothing to check cell by cell
        return selected.to_numpy(dtype=float, na_value=np.nan)
    matrix = np.empty((len(data), len(items)), dtype=float)
    for position, item in enumerate(items):
        column = data[item]
        numeric = pd.to_numeric(column, errors="coerce")
        bad = numeric.isna() & column.notna()
        if bad.any():
            rows = list(column.index[bad])
            raise DataError(f"{purpose}: column {item!r} must hold numbers; rows "
                            f"{_listing(rows)} hold {_listing(list(column[bad].unique()))}")
        matrix[:, position] = numeric.to_numpy(dtype=float, na_value=np.nan)
    return matrix


def instructed_response_failures(data: pd.DataFrame,
                                 attention_checks: Mapping[str, int]) -> pd.Series:
    """Count failed instructed-response (attention-check) items per respondent.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent, one column per item.
    attention_checks : mapping of str to int
        Item id -> the answer the item instructs respondents to give.

    Returns
    -------
    pandas.Series
        ``instructed_response_failures`` (int), indexed like ``data``.

    Notes
    -----
    failures_i = sum_k [x_ik != expected_k or x_ik missing]. A missing answer counts as a
    failure: the item was shown and the instruction was not followed (Meade & Craig 2012).
    """
    purpose = "instructed_response_failures"
    if not attention_checks:
        raise ConfigError(f"{purpose}: expected at least one attention-check item, got none")
    items = list(attention_checks)
    answers = _answers(data, items, purpose)
    expected = np.array([float(attention_checks[i]) for i in items])
    failed = np.isnan(answers) | (answers != expected)
    return pd.Series(failed.sum(axis=1).astype(int), index=data.index,
                     name="instructed_response_failures")


def _longest_runs(answers: np.ndarray) -> np.ndarray:
    n_rows, n_items = answers.shape
    longest = np.ones(n_rows, dtype=int)
    current = np.ones(n_rows, dtype=int)
    for k in range(1, n_items):
        # NaN != NaN, so a missing answer always ends a run (as R's rle() does)
        same = answers[:, k] == answers[:, k - 1]
        current = np.where(same, current + 1, 1)
        np.maximum(longest, current, out=longest)
    return longest


def longstring(data: pd.DataFrame, items: Sequence[str]) -> pd.Series:
    """Longest run of identical consecutive answers per respondent.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent.
    items : sequence of str
        Item columns in the order respondents saw them.

    Returns
    -------
    pandas.Series
        ``longstring`` (int), indexed like ``data``.

    Notes
    -----
    longstring_i = max over runs of the run length of equal consecutive answers. A missing
    answer breaks a run and is a run of length 1 itself, so an all-missing row scores 1.
    Checked against ``careless::longstring(x)`` = ``max(rle(row)$lengths)`` in
    tests/reference/careless_reference.R.
    """
    answers = _answers(data, items, "longstring")
    return pd.Series(_longest_runs(answers), index=data.index, name="longstring")


def longstring_by_block(data: pd.DataFrame, blocks: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Longest identical run within each block (questionnaire page).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent.
    blocks : mapping of str to sequence of str
        Block id -> item columns of that block, in display order.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``data``: one column ``longstring_<block>`` per block, then
        ``max_block_ratio`` (largest run / block length over blocks), ``max_block``
        (block attaining it, first on ties), ``max_block_run`` and ``max_block_items``.

    Notes
    -----
    Runs are computed as in :func:`longstring`, separately inside each block, so a run
    never crosses a page boundary here.
    """
    if not blocks:
        raise ConfigError("longstring_by_block: expected at least one block, got none")
    names = list(blocks)
    sizes = np.array([len(blocks[b]) for b in names])
    runs = np.column_stack([
        _longest_runs(_answers(data, list(blocks[b]), f"longstring_by_block (block {b!r})"))
        for b in names])
    ratios = runs / sizes
    best = ratios.argmax(axis=1)
    rows = np.arange(len(data))
    result = pd.DataFrame(runs, index=data.index, columns=[f"longstring_{b}" for b in names])
    result["max_block_ratio"] = ratios[rows, best]
    result["max_block"] = np.array(names, dtype=object)[best]
    result["max_block_run"] = runs[rows, best]
    result["max_block_items"] = sizes[best]
    return result


def even_odd_consistency(data: pd.DataFrame,
                         scales: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Even-odd (split-half) consistency of each respondent across scales.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent.
    scales : mapping of str to sequence of str
        Scale (construct) -> its items in order, already keyed in the same direction
        (recode reverse-keyed items first). At least two scales.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``data``: ``even_odd`` (Spearman-Brown corrected, floored at -1),
        ``even_odd_raw`` (uncorrected r) and ``even_odd_pairs`` (scales with both halves
        answered). NaN when fewer than two pairs are available or either half-score
        vector has zero variance (e.g. a straight-liner).

    Notes
    -----
    For respondent i and scale j, o_ij = mean of the 1st, 3rd, ... items and e_ij = mean
    of the 2nd, 4th, ... items (missing answers skipped). r_i = cor_j(e_ij, o_ij) over
    scales with both halves present, and even_odd_i = 2 r_i / (1 + r_i), floored at -1.
    High values mean consistent answering (Johnson 2005); ``careless::evenodd(x,
    factors, diag = TRUE)`` returns the negated coefficient and ``even_odd_pairs`` as its
    diagnostic column. Checked against that definition in
    tests/reference/careless_reference.R.
    """
    purpose = "even_odd_consistency"
    if len(scales) < 2:
        raise ConfigError(f"{purpose}: needs at least two scales, got {len(scales)} "
                          f"({_listing(list(scales))})")
    even_means, odd_means = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing half -> NaN
        for name, items in scales.items():
            answers = _answers(data, list(items), f"{purpose} (scale {name!r})")
            odd_means.append(np.nanmean(answers[:, 0::2], axis=1))
            even_means.append(np.nanmean(answers[:, 1::2], axis=1) if answers.shape[1] > 1
                              else np.full(len(data), np.nan))
    even, odd = np.column_stack(even_means), np.column_stack(odd_means)
    both = ~np.isnan(even) & ~np.isnan(odd)
    pairs = both.sum(axis=1)
    count = np.maximum(pairs, 1)
    even_c = np.where(both, even - np.where(both, even, 0).sum(axis=1, keepdims=True)
                      / count[:, None], 0.0)
    odd_c = np.where(both, odd - np.where(both, odd, 0).sum(axis=1, keepdims=True)
                     / count[:, None], 0.0)
    sxy = (even_c * odd_c).sum(axis=1)
    sxx, syy = (even_c ** 2).sum(axis=1), (odd_c ** 2).sum(axis=1)
    defined = (pairs >= 2) & (sxx > 0) & (syy > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(defined, np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0), np.nan)
        corrected = np.where(raw <= -1.0, -1.0, 2 * raw / (1 + raw))
    corrected = np.where(np.isnan(raw), np.nan, np.maximum(corrected, -1.0))
    return pd.DataFrame({"even_odd": corrected, "even_odd_raw": raw,
                         "even_odd_pairs": pairs}, index=data.index)


def intra_individual_response_variability(data: pd.DataFrame, items: Sequence[str],
                                          num_split: int | None = None,
                                          ) -> pd.Series | pd.DataFrame:
    """Intra-individual response variability (IRV): the SD of a respondent's answers.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent.
    items : sequence of str
        Item columns in questionnaire order.
    num_split : int, optional
        Also compute the IRV within this many consecutive chunks of the items.

    Returns
    -------
    pandas.Series or pandas.DataFrame
        Series ``irv`` indexed like ``data``; with ``num_split`` a DataFrame with ``irv``
        and ``irv_1`` ... ``irv_<num_split>``.

    Notes
    -----
    irv_i = sqrt(sum_k (x_ik - mean_i)^2 / (n_i - 1)) over the n_i answered items (NaN if
    n_i < 2). Near 0 suggests straight-lining, very high values random answering (Dunn et
    al. 2018). Chunks follow R ``cut(seq_along(items), num_split)`` (equal-width,
    right-closed). Checked against ``careless::irv(x)`` = ``apply(x, 1, sd, na.rm = TRUE)``
    and its ``split = TRUE`` variant in tests/reference/careless_reference.R.
    """
    purpose = "intra_individual_response_variability"
    answers = _answers(data, items, purpose)

    def sd(block: np.ndarray) -> np.ndarray:
        answered = (~np.isnan(block)).sum(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # fewer than 2 answers -> NaN
            values = np.nanstd(block, axis=1, ddof=1)
        return np.where(answered >= 2, values, np.nan)

    total = pd.Series(sd(answers), index=data.index, name="irv")
    if num_split is None:
        return total
    n_items = answers.shape[1]
    if isinstance(num_split, bool) or not isinstance(num_split, (int, np.integer)) \
            or not 1 <= num_split <= n_items:
        raise ConfigError(f"{purpose}: num_split must be an integer from 1 to {n_items}, "
                          f"got {num_split!r}")
    positions = np.arange(1, n_items + 1, dtype=float)
    breaks = np.linspace(1.0, float(n_items), num_split + 1)
    spread = (n_items - 1) / 1000.0
    breaks[0], breaks[-1] = breaks[0] - spread, breaks[-1] + spread
    chunk = np.clip(np.searchsorted(breaks, positions, side="left") - 1, 0, num_split - 1)
    result = total.to_frame()
    for k in range(num_split):
        result[f"irv_{k + 1}"] = sd(answers[:, chunk == k])
    return result

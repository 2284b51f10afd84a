"""Data for the SEM engine: validation, groups, missing-data patterns, sample moments.

Every group is stored as a list of *missingness patterns*. Complete data (or listwise
deletion) is the special case of a single pattern with every variable observed, so the
ML and FIML objectives share one code path (see :mod:`.fiml`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.errors import DataError, ModelError, check_choice

__all__ = ["MIN_ROWS", "GroupData", "Pattern", "PatternBatch", "prepare_groups"]

MIN_ROWS = 10


@dataclass
class Pattern:
    """Rows of one group sharing the same observed variables.

    ``index`` are the positions (in the model's observed-variable order) observed in
    this pattern; ``mean`` and ``cov`` (divisor n) are the pattern's own sample moments;
    ``rows`` index the group's ``raw`` array.
    """

    index: np.ndarray
    n: int
    mean: np.ndarray
    cov: np.ndarray
    rows: np.ndarray


@dataclass
class PatternBatch:
    """All patterns of a group with the same number of observed variables, stacked.

    ``observed`` (k x p_o) and ``missing`` (k x p_m) are index arrays; ``n`` (k),
    ``mean`` (k x p_o) and ``cov`` (k x p_o x p_o) the patterns' sizes and moments.
    Stacking lets numpy invert all k sub-matrices in one call.
    """

    observed: np.ndarray
    missing: np.ndarray
    n: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    row_values: np.ndarray
    row_pattern: np.ndarray

    @property
    def casewise(self) -> bool:
        """Whether per-row terms are cheaper than per-pattern moments (few rows per pattern)."""
        return len(self.row_pattern) < len(self.n) * self.observed.shape[1]


def _batches(patterns: list[Pattern], raw: np.ndarray) -> list[PatternBatch]:
    p = raw.shape[1]
    sizes = sorted({len(pt.index) for pt in patterns})
    out = []
    for size in sizes:
        chosen = [pt for pt in patterns if len(pt.index) == size]
        k = len(chosen)
        observed = np.array([pt.index for pt in chosen], dtype=int).reshape(k, size)
        missing = np.array([np.setdiff1d(np.arange(p), pt.index) for pt in chosen], dtype=int)
        values = np.vstack([raw[np.ix_(pt.rows, pt.index)] for pt in chosen]).reshape(-1, size)
        which = np.concatenate([np.full(pt.n, j) for j, pt in enumerate(chosen)])
        out.append(PatternBatch(observed, missing.reshape(k, p - size),
                                np.array([pt.n for pt in chosen], dtype=float),
                                np.array([pt.mean for pt in chosen]).reshape(k, size),
                                np.array([pt.cov for pt in chosen]).reshape(k, size, size),
                                values, which))
    return out


@dataclass
class GroupData:
    """One group's data. ``mean``/``cov`` are the saturated (h1) moments: the sample
    moments for complete data, the EM estimates under FIML (filled in by the engine)."""

    label: str
    raw: np.ndarray
    patterns: list[Pattern]
    mean: np.ndarray
    cov: np.ndarray
    complete: bool
    n_dropped: int = 0
    notes: list[str] = field(default_factory=list)
    batches: list[PatternBatch] = field(default_factory=list)

    def __post_init__(self):
        if not self.batches:
            self.batches = _batches(self.patterns, self.raw)

    @property
    def n(self) -> int:
        return int(self.raw.shape[0])


def _numeric(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    selected = frame[columns]
    if all(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
           for dtype in selected.dtypes):
        return selected.to_numpy(dtype=float, na_value=np.nan)
    out = np.empty((len(frame), len(columns)))
    for k, column in enumerate(columns):
        series = frame[column]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
            coerced = pd.to_numeric(series, errors="coerce")
            bad = series[coerced.isna() & series.notna()]
            example = f"; first non-numeric value {bad.iloc[0]!r} at row {bad.index[0]}" if len(bad) else ""
            raise DataError(f"column {column!r} must be numeric, got dtype {series.dtype}{example}")
        out[:, k] = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return out


def _patterns(raw: np.ndarray) -> list[Pattern]:
    observed = ~np.isnan(raw)
    if observed.all():  # complete data: one pattern, no need to group rows
        mean = raw.mean(axis=0)
        centred = raw - mean
        return [Pattern(np.arange(raw.shape[1]), raw.shape[0], mean, centred.T @ centred / raw.shape[0],
                        np.arange(raw.shape[0]))]
    keys, inverse = np.unique(observed, axis=0, return_inverse=True)
    patterns = []
    for k, key in enumerate(keys):
        rows = np.flatnonzero(inverse.ravel() == k)
        index = np.flatnonzero(key)
        block = raw[np.ix_(rows, index)]
        mean = block.mean(axis=0)
        centred = block - mean
        patterns.append(Pattern(index, len(rows), mean, centred.T @ centred / len(rows), rows))
    return patterns


def prepare_groups(data: pd.DataFrame, observed: list[str], *, group: str | None = None,
                   missing: str = "listwise", exogenous: tuple[str, ...] = ()) -> list[GroupData]:
    """Split ``data`` into groups of numeric arrays over the model's observed variables.

    Parameters
    ----------
    data : DataFrame
        Raw data; extra columns are ignored.
    observed : list of str
        Observed variables in the model's order.
    group : str, optional
        Grouping column; groups are ordered by first appearance (as lavaan).
    missing : {"listwise", "fiml"}
        Listwise deletion, or keep every row with at least one observed value. Under
        FIML rows missing an exogenous covariate are dropped (lavaan ``missing = "ml"``).
    exogenous : tuple of str
        Fixed-x covariates.
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    check_choice("missing", missing, ("listwise", "fiml"))
    absent = [v for v in observed if v not in data.columns]
    if absent:
        raise ModelError(f"the model uses variables that are neither latent nor columns of the data: "
                         f"{', '.join(absent)}; available columns: {', '.join(map(str, data.columns))}")
    if group is not None:
        if group not in data.columns:
            raise DataError(f"group: column {group!r} not in the data; available: "
                            f"{', '.join(map(str, data.columns))}")
        if group in observed:
            raise ModelError(f"group column {group!r} is also a variable of the model")
        keep = data[group].notna()
        no_group = int((~keep).sum())
        labels = list(pd.unique(data.loc[keep, group]))
        if len(labels) < 2:
            raise DataError(f"group column {group!r} has {len(labels)} distinct value(s); need at least 2")
        frames = [(str(lab), data.loc[keep & (data[group] == lab)]) for lab in labels]
    else:
        frames, no_group = [("all", data)], 0
    x_index = [observed.index(v) for v in exogenous]
    groups = []
    for label, frame in frames:
        raw = _numeric(frame, observed)
        where = f"group {label!r}: " if group is not None else ""
        present = ~np.isnan(raw)
        if missing == "listwise":
            keep_rows = present.all(axis=1)
        else:
            nox = [k for k in range(len(observed)) if k not in x_index]
            keep_rows = present[:, nox].any(axis=1) & present[:, x_index].all(axis=1)
        dropped = int((~keep_rows).sum())
        raw = raw[keep_rows]
        if raw.shape[0] < MIN_ROWS:
            raise DataError(f"{where}only {raw.shape[0]} usable rows for {len(observed)} model variables "
                            f"({dropped} rows dropped for missing values); need at least {MIN_ROWS}")
        patterns = _patterns(raw)
        complete = len(patterns) == 1 and len(patterns[0].index) == len(observed)
        counts = (~np.isnan(raw)).sum(axis=0)
        empty = [v for v, c in zip(observed, counts) if c < 2]
        if empty:
            raise DataError(f"{where}variables with fewer than 2 observed values: {', '.join(empty)}")
        variances = np.nanvar(raw, axis=0)
        constant = [v for v, s in zip(observed, variances) if not s > 0]
        if constant:
            raise DataError(f"{where}columns with zero variance cannot be modelled: {', '.join(constant)}")
        if complete:
            mean, cov = patterns[0].mean, patterns[0].cov
            if raw.shape[0] <= len(observed):  # the counts first: the usual cause in a small survey
                raise DataError(f"{where}only {raw.shape[0]} complete rows for {len(observed)} model variables "
                                f"({dropped} rows dropped for missing values): the sample covariance matrix is "
                                "singular; maximum likelihood needs more complete rows than variables")
            if np.linalg.eigvalsh(cov / np.sqrt(np.outer(variances, variances))).min() < 1e-10:
                raise DataError(f"{where}the sample covariance matrix of the {len(observed)} model variables is "
                                f"singular: collinear columns among {', '.join(observed[:8])}"
                                f"{' ...' if len(observed) > 8 else ''}")
        else:
            mean, cov = np.nanmean(raw, axis=0), np.diag(variances)
        notes = []
        if dropped:
            notes.append(f"{where}{dropped} row(s) dropped ("
                         + ("missing values, listwise deletion)" if missing == "listwise"
                            else "no observed value, or a missing exogenous covariate)"))
        groups.append(GroupData(label, raw, patterns, mean, cov, complete, dropped, notes))
    if no_group:
        groups[0].notes.insert(0, f"{no_group} row(s) with a missing value in group column {group!r} dropped")
    return groups

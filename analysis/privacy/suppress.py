"""Small-cell suppression (k-anonymity of published tables) with complementary suppression.

A group or cell based on fewer than ``k`` people (``privacy.min_cell_size``, default 5)
is not published: its count and every statistic computed from it become empty (NaN in
the CSV, a dash in the report, explained in the table's note). Published totals could
give a suppressed count back by subtraction, so when exactly one cell of a partition
(a row of a cross-table, the groups of one grouping) is suppressed, the next smallest
cell of that partition is suppressed as well (*complementary suppression*, as in
Hundepool et al., *Statistical Disclosure Control*, 2012, ch. 4). Zero counts reveal
nobody and stay.

Every function returns a new table (the input is never modified) whose
``attrs["suppressed"]`` counts the suppressed cells and ``attrs["min_cell_size"]``
holds ``k``; :func:`suppressed_cells` reads them back for the table's note.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from analysis.errors import ConfigError

__all__ = ["DEFAULT_MIN_CELL_SIZE", "check_k", "suppress_groups", "suppress_counts", "suppress_label_counts",
           "suppressed_cells"]

DEFAULT_MIN_CELL_SIZE = 5


def check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= 100:
        raise ConfigError(f"privacy.min_cell_size: expected an integer between 1 and 100, got {k!r}")
    return int(k)


def _small(counts: np.ndarray, k: int) -> np.ndarray:
    return (counts > 0) & (counts < k)


def _complement(hidden: np.ndarray, counts: np.ndarray, partitions: Iterable[np.ndarray]) -> np.ndarray:
    """Add the next smallest cell to every partition holding exactly one suppressed cell."""
    hidden = hidden.copy()
    changed = True
    while changed:  # a complement may leave another partition with a single hidden cell
        changed = False
        for rows in partitions:
            if len(rows) < 2 or hidden[rows].sum() != 1:
                continue
            candidates = [r for r in rows if not hidden[r] and counts[r] > 0]
            if not candidates:
                continue
            pick = min(candidates, key=lambda r: (counts[r], r))
            hidden[pick] = True
            changed = True
    return hidden


def _finish(out: pd.DataFrame, k: int, n: int) -> pd.DataFrame:
    out.attrs = {**out.attrs, "suppressed": int(out.attrs.get("suppressed", 0)) + int(n), "min_cell_size": k}
    return out


def suppress_groups(table: pd.DataFrame, size: str, k: int, *, values: Sequence[str] = (),
                    within: Sequence[str] = (), inner: Sequence[str] = (), complement: bool = True) -> pd.DataFrame:
    """Suppress rows (groups) of fewer than ``k`` members, and inner counts that reveal a few.

    Parameters
    ----------
    table : DataFrame
        One row per group; ``size`` holds the group's number of people.
    values : columns
        Statistics of the group (rates, means, intervals): emptied with the group.
    within : columns
        Partition the rows (e.g. ``grouping`` and ``window`` of a repeat-rate table): the
        groups of one partition add up to a published total, so complementary
        suppression works inside each partition.
    inner : columns
        Counts inside a group (e.g. ``n_repeat``): when they or their complement
        (``size - count``) are between 1 and k - 1, that count and ``values`` are emptied
        while the group size stays.
    """
    k = check_k(k)
    out = table.copy()
    counts = pd.to_numeric(out[size], errors="coerce").fillna(0).to_numpy(float)
    hidden = _small(counts, k)
    if complement:
        keys = out[list(within)].astype(str).agg("|".join, axis=1) if within else pd.Series("", index=out.index)
        parts = [np.flatnonzero((keys == key).to_numpy()) for key in dict.fromkeys(keys)]
        hidden = _complement(hidden, counts, parts)
    inner_hidden = np.zeros(len(out), dtype=bool)
    for column in inner:
        inside = pd.to_numeric(out[column], errors="coerce").fillna(0).to_numpy(float)
        inner_hidden |= _small(inside, k) | _small(counts - inside, k)
    inner_hidden &= ~hidden
    value_columns = [c for c in values if c in out.columns]
    n = 0
    if hidden.any():
        columns = [size, *inner, *value_columns]
        out[columns] = out[columns].astype(float)
        out.loc[hidden, columns] = np.nan
        n += int(hidden.sum()) * len(columns)
    if inner_hidden.any():
        columns = [*inner, *value_columns]
        out[columns] = out[columns].astype(float)
        out.loc[inner_hidden, columns] = np.nan
        n += int(inner_hidden.sum()) * len(columns)
    return _finish(out, k, n)


def suppress_counts(table: pd.DataFrame, columns: Sequence[str], k: int, *, complement: bool = True,
                    by_row: bool = True, by_column: bool = True) -> pd.DataFrame:
    """Suppress count cells 1..k-1 of a cross-table (``columns`` hold counts).

    Complementary suppression runs over every row (the row total is known) and every
    column (the column total is known) that holds exactly one suppressed cell, until no
    such row or column is left.
    """
    k = check_k(k)
    out = table.copy()
    columns = [c for c in columns if c in out.columns]
    if not columns or out.empty:
        return _finish(out, k, 0)
    matrix = out[columns].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy(float)
    shape = matrix.shape
    flat = matrix.ravel()
    hidden = _small(flat, k)
    if complement:
        index = np.arange(flat.size).reshape(shape)
        parts = ([index[r] for r in range(shape[0])] if by_row else []) + \
                ([index[:, c] for c in range(shape[1])] if by_column else [])
        hidden = _complement(hidden, flat, parts)
    hidden = hidden.reshape(shape)
    if hidden.any():
        out[columns] = out[columns].astype(float)
        for j, column in enumerate(columns):
            out.loc[hidden[:, j], column] = np.nan
    return _finish(out, k, int(hidden.sum()))


def suppress_label_counts(counts: pd.Series, k: int) -> tuple[dict, int]:
    """Group label -> published size: ``"n<k"`` text for groups of 1..k-1, else the count.

    For tables that state group sizes in words (the measurement-invariance groups).
    """
    k = check_k(k)
    shown, n = {}, 0
    for label, value in counts.items():
        if 0 < int(value) < k:
            shown[label], n = f"<{k}", n + 1
        else:
            shown[label] = int(value)
    return shown, n


def suppressed_cells(table: pd.DataFrame) -> int:
    """How many cells of ``table`` were suppressed (0 for a table never passed through here)."""
    attrs = getattr(table, "attrs", {}) or {}
    if "suppressed" in attrs:
        return int(attrs["suppressed"])
    if "suppressed" in getattr(table, "columns", ()):  # segment tables mark each row
        return int(pd.Series(table["suppressed"]).fillna(False).astype(bool).sum())
    return 0


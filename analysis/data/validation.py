"""The validation report: every problem found while ingesting a survey export, not just the first.

:class:`ValidationLog` collects one row per problem - file, row (the line or sheet row a
user finds it on), column, value (shortened, e-mail addresses and phone numbers masked),
a problem code and what was expected - while :func:`analysis.data.ingest.validate_responses`
reads the cells in collecting mode. Non-fatal problems (an answer that is no scale point, a
repeated respondent id, an empty row, an unreadable duration) make that cell missing or
that row excluded and are listed here; fatal ones (no item columns, an unreadable file)
still raise one :class:`~analysis.errors.DataError`. :func:`summarise` groups the rows for
the report's "Data validation" section.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import astuple, dataclass
from typing import Any

import pandas as pd

__all__ = ["COLUMNS", "PROBLEMS", "Problem", "ValidationLog", "shown_value", "summarise"]

#: Columns of ``tables/validation_report.csv``.
COLUMNS = ("file", "row", "column", "value", "problem", "expected")
#: Problem codes (their reader-facing names are ``validation.problem.<code>`` in the catalog).
PROBLEMS = ("not_a_scale_point", "not_whole", "out_of_range", "duplicate_id", "missing_id",
            "empty_row", "bad_duration", "preview")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d\s()-]{7,}\d")
_LIMIT = 60


def shown_value(value: Any, limit: int = _LIMIT) -> str:
    """A cell as the report may show it: at most ``limit`` characters, contact details masked."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = _PHONE.sub("<phone>", _EMAIL.sub("<e-mail>", str(value)))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Problem:
    """One problem in one cell (or row: ``column`` empty)."""

    file: str
    row: int | None
    column: str
    value: str
    problem: str
    expected: str


class ValidationLog:
    """Problems of one ingested file, in the order found."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def __len__(self) -> int:
        return len(self.problems)

    def add(self, file: str, row: int | None, column: str, value: Any, problem: str,
            expected: str) -> None:
        """Record one problem; ``value`` is shortened and masked here (see :func:`shown_value`)."""
        self.problems.append(Problem(file, row, str(column), shown_value(value), problem, expected))

    def extend(self, file: str, rows: Iterable[int], column: str, values: Iterable[Any],
               problem: str, expected: str) -> None:
        for row, value in zip(rows, values):
            self.add(file, row, column, value, problem, expected)

    def frame(self) -> pd.DataFrame:
        """The report table: one row per problem, columns :data:`COLUMNS`."""
        table = pd.DataFrame([astuple(p) for p in self.problems], columns=list(COLUMNS))
        return table.astype({"row": "Int64"})


def summarise(report: pd.DataFrame, max_rows: int = 3) -> pd.DataFrame:
    """Problems grouped by kind and column: how many cells, the first rows, what was expected."""
    columns = ["problem", "column", "cells", "first_rows", "expected"]
    if report is None or report.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for (problem, column), group in report.groupby(["problem", "column"], sort=False, dropna=False):
        lines = [str(int(r)) for r in group["row"].dropna().head(max_rows)]
        more = ", …" if group["row"].notna().sum() > max_rows else ""
        rows.append((problem, column, len(group), ", ".join(lines) + more, group["expected"].iloc[0]))
    return pd.DataFrame(rows, columns=columns)

"""How one survey table's cells read: missing codes, scale labels in any language, decimal mark.

Used by :func:`analysis.data.ingest.validate_responses`; split out so the rules for a single
cell can be read (and tested) apart from the table-level checks.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from analysis.data.readers import clip
from analysis.errors import DataError
from analysis.instrument.model import Instrument

__all__ = ["CellRules"]


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _label_points(instrument: Instrument) -> dict[str, int]:
    """Normalised scale label (any language) -> point; labels ambiguous across languages drop out."""
    points: dict[str, set[int]] = {}
    for anchors in instrument.scale.anchors.values():
        for point, label in anchors.items():
            points.setdefault(_normal(label), set()).add(int(point))
    return {label: next(iter(p)) for label, p in points.items() if len(p) == 1}


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-like cells (e.g. Parquet arrays) are not missing
        return False


class CellRules:
    """How one table's cells read: missing codes, scale labels, decimal mark."""

    def __init__(self, instrument: Instrument, missing_codes: tuple[str, ...], data: pd.DataFrame,
                 recode: dict[str, int] | None = None):
        self.points = instrument.scale.points
        self.labels = _label_points(instrument)
        # The profile's data.recode (answer text -> point) adds to and overrides the anchors.
        for label, point in (recode or {}).items():
            if isinstance(point, bool) or not isinstance(point, (int, np.integer)) or \
                    not 1 <= int(point) <= self.points:
                raise DataError(f"data.recode: {clip(label)}: expected a scale point 1..{self.points}, "
                                f"got {clip(point)}")
            self.labels[_normal(str(label))] = int(point)
        self.recoded = bool(recode)
        self.example_label = instrument.scale.anchors["en"][self.points]
        self.languages = ", ".join(instrument.scale.anchors)
        self.missing_codes = missing_codes
        # Semicolon-separated files come from locales that write 403,5 for 403.5.
        self.decimal_comma = data.attrs.get("source_delimiter") == ";"
        self.missing_text = {_normal(str(code)) for code in missing_codes}
        self.missing_numbers = {n for n in map(self.number, missing_codes) if n is not None}

    def number(self, value: Any) -> float | None:
        if isinstance(value, (bool, np.bool_)):
            return None
        if isinstance(value, (int, float, np.integer, np.floating)):
            return float(value)
        text = str(value).strip()
        if self.decimal_comma and re.fullmatch(r"-?\d+,\d+", text):
            text = text.replace(",", ".")
        try:
            return float(text)  # also full-width digits such as '７'
        except ValueError:
            return None

    def is_missing(self, value: Any) -> bool:
        if _is_missing(value):
            return True
        if isinstance(value, str) and _normal(value) in self.missing_text:
            return True
        return self.number(value) in self.missing_numbers

    def classify(self, value: Any) -> tuple[str, Any]:
        """('missing'|'label'|'number'|'bad', point or (problem code, reason)) for one cell value.

        Problem codes are those of :data:`analysis.data.validation.PROBLEMS`.
        """
        if self.is_missing(value):
            return "missing", None
        if isinstance(value, str) and _normal(value) in self.labels:
            return "label", self.labels[_normal(value)]
        number, points = self.number(value), self.points
        if number is None:
            return "bad", ("not_a_scale_point",
                           f"value {clip(value)} is neither a number in 1..{points} nor a scale label")
        if not number.is_integer():
            return "bad", ("not_whole", f"value {number:g} is not a whole number in 1..{points}")
        if not 1 <= number <= points:
            return "bad", ("out_of_range", f"value {number:g} is outside 1..{points}")
        return "number", int(number)

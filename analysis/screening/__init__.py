"""Careless-response screening: per-respondent indices and the rules that flag or exclude.
"""

from __future__ import annotations

from analysis.screening.indices import (
    even_odd_consistency,
    instructed_response_failures,
    intra_individual_response_variability,
    longstring,
    longstring_by_block,
)
from analysis.screening.outliers import (
    mahalanobis_distance,
    speeding,
)
from analysis.screening.rules import (
    RULES,
    ScreeningResult,
    ScreeningThresholds,
    screen_responses,
)

__all__ = [
    "instructed_response_failures",
    "longstring",
    "longstring_by_block",
    "even_odd_consistency",
    "intra_individual_response_variability",
    "speeding",
    "mahalanobis_distance",
    "RULES",
    "ScreeningThresholds",
    "ScreeningResult",
    "screen_responses",
]

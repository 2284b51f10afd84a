"""Careless-response screening: per-respondent indices and the rules that flag or exclude.
"""

from __future__ import annotations

from analysis.screening.indices import (
    instructed_response_failures,
    longstring,
    longstring_by_block,
    speeding,
    mahalanobis_distance,
    even_odd_consistency,
    intra_individual_response_variability,
)
from analysis.screening.rules import (
    RULES,
    ScreeningThresholds,
    ScreeningResult,
    screen_responses,
)

__all__ = [
    "instructed_response_failures",
    "longstring",
    "longstring_by_block",
    "speeding",
    "mahalanobis_distance",
    "even_odd_consistency",
    "intra_individual_response_variability",
    "RULES",
    "ScreeningThresholds",
    "ScreeningResult",
    "screen_responses",
]

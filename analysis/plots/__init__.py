"""Figures for the report: survey answers, measurement and SEM results, path diagram, behaviour.

Every function returns a matplotlib Figure; :func:`save_figure` writes it atomically.
"""

from __future__ import annotations

from analysis.plots.style import (
    PALETTE,
    BLUE,
    ORANGE,
    GREEN,
    VERMILLION,
    GREY,
    SKY,
    plt,
    styled,
)
from analysis.plots.survey import (
    DEFAULT_FIT_THRESHOLDS,
    save_figure,
    likert_distribution,
    construct_correlation_heatmap,
    screening_summary,
    duration_distribution,
    loadings_plot,
    fit_indices_plot,
    recovery_plot,
    bootstrap_distribution,
    path_diagram,
)
from analysis.plots.diagram import (
    STUDY_LAYOUT,
    layered_layout,
    significance_stars,
)
from analysis.plots.behaviour import (
    cohort_retention_heatmap,
    bgnbd_fit_check,
    clv_distribution,
    retention_curves,
    loyalty_repeat_plot,
    attitude_behaviour_correlations,
    segment_heatmap,
    response_bias_plot,
)

__all__ = [
    "PALETTE",
    "BLUE",
    "ORANGE",
    "GREEN",
    "VERMILLION",
    "GREY",
    "SKY",
    "plt",
    "styled",
    "DEFAULT_FIT_THRESHOLDS",
    "save_figure",
    "likert_distribution",
    "construct_correlation_heatmap",
    "screening_summary",
    "duration_distribution",
    "loadings_plot",
    "fit_indices_plot",
    "recovery_plot",
    "bootstrap_distribution",
    "path_diagram",
    "STUDY_LAYOUT",
    "layered_layout",
    "significance_stars",
    "cohort_retention_heatmap",
    "bgnbd_fit_check",
    "clv_distribution",
    "retention_curves",
    "loyalty_repeat_plot",
    "attitude_behaviour_correlations",
    "segment_heatmap",
    "response_bias_plot",
]

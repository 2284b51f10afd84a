"""Figures for the report: survey answers, measurement and SEM results, path diagram, behaviour.

Every function returns a matplotlib Figure; :func:`save_figure` writes it atomically.
Every figure function takes a keyword-only ``language`` (``en``, ``zh-Hans``, ``zh-Hant``;
the notebook passes ``ctx.language``) and draws its words from the ``plot.*`` entries of
``analysis/i18n/catalog/figures.yaml``, Chinese in the Noto Sans SC/TC fonts installed as
Python packages; figures are at most 7.5 in wide with no text below 9 pt, so they stay
legible at the report's width (:mod:`analysis.plots.style` explains the rule).
"""

from __future__ import annotations

from analysis.plots.behaviour import (
    attitude_behaviour_correlations,
    bgnbd_fit_check,
    clv_distribution,
    cohort_retention_heatmap,
    loyalty_repeat_plot,
    response_bias_plot,
    retention_curves,
    segment_heatmap,
)
from analysis.plots.diagram import (
    path_diagram,
    significance_stars,
)
from analysis.plots.diagram_layout import (
    STUDY_LAYOUT,
    layered_layout,
)
from analysis.plots.sem import (
    DEFAULT_FIT_THRESHOLDS,
    bootstrap_distribution,
    fit_indices_plot,
    loadings_plot,
    recovery_plot,
)
from analysis.plots.style import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    PALETTE,
    SKY,
    VERMILLION,
    styled,
    subplots,
)
from analysis.plots.survey import (
    construct_correlation_heatmap,
    duration_distribution,
    likert_distribution,
    save_figure,
    screening_summary,
)

__all__ = [
    "PALETTE",
    "BLUE",
    "ORANGE",
    "GREEN",
    "VERMILLION",
    "GREY",
    "SKY",
    "styled",
    "subplots",
    "save_figure",
    "likert_distribution",
    "construct_correlation_heatmap",
    "screening_summary",
    "duration_distribution",
    "DEFAULT_FIT_THRESHOLDS",
    "loadings_plot",
    "fit_indices_plot",
    "recovery_plot",
    "bootstrap_distribution",
    "STUDY_LAYOUT",
    "layered_layout",
    "significance_stars",
    "path_diagram",
    "cohort_retention_heatmap",
    "bgnbd_fit_check",
    "clv_distribution",
    "retention_curves",
    "loyalty_repeat_plot",
    "attitude_behaviour_correlations",
    "segment_heatmap",
    "response_bias_plot",
]

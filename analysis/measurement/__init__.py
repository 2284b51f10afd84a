"""Measurement quality: reliability, convergent and discriminant validity, common-method bias.
"""

from __future__ import annotations

from analysis.measurement.method_bias import (
    construct_scores,
    full_collinearity_vif,
    harman_single_factor,
    htmt_bootstrap,
    marker_variable_correction,
)
from analysis.measurement.statistics import (
    FornellLarckerResult,
    ValidityThresholds,
    average_variance_extracted,
    composite_reliability,
    cronbach_alpha,
    fornell_larcker,
    htmt,
    loadings_from_estimates,
    mcdonald_omega,
)
from analysis.measurement.tables import (
    discriminant_validity_table,
    item_loadings_table,
    reliability_table,
)

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
    "reliability_table",
    "discriminant_validity_table",
    "item_loadings_table",
    "construct_scores",
    "full_collinearity_vif",
    "harman_single_factor",
    "htmt_bootstrap",
    "marker_variable_correction",
]

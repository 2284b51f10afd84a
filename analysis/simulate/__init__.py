"""Seeded simulation of e-loyalty survey data with a known ground truth.

``simulate_survey`` draws a survey export from a :class:`GroundTruth` (by default the
DOMAIN.md model from :func:`default_truth`); ``write_simulated_survey`` stores it as
responses.parquet, respondent_truth.parquet and truth.json.
"""

from __future__ import annotations

from analysis.simulate.default_model import (
    default_truth,
    measurement_model_syntax,
    structural_model_syntax,
)
from analysis.simulate.survey import (
    CARELESS_TYPES,
    DEFAULT_CARELESS_MIX,
    SimulatedSurvey,
    read_simulated_survey,
    read_truth,
    simulate_survey,
    write_simulated_survey,
)
from analysis.simulate.truth import GroundTruth

__all__ = [
    "CARELESS_TYPES",
    "DEFAULT_CARELESS_MIX",
    "GroundTruth",
    "SimulatedSurvey",
    "default_truth",
    "measurement_model_syntax",
    "read_simulated_survey",
    "read_truth",
    "simulate_survey",
    "structural_model_syntax",
    "write_simulated_survey",
]

"""Structural equation modelling: semopy estimation with lavaan-comparable reporting."""

from __future__ import annotations

from analysis.sem.admissibility import Problem, admissibility_table, check_admissibility
from analysis.sem.bootstrap import (
    BootstrapResult,
    bias_corrected_interval,
    bootstrap_defined,
    bootstrap_effects,
    percentile_interval,
)
from analysis.sem.effects import (
    LatentStructure,
    effect_matrices,
    specific_indirect_effects,
    structural_effects,
)
from analysis.sem.fit_indices import fit_measures
from analysis.sem.semopy_engine import StructuralEquationModel, latent_structure

__all__ = [
    "StructuralEquationModel",
    "LatentStructure",
    "latent_structure",
    "fit_measures",
    "effect_matrices",
    "structural_effects",
    "specific_indirect_effects",
    "BootstrapResult",
    "bootstrap_effects",
    "percentile_interval",
    "bias_corrected_interval",
    "bootstrap_defined",
    "Problem",
    "check_admissibility",
    "admissibility_table",
]

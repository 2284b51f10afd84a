"""The workbench's own SEM engine: RAM matrices, ML and FIML likelihoods, multigroup models with equality constraints.
"""

from __future__ import annotations

from analysis.sem.engine.estimator import (
    ESTIMATE_COLUMNS,
    SEMEngine,
)

__all__ = [
    "ESTIMATE_COLUMNS",
    "SEMEngine",
]

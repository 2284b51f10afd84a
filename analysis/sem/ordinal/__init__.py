"""Ordinal SEM: polychoric/polyserial correlations and DWLS/WLSMV with robust SEs and the scaled-shifted test.
"""

from __future__ import annotations

from analysis.sem.ordinal.estimator import (
    OrdinalCFA,
)

__all__ = [
    "OrdinalCFA",
]

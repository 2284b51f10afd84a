"""E-Loyalty Workbench: instrument, simulation, screening, SEM and reports.

The package is organised as a one-way pipeline (see README): profile -> instrument ->
data (simulated or ingested) -> screening -> measurement -> structural model ->
notebook -> rendered report. Each stage is a plain function call.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]

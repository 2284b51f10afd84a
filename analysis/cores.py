"""How many processor cores one report run may use: the one place that decides it.

A report built alone may use the whole machine: the bootstrap and the planning
replications run in ``analysis.n_jobs`` processes and figures are written by a helper
process (:mod:`analysis.plots.writer`) while the notebook computes. In a batch of
clients (:mod:`analysis.report.batch`) the clients already fill the cores, so each
report gets one core and runs everything in line, which wastes no time on starting
processes. The report build passes the budget to the notebook's kernel in the
environment variable :data:`REPORT_CORES_ENV`; a notebook run by hand has no budget and
follows the profile. No result depends on the budget: every bootstrap draw and
replication is seeded by its own number, and a figure's PNG is the same bytes whichever
process writes it.
"""

from __future__ import annotations

import os

__all__ = ["REPORT_CORES_ENV", "report_cores", "worker_processes", "background_figures"]

#: Set by the report build in the notebook kernel's environment: the cores this run may use.
REPORT_CORES_ENV = "ELOYALTY_REPORT_CORES"


def report_cores() -> int | None:
    """The core budget of this report run, or None outside a report build (or if unreadable)."""
    value = os.environ.get(REPORT_CORES_ENV, "")
    return int(value) if value.isdigit() and int(value) >= 1 else None


def worker_processes(requested: int) -> int:
    """Processes for parallel work: the profile's ``analysis.n_jobs``, within the budget."""
    budget = report_cores()
    return requested if budget is None else max(1, min(requested, budget))


def background_figures() -> bool:
    """Whether figures are written by a helper process: in a report build with 2+ cores."""
    budget = report_cores()
    return budget is not None and budget >= 2

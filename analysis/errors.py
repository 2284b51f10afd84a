"""The few exception types a user of the workbench can see.

Every error raised for a *user* mistake (bad profile, malformed data file, invalid
model syntax, a model that does not converge) derives from :class:`WorkbenchError`.
The command line prints its message on one line and exits non-zero without a
traceback; anything else is a bug in the workbench and keeps its traceback.

Messages name the file, row/column or key, say what was expected and what was
received, e.g. ``reports/clients/acme.yml: key 'sample_size': expected an integer
>= 50, got 'many'``.
"""

from __future__ import annotations

__all__ = [
    "WorkbenchError",
    "ConfigError",
    "DataError",
    "ModelError",
    "ConvergenceError",
    "RenderError",
]


class WorkbenchError(Exception):
    """Base class for errors caused by user input; shown without a traceback."""

    exit_code = 2


class ConfigError(WorkbenchError):
    """A client profile, instrument file or CLI option is invalid."""


class DataError(WorkbenchError):
    """An input data file is unreadable or does not match the expected schema."""


class ModelError(WorkbenchError):
    """Model syntax is invalid, or refers to variables absent from the data."""


class ConvergenceError(WorkbenchError):
    """The optimiser failed, or the solution is not admissible for reporting."""

    exit_code = 3


class RenderError(WorkbenchError):
    """Executing or rendering the report notebook failed."""

    exit_code = 4

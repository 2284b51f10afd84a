"""The few exception types a user of the workbench can see.

Every error raised for a *user* mistake (bad profile, malformed data file, invalid
model syntax, a model that does not converge) derives from :class:`WorkbenchError`,
which is also a :class:`ValueError` (as in scikit-learn and lifelines), so code that
already catches ``ValueError`` keeps working. The command line prints the message on
one line and exits non-zero without a traceback; anything else is a bug in the
workbench and keeps its traceback.

Which type, by what went wrong (the same on every route through the code):

* :class:`ConfigError` - a profile key, instrument entry or option value (estimator,
  missing-data method, ``group_equal``, confidence level ...) is invalid;
* :class:`DataError` - a data file or table cannot be read or does not fit;
* :class:`ModelError` - model syntax is invalid or names unknown variables;
* :class:`ConvergenceError` - estimation failed or gave no reportable solution;
* :class:`RenderError` - executing or rendering the report failed.

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
    "check_choice",
]


class WorkbenchError(ValueError):
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


def check_choice(name: str, value, allowed, *, error: type[WorkbenchError] = ConfigError):
    """Return ``value`` if it is one of ``allowed``, else raise ``error`` listing the choices.

    The one validator for option values, so every route reports a bad option the same
    way: ``estimator: expected one of 'ML', 'MLR', got 'GLS'``.
    """
    allowed = tuple(allowed)
    if value not in allowed:
        raise error(f"{name}: expected one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
    return value

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

Every message is one line of at most :data:`MESSAGE_LIMIT` characters, whoever raises
it: :class:`WorkbenchError` collapses line breaks and cuts a longer message with an
ellipsis, keeping its start (which names the file or key). Values quoted in a message
go through :func:`shorten` first, so that a 200 kB cell or an expanded YAML alias never
reaches the terminal. Several problems found at once (all of a profile's) travel on
``exc.problems``, the full list, while the message counts them.
"""

from __future__ import annotations

import reprlib

__all__ = [
    "MESSAGE_LIMIT",
    "shorten",
    "one_line",
    "WorkbenchError",
    "ConfigError",
    "DataError",
    "ModelError",
    "ConvergenceError",
    "RenderError",
    "check_choice",
]


#: Longest message a user is shown (characters), the ``error: `` prefix included on the CLI.
MESSAGE_LIMIT = 300
_ELLIPSIS = "\u2026"
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict, _REPR.maxset = 3, 6, 6, 6, 6
_REPR.maxstring, _REPR.maxother = 200, 200


def shorten(value, limit: int = 60) -> str:
    """A bounded ``repr(value)`` on one line, cut to ``limit`` characters with an ellipsis.

    The way to quote a user's value in a message: strings keep their quotes, and a huge
    value is never rendered in full. :mod:`reprlib` bounds the depth and the items shown,
    so a nested YAML alias expansion ("billion laughs") costs nothing to quote.
    """
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()  # 3, not np.int64(3)
    return one_line(_REPR.repr(value), limit)


def one_line(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """``message`` with runs of whitespace (line breaks included) collapsed, cut to ``limit``."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + _ELLIPSIS


class WorkbenchError(ValueError):
    """Base class for errors caused by user input; shown without a traceback.

    Parameters
    ----------
    message : str
        What went wrong; made one line of at most :data:`MESSAGE_LIMIT` characters.
    problems : list of str, optional
        Every problem when several were found at once (default: just ``message``),
        kept whole for summaries and tests.
    tail : str, optional
        Text that must survive the cut, e.g. "; partial run kept in <path>": the message
        is shortened before it, never the tail (available as ``.tail``).
    """

    exit_code = 2

    def __init__(self, message: str = "", *, problems: list[str] | None = None, tail: str = ""):
        self.tail = one_line(tail) if tail else ""
        text = one_line(message, max(MESSAGE_LIMIT - len(self.tail), 40)) + self.tail
        super().__init__(text)
        self.problems = list(problems) if problems else [text]

    @property
    def head(self) -> str:
        """The message without its :attr:`tail`."""
        text = str(self)
        return text[: len(text) - len(self.tail)] if self.tail else text

    def __reduce__(self):  # keep ``problems`` and ``tail`` across processes (batch workers)
        return _rebuild, (type(self), self.head, self.problems, self.tail)


def _rebuild(cls, message, problems, tail=""):
    return cls(message, problems=problems, tail=tail)


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
        raise error(f"{name}: expected one of {', '.join(repr(a) for a in allowed)}, got {shorten(value)}")
    return value

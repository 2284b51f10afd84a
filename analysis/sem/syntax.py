"""lavaan model syntax -> user-specified rows (lavaan's "flat" parameter list).

This module only *reads* the text: it splits statements, recognises operators and
modifiers and reports mistakes with the line number. Turning the rows into a full
lavaan parameter table (auto-added variances, fixed first loadings, groups, equality
constraints) is :mod:`.partable`'s job.

Supported: ``=~`` (latent definition), ``~`` (regression), ``~~`` (variance /
covariance), ``~ 1`` (intercept / mean), ``:=`` (defined parameter, via
:mod:`.defined`), ``==`` between two labels (equality constraint), ``>``/``<`` (and
``>=``/``<=``) between a label and a number (a bound, e.g. ``v1 > 0``), comments (``#``
and ``!``), several statements per line separated by ``;``, statements continued on
the next line (a line without an operator continues the previous one), several
left-hand sides (``y1 + y2 ~ x``) and the modifiers ``1*x`` / ``0.5*x`` (fix),
``NA*x`` (free), ``a*x`` (label), ``c(a1, a2)*x`` / ``c(1, NA)*x`` (one value per
group), ``start(0.5)*x``, ``label("a")*x`` and ``equal("a")*x``; modifiers may be
chained (``NA*a*x``) or given in repeated terms (``NA*x1 + a*x1``), as lavaan allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from analysis.errors import ModelError
from analysis.sem.defined import DefinedParameter, split_defined

__all__ = ["SUPPORTED_OPERATORS", "ParsedModel", "UserRow", "parse_model"]

SUPPORTED_OPERATORS = ("=~", "~", "~~", "~ 1", ":=", "==", "<", ">")
_OPERATORS = re.compile(r"=~|~~|~\*~|<~|==|<=|>=|<-|->|~|<|>|\||%|:")
_UNSUPPORTED = {
    "<~": "formative (composite) indicators '<~'",
    "~*~": "scaling factors '~*~'",
    "|": "thresholds '|' (use the ordinal estimator for ordered items)",
    "%": "group weights '%'", ":": "block headers such as 'group: 1' (use c(...) modifiers instead)",
    "<-": "the operator '<-' (write regressions as 'y ~ x')", "->": "the operator '->' (write 'y ~ x')",
}
_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


@dataclass
class UserRow:
    """One user-specified parameter: ``lhs op rhs`` with its modifiers.

    ``fixed`` is None (no value given) or a tuple with one entry per group (or a single
    entry for all groups); an entry of None means ``NA`` = explicitly free. ``label``
    and ``start`` follow the same one-or-per-group convention.
    """

    lhs: str
    op: str
    rhs: str
    line: int
    fixed: tuple[float | None, ...] | None = None
    label: tuple[str, ...] | None = None
    start: tuple[float, ...] | None = None

    def merge(self, other: UserRow) -> None:
        """Combine modifiers of a repeated term (lavaan: ``NA*x1 + a*x1``)."""
        self.fixed = other.fixed if other.fixed is not None else self.fixed
        self.label = other.label if other.label is not None else self.label
        self.start = other.start if other.start is not None else self.start


@dataclass
class ParsedModel:
    """The user rows, defined parameters and label equalities of a model text."""

    rows: list[UserRow] = field(default_factory=list)
    defined: list[DefinedParameter] = field(default_factory=list)
    equalities: list[tuple[str, str, int]] = field(default_factory=list)
    bounds: list[tuple[str, str, float, int]] = field(default_factory=list)  # (label, "<" or ">", value, line)

    @property
    def latent_names(self) -> list[str]:
        return list(dict.fromkeys(r.lhs for r in self.rows if r.op == "=~"))

    @property
    def labels(self) -> list[str]:
        return sorted({lab for r in self.rows for lab in (r.label or ()) if lab})


def _statements(text: str) -> list[tuple[int, str]]:
    """Split into (line number, statement), joining continuation lines."""
    statements: list[list] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        code = re.split(r"[#!]", raw, maxsplit=1)[0]
        for piece in code.split(";"):
            piece = piece.strip()
            if not piece:
                continue
            continues = statements and (statements[-1][1].rstrip().endswith(("+", "*", ",", "(", "~", "=~"))
                                        or _OPERATORS.search(piece) is None)
            if continues:
                statements[-1][1] += " " + piece
            else:
                statements.append([number, piece])
    return [(n, s) for n, s in statements]


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def _values(text: str, where: str) -> list[str]:
    inner = text[text.index("(") + 1: -1] if text.endswith(")") else None
    if inner is None:
        raise ModelError(f"{where}: unbalanced parentheses in modifier {text!r}")
    return [v.strip().strip("\"'") for v in _split_top(inner, ",")]


def _number(token: str, where: str) -> float:
    if not _NUMBER.match(token):
        raise ModelError(f"{where}: expected a number, got {token!r}")
    return float(token)


def _apply_modifier(row: UserRow, token: str, where: str) -> None:
    lowered = token.replace(" ", "")
    if lowered.startswith("start("):
        row.start = tuple(_number(v, where) for v in _values(lowered, where))
    elif lowered.startswith(("label(", "equal(")):
        row.label = tuple(_values(lowered, where))
    elif lowered.startswith("c("):
        values = _values(lowered, where)
        if all(v == "NA" or _NUMBER.match(v) for v in values):
            row.fixed = tuple(None if v == "NA" else float(v) for v in values)
        elif all(_NAME.match(v) and v != "NA" for v in values):
            row.label = tuple(values)
        else:
            raise ModelError(f"{where}: c(...) must hold only numbers/NA (fixed values) or only labels, "
                             f"got {token!r}")
    elif lowered == "NA":
        row.fixed = (None,)
    elif _NUMBER.match(lowered):
        row.fixed = (float(lowered),)
    elif _NAME.match(lowered):
        row.label = (lowered,)
    else:
        raise ModelError(f"{where}: cannot read modifier {token!r}; expected a number, NA, a label, "
                         "c(...), start(...) or label(...)")


def _terms(lhs: str, op: str, rhs_text: str, line: int, statement: str) -> list[UserRow]:
    where = f"model syntax line {line} ({statement!r})"
    lhs_names = _split_top(lhs, "+")
    for name in lhs_names:
        if not _NAME.match(name):
            raise ModelError(f"{where}: left-hand side {name!r} is not a variable name")
    rows = []
    for term in _split_top(rhs_text, "+"):
        if not term:
            raise ModelError(f"{where}: empty term (check for a doubled or trailing '+')")
        pieces = _split_top(term, "*")
        target, modifiers = pieces[-1], pieces[:-1]
        if ":" in target:
            raise ModelError(f"{where}: interaction terms like {target!r} are not supported")
        intercept = target == "1" and op == "~"
        if not intercept and not _NAME.match(target):
            raise ModelError(f"{where}: {target!r} is not a variable name")
        for name in lhs_names:
            row = UserRow(name, "~1" if intercept else op, "" if intercept else target, line)
            for modifier in modifiers:
                _apply_modifier(row, modifier, where)
            rows.append(row)
    return rows


def _bound(lhs: str, op: str, rhs: str, line: int, statement: str) -> tuple[str, str, float, int]:
    """``a > 0.6`` / ``0.6 < a`` -> (label, ">" or "<", value, line); lavaan reads <= as <."""
    direction = op[0]
    if _NAME.match(lhs) and _NUMBER.match(rhs):
        return lhs, direction, float(rhs), line
    if _NUMBER.match(lhs) and _NAME.match(rhs):
        return rhs, "<" if direction == ">" else ">", float(lhs), line
    raise ModelError(f"model syntax line {line}: only bounds between a label and a number are supported "
                     f"(e.g. 'v1 > 0'), got {statement!r}")


def parse_model(model_syntax: str) -> ParsedModel:
    """Parse lavaan model syntax into user rows (no defaults added yet).

    Parameters
    ----------
    model_syntax : str
        lavaan model syntax.

    Returns
    -------
    ParsedModel
        ``rows`` in syntax order (repeated ``lhs op rhs`` merged, ``x ~~ y`` and
        ``y ~~ x`` treated as the same parameter), ``defined`` (``:=``) and
        ``equalities`` (``a == b``).

    Notes
    -----
    Mirrors ``lavaan::lavParseModelString`` for the operators listed in the module
    docstring; unsupported lavaan operators raise :class:`ModelError` naming them.
    """
    if not isinstance(model_syntax, str) or not model_syntax.strip():
        raise ModelError(f"model syntax must be a non-empty string, got {model_syntax!r}")
    core, defined = split_defined(model_syntax)
    parsed = ParsedModel(defined=defined)
    index: dict[tuple[str, str, str], UserRow] = {}
    for line, statement in _statements(core):
        match = _OPERATORS.search(statement)
        if match is None:
            raise ModelError(f"model syntax line {line}: no operator in {statement!r}; "
                             f"expected one of {', '.join(SUPPORTED_OPERATORS)}")
        op = match.group(0)
        if "efa(" in statement.replace(" ", ""):
            raise ModelError(f"model syntax line {line}: efa() blocks (exploratory factor analysis) are not "
                             f"supported in {statement!r}; specify a confirmatory model with '=~'")
        if op in _UNSUPPORTED:
            raise ModelError(f"model syntax line {line}: {_UNSUPPORTED[op]} not supported in {statement!r}; "
                             f"supported operators: {', '.join(SUPPORTED_OPERATORS)}")
        lhs, rhs = statement[:match.start()].strip(), statement[match.end():].strip()
        if "=" in lhs or (op != "==" and "=" in rhs.replace("==", "")):
            raise ModelError(f"model syntax line {line}: unknown operator in {statement!r}; "
                             f"supported operators: {', '.join(SUPPORTED_OPERATORS)}")
        if not lhs or not rhs:
            raise ModelError(f"model syntax line {line}: {statement!r} needs a left- and a right-hand side")
        if op == "==":
            if not (_NAME.match(lhs) and _NAME.match(rhs)):
                raise ModelError(f"model syntax line {line}: only equalities between two labels "
                                 f"('a == b') are supported, got {statement!r}")
            parsed.equalities.append((lhs, rhs, line))
            continue
        if op in ("<", ">", "<=", ">="):
            parsed.bounds.append(_bound(lhs, op, rhs, line, statement))
            continue
        for row in _terms(lhs, op, rhs, line, statement):
            key = (row.lhs, row.op, row.rhs)
            if row.op == "~~" and key not in index and (row.rhs, "~~", row.lhs) in index:
                key = (row.rhs, "~~", row.lhs)
            if key in index:
                index[key].merge(row)
            else:
                index[key] = row
                parsed.rows.append(row)
    if not parsed.rows:
        raise ModelError("model syntax defines no parameters; expected lines such as 'f =~ x1 + x2 + x3' "
                         "or 'y ~ x'")
    known = set(parsed.labels)
    for lhs, rhs, line in parsed.equalities:
        unknown = [name for name in (lhs, rhs) if name not in known]
        if unknown:
            raise ModelError(f"model syntax line {line}: equality uses unknown label(s) {', '.join(unknown)}; "
                             f"labels in the model: {', '.join(sorted(known)) or 'none'}")
    for label, _, _, line in parsed.bounds:
        if label not in known:
            raise ModelError(f"model syntax line {line}: bound on unknown label {label!r}; "
                             f"labels in the model: {', '.join(sorted(known)) or 'none'}")
    for parameter in defined:
        names = [n for n in parameter.labels if n not in known and n not in {d.name for d in defined}]
        if names:
            raise ModelError(f"defined parameter {parameter.name!r} uses unknown label(s) {', '.join(names)}; "
                             f"labels in the model: {', '.join(sorted(known)) or 'none'}")
    return parsed

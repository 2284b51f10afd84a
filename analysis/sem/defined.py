"""Defined parameters (lavaan's ``name := expression``), which semopy does not support.

A defined parameter is an arithmetic expression over parameter labels, e.g.
``ind := a*b`` for an indirect effect. Its estimate is the expression at the
estimates, its standard error comes from the delta method, and its ``std_all`` is the
expression evaluated at the standardized values of the labelled parameters (which is
what lavaan reports for ``std.all`` of a ``:=`` row).
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping

import numpy as np

from analysis.errors import ModelError

__all__ = ["DefinedParameter", "split_defined", "evaluate", "delta_method_se"]

_DEFINITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*:=\s*(.+?)\s*$")
_BINARY: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[float], float]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}


class DefinedParameter(tuple):
    """``(name, expression, labels)``: labels are the parameter names it uses."""

    __slots__ = ()

    def __new__(cls, name: str, expression: str, labels: tuple[str, ...]):
        return super().__new__(cls, (name, expression, labels))

    def __getnewargs__(self):  # pickled into bootstrap worker processes
        return tuple(self)

    name = property(lambda self: self[0])
    expression = property(lambda self: self[1])
    labels = property(lambda self: self[2])


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _check(node: ast.AST, text: str) -> None:
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Load,
               *_BINARY, *_UNARY)
    for child in ast.walk(node):
        if not isinstance(child, allowed) or (isinstance(child, ast.Constant)
                                              and not isinstance(child.value, (int, float))):
            raise ModelError(f"defined parameter expression {text!r} may only use labels, numbers "
                             "and + - * / ** with parentheses")


def split_defined(model_syntax: str) -> tuple[str, list[DefinedParameter]]:
    """Separate ``name := expression`` lines from the rest of the model syntax."""
    kept, defined = [], []
    for number, line in enumerate(model_syntax.splitlines(), start=1):
        code = line.split("#", 1)[0]
        if ":=" not in code:
            kept.append(line)
            continue
        match = _DEFINITION.match(code)
        if not match:
            raise ModelError(f"model syntax line {number}: cannot read defined parameter {code.strip()!r}; "
                             "expected 'name := expression', e.g. 'ind := a*b'")
        name, expression = match.groups()
        try:
            tree = ast.parse(expression.replace("^", "**"), mode="eval")
        except SyntaxError:
            raise ModelError(f"model syntax line {number}: invalid expression {expression!r}") from None
        _check(tree, expression)
        defined.append(DefinedParameter(name, expression, tuple(sorted(_names(tree)))))
        kept.append("")
    return "\n".join(kept), defined


def evaluate(expression: str, values: Mapping[str, float]) -> float:
    """Value of a defined-parameter expression given the labelled parameters' values."""
    tree = ast.parse(expression.replace("^", "**"), mode="eval")

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in values:
                raise ModelError(f"defined parameter uses unknown label {node.id!r}; "
                                 f"labels in the model: {', '.join(sorted(values)) or 'none'}")
            return float(values[node.id])
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](walk(node.operand))
        raise ModelError(f"unsupported element in {expression!r}")

    return walk(tree)


def delta_method_se(expression: str, values: Mapping[str, float], covariance: np.ndarray,
                    order: list[str]) -> float:
    """Delta-method standard error: sqrt(g' V g), g the numerical gradient.

    Notes
    -----
    Central differences with step 1e-6 * max(1, |theta|), as lavaan's
    ``lav_func_jacobian_complex`` fallback; checked against the SE lavaan reports for
    ``ind := a*b`` on the Political Democracy model.
    """
    base = dict(values)
    gradient = np.zeros(len(order))
    for k, name in enumerate(order):
        step = 1e-6 * max(1.0, abs(base[name]))
        up, down = dict(base), dict(base)
        up[name] += step
        down[name] -= step
        gradient[k] = (evaluate(expression, up) - evaluate(expression, down)) / (2 * step)
    return float(np.sqrt(gradient @ covariance @ gradient))

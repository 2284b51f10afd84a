"""Improper solutions found in a fitted SEM, reported as readable problems (never a crash).

An estimate table can look complete and still describe an impossible population:
a negative variance (Heywood case), a standardized loading or path beyond +-1, a
latent or model-implied covariance matrix that is not positive definite, or an
optimiser that stopped before converging. :func:`check_admissibility` lists each such
problem as a :class:`Problem` with a sentence fit for the report;
:func:`admissibility_table` turns the list into a tidy table.

semopy bounds every variance below at 0, so where lavaan reports a negative residual
variance, semopy reports one pinned at exactly 0. Both are Heywood cases here: a
variance at or below ``variance_tol`` is flagged, and the message says which of the two
happened.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import DataError

__all__ = ["PROBLEM_KINDS", "Problem", "admissibility_table", "check_admissibility", "check_groups"]

#: Kinds of problem, in the order the report lists them.
PROBLEM_KINDS = ("non_convergence", "not_identified", "heywood", "std_out_of_range", "non_positive_definite")
_REQUIRED_COLUMNS = ("lhs", "op", "rhs", "est", "std_all")
_TABLE_COLUMNS = ["kind", "where", "value", "message"]


@dataclass(frozen=True)
class Problem:
    """One admissibility problem of a fitted model.

    Attributes
    ----------
    kind : str
        One of :data:`PROBLEM_KINDS`.
    where : str
        The parameter (``"x3 ~~ x3"``, ``"F =~ x1"``) or matrix
        (``"latent covariance"``, ``"implied covariance"``, ``"optimiser"``).
    value : float
        The offending number: the estimate, the standardized value, the smallest
        eigenvalue; NaN for non-convergence.
    message : str
        A sentence for the report.
    """

    kind: str
    where: str
    value: float
    message: str


def _check_estimates(estimates: pd.DataFrame) -> None:
    if not isinstance(estimates, pd.DataFrame):
        raise DataError(f"check_admissibility: estimates must be a pandas DataFrame, got {type(estimates).__name__}")
    missing = [c for c in _REQUIRED_COLUMNS if c not in estimates.columns]
    if missing:
        raise DataError(f"check_admissibility: the estimates table lacks column(s) {', '.join(missing)}; "
                        f"expected the lavaan-style columns {', '.join(_REQUIRED_COLUMNS)}, "
                        f"got {', '.join(map(str, estimates.columns))}")


def _variance_problems(estimates: pd.DataFrame, variance_tol: float) -> list[Problem]:
    latent = set(estimates.loc[estimates["op"] == "=~", "lhs"])
    endogenous = set(estimates.loc[estimates["op"] == "=~", "rhs"]) | set(estimates.loc[estimates["op"] == "~", "lhs"])
    rows = estimates[(estimates["op"] == "~~") & (estimates["lhs"] == estimates["rhs"])]
    problems = []
    for rec in rows[["lhs", "est"]].itertuples(index=False):
        est = float(rec.est)
        if not est <= variance_tol:
            continue
        what = "residual variance" if rec.lhs in endogenous else "variance"
        if rec.lhs in latent and rec.lhs not in endogenous:
            what = "latent variance"
        where = f"{rec.lhs} ~~ {rec.lhs}"
        if est < 0:
            detail = f"is negative ({est:.4f})"
        else:
            detail = (f"is at the lower bound 0 ({est:.2g}); the optimiser stopped it there, and an "
                      "unrestricted ML fit (lavaan) would make it negative")
        problems.append(Problem("heywood", where, est,
                                f"Heywood case: the {what} of {rec.lhs} {detail}. The solution is improper; "
                                "check for too few indicators, an item nearly identical to another, "
                                "a small sample or a misspecified model."))
    return problems


def _standardized_problems(estimates: pd.DataFrame, std_tol: float) -> list[Problem]:
    problems = []
    std = pd.to_numeric(estimates["std_all"], errors="coerce")
    for index in estimates.index[std.abs() > 1 + std_tol]:
        lhs, op, rhs = (estimates.at[index, c] for c in ("lhs", "op", "rhs"))
        value = float(std[index])
        if op == "=~":
            what = f"standardized loading of {rhs} on {lhs}"
        elif op == "~":
            what = f"standardized path {rhs} -> {lhs}"
        elif op == "~~" and lhs != rhs:
            what = f"correlation between {lhs} and {rhs}"
        else:
            continue  # defined parameters (products of paths) may legitimately exceed 1
        problems.append(Problem("std_out_of_range", f"{lhs} {op} {rhs}", value,
                                f"The {what} is {value:.3f}, outside [-1, 1]; the solution is improper "
                                "(typically together with a negative variance or a near-collinear pair)."))
    return problems


def _as_matrix(matrix, what: str) -> tuple[np.ndarray, list[str] | None]:
    names = [str(c) for c in matrix.columns] if isinstance(matrix, pd.DataFrame) else None
    values = np.asarray(matrix, dtype=float)
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise DataError(f"check_admissibility: the {what} matrix must be square, got shape {values.shape}")
    return values, names


def _definiteness_problem(matrix, what: str, eigen_tol: float) -> Problem | None:
    values, names = _as_matrix(matrix, what)
    if values.size == 0:
        return None
    if not np.all(np.isfinite(values)):
        return Problem("non_positive_definite", what, float("nan"),
                       f"The {what} matrix contains non-finite values; the solution cannot be interpreted.")
    eigenvalues, vectors = np.linalg.eigh((values + values.T) / 2)
    smallest = float(eigenvalues[0])
    if smallest > eigen_tol * max(1.0, float(np.abs(eigenvalues).max())):
        return None
    involved = ""
    if names is not None:
        weights = np.abs(vectors[:, 0])
        largest = [i for i in np.argsort(-weights, kind="stable") if weights[i] > 0.3][:4]
        top = [names[i] for i in sorted(largest)]  # matrix order reads better than weight order
        involved = f", mostly involving {', '.join(top)}" if top else ""
    return Problem("non_positive_definite", what, smallest,
                   f"The {what} matrix is not positive definite (smallest eigenvalue {smallest:.3g}{involved}); "
                   "some variables are linearly dependent or a correlation exceeds 1 in magnitude.")


def check_admissibility(estimates: pd.DataFrame, latent_covariance: np.ndarray | pd.DataFrame | None = None,
                        implied_covariance: np.ndarray | pd.DataFrame | None = None, converged: bool = True,
                        message: str = "", information: np.ndarray | None = None, *,
                        variance_tol: float = 1e-8, std_tol: float = 1e-6,
                        eigen_tol: float = 1e-10) -> list[Problem]:
    """List the admissibility problems of a fitted model.

    Parameters
    ----------
    estimates : pandas.DataFrame
        lavaan-style parameter table (columns lhs, op, rhs, est, std_all at least).
    latent_covariance : ndarray or DataFrame, optional
        Model-implied covariance of the latent variables (a DataFrame's column names
        are used to say which variables are involved).
    implied_covariance : ndarray or DataFrame, optional
        Model-implied covariance of the observed variables.
    converged : bool, default True
        Whether the optimiser reported success.
    message : str
        The optimiser's message, quoted when ``converged`` is False.
    information : ndarray, optional
        Information matrix of the free parameters; if singular, the model is
        reported as not identified.
    variance_tol, std_tol, eigen_tol : float
        A variance <= ``variance_tol`` is a Heywood case (semopy pins them at 0);
        ``|std_all| > 1 + std_tol`` is out of range; an eigenvalue <=
        ``eigen_tol * max(1, max |eigenvalue|)`` is not positive.

    Returns
    -------
    list of Problem
        Empty when the solution is admissible; otherwise ordered as
        :data:`PROBLEM_KINDS`.

    Notes
    -----
    Heywood case: :math:`\\hat\\theta_{ii} \\le 0` or :math:`\\hat\\psi_{ii} \\le 0`.
    Standardized range: :math:`|\\lambda^{std}| > 1`, :math:`|\\beta^{std}| > 1` or an
    off-diagonal :math:`|r| > 1`. Definiteness: smallest eigenvalue of
    :math:`\\Psi` (latent) or :math:`\\Sigma(\\hat\\theta)` (implied) not positive. These are
    the checks behind lavaan's post-fit warnings (``lavInspect(fit, "post.check")``:
    "some estimated ov variances are negative", "covariance matrix of latent variables
    is not positive definite").
    """
    _check_estimates(estimates)
    problems: list[Problem] = []
    if not converged:
        detail = f" ({message})" if message else ""
        problems.append(Problem("non_convergence", "optimiser", float("nan"),
                                f"The optimiser did not converge{detail}; the estimates are not a maximum "
                                "of the likelihood and must not be reported."))
    if information is not None:
        eigenvalues = np.linalg.eigvalsh(np.asarray(information, dtype=float))
        if eigenvalues.size and eigenvalues[0] <= 1e-8 * max(1.0, float(np.abs(eigenvalues).max())):
            problems.append(Problem("not_identified", "information matrix", float(eigenvalues[0]),
                                    "The information matrix is singular (smallest eigenvalue "
                                    f"{eigenvalues[0]:.3g}); the model is probably not identified, so some "
                                    "standard errors are meaningless. Fix a loading or variance per factor."))
    problems += _variance_problems(estimates, variance_tol)
    problems += _standardized_problems(estimates, std_tol)
    for matrix, what in ((latent_covariance, "latent covariance"), (implied_covariance, "implied covariance")):
        if matrix is not None:
            problem = _definiteness_problem(matrix, what, eigen_tol)
            if problem is not None:
                problems.append(problem)
    return problems


def check_groups(estimates: pd.DataFrame, latent_covariances: dict, **options) -> list[Problem]:
    """:func:`check_admissibility` per group of a multigroup table (column ``group``).

    ``latent_covariances`` maps each group label to its latent covariance (a DataFrame,
    so the variables involved can be named); group ``k`` of the table is the ``k``-th
    label. Problems name their group in ``where`` and in the message.
    """
    problems = []
    for number, (label, covariance) in enumerate(latent_covariances.items(), start=1):
        part = estimates[estimates["group"] == number] if "group" in estimates.columns else estimates
        for problem in check_admissibility(part, latent_covariance=covariance, **options):
            if len(latent_covariances) > 1:
                problem = Problem(problem.kind, f"{problem.where} (group {label})", problem.value,
                                  f"Group {label!r}: {problem.message}")
            problems.append(problem)
    return problems


def admissibility_table(problems: list[Problem]) -> pd.DataFrame:
    """Problems as a tidy table: kind, where, value, message (empty table if none)."""
    if not problems:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "value" else object) for c in _TABLE_COLUMNS})
    return pd.DataFrame([{"kind": p.kind, "where": p.where, "value": p.value, "message": p.message}
                         for p in problems], columns=_TABLE_COLUMNS)

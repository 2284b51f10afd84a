"""Tests for analysis.sem.admissibility: improper solutions reported, never a crash."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import DataError
from analysis.sem import StructuralEquationModel
from analysis.sem.admissibility import (
    PROBLEM_KINDS,
    Problem,
    admissibility_table,
    check_admissibility,
)


def _table(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["lhs", "op", "rhs", "est", "std_all"]).assign(label="", se=np.nan)


CLEAN = _table([
    ("F", "=~", "y1", 1.0, 0.8), ("F", "=~", "y2", 0.9, 0.7), ("F", "=~", "y3", 1.1, 0.75),
    ("G", "~", "F", 0.5, 0.45), ("G", "=~", "y4", 1.0, 0.9), ("G", "=~", "y5", 1.0, 0.9),
    ("F", "~~", "F", 0.6, 1.0), ("G", "~~", "G", 0.4, 0.8), ("y1", "~~", "y1", 0.3, 0.36),
    ("y1", "~~", "y2", 0.05, 0.2), ("ind", ":=", "a*b", 1.4, 1.3),
])


def test_a_clean_solution_has_no_problems():
    assert check_admissibility(CLEAN, np.eye(2), np.eye(5)) == []
    table = admissibility_table([])
    assert list(table.columns) == ["kind", "where", "value", "message"] and table.empty


def test_negative_and_boundary_variances_are_heywood_cases():
    table = pd.concat([CLEAN, _table([("y2", "~~", "y2", -0.12, -0.2), ("G", "~~", "G", 0.0, 0.0)])])
    problems = check_admissibility(table.drop_duplicates(["lhs", "op", "rhs"], keep="last"))
    assert [p.kind for p in problems] == ["heywood", "heywood"]
    by_where = {p.where: p for p in problems}
    assert by_where["y2 ~~ y2"].value == -0.12
    assert "residual variance of y2 is negative (-0.1200)" in by_where["y2 ~~ y2"].message
    assert "lower bound 0" in by_where["G ~~ G"].message and "residual variance of G" in by_where["G ~~ G"].message
    exogenous = check_admissibility(pd.concat([CLEAN.iloc[:6], _table([("F", "~~", "F", -0.1, -1.0)])]))
    assert "latent variance of F" in exogenous[0].message


def test_standardized_values_beyond_one_are_reported():
    table = CLEAN.copy()
    table.loc[1, "std_all"] = 1.08   # loading F =~ y2
    table.loc[3, "std_all"] = -1.2   # path G ~ F
    table.loc[9, "std_all"] = 1.01   # residual correlation y1 ~~ y2
    problems = check_admissibility(table)
    assert [p.where for p in problems] == ["F =~ y2", "G ~ F", "y1 ~~ y2"]
    assert all(p.kind == "std_out_of_range" for p in problems)
    assert "standardized loading of y2 on F is 1.080" in problems[0].message
    assert "standardized path F -> G is -1.200" in problems[1].message
    assert "correlation between y1 and y2" in problems[2].message
    # a defined parameter (a product of paths) may exceed 1 and is not flagged: see CLEAN's ind row


def test_non_positive_definite_matrices_name_the_variables():
    latent = pd.DataFrame([[1.0, 1.05, 0.1], [1.05, 1.0, 0.1], [0.1, 0.1, 1.0]],
                          index=["TRU", "SAT", "LOY"], columns=["TRU", "SAT", "LOY"])
    implied = np.ones((3, 3))  # rank one: singular
    problems = check_admissibility(CLEAN, latent, implied)
    assert [(p.kind, p.where) for p in problems] == [("non_positive_definite", "latent covariance"),
                                                     ("non_positive_definite", "implied covariance")]
    assert problems[0].value < 0 and "TRU, SAT" in problems[0].message
    assert abs(problems[1].value) < 1e-12
    broken = check_admissibility(CLEAN, np.array([[1.0, np.nan], [np.nan, 1.0]]))
    assert broken[0].kind == "non_positive_definite" and "non-finite" in broken[0].message


def test_non_convergence_and_singular_information_come_first():
    problems = check_admissibility(CLEAN, converged=False, message="Iteration limit reached",
                                   information=np.diag([2.0, 1.0, 0.0]))
    assert [p.kind for p in problems] == ["non_convergence", "not_identified"]
    assert "(Iteration limit reached)" in problems[0].message
    assert set(admissibility_table(problems)["kind"]) <= set(PROBLEM_KINDS)


def test_problem_is_frozen_and_input_errors_are_clear():
    problem = Problem("heywood", "y1 ~~ y1", -0.1, "text")
    with pytest.raises(AttributeError):
        problem.value = 0.0
    with pytest.raises(DataError, match="std_all"):
        check_admissibility(CLEAN.drop(columns="std_all"))
    with pytest.raises(DataError, match="square"):
        check_admissibility(CLEAN, np.ones((2, 3)))
    with pytest.raises(DataError, match="DataFrame"):
        check_admissibility(CLEAN.to_dict())


def _heywood_data(n: int = 60) -> pd.DataFrame:
    """Three items whose sample correlations are exactly .85, .85 and .60.

    A one-factor model on three items is just identified: lambda_1^2 psi = r12 r13 / r23
    = 1.204, so unrestricted ML (lavaan) gives theta_1 = 1 - 1.204 = -0.204 for y1.
    """
    target = np.array([[1.0, 0.85, 0.85], [0.85, 1.0, 0.60], [0.85, 0.60, 1.0]])
    z = np.random.default_rng(3).standard_normal((n, 3))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False, bias=True)).T)  # sample cov exactly I
    return pd.DataFrame(z @ np.linalg.cholesky(target).T, columns=["y1", "y2", "y3"])


def test_a_real_heywood_case_is_reported_without_crashing():
    data = _heywood_data()
    corr = data.corr().to_numpy()
    assert corr[0, 1] * corr[0, 2] / corr[1, 2] > 1  # the exact solution needs a negative variance
    fitted = StructuralEquationModel("F =~ y1 + y2 + y3").fit(data)
    problems = check_admissibility(fitted.estimates_, fitted.structure_.covariance, fitted.implied_cov_)
    heywood = [p for p in problems if p.kind == "heywood"]
    assert [p.where for p in heywood] == ["y1 ~~ y1"]
    assert heywood[0].value <= 1e-8  # semopy pins the variance at its lower bound 0
    table = admissibility_table(problems)
    assert table.loc[table["where"] == "y1 ~~ y1", "message"].str.contains("Heywood case").all()

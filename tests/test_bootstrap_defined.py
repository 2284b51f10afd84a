"""Bootstrap of defined parameters (``name := expression``), analysis.sem.bootstrap_defined.

Reference: tests/reference/lavaan_reference.json, case poldem_sem, R call
``parameterEstimates(sem(poldem_model, data = poldem), standardized = TRUE)``: the ``:=``
row ``ind := a*b`` has est 1.2418 and delta-method SE 0.3554. lavaan's own bootstrap draws
are random, so the bootstrap SE is checked against the delta-method SE (within 35 %); the point
estimate must equal lavaan's to 1e-5 (reached: 6.7e-7).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference_case, reference_data
from numpy.testing import assert_allclose

from analysis.errors import ConfigError, DataError, ModelError
from analysis.sem.bootstrap import bootstrap_defined
from analysis.sem.engine import SEMEngine
from analysis.sem.engine.resample import ResampleFitter

POLDEM = reference_case("lavaan", "poldem_sem")
LAVAAN_IND = next(row for row in POLDEM["estimates"] if row["op"] == ":=")
COLUMNS = ["name", "expression", "est", "boot_mean", "boot_se", "ci_lower", "ci_upper", "bc_lower", "bc_upper",
           "n_draws", "n_failed"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return reference_data("political_democracy.csv").copy()


@pytest.fixture(scope="module")
def poldem(data) -> SEMEngine:
    return SEMEngine(POLDEM["model"]).fit(data)


def test_bootstrap_se_is_close_to_lavaan_delta_method(poldem, data):
    """R: sem(... dem60 ~ a*ind60; dem65 ~ ind60 + b*dem60; ind := a*b): est 1.2418, SE 0.3554."""
    table = bootstrap_defined(poldem, data, n_draws=300, random_state=3, n_jobs=2)
    assert list(table.columns) == COLUMNS
    row = table.iloc[0]
    assert (row["name"], row["expression"]) == (LAVAAN_IND["lhs"], LAVAAN_IND["rhs"]) == ("ind", "a*b")
    assert_allclose(row["est"], LAVAAN_IND["est"], atol=1e-5, rtol=0)
    assert 0.65 * LAVAAN_IND["se"] < row["boot_se"] < 1.35 * LAVAAN_IND["se"]
    assert row["ci_lower"] < row["est"] < row["ci_upper"]
    assert row["bc_lower"] < row["est"] < row["bc_upper"]
    assert row["n_draws"] + row["n_failed"] == 300


def test_results_do_not_depend_on_workers(poldem, data):
    serial = bootstrap_defined(poldem, data, n_draws=30, random_state=7, n_jobs=1)
    parallel = bootstrap_defined(poldem, data, n_draws=30, random_state=7, n_jobs=2)
    pd.testing.assert_frame_equal(serial, parallel)
    generator = bootstrap_defined(poldem, data, n_draws=5, random_state=np.random.default_rng(7), n_jobs=1)
    assert generator["n_draws"].iloc[0] == 5


def test_failed_draw_is_counted_not_replaced(poldem, data, monkeypatch):
    original_refit = ResampleFitter.refit
    calls = {"n": 0}

    def sometimes_singular(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise np.linalg.LinAlgError("forced failure for the test")
        return original_refit(self, *args, **kwargs)

    monkeypatch.setattr(ResampleFitter, "refit", sometimes_singular)
    failed = bootstrap_defined(poldem, data, n_draws=8, random_state=5, n_jobs=1).iloc[0]
    monkeypatch.setattr(ResampleFitter, "refit", original_refit)
    clean = bootstrap_defined(poldem, data, n_draws=8, random_state=5, n_jobs=1).iloc[0]
    assert (failed["n_draws"], failed["n_failed"]) == (7, 1)
    assert (clean["n_draws"], clean["n_failed"]) == (8, 0)
    assert failed["boot_mean"] != clean["boot_mean"]  # the failed draw is dropped, not refilled


def test_every_defined_parameter_gets_a_row(data):
    syntax = POLDEM["model"].replace("dem65 ~ ind60 + b*dem60", "dem65 ~ c*ind60 + b*dem60") + "\ntotal := c + a*b\n"
    fitted = SEMEngine(syntax).fit(data)
    table = bootstrap_defined(fitted, data, n_draws=10, random_state=1, n_jobs=1).set_index("name")
    assert list(table.index) == ["ind", "total"]
    defined = fitted.estimates_.query("op == ':='").set_index("lhs")["est"]
    assert_allclose(table["est"], defined[["ind", "total"]], atol=1e-10)
    assert table.loc["total", "expression"] == "c + a*b"


def test_bad_requests_are_clear_errors(poldem, data):
    plain = SEMEngine("ind60 =~ x1 + x2 + x3").fit(data)
    with pytest.raises(ModelError, match="no defined parameters"):
        bootstrap_defined(plain, data, n_draws=5)
    with pytest.raises(ConfigError, match="bootstrap_draws"):
        bootstrap_defined(poldem, data, n_draws=0)
    with pytest.raises(ConfigError, match="n_jobs"):
        bootstrap_defined(poldem, data, n_draws=5, n_jobs=0)
    with pytest.raises(DataError, match="y8"):
        bootstrap_defined(poldem, data.drop(columns="y8"), n_draws=5)

"""Measurement invariance (analysis/sem/invariance.py) against lavaan 0.6.

R (tests/reference/lavaan_reference.R, case hs_invariance):
    cfa(hs_model, data = hs, group = "school", group.equal = ...) for configural / "loadings" /
    c("loadings", "intercepts") / c("loadings", "intercepts", "residuals"), and
    lavTestLRT(fit_configural, fit_metric, fit_scalar, fit_strict).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.errors import ModelError
from analysis.sem.invariance import (
    INVARIANCE_LEVELS,
    fit_invariance_levels,
    invariance_table,
    measurement_invariance,
)

REFERENCE = Path(__file__).parent / "reference"
CASE = json.loads((REFERENCE / "lavaan_reference.json").read_text())["cases"]["hs_invariance"]
EXTRA = json.loads((REFERENCE / "engine_reference.json").read_text())["cases"]
TOL = 1e-3
LEVELS = ("configural", "metric", "scalar", "strict")


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / "holzinger39.csv")


@pytest.fixture(scope="module")
def fits(hs):
    return fit_invariance_levels(CASE["model"], hs, "school", LEVELS)


@pytest.fixture(scope="module")
def table(fits) -> pd.DataFrame:
    return invariance_table(fits)


def test_fit_of_every_level_matches_lavaan(table):
    """fitMeasures() of the four lavaan fits: chisq, df, cfi, tli, rmsea (+ CI), srmr, aic, bic."""
    keys = {"chisq": "chisq", "df": "df", "cfi": "cfi", "tli": "tli", "rmsea": "rmsea",
            "rmsea_ci_lower": "rmsea.ci.lower", "rmsea_ci_upper": "rmsea.ci.upper", "srmr": "srmr",
            "aic": "aic", "bic": "bic", "npar": "npar"}
    assert table["level"].tolist() == list(LEVELS)
    for row in table.itertuples(index=False):
        reference = CASE["steps"][row.level]["fit"]
        for ours, theirs in keys.items():
            assert_allclose(getattr(row, ours), reference[theirs], atol=TOL, rtol=0, err_msg=f"{row.level} {ours}")


def test_headline_chi_squares():
    """Issue 3: configural 115.851/48, metric 124.044/54, scalar 164.103/60 (strict 181.511/69)."""
    table = measurement_invariance(CASE["model"], pd.read_csv(REFERENCE / "data" / "holzinger39.csv"), "school")
    assert_allclose(table["chisq"], [115.851, 124.044, 164.103, 181.511], atol=1e-3)
    assert table["df"].tolist() == [48, 54, 60, 69]


def test_likelihood_ratio_tests_match_lavtestlrt(table):
    """lavTestLRT(configural, metric, scalar, strict): Chisq diff, Df diff, Pr(>Chisq), AIC, BIC."""
    lrt = pd.DataFrame(CASE["lrt"])
    assert_allclose(table["chisq_diff"][1:], lrt["chisq_diff"][1:], atol=TOL)
    assert_allclose(table["df_diff"][1:], lrt["df_diff"][1:])
    assert_allclose(table["pvalue_diff"][1:], lrt["pvalue"][1:], atol=TOL)
    assert_allclose(table["aic"], lrt["aic"], atol=TOL)
    assert_allclose(table["bic"], lrt["bic"], atol=TOL)
    assert table.loc[0, ["chisq_diff", "df_diff", "pvalue_diff", "delta_cfi"]].isna().all()


@pytest.mark.parametrize("level", LEVELS)
def test_estimates_of_every_level_match_lavaan(fits, level):
    """parameterEstimates(fit_<level>, standardized = TRUE): est, se, std.all within 1e-3."""
    ref = pd.DataFrame(CASE["steps"][level]["estimates"])
    merged = fits[level].partable_.merge(ref, on=["lhs", "op", "rhs", "group"], suffixes=("", "_ref"))
    assert len(merged) == len(ref) == len(fits[level].partable_)
    assert_allclose(merged["est"], merged["est_ref"], atol=TOL)
    free = merged["se_ref"] > 0
    assert_allclose(merged.loc[free, "se"], merged.loc[free, "se_ref"], atol=TOL)
    assert_allclose(merged["std_all"], merged["std.all"], atol=TOL)


def test_scalar_level_frees_latent_means_in_the_second_group(fits):
    means = fits["scalar"].partable_.query("op == '~1' and lhs in ['visual', 'textual', 'speed']")
    assert (means.query("group == 1")["free"] == 0).all() and (means.query("group == 2")["free"] > 0).all()
    loadings = fits["metric"].partable_.query("op == '=~' and free > 0")
    assert loadings.groupby(["lhs", "rhs"])["free"].nunique().eq(1).all()  # one parameter per pair


def test_deltas_and_chen_decisions(table):
    """Chen (2007): DeltaCFI <= -.010 together with DeltaRMSEA >= .015 signals non-invariance."""
    assert_allclose(table["delta_cfi"][1:], np.diff(table["cfi"]))
    assert_allclose(table["delta_rmsea"][1:], np.diff(table["rmsea"]))
    assert table.loc[0, "decision"].startswith("baseline")
    assert table.loc[1, "decision"].startswith("supported")  # metric: -0.002 / -0.004
    assert table.loc[2, "decision"].startswith("questionable")  # scalar: CFI -0.038, RMSEA +0.0145
    assert "ΔCFI = -0.0385" in table.loc[2, "decision"]


def test_fiml_metric_level_matches_lavaan():
    """R: cfa(hs_model, data = hs_missing, group = "school", group.equal = "loadings", missing = "fiml")."""
    data = pd.read_csv(REFERENCE / "data" / "holzinger39_missing.csv")
    table = measurement_invariance(CASE["model"], data, "school", levels=("configural", "metric"), missing="fiml")
    reference = EXTRA["fiml_multigroup"]["fit"]
    row = table.set_index("level").loc["metric"]
    for ours, theirs in {"chisq": "chisq", "df": "df", "cfi": "cfi", "rmsea": "rmsea", "srmr": "srmr"}.items():
        assert_allclose(row[ours], reference[theirs], atol=TOL, err_msg=ours)


def test_unknown_level_is_a_model_error(hs):
    with pytest.raises(ModelError, match="unknown invariance level.*'weak'.*allowed: configural, metric"):
        measurement_invariance(CASE["model"], hs, "school", levels=("configural", "weak"))
    assert set(LEVELS) <= set(INVARIANCE_LEVELS)

"""Measurement invariance (analysis/sem/invariance.py) against lavaan 0.6.

R (tests/reference/lavaan_reference.R, case hs_invariance):
    cfa(hs_model, data = hs, group = "school", group.equal = ...) for configural / "loadings" /
    c("loadings", "intercepts") / c("loadings", "intercepts", "residuals"), and
    lavTestLRT(fit_configural, fit_metric, fit_scalar, fit_strict).
and (engine_reference.R, case fiml_multigroup)
    cfa(hs_model, data = hs_missing, group = "school", group.equal = "loadings", missing = "fiml").

Tolerances are what the engine reaches, with a margin of about 3-30x (largest deviation from
lavaan measured when they were set in brackets): FIT_TOLERANCE for fit measures; estimates and
std_all 1e-4 [1.6e-5, configural: semopy and the engine agree to 5e-8 there, so the gap is
lavaan's own convergence tolerance], standard errors 1e-5 [2.7e-6].
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference_case, reference_data
from numpy.testing import assert_allclose

from analysis.errors import ModelError
from analysis.sem.invariance import (
    INVARIANCE_LEVELS,
    fit_invariance_levels,
    invariance_table,
    measurement_invariance,
)

CASE = reference_case("lavaan", "hs_invariance")
LEVELS = ("configural", "metric", "scalar", "strict")
FIT_KEYS = {"chisq": "chisq", "df": "df", "pvalue": "pvalue", "cfi": "cfi", "tli": "tli", "rmsea": "rmsea",
            "rmsea_ci_lower": "rmsea.ci.lower", "rmsea_ci_upper": "rmsea.ci.upper", "srmr": "srmr",
            "aic": "aic", "bic": "bic", "npar": "npar"}
FIT_TOLERANCE = {  # (atol, rtol) [largest deviation over the four levels and the FIML metric fit]
    "chisq": (0, 1e-9), "aic": (0, 1e-9), "bic": (0, 1e-9),  # [2.1e-10, 3.2e-12 relative]
    "df": (0, 0), "npar": (0, 0),
    "pvalue": (1e-10, 0),  # [1.2e-15]
    "cfi": (1e-9, 0), "tli": (1e-9, 0), "rmsea": (1e-9, 0),  # [4.1e-11]
    "rmsea_ci_lower": (1e-7, 0), "rmsea_ci_upper": (1e-7, 0),  # [1.3e-8]
    "srmr": (1e-6, 0),  # [2.6e-7]
}
EST_TOL, SE_TOL = 1e-4, 1e-5


def _lavaan(reference: dict, key: str, where: str):
    assert reference.get(key) is not None, f"{where}: lavaan reference has no {key!r}"
    return reference[key]


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    return reference_data("holzinger39.csv").copy()


@pytest.fixture(scope="module")
def fits(hs):
    return fit_invariance_levels(CASE["model"], hs, "school", LEVELS)


@pytest.fixture(scope="module")
def table(fits) -> pd.DataFrame:
    return invariance_table(fits)


def test_fit_of_every_level_matches_lavaan(table):
    """fitMeasures() of the four lavaan fits: chisq, df, pvalue, cfi, tli, rmsea (+ CI), srmr, aic, bic, npar."""
    assert table["level"].tolist() == list(LEVELS)
    for row in table.to_dict("records"):
        reference = CASE["steps"][row["level"]]["fit"]
        for ours, theirs in FIT_KEYS.items():
            where = f"{row['level']} {ours}"
            assert ours in row, f"invariance_table has no column {ours!r}"
            atol, rtol = FIT_TOLERANCE[ours]
            assert_allclose(row[ours], _lavaan(reference, theirs, where), atol=atol, rtol=rtol, err_msg=where)


def test_headline_chi_squares(hs):
    """Issue 3: configural 115.851/48, metric 124.044/54, scalar 164.103/60 (strict 181.511/69): 3 decimals."""
    table = measurement_invariance(CASE["model"], hs, "school")
    assert_allclose(table["chisq"], [115.851, 124.044, 164.103, 181.511], atol=5e-4, rtol=0)
    assert table["df"].tolist() == [48, 54, 60, 69]


def test_likelihood_ratio_tests_match_lavtestlrt(table):
    """lavTestLRT(configural, metric, scalar, strict): Chisq diff 1e-7 [1.9e-8, a difference of two
    chi-squares each 2e-8 off], Df diff, Pr(>Chisq) 1e-8 [1.3e-9], AIC, BIC, Chisq (FIT_TOLERANCE)."""
    lrt = pd.DataFrame(CASE["lrt"])
    assert lrt["model"].tolist() == list(LEVELS)
    assert_allclose(table["chisq_diff"][1:], lrt["chisq_diff"][1:], atol=1e-7, rtol=0)
    assert_allclose(table["df_diff"][1:], lrt["df_diff"][1:], atol=0, rtol=0)
    assert_allclose(table["pvalue_diff"][1:], lrt["pvalue"][1:], atol=1e-8, rtol=0)
    for key in ("aic", "bic", "chisq", "df"):
        atol, rtol = FIT_TOLERANCE[key]
        assert_allclose(table[key], lrt[key], atol=atol, rtol=rtol, err_msg=key)
    assert table.loc[0, ["chisq_diff", "df_diff", "pvalue_diff", "delta_cfi"]].isna().all()


@pytest.mark.parametrize("level", LEVELS)
def test_estimates_of_every_level_match_lavaan(fits, level):
    """parameterEstimates(fit_<level>, standardized = TRUE): est and std.all within 1e-4 [1.6e-5], se 1e-5
    [2.7e-6]."""
    ref = pd.DataFrame(CASE["steps"][level]["estimates"])
    merged = fits[level].partable_.merge(ref, on=["lhs", "op", "rhs", "group"], suffixes=("", "_ref"))
    assert len(merged) == len(ref) == len(fits[level].partable_), "every lavaan row has exactly one counterpart"
    assert_allclose(merged["est"], merged["est_ref"], atol=EST_TOL, rtol=0, err_msg="est")
    free = merged["se_ref"] > 0
    assert_allclose(merged.loc[free, "se"], merged.loc[free, "se_ref"], atol=SE_TOL, rtol=0, err_msg="se")
    assert merged.loc[~free, "se"].isna().all(), "fixed parameters have no standard error"
    assert_allclose(merged["std_all"], merged["std.all"], atol=EST_TOL, rtol=0, err_msg="std_all")


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
    data = reference_data("holzinger39_missing.csv").copy()
    table = measurement_invariance(CASE["model"], data, "school", levels=("configural", "metric"), missing="fiml")
    reference = reference_case("engine", "fiml_multigroup")["fit"]
    row = table.set_index("level").loc["metric"]
    for ours, theirs in FIT_KEYS.items():
        atol, rtol = FIT_TOLERANCE[ours]
        assert_allclose(row[ours], _lavaan(reference, theirs, "fiml metric"), atol=atol, rtol=rtol, err_msg=ours)


def test_unknown_level_is_a_model_error(hs):
    with pytest.raises(ModelError, match="unknown invariance level.*'weak'.*allowed: configural, metric"):
        measurement_invariance(CASE["model"], hs, "school", levels=("configural", "weak"))
    assert set(LEVELS) <= set(INVARIANCE_LEVELS)

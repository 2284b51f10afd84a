"""Nested-model comparison against lavaan's lavTestLRT (tests/reference/robust_reference.R).

Models on Holzinger-Swineford (N = 301): "x9" (HS CFA plus visual =~ x9, df 23), "base" (HS
CFA, df 24) and "equal" (textual loadings of x5 and x6 equal, df 25), fitted by ML with semopy;
MLR quantities from analysis.sem.robust.

R calls (recorded under "calls" of the comparison case): cfa(hs_model_x9 / hs_model / hs_model_equal,
data = hs[, estimator = "MLR"]), lavTestLRT(ml_x9, ml_base, ml_equal, model.names = names3),
lavTestLRT(mlr_x9, mlr_base, mlr_equal, method = "satorra.bentler.2001" / "satorra.bentler.2010",
model.names = names3) and lavaan:::lav_test_diff_m10(...). Tolerances: what the code reaches with a
margin of about 3-30x (largest deviation measured when they were set in brackets, per test).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference_case, reference_data
from numpy.testing import assert_allclose

from analysis.errors import ModelError
from analysis.sem import StructuralEquationModel
from analysis.sem.compare import (
    chisq_difference_test,
    compare_models,
    satorra_bentler_2001,
    satorra_bentler_2010,
    semopy_m10_scaling_factor,
)
from analysis.sem.robust import semopy_robust_ml

CASE = reference_case("robust", "comparison")
HS = reference_data("holzinger39.csv")
ORDER = ["x9", "base", "equal"]


@pytest.fixture(scope="module")
def models():
    return {name: StructuralEquationModel(CASE["models"][name]).fit(HS) for name in ORDER}


@pytest.fixture(scope="module")
def mlr_fits(models):
    return {name: {**model.fit_, **semopy_robust_ml(model.semopy_model_).fit} for name, model in models.items()}


@pytest.fixture(scope="module")
def m10(models):
    return {("base", "x9"): semopy_m10_scaling_factor(models["x9"].semopy_model_, models["base"].semopy_model_),
            ("equal", "base"): semopy_m10_scaling_factor(models["base"].semopy_model_,
                                                         models["equal"].semopy_model_)}


def _reference_rows(key: str) -> pd.DataFrame:
    rows = pd.DataFrame(CASE[key]).set_index("model")
    assert sorted(rows.index) == sorted(ORDER), f"{key}: lavaan rows {list(rows.index)}, expected {ORDER}"
    return rows.loc[ORDER]


def test_ml_difference_tests_and_information_criteria_match_lavtestlrt(models):
    """R: lavTestLRT(ml_x9, ml_base, ml_equal) (method "standard"); AIC/BIC columns: 1e-10 relative
    [7.3e-12 on chisq_diff], pvalue 1e-10 [2.4e-14]; fitMeasures() logl 1e-10 relative [2.3e-14],
    cfi and rmsea 1e-10 [1.9e-13] (1e-10 is the floor for anything that passes through an optimiser)."""
    table = compare_models(models).set_index("model")
    ref = _reference_rows("lrt_ml")
    assert list(table.index) == ORDER and (table["method"].iloc[1:] == "standard").all()
    for key in ("df", "df_diff"):
        assert_allclose(table[key].to_numpy(float), ref[key].to_numpy(float), atol=0, rtol=0, err_msg=key)
    for key in ("aic", "bic", "chisq", "chisq_diff"):
        assert_allclose(table[key].to_numpy(float), ref[key].to_numpy(float), atol=0, rtol=1e-10, err_msg=key)
    assert_allclose(table["pvalue"].to_numpy(float), ref["pvalue"].to_numpy(float), atol=1e-10, rtol=0)
    fits = CASE["fit_ml"]
    assert_allclose(table["npar"], [fits[name]["npar"] for name in ORDER], atol=0, rtol=0)
    assert_allclose(table["loglik"], [fits[name]["logl"] for name in ORDER], atol=0, rtol=1e-10)
    assert_allclose(table["cfi"], [fits[name]["cfi"] for name in ORDER], atol=1e-10, rtol=0)
    assert_allclose(table["rmsea"], [fits[name]["rmsea"] for name in ORDER], atol=1e-10, rtol=0)
    assert_allclose(table.loc["equal", "cfi_change"], fits["equal"]["cfi"] - fits["base"]["cfi"], atol=1e-10, rtol=0)


def test_satorra_bentler_2001_matches_lavtestlrt(mlr_fits):
    """R: lavTestLRT(mlr_x9, mlr_base, mlr_equal, method = "satorra.bentler.2001") (MLR default).

    The x9/base difference scaling factor is small (0.205), so the 1e-6 differences between
    semopy's and lavaan's estimates show up as a relative 1.8e-5 in that statistic: chisq_diff and
    the difference scaling factor 1e-4 relative [1.8e-5], pvalue 1e-6 [1.6e-7]; fitMeasures()
    chisq.scaled 1e-6 relative [1.6e-7], cfi.robust and rmsea.robust 1e-7 [4.4e-9].
    """
    table = compare_models(mlr_fits).set_index("model")
    ref = _reference_rows("lrt_sb2001")
    assert (table["method"].iloc[1:] == "satorra.bentler.2001").all()
    assert_allclose(table["chisq_diff"].iloc[1:], ref["chisq_diff"].iloc[1:], atol=0, rtol=1e-4)
    assert_allclose(table["pvalue"].iloc[1:], ref["pvalue"].iloc[1:], atol=1e-6, rtol=0)
    factors = CASE["difference_scaling_factor"]["sb2001"]
    assert_allclose(table["diff_scaling_factor"].iloc[1:], [factors["x9_base"], factors["base_equal"]],
                    atol=0, rtol=1e-4)
    fits = CASE["fit_mlr"]
    assert_allclose(table["chisq_scaled"], [fits[name]["chisq.scaled"] for name in ORDER], atol=0, rtol=1e-6)
    assert_allclose(table["cfi_robust"], [fits[name]["cfi.robust"] for name in ORDER], atol=1e-7, rtol=0)
    assert_allclose(table["rmsea_robust"], [fits[name]["rmsea.robust"] for name in ORDER], atol=1e-7, rtol=0)


def test_m10_scaling_factors_match_lavaan(m10):
    """R: lavaan:::lav_test_diff_m10(mlr_x9, mlr_base, test = TRUE)@test[[2]]$scaling.factor
    (a freed loading at 0) and (mlr_base, mlr_equal) (an equality constraint): 1e-5 [8.8e-7]."""
    ref = CASE["m10_scaling_factor"]
    assert_allclose(m10[("base", "x9")], ref["base_in_x9"], atol=1e-5, rtol=0)
    assert_allclose(m10[("equal", "base")], ref["equal_in_base"], atol=1e-5, rtol=0)


def test_satorra_bentler_2010_matches_lavtestlrt_including_negative_case(mlr_fits, m10):
    """R: lavTestLRT(mlr_x9, mlr_base, mlr_equal, method = "satorra.bentler.2010").

    For x9 vs base lavaan's M10 information is not positive definite and the difference
    scaling factor is negative (-6.35): lavaan reports chisq_diff -5.19 with p = 1; so do we,
    with a note. chisq_diff and the difference scaling factor 1e-4 relative [3.8e-6; as for
    satorra.bentler.2001], pvalue 1e-7 [2.0e-8].
    """
    table = compare_models(mlr_fits, method="satorra.bentler.2010", m10_scaling_factors=m10).set_index("model")
    ref = _reference_rows("lrt_sb2010")
    assert_allclose(table["chisq_diff"].iloc[1:], ref["chisq_diff"].iloc[1:], atol=0, rtol=1e-4)
    assert_allclose(table["pvalue"].iloc[1:], ref["pvalue"].iloc[1:], atol=1e-7, rtol=0)
    factors = CASE["difference_scaling_factor"]["sb2010"]
    assert_allclose(table["diff_scaling_factor"].iloc[1:], [factors["x9_base"], factors["base_equal"]],
                    atol=0, rtol=1e-4)
    assert "negative" in table.loc["base", "note"] and table.loc["equal", "note"] == ""


def test_difference_formulas_on_hand_numbers():
    plain = chisq_difference_test(30.0, 10, 20.0, 8)
    assert plain["chisq_diff"] == 10.0 and plain["df_diff"] == 2
    assert_allclose(plain["pvalue"], np.exp(-5.0))  # chi2(2) survival = exp(-x/2)
    scaled = satorra_bentler_2001(30.0, 10, 1.2, 20.0, 8, 1.1)
    assert_allclose(scaled["scaling_factor"], (12.0 - 8.8) / 2)
    assert_allclose(scaled["chisq_diff"], 10.0 / 1.6)
    negative = satorra_bentler_2001(30.0, 10, 1.0, 20.0, 8, 1.5)
    assert np.isnan(negative["chisq_diff"]) and "negative" in negative["note"]
    assert_allclose(satorra_bentler_2010(30.0, 10, 1.2, 20.0, 8, 1.0)["chisq_diff"], 10.0 / 2.0)
    assert "same degrees of freedom" in chisq_difference_test(30.0, 8, 20.0, 8)["note"]


def test_bad_requests_raise_model_errors(models, mlr_fits):
    mixed = {"x9": mlr_fits["x9"], "base": models["base"]}
    with pytest.raises(ModelError, match="some models have scaled"):
        compare_models(mixed)
    with pytest.raises(ModelError, match="m10_scaling_factors"):
        compare_models(mlr_fits, method="satorra.bentler.2010")
    with pytest.raises(ModelError, match="method must be one of"):
        compare_models(mlr_fits, method="wald")
    with pytest.raises(ModelError, match="needs scaled fits"):
        compare_models(models, method="satorra.bentler.2001")
    with pytest.raises(ModelError, match="fit lacks"):
        compare_models({"a": {"chisq": 1.0}})
    other = StructuralEquationModel("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6").fit(HS)
    with pytest.raises(ModelError, match="same observed variables"):
        semopy_m10_scaling_factor(models["base"].semopy_model_, other.semopy_model_)

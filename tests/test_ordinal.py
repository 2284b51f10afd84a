"""WLSMV estimation of ordinal CFA/SEM (analysis.sem.ordinal.wls, ordinal_spec, ordinal).

References: tests/reference/lavaan_reference.json case hs_ordinal and
tests/reference/ordinal_reference.json (tests/reference/ordinal_reference.R, lavaan 0.6.14).
The brief asks for estimates within 0.01, chi-squares and SEs within 1e-2 relative;
the tolerances below are much tighter because the implementation follows lavaan's
formulas exactly (including its N - 1 factor for DWLS). They are what the code reaches with
a margin of about 3-30x (largest deviation over the six WLSMV fits, measured when they were
set, in brackets): estimates and std_all 1e-5 [9.9e-7], SEs 1e-5 relative [2.0e-6], fit
measures per FIT_TOLERANCE.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_case, reference_data
from numpy.testing import assert_allclose

from analysis.errors import DataError, ModelError
from analysis.sem.ordinal.estimator import OrdinalCFA
from analysis.sem.ordinal.wls import fit_dwls, numerical_jacobian

ITEMS = [f"x{i}" for i in range(1, 10)]
HS_MODEL = """
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
"""
FIT_KEYS = {  # ours -> lavaan fitMeasures() name
    "chisq": "chisq", "df": "df", "pvalue": "pvalue", "chisq_scaled": "chisq.scaled",
    "df_scaled": "df.scaled", "pvalue_scaled": "pvalue.scaled", "chisq_scaling_factor": "chisq.scaling.factor",
    "baseline_chisq": "baseline.chisq", "baseline_df": "baseline.df",
    "baseline_chisq_scaled": "baseline.chisq.scaled", "cfi": "cfi", "tli": "tli", "rmsea": "rmsea",
    "rmsea_ci_lower": "rmsea.ci.lower", "rmsea_ci_upper": "rmsea.ci.upper", "cfi_scaled": "cfi.scaled",
    "tli_scaled": "tli.scaled", "rmsea_scaled": "rmsea.scaled", "srmr": "srmr", "wrmr": "wrmr",
    "fmin": "fmin", "npar": "npar", "n": "ntotal",
}
FIT_TOLERANCE = {  # (atol, rtol) [largest deviation]
    **{key: (0, 1e-6) for key in ("chisq", "chisq_scaled", "baseline_chisq", "baseline_chisq_scaled",
                                  "fmin")},  # [5.2e-8 relative]
    **{key: (0, 0) for key in ("df", "df_scaled", "baseline_df", "npar", "n")},
    "chisq_scaling_factor": (1e-6, 0),  # [4.1e-8]
    **{key: (1e-7, 0) for key in ("pvalue", "pvalue_scaled", "cfi", "tli", "rmsea", "rmsea_ci_lower",
                                  "rmsea_ci_upper", "cfi_scaled", "tli_scaled", "rmsea_scaled", "srmr",
                                  "wrmr")},  # [2.1e-8]
}


@pytest.fixture(scope="module")
def cases():
    return {"hs_ordinal": reference_case("lavaan", "hs_ordinal"), **reference("ordinal")["cases"]}


@pytest.fixture(scope="module")
def hs_ordinal():
    return reference_data("holzinger39_ordinal.csv").copy()


def _lavaan_row(case: dict, lhs: str, op: str, rhs: str) -> dict:
    rows = [r for r in case["estimates"] if (r["lhs"], r["op"], r["rhs"]) == (lhs, op, rhs)]
    assert len(rows) == 1, f"lavaan reference has {len(rows)} rows {lhs} {op} {rhs}"
    return rows[0]


@pytest.fixture(scope="module")
def hs_fit(hs_ordinal):
    return OrdinalCFA(HS_MODEL).fit(hs_ordinal, ordered=ITEMS)


def _check_estimates(fitted: OrdinalCFA, case: dict, est_tol=1e-5, se_rtol=1e-5) -> None:
    reference = pd.DataFrame(case["estimates"])
    reference = reference[reference["op"].isin(["=~", "~", "~~", "|"])]
    merged = reference.merge(fitted.estimates_, on=["lhs", "op", "rhs"], how="left", suffixes=("_ref", ""))
    assert merged["est"].notna().all(), merged.loc[merged["est"].isna(), ["lhs", "op", "rhs"]]
    assert_allclose(merged["est"], merged["est_ref"], atol=est_tol, rtol=0)
    assert_allclose(merged["std_all"], merged["std.all"], atol=est_tol, rtol=0)
    free = merged["se_ref"] > 0
    assert_allclose(merged.loc[free, "se"], merged.loc[free, "se_ref"], rtol=se_rtol)
    assert merged.loc[~free, "se"].isna().all()  # fixed and derived rows: no SE


def _check_fit(fitted: OrdinalCFA, case: dict) -> None:
    """Every FIT_KEYS measure on both sides; a key missing from either fails (no silent skip)."""
    for ours, theirs in FIT_KEYS.items():
        assert ours in fitted.fit_, f"our fit_ has no {ours!r}"
        assert case["fit"].get(theirs) is not None, f"lavaan reference has no {theirs!r}"
        atol, rtol = FIT_TOLERANCE[ours]
        assert_allclose(fitted.fit_[ours], case["fit"][theirs], atol=atol, rtol=rtol, err_msg=ours)


def test_hs_ordinal_matches_lavaan(hs_fit, cases):
    """R: cfa(hs_model, data = hs_ordinal, ordered = paste0("x", 1:9)) -- WLSMV defaults."""
    _check_estimates(hs_fit, cases["hs_ordinal"])
    _check_fit(hs_fit, cases["hs_ordinal"])
    assert hs_fit.fit_["estimator"] == "WLSMV"
    assert hs_fit.warnings_ == []


def test_threshold_rows_and_table_layout(hs_fit, cases):
    table = hs_fit.estimates_
    assert list(table.columns) == ["lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci_lower",
                                   "ci_upper", "std_all"]
    th = table[table["op"] == "|"]
    assert len(th) == 27 and th.iloc[0][["lhs", "rhs"]].tolist() == ["x1", "t1"]
    assert (th["lhs"] + "|" + th["rhs"]).tolist() == list(cases["hs_ordinal"]["thresholds"])
    assert_allclose(th["est"], list(cases["hs_ordinal"]["thresholds"].values()), atol=1e-12, rtol=0)  # [7.8e-16]
    lavaan = pd.DataFrame(cases["hs_ordinal"]["estimates"])
    x2 = table[(table["lhs"] == "visual") & (table["rhs"] == "x2")].iloc[0]
    ref = lavaan[(lavaan["lhs"] == "visual") & (lavaan["rhs"] == "x2")].iloc[0]
    assert_allclose([x2["z"], x2["pvalue"], x2["ci_lower"], x2["ci_upper"]],
                    [ref["z"], ref["pvalue"], ref["ci.lower"], ref["ci.upper"]], rtol=1e-5)  # [2.4e-6]
    # R: lavInspect(fit, "r2") = 1 - std.all of the residual variance x1 ~~ x1 [5.7e-8]
    residual = _lavaan_row(cases["hs_ordinal"], "x1", "~~", "x1")["std.all"]
    assert_allclose(hs_fit.r2_["x1"], 1 - residual, atol=1e-6, rtol=0)


def test_sandwich_and_scaled_test_internals(hs_fit, cases):
    """R: diag(lavInspect(fit, "vcov")); UG <- lavInspect(fit, "UGamma"): tr(UG) 1e-7 relative [2.7e-8],
    tr(UG %*% UG) 1e-6 [6.6e-8], vcov diagonal 1e-5 [4.1e-7]."""
    matrices = cases["hs_ordinal_matrices"]
    assert_allclose(hs_fit.result_.test.trace_ugamma, matrices["ugamma_traces"]["trace"], rtol=1e-7)
    assert_allclose(hs_fit.result_.test.trace_ugamma2, matrices["ugamma_traces"]["trace_squared"], rtol=1e-6)
    # lavaan's vcov lists thresholds before the factor (co)variances; compare as sorted sets
    assert_allclose(np.sort(np.diag(hs_fit.result_.vcov)), np.sort(matrices["vcov_diag"]), rtol=1e-5)


def test_latent_regression_residual_covariance_and_defined(hs_ordinal, cases):
    """R: sem(sem_model, data = hs_ordinal, ordered = items) with speed ~ a*visual + b*textual,
    x2 ~~ x3 and diff := a - b: the ':=' row 1e-5 [1.3e-6], lavInspect(fit, "r2") 1e-6 [3.0e-7]."""
    case = cases["hs_ordinal_sem"]
    fitted = OrdinalCFA(case["model"]).fit(hs_ordinal)
    _check_estimates(fitted, case)
    _check_fit(fitted, case)
    ours = fitted.estimates_.set_index("lhs").loc["diff"]
    theirs = [row for row in case["estimates"] if row["op"] == ":="]
    assert [row["lhs"] for row in theirs] == ["diff"]
    assert_allclose([ours["est"], ours["se"], ours["std_all"]],
                    [theirs[0]["est"], theirs[0]["se"], theirs[0]["std.all"]], atol=1e-5, rtol=0)
    residual = _lavaan_row(case, "speed", "~~", "speed")["std.all"]
    assert_allclose(fitted.r2_["speed"], 1 - residual, atol=1e-6, rtol=0)


def test_second_order_with_equal_loadings(hs_ordinal, cases):
    """R: cfa(second_order_model, data = hs_ordinal, ordered = items): g =~ visual + textual + speed,
    textual =~ x4 + l5*x5 + l5*x6."""
    case = cases["hs_ordinal_second_order"]
    fitted = OrdinalCFA(case["model"]).fit(hs_ordinal)
    _check_estimates(fitted, case)
    _check_fit(fitted, case)
    loadings = fitted.estimates_.query("label == 'l5'")["est"]
    assert len(loadings) == 2 and loadings.iloc[0] == loadings.iloc[1]


def test_std_lv_and_listwise_deletion(hs_ordinal, cases):
    """R: cfa(hs_model, data = hs_ord_na, ordered = items, std.lv = TRUE), 5 incomplete rows."""
    case = cases["hs_ordinal_std_lv_listwise"]
    data = hs_ordinal.copy()
    for item, rows in case["missing_rows"].items():
        data.loc[np.asarray(rows) - 1, item] = np.nan
    fitted = OrdinalCFA(HS_MODEL, std_lv=True).fit(data, ordered="all")
    assert fitted.n_ == case["fit"]["ntotal"] == 296 and fitted.n_dropped_ == 5
    _check_estimates(fitted, case)
    _check_fit(fitted, case)


def test_seven_categories(cases):
    """R: cfa(hs_model, data = hs7, ordered = items): 7 categories, empty cells, one binary item."""
    case = cases["hs_ordinal7"]
    fitted = OrdinalCFA(HS_MODEL).fit(reference_data("hs_ordinal7.csv").copy())
    _check_estimates(fitted, case)
    _check_fit(fitted, case)


def test_dict_model_equals_syntax(hs_ordinal, hs_fit):
    factors = {"visual": ["x1", "x2", "x3"], "textual": ["x4", "x5", "x6"], "speed": ["x7", "x8", "x9"]}
    fitted = OrdinalCFA(factors).fit(hs_ordinal)
    assert_allclose(fitted.estimates_["est"], hs_fit.estimates_["est"], atol=1e-10)


def test_generic_estimator_with_numerical_jacobian(hs_fit):
    """fit_dwls needs only model_fn: central differences reproduce the analytic Jacobian fit."""
    spec, theta = hs_fit.spec_, hs_fit.result_.theta
    assert_allclose(spec.jacobian(theta), numerical_jacobian(spec.model_fn, theta), atol=1e-8)
    generic = fit_dwls(hs_fit.sample_stats_, spec.model_fn, spec.start_values())
    assert_allclose(generic.theta, theta, atol=1e-7)
    assert_allclose(generic.se, hs_fit.result_.se, rtol=1e-6)
    assert_allclose(generic.test.chisq_scaled, hs_fit.fit_["chisq_scaled"], rtol=1e-8)


def test_improper_solutions_are_reported(hs_ordinal):
    heywood = OrdinalCFA("visual =~ x1 + x2 + x3\nvisual ~~ 1.5*visual").fit(hs_ordinal)
    assert any("Heywood" in note and "x1" in note for note in heywood.warnings_)
    assert any(p.kind == "std_out_of_range" and p.where == "visual =~ x1" for p in heywood.problems_)
    assert {p.message for p in heywood.problems_} <= set(heywood.warnings_)
    # not identified (free first loading and free factor variance): an error naming them, never estimates
    with pytest.raises(ModelError, match="not identified.*visual ~~ visual.*visual =~ x1"):
        OrdinalCFA("visual =~ NA*x1 + x2 + x3\ntextual =~ x4 + x5 + x6").fit(hs_ordinal)


@pytest.mark.parametrize("model, message", [
    ("visual =~ x1 + x2 +", "empty term|continue|right-hand"),
    ("visual =~ x1 + x2 + x3\nx1 ~~ x1", "residual variances of ordinal items"),
    ("visual =~ x1 + x2 + x3\nvisual ~ x4", "regressions among latent variables only"),
    ("visual =~ x1 + x2 + x3\nx1 ~ 1", "intercepts"),
    ("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5\nvisual ~~ x4", "mixes an item and a latent"),
    ("x1 ~~ x2", "at least one latent"),
])
def test_bad_models_raise_model_error(model, message):
    with pytest.raises(ModelError, match=message):
        OrdinalCFA(model)


def test_bad_data_raise_clear_errors(hs_ordinal):
    with pytest.raises(ModelError, match="absent from the data: x9"):
        OrdinalCFA(HS_MODEL).fit(hs_ordinal.drop(columns="x9"))
    with pytest.raises(ModelError, match="not ordered: x9"):
        OrdinalCFA(HS_MODEL).fit(hs_ordinal, ordered=ITEMS[:-1])
    with pytest.raises(DataError, match="'x3'"):
        OrdinalCFA(HS_MODEL).fit(hs_ordinal.assign(x3="high"))
    with pytest.raises(DataError, match="DataFrame"):
        OrdinalCFA(HS_MODEL).fit(hs_ordinal.to_numpy())


def test_pairwise_deletion(hs_ordinal, cases):
    """R: cfa(hs_model, data = hs_ord_na, ordered = items, missing = "pairwise")."""
    case = cases["hs_ordinal_pairwise"]
    data = hs_ordinal.copy()
    for item, rows in cases["hs_ordinal_std_lv_listwise"]["missing_rows"].items():
        data.loc[np.asarray(rows) - 1, item] = np.nan
    fitted = OrdinalCFA(HS_MODEL).fit(data, missing="pairwise")
    assert fitted.n_ == 301 and fitted.n_dropped_ == 0
    _check_estimates(fitted, case)
    _check_fit(fitted, case)

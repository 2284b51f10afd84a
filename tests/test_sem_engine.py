"""Parity of the project's own SEM engine (analysis/sem/engine.py) with lavaan 0.6.

Reference numbers: tests/reference/lavaan_reference.json (lavaan_reference.R) and
tests/reference/engine_reference.json (engine_reference.R); every case records the R
calls that produced it under "calls".
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.errors import ConvergenceError, DataError, ModelError
from analysis.sem import information
from analysis.sem.engine.estimator import SEMEngine
from analysis.sem.partable import build_partable
from analysis.sem.syntax import parse_model

REFERENCE = Path(__file__).parent / "reference"
CASES = json.loads((REFERENCE / "lavaan_reference.json").read_text())["cases"]
EXTRA = json.loads((REFERENCE / "engine_reference.json").read_text())["cases"]
TOL = 1e-3  # the parity tolerance
HS_MODEL = CASES["hs_cfa"]["model"]
FIT_KEYS = {"chisq": "chisq", "df": "df", "pvalue": "pvalue", "cfi": "cfi", "tli": "tli", "rmsea": "rmsea",
            "rmsea_ci_lower": "rmsea.ci.lower", "rmsea_ci_upper": "rmsea.ci.upper", "srmr": "srmr",
            "loglik": "logl", "unrestricted_loglik": "unrestricted.logl", "aic": "aic", "bic": "bic",
            "baseline_chisq": "baseline.chisq", "baseline_df": "baseline.df", "npar": "npar", "n": "ntotal"}


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / name)


def _merge(fitted: SEMEngine, reference: list[dict]) -> pd.DataFrame:
    """Our rows joined to lavaan's on (lhs, op, rhs, group); ':=' rows joined on lhs."""
    ref = pd.DataFrame(reference)
    if "group" not in ref:
        ref["group"] = 1
    ref.loc[ref["op"] == ":=", ["group", "rhs"]] = [0, ""]
    ours = fitted.partable_.copy()
    ours.loc[ours["op"] == ":=", "rhs"] = ""
    merged = ours.merge(ref, on=["lhs", "op", "rhs", "group"], suffixes=("", "_ref"))
    assert len(merged) == len(ref) == len(ours), "every lavaan parameter has exactly one counterpart"
    return merged


def _check_fit(fitted: SEMEngine, reference: dict) -> None:
    for ours, theirs in FIT_KEYS.items():
        if theirs in reference and reference[theirs] is not None:
            assert_allclose(fitted.fit_[ours], reference[theirs], atol=TOL, rtol=0, err_msg=ours)


def _check_estimates(fitted: SEMEngine, reference: list[dict]) -> None:
    merged = _merge(fitted, reference)
    assert_allclose(merged["est"], merged["est_ref"], atol=TOL, rtol=0)
    free = merged["se_ref"] > 0
    assert_allclose(merged.loc[free, "se"], merged.loc[free, "se_ref"], atol=TOL, rtol=0)
    assert merged.loc[~free, "se"].isna().all(), "fixed parameters have no standard error"
    assert_allclose(merged["std_all"], merged["std.all"], atol=TOL, rtol=0)


@pytest.fixture(scope="module")
def hs_fit() -> SEMEngine:
    return SEMEngine(HS_MODEL).fit(_data("holzinger39.csv"))


@pytest.fixture(scope="module")
def poldem_fit() -> SEMEngine:
    return SEMEngine(CASES["poldem_sem"]["model"]).fit(_data("political_democracy.csv"))


@pytest.fixture(scope="module")
def fiml_fit() -> SEMEngine:
    return SEMEngine(HS_MODEL, missing="fiml").fit(_data("holzinger39_missing.csv"))


@pytest.fixture(scope="module")
def configural_fit() -> SEMEngine:
    return SEMEngine(HS_MODEL, group="school").fit(_data("holzinger39.csv"))


# ---------------------------------------------------------------------------------- parity
@pytest.mark.parametrize("fixture, reference", [
    ("hs_fit", CASES["hs_cfa"]), ("poldem_fit", CASES["poldem_sem"]), ("fiml_fit", CASES["hs_fiml"]),
    ("configural_fit", CASES["hs_invariance"]["steps"]["configural"]),
])
def test_fit_and_estimates_match_lavaan(fixture, reference, request):
    """R: cfa(hs_model, data = hs); sem(poldem_model, data = poldem);
    cfa(hs_model, data = hs_missing, missing = "fiml"); cfa(hs_model, data = hs, group = "school")
    -- fitMeasures() and parameterEstimates(standardized = TRUE): est, se, std.all within 1e-3."""
    fitted = request.getfixturevalue(fixture)
    assert fitted.converged_
    _check_fit(fitted, reference["fit"])
    _check_estimates(fitted, reference["estimates"])


@pytest.mark.parametrize("case, options", [
    ("covariates", {}),
    ("path", {}),
    ("std_lv", {"std_lv": True, "meanstructure": True}),
    ("second_order", {}),
    ("multigroup_partial", {"group": "school", "group_equal": ("loadings", "intercepts"),
                            "group_partial": ("x3 ~ 1", "speed =~ x9")}),
    ("fiml_multigroup", {"group": "school", "group_equal": ("loadings",), "missing": "fiml"}),
    ("fiml_covariate", {"missing": "fiml"}),
])
def test_more_models_match_lavaan(case, options):
    """R calls in tests/reference/engine_reference.R, e.g. sem(covariate_model, data = hs) (fixed.x
    covariates), cfa(..., std.lv = TRUE, meanstructure = TRUE), second-order factor, c(v2a, v2b) labels
    with group.partial and a ':=' difference, multigroup FIML, FIML with a covariate."""
    reference = EXTRA[case]
    fitted = SEMEngine(reference["model"], **options).fit(_data(Path(reference["data"]).name))
    _check_fit(fitted, reference["fit"])
    _check_estimates(fitted, reference["estimates"])


def test_fiml_uses_every_row_and_says_so(fiml_fit):
    """R: lavInspect(cfa(..., missing = "fiml"), "ntotal") = 301 (no row is entirely missing)."""
    assert fiml_fit.fit_["n"] == fiml_fit.n_ == 301
    assert fiml_fit.fit_["missing"] == "fiml" and fiml_fit.information == "observed"
    assert fiml_fit.warnings_[0].startswith("FIML: n = 301 rows with at least one observed value")


def test_fiml_expected_information_standard_errors():
    """R: cfa(hs_model, data = hs_missing, missing = "fiml", information = "expected")."""
    fitted = SEMEngine(HS_MODEL, missing="fiml", information="expected").fit(_data("holzinger39_missing.csv"))
    _check_estimates(fitted, EXTRA["fiml_extras"]["estimates_expected"])


def test_implied_covariance_matches_lavaan(hs_fit):
    """R: lavInspect(cfa(hs_model, data = hs), "implied")$cov."""
    ref = CASES["hs_cfa"]["implied_cov"]
    ours = hs_fit.implied_["all"]["cov"].loc[ref["rownames"], ref["colnames"]]
    assert_allclose(ours.to_numpy(), np.array(ref["values"]), atol=1e-5)


def test_defined_parameter_and_r_squared(poldem_fit):
    """R: parameterEstimates(...) row 'ind := a*b' and lavInspect(fit, "r2")."""
    row = poldem_fit.estimates_.query("op == ':='").iloc[0]
    ref = next(r for r in CASES["poldem_sem"]["estimates"] if r["op"] == ":=")
    assert_allclose([row.est, row.se, row.std_all, row.ci_lower], [ref["est"], ref["se"], ref["std.all"],
                                                                   ref["ci.lower"]], atol=TOL)
    for name, value in CASES["poldem_sem"]["r2"].items():
        assert_allclose(poldem_fit.r2_[name], value, atol=TOL, err_msg=name)


@pytest.mark.parametrize("fixture", ["hs_fit", "poldem_fit"])
def test_agrees_with_the_semopy_model(fixture, request):
    """The engine and the semopy-based StructuralEquationModel fit the same ML model."""
    from analysis.sem.semopy_engine import StructuralEquationModel

    fitted = request.getfixturevalue(fixture)
    data = _data("holzinger39.csv" if fixture == "hs_fit" else "political_democracy.csv")
    semopy_fit = StructuralEquationModel(fitted.model_syntax).fit(data)
    for key in ("chisq", "df", "cfi", "tli", "rmsea", "srmr", "loglik", "aic", "bic"):
        assert_allclose(fitted.fit_[key], semopy_fit.fit_[key], atol=TOL, err_msg=key)
    theirs = semopy_fit.estimates_.set_index(["lhs", "op", "rhs"])
    ours = fitted.estimates_.set_index(["lhs", "op", "rhs"])
    swapped = {(r, o, l): k for k in theirs.index for l, o, r in [k] if o == "~~"}
    keys = [k if k in theirs.index else swapped[k] for k in ours.index]
    assert_allclose(ours["est"].to_numpy(), theirs.loc[keys, "est"].to_numpy(), atol=TOL)
    assert_allclose(ours["std_all"].to_numpy(), theirs.loc[keys, "std_all"].to_numpy(), atol=TOL)


def test_information_jacobian_and_scores_match_lavaan(hs_fit):
    """R: lavInspect(fit, "information.expected" / "information.observed" / "delta") and
    lavScores(cfa(hs_model, data = hs, meanstructure = TRUE))."""
    ref = EXTRA["hs_information"]
    assert_allclose(information.expected_information(hs_fit), ref["information_expected"], atol=1e-4)
    assert_allclose(information.observed_information(hs_fit), ref["information_observed"], atol=1e-4)
    assert_allclose(information.moment_jacobian(hs_fit)[0], ref["delta"], atol=1e-4)
    sigma = hs_fit.implied_["all"]["cov"].to_numpy()
    delta = information.moment_jacobian(hs_fit)[0]
    weight = information.normal_weight(sigma, meanstructure=False)
    assert_allclose(delta.T @ weight @ delta, information.expected_information(hs_fit), atol=1e-12)
    with_means = SEMEngine(HS_MODEL, meanstructure=True).fit(_data("holzinger39.csv"))
    scores = information.casewise_scores(with_means)
    assert scores.shape == (301, 30)
    assert_allclose(scores[:5], ref["scores_meanstructure_first5"], atol=1e-4)
    assert_allclose(scores.sum(axis=0), 0.0, atol=1e-6)
    vcov = information.parameter_covariance(hs_fit)
    assert_allclose(vcov, hs_fit.vcov_)


# ---------------------------------------------------------------------------------- syntax
def test_syntax_features():
    """Comments (# and !), ';', continuation lines, NA*x + label merge, start(), c() per group,
    duplicate (co)variances, several left-hand sides, intercepts and label equalities."""
    parsed = parse_model("""
    # comment
    f =~ NA*x1 + a*x1 + x2 +   ! comment
         start(0.7)*x3
    g =~ x4 + x5; g ~~ 1*g
    x1 ~~ x2
    x2 ~~ x1
    x4 + x5 ~ 1
    x1 ~~ e1*x1
    x2 ~~ e2*x2
    e1 == e2
    """)
    rows = {(r.lhs, r.op, r.rhs): r for r in parsed.rows}
    assert rows[("f", "=~", "x1")].fixed == (None,) and rows[("f", "=~", "x1")].label == ("a",)
    assert rows[("f", "=~", "x3")].start == (0.7,)
    assert ("x2", "~~", "x1") not in rows and ("x4", "~1", "") in rows and ("x5", "~1", "") in rows
    table, variables = build_partable(parsed)
    by_key = table.set_index(["lhs", "op", "rhs"])
    assert by_key.loc[("f", "=~", "x1"), "free"] > 0  # NA* frees the marker
    assert by_key.loc[("g", "=~", "x4"), "free"] == 0 and by_key.loc[("g", "~~", "g"), "ustart"] == 1
    assert by_key.loc[("x1", "~~", "x1"), "free"] == by_key.loc[("x2", "~~", "x2"), "free"]
    assert (table["op"] == "~1").sum() == len(variables.ov) + len(variables.lv)  # mean structure switched on


def test_partable_defaults_match_lavaan_sem():
    """lavaan sem(): exogenous latent covariances, covariances of final outcomes (auto.cov.y),
    fixed-x covariates, first loading fixed."""
    table, variables = build_partable(parse_model(EXTRA["covariates"]["model"] + "\nx9 ~ ageyr"))
    keys = set(zip(table["lhs"], table["op"], table["rhs"]))
    assert variables.ov_x == ("ageyr", "sex")
    assert ("textual", "~~", "x9") in keys  # both are final outcomes
    assert ("ageyr", "~~", "sex") in keys and table.query("lhs == 'ageyr' and op == '~~'")["exo"].eq(1).all()
    assert table.query("op == '=~' and rhs in ['x1', 'x4']")["free"].eq(0).all()


def test_multigroup_labels_need_one_value_per_group():
    with pytest.raises(ModelError, match=r"line 1: label c\(...\) of 'f =~ x2' has 3 values but the model has 2"):
        SEMEngine("f =~ x1 + c(a, b, c)*x2 + x3", group="school").fit(_data("holzinger39.csv"))


@pytest.mark.parametrize("syntax, message", [
    ("f =~ x1 + x2 + x3\ng <- x4", r"line 2: the operator '<-'"),
    ("f =~ x1 + x2 + x3\nf <~ x4", r"line 2: formative"),
    ("f =~ x1 + + x2", r"line 1 .*empty term"),
    ("f =~ x1 + 2x*x2", r"cannot read modifier '2x'"),
    ("f x1 x2", r"line 1: no operator"),
    ("f =~ x1 + x2 + x3\nind := a*b", r"unknown label\(s\) a, b"),
    ("f =~ x1 + x2 + x3\na == b", r"equality uses unknown label"),
    ("", "non-empty"),
])
def test_syntax_errors_name_the_line(syntax, message):
    with pytest.raises(ModelError, match=message):
        SEMEngine(syntax)


# ---------------------------------------------------------------------------------- input errors
def test_unknown_variables_are_listed_with_the_available_columns():
    with pytest.raises(ModelError, match=r"neither latent nor columns of the data: x99, foo; available columns: id, "):
        SEMEngine("f =~ x1 + x2 + x99 + foo").fit(_data("holzinger39.csv"))


@pytest.mark.parametrize("options, error, message", [
    ({"estimator": "MLR"}, ModelError, "estimator must be 'ML'"),
    ({"missing": "pairwise"}, ModelError, "missing must be 'listwise' or 'fiml'"),
    ({"group_equal": ("loadings",)}, ModelError, "needs a grouping column"),
])
def test_bad_options(options, error, message):
    with pytest.raises(error, match=message):
        SEMEngine(HS_MODEL, **options)


def test_data_errors():
    data = _data("holzinger39.csv")
    with pytest.raises(ModelError, match="group column 'nope' not found"):
        SEMEngine(HS_MODEL, group="nope").fit(data)
    with pytest.raises(ModelError, match="unknown option"):
        SEMEngine(HS_MODEL, group="school", group_equal=("weights",)).fit(data)
    with pytest.raises(DataError, match="column 'school' must be numeric.*'Pasteur' at row 0"):
        SEMEngine("f =~ x1 + x2 + school").fit(data)
    with pytest.raises(DataError, match="only 5 usable rows"):
        SEMEngine(HS_MODEL).fit(data.head(5))
    with pytest.raises(DataError, match="zero variance"):
        SEMEngine(HS_MODEL).fit(data.assign(x3=1.0))
    with pytest.raises(ModelError, match=r"4 free parameters but only 3 sample moments \(df = -1\)"):
        SEMEngine("f =~ x1 + x2").fit(data)


def test_listwise_deletion_is_counted():
    data = _data("holzinger39.csv")
    data.loc[:9, "x1"] = np.nan
    fitted = SEMEngine(HS_MODEL).fit(data)
    assert fitted.fit_["n"] == 291 and fitted.fit_["n_dropped"] == 10
    assert any("10 row(s) dropped" in w for w in fitted.warnings_)


# ---------------------------------------------------------------------------------- improper solutions
def _heywood_data() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    target = np.array([[1, 0.85, 0.85], [0.85, 1, 0.6], [0.85, 0.6, 1]])
    z = rng.normal(size=(200, 3))
    z = (z - z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False, bias=True))).T
    return pd.DataFrame(z @ np.linalg.cholesky(target).T, columns=["a", "b", "c"])


def test_heywood_case_is_reported_not_raised():
    fitted = SEMEngine("f =~ a + b + c").fit(_heywood_data())
    assert fitted.converged_
    heywood = [p for p in fitted.problems_ if p.kind == "heywood"]
    assert [p.where for p in heywood] == ["a ~~ a"] and heywood[0].value < 0
    assert any(p.kind == "std_out_of_range" and p.where == "f =~ a" for p in fitted.problems_)
    assert {p.message for p in fitted.problems_} <= set(fitted.warnings_)  # reported, not only recorded
    assert any("negative" in w and "a ~~ a" not in w and " a " in w for w in fitted.warnings_)


def test_unidentified_model_is_reported():
    fitted = SEMEngine("f1 =~ x1 + x2\nf2 =~ x3 + x4\nf1 ~~ 0*f2").fit(_data("holzinger39.csv"))
    assert any("may not be identified" in w for w in fitted.warnings_)
    assert fitted.estimates_.query("op != '~~' or lhs != rhs")["se"].isna().all()


def test_infeasible_fixed_values_are_a_convergence_error():
    with pytest.raises(ConvergenceError, match="positive-definite"):
        SEMEngine("f =~ x1 + x2 + x3\nx1 ~~ -5*x1\nx2 ~~ -5*x2\nx3 ~~ -5*x3\nf ~~ 0*f").fit(_data("holzinger39.csv"))

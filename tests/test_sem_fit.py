"""Parity of the SEM layer with lavaan 0.6 (reference numbers in tests/reference/).

The R calls that produced every number are in tests/reference/lavaan_reference.R and
recorded per case in lavaan_reference.json ("calls").
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.errors import DataError, ModelError
from analysis.sem import StructuralEquationModel, bootstrap_effects, structural_effects

REFERENCE = Path(__file__).parent / "reference"
CASES = json.loads((REFERENCE / "lavaan_reference.json").read_text())["cases"]
TOL = 1e-3  # the parity tolerance for statistics and estimates

HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
FIT_KEYS = {"chisq": "chisq", "df": "df", "cfi": "cfi", "tli": "tli", "rmsea": "rmsea",
            "rmsea_ci_lower": "rmsea.ci.lower", "rmsea_ci_upper": "rmsea.ci.upper", "srmr": "srmr",
            "loglik": "logl", "aic": "aic", "bic": "bic", "n": "ntotal", "baseline_chisq": "baseline.chisq"}


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / f"{name}.csv")


@pytest.fixture(scope="module")
def hs_fit() -> StructuralEquationModel:
    return StructuralEquationModel(HS_MODEL).fit(_data("holzinger39"))


@pytest.fixture(scope="module")
def poldem_fit() -> StructuralEquationModel:
    return StructuralEquationModel(CASES["poldem_sem"]["model"]).fit(_data("political_democracy"))


def _merge(ours: pd.DataFrame, reference: list[dict]) -> pd.DataFrame:
    ref = pd.DataFrame(reference)
    ref = ref[ref["op"].isin(["=~", "~", "~~"])]
    merged = ours.merge(ref, on=["lhs", "op", "rhs"], suffixes=("", "_ref"), how="inner")
    # lavaan may list a covariance as (a, b) where semopy lists (b, a)
    swapped = ours.rename(columns={"lhs": "rhs", "rhs": "lhs"}).merge(
        ref[ref["op"] == "~~"], on=["lhs", "op", "rhs"], suffixes=("", "_ref"), how="inner")
    merged = pd.concat([merged, swapped[swapped["lhs"] != swapped["rhs"]]]).drop_duplicates(["lhs", "op", "rhs"])
    assert len(merged) == len(ref), "every lavaan parameter has a counterpart"
    return merged


@pytest.mark.parametrize("case, fixture", [("hs_cfa", "hs_fit"), ("poldem_sem", "poldem_fit")])
def test_fit_measures_match_lavaan(case, fixture, request):
    """R: fitMeasures(cfa(HS.model, data = HS)) and fitMeasures(sem(poldem_model, data = poldem))."""
    fitted = request.getfixturevalue(fixture)
    reference = CASES[case]["fit"]
    for ours, theirs in FIT_KEYS.items():
        assert_allclose(fitted.fit_[ours], reference[theirs], atol=TOL, rtol=0, err_msg=ours)


@pytest.mark.parametrize("case, fixture", [("hs_cfa", "hs_fit"), ("poldem_sem", "poldem_fit")])
def test_estimates_match_lavaan(case, fixture, request):
    """R: parameterEstimates(fit, standardized = TRUE): est, se, std.all within 1e-3."""
    fitted = request.getfixturevalue(fixture)
    merged = _merge(fitted.estimates_, CASES[case]["estimates"])
    assert_allclose(merged["est"], merged["est_ref"], atol=TOL, rtol=0)
    free = merged["se_ref"] > 0
    assert_allclose(merged.loc[free, "se"], merged.loc[free, "se_ref"], atol=TOL, rtol=0)
    assert_allclose(merged["std_all"], merged["std.all"], atol=TOL, rtol=0)
    assert_allclose(merged.loc[free, "ci_lower"], merged.loc[free, "ci.lower"], atol=2 * TOL, rtol=0)


def test_political_democracy_headline_paths(poldem_fit):
    """DOMAIN.md: dem60~ind60 1.483 (SE .399), dem65~ind60 .572, dem65~dem60 .837."""
    est = poldem_fit.estimates_.set_index(["lhs", "op", "rhs"])
    assert_allclose(est.loc[("dem60", "~", "ind60"), "est"], 1.483, atol=1e-3)
    assert_allclose(est.loc[("dem60", "~", "ind60"), "se"], 0.399, atol=1e-3)
    assert_allclose(est.loc[("dem65", "~", "ind60"), "est"], 0.572, atol=1e-3)
    assert_allclose(est.loc[("dem65", "~", "dem60"), "est"], 0.837, atol=1e-3)


def test_labels_are_carried_into_the_table(poldem_fit):
    labelled = poldem_fit.estimates_.query("label != ''")
    assert set(labelled.query("op == '~'")["label"]) == {"a", "b"}
    assert labelled.query("op == ':='")["lhs"].tolist() == ["ind"]


def test_indirect_effect_matches_lavaan_defined_parameter(poldem_fit):
    """R: sem(... dem60 ~ a*ind60; dem65 ~ b*dem60; ind := a*b): est 1.2418, std.all .3954."""
    ref = next(r for r in CASES["poldem_sem"]["estimates"] if r["op"] == ":=")
    raw = structural_effects(poldem_fit.structure_, [("ind60", "dem65")], standardized=False)
    std = structural_effects(poldem_fit.structure_, [("ind60", "dem65")], standardized=True)
    assert_allclose(raw["indirect"].iloc[0], ref["est"], atol=TOL)
    assert_allclose(std["indirect"].iloc[0], ref["std.all"], atol=TOL)


def test_r_squared_matches_lavaan(poldem_fit):
    """R: lavInspect(fit, "r2")."""
    ref = CASES["poldem_sem"]["r2"]
    for name, value in ref.items():
        assert_allclose(poldem_fit.r2_[name], value, atol=TOL, err_msg=name)


def test_bootstrap_is_reproducible_and_independent_of_workers(poldem_fit):
    data = _data("political_democracy")
    pairs = [("ind60", "dem65")]
    serial = bootstrap_effects(poldem_fit, data, pairs, n_draws=40, random_state=7, n_jobs=1)
    parallel = bootstrap_effects(poldem_fit, data, pairs, n_draws=40, random_state=7, n_jobs=2)
    pd.testing.assert_frame_equal(serial.draws, parallel.draws)
    pd.testing.assert_frame_equal(serial.summary, parallel.summary)
    row = serial.summary.query("kind == 'indirect'").iloc[0]
    assert row.ci_lower < row.est < row.ci_upper
    assert row.n_draws + row.n_failed == 40


def test_bootstrap_se_is_close_to_delta_method(poldem_fit):
    """lavaan's delta-method SE of ind := a*b is 0.3554; a 300-draw bootstrap SE must be near it."""
    data = _data("political_democracy")
    result = bootstrap_effects(poldem_fit, data, [("ind60", "dem65")], n_draws=300, random_state=3,
                               n_jobs=2, standardized=False)
    boot_se = result.summary.query("kind == 'indirect'")["boot_se"].iloc[0]
    delta_se = next(r for r in CASES["poldem_sem"]["estimates"] if r["op"] == ":=")["se"]
    assert 0.7 * delta_se < boot_se < 1.4 * delta_se


def test_listwise_deletion_is_reported():
    data = _data("holzinger39")
    data.loc[:9, "x1"] = np.nan
    fitted = StructuralEquationModel(HS_MODEL).fit(data)
    assert fitted.n_ == 291 and fitted.n_dropped_ == 10 and fitted.fit_["n"] == 291


def test_unknown_variable_is_a_model_error():
    with pytest.raises(ModelError, match="absent from the data: x99"):
        StructuralEquationModel("f =~ x1 + x2 + x99").fit(_data("holzinger39"))


def test_non_numeric_column_is_a_data_error():
    data = _data("holzinger39").astype({"x2": object})
    data.loc[5, "x2"] = "n/a"
    with pytest.raises(DataError, match=r"column 'x2' must be numeric.*'n/a' at index 5"):
        StructuralEquationModel(HS_MODEL).fit(data)


def test_too_few_rows_is_a_data_error():
    with pytest.raises(DataError, match="only 5 complete rows"):
        StructuralEquationModel(HS_MODEL).fit(_data("holzinger39").head(5))


def test_bad_syntax_is_a_model_error():
    with pytest.raises(ModelError):
        StructuralEquationModel("this is not a model")


def test_defined_parameter_row_matches_lavaan(poldem_fit):
    """R: parameterEstimates(sem(... ind := a*b ...), standardized = TRUE) row ':='."""
    ref = next(r for r in CASES["poldem_sem"]["estimates"] if r["op"] == ":=")
    row = poldem_fit.estimates_.query("op == ':='").iloc[0]
    assert_allclose([row.est, row.se, row.std_all, row.ci_lower], [ref["est"], ref["se"], ref["std.all"], ref["ci.lower"]],
                    atol=TOL)


def test_defined_parameter_with_unknown_label_is_a_model_error():
    with pytest.raises(ModelError, match="unknown label"):
        StructuralEquationModel(HS_MODEL + "\nind := a*b")


def test_factor_scores_match_lavpredict(hs_fit):
    """R: lavPredict(cfa(HS.model, data = hs), method = "regression") (first ten rows), 1e-6."""
    ref = json.loads((REFERENCE / "factor_scores_reference.json").read_text())
    expected = pd.DataFrame(ref["scores"])
    scores = hs_fit.factor_scores(_data("holzinger39")).head(10)
    assert_allclose(scores[expected.columns].to_numpy(), expected.to_numpy(), atol=1e-6)


def test_mlr_matches_lavaan():
    """R: cfa(HS.model, data = hs, estimator = "MLR"): robust SEs and scaled/robust indices, 1e-3."""
    case = CASES["hs_mlr"]
    fitted = StructuralEquationModel(HS_MODEL, estimator="MLR").fit(_data("holzinger39"))
    for ours, theirs in {"chisq_scaled": "chisq.scaled", "chisq_scaling_factor": "chisq.scaling.factor",
                         "cfi_robust": "cfi.robust", "rmsea_robust": "rmsea.robust", "cfi_scaled": "cfi.scaled",
                         "tli_scaled": "tli.scaled", "rmsea_scaled": "rmsea.scaled"}.items():
        assert_allclose(fitted.fit_[ours], case["fit"][theirs], atol=TOL, err_msg=ours)
    merged = _merge(fitted.estimates_, case["estimates"])
    free = merged["se_ref"] > 0
    assert_allclose(merged.loc[free, "se"], merged.loc[free, "se_ref"], atol=TOL)
    assert fitted.fit_["estimator"] == "MLR"


def test_unknown_estimator_is_a_config_error():
    from analysis.errors import ConfigError

    with pytest.raises(ConfigError, match="expected one of ML, MLR"):
        StructuralEquationModel(HS_MODEL, estimator="GLS")


@pytest.mark.parametrize("missing", ["listwise", "fiml"])
def test_a_user_fixed_variance_is_not_a_heywood_case(missing):
    """x1 ~~ 0*x1 is the user's choice; only estimated variances at or below 0 are improper."""
    from analysis.sem.api import fit_model

    fitted = fit_model(_data("holzinger39"), HS_MODEL + "\nx1 ~~ 0*x1", missing=missing)
    assert not [p for p in fitted.problems_ if p.kind == "heywood"]

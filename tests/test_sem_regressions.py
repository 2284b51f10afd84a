"""Regression cases where a fit once disagreed with lavaan, checked on every route.

Continuous cases (each once gave a wrong answer on the semopy route): lavaan's
``Demo.growth`` written out with ``sem()`` (``i ~ 1``, ``t1 ~ 0*1``), with and without
observed covariates; std.lv identification written out (``NA*x1``, ``visual ~~ 1*visual``);
``t5 == t6``; a bound ``v1 > 0.6`` that binds; a mediation with an observed exogenous
predictor (``fixed.x = TRUE``: df 0, not 1), observed and latent; MLR; FIML. Each runs
through ``fit_model`` and through ``python -m analysis fit``, and the complete-data cases
also with ``--missing fiml`` (same estimates and chi-square as ML on complete data; lavaan's
FIML standard errors use the observed information, so they are not compared there).
Tolerances (measured deviation in brackets): estimates 1e-5 [4.4e-6], standard errors
1e-6 [2.7e-7], chi-square relative 1e-8; the bound case 1e-4 on estimates, because
lavaan's constrained optimiser stops with the bounded variance 3.5e-8 inside the bound
and the other estimates up to 6.6e-5 from the exact constrained optimum (its objective is
4e-10 lower only through that violation).

Reference: tests/reference/regression_reference.json, written by
``Rscript tests/reference/regression_reference.R`` (each case records its R calls). The
cases run through the Python API and through ``python -m analysis fit``.

``bfi_wlsmv_reverse_first``: psych's ``bfi`` agreeableness items with the reverse-keyed
A1 as the first (marker) indicator, ``cfa(model, data = bfi, ordered = c("A1", ...,
"A5"), estimator = "WLSMV")``. With constant start values the DWLS fit once ran to a
loading of 251103 and χ² 1603; starts from the polychoric correlations give lavaan's
solution. Tolerances: the estimates and χ² agree to about 1e-6, standard errors to
about 1e-7 (measured: 1.1e-6 and 6.7e-8), so 1e-5 and 1e-6 leave a margin of ten.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE_DATA, reference_case, reference_data

from analysis.cli.main import main
from analysis.sem.api import fit_model

ORDINAL_CASES = ["bfi_wlsmv_reverse_first", "bfi_wlsmv_two_factor"]
#: case -> (data file, fit_model options); the file has complete rows unless noted
CONTINUOUS = {
    "growth_demo": ("demo_growth.csv", {}),
    "growth_demo_covariates": ("demo_growth.csv", {}),
    "hs_stdlv_written_out": ("holzinger39.csv", {}),
    "hs_equality": ("holzinger39.csv", {}),
    "hs_inequality": ("holzinger39.csv", {}),
    "bfi_mediation_observed": ("bfi_scales.csv", {}),
    "bfi_mediation_latent": ("bfi.csv", {}),  # missing values: listwise, as lavaan
    "hs_mlr": ("holzinger39.csv", {"estimator": "MLR"}),
    "hs_fiml": ("holzinger39_missing.csv", {"missing": "fiml"}),
}
COMPLETE = ["growth_demo", "growth_demo_covariates", "hs_stdlv_written_out", "hs_equality",
            "bfi_mediation_observed"]
FIT_KEYS = [("chisq", "chisq"), ("df", "df"), ("cfi", "cfi"), ("tli", "tli"), ("rmsea", "rmsea"), ("npar", "npar")]


def _compare_continuous(estimates: pd.DataFrame, fit: dict, case: dict, name: str, *, with_se: bool = True) -> None:
    ref = pd.DataFrame(case["estimates"])
    ref = ref[ref["op"] != "~1"] if not with_se else ref
    merged = ref.merge(estimates, on=["lhs", "op", "rhs"], how="left", suffixes=("_ref", ""), indicator=True)
    missing = merged.loc[merged["_merge"] != "both", ["lhs", "op", "rhs"]]
    assert missing.empty, f"{name}: rows lavaan reports but the fit does not: {missing.to_dict('records')}"
    est_tol = 1e-4 if name == "hs_inequality" else 1e-5
    np.testing.assert_allclose(merged["est"], merged["est_ref"], atol=est_tol, rtol=0, err_msg=f"{name}: est")
    if with_se:
        free = merged["se_ref"].fillna(0) > 0
        assert merged.loc[~free & merged["op"].ne(":="), "se"].isna().all(), f"{name}: fixed rows have no SE"
        se_tol = 1e-4 if name == "hs_inequality" else 1e-6
        np.testing.assert_allclose(merged.loc[free, "se"], merged.loc[free, "se_ref"], atol=se_tol, rtol=0,
                                   err_msg=f"{name}: se")
    for ours, theirs in FIT_KEYS:
        if case["fit"][theirs] is None or (ours == "npar" and not with_se):
            continue  # FIML adds the intercepts to the free parameters
        np.testing.assert_allclose(fit[ours], case["fit"][theirs], rtol=1e-8, atol=1e-9, err_msg=f"{name}: {ours}")
    assert fit["n"] == case["n"], f"{name}: n"


def _cli_fit(tmp_path, name: str, *extra: str) -> tuple[pd.DataFrame, dict]:
    case = reference_case("regression", name)
    model = tmp_path / f"{name}.lav"
    model.write_text(case["model"], encoding="utf-8")
    out = tmp_path / "out"
    options = CONTINUOUS[name][1]
    args = ["fit", "--data", str(REFERENCE_DATA / CONTINUOUS[name][0]), "--model", str(model), "--out", str(out)]
    for key, value in options.items():
        args += [f"--{key}", value]
    assert main([*args, *extra]) == 0
    estimates = pd.read_csv(out / "estimates.csv")
    estimates[["rhs", "label"]] = estimates[["rhs", "label"]].fillna("")  # '~1' rows have no rhs
    return estimates, json.loads((out / "fit.json").read_text())


@pytest.mark.parametrize("name", list(CONTINUOUS))
def test_continuous_regressions_match_lavaan_through_the_api(name):
    case = reference_case("regression", name)
    data_file, options = CONTINUOUS[name]
    fitted = fit_model(reference_data(data_file), case["model"], **options)
    _compare_continuous(fitted.estimates_, fitted.fit_, case, name)


@pytest.mark.parametrize("name", list(CONTINUOUS))
def test_continuous_regressions_match_lavaan_through_the_cli(name, tmp_path):
    estimates, fit = _cli_fit(tmp_path, name)
    _compare_continuous(estimates, fit, reference_case("regression", name), name)


@pytest.mark.parametrize("name", COMPLETE)
def test_complete_data_cases_give_the_same_answer_under_fiml(name, tmp_path):
    estimates, fit = _cli_fit(tmp_path, name, "--missing", "fiml")
    _compare_continuous(estimates, fit, reference_case("regression", name), name, with_se=False)


def test_the_bound_binds_and_keeps_the_parameter_counted():
    """R: sem(hs_model + 'x1 ~~ v1*x1; v1 > 0.6'): v1 = 0.6 (lavaan 0.599999965), no SE, npar 21, df 24."""
    case = reference_case("regression", "hs_inequality")
    fitted = fit_model(reference_data("holzinger39.csv"), case["model"])
    row = fitted.estimates_.query("label == 'v1'").iloc[0]
    assert row["est"] == 0.6 and np.isnan(row["se"])
    assert (fitted.fit_["npar"], fitted.fit_["df"]) == (21, 24)


def _compare(estimates: pd.DataFrame, fit: dict, case: dict) -> None:
    ref = pd.DataFrame(case["estimates"])
    latents = set(ref.loc[ref["op"] == "=~", "lhs"])
    # loadings, thresholds and the factor (co)variances: the free parameters of the delta
    # parameterization (item residual variances are implied, not estimated)
    ref = ref[ref["op"].isin(["=~", "|"]) | (ref["op"].eq("~~") & ref["lhs"].isin(latents))]
    merged = ref.merge(estimates, on=["lhs", "op", "rhs"], how="left", suffixes=("_ref", ""), indicator=True)
    missing = merged.loc[merged["_merge"] != "both", ["lhs", "op", "rhs"]]
    assert missing.empty, f"rows lavaan reports but the fit does not: {missing.to_dict('records')}"
    np.testing.assert_allclose(merged["est"], merged["est_ref"], atol=1e-5, rtol=0)
    free = merged["se_ref"] > 0  # lavaan gives fixed parameters se = 0, the workbench leaves it empty
    assert merged.loc[~free, "se"].isna().all()
    np.testing.assert_allclose(merged.loc[free, "se"], merged.loc[free, "se_ref"], atol=1e-6, rtol=0)
    for ours, theirs in [("chisq", "chisq"), ("chisq_scaled", "chisq.scaled"), ("df", "df"),
                         ("cfi_scaled", "cfi.scaled"), ("rmsea_scaled", "rmsea.scaled")]:
        np.testing.assert_allclose(fit[ours], case["fit"][theirs], rtol=1e-6, atol=1e-8, err_msg=ours)
    assert fit["n"] == case["n"]


@pytest.mark.parametrize("name", ORDINAL_CASES)
def test_wlsmv_with_a_reverse_keyed_marker_matches_lavaan(name):
    case = reference_case("regression", name)
    fitted = fit_model(reference_data("bfi.csv"), case["model"], estimator="WLSMV")
    _compare(fitted.estimates_, fitted.fit_, case)
    loadings = fitted.estimates_.query("op == '=~' and rhs in ['A2', 'A3', 'A4', 'A5']")["est"]
    assert (loadings < 0).all()  # the reverse-keyed marker turns the others negative


def test_wlsmv_regression_through_the_cli(tmp_path):
    case = reference_case("regression", "bfi_wlsmv_reverse_first")
    model = tmp_path / "agreeableness.lav"
    model.write_text(case["model"], encoding="utf-8")
    out = tmp_path / "out"
    assert main(["fit", "--data", str(REFERENCE_DATA / "bfi.csv"), "--model", str(model), "--estimator", "WLSMV",
                 "--out", str(out)]) == 0
    _compare(pd.read_csv(out / "estimates.csv"), json.loads((out / "fit.json").read_text()), case)


def test_an_improper_solution_is_a_warning_on_the_terminal(tmp_path, capsys):
    """A negative residual variance (Heywood case) is fitted, reported in fit.json and said on stderr."""
    data = reference_data("holzinger39.csv")
    model = tmp_path / "heywood.lav"
    # two indicators per factor and x3 forced onto 'visual' with a huge loading: an improper solution
    model.write_text("visual =~ x1 + 5*x2\nx2 ~~ x2", encoding="utf-8")
    out = tmp_path / "out"
    code = main(["fit", "--data", str(REFERENCE_DATA / "holzinger39.csv"), "--model", str(model), "--out", str(out)])
    err = capsys.readouterr().err
    fit = json.loads((out / "fit.json").read_text())
    assert code == 0 and len(data) == fit["n"]
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert warnings and fit["warnings"] and all(len(line) < 400 for line in warnings)


def test_a_non_identified_model_names_the_parameters(tmp_path):
    from analysis.errors import ModelError

    data = reference_data("holzinger39.csv")
    # a factor with one indicator and a free loading, variance and residual: not identified
    with pytest.raises(ModelError, match="not identified") as caught:
        fit_model(data, "visual =~ x1 + x2 + x3\nsolo =~ NA*x4\nsolo ~~ solo")
    assert "solo" in str(caught.value) and "\n" not in str(caught.value)


def test_unsupported_constructs_are_named():
    from analysis.errors import ModelError

    data = reference_data("holzinger39.csv")
    with pytest.raises(ModelError, match=r"efa\(\) blocks .* not supported"):
        fit_model(data, 'efa("e1")*f1 + efa("e1")*f2 =~ x1 + x2 + x3 + x4 + x5 + x6')
    with pytest.raises(ModelError, match="formative"):
        fit_model(data, "f <~ x1 + x2")
    with pytest.raises(ModelError, match="only bounds between a label and a number"):
        fit_model(data, "visual =~ x1 + a*x2 + b*x3\na > b")


def test_a_fit_that_does_not_converge_is_an_error_not_a_result(monkeypatch, tmp_path, capsys):
    from analysis.errors import ConvergenceError
    from analysis.sem.engine import SEMEngine

    def stalled(self, x0):
        self.converged_, self.iterations_, self.at_bound_ = False, 3, np.zeros(len(x0), dtype=bool)
        self._optimizer_notes = ["the optimiser did not converge (stopped for the test)"]
        return x0

    monkeypatch.setattr(SEMEngine, "_optimize", stalled)
    model = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6"
    with pytest.raises(ConvergenceError, match="did not converge"):
        fit_model(reference_data("holzinger39.csv"), model)
    (tmp_path / "m.lav").write_text(model, encoding="utf-8")
    code = main(["fit", "--data", str(REFERENCE_DATA / "holzinger39.csv"), "--model", str(tmp_path / "m.lav"),
                 "--out", str(tmp_path / "out")])
    assert code == ConvergenceError.exit_code == 3 and not (tmp_path / "out").exists()
    assert capsys.readouterr().err.startswith("error: the model did not converge")

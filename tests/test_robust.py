"""Robust ML (lavaan MLR) from arrays: sandwich SEs, Yuan-Bentler test, scaled/robust indices.

References come from tests/reference/robust_reference.R (lavaan 0.6.14) and the hs_mlr case of
tests/reference/lavaan_reference.json. The ML fits are semopy's (estimates equal lavaan's to
9.4e-7 for HS, 9.6e-6 for PolDem), with the moment Jacobian from semopy by central differences.

Tolerances are what the code reaches, with a margin of about 3-30x (largest deviation from
lavaan measured when they were set in brackets, per test). Scaled chi-squares are compared
relatively, scaling factors and the scaled/robust CFI, TLI, RMSEA (+ CI) absolutely; see
_check_indices.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import reference, reference_case, reference_data
from numpy.testing import assert_allclose

from analysis.errors import ConvergenceError, DataError, ModelError
from analysis.sem import StructuralEquationModel
from analysis.sem.robust import (
    casewise_scores,
    duplication_matrix,
    ml_moment_derivatives,
    robust_ml,
    semopy_moment_jacobian,
    semopy_parameter_keys,
    semopy_robust_ml,
    vech_pairs,
)

CASES = reference("robust")["cases"]
HS = reference_data("holzinger39.csv")
POLDEM = reference_data("political_democracy.csv")

INDICES = ["chisq_scaled", "chisq_scaling_factor", "baseline_chisq_scaled", "baseline_chisq_scaling_factor",
           "cfi_scaled", "tli_scaled", "rmsea_scaled", "rmsea_ci_lower_scaled", "rmsea_ci_upper_scaled",
           "cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust", "rmsea_ci_upper_robust"]


CHISQ_LIKE = ("chisq_scaled", "baseline_chisq_scaled")
SCALING_FACTORS = ("chisq_scaling_factor", "baseline_chisq_scaling_factor")


def _lavaan_name(key: str) -> str:
    return key.replace("_", ".")


def _lavaan_se(estimates: list[dict], keys: list[tuple[str, str, str]], group: int | None = None) -> np.ndarray:
    """lavaan's SE for each of our parameter keys; a key lavaan does not have fails the test."""
    table = {}
    for row in estimates:
        if group is None or row["group"] == group:
            table[(row["lhs"], row["op"], row["rhs"])] = row["se"]
            if row["op"] == "~~":
                table[(row["rhs"], row["op"], row["lhs"])] = row["se"]
    absent = [key for key in keys if key not in table]
    assert not absent, f"parameters without a lavaan row{f' in group {group}' if group else ''}: {absent}"
    return np.array([table[key] for key in keys])


def _check_indices(fit: dict, reference: dict, keys, *, chisq_rtol: float, factor_atol: float,
                   index_atol: float) -> None:
    """Scaled chi-squares relative, scaling factors and CFI/TLI/RMSEA absolute; missing keys fail."""
    for key in keys:
        theirs = _lavaan_name(key)
        assert key in fit, f"our fit has no {key!r}"
        assert reference.get(theirs) is not None, f"lavaan reference has no {theirs!r}"
        if key in CHISQ_LIKE:
            atol, rtol = 0, chisq_rtol
        else:
            atol, rtol = (factor_atol if key in SCALING_FACTORS else index_atol), 0
        assert_allclose(fit[key], reference[theirs], atol=atol, rtol=rtol, err_msg=key)


def _with_means(semopy_model):
    """Moments (mu, vech Sigma) of a covariance-only fit with free intercepts (mu = ybar)."""
    jacobian, hessian = semopy_moment_jacobian(semopy_model, second_order=True)
    data = np.asarray(semopy_model.mx_data, dtype=float)
    p, (m, q) = data.shape[1], jacobian.shape
    full = np.zeros((p + m, q + p))
    full[p:, :q], full[:p, q:] = jacobian, np.eye(p)
    full_hessian = np.zeros((p + m, q + p, q + p))
    full_hessian[p:, :q, :q] = hessian
    return data, np.asarray(semopy_model.calc_sigma()[0]), data.mean(axis=0), full, full_hessian


@pytest.fixture(scope="module")
def hs_fit():
    return StructuralEquationModel(CASES["hs_mlr"]["model"]).fit(HS).semopy_model_


@pytest.fixture(scope="module")
def hs_robust(hs_fit):
    return semopy_robust_ml(hs_fit)


def test_hs_standard_errors_match_lavaan_mlr(hs_fit, hs_robust):
    """R: cfa(hs_model, data = hs, estimator = "MLR"); parameterEstimates(fit)$se, 2e-6 [3.5e-7]."""
    expected = _lavaan_se(CASES["hs_mlr"]["estimates"], semopy_parameter_keys(hs_fit))
    assert_allclose(hs_robust.se, expected, atol=2e-6)


def test_hs_scaled_test_and_indices_match_lavaan_mlr(hs_robust):
    """R: fitMeasures(cfa(hs_model, data = hs, estimator = "MLR")) — *.scaled and *.robust: scaled
    chi-squares 1e-6 relative [1.6e-7], scaling factors 1e-6 [1.6e-7], indices 1e-7 [2.5e-8];
    chisq and baseline.chisq 1e-10 relative [1.9e-12]; lavInspect(fit, "UGamma") trace 1e-6
    relative [1.6e-7]."""
    ref = CASES["hs_mlr"]["fit"]
    assert hs_robust.df == 24 and hs_robust.baseline_df == 36
    assert_allclose(hs_robust.chisq, ref["chisq"], rtol=1e-10)
    assert_allclose(hs_robust.baseline_chisq, ref["baseline.chisq"], rtol=1e-10)
    assert_allclose(hs_robust.trace_ugamma, CASES["hs_mlr"]["test"]["trace_ugamma"], rtol=1e-6)
    _check_indices(hs_robust.fit, ref, INDICES, chisq_rtol=1e-6, factor_atol=1e-6, index_atol=1e-7)


def test_headline_numbers_of_lavaan_reference_json(hs_robust):
    """The hs_mlr case of lavaan_reference.json: chisq.scaled 87.132, c 0.979, CFI.robust .930,
    RMSEA.robust .0925 (R: cfa(hs_model, data = hs, estimator = "MLR")). The same call as
    robust_reference.json's hs_mlr (identical numbers), so the same tolerances."""
    ref = reference_case("lavaan", "hs_mlr")["fit"]
    _check_indices(hs_robust.fit, ref, INDICES, chisq_rtol=1e-6, factor_atol=1e-6, index_atol=1e-7)


@pytest.mark.parametrize("variant, information, second_order", [("expected", "expected", False),
                                                               ("observed_h1", "observed", False)])
def test_other_breads_match_lavaan(hs_fit, variant, information, second_order):
    """R: cfa(hs_model, data = hs, estimator = "MLR", information = "expected") and
    cfa(..., estimator = "MLR", observed.information = "h1") (no moment curvature term):
    SEs 2e-6 [1.7e-7], scaling factor 1e-6 [2.6e-7]."""
    ref = CASES["hs_mlr"][variant]
    data, sigma = np.asarray(hs_fit.mx_data), np.asarray(hs_fit.calc_sigma()[0])
    result = robust_ml(data, sigma, semopy_moment_jacobian(hs_fit), information=information, baseline=False)
    assert_allclose(result.se, _lavaan_se(ref["estimates"], semopy_parameter_keys(hs_fit)), atol=2e-6)
    assert_allclose(result.scaling_factor, ref["test"]["scaling_factor"], atol=1e-6)


def test_mean_structure_gives_intercept_ses_and_same_test(hs_fit):
    """R: cfa(hs_model, data = hs, estimator = "MLR", meanstructure = TRUE): SEs 2e-6 [3.5e-7], scaled
    chi-squares 1e-6 relative [2.2e-7], scaling factors 1e-6 [2.1e-7], indices 1e-7 [3.4e-8]."""
    ref = CASES["hs_mlr_meanstructure"]
    data, sigma, mean, jacobian, hessian = _with_means(hs_fit)
    result = robust_ml(data, sigma, jacobian, implied_mean=mean, moment_hessian=hessian)
    keys = semopy_parameter_keys(hs_fit) + [(f"x{i}", "~1", "") for i in range(1, 10)]
    assert_allclose(result.se, _lavaan_se(ref["estimates"], keys), atol=2e-6)
    _check_indices(result.fit, ref["fit"], INDICES, chisq_rtol=1e-6, factor_atol=1e-6, index_atol=1e-7)


def test_two_groups_configural_matches_lavaan():
    """R: cfa(hs_model, data = hs, group = "school", estimator = "MLR") (means free per group).

    semopy's per-group estimates are 1.6e-5 from lavaan's (lavaan's convergence tolerance; the
    workbench engine agrees with semopy to 5e-8), hence: chisq 1e-7 [2.4e-8], SEs 1e-4 [1.9e-5],
    scaled chi-squares 1e-5 relative [1.0e-6], scaling factors 1e-5 [9.9e-7], indices 1e-6 [2.2e-7].
    """
    ref = CASES["hs_mlr_configural"]
    parts, keys = [], []
    for group, school in enumerate(ref["group_labels"], start=1):
        model = StructuralEquationModel(ref["model"]).fit(HS[HS["school"] == school]).semopy_model_
        parts.append(_with_means(model))
        group_keys = semopy_parameter_keys(model) + [(f"x{i}", "~1", "") for i in range(1, 10)]
        keys.append(_lavaan_se(ref["estimates"], group_keys, group))
    sizes = [part[3].shape[1] for part in parts]
    jacobians, hessians, offset = [], [], 0
    for part, size in zip(parts, sizes):
        jacobian = np.zeros((part[3].shape[0], sum(sizes)))
        jacobian[:, offset:offset + size] = part[3]
        hessian = np.zeros((part[3].shape[0], sum(sizes), sum(sizes)))
        hessian[:, offset:offset + size, offset:offset + size] = part[4]
        jacobians.append(jacobian)
        hessians.append(hessian)
        offset += size
    result = robust_ml([p[0] for p in parts], [p[1] for p in parts], jacobians,
                       implied_mean=[p[2] for p in parts], moment_hessian=hessians)
    assert result.df == 48 and result.n == 301 and result.n_groups == 2
    assert_allclose(result.chisq, ref["fit"]["chisq"], atol=1e-7, rtol=0)
    assert_allclose(result.se, np.concatenate(keys), atol=1e-4, rtol=0)
    _check_indices(result.fit, ref["fit"], INDICES, chisq_rtol=1e-5, factor_atol=1e-5, index_atol=1e-6)


def test_structural_model_with_residual_covariances_matches_lavaan():
    """R: sem(poldem_model, data = poldem, estimator = "MLR") (N = 75): SEs 1e-5 [2.6e-6], scaled
    chi-squares 1e-7 relative [2.8e-8], scaling factors 1e-7 [2.6e-8], indices 1e-6 [5.3e-8]."""
    ref = CASES["poldem_mlr"]
    model = StructuralEquationModel(ref["model"]).fit(POLDEM).semopy_model_
    result = semopy_robust_ml(model)
    assert_allclose(result.se, _lavaan_se(ref["estimates"], semopy_parameter_keys(model)), atol=1e-5)
    _check_indices(result.fit, ref["fit"], INDICES, chisq_rtol=1e-7, factor_atol=1e-7, index_atol=1e-6)


def _discrepancy(sample_cov, sample_mean, moments, p):
    mean, vech = moments[:p], moments[p:]
    rows, cols = vech_pairs(p)
    sigma = np.zeros((p, p))
    sigma[rows, cols] = vech
    sigma[cols, rows] = vech
    residual = sample_mean - mean
    inverse = np.linalg.inv(sigma)
    return 0.5 * (np.linalg.slogdet(sigma)[1] + np.trace(sample_cov @ inverse) + residual @ inverse @ residual)


def test_moment_derivatives_agree_with_numerical_differentiation():
    rng = np.random.default_rng(3)
    p = 3
    data = rng.normal(size=(50, p)) @ np.array([[1.0, 0.3, 0.0], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    sample_cov, sample_mean = np.cov(data, rowvar=False, bias=True), data.mean(axis=0)
    sigma, mu = np.eye(p) + 0.2, np.zeros(p) + 0.1
    rows, cols = vech_pairs(p)
    moments = np.concatenate([mu, sigma[rows, cols]])
    gradient, hessian = ml_moment_derivatives(sample_cov, sigma, sample_mean, mu)
    h = 1e-5
    steps = np.eye(len(moments)) * h
    numeric = np.array([(_discrepancy(sample_cov, sample_mean, moments + e, p)
                         - _discrepancy(sample_cov, sample_mean, moments - e, p)) / (2 * h) for e in steps])
    assert_allclose(gradient, numeric, atol=1e-8)
    numeric_hessian = np.array([(_gradient_at(sample_cov, sample_mean, moments + e, p)
                                 - _gradient_at(sample_cov, sample_mean, moments - e, p)) / (2 * h)
                                for e in steps]).T
    assert_allclose(hessian, numeric_hessian, atol=1e-7)
    # the casewise log-likelihood scores average to -N * dF/dm
    assert_allclose(casewise_scores(data, sigma, mu).mean(axis=0), -gradient, atol=1e-12)


def _gradient_at(sample_cov, sample_mean, moments, p):
    rows, cols = vech_pairs(p)
    sigma = np.zeros((p, p))
    sigma[rows, cols] = moments[p:]
    sigma[cols, rows] = moments[p:]
    return ml_moment_derivatives(sample_cov, sigma, sample_mean, moments[:p])[0]


def test_duplication_matrix_and_semopy_jacobian(hs_fit):
    sym = np.array([[1.0, 2.0], [2.0, 3.0]])
    rows, cols = vech_pairs(2)
    assert_allclose(duplication_matrix(2) @ sym[rows, cols], sym.reshape(-1, order="F"))
    jacobian = semopy_moment_jacobian(hs_fit)
    keys = semopy_parameter_keys(hs_fit)
    column = jacobian[:, keys.index(("x9", "~~", "x9"))]
    rows, cols = vech_pairs(9)
    assert_allclose(column, ((rows == 8) & (cols == 8)).astype(float), atol=1e-9)
    assert_allclose(hs_fit.param_vals, StructuralEquationModel(CASES["hs_mlr"]["model"]).fit(HS)
                    .semopy_model_.param_vals)  # differentiation left the fitted model untouched


def test_bad_input_raises_clear_errors(hs_fit):
    data, sigma = np.asarray(hs_fit.mx_data), np.asarray(hs_fit.calc_sigma()[0])
    jacobian = semopy_moment_jacobian(hs_fit)
    with pytest.raises(ModelError, match="jacobian has 44 rows"):
        robust_ml(data, sigma, jacobian[1:])
    with pytest.raises(ModelError, match="implied_cov has shape"):
        robust_ml(data, sigma[:8, :8], jacobian)
    broken = data.copy()
    broken[0, 0] = np.nan
    with pytest.raises(DataError, match="complete numeric rows"):
        robust_ml(broken, sigma, jacobian)
    with pytest.raises(ModelError, match="information must be"):
        robust_ml(data, sigma, jacobian, information="hessian")
    with pytest.raises(ConvergenceError, match="singular"):
        robust_ml(data, sigma, np.hstack([jacobian, jacobian[:, :1]]), information="expected")

"""Bivariate normal CDF, thresholds, polychoric/polyserial correlations and Gamma.

References: tests/reference/lavaan_reference.json (case hs_ordinal, lavCor) and
tests/reference/ordinal_reference.json (produced by tests/reference/ordinal_reference.R,
lavaan 0.6.14).

Tolerances are what the code reaches with a margin of about 3-30x (largest deviation from
lavaan measured when they were set in brackets): thresholds 1e-12 [4.9e-15; qnorm of the
same proportions, limited by the 15 significant digits of the JSON], polychoric/polyserial
correlations and wls.obs 1e-6 [3.9e-8], Gamma 1e-6 of its largest entry [5.8e-8] and its
diagonal / the DWLS weights 1e-6 relative [6.2e-8].
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_case, reference_data
from numpy.testing import assert_allclose
from scipy import integrate
from scipy.special import ndtr

from analysis.errors import ConfigError, DataError
from analysis.sem.ordinal.bivariate_normal import (
    bivariate_normal_cdf,
    bivariate_normal_pdf,
)
from analysis.sem.ordinal.moments import ordinal_sample_stats
from analysis.sem.ordinal.polychoric import (
    ordinal_data,
    polychoric,
    polychoric_matrix,
    polyserial,
    thresholds,
)

ITEMS = [f"x{i}" for i in range(1, 10)]


@pytest.fixture(scope="module")
def lavaan_case():
    return reference_case("lavaan", "hs_ordinal")


@pytest.fixture(scope="module")
def ordinal_cases():
    return reference("ordinal")["cases"]


@pytest.fixture(scope="module")
def hs_ordinal():
    return reference_data("holzinger39_ordinal.csv").copy()


def _plackett(h: float, k: float, rho: float) -> float:
    """Phi2(h, k; rho) = Phi(h) Phi(k) + int_0^rho phi2(h, k; r) dr, integrated adaptively."""
    value, _ = integrate.quad(lambda r: float(bivariate_normal_pdf(h, k, r)), 0.0, rho,
                              epsabs=1e-15, epsrel=1e-13, limit=200)
    return float(ndtr(h) * ndtr(k) + value)


# ------------------------------------------------------------------ bivariate normal
@pytest.mark.parametrize("rho", [-0.999, -0.95, -0.924, -0.5, 0.0, 0.3, 0.9249, 0.925, 0.97, 0.999])
def test_bivariate_cdf_matches_plackett_integral(rho):
    """Genz's BVND agrees with the numerically integrated Plackett identity to 1e-12."""
    rng = np.random.default_rng(7)
    h = rng.normal(scale=1.5, size=12)
    k = np.concatenate([rng.normal(scale=1.5, size=10), h[10:]])  # include h == k
    expected = [_plackett(a, b, rho) for a, b in zip(h, k)]
    assert_allclose(bivariate_normal_cdf(h, k, rho), expected, rtol=0, atol=1e-12)


def test_bivariate_cdf_limits_and_broadcasting():
    """Infinite limits reduce to univariate probabilities; |rho| = 1 gives the degenerate limits."""
    assert_allclose(bivariate_normal_cdf([np.inf, -np.inf, 0.3, np.inf], [0.5, 1.0, np.inf, np.inf], 0.4),
                    [ndtr(0.5), 0.0, ndtr(0.3), 1.0], atol=1e-15)
    assert_allclose(bivariate_normal_cdf(0.2, 0.5, 1.0), ndtr(0.2), atol=1e-15)
    assert_allclose(bivariate_normal_cdf(0.2, 0.5, -1.0), ndtr(0.2) - ndtr(-0.5), atol=1e-15)
    assert_allclose(bivariate_normal_cdf(0.0, 0.0, 0.5), 1 / 3, atol=1e-15)  # 1/4 + asin(rho)/(2 pi)
    grid = bivariate_normal_cdf(np.zeros((3, 1)), np.zeros((1, 4)), np.zeros((3, 4)))
    assert grid.shape == (3, 4)


def test_bivariate_pdf_is_derivative_in_rho():
    """d Phi2 / d rho = phi2 (central differences, 1e-8)."""
    h, k, rho, step = np.array([0.3, -1.2, 2.0]), np.array([-0.4, -0.8, 1.5]), 0.6, 1e-5
    numeric = (bivariate_normal_cdf(h, k, rho + step) - bivariate_normal_cdf(h, k, rho - step)) / (2 * step)
    assert_allclose(bivariate_normal_pdf(h, k, rho), numeric, atol=1e-8)


# ------------------------------------------------------------------ thresholds, polychorics
def test_thresholds_match_lavcor(hs_ordinal, lavaan_case):
    """R: lavCor(hs_ordinal[, paste0("x", 1:9)], ordered = paste0("x", 1:9), output = "th")."""
    taus = thresholds(hs_ordinal, ITEMS)
    ours = {f"{item}|t{k + 1}": value for item in ITEMS for k, value in enumerate(taus[item])}
    assert list(ours) == list(lavaan_case["thresholds"]), "the same thresholds as lavCor, in its order"
    assert_allclose(list(ours.values()), list(lavaan_case["thresholds"].values()), atol=1e-12, rtol=0)


def test_polychoric_matrix_matches_lavcor(hs_ordinal, lavaan_case):
    """R: lavCor(hs_ordinal[, paste0("x", 1:9)], ordered = paste0("x", 1:9)); brief asks 1e-3, we get 1e-6."""
    corr, taus = polychoric_matrix(hs_ordinal, ITEMS)
    assert list(corr.columns) == ITEMS
    assert_allclose(corr.to_numpy(), lavaan_case["polychoric"]["values"], atol=1e-6)
    assert set(taus) == set(ITEMS)
    assert_allclose(polychoric(hs_ordinal["x1"], hs_ordinal["x2"]), corr.loc["x1", "x2"], atol=1e-12)


def test_seven_categories_empty_cells_and_binary(ordinal_cases):
    """R: lavCor(hs7, ordered = items) on 7-category items with 300 empty cells and a binary x9."""
    case = ordinal_cases["hs_ordinal7"]
    assert case["empty_cells"] > 0
    data = reference_data("hs_ordinal7.csv").copy()
    corr, taus = polychoric_matrix(data, ITEMS)
    assert_allclose(corr.to_numpy(), case["polychoric"]["values"], atol=1e-6)
    ours = {f"{item}|t{k + 1}": value for item in ITEMS for k, value in enumerate(taus[item])}
    assert list(ours) == list(case["thresholds"]), "the same thresholds as lavCor, in its order"
    assert_allclose(list(ours.values()), list(case["thresholds"].values()), atol=1e-12, rtol=0)


def test_binary_table_with_empty_cell(hs_ordinal, ordinal_cases):
    """R: lavCor(binary, ordered = names(binary)): 2x2 table with one empty cell (0.5 added)."""
    case = ordinal_cases["binary_zero_cell"]
    binary = pd.DataFrame({"b1": (hs_ordinal["x1"] >= 3).astype(int), "b2": (hs_ordinal["x1"] >= 4).astype(int),
                           "b3": (hs_ordinal["x2"] >= 3).astype(int)})
    assert pd.crosstab(binary["b1"], binary["b2"]).to_numpy().tolist() == case["table_b1_b2"]
    corr, _ = polychoric_matrix(binary)
    assert_allclose(corr.to_numpy(), case["correlation"]["values"], atol=1e-6)


def test_polyserial_mixed_matrix(hs_ordinal, ordinal_cases):
    """R: lavCor(mixed, ordered = paste0("x", 4:9)), x1..x3 continuous (Pearson + polyserial)."""
    continuous = reference_data("holzinger39.csv")[["x1", "x2", "x3"]]
    mixed = pd.concat([continuous, hs_ordinal[[f"x{i}" for i in range(4, 10)]]], axis=1)
    corr, taus = polychoric_matrix(mixed, ITEMS, ordered=[f"x{i}" for i in range(4, 10)])
    assert_allclose(corr.to_numpy(), ordinal_cases["hs_polyserial"]["correlation"]["values"], atol=1e-6)
    assert "x1" not in taus
    assert_allclose(polyserial(mixed["x1"], mixed["x4"]), corr.loc["x1", "x4"], atol=1e-12)


def test_category_coding_is_by_observed_values(hs_ordinal):
    """Ordered categoricals, nullable Int8 with NA (listwise) and unused scale points agree."""
    numeric = hs_ordinal[["x1", "x2", "x3"]]
    categorical = numeric.apply(lambda c: pd.Categorical(c.map({1: "lo", 2: "mid", 3: "high", 4: "top"}),
                                                         categories=["lo", "mid", "high", "top", "never"],
                                                         ordered=True))
    spread = numeric * 2  # scores 2, 4, 6, 8: same categories, gaps in between
    reference, _ = polychoric_matrix(numeric)
    for other in (categorical, spread):
        assert_allclose(polychoric_matrix(other)[0].to_numpy(), reference.to_numpy(), atol=1e-12)
    with_missing = numeric.astype("Int8")
    with_missing.loc[[0, 5], "x2"] = pd.NA
    coded = ordinal_data(with_missing)
    assert coded.n == len(numeric) - 2 and coded.n_dropped == 2


def test_bad_input_raises_data_error(hs_ordinal):
    with pytest.raises(DataError, match="'x1'.*numeric"):
        polychoric_matrix(hs_ordinal.assign(x1="a"), ["x1", "x2"])
    with pytest.raises(DataError, match="single observed category"):
        polychoric_matrix(hs_ordinal.assign(x2=3), ["x1", "x2"])
    with pytest.raises(DataError, match="not in the data: nope"):
        polychoric_matrix(hs_ordinal, ["x1", "nope"])
    with pytest.raises(DataError, match="complete rows"):
        polychoric_matrix(hs_ordinal.head(5), ["x1", "x2"])
    with pytest.raises(DataError, match="unordered categorical"):
        polychoric_matrix(hs_ordinal.assign(x1=hs_ordinal["x1"].astype("category")), ["x1", "x2"])


# ------------------------------------------------------------------ Gamma (NACOV)
def test_sample_stats_and_gamma_match_lavaan(hs_ordinal, ordinal_cases):
    """R: fit <- cfa(hs_model, data = hs_ordinal, ordered = items);
    lavInspect(fit, "wls.obs"), lavInspect(fit, "gamma"), diag(lavInspect(fit, "wls.v"))."""
    case = ordinal_cases["hs_ordinal_matrices"]
    sample = ordinal_sample_stats(hs_ordinal, ITEMS)
    assert sample.statistic_names == case["wls_obs_names"]
    assert_allclose(sample.statistics, case["wls_obs"], atol=1e-6)
    gamma = np.asarray(case["gamma"])
    assert_allclose(sample.gamma, gamma, atol=1e-6 * np.abs(gamma).max())
    assert_allclose(sample.dwls_weights, case["wls_v_diag"], rtol=1e-6)
    assert sample.n == 301 and sample.n_thresholds == 27


def test_gamma_diagonal_seven_categories(ordinal_cases):
    """R: diag(lavInspect(cfa(hs_model, data = hs7, ordered = items), "gamma"))."""
    data = reference_data("hs_ordinal7.csv").copy()
    sample = ordinal_sample_stats(data, ITEMS)
    assert_allclose(np.diag(sample.gamma), ordinal_cases["hs_ordinal7"]["gamma_diag"], rtol=1e-6)


def test_pairwise_polychorics_and_gamma(hs_ordinal, ordinal_cases):
    """R: lavCor(hs_ord_na[, items], ordered = items, missing = "pairwise") and
    diag(lavInspect(cfa(hs_model, data = hs_ord_na, ordered = items, missing = "pairwise"), "gamma"))."""
    case = ordinal_cases["hs_ordinal_pairwise"]
    data = hs_ordinal.copy()
    for item, rows in ordinal_cases["hs_ordinal_std_lv_listwise"]["missing_rows"].items():
        data.loc[np.asarray(rows) - 1, item] = np.nan
    corr, _ = polychoric_matrix(data, ITEMS, missing="pairwise")
    assert_allclose(corr.to_numpy(), case["polychoric"]["values"], atol=1e-6)
    sample = ordinal_sample_stats(data, ITEMS, missing="pairwise")
    assert sample.n == 301
    assert_allclose(np.diag(sample.gamma), case["gamma_diag"], rtol=1e-6)
    with pytest.raises(ConfigError, match="missing: expected one of 'listwise', 'pairwise', got"):
        ordinal_sample_stats(data, ITEMS, missing="fiml")


def test_perfect_binary_association_is_a_clear_error(hs_ordinal):
    """Two empty cells in a 2x2 table: lavaan sets rho = 1; Gamma is undefined, so we say so."""
    binary = pd.DataFrame({"b1": (hs_ordinal["x1"] >= 3).astype(int), "b2": (hs_ordinal["x1"] >= 3).astype(int),
                           "b3": (hs_ordinal["x2"] >= 3).astype(int)})
    corr, _ = polychoric_matrix(binary)
    assert corr.loc["b1", "b2"] == 1.0
    with pytest.raises(DataError, match="'b1' and 'b2' has two empty cells"):
        ordinal_sample_stats(binary)

"""Tests for analysis.measurement.method_bias, with parity against R (stats, psych).

Reference numbers: tests/reference/method_bias_reference.json, produced by
tests/reference/method_bias_reference.R on tests/reference/data/holzinger39.csv
(Holzinger-Swineford, N = 301; blocks visual x1-x3, textual x4-x6, speed x7-x9;
marker variable agemo). The R calls are recorded in the JSON under meta.calls and quoted in
each test. Tolerances are what the code reaches (largest deviation from R in brackets).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from numpy.testing import assert_allclose

from analysis.errors import ConfigError, DataError
from analysis.measurement import htmt
from analysis.measurement.method_bias import (
    construct_scores,
    full_collinearity_vif,
    harman_single_factor,
    htmt_bootstrap,
    marker_variable_correction,
)

ITEMS = [f"x{i}" for i in range(1, 10)]
EXACT = 1e-12  # closed-form statistics (eigenvalues, OLS, the L&W formula) [3e-14; relative 1.2e-13]
ITERATIVE = 1e-9  # one-factor ML: optimiser on both sides (R with factr = 10) [7.3e-11]


@pytest.fixture(scope="module")
def ref() -> dict:
    return reference("method_bias")


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    return reference_data("holzinger39.csv").copy()


@pytest.fixture(scope="module")
def blocks(ref) -> dict[str, list[str]]:
    return ref["meta"]["blocks"]


# ------------------------------------------------------------------ Harman
def test_harman_pca_share_matches_r(hs, ref):
    """R: eigen(cor(hs[, items]))$values[1] / 9 and
    psych::principal(hs[, items], nfactors = 1, rotate = "none")$Vaccounted["Proportion Var", 1]."""
    result = harman_single_factor(hs, ITEMS)
    assert_allclose(result["first_eigenvalue"], ref["harman"]["eigenvalues"][0], atol=EXACT, rtol=0)
    assert_allclose(result["variance_share"], ref["harman"]["pca_share"], atol=EXACT, rtol=0)
    assert_allclose(result["variance_share"], ref["harman"]["principal_proportion_var"], atol=EXACT, rtol=0)
    assert result["n"] == 301 and result["n_items"] == 9 and not result["exceeds_threshold"]


def test_harman_ml_share_matches_factanal(hs, ref):
    """R: fa <- factanal(hs[, items], factors = 1); sum(fa$loadings^2) / 9."""
    result = harman_single_factor(hs, ITEMS, method="ml")
    assert_allclose(result["variance_share"], ref["harman"]["ml_share"], atol=ITERATIVE, rtol=0)


def test_harman_flags_a_dominant_factor():
    rng = np.random.default_rng(5)
    common = rng.standard_normal((200, 1))
    data = pd.DataFrame(common + 0.3 * rng.standard_normal((200, 4)), columns=list("abcd"))
    assert harman_single_factor(data, list("abcd"))["exceeds_threshold"]


def test_harman_rejects_bad_input(hs):
    with pytest.raises(ConfigError, match="method"):
        harman_single_factor(hs, ITEMS, method="varimax")
    with pytest.raises(ConfigError, match="at least 3"):
        harman_single_factor(hs, ["x1", "x2"])
    with pytest.raises(DataError, match="nope"):
        harman_single_factor(hs, ITEMS + ["nope"])
    with pytest.raises(DataError, match="school"):
        harman_single_factor(hs, ["x1", "x2", "school"])


# -------------------------------------------------------------- scores + VIF
def test_construct_scores_are_item_means_of_answered_items(hs, blocks):
    scores = construct_scores(hs, blocks)
    assert_allclose(scores["visual"], hs[["x1", "x2", "x3"]].mean(axis=1), atol=1e-12)
    gappy = pd.DataFrame({"a1": pd.array([1, pd.NA, pd.NA], dtype="Int8"), "a2": pd.array([3, 5, pd.NA], dtype="Int8")})
    result = construct_scores(gappy, {"A": ["a1", "a2"]})["A"]
    assert result.iloc[0] == 2 and result.iloc[1] == 5 and np.isnan(result.iloc[2])
    with pytest.raises(ConfigError, match="non-empty list"):
        construct_scores(hs, {"visual": "x1"})


def test_full_collinearity_vif_matches_r_lm(hs, blocks, ref):
    """R: 1 / (1 - summary(lm(visual ~ textual + speed, data = sum_scores))$r.squared), etc."""
    table = full_collinearity_vif(construct_scores(hs, blocks)).set_index("construct")
    assert sorted(table.index) == sorted(ref["vif"]["vif"]) == sorted(ref["vif"]["r_squared"])
    for construct, value in ref["vif"]["vif"].items():
        assert_allclose(table.loc[construct, "vif"], value, atol=EXACT, rtol=0, err_msg=construct)
        assert_allclose(table.loc[construct, "r_squared"], ref["vif"]["r_squared"][construct], atol=EXACT, rtol=0,
                        err_msg=construct)
    assert not table["exceeds_threshold"].any()


def test_full_collinearity_vif_flags_and_rejects_collinearity():
    rng = np.random.default_rng(2)
    a = rng.standard_normal(100)
    near = pd.DataFrame({"A": a, "B": a + 0.1 * rng.standard_normal(100), "C": rng.standard_normal(100)})
    table = full_collinearity_vif(near).set_index("construct")
    assert table.loc["A", "exceeds_threshold"] and not table.loc["C", "exceeds_threshold"]
    with pytest.raises(DataError, match="collinear"):
        full_collinearity_vif(pd.DataFrame({"A": a, "B": 2 * a, "C": a + 1}))
    with pytest.raises(DataError, match="at least two"):
        full_collinearity_vif(near[["A"]])


# ---------------------------------------------------------- Lindell-Whitney
def test_lindell_whitney_formula_matches_r(ref):
    """R: r_a <- (.45 - .12)/(1 - .12); t <- r_a/sqrt((1 - r_a^2)/147); 2*pt(-abs(t), 147)."""
    expected = ref["lindell_whitney_formula"]
    corr = pd.DataFrame([[1, 0.45], [0.45, 1]], index=["A", "B"], columns=["A", "B"])
    row = marker_variable_correction(corr, n=150, marker_correlation=0.12).iloc[0]
    assert_allclose([row.r_adjusted, row.t, row.pvalue], [expected["r_adjusted"], expected["t"], expected["pvalue"]],
                    rtol=EXACT)
    assert row.df == 147


@pytest.mark.parametrize("rank, key", [(1, "smallest"), (2, "second_smallest")])
def test_marker_correction_on_hs_matches_r(hs, blocks, ref, rank, key):
    """R: r_M = smallest / second-smallest positive cor(agemo, sum scores); same formula per pair."""
    corr = construct_scores(hs, blocks).assign(agemo=hs["agemo"]).corr()
    table = marker_variable_correction(corr, n=len(hs), marker="agemo", rank=rank)
    expected = pd.DataFrame(ref["hs_marker"]["adjusted"][key])
    assert list(zip(table.construct_a, table.construct_b)) == list(zip(expected.construct_a, expected.construct_b))
    for column in ("r", "r_m", "r_adjusted", "t", "pvalue"):
        assert_allclose(table[column], expected[column], rtol=EXACT, err_msg=column)
    assert "agemo" not in set(table.construct_a) | set(table.construct_b)


def test_marker_correction_without_positive_marker_correlation_changes_nothing():
    corr = pd.DataFrame([[1, .3, -.1], [.3, 1, -.2], [-.1, -.2, 1]], index=list("ABM"), columns=list("ABM"))
    row = marker_variable_correction(corr, n=100, marker="M").iloc[0]
    assert row.r_m == 0 and row.r_adjusted == pytest.approx(0.3)


def test_marker_correction_rejects_bad_input():
    corr = pd.DataFrame(np.eye(2), index=["A", "B"], columns=["A", "B"])
    with pytest.raises(DataError, match="'M' is not in"):
        marker_variable_correction(corr, n=100, marker="M")
    with pytest.raises(ConfigError, match="marker_correlation"):
        marker_variable_correction(corr, n=100)
    with pytest.raises(ConfigError, match="rank"):
        marker_variable_correction(corr, n=100, marker_correlation=0.1, rank=3)
    with pytest.raises(ConfigError, match="n expected"):
        marker_variable_correction(corr, n=3, marker_correlation=0.1)


# ----------------------------------------------------------- HTMT bootstrap
def test_htmt_bootstrap_is_seeded_and_independent_of_workers(hs, blocks):
    """The point HTMT is semTools::htmt(model, data = hs) (measurement_reference.json, 1e-12 [2.2e-16])."""
    serial = htmt_bootstrap(hs, blocks, n_draws=200, random_state=11, n_jobs=1)
    parallel = htmt_bootstrap(hs, blocks, n_draws=200, random_state=11, n_jobs=2)
    pd.testing.assert_frame_equal(serial, parallel)
    other = htmt_bootstrap(hs, blocks, n_draws=200, random_state=12, n_jobs=1)
    assert not np.allclose(serial["ci_lower"], other["ci_lower"])
    point = htmt(hs, blocks)
    names = list(reference("measurement")["meta"]["blocks"])
    semtools = pd.DataFrame(reference("measurement")["htmt_geometric"], index=names, columns=names)
    for row in serial.itertuples():
        assert_allclose(row.htmt, semtools.loc[row.construct_a, row.construct_b], atol=EXACT, rtol=0)
        assert row.htmt == pytest.approx(point.loc[row.construct_a, row.construct_b], abs=1e-12)
        assert row.ci_lower < row.htmt < row.ci_upper
        assert row.n_draws == 200 and row.n_failed == 0
    assert list(serial.columns) == ["construct_a", "construct_b", "htmt", "boot_mean", "boot_se", "ci_lower",
                                    "ci_upper", "n_draws", "n_failed"]


def test_htmt_bootstrap_counts_failed_draws():
    """An item that varies in a single row is constant in about a third of the resamples."""
    rng = np.random.default_rng(0)
    data = pd.DataFrame(rng.integers(1, 8, (25, 4)).astype(float), columns=["a1", "a2", "b1", "b2"])
    data["a1"] = 4.0
    data.loc[0, "a1"] = 5.0
    table = htmt_bootstrap(data, {"A": ["a1", "a2"], "B": ["b1", "b2"]}, n_draws=60, random_state=1)
    row = table.iloc[0]
    assert row.n_failed > 0 and row.n_draws + row.n_failed == 60
    assert np.isfinite(row.ci_lower) and np.isfinite(row.ci_upper)


def test_htmt_bootstrap_rejects_bad_settings(hs, blocks):
    with pytest.raises(ConfigError, match="n_draws"):
        htmt_bootstrap(hs, blocks, n_draws=0)
    with pytest.raises(ConfigError, match="level"):
        htmt_bootstrap(hs, blocks, n_draws=5, level=95)

"""Tests for analysis.measurement.statistics, with parity against R (psych, lavaan, semTools).

Reference numbers: tests/reference/measurement_reference.json, produced by
tests/reference/measurement_reference.R on tests/reference/data/hs_measurement.csv
(Holzinger-Swineford x1..x9, N = 301; blocks visual x1-x3, textual x4-x6, speed x7-x9).
The R calls are recorded in the JSON under meta.calls and quoted in each test.

Tolerances are what the code reaches: the closed-form statistics (alpha and its Feldt
interval, CR, AVE, omega from lavaan's estimates, HTMT) agree with R to 2.6e-15, so EXACT =
1e-12 (the JSON carries 15 significant digits); omega from a semopy fit agrees to 4.0e-7,
so FITTED = 1e-5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin
import pytest
from conftest import reference, reference_data
from numpy.testing import assert_allclose

from analysis.errors import ConfigError, ConvergenceError, DataError
from analysis.measurement import (
    FornellLarckerResult,
    ValidityThresholds,
    average_variance_extracted,
    composite_reliability,
    cronbach_alpha,
    discriminant_validity_table,
    fornell_larcker,
    htmt,
    item_loadings_table,
    loadings_from_estimates,
    mcdonald_omega,
    reliability_table,
)

EXACT = 1e-12  # closed-form statistics against R [2.6e-15]
FITTED = 1e-5  # omega from a semopy CFA (SOLVER_OPTIONS) against semTools [4.0e-7]


@pytest.fixture(scope="module")
def ref() -> dict:
    return reference("measurement")


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    return reference_data("hs_measurement.csv").copy()


@pytest.fixture(scope="module")
def blocks(ref) -> dict[str, list[str]]:
    return ref["meta"]["blocks"]


@pytest.fixture(scope="module")
def std_loadings(ref) -> pd.DataFrame:
    return pd.DataFrame(ref["cfa"]["std_loadings"])


@pytest.fixture(scope="module")
def latent_correlations(ref, blocks) -> pd.DataFrame:
    names = list(blocks)
    return pd.DataFrame(ref["cfa"]["latent_correlations"], index=names, columns=names)


# ---------------------------------------------------------------- alpha


def test_alpha_matches_psych(hs, blocks, ref):
    """R: psych::alpha(hs[, items])$total$raw_alpha  (DOMAIN.md: .626/.883/.689)."""
    for name, items in blocks.items():
        result = cronbach_alpha(hs, items)
        assert_allclose(result["alpha"], ref["alpha"][name]["raw_alpha"], atol=EXACT, rtol=0)
        assert (result["n"], result["n_items"]) == (ref["alpha"][name]["n"], ref["alpha"][name]["n_items"]) == (301, 3)


def test_alpha_feldt_ci_matches_psych_and_pingouin(hs, blocks, ref):
    """R: psych::alpha(hs[, items])$feldt (lower.ci, upper.ci), the Feldt F interval.

    pingouin uses the same formula but rounds to 3 decimals, hence atol 5e-4 there.
    """
    for name, items in blocks.items():
        result = cronbach_alpha(hs, items)
        assert_allclose(
            [result["ci_lower"], result["ci_upper"]],
            [ref["alpha"][name]["feldt_lower"], ref["alpha"][name]["feldt_upper"]],
            atol=EXACT, rtol=0,
        )
        _, pingouin_ci = pingouin.cronbach_alpha(hs[items])
        assert_allclose([result["ci_lower"], result["ci_upper"]], pingouin_ci, atol=5e-4)


def test_alpha_is_listwise_and_accepts_nullable_integers():
    rng = np.random.default_rng(7)
    latent = rng.normal(size=200)
    frame = pd.DataFrame(
        {f"i{k}": np.clip(np.round(4 + latent + rng.normal(size=200)), 1, 7) for k in range(4)}
    ).astype("Int8")
    frame.iloc[:15, 0] = pd.NA
    result = cronbach_alpha(frame, list(frame.columns))
    complete = frame.dropna().astype(float)
    expected, _ = pingouin.cronbach_alpha(complete)
    assert result["n"] == 185
    assert_allclose(result["alpha"], expected, rtol=1e-12)
    # Feldt df use the complete-row n (pingouin itself keeps the pre-deletion n)
    wider = cronbach_alpha(frame.iloc[:60], list(frame.columns))
    assert wider["ci_upper"] - wider["ci_lower"] > result["ci_upper"] - result["ci_lower"]


# ---------------------------------------------------------------- CR, AVE, omega


def test_cr_and_ave_match_r(std_loadings, ref):
    """R: on lavaan::standardizedSolution(cfa(model, hs)),
    sum(l)^2 / (sum(l)^2 + sum(1 - l^2)) and mean(l^2)."""
    for name, rows in std_loadings.groupby("construct"):
        assert_allclose(composite_reliability(rows["std_all"]),
                        ref["composite_reliability_std"][name], atol=EXACT, rtol=0)
        assert_allclose(average_variance_extracted(rows["std_all"]),
                        ref["ave_fornell_larcker"][name], atol=EXACT, rtol=0)


def test_ave_differs_from_semtools_weighting_only_slightly(std_loadings, ref):
    """R: semTools::AVE(fit) weights by observed item variance; documented, not matched."""
    for name, rows in std_loadings.groupby("construct"):
        ours = average_variance_extracted(rows["std_all"])
        assert abs(ours - ref["ave_semtools"][name]) < 0.01


def _omega_inputs(ref, name):
    loadings = list(ref["cfa"]["unstandardized_loadings"][name].values())
    residuals = list(ref["cfa"]["residual_variances"][name].values())
    return loadings, residuals, ref["cfa"]["factor_variances"][name]


def test_omega_from_lavaan_matches_comprelsem(hs, blocks, ref):
    """R: semTools::compRelSEM(fit) (obs.var = TRUE; .612/.885/.686) and
    semTools::compRelSEM(fit, obs.var = FALSE), fit <- lavaan::cfa(model, data = hs)."""
    # lavaan's sample covariance (lavInspect(fit, "sampstat")$cov) divides by N
    assert_allclose(hs.cov(ddof=0).to_numpy(), np.array(ref["cfa"]["sample_cov_ml"]), atol=EXACT, rtol=0)
    for name, items in blocks.items():
        loadings, residuals, phi = _omega_inputs(ref, name)
        implied = mcdonald_omega(loadings, residuals, phi)
        observed = mcdonald_omega(loadings, residuals, phi, hs[items].cov(ddof=0))
        assert_allclose(implied, ref["omega_implied"][name], atol=EXACT, rtol=0)
        assert_allclose(observed, ref["omega_observed"][name], atol=EXACT, rtol=0)


def test_omega_from_semopy_cfa_matches_comprelsem(hs, blocks, ref):
    """Same CFA fitted with semopy (MLW) with the wrapper's solver options; R:
    semTools::compRelSEM(fit[, obs.var = FALSE]). semopy's default SLSQP tolerance is 4.8e-4 off."""
    import semopy

    from analysis.sem.semopy_engine import SOLVER_OPTIONS

    model = semopy.Model(ref["meta"]["model"])
    model.fit(hs, options=dict(SOLVER_OPTIONS))
    est = model.inspect()
    value = est.set_index(["lval", "op", "rval"])["Estimate"].astype(float)
    for name, items in blocks.items():
        loadings = [value[(item, "~", name)] for item in items]
        residuals = [value[(item, "~~", item)] for item in items]
        phi = value[(name, "~~", name)]
        assert_allclose(mcdonald_omega(loadings, residuals, phi),
                        ref["omega_implied"][name], atol=FITTED, rtol=0)
        assert_allclose(mcdonald_omega(loadings, residuals, phi, hs[items].cov(ddof=0)),
                        ref["omega_observed"][name], atol=FITTED, rtol=0)


def test_omega_equals_cr_for_standardized_solution():
    lam = np.array([0.8, 0.7, 0.6])
    assert_allclose(mcdonald_omega(lam, 1 - lam**2), composite_reliability(lam), rtol=1e-12)


def test_heywood_and_shape_errors():
    with pytest.raises(ConvergenceError, match="Heywood"):
        composite_reliability([0.9, 1.02, 0.7])
    with pytest.raises(DataError, match="3 loadings but 2 residual"):
        mcdonald_omega([1, 1, 1], [0.5, 0.5])
    with pytest.raises(DataError, match="shape"):
        mcdonald_omega([1, 1], [0.5, 0.5], observed_covariance=np.eye(3))


# ---------------------------------------------------------------- HTMT


@pytest.mark.parametrize("mean, key", [("geometric", "htmt_geometric"),
                                       ("arithmetic", "htmt_arithmetic")])
def test_htmt_matches_semtools(hs, blocks, ref, mean, key):
    """R: semTools::htmt(model, data = hs) (htmt2 = TRUE, the 0.5-6 default) and
    semTools::htmt(model, data = hs, htmt2 = FALSE)."""
    result = htmt(hs, blocks, mean=mean)
    assert list(result.index) == list(blocks) == list(result.columns)
    assert_allclose(result.to_numpy(), np.array(ref[key]), atol=EXACT, rtol=0)


def test_htmt_single_item_block_is_nan_and_bad_options_raise(hs):
    result = htmt(hs, {"a": ["x1", "x2"], "b": ["x4"]})
    assert np.isnan(result.loc["a", "b"])
    with pytest.raises(ConfigError, match="'median'"):
        htmt(hs, {"a": ["x1", "x2"]}, mean="median")
    with pytest.raises(ConfigError, match="absolute"):
        htmt(hs, {"a": ["x1", "x2"]}, absolute=False)


def test_missing_columns_are_named(hs):
    with pytest.raises(DataError, match=r"missing column\(s\) \['EFF9'\].*available: \['x1'"):
        htmt(hs, {"a": ["x1", "EFF9"]})
    with pytest.raises(DataError, match=r"\['nope'\]"):
        cronbach_alpha(hs, ["x1", "nope"])
    with pytest.raises(DataError, match="std_all"):
        item_loadings_table(pd.DataFrame({"construct": ["a"], "item": ["x1"]}))


# ---------------------------------------------------------------- Fornell-Larcker and tables


def test_fornell_larcker(ref, latent_correlations):
    """Inputs: AVE from lavaan std loadings, lavInspect(fit, "cor.lv")."""
    ave = pd.Series(ref["ave_fornell_larcker"])
    result = fornell_larcker(ave, latent_correlations)
    assert isinstance(result, FornellLarckerResult)
    assert_allclose(np.diag(result.matrix), np.sqrt(ave.to_numpy()))
    assert_allclose(result.matrix.loc["visual", "textual"],
                    latent_correlations.loc["visual", "textual"])
    summary = result.summary.set_index("construct")
    # sqrt(AVE) visual .609 > max r .471 (speed); all three pass on HS
    assert summary["passes"].all()
    assert summary.loc["visual", "most_correlated_with"] == "speed"
    weak_visual = ave.copy()
    weak_visual["visual"] = 0.2
    failing = fornell_larcker(weak_visual, latent_correlations).summary
    assert not failing.set_index("construct").loc["visual", "passes"]


def test_reliability_table_flags(hs, blocks, std_loadings, ref):
    """Values as in the tests above: psych::alpha (+ $feldt) and CR / AVE of lavaan's standardized loadings."""
    table = reliability_table(hs, blocks, std_loadings)
    assert list(table.columns) == [
        "construct", "n_items", "alpha", "alpha_ci_lower", "alpha_ci_upper",
        "composite_reliability", "ave", "min_loading", "max_loading",
        "meets_alpha", "meets_cr", "meets_ave"]
    row = table.set_index("construct")
    assert list(row.index) == list(blocks) and row["n_items"].tolist() == [3, 3, 3]
    expected = {"alpha": [ref["alpha"][b]["raw_alpha"] for b in blocks],
                "alpha_ci_lower": [ref["alpha"][b]["feldt_lower"] for b in blocks],
                "alpha_ci_upper": [ref["alpha"][b]["feldt_upper"] for b in blocks],
                "composite_reliability": [ref["composite_reliability_std"][b] for b in blocks],
                "ave": [ref["ave_fornell_larcker"][b] for b in blocks]}
    for column, values in expected.items():
        assert_allclose(row[column], values, atol=EXACT, rtol=0, err_msg=column)
    loadings = std_loadings.groupby("construct")["std_all"]
    assert_allclose(row["min_loading"], loadings.min()[list(blocks)], atol=0, rtol=0)
    assert_allclose(row["max_loading"], loadings.max()[list(blocks)], atol=0, rtol=0)
    assert row["meets_alpha"].tolist() == [False, True, False]
    assert row["meets_cr"].tolist() == [False, True, False]
    assert row["meets_ave"].tolist() == [False, True, False]
    lenient = reliability_table(hs, blocks, std_loadings,
                                ValidityThresholds(alpha=0.6, cr_min=0.6, ave=0.35))
    assert lenient[["meets_alpha", "meets_cr", "meets_ave"]].all().all()


def test_reliability_table_rejects_mismatched_items(hs, blocks, std_loadings):
    with pytest.raises(DataError, match="'visual' has loadings for"):
        reliability_table(hs, {"visual": ["x1", "x2"]}, std_loadings)
    with pytest.raises(DataError, match="no loadings for construct 'EFF'"):
        reliability_table(hs, {"EFF": ["x1", "x2"]}, std_loadings)


def test_discriminant_validity_table(hs, blocks, ref, latent_correlations):
    matrix = htmt(hs, blocks)
    fl = fornell_larcker(pd.Series(ref["ave_fornell_larcker"]), latent_correlations)
    table = discriminant_validity_table(matrix, fl)
    assert list(zip(table.construct_a, table.construct_b)) == [
        ("visual", "textual"), ("visual", "speed"), ("textual", "speed")]
    assert table["htmt_ok"].all() and table["fornell_larcker_ok"].all()
    strict = ValidityThresholds(htmt=0.385, htmt_close=0.9, close_pairs=(("speed", "visual"),))
    flagged = discriminant_validity_table(matrix, fl, strict).set_index(["construct_a", "construct_b"])
    assert flagged.loc[("visual", "speed"), "htmt_threshold"] == 0.9
    assert flagged["htmt_ok"].tolist() == [True, True, True]
    assert not discriminant_validity_table(
        matrix, fl, ValidityThresholds(htmt=0.38)).loc[0, "htmt_ok"]


def test_item_loadings_table_and_estimates_adapter(std_loadings):
    estimates = std_loadings.rename(columns={"construct": "lhs", "item": "rhs"}).assign(op="=~")
    estimates = pd.concat([estimates, pd.DataFrame(
        {"lhs": ["visual"], "op": ["~~"], "rhs": ["visual"], "std_all": [1.0]})])
    loadings = loadings_from_estimates(estimates)
    pd.testing.assert_frame_equal(loadings, std_loadings)
    table = item_loadings_table(loadings)
    flagged = table.loc[~table["meets_loading"], "item"].tolist()
    assert flagged == ["x2", "x3", "x7", "x9"]  # std loadings .424, .581, .570, .665
    x2 = table.set_index("item").loc["x2"]
    visual = std_loadings.set_index("item")["std_all"]  # lavaan standardizedSolution() loadings
    assert_allclose(x2["cr_if_deleted"], composite_reliability(visual[["x1", "x3"]]), atol=EXACT, rtol=0)
    assert_allclose(x2["ave_if_deleted"], average_variance_extracted(visual[["x1", "x3"]]), atol=EXACT, rtol=0)


def test_thresholds_validate():
    with pytest.raises(ConfigError, match="cr_min < cr_max"):
        ValidityThresholds(cr_min=0.96)
    with pytest.raises(ConfigError, match="loading"):
        ValidityThresholds(loading=7.08)
    assert ValidityThresholds(close_pairs=(("SAT", "LOY"),)).htmt_threshold("LOY", "SAT") == 0.90

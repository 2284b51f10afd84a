"""The robustness-check stages on a simulated study (the estimators themselves are lavaan-checked)."""

from __future__ import annotations

import pytest

from analysis.study import robustness, stages


@pytest.fixture(scope="module")
def setting(tmp_path_factory, make_context):
    ctx = make_context(tmp_path_factory.mktemp("rigour"), "pytest-rigour", analysis={"seed": 23, "n_jobs": 2},
                       simulation={"sample_size": 500, "careless_share": 0.05, "missing_share": 0.01},
                       behaviour={"enabled": False})
    data = stages.load_study_data(ctx)
    clean = stages.screen(ctx, data).clean
    structural = stages.structural_analysis(ctx, clean, data.truth)
    return ctx, data, clean, structural


def test_invariance_holds_in_data_simulated_from_one_population(setting):
    ctx, _, clean, _ = setting
    table = robustness.invariance_by_group(ctx, clean, group="gender")
    assert list(table["level"]) == ["configural", "metric", "scalar", "strict"]
    assert (table["delta_cfi"].iloc[1:].abs() < 0.01).all()
    assert "undisclosed" in table["note"].iloc[0]
    assert (ctx.output_dir / "tables" / "invariance.csv").is_file()


def test_fiml_uses_more_respondents_than_listwise(setting):
    ctx, data, clean, structural = setting
    table = robustness.missing_data_sensitivity(ctx, clean, stages.structural_model_syntax_for(ctx, data), structural.sem)
    assert len(table) == 8
    assert (table["n_fiml"] > table["n_listwise"]).all()
    assert table["difference"].abs().max() < 0.1


def test_polychoric_loadings_exceed_pearson_ml_loadings(setting):
    ctx, _, clean, _ = setting
    table = robustness.ordinal_sensitivity(ctx, clean)
    assert table["difference"].mean() > 0  # discretisation attenuates Pearson correlations


def test_robust_fit_and_method_bias_tables(setting):
    ctx, data, clean, _ = setting
    robust = robustness.robust_fit(ctx, clean, stages.structural_model_syntax_for(ctx, data)).set_index("index")
    assert robust.loc["scaling factor", "mlr"] > 0
    bias = robustness.method_bias(ctx, clean)
    assert bias["harman"]["variance_share"].iloc[0] < 0.5
    assert (bias["vif"]["vif"] < 3.3).all()
    assert {"r", "r_adjusted"} <= set(bias["marker"].columns)


def test_htmt_intervals_modindices_and_admissibility(setting):
    ctx, _, clean, structural = setting
    htmt = robustness.htmt_intervals(ctx, clean, n_draws=30)
    assert (htmt["ci_lower"] <= htmt["htmt"]).all() and (htmt["htmt"] <= htmt["ci_upper"]).all()
    mi = robustness.largest_modification_indices(ctx, clean, stages.measurement_model_syntax_for(ctx), top=5)
    assert len(mi) == 5 and mi["mi"].is_monotonic_decreasing
    report = robustness.admissibility_report(ctx, {"sem": structural.sem})
    assert list(report.columns) == ["model", "kind", "where", "value", "message"]

"""The behavioural-loyalty chapter stages on a small simulated linked stages."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis.plots import behaviour as plots_behaviour
from analysis.simulate.linked import read_crm_export
from analysis.study import behaviour as chapter
from analysis.study import stages

PROFILE = {"analysis": {"seed": 17, "bootstrap_draws": 0, "n_jobs": 1},
           "simulation": {"sample_size": 300, "careless_share": 0.05, "missing_share": 0.0},
           "behaviour": {"enabled": True, "n_customers": 4000, "months": 24, "response_bias": 0.8}}


def _context(folder, **changes):
    from conftest import make_study_context

    sections = {name: {**values, **changes.get(name, {})} for name, values in PROFILE.items()}
    return make_study_context(folder, "pytest-behaviour", **sections)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    ctx = _context(tmp_path_factory.mktemp("chapter"))
    data = stages.load_study_data(ctx)
    clean = stages.screen(ctx, data).clean
    structural = stages.structural_analysis(ctx, clean, data.truth)
    crm = chapter.behaviour_data(ctx, data)
    chapter.crm_overview(ctx, crm)
    rfm = chapter.rfm_analysis(ctx, crm)
    clv = chapter.clv_analysis(ctx, crm, rfm)
    scores = chapter.attitude_scores(ctx, crm, structural, clean)
    retention = chapter.retention_analysis(ctx, crm, rfm, scores)
    links = chapter.attitude_behaviour_analysis(ctx, crm, rfm, clv, retention, scores)
    bias = chapter.response_bias_analysis(ctx, crm, rfm, clv, retention)
    segments = chapter.segment_analysis(ctx, crm, rfm, clv, retention, scores)
    service = chapter.service_retention(ctx, crm, rfm)
    return {"ctx": ctx, "data": data, "crm": crm, "rfm": rfm, "clv": clv, "scores": scores,
            "retention": retention, "links": links, "bias": bias, "segments": segments, "service": service}


def table(run, name: str) -> pd.DataFrame:
    return pd.read_csv(run["ctx"].output_dir / "tables" / f"{name}.csv")


def test_linked_data_reach_the_chapter(run):
    data, crm = run["data"], run["crm"]
    assert crm.available and crm.simulated
    assert "customer_id" in data.responses and data.linked_truth["n_customers"] == 4000
    assert crm.respondents["customer_id"].isin(crm.customers["customer_id"]).all()


def test_tables_exist_with_their_columns(run):
    expected = {
        "crm_overview": {"quantity", "value"},
        "rfm_summary": {"variable", "unit", "n", "mean", "median", "q90"},
        "repeat_customer_rate": {"grouping", "group", "window", "repeat_rate", "ci_lower", "ci_upper"},
        "cohort_retention": {"cohort", "period", "cohort_size", "retention"},
        "bgnbd": {"parameter", "estimate", "true", "se", "estimate_pure_backbone"},
        "gamma_gamma": {"parameter", "estimate", "true"},
        "clv_summary": {"variable", "mean", "median"},
        "clv_concentration": {"top_share_of_customers", "share_of_total_clv"},
        "bgnbd_fit_check": {"repeat_purchases", "observed", "bgnbd_model"},
        "retention_by_satisfaction": {"source", "group", "timeline", "survival", "ci_lower", "ci_upper"},
        "retention_summary": {"source", "group", "n_customers", "churned_share", "retained_52w"},
        "attitude_behaviour": {"source", "attitude", "behaviour", "method", "n", "r", "true_r"},
        "attitude_behaviour_models": {"source", "behaviour", "term", "coef", "pvalue"},
        "loyalty_repeat_bins": {"source", "group", "repeat_rate", "mean_score"},
        "response_bias": {"measure", "all_customers", "respondents", "difference", "ci_lower"},
        "segments": {"segment", "variable", "n", "mean", "suppressed"},
        "service_retention": {"service", "group", "repeat_rate"},
    }
    for name, columns in expected.items():
        assert columns <= set(table(run, name).columns), name
    assert len(table(run, "rfm_summary")) == 4  # a summary, not one row per customer
    assert (run["ctx"].output_dir / "tables" / "rfm_customers.csv").exists()  # 4,000 customers: small


def test_bgnbd_table_states_the_backbone_truth(run):
    bgnbd = table(run, "bgnbd").set_index("parameter")
    assert list(bgnbd.index[:4]) == ["r", "alpha", "a", "b"]
    assert bgnbd.loc[["r", "alpha", "a", "b"], "true"].tolist() == [0.243, 4.414, 0.793, 2.426]
    # The fitter recovers the backbone on pure BG/NBD data (4,000 customers: within 50%).
    ratio = bgnbd.loc[["r", "alpha", "a", "b"], "estimate_pure_backbone"] / bgnbd.loc[["r", "alpha", "a", "b"], "true"]
    assert ratio.between(0.5, 1.5).all(), ratio.to_dict()
    # The fitted model reproduces the realised 12-month repeat share.
    assert abs(bgnbd.loc["repeat_rate_12m", "estimate"] - bgnbd.loc["repeat_rate_12m", "true"]) < 0.05
    spend = table(run, "gamma_gamma").set_index("parameter")
    assert spend.loc["mean_spend", "estimate"] == pytest.approx(spend.loc["mean_spend", "true"], rel=0.2)


def test_behaviour_fits_are_judged_against_what_they_target(run):
    """The design truth (same fit on 100,000 simulated customers) is what the fit estimates: r is far
    below the backbone's .243 because one-time buyers are added, and the estimate lands near it."""
    bgnbd = table(run, "bgnbd").set_index("parameter")
    assert bgnbd["design_true"].notna().all() and bgnbd.loc["r", "design_true"] < 0.6 * bgnbd.loc["r", "true"]
    near = abs(bgnbd.loc["r", "estimate"] - bgnbd.loc["r", "design_true"])
    assert near < abs(bgnbd.loc["r", "estimate"] - bgnbd.loc["r", "true"])
    spend = table(run, "gamma_gamma").set_index("parameter")
    assert spend.loc["mean_spend", "estimate"] == pytest.approx(spend.loc["mean_spend", "design_true"], rel=0.15)


def test_attitudes_go_with_behaviour_in_the_expected_direction(run):
    links = run["links"].correlations.query("method == 'pearson'").set_index(["source", "attitude", "behaviour"])
    population = links.loc[(chapter.TRUE_ALL, "LOY", "repeat_12m"), "r"]
    assert 0.15 < population < 0.45
    assert links.loc[(chapter.TRUE_ALL, "LOY", "churned"), "r"] < 0
    assert links.loc[(chapter.SURVEY, "LOY", "repeat_12m"), "r"] > 0
    assert set(links.index.get_level_values("source")) == {chapter.SURVEY, chapter.TRUE_RESPONDENTS, chapter.TRUE_ALL}


def test_response_bias_and_segments(run):
    bias = run["bias"].set_index("measure")
    assert bias.loc["true satisfaction (SD units)", "difference"] > 0.2
    assert (bias["n_respondents"] == 300).all()
    segments = run["segments"].table
    assert set(segments["segment"]) == {"low engagement", "medium engagement", "high engagement"}
    visible = segments[~segments["suppressed"]]
    assert ((visible["n"] == 0) | (visible["n"] >= 5)).all()  # a share of 0 reveals nobody
    assert segments.loc[segments["suppressed"], "mean"].isna().all()


def test_figures_are_drawn_and_saved(run):
    ctx, rfm, clv, retention, links = run["ctx"], run["rfm"], run["clv"], run["retention"], run["links"]
    figures = {
        "cohort_retention": plots_behaviour.cohort_retention_heatmap(rfm.cohorts),
        "bgnbd_fit": plots_behaviour.bgnbd_fit_check(clv.frequency_check),
        "clv_distribution": plots_behaviour.clv_distribution(clv.customers, rfm.rfm["frequency"]),
        "retention": plots_behaviour.retention_curves(retention.curves, retention.summary),
        "loyalty_vs_repeat": plots_behaviour.loyalty_repeat_plot(links.binned),
        "attitude_behaviour": plots_behaviour.attitude_behaviour_correlations(links.correlations),
        "segments": plots_behaviour.segment_heatmap(run["segments"].table),
        "response_bias": plots_behaviour.response_bias_plot(run["bias"]),
    }
    for name, figure in figures.items():
        assert isinstance(figure, Figure)
        ctx.save_figure(figure, name)
        assert (ctx.output_dir / "figures" / f"{name}.png").stat().st_size > 10_000


def test_practical_reading_and_readable_views(run):
    text = chapter.practical_reading(run["rfm"], run["clv"], run["retention"], run["links"], run["bias"],
                                     run["service"], run["segments"])
    assert text.count("\n* ") >= 5 and "Mittal & Kamakura" in text
    wide = chapter.correlation_table(run["links"])
    assert {"attitude", "behaviour", chapter.SURVEY, chapter.TRUE_ALL} <= set(wide.columns)
    assert set(chapter.model_table(run["links"])["term"]) == {"SAT", "LOY", "TRU"}


def test_switched_off_or_missing_crm_is_explained(run):
    ctx = _context(run["ctx"].output_dir.parent / "off", behaviour={"enabled": False})
    off = chapter.behaviour_data(ctx, stages.StudyData(run["data"].responses, "test"))
    assert not off.available and off.note
    file_data = stages.StudyData(run["data"].responses, "file", behaviour_note="needs behaviour.crm_path")
    assert "crm_path" in chapter.behaviour_data(run["ctx"], file_data).note


def test_client_crm_export_without_truth(run, tmp_path):
    folder = tmp_path / "crm"
    folder.mkdir()
    run["crm"].orders[["customer_id", "timestamp", "amount"]].to_parquet(folder / "orders.parquet")
    data = stages.StudyData(run["data"].responses.drop(columns="customer_id"), "file", crm=read_crm_export(folder),
                           behaviour_note="CRM export.")
    ctx = _context(tmp_path / "export")
    crm = chapter.behaviour_data(ctx, data)
    assert crm.available and not crm.simulated and crm.respondents is None and "customer_id" in crm.note
    rfm = chapter.rfm_analysis(ctx, crm)
    clv = chapter.clv_analysis(ctx, crm, rfm)
    assert clv.bgnbd_table["true"].isna().all() and "estimate_pure_backbone" not in clv.bgnbd_table
    assert rfm.cohorts is None
    assert chapter.attitude_scores(ctx, crm, None, data.responses) is None
    retention = chapter.retention_analysis(ctx, crm, rfm, None)
    assert set(retention.summary["source"]) == {"all customers"}
    assert chapter.attitude_behaviour_analysis(ctx, crm, rfm, clv, retention, None) is None
    assert chapter.segment_analysis(ctx, crm, rfm, clv, retention, None) is None
    assert isinstance(plots_behaviour.retention_curves(retention.curves, retention.summary), Figure)

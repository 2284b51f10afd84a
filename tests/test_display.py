"""Reading tables: every table of a small study run, as the report shows it, in all three languages."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from analysis.i18n import LANGUAGES, catalog, check_catalog, text
from analysis.study import behaviour as chapter
from analysis.study import recovery, robustness, stages
from analysis.study.display import (
    MARK_NO,
    MARK_YES,
    TABLE_WIDTH_PX,
    appendix_codebook,
    format_table,
    run_details,
    show_table,
    title_block,
)

SNAKE = re.compile(r"^[a-z]+(_[a-z0-9]+)+$")
CJK = re.compile(r"[\u3400-\u9fff]")
PROFILE = {"analysis": {"seed": 5, "bootstrap_draws": 20, "n_jobs": 1},
           "simulation": {"sample_size": 300, "careless_share": 0.08, "missing_share": 0.01},
           "behaviour": {"enabled": True, "n_customers": 3000, "months": 24}}
#: Tables the notebook shows in another shape than the stage saved (name -> how it is built).
RESHAPED = {"attitude_behaviour": "correlation_table", "attitude_behaviour_models": "model_table"}
OWN_PREFIXES = ("column.", "table.", "value.", "display.")


@pytest.fixture(scope="module")
def run(tmp_path_factory, make_context):
    """All stages on a small linked simulation; every table kept as the stage returned it."""
    folder = tmp_path_factory.mktemp("display")
    ctx = make_context(folder, "pytest-display", **PROFILE)
    saved: dict[str, pd.DataFrame] = {}
    write = ctx.save_table

    def capture(table: pd.DataFrame, name: str) -> pd.DataFrame:
        saved[name] = table
        return write(table, name)

    ctx.save_table = capture
    data = stages.load_study_data(ctx)
    screening = stages.screen(ctx, data)
    clean = screening.clean
    measurement = stages.measurement_analysis(ctx, clean)
    structural = stages.structural_analysis(ctx, clean, data.truth)
    models = {"measurement (CFA)": measurement.cfa, "structural (SEM)": structural.sem}
    stages.fit_table(ctx, models)
    boot = stages.indirect_effects(ctx, structural, clean, data.truth)
    recovery.recovery_analysis(ctx, data.truth, structural, boot, stages.EFFECT_PAIRS)
    syntax = stages.structural_model_syntax_for(ctx, data)
    robustness.invariance_by_group(ctx, clean, group="gender")
    robustness.missing_data_sensitivity(ctx, clean, syntax, structural.sem)
    robustness.ordinal_sensitivity(ctx, clean)
    robustness.robust_fit(ctx, clean, syntax)
    robustness.method_bias(ctx, clean)
    robustness.htmt_intervals(ctx, clean, n_draws=20)
    robustness.largest_modification_indices(ctx, clean, stages.measurement_model_syntax_for(ctx))
    robustness.admissibility_report(ctx, models)
    robustness.engine_agreement(ctx, clean, models)
    crm = chapter.behaviour_data(ctx, data)
    chapter.crm_overview(ctx, crm)
    rfm = chapter.rfm_analysis(ctx, crm)
    clv = chapter.clv_analysis(ctx, crm, rfm)
    scores = chapter.attitude_scores(ctx, crm, structural, clean)
    retention = chapter.retention_analysis(ctx, crm, rfm, scores)
    links = chapter.attitude_behaviour_analysis(ctx, crm, rfm, clv, retention, scores)
    chapter.response_bias_analysis(ctx, crm, rfm, clv, retention)
    chapter.segment_analysis(ctx, crm, rfm, clv, retention, scores)
    chapter.service_retention(ctx, crm, rfm)
    effects = boot.summary.query("to == 'LOY' and kind == 'total'")
    notebook = {  # shown by the notebook but not saved (or saved in another shape)
        "data_overview": stages.data_overview(data, ctx.instrument),
        "correlation_table": chapter.correlation_table(links),
        "model_table": chapter.model_table(links),
        "ipma": pd.DataFrame({"driver": effects["from_"].to_numpy(), "name": effects["from_"].to_numpy(),
                              "total_effect": effects["est"].to_numpy(), "ci_lower": effects["ci_lower"].to_numpy(),
                              "ci_upper": effects["ci_upper"].to_numpy(),
                              "performance": np.linspace(60, 75, len(effects))}),
    }
    contexts = {language: make_context(folder / language, "pytest-display", report={"language": language},
                                       **PROFILE) for language in LANGUAGES}
    return {"ctx": ctx, "contexts": contexts, "saved": saved, "notebook": notebook, "data": data,
            "screening": screening}


def _tables(run, language: str) -> dict[str, tuple[str, pd.DataFrame]]:
    """key -> (name passed to show_table, table): every saved table, the notebook's own ones,
    and the sections that are built in the report language."""
    ctx = run["contexts"][language]
    tables = {name: (name, table) for name, table in run["saved"].items()}
    for key, table in run["notebook"].items():
        name = next((n for n, how in RESHAPED.items() if how == key), key)
        tables[key] = (name, table)
    tables["run_details"] = ("run_details", run_details(ctx, run["data"], run["screening"]))
    tables["codebook"] = ("codebook", appendix_codebook(ctx))
    return tables


def _read(run, language: str) -> dict:
    ctx = run["contexts"][language]
    return {key: format_table(ctx, table, name, max_rows=None if name == "codebook" else 60)
            for key, (name, table) in _tables(run, language).items()}


@pytest.fixture(scope="module")
def readings(run):
    return {language: _read(run, language) for language in LANGUAGES}


def test_the_run_saved_every_table_the_report_shows(run):
    expected = {"reliability", "loadings", "discriminant_validity", "htmt", "fit", "paths", "estimates_structural",
                "r_squared", "indirect", "specific_indirect", "recovery", "screening_summary", "screening_flags",
                "excluded_respondents", "screening_vs_truth", "invariance", "missing_data_sensitivity",
                "ordinal_vs_ml", "robust_fit", "harman", "full_collinearity_vif", "marker_correction",
                "htmt_intervals", "modindices", "admissibility", "engine_agreement", "crm_overview", "rfm_summary",
                "repeat_customer_rate", "bgnbd", "gamma_gamma", "clv_summary", "clv_concentration",
                "retention_by_satisfaction", "service_retention", "attitude_behaviour", "attitude_behaviour_models",
                "response_bias", "segments"}
    assert expected <= set(run["saved"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_table_reads_as_words_and_apa_numbers(readings, language):
    problems = []
    p_header = text("column.pvalue", language)
    hidden = {text(f"column.{c}", language) for c in ("respondent_id", "customer_id")} | {
        "respondent_id", "customer_id"}
    for key, reading in readings[language].items():
        frame = reading.frame
        headers = [str(c) for c in frame.columns]
        cells = frame.astype(str).to_numpy().ravel().tolist()
        snake = [h for h in headers if SNAKE.match(h)]
        if snake:
            problems.append(f"{key}: code names as headers {snake}")
        if set(headers) & hidden:
            problems.append(f"{key}: identifier column shown")
        if any(re.fullmatch(r"R\d{5}", c) for c in cells):
            problems.append(f"{key}: respondent identifiers in the cells")
        words = [c for c in cells if re.fullmatch(r"\s*(True|False|nan|NaN|None|<NA>)\s*", c)]
        if words:
            problems.append(f"{key}: Python values in cells {words[:3]}")
        for position, header in enumerate(headers):
            if header == p_header and frame.iloc[:, position].isin([".000", "0.000"]).any():
                problems.append(f"{key}: p-value printed as 0.000")
        if reading.width > TABLE_WIDTH_PX:
            problems.append(f"{key}: {reading.width} px wide (limit {TABLE_WIDTH_PX})")
        if not reading.caption.strip():
            problems.append(f"{key}: no caption")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", ["zh-Hans", "zh-Hant"])
def test_chinese_headers_are_chinese(readings, language):
    """A header with English words must have Chinese words (CFI, α, n and the like need none)."""
    problems = []
    for key, reading in readings[language].items():
        english = readings["en"][key].frame.columns
        chinese = [str(c) for c in reading.frame.columns]
        if not any(CJK.search(h) for h in chinese):
            problems.append(f"{key}: no Chinese header at all {chinese}")
        if len(english) != len(chinese):
            problems.append(f"{key}: {len(english)} English but {len(chinese)} Chinese columns")
            continue
        for en, zh in zip(english, chinese, strict=True):
            if re.search(r"[a-z]{4,}", str(en)) and not CJK.search(zh):
                problems.append(f"{key}: {en!r} left untranslated as {zh!r}")
        if not CJK.search(reading.caption):
            problems.append(f"{key}: caption not in Chinese")
    assert not problems, "\n".join(problems)


def test_apa_numbers_and_marks(readings):
    en, zh = readings["en"], readings["zh-Hans"]
    reliability = en["reliability"].frame
    assert reliability[text("column.alpha", "en")].str.match(r"^\.\d\d$").all()  # bounded: no leading zero
    assert reliability[text("column.n_items", "en")].str.fullmatch(r"\d+").all()  # counts without decimals
    assert zh["reliability"].frame[text("column.alpha", "zh-Hans")].str.match(r"^0\.\d\d$").all()
    paths = en["paths"].frame[text("column.pvalue", "en")]
    assert paths.isin(["< .001"]).any() and not paths.str.startswith("0.").any()
    assert zh["paths"].frame[text("column.pvalue", "zh-Hans")].isin(["< 0.001"]).any()
    shares = en["screening_summary"].frame[text("column.share", "en")]
    assert shares.str.endswith("%").all()
    loadings = en["loadings"].frame[text("column.meets_loading", "en")]
    assert set(loadings) <= {MARK_YES, MARK_NO}


def test_pairwise_tables_become_construct_matrices(run, readings):
    codes = [c.code for c in run["ctx"].instrument.constructs if c.role not in ("marker", "attention")]
    for name, square in (("discriminant_validity", True), ("marker_correction", True), ("htmt", False),
                         ("htmt_intervals", False)):
        frame = readings["en"][name].frame
        n = len(codes) if square else len(codes) - 1
        assert frame.shape == (n, n + 1), name
        assert list(frame.columns[1:]) == (codes if square else codes[:-1]), name
        assert "construct_a" not in run["saved"][name].columns or len(frame) < len(run["saved"][name])


def test_intervals_merge_and_constants_move_to_the_note(readings):
    indirect = readings["en"]["indirect"]
    ci = indirect.frame[text("column.ci", "en")]
    assert ci.str.fullmatch(r"\[-?\.\d{3}, -?\.\d{3}\]").all()
    headers = set(indirect.frame.columns)
    assert not {text("column.ci_lower", "en"), text("column.ci_upper", "en"), text("column.n_draws", "en")} & headers
    assert any(note.startswith("All rows:") and text("column.n_draws", "en") in note for note in indirect.notes)
    # a grouping value is shown once per group, not on every row
    effect = indirect.frame[text("column.effect_path", "en")]
    assert (effect == "").sum() >= len(effect) // 2


def test_excluded_respondents_are_counted_by_reason(run, readings):
    excluded = run["saved"]["excluded_respondents"]
    frame = readings["en"]["excluded_respondents"].frame
    assert len(frame) <= 7 and len(frame) < len(excluded)
    counts = frame[text("column.n_respondents", "en")].astype(int)
    assert counts.sum() >= len(excluded) and counts.max() <= len(excluded)


def test_show_table_numbers_the_tables_of_a_run(run, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    ctx = run["contexts"]["zh-Hant"]
    ctx.table_count = 0
    first = show_table(ctx, run["saved"]["fit"], "fit")
    second = show_table(ctx, run["saved"]["reliability"], "reliability", caption_values={"unused": 1})
    assert first.attrs["caption"].startswith("表 1.") and second.attrs["caption"].startswith("表 2.")
    html = shown[0]["text/html"]
    assert "<caption>" in html and "<style>" in html and "<style>" not in shown[1]["text/html"]
    assert 'aria-label="是"' in html  # marks carry their word for screen readers
    assert shown[1]["text/markdown"].startswith("**表 2.**")
    assert list(first.columns) == list(format_table(ctx, run["saved"]["fit"], "fit").frame.columns)
    assert "meets_cfi" in run["saved"]["fit"].columns  # the computing table is left as it was


def test_report_sections_speak_the_report_language(run):
    ctx = run["contexts"]["zh-Hans"]
    assert "客户" in title_block(ctx)
    details = run_details(ctx, run["data"], run["screening"])
    assert CJK.search(details["setting"].iloc[0])
    codebook = appendix_codebook(ctx)
    assert CJK.search(codebook["text"].iloc[0]) and "非常同意" in codebook.attrs["scale"]
    assert any("非常同意" in note for note in format_table(ctx, codebook, "codebook", max_rows=None).notes)


def test_catalog_has_every_column_caption_and_value_in_every_language(run):
    own = {key for key in catalog() if key.startswith(OWN_PREFIXES)}
    problems = [p for p in check_catalog() if p.split(":")[0] in own]
    assert not problems, problems
    columns = {c for table in run["saved"].values() for c in table.columns if re.fullmatch(r"[a-z][a-z0-9_]*", c)}
    missing = sorted(c for c in columns if f"column.{c}" not in own)
    assert not missing, f"no column.<name> entry for {missing}"
    captions = sorted(name for name in [*run["saved"], *run["notebook"], "run_details", "codebook"]
                      if name not in RESHAPED.values() and f"table.{name}.caption" not in own)
    assert not captions, f"no caption for {captions}"


def test_tables_of_unusual_runs_read_too(run):
    """No bootstrap, no invariance test, an improper solution, semopy not asked."""
    ctx = run["contexts"]["en"]
    effects = run["saved"]["indirect"][["from_", "to", "kind", "est"]]
    assert text("column.ci", "en") not in format_table(ctx, effects, "indirect").frame.columns
    empty = pd.DataFrame({"level": [], "note": []})
    reading = format_table(ctx, empty, "invariance")
    assert len(reading.frame) == 0 and reading.notes == [text("table.invariance.not_tested", "en")]
    problem = pd.DataFrame({"model": ["structural (SEM)"], "kind": ["heywood"], "where": ["EFF1 ~~ EFF1"],
                            "value": [-0.021], "message": ["negative residual variance"]})
    frame = format_table(ctx, problem, "admissibility").frame
    assert frame.iloc[0].tolist() == ["Structural (SEM)", text("value.problem.heywood", "en"), "EFF1 ~~ EFF1",
                                      "-0.021"]
    skipped = pd.DataFrame({"model": ["cfa"], "engine": ["workbench"], "second_engine": ["semopy"],
                            "note": ["not compared: ordinal data"]})
    frame = format_table(ctx, skipped, "engine_agreement").frame
    assert frame.iloc[0].tolist() == ["Measurement (CFA)", text("value.engine.not_compared", "en")]

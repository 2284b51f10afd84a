"""Tests for analysis.plots.survey and analysis.plots.diagram: every figure builds, has the expected
axes and artists, survives missing optional columns, and saves a non-empty PNG."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch

from analysis import plots
from analysis.errors import ConfigError, DataError
from analysis.plots.diagram import path_diagram, significance_stars
from analysis.plots.diagram_layout import STUDY_LAYOUT, layered_layout
from analysis.plots.style import construct_name

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ITEMS = [f"{code}{k}" for code, n in [("EFF", 4), ("SYS", 3), ("SAT", 4), ("LOY", 3)]
         for k in range(1, n + 1)]
STUDY_PATHS = [("TRU", "ESQ", 0.55, 1e-6), ("VAL", "ESQ", 0.55, 1e-6), ("SAT", "ESQ", 0.40, 1e-5),
               ("SAT", "TRU", 0.25, 0.003), ("SAT", "VAL", 0.25, 0.002),
               ("LOY", "SAT", 0.40, 1e-4), ("LOY", "TRU", 0.30, 0.01), ("LOY", "ESQ", 0.10, 0.12)]


def _saved(fig: Figure, tmp_path, name: str):
    path = plots.save_figure(fig, tmp_path, name)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5_000
    return path


@pytest.fixture
def responses() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 150
    latent = rng.normal(size=n)
    table = {"respondent_id": [f"R{i:05d}" for i in range(1, n + 1)],
             "survey_language": "en",
             "duration_sec": np.exp(rng.normal(np.log(250), 0.5, n))}
    for item in ITEMS:
        answers = np.clip(np.round(4.5 + 1.3 * (0.8 * latent + 0.6 * rng.normal(size=n))), 1, 7)
        table[item] = pd.array(answers.astype(int), dtype="Int8")
    frame = pd.DataFrame(table)
    frame.loc[:9, "EFF1"] = pd.NA
    frame.loc[:7, "duration_sec"] = rng.uniform(10, 25, 8)
    frame["device"] = "mobile"
    return frame


@pytest.fixture
def flags(responses) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = len(responses)
    table = pd.DataFrame({
        "respondent_id": responses["respondent_id"],
        "attention": rng.random(n) < 0.08,
        "speeder": (responses["duration_sec"] / len(ITEMS) < 2).to_numpy(),
        "longstring": pd.array(rng.random(n) < 0.05, dtype="boolean"),
        "reason": "",
    })
    table["excluded"] = table["attention"] | table["speeder"]
    return table


@pytest.fixture
def study_estimates() -> pd.DataFrame:
    rows = []
    for dim, loading in zip(["EFF", "SYS", "FUL", "PRI"], [0.82, 0.74, 0.85, 0.71]):
        rows.append(("ESQ", "=~", dim, loading, 1e-8))
    for construct in ["EFF", "SYS", "FUL", "PRI", "TRU", "VAL", "SAT", "LOY"]:
        rows += [(construct, "=~", f"{construct}{k}", 0.6 + 0.08 * k, 1e-8) for k in range(1, 4)]
    rows += [(lhs, "~", rhs, coef, p) for lhs, rhs, coef, p in STUDY_PATHS]
    rows.append(("SAT", "~~", "SAT", 0.46, 1e-4))
    table = pd.DataFrame(rows, columns=["lhs", "op", "rhs", "std_all", "pvalue"])
    table["est"], table["se"], table["label"] = table["std_all"], 0.05, ""
    table["z"] = table["est"] / table["se"]
    table["ci_lower"], table["ci_upper"] = table["est"] - 0.1, table["est"] + 0.1
    return table


def test_save_figure_writes_png_atomically_outside_pyplot(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plots.subplots()
    ax.plot([0, 1], [0, 1])
    path = plots.save_figure(fig, tmp_path / "figures", "line.png")
    assert path == tmp_path / "figures" / "line.png"
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert [p.name for p in path.parent.iterdir()] == ["line.png"]  # no temp file left
    assert plt.get_fignums() == []  # figures never enter pyplot's global registry


def test_the_package_never_switches_the_matplotlib_backend():
    package = Path(plots.__file__).parents[1]
    offenders = [str(p.relative_to(package)) for p in package.rglob("*.py")
                 if re.search(r"matplotlib\.use\(|^\s*(import|from) matplotlib(\.pyplot| import pyplot)",
                               p.read_text(encoding="utf-8"), re.M)]
    assert offenders == []


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden"])
def test_save_figure_rejects_names_that_are_not_plain_files(tmp_path, name):
    with pytest.raises(ConfigError, match="figure name"):
        plots.save_figure(plots.subplots()[0], tmp_path, name)


def test_likert_distribution_has_one_panel_per_construct(responses, tmp_path):
    fig = plots.likert_distribution(responses, ITEMS, labels={"EFF1": "EFF1 easy to find"})
    assert isinstance(fig, Figure)
    # Panels are titled "code · name"; a code the construct catalog lacks stays a bare code.
    expected = [f"{c} · {construct_name(c, 'en')}" if construct_name(c, "en") else c
                for c in ["EFF", "SYS", "SAT", "LOY"]]
    assert [ax.get_title(loc="left") for ax in fig.axes] == expected
    assert [len(ax.patches) for ax in fig.axes] == [4 * 7, 3 * 7, 4 * 7, 3 * 7]
    assert fig.axes[0].get_yticklabels()[0].get_text() == "EFF1 easy to find"
    _saved(fig, tmp_path, "likert")


def test_likert_distribution_rejects_out_of_range_answers(responses):
    responses.loc[0, "SYS2"] = 9
    with pytest.raises(DataError, match="SYS2"):
        plots.likert_distribution(responses, ITEMS)
    with pytest.raises(DataError, match="missing column"):
        plots.likert_distribution(responses, ["NOPE1"])


def test_correlation_heatmap_annotates_lower_triangle(responses, tmp_path):
    scores = pd.DataFrame({c: responses[[i for i in ITEMS if i.startswith(c)]].astype(float)
                           .mean(axis=1) for c in ["EFF", "SYS", "SAT", "LOY"]})
    fig = plots.construct_correlation_heatmap(scores.corr(), "Construct correlations")
    assert len(fig.axes) == 2  # heatmap + colour bar
    assert len(fig.axes[0].texts) == 4 * 5 // 2
    _saved(fig, tmp_path, "heatmap")
    with pytest.raises(DataError, match="square"):
        plots.construct_correlation_heatmap(scores.corr().iloc[:, :3], "bad")


def test_screening_summary_counts_rules(flags, tmp_path):
    fig = plots.screening_summary(flags)
    rules_ax, count_ax = fig.axes
    # Rules the catalog knows are named in words, others keep their column name.
    assert [t.get_text() for t in rules_ax.get_yticklabels()] == ["attention", "speeder",
                                                                   "long string of identical answers"]
    assert len(rules_ax.patches) == 2 * 3
    heights = sum(p.get_height() for p in count_ax.patches)
    assert heights == len(flags)
    _saved(fig, tmp_path, "screening")
    with pytest.raises(DataError, match="excluded"):
        plots.screening_summary(flags.drop(columns="excluded"))


def test_screening_summary_counts_only_the_rule_columns(flags):
    """With ``rule_*`` columns, the intermediate booleans and the ``flagged`` summary are not
    rules of their own (they used to inflate "number of rules flagged")."""
    table = flags.rename(columns={"attention": "rule_instructed_response", "speeder": "rule_speeding"})
    table["flagged"] = table["rule_instructed_response"] | table["rule_speeding"]
    table["too_fast_per_item"] = table["rule_speeding"]
    fig = plots.screening_summary(table)
    rules_ax, count_ax = fig.axes
    assert [t.get_text() for t in rules_ax.get_yticklabels()] == [
        "failed an instructed-response item", "speeding (too fast)"]
    assert len(count_ax.get_xticks()) <= 3  # 0, 1 or 2 rules


def test_duration_distribution_with_and_without_flags(responses, flags, tmp_path):
    fig = plots.duration_distribution(responses, flags)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert len(ax.lines) == 2  # speeder cut-off and relative-to-median cut-off
    assert ax.lines[0].get_xdata()[0] == pytest.approx(2.0)
    _saved(fig, tmp_path, "duration")
    fig = plots.duration_distribution(responses.drop(columns="respondent_id"))
    assert len(fig.axes) == 1
    with pytest.raises(DataError, match="duration_sec"):
        plots.duration_distribution(responses.drop(columns="duration_sec"))


def test_loadings_plot_highlights_weak_items(study_estimates, tmp_path):
    minimal = study_estimates[["lhs", "op", "rhs", "std_all"]]  # no optional columns
    fig = plots.loadings_plot(minimal)
    (ax,) = fig.axes
    n_loadings = int((minimal["op"] == "=~").sum())
    assert len(ax.get_yticklabels()) == n_loadings
    weak = (minimal["op"] == "=~") & (minimal["std_all"] < 0.708)
    assert len(ax.texts) - 9 == weak.sum()  # 9 construct names on the right
    _saved(fig, tmp_path, "loadings")
    with pytest.raises(DataError, match="std_all"):
        plots.loadings_plot(study_estimates.drop(columns="std_all"))


def test_fit_indices_plot_has_four_panels_and_tolerates_missing(tmp_path):
    """Values: lavaan 0.6 Political Democracy fit (see DOMAIN.md)."""
    fit = {"chisq": 38.125, "df": 35, "pvalue": 0.33, "cfi": 0.995, "tli": 0.993,
           "rmsea": 0.035, "rmsea_ci_lower": 0.0, "rmsea_ci_upper": 0.092, "srmr": 0.044, "n": 75}
    fig = plots.fit_indices_plot(fit, {"rmsea": 0.08})
    assert len(fig.axes) == 4
    assert "cut-off ≤ 0.08: met" in fig.axes[2].get_title(loc="left")
    _saved(fig, tmp_path, "fit")
    fig = plots.fit_indices_plot({"cfi": 0.90, "tli": None}, None)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert "not met" in titles[0] and all("not available" in t for t in titles[1:])
    with pytest.raises(ConfigError, match="cfa"):
        plots.fit_indices_plot(fit, {"cfa": 0.9})


@pytest.mark.parametrize("with_ci", [True, False])
def test_recovery_plot(tmp_path, with_ci):
    truth = np.array([0.55, 0.55, 0.40, 0.25, 0.25, 0.40, 0.30, 0.10])
    estimate = truth + np.array([0.01, -0.02, 0.07, 0.0, -0.03, 0.02, 0.01, -0.09])
    table = pd.DataFrame({"parameter": [f"p{i}" for i in range(8)], "true": truth,
                          "estimate": estimate})
    if with_ci:
        table["ci_lower"], table["ci_upper"] = estimate - 0.08, estimate + 0.08
    fig = plots.recovery_plot(table)
    (ax,) = fig.axes
    assert len(ax.texts) == 8 + 1  # point labels + summary box
    assert "6 of 8 within" in ax.texts[0].get_text()
    _saved(fig, tmp_path, f"recovery_{with_ci}")


def test_bootstrap_distribution_one_panel_per_effect(tmp_path):
    rng = np.random.default_rng(1)
    draws = pd.DataFrame({"a": rng.normal(0.16, 0.04, 500), "b": rng.normal(0.02, 0.03, 500),
                          "c": rng.normal(0.1, 0.02, 500), "d": rng.normal(0.3, 0.1, 500)})
    ci = pd.DataFrame({"ci_lower": [0.08, -0.04], "ci_upper": [0.24, 0.08]}, index=["a", "b"])
    fig = plots.bootstrap_distribution(draws, {"a": 0.16, "b": 0.02}, ci)
    assert len(fig.axes) == 4
    assert "[0.080, 0.240]" in fig.axes[0].texts[0].get_text()
    assert "includes 0" in fig.axes[1].texts[0].get_text()
    # The legend names only what is drawn: a or b got an estimate line, so it is listed.
    assert "estimate (full sample)" in [t.get_text() for t in fig.legends[0].get_texts()]
    low, high = np.quantile(draws["c"], [0.025, 0.975])  # no ci given: percentile interval
    assert f"[{low:.3f}, {high:.3f}]" in fig.axes[2].texts[0].get_text()
    _saved(fig, tmp_path, "bootstrap")
    indirect = pd.DataFrame({"effect": ["a"], "est": [0.16], "ci_lower": [0.1], "ci_upper": [0.2]})
    assert len(plots.bootstrap_distribution(draws[["a"]], indirect, indirect).axes) == 1


def test_bootstrap_legend_is_honest_and_reads_the_bootstrap_summary():
    rng = np.random.default_rng(2)
    draws = pd.DataFrame({"ESQ->LOY:indirect": rng.normal(0.3, 0.05, 300),
                          "ESQ->LOY:total": rng.normal(0.44, 0.05, 300)})
    fig = plots.bootstrap_distribution(draws)  # no estimates: no estimate line, none promised
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert not any("estimate" in label for label in legend) and "95% interval" in legend
    assert not any(line.get_color() == "black" and line.get_linewidth() == 2 for line in fig.axes[0].lines)
    assert fig.axes[0].get_title() == "ESQ → LOY, indirect effect"
    summary = pd.DataFrame({"from_": ["ESQ", "ESQ"], "to": ["LOY", "LOY"], "kind": ["indirect", "total"],
                            "est": [0.31, 0.45], "ci_lower": [0.2, 0.35], "ci_upper": [0.4, 0.55]})
    fig = plots.bootstrap_distribution(draws, summary, summary)
    assert "estimate (full sample)" in [t.get_text() for t in fig.legends[0].get_texts()]
    assert [line.get_xdata()[0] for line in fig.axes[1].lines if line.get_color() == "black"] == [0.45]
    assert "[0.350, 0.550]" in fig.axes[1].texts[0].get_text()


def _labels_clear_nodes(fig: Figure) -> bool:
    ax = fig.axes[0]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    for text in ax.texts:
        if text.get_bbox_patch() is None:
            continue  # node names and R² sit inside nodes on purpose
        box = text.get_window_extent(renderer)
        corners = [(box.x0, box.y0), (box.x1, box.y0), (box.x0, box.y1), (box.x1, box.y1),
                   ((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)]
        if any(e.contains_point(c) for e in ellipses for c in corners):
            return False
    return True


def test_path_diagram_study_model(study_estimates, tmp_path):
    fig = path_diagram(study_estimates, r2={"SAT": 0.54, "LOY": 0.48}, title="Study model")
    ax = fig.axes[0]
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(ellipses) == 9 and len(arrows) == len(STUDY_PATHS) + 4
    assert {e.center for e in ellipses} == set(STUDY_LAYOUT.values())
    labels = {t.get_text() for t in ax.texts}
    assert {"0.55***", "0.25**", "0.30*", "0.10", "0.82***", "R² = 0.54"} <= labels
    assert _labels_clear_nodes(fig)
    _saved(fig, tmp_path, "path_study")


def test_path_diagram_without_optional_columns_and_with_observed_node():
    table = pd.DataFrame({"lhs": ["F", "F", "Y", "Y"], "op": ["=~", "=~", "~", "~"],
                          "rhs": ["x1", "x2", "F", "age"], "est": [1.0, 0.8, 0.4, 0.1]})
    fig = path_diagram(table)
    ax = fig.axes[0]
    assert sum(isinstance(p, FancyBboxPatch) for p in ax.patches) == 2  # Y and age observed
    assert any("Unstandardized" in t.get_text() for t in fig.texts)
    with pytest.raises(DataError, match="lhs"):
        path_diagram(table.drop(columns="lhs"))
    with pytest.raises(ConfigError, match="age"):
        path_diagram(table, latents_layout={"F": (0, 0), "Y": (3, 0)})


def _semopy_to_contract(inspected: pd.DataFrame, latents: set[str]) -> pd.DataFrame:
    """semopy writes a loading as ``x1 ~ ind60``; the contract wants ``ind60 =~ x1``."""
    table = inspected.rename(columns={"lval": "lhs", "rval": "rhs", "Estimate": "est",
                                      "Std. Err": "se", "z-value": "z", "p-value": "pvalue",
                                      "Est. Std": "std_all"})
    loading = (table["op"] == "~") & ~table["lhs"].isin(latents) & table["rhs"].isin(latents)
    table.loc[loading, ["lhs", "rhs"]] = table.loc[loading, ["rhs", "lhs"]].to_numpy()
    table.loc[loading, "op"] = "=~"
    for column in ("est", "se", "z", "pvalue", "std_all"):
        table[column] = pd.to_numeric(table[column], errors="coerce")  # semopy writes '-'
    return table


def test_path_diagram_political_democracy_automatic_layout(tmp_path):
    semopy = pytest.importorskip("semopy")
    from semopy.examples import political_democracy

    model = semopy.Model(political_democracy.get_model())
    model.fit(political_democracy.get_data())
    table = _semopy_to_contract(model.inspect(std_est=True), {"ind60", "dem60", "dem65"})
    assert set(table.loc[table["op"] == "=~", "lhs"]) == {"ind60", "dem60", "dem65"}
    fig = path_diagram(table, title="Political Democracy", r2={"dem60": 0.20, "dem65": 0.96})
    ax = fig.axes[0]
    centres = {t.get_text(): t.get_position() for t in ax.texts}
    assert centres["ind60"][0] < centres["dem60"][0] < centres["dem65"][0]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == 3
    # ind60 -> dem65 would run straight through dem60, so exactly one arrow must bend.
    bends = [a.get_connectionstyle().rad for a in arrows]
    assert sum(r != 0 for r in bends) == 1
    assert {"0.45***", "0.89***", "0.18**"} <= {t.get_text() for t in ax.texts}
    assert _labels_clear_nodes(fig)
    _saved(fig, tmp_path, "path_poldem")


def test_layered_layout_layers_and_breaks_cycles():
    positions = layered_layout(["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("c", "b"),
                                                      ("a", "c"), ("d", "c")])
    assert positions["a"][0] == 0 and positions["b"][0] > 0
    assert positions["c"][0] > positions["b"][0]
    assert len(set(positions.values())) == 4


def test_significance_stars_and_lazy_reexport():
    assert [significance_stars(p) for p in (0.0004, 0.004, 0.04, 0.4, None, "-")] == [
        "***", "**", "*", "", "", ""]
    assert plots.path_diagram is path_diagram

"""Figures in the report's language: every figure function renders in en, zh-Hans and
zh-Hant with the project's own CJK fonts (no missing glyphs), without English words in the
Chinese figures, with every text legible at the report width; captions and alt text exist
for every figure the study shows, and ``StudyContext.save_figure`` numbers and describes them.

Legibility rule (see :mod:`analysis.plots.style`): a PNG saved at 150 dpi is shown at most
760 CSS px wide and never enlarged, so a font of ``f`` pt in a PNG ``w`` px wide is seen at
``f * 150 / 72 * min(1, 760 / w) * 0.75`` CSS pt; every visible text must come out at 9 pt
or more.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import re
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager
from matplotlib.text import Text
from PIL import Image

from analysis.i18n import LANGUAGES, MissingTranslation, catalog, check_catalog, text
from analysis.plots import behaviour as pb
from analysis.plots import diagram, sem, style, survey
from analysis.study.behaviour_attitudes import SURVEY, TRUE_ALL, TRUE_RESPONDENTS
from analysis.study.context import StudyContext

ROOT = Path(__file__).resolve().parents[1]
FIGURES_YAML = ROOT / "analysis" / "i18n" / "catalog" / "figures.yaml"
#: Figure names the study shows (also found by scanning the notebook and the package below);
#: ``ipma`` is drawn by analysis.study.ipma.
STUDY_FIGURES = {"likert_distribution", "screening_summary", "durations", "fit_cfa", "loadings",
                 "fornell_larcker", "path_diagram", "bootstrap", "recovery", "cohort_retention", "bgnbd_fit",
                 "clv_distribution", "retention_by_satisfaction", "loyalty_vs_repeat", "attitude_behaviour",
                 "response_bias", "segments", "ipma"}
#: Lower-case Latin words allowed in Chinese figures: notation, not English prose.
ALLOWED_LATIN = {"alive"}  # P(alive), the BG/NBD quantity's usual name
CJK = re.compile(r"[\u3400-\u9fff]")
ITEMS = [f"{code}{k}" for code in ("EFF", "SYS", "SAT", "LOY") for k in (1, 2, 3)]
MEASURES = {  # analysis.study.behaviour_attitudes.response_bias_analysis
    "repeat customer within 12 months (share)": "observed CRM",
    "repeat customer, whole observation (share)": "observed CRM",
    "repeat purchases (mean)": "observed CRM", "churned (share)": "observed CRM",
    "P(alive) (mean)": "observed CRM", "CLV (mean)": "observed CRM",
    "true satisfaction (SD units)": "simulation truth",
    "experienced satisfaction (SD units)": "simulation truth",
    "true loyalty (SD units)": "simulation truth",
}


# --- representative small data for every figure ------------------------------------------

def _responses() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 120
    latent = rng.normal(size=n)
    table = {"respondent_id": [f"R{i:04d}" for i in range(n)],
             "duration_sec": np.exp(rng.normal(np.log(200), 0.5, n))}
    for item in ITEMS:
        table[item] = np.clip(np.round(4.5 + 1.3 * (0.8 * latent + 0.6 * rng.normal(size=n))), 1, 7).astype(int)
    frame = pd.DataFrame(table)
    frame.loc[:5, "duration_sec"] = rng.uniform(10, 20, 6)
    return frame


def _flags(responses: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = len(responses)
    table = pd.DataFrame({"respondent_id": responses["respondent_id"]})
    for rule in ("instructed_response", "instructed_response_repeated", "speeding", "longstring",
                 "mahalanobis", "even_odd", "coinciding_flags"):
        table[f"rule_{rule}"] = rng.random(n) < 0.06
    table["flagged"] = table.filter(like="rule_").any(axis=1)
    table["excluded"] = table["rule_instructed_response_repeated"] | table["rule_speeding"]
    return table


def _estimates() -> pd.DataFrame:
    rows = [("ESQ", "=~", dim, loading, np.nan) for dim, loading in
            zip(["EFF", "SYS", "FUL", "PRI"], [0.82, 0.66, 0.85, 0.71])]
    for construct in ["EFF", "SYS", "FUL", "PRI", "TRU", "VAL", "SAT", "LOY"]:
        rows += [(construct, "=~", f"{construct}{k}", 0.6 + 0.08 * k, 1e-8) for k in range(1, 4)]
    rows += [("TRU", "~", "ESQ", 0.55, 1e-6), ("VAL", "~", "ESQ", 0.55, 1e-6), ("SAT", "~", "ESQ", 0.40, 1e-5),
             ("SAT", "~", "TRU", 0.25, 0.003), ("SAT", "~", "VAL", 0.25, 0.002), ("LOY", "~", "SAT", 0.40, 1e-4),
             ("LOY", "~", "TRU", 0.30, 0.01), ("LOY", "~", "ESQ", 0.10, 0.12)]
    return pd.DataFrame(rows, columns=["lhs", "op", "rhs", "std_all", "pvalue"])


def _bootstrap():
    rng = np.random.default_rng(1)
    effects = [("ESQ", "LOY", "indirect", 0.31), ("ESQ", "LOY", "total", 0.44), ("TRU", "LOY", "indirect", 0.02)]
    draws = pd.DataFrame({f"{a}->{b}:{k}": rng.normal(m, 0.05, 400) for a, b, k, m in effects})
    summary = pd.DataFrame([{"from_": a, "to": b, "kind": k, "est": m, "ci_lower": m - 0.1, "ci_upper": m + 0.1}
                            for a, b, k, m in effects])
    return draws, summary


def _cohorts() -> pd.DataFrame:
    rows = []
    for month in range(1, 7):
        for period in range(10):
            rows.append({"cohort": f"2024-{month:02d}", "period": period, "cohort_size": 1200 + 10 * month,
                         "retention": 1.0 if period == 0 else 0.12 / period ** 0.3})
    return pd.DataFrame(rows)


def _customers():
    rng = np.random.default_rng(5)
    n = 1500
    frequency = pd.Series(rng.poisson(0.6, n))
    alive = np.where(frequency > 0, rng.beta(2, 2, n), 1.0)
    return pd.DataFrame({"probability_alive": alive, "clv": rng.lognormal(2.5, 1.1, n)}), frequency


def _retention():
    rows, summary = [], []
    for source in ("all customers", SURVEY, TRUE_ALL):
        groups = ["all customers"] if source == "all customers" else [
            f"{level} satisfaction" for level in ("low", "medium", "high")]
        for k, group in enumerate(groups):
            for week in range(0, 60, 4):
                survival = 0.3 * np.exp(-week / (40 + 15 * k))
                rows.append({"source": source, "group": group, "timeline": week, "survival": survival,
                             "ci_lower": survival - 0.02, "ci_upper": survival + 0.02})
            summary.append({"source": source, "group": group, "n_customers": 130 + k})
    return pd.DataFrame(rows), pd.DataFrame(summary)


def _binned() -> pd.DataFrame:
    rows = []
    for source in (SURVEY, TRUE_RESPONDENTS, TRUE_ALL):
        for k in range(1, 6):
            rate = 0.1 + 0.05 * k
            rows.append({"source": source, "group": f"Q{k}", "repeat_rate": rate, "ci_lower": rate - 0.06,
                         "ci_upper": rate + 0.06, "n_customers": 80 if source != TRUE_ALL else 4000})
    return pd.DataFrame(rows)


def _correlations() -> pd.DataFrame:
    rows = []
    for source in (SURVEY, TRUE_RESPONDENTS, TRUE_ALL):
        for attitude in ("SAT", "LOY", "TRU"):
            for behaviour in pb.BEHAVIOURS:
                r = -0.15 if behaviour == "churned" else 0.25
                rows.append({"source": source, "attitude": attitude, "behaviour": behaviour, "method": "pearson",
                             "r": r, "ci_lower": r - 0.1, "ci_upper": r + 0.1})
    return pd.DataFrame(rows)


def _segments() -> pd.DataFrame:
    rows = []
    for k, segment in enumerate(("low engagement", "medium engagement", "high engagement")):
        size = 6000 + k
        for variable, mean in [("visit_count", 2 + 2 * k), ("pages_per_session", 3 + k),
                               ("dwell_sec_per_session", 120 + 110 * k), ("conversion_rate", 0.7),
                               ("repeat_12m", 0.1 * (k + 1)), ("clv", 3 + 10 * k), ("churned", 0.9),
                               ("survey_SAT", -0.2 + 0.2 * k), ("survey_LOY", -0.2 + 0.2 * k),
                               ("survey_TRU", -0.1 + 0.1 * k), ("true_loyalty", -0.3 + 0.3 * k),
                               ("city_tier=tier1", 0.2)]:
            n = 120 + 10 * k if variable.startswith("survey_") else size
            rows.append({"segment": segment, "segment_size": size, "variable": variable, "n": n, "mean": mean})
    return pd.DataFrame(rows)


def _response_bias() -> pd.DataFrame:
    rows = []
    for k, (measure, kind) in enumerate(MEASURES.items()):
        difference = 0.05 * (1 if k % 3 else -1)
        rows.append({"measure": measure, "kind": kind, "all_customers": 0.5 + 0.1 * k, "difference": difference,
                     "relative_difference": difference / (0.5 + 0.1 * k), "ci_lower": difference - 0.03,
                     "ci_upper": difference + 0.03})
    return pd.DataFrame(rows)


def _figures() -> dict:
    """Every figure function of analysis.plots, as name -> callable(language)."""
    responses = _responses()
    flags = _flags(responses)
    scores = pd.DataFrame({c: responses[[i for i in ITEMS if i.startswith(c)]].mean(axis=1)
                           for c in ("EFF", "SYS", "SAT", "LOY")})
    draws, summary = _bootstrap()
    customers, frequency = _customers()
    curves, retention_summary = _retention()
    fit = {"chisq": 38.125, "df": 35, "pvalue": 0.33, "cfi": 0.995, "tli": 0.993, "rmsea": 0.035,
           "rmsea_ci_lower": 0.0, "rmsea_ci_upper": 0.092, "srmr": None, "n": 75}
    truth = np.array([0.55, 0.55, 0.40, 0.25, 0.25, 0.40, 0.30, 0.10])
    recovery = pd.DataFrame({"parameter": ["TRU ~ ESQ", "VAL ~ ESQ", "SAT ~ ESQ", "SAT ~ TRU", "SAT ~ VAL",
                                           "LOY ~ SAT", "LOY ~ TRU", "LOY ~ ESQ"], "true": truth,
                             "estimate": truth + np.array([0.01, -0.02, 0.07, 0.0, -0.03, 0.02, 0.01, -0.09])})
    return {
        "likert_distribution": lambda lang: survey.likert_distribution(responses, ITEMS, language=lang),
        "screening_summary": lambda lang: survey.screening_summary(flags, language=lang),
        "duration_distribution": lambda lang: survey.duration_distribution(responses, flags, items=ITEMS,
                                                                           language=lang),
        "construct_correlation_heatmap": lambda lang: survey.construct_correlation_heatmap(
            scores.corr(), fornell_larcker=True, language=lang),
        "loadings_plot": lambda lang: sem.loadings_plot(_estimates(), language=lang),
        "fit_indices_plot": lambda lang: sem.fit_indices_plot(fit, language=lang),
        "recovery_plot": lambda lang: sem.recovery_plot(recovery, language=lang),
        "bootstrap_distribution": lambda lang: sem.bootstrap_distribution(draws, summary, summary, language=lang),
        "path_diagram": lambda lang: diagram.path_diagram(_estimates(), r2={"SAT": 0.54, "LOY": 0.48},
                                                          language=lang),
        "cohort_retention_heatmap": lambda lang: pb.cohort_retention_heatmap(_cohorts(), language=lang),
        "bgnbd_fit_check": lambda lang: pb.bgnbd_fit_check(pd.DataFrame(
            {"repeat_purchases": ["0", "1", "2", "3+"], "observed": [9000, 1500, 600, 700],
             "bgnbd_model": [9050, 1450, 640, 660]}), language=lang),
        "clv_distribution": lambda lang: pb.clv_distribution(customers, frequency, language=lang),
        "retention_curves": lambda lang: pb.retention_curves(curves, retention_summary, language=lang),
        "loyalty_repeat_plot": lambda lang: pb.loyalty_repeat_plot(_binned(), language=lang),
        "attitude_behaviour_correlations": lambda lang: pb.attitude_behaviour_correlations(_correlations(),
                                                                                           language=lang),
        "segment_heatmap": lambda lang: pb.segment_heatmap(_segments(), language=lang),
        "response_bias_plot": lambda lang: pb.response_bias_plot(_response_bias(), language=lang),
    }


FIGURES = _figures()


def _render(fig: Figure) -> tuple[bytes, list[str]]:
    """Save like :func:`analysis.plots.save_figure` (dpi, tight bbox) and return the PNG and
    every glyph warning raised while drawing."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=style.DPI, bbox_inches="tight", facecolor="white")
    return buffer.getvalue(), [str(w.message) for w in caught if "missing from font" in str(w.message)]


def _texts(fig: Figure) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


# --- the figures --------------------------------------------------------------------------

def test_every_figure_function_is_covered_and_takes_a_keyword_only_language():
    import inspect

    from analysis import plots

    functions = {name for name in plots.__all__ if callable(getattr(plots, name))
                 and "language" in inspect.signature(getattr(plots, name)).parameters}
    assert functions == set(FIGURES)
    for name in functions:
        parameter = inspect.signature(getattr(plots, name)).parameters["language"]
        assert parameter.kind is parameter.KEYWORD_ONLY and parameter.default == "en", name


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_renders_in_every_language_legibly_and_without_missing_glyphs(name, language):
    with warnings.catch_warnings(record=True) as built:
        warnings.simplefilter("always")
        fig = FIGURES[name](language)
    png, glyphs = _render(fig)
    glyphs += [str(w.message) for w in built if "missing from font" in str(w.message)]
    assert glyphs == [], glyphs[:3]
    texts = _texts(fig)
    width = Image.open(io.BytesIO(png)).size[0]
    smallest = min(t.get_fontsize() for t in texts)
    seen = style.rendered_points(smallest, width)
    assert seen >= style.MIN_RENDERED_PT, (
        f"{name}: smallest font {smallest} pt in a PNG {width} px wide is seen at {seen:.2f} pt")
    words = " ".join(t.get_text() for t in texts)
    if language == "en":
        assert not CJK.search(words)
    else:
        assert CJK.search(words)
        english = sorted(set(re.findall(r"\b[a-z]{3,}\b", words)) - ALLOWED_LATIN)
        assert english == [], f"{name} ({language}) shows English words: {english}"


def test_figure_words_come_from_the_catalog_in_each_language():
    """The same figure in zh-Hans and zh-Hant uses each community's own terms."""
    texts = {lang: " ".join(t.get_text() for t in _texts(FIGURES["bootstrap_distribution"](lang)))
             for lang in LANGUAGES}
    assert "indirect effect" in texts["en"] and "间接效应" in texts["zh-Hans"] and "間接效果" in texts["zh-Hant"]
    assert "置信区间" in texts["zh-Hans"] and "信賴區間" in texts["zh-Hant"]
    loadings = {lang: " ".join(t.get_text() for t in _texts(FIGURES["loadings_plot"](lang))) for lang in LANGUAGES}
    assert "因子载荷" in loadings["zh-Hans"] and "因素負荷量" in loadings["zh-Hant"]


def test_unknown_language_is_refused():
    with pytest.raises(MissingTranslation, match="fr"):
        FIGURES["fit_indices_plot"]("fr")


def test_chinese_text_renders_with_the_packaged_fonts():
    paths = style.register_fonts()
    import pylopdf_fonts_zh_cn
    import pylopdf_fonts_zh_tw

    assert paths == {"Noto Sans SC": str(pylopdf_fonts_zh_cn.sans_path()),
                     "Noto Sans TC": str(pylopdf_fonts_zh_tw.sans_path())}
    for family, path in paths.items():
        assert fontManager.findfont(FontProperties(family=family), fallback_to_default=False) == path
    assert style.font_families("zh-Hant")[:2] == ["DejaVu Sans", "Noto Sans TC"]
    assert style.font_families("zh-Hans")[:2] == ["DejaVu Sans", "Noto Sans SC"]

    @style.styled
    def chinese(*, language: str = "en") -> Figure:
        fig, ax = style.subplots(figsize=(4, 2))
        ax.set_title("结构方程模型 驗證性因素分析 R² = 0.54")
        ax.set_xlabel("顧客滿意度（%）")
        return fig

    for language in ("zh-Hans", "zh-Hant"):
        png, glyphs = _render(chinese(language=language))
        assert glyphs == [] and png.startswith(b"\x89PNG")


def test_the_glyph_check_would_catch_tofu():
    """Control: outside the style, matplotlib's default font has no CJK glyphs and warns."""
    fig = Figure(figsize=(3, 1))
    fig.text(0.1, 0.5, "结构方程模型", family="DejaVu Sans")
    _, glyphs = _render(fig)
    assert glyphs


def test_the_legibility_rule():
    # 9 pt in a figure no wider than the report (760 px) is seen larger than 9 pt ...
    assert style.rendered_points(9, 700) == pytest.approx(9 * 150 / 72 * 0.75)
    # ... but an 11 in figure shrinks it to about 6.5 pt; 7.5 in keeps 9 pt legible.
    assert style.rendered_points(9, 11 * 150) < 7
    assert style.rendered_points(style.SMALL_FONT, (style.MAX_WIDTH_IN + 0.2) * 150) >= style.MIN_RENDERED_PT


# --- the catalog --------------------------------------------------------------------------

def _saved_figure_names() -> set[str]:
    """Names passed to ``ctx.save_figure(fig, "name")`` in the notebook and in the package
    (``analysis.plots.save_figure(fig, folder, name)`` writes files without captions)."""
    sources = []
    notebook = json.loads((ROOT / "notebooks" / "study.ipynb").read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            code = "".join(cell["source"])
            sources.append("\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))))
    sources += [p.read_text(encoding="utf-8") for p in (ROOT / "analysis").rglob("*.py")]
    names = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "save_figure"
                    and len(node.args) == 2 and isinstance(node.args[1], ast.Constant)
                    and isinstance(node.args[1].value, str)):
                names.add(node.args[1].value)
    return names


def test_every_saved_figure_has_a_caption_and_alt_text_in_every_language():
    names = _saved_figure_names() | STUDY_FIGURES
    assert {"likert_distribution", "path_diagram", "segments"} <= _saved_figure_names()
    for name in sorted(names):
        for language in LANGUAGES:
            assert text(f"figure.{name}.caption", language).strip()
            alt = text(f"figure.{name}.alt", language)
            assert len(alt) > 20 and alt != text(f"figure.{name}.caption", language)


def test_figure_catalog_is_complete_and_its_keys_are_used():
    keys = set(yaml.safe_load(FIGURES_YAML.read_text(encoding="utf-8")))
    assert keys <= set(catalog())
    problems = [p for p in check_catalog() if p.split(":")[0] in keys]
    assert problems == []
    # Every literal catalog key in the figure modules exists.
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "analysis" / "plots").glob("*.py"))
    used = set(re.findall(r'"(plot\.[a-z0-9_.]+)"', code))
    assert used and used <= keys, sorted(used - keys)


def test_behaviour_table_values_are_all_translated():
    for language in ("zh-Hans", "zh-Hant"):
        for kind, values in [("source", [SURVEY, TRUE_RESPONDENTS, TRUE_ALL, "all customers"]),
                             ("measure", list(MEASURES)), ("behaviour", pb.BEHAVIOURS),
                             ("segment", ["low engagement", "medium engagement", "high engagement"]),
                             ("group", ["low satisfaction", "medium satisfaction", "high satisfaction"]),
                             ("retention_panel", [SURVEY, TRUE_ALL])]:
            for value in values:
                assert pb.data_label(kind, value, language) != value, (kind, value, language)


# --- StudyContext.save_figure: numbered captions and alt text --------------------------------

class _Display:
    def __init__(self):
        self.calls = []

    def __call__(self, *objects, raw=False, metadata=None):
        self.calls.append((objects, raw, metadata))


@pytest.fixture
def notebook(monkeypatch):
    import IPython
    import IPython.display

    shown = _Display()
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr(IPython.display, "display", shown)
    return shown


def _context(tmp_path, language):
    settings = SimpleNamespace(report=SimpleNamespace(language=language))
    return StudyContext(settings=settings, output_dir=tmp_path, instrument=None)


def _small_figure():
    fig, ax = style.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    return fig


@pytest.mark.parametrize("language, label", [("en", "Figure"), ("zh-Hans", "图"), ("zh-Hant", "圖")])
def test_save_figure_shows_numbered_caption_and_alt_text(tmp_path, notebook, language, label):
    ctx = _context(tmp_path, language)
    ctx.save_figure(_small_figure(), "loadings")
    ctx.save_figure(_small_figure(), "path_diagram")
    assert ctx.figure_count == 2 and [p.name for p in ctx.saved] == ["loadings.png", "path_diagram.png"]
    (image, raw, metadata), (caption, caption_raw, _) = notebook.calls[2:4]
    bundle = image[0]
    alt = text("figure.path_diagram.alt", language)
    png = (tmp_path / "figures" / "path_diagram.png").read_bytes()
    assert raw and caption_raw
    assert base64.b64decode(bundle["image/png"]) == png
    assert metadata == {"image/png": {"alt": alt}}
    assert bundle["text/html"].startswith('<img src="data:image/png;base64,')
    assert f'alt="{alt}"' in bundle["text/html"]
    assert caption[0]["text/markdown"] == f"**{label} 2.** {text('figure.path_diagram.caption', language)}"


def test_save_figure_html_renders_the_alt_text_with_nbconvert(tmp_path, notebook):
    """The lab template (the report's) ignores image metadata, so the text/html <img> is what
    carries the alt text into the page, with the image still embedded."""
    import nbformat
    from nbconvert import HTMLExporter

    ctx = _context(tmp_path, "zh-Hant")
    ctx.save_figure(_small_figure(), "bootstrap")
    (image, _, metadata), (caption, _, _) = notebook.calls
    outputs = [nbformat.v4.new_output("display_data", data=image[0], metadata=metadata),
               nbformat.v4.new_output("display_data", data=caption[0])]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=outputs)])
    page, _ = HTMLExporter(template_name="lab", exclude_input=True).from_notebook_node(nb)
    assert f'alt="{text("figure.bootstrap.alt", "zh-Hant")}"' in page
    assert "No description has been provided" not in page
    assert "data:image/png;base64," in page and "<strong>圖 1.</strong>" in page


def test_save_figure_without_catalog_text_stops_before_writing(tmp_path, notebook):
    ctx = _context(tmp_path, "en")
    with pytest.raises(MissingTranslation, match="figure.unheard_of.caption"):
        ctx.save_figure(_small_figure(), "unheard_of")
    assert not (tmp_path / "figures" / "unheard_of.png").exists() and ctx.figure_count == 0


def test_save_figure_outside_a_notebook_only_writes_and_counts(tmp_path):
    ctx = _context(tmp_path, "en")
    ctx.save_figure(_small_figure(), "any_name")
    assert (tmp_path / "figures" / "any_name.png").is_file() and ctx.figure_count == 1


def test_every_figure_is_written_identically_by_the_figure_writer(tmp_path):
    """A report run saves figures in a helper process (analysis.plots.writer): every figure
    must survive pickling, and the PNG must be the same bytes as a save in line."""
    from analysis.plots import save_figure
    from analysis.plots.writer import FigureWriter

    with FigureWriter() as writer:
        futures = {name: writer.submit(build("zh-Hant"), tmp_path / "helper", name)
                   for name, build in sorted(FIGURES.items())}
        written = {name: future.result() for name, future in futures.items()}
    for name, build in sorted(FIGURES.items()):
        in_line = save_figure(build("zh-Hant"), tmp_path / "in_line", name)
        assert written[name].read_bytes() == in_line.read_bytes(), name

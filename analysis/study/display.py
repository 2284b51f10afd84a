"""Display helpers and report sections that the study notebook shows as they are.

Kept out of the notebook so that the notebook holds no logic the tests cannot reach.
"""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from importlib import metadata

import pandas as pd

__all__ = ["show_table", "format_table", "title_block", "run_details", "appendix_codebook",
           "appendix_questionnaires"]

_PACKAGES = ("semopy", "pingouin", "pandas", "numpy", "scipy", "seaborn", "papermill")


def format_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Round floats and spell booleans as yes/no, for reading rather than computing."""
    shown = table.copy()
    for column in shown.columns:
        if pd.api.types.is_bool_dtype(shown[column]):
            shown[column] = shown[column].map({True: "yes", False: "no"})
        elif pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].round(digits)
    return shown


def show_table(table: pd.DataFrame, max_rows: int | None = 60, digits: int = 3) -> None:
    """Display a tidy table without its index, floats rounded (HTML in the report)."""
    from IPython.display import display

    shown = format_table(table if max_rows is None else table.head(max_rows), digits)
    styler = shown.style.hide(axis="index").format(precision=digits, na_rep="")
    display(styler)
    if max_rows is not None and len(table) > max_rows:
        display(pd.DataFrame({"note": [f"{len(table) - max_rows} more rows in the CSV file"]}))


def title_block(ctx) -> str:
    s = ctx.settings
    author = f"{s.report.author} · " if s.report.author else ""
    # the renderer puts the profile's title on top; this is the line beneath it
    return (f"**Client:** {s.client.name} · {author}"
            f"seed {s.analysis.seed} · generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")


def run_details(ctx, data, screening) -> pd.DataFrame:
    """Parameters and software of this run (the full record is manifest.json)."""
    s = ctx.settings
    rows = [("client", s.client.name), ("data", data.source), ("seed", s.analysis.seed),
            ("respondents analysed", len(screening.clean)), ("respondents excluded", len(screening.excluded)),
            ("bootstrap draws", s.analysis.bootstrap_draws), ("confidence level", s.analysis.ci_level),
            ("python", platform.python_version())]
    rows += [(name, metadata.version(name)) for name in _PACKAGES]
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})


def appendix_codebook(ctx) -> pd.DataFrame:
    """The codebook (also written as CSV/Markdown with the questionnaires in survey/)."""
    from analysis.instrument.questionnaire import codebook

    table = codebook(ctx.instrument)
    language_column = {"en": "text_en", "zh-Hans": "text_zh_hans", "zh-Hant": "text_zh_hant"}
    text = language_column.get(ctx.language, "text_en")
    keep = ["position", "variable", "construct", "block", text, "reverse", "attention_check", "values"]
    return table[[c for c in keep if c in table.columns]]


def appendix_questionnaires(ctx) -> dict[str, str]:
    """Write the codebook and questionnaires to <output>/survey/ and return the Markdown texts."""
    from analysis.instrument.questionnaire import export_survey, questionnaire_markdown

    ctx.saved.extend(export_survey(ctx.instrument, ctx.output_dir / "survey"))
    texts = {}
    for language in ctx.instrument.languages:
        # demote headings so each questionnaire nests under the appendix in the table of contents
        texts[language] = "\n".join(("##" + line) if line.startswith("#") else line
                                    for line in questionnaire_markdown(ctx.instrument, language).splitlines())
    return texts

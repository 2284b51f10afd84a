"""The report's planning section: power and sample size for the client's next study.

Runs the power study of the profile's ``power`` section (on a LocalCluster of
``analysis.n_jobs`` workers) while the report is built, saves its tables beside the
others and says, for each hypothesis, the smallest sample that reaches the target power.
"""

from __future__ import annotations

import pandas as pd

from analysis.i18n import format_integer, format_percent, text
from analysis.power import POWER_COLUMNS, design_from_settings, run_power
from analysis.study.context import StudyContext

__all__ = ["power_section", "power_summary"]


def power_section(ctx: StudyContext):
    """The power study of the profile; saves ``power`` and ``minimum_n`` tables."""
    design = design_from_settings(ctx.settings, ctx.instrument)
    result = run_power(design, ctx.instrument, n_workers=ctx.n_jobs)
    ctx.save_table(result.table[POWER_COLUMNS], "power")
    ctx.save_table(result.minimum_n, "minimum_n")
    return result


def power_summary(ctx: StudyContext, result) -> str:
    """One sentence per hypothesis: the smallest N reaching the target power (Markdown list)."""
    lang = ctx.language
    target = format_percent(result.design.target, lang)
    lines = []
    for rec in result.minimum_n.itertuples():
        if pd.isna(rec.minimum_n):
            lines.append(text("planning.not_reached", lang, parameter=rec.parameter, target=target,
                              largest=format_integer(max(result.design.sample_sizes), lang)))
        else:
            lines.append(text("planning.reached", lang, parameter=rec.parameter, target=target,
                              n=format_integer(rec.minimum_n, lang)))
    return "\n".join(f"* {line}" for line in lines)

"""Findings first: the importance-performance map (IPMA) and the summary built on it.

Importance is each driver's standardized total effect on loyalty (direct plus every
indirect path through the structural model), with its percentile-bootstrap interval.
Performance is the driver's mean answer rescaled to 0-100 (1 = 0, 7 = 100), averaged over
its items, as in Ringle & Sarstedt (2016). A driver that matters a lot and performs
below the others is where improvement pays most; the summary names it, and for
e-service quality also its weakest dimension. Constructs measured but not in the
structural model (customer service, institution-based trust) are shown with their
performance only, since the model does not estimate their effect on loyalty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.i18n import format_integer, format_number, text
from analysis.sem.bootstrap import BootstrapResult
from analysis.study.context import StudyContext

__all__ = ["TARGET", "DRIVERS", "IPMAResult", "performance", "ipma_analysis", "ipma_figure", "findings"]

#: The outcome the map explains, and the drivers whose total effect on it is estimated.
TARGET = "LOY"
DRIVERS = ("ESQ", "TRU", "VAL", "SAT")
#: e-service quality dimensions (second-order indicators) and measured-only levers.
ESQ_DIMENSIONS = ("EFF", "SYS", "FUL", "PRI")
PERFORMANCE_ONLY = ("CUS", "ITB")


@dataclass(frozen=True)
class IPMAResult:
    """``table``: driver, total_effect, ci_lower, ci_upper, performance, priority (drivers);
    ``dimensions``: performance of the e-SQ dimensions and the measured-only levers."""

    table: pd.DataFrame
    dimensions: pd.DataFrame
    r2_target: float
    n: int


def performance(data: pd.DataFrame, items: list[str], points: int) -> float:
    """Mean answer over the items, rescaled to 0-100: 100 * (mean - 1) / (points - 1)."""
    answers = data[items].to_numpy(dtype=float)
    return float(100.0 * (np.nanmean(answers) - 1.0) / (points - 1))


def _construct_performance(ctx: StudyContext, clean: pd.DataFrame, code: str) -> float:
    instrument = ctx.instrument
    if code == "ESQ":  # second order: the mean of its dimensions' items
        items = [item for dim in ESQ_DIMENSIONS for item in instrument.items_of(dim)]
    else:
        items = instrument.items_of(code)
    items = [item for item in items if item in clean.columns]
    return performance(clean, items, instrument.scale.points)


def ipma_analysis(ctx: StudyContext, structural, clean: pd.DataFrame,
                  boot: BootstrapResult | None) -> IPMAResult:
    """Importance (total effect on loyalty, bootstrap interval) against performance (0-100)."""
    effects = structural.effects
    total = effects[effects["to"] == TARGET].set_index("from_")
    rows = []
    for code in DRIVERS:
        if code not in total.index:
            continue
        low = high = np.nan
        if boot is not None:
            match = boot.summary[(boot.summary["from_"] == code) & (boot.summary["to"] == TARGET)
                                 & (boot.summary["kind"] == "total")]
            if len(match):
                low, high = float(match["ci_lower"].iloc[0]), float(match["ci_upper"].iloc[0])
        effect = float(total.loc[code, "total"])
        rows.append({"driver": code, "total_effect": effect, "ci_lower": low, "ci_upper": high,
                     "performance": _construct_performance(ctx, clean, code)})
    table = pd.DataFrame(rows)
    # priority: how much loyalty a driver could still add (importance x room to improve)
    table["priority"] = table["total_effect"] * (100.0 - table["performance"]) / 100.0
    table = table.sort_values("priority", ascending=False, kind="stable").reset_index(drop=True)
    ctx.save_table(table, "ipma")
    codes = set(ctx.instrument.construct_codes)
    dims = [{"construct": code, "group": "ESQ" if code in ESQ_DIMENSIONS else "other",
             "performance": _construct_performance(ctx, clean, code)}
            for code in ESQ_DIMENSIONS + PERFORMANCE_ONLY if code in codes]
    dimensions = pd.DataFrame(dims)
    ctx.save_table(dimensions, "ipma_dimensions")
    r2 = float(structural.sem.r2_.get(TARGET, np.nan))
    return IPMAResult(table, dimensions, r2, int(structural.sem.n_))


def ipma_figure(ctx: StudyContext, result: IPMAResult):
    """The importance-performance map in the report language."""
    from analysis.plots.ipma import ipma_map

    names = {code: text(f"construct.{code}", ctx.language) for code in
             list(result.table["driver"]) + list(result.dimensions["construct"])}
    return ipma_map(result.table, result.dimensions, names, language=ctx.language)


def _interval(row, language: str) -> str:
    if not np.isfinite(row["ci_lower"]):
        return text("findings.no_interval", language)
    return text("findings.interval", language, low=format_number(row["ci_lower"], language, 2, bounded=True),
                high=format_number(row["ci_upper"], language, 2, bounded=True))


def findings(ctx: StudyContext, result: IPMAResult, measurement, structural, screening) -> str:
    """The plain-language summary at the top of the report (Markdown, report language)."""
    lang = ctx.language
    table = result.table
    name = {code: text(f"construct.{code}", lang) for code in list(table["driver"])
            + list(result.dimensions["construct"])}
    strongest = table.sort_values("total_effect", ascending=False).iloc[0]
    first = table.iloc[0]
    fit = structural.sem.fit_
    t = ctx.settings.thresholds
    fits_well = fit["cfi"] >= t.cfi and fit["rmsea"] <= t.rmsea and fit["srmr"] <= t.srmr
    sure = [row for _, row in table.iterrows() if np.isfinite(row["ci_lower"]) and row["ci_lower"] > 0]
    lines = [
        text("findings.drivers", lang, target=name_of(TARGET, lang),
             ranking=_ranking(table, name, lang)),
        text("findings.strongest", lang, driver=_sentence_start(name[strongest["driver"]], lang),
             effect=format_number(strongest["total_effect"], lang, 2, bounded=True),
             interval=_interval(strongest, lang)),
        text("findings.certainty", lang, n=format_integer(result.n, lang),
             excluded=format_integer(len(screening.excluded), lang),
             r2=format_number(result.r2_target, lang, 2, bounded=True),
             certain=len(sure), drivers=len(table),
             fit=text("findings.fit_good" if fits_well else "findings.fit_weak", lang)),
        text("findings.priority", lang, driver=_sentence_start(name[first["driver"]], lang),
             performance=format_number(first["performance"], lang, 0),
             effect=format_number(first["total_effect"], lang, 2, bounded=True)),
    ]
    dims = result.dimensions[result.dimensions["group"] == "ESQ"]
    if len(dims):
        weakest = dims.sort_values("performance").iloc[0]
        lines.append(text("findings.esq_dimension", lang, dimension=name[weakest["construct"]],
                          performance=format_number(weakest["performance"], lang, 0)))
    others = result.dimensions[result.dimensions["group"] == "other"]
    if len(others):
        lines.append(text("findings.measured_only", lang, levers=_join(
            [f"{name[r.construct]} ({format_number(r.performance, lang, 0)})" for r in others.itertuples()], lang)))
    return "\n".join(f"* {line}" for line in lines)


def _sentence_start(words: str, language: str) -> str:
    return words[:1].upper() + words[1:] if language == "en" else words


def name_of(code: str, language: str) -> str:
    return text(f"construct.{code}", language)


def _join(parts: list[str], language: str) -> str:
    return text("findings.list_separator", language).join(parts)


def _ranking(table: pd.DataFrame, name: dict[str, str], language: str) -> str:
    ordered = table.sort_values("total_effect", ascending=False)
    return _join([f"{name[r.driver]} ({format_number(r.total_effect, language, 2, bounded=True)})"
                  for r in ordered.itertuples()], language)

"""Figures of the behavioural-loyalty chapter: retention, RFM/CLV, attitude vs behaviour.

Same conventions as :mod:`analysis.plots.survey`: data first, a :class:`~matplotlib.figure.Figure`
returned (never shown), saved by ``ctx.save_figure`` / :func:`analysis.plots.survey.save_figure`;
seaborn's colour-blind palette, and every distinction made by colour is repeated by line
style, marker or text; keyword-only ``language`` and words from the ``plot.*`` catalog
entries. Inputs are the tables the stages of :mod:`analysis.study.behaviour` save, so every
figure can be redrawn from the CSVs. Those tables name their rows in English (sources such
as "survey scores (respondents)", groups such as "low satisfaction", measures); the figures
show them through the catalog (``plot.behaviour.<kind>.<slug of the value>``), and a value
the catalog does not know is shown as it is, like any other identifier from the data.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from analysis.errors import DataError
from analysis.i18n import catalog, format_integer, format_number, format_percent, text
from analysis.plots.style import (
    BLUE,
    COMPACT_LEGEND,
    GREEN,
    GREY,
    ORANGE,
    PALETTE,
    SMALL_FONT,
    VERMILLION,
    _require_columns,
    construct_name,
    legend_columns,
    styled,
    subplots,
    tick_formatter,
    wrap,
)

__all__ = ["cohort_retention_heatmap", "bgnbd_fit_check", "clv_distribution", "retention_curves",
           "loyalty_repeat_plot", "attitude_behaviour_correlations", "segment_heatmap",
           "response_bias_plot", "data_label"]

GROUP_STYLES = {"low": (VERMILLION, ":", "v"), "medium": (GREY, "--", "s"), "high": (BLUE, "-", "^")}
SOURCE_STYLES = {"survey scores (respondents)": (BLUE, "o"), "true latent (respondents)": (ORANGE, "s"),
                 "true latent (all customers)": (GREEN, "D")}
#: Behaviours of the attitude-behaviour figure, in the order they are shown.
BEHAVIOURS = ("repeat_12m", "log_frequency_12m", "repeat_purchase", "log_frequency", "churned", "log_clv")


def _slug(value) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(value).lower()).strip("_")


def data_label(kind: str, value, language: str) -> str:
    """The catalog label ``plot.behaviour.<kind>.<slug>`` of a value from the chapter's tables
    (source, group, measure, behaviour, variable, segment), or the value itself if unknown."""
    key = f"plot.behaviour.{kind}.{_slug(value)}"
    return text(key, language) if key in catalog() else str(value)


def _count_axis(language: str) -> FuncFormatter:
    """Counts on a (log) axis: 1,000 / 10 / 0.1 in the language's digits."""
    return tick_formatter("count", language)


def _share_axis(language: str, scale: float = 1.0) -> FuncFormatter:
    return tick_formatter("percent", language, scale=scale)


@styled
def cohort_retention_heatmap(cohorts: pd.DataFrame, max_periods: int = 18, *, title: str | None = None,
                             language: str = "en") -> Figure:
    """Heatmap of :func:`~analysis.behaviour.rfm.cohort_retention` (cohorts x months since signup)."""
    _require_columns(cohorts, ["cohort", "period", "cohort_size", "retention"], "cohort_retention_heatmap")
    grid = cohorts[cohorts["period"].between(1, max_periods)].pivot(index="cohort", columns="period",
                                                                    values="retention")
    sizes = cohorts.drop_duplicates("cohort").set_index("cohort")["cohort_size"]
    grid.index = [text("plot.cohort.row", language, cohort=c, n=format_integer(sizes[c], language))
                  for c in grid.index]
    fig, ax = subplots(figsize=(7.3, 0.3 * len(grid) + 2.0), layout="constrained")
    sns.heatmap(grid * 100, ax=ax, cmap="cividis", annot=True, fmt=".0f", annot_kws={"fontsize": SMALL_FONT},
                cbar_kws={"label": text("plot.cohort.colorbar", language)}, linewidths=0.4, linecolor="white")
    fig.axes[-1].yaxis.set_major_formatter(tick_formatter("integer", language))
    ax.set_xlabel(text("plot.cohort.xlabel", language))
    ax.set_ylabel(text("plot.cohort.ylabel", language))
    ax.tick_params(axis="x", rotation=0)
    ax.set_title(title or text("plot.cohort.title", language))
    return fig


@styled
def bgnbd_fit_check(check: pd.DataFrame, *, title: str | None = None, language: str = "en") -> Figure:
    """Grouped bars: customers by number of repeat purchases, observed and drawn from the fit."""
    _require_columns(check, ["repeat_purchases", "observed", "bgnbd_model"], "bgnbd_fit_check")
    x = np.arange(len(check))
    fig, ax = subplots(figsize=(7.2, 4.4), layout="constrained")
    ax.bar(x - 0.2, check["observed"], width=0.4, color=BLUE, label=text("plot.bgnbd.observed", language))
    ax.bar(x + 0.2, check["bgnbd_model"], width=0.4, color=ORANGE, hatch="//", edgecolor="white",
           label=text("plot.bgnbd.model", language))
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_count_axis(language))
    ax.set_xticks(x, [str(v) for v in check["repeat_purchases"]])
    ax.set_xlabel(text("plot.bgnbd.xlabel", language))
    ax.set_ylabel(text("plot.common.customers_log", language))
    ax.set_title(title or text("plot.bgnbd.title", language))
    ax.legend()
    return fig


@styled
def clv_distribution(customers: pd.DataFrame, frequency: pd.Series | None = None, *,
                     title: str | None = None, language: str = "en") -> Figure:
    """P(alive) by buyer type, the CLV distribution and the CLV concentration curve (three rows).

    ``customers`` is :func:`~analysis.behaviour.clv.customer_lifetime_value` output;
    ``frequency`` (same index) splits P(alive) into one-time and repeat buyers.
    """
    _require_columns(customers, ["probability_alive", "clv"], "clv_distribution")
    fig, axes = subplots(3, 1, figsize=(7.0, 9.6), layout="constrained")
    alive = customers["probability_alive"].to_numpy(float)
    bins = np.linspace(0, 1, 21)
    buyers = [text("plot.clv.no_repeat", language), text("plot.clv.repeat", language)]
    if frequency is not None:
        repeat = frequency.reindex(customers.index).to_numpy(float) > 0
        axes[0].hist([alive[~repeat], alive[repeat]], bins=bins, stacked=True, color=[GREY, BLUE],
                     label=buyers)
        axes[0].legend(loc="upper left")
    else:
        axes[0].hist(alive, bins=bins, color=BLUE)
    axes[0].set_yscale("log")
    axes[0].yaxis.set_major_formatter(_count_axis(language))
    axes[0].xaxis.set_major_formatter(_share_axis(language))
    axes[0].set_xlabel(text("plot.clv.alive_axis", language))
    axes[0].set_ylabel(text("plot.common.customers_log", language))
    axes[0].set_title(text("plot.clv.alive_title", language), loc="left", fontsize=11)
    clv = customers["clv"].to_numpy(float)
    positive = clv > 0
    edges = np.geomspace(max(np.quantile(clv[positive], 0.001), 0.01), clv.max(), 40)
    if frequency is not None:
        axes[0].text(0.5, 0.95, text("plot.clv.alive_note", language), transform=axes[0].transAxes, ha="center",
                     va="top", fontsize=SMALL_FONT, color="#444444",
                     bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#cccccc", "alpha": 0.9})
        axes[1].hist([clv[positive & ~repeat], clv[positive & repeat]], bins=edges, stacked=True,
                     color=[GREY, BLUE], label=buyers)
    else:
        axes[1].hist(clv[positive], bins=edges, color=BLUE)
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].xaxis.set_major_formatter(_count_axis(language))
    axes[1].yaxis.set_major_formatter(_count_axis(language))
    axes[1].axvline(np.median(clv), color=VERMILLION, linestyle="--",
                    label=text("plot.clv.median", language, value=format_number(np.median(clv), language, 1)))
    axes[1].axvline(clv.mean(), color=GREEN, linestyle="-.",
                    label=text("plot.clv.mean", language, value=format_number(clv.mean(), language, 1)))
    axes[1].legend(loc="upper right")
    axes[1].set_xlabel(text("plot.clv.value_axis", language))
    axes[1].set_ylabel(text("plot.common.customers_log", language))
    axes[1].set_title(text("plot.clv.value_title", language), loc="left", fontsize=11)
    ranked = np.sort(clv)[::-1]
    share_customers = np.arange(1, len(ranked) + 1) / len(ranked)
    share_value = np.cumsum(ranked) / ranked.sum()
    axes[2].plot(share_customers * 100, share_value * 100, color=BLUE, label=text("plot.clv.ranked", language))
    axes[2].plot([0, 100], [0, 100], color=GREY, linestyle="--", label=text("plot.clv.equal", language))
    top = share_value[max(0, int(round(0.2 * len(ranked))) - 1)]
    axes[2].plot([20], [top * 100], "o", color=VERMILLION)
    axes[2].annotate(text("plot.clv.top_share", language, top=format_percent(0.2, language),
                          share=format_percent(top, language)),
                     (20, top * 100), xytext=(30, top * 100 - 18),
                     arrowprops={"arrowstyle": "->", "color": "#444444"})
    axes[2].xaxis.set_major_formatter(_share_axis(language, 100))
    axes[2].yaxis.set_major_formatter(_share_axis(language, 100))
    axes[2].set_xlabel(text("plot.clv.customers_axis", language))
    axes[2].set_ylabel(text("plot.clv.share_axis", language))
    axes[2].set_title(text("plot.clv.concentration_title", language), loc="left", fontsize=11)
    axes[2].legend(loc="lower right")
    fig.suptitle(title or text("plot.clv.title", language))
    return fig


def _group_style(group: str):
    return GROUP_STYLES.get(str(group).split()[0], (PALETTE[4], "-", "o"))


def _group_rank(group: str) -> int:
    first = str(group).split()[0]
    return list(GROUP_STYLES).index(first) if first in GROUP_STYLES else 9


@styled
def retention_curves(curves: pd.DataFrame, summary: pd.DataFrame | None = None, *,
                     title: str | None = None, language: str = "en") -> Figure:
    """One panel (row) per source: KM curves (with 95% bands) of the satisfaction groups.

    ``summary`` (the chapter's retention summary: ``source``, ``group``, ``n_customers``)
    adds group sizes to the legend.
    """
    _require_columns(curves, ["source", "group", "timeline", "survival", "ci_lower", "ci_upper"],
                     "retention_curves")
    sources = [s for s in dict.fromkeys(curves["source"]) if s != "all customers"] or ["all customers"]
    fig, axes = subplots(len(sources), 1, figsize=(7.2, 3.3 * len(sources) + 0.8), squeeze=False,
                         sharex=True, sharey=True, layout="constrained")
    overall = curves[curves["source"] == "all customers"]
    sizes = {} if summary is None else {(r.source, r.group): int(r.n_customers) for r in summary.itertuples()}
    for ax, source in zip(axes[:, 0], sources):
        part = curves[curves["source"] == source]
        for group in sorted(part["group"].unique(), key=_group_rank):
            rows = part[part["group"] == group]
            color, style, _ = _group_style(group)
            name = data_label("group", group, language)
            if (source, group) in sizes:
                name = text("plot.common.with_n", language, label=name,
                            n=format_integer(sizes[(source, group)], language))
            ax.step(rows["timeline"], rows["survival"], where="post", color=color, linestyle=style,
                    linewidth=2, label=name)
            ax.fill_between(rows["timeline"], rows["ci_lower"], rows["ci_upper"], step="post", color=color,
                            alpha=0.15)
        if source != "all customers" and len(overall):
            ax.step(overall["timeline"], overall["survival"], where="post", color="black", linewidth=1,
                    linestyle=(0, (1, 3)), label=data_label("source", "all customers", language))
        ax.set_title(data_label("retention_panel", source, language), loc="left", fontsize=11)
        ax.yaxis.set_major_formatter(_share_axis(language))
        ax.set_ylim(0, None)
        ax.set_ylabel(text("plot.retention.ylabel", language))
        ax.legend(loc="upper right")
    axes[-1, 0].set_xlabel(text("plot.retention.xlabel", language))
    fig.suptitle(title or text("plot.retention.title", language))
    return fig


@styled
def loyalty_repeat_plot(binned: pd.DataFrame, *, title: str | None = None, language: str = "en") -> Figure:
    """12-month repeat rate (Wilson 95% CI) per loyalty quintile, one line per source."""
    _require_columns(binned, ["source", "group", "repeat_rate", "ci_lower", "ci_upper", "n_customers"],
                     "loyalty_repeat_plot")
    fig, ax = subplots(figsize=(7.2, 4.8), layout="constrained")
    sources = list(dict.fromkeys(binned["source"]))
    offsets = np.linspace(-0.12, 0.12, len(sources)) if len(sources) > 1 else [0.0]
    for offset, source in zip(offsets, sources):
        rows = binned[binned["source"] == source].sort_values("group")
        color, marker = SOURCE_STYLES.get(source, (PALETTE[4], "o"))
        x = np.arange(len(rows)) + offset
        ax.errorbar(x, rows["repeat_rate"], yerr=[rows["repeat_rate"] - rows["ci_lower"],
                                                   rows["ci_upper"] - rows["repeat_rate"]],
                    color=color, marker=marker, capsize=3, linewidth=1.5,
                    label=text("plot.loyalty.source", language, source=data_label("source", source, language),
                               n=format_integer(rows["n_customers"].median(), language)))
    count = int(binned.groupby("source").size().max())
    labels = [text(f"plot.loyalty.fifth.{k}", language) if count == 5 else
              text("plot.loyalty.group", language, k=k) for k in range(1, count + 1)]
    ax.set_xticks(range(count), labels)
    ax.set_xlabel(text("plot.loyalty.xlabel", language))
    ax.set_ylabel(text("plot.loyalty.ylabel", language))
    ax.yaxis.set_major_formatter(_share_axis(language))
    ax.set_ylim(0, None)
    ax.set_title(title or text("plot.loyalty.title", language))
    ax.legend(loc="upper left")
    return fig


def _attitude_label(code: str, language: str) -> str:
    key = f"plot.behaviour.attitude.{_slug(code)}"
    if key in catalog():
        return text(key, language)
    return construct_name(str(code), language) or str(code)


@styled
def attitude_behaviour_correlations(correlations: pd.DataFrame, method: str = "pearson", *,
                                    title: str | None = None, language: str = "en") -> Figure:
    """Dot plot of correlations with 95% CIs, one panel (row) per attitude, markers by source."""
    _require_columns(correlations, ["source", "attitude", "behaviour", "method", "r", "ci_lower", "ci_upper"],
                     "attitude_behaviour_correlations")
    data = correlations[correlations["method"] == method]
    if data.empty:
        raise DataError(f"attitude_behaviour_correlations: no rows with method {method!r}")
    attitudes = list(dict.fromkeys(data["attitude"]))
    present = set(data["behaviour"])
    behaviours = [b for b in BEHAVIOURS if b in present] + sorted(present - set(BEHAVIOURS))
    sources = list(dict.fromkeys(data["source"]))
    fig, axes = subplots(len(attitudes), 1, figsize=(7.2, (0.36 * len(behaviours) + 0.7) * len(attitudes) + 1.6),
                         sharey=True, sharex=True, squeeze=False, layout="constrained")
    offsets = np.linspace(-0.22, 0.22, len(sources)) if len(sources) > 1 else [0.0]
    for ax, attitude in zip(axes[:, 0], attitudes):
        for offset, source in zip(offsets, sources):
            rows = data[(data["attitude"] == attitude) & (data["source"] == source)].set_index("behaviour")
            rows = rows.reindex(behaviours)
            y = np.arange(len(behaviours)) + offset
            color, marker = SOURCE_STYLES.get(source, (PALETTE[4], "o"))
            ax.errorbar(rows["r"], y, xerr=[rows["r"] - rows["ci_lower"], rows["ci_upper"] - rows["r"]],
                        fmt=marker, color=color, capsize=2, label=data_label("source", source, language))
        ax.axvline(0, color="#555555", linewidth=0.8)
        ax.axvspan(0.2, 0.4, color=GREEN, alpha=0.08)
        ax.axvspan(-0.4, -0.2, color=GREEN, alpha=0.08)
        ax.set_title(_attitude_label(attitude, language), loc="left", fontsize=11)
        ax.set_yticks(range(len(behaviours)), [data_label("behaviour", b, language) for b in behaviours])
    axes[0, 0].invert_yaxis()
    axes[-1, 0].set_xlabel(text("plot.attitude.xlabel", language))
    axes[-1, 0].xaxis.set_major_formatter(tick_formatter("signed", language))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles.append(Patch(color=GREEN, alpha=0.15))
    labels.append(text("plot.attitude.band", language, low=format_number(0.2, language, 1, bounded=True),
                       high=format_number(0.4, language, 1, bounded=True)))
    ncol = legend_columns(labels, 7.0)
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False, **COMPACT_LEGEND)
    fig.suptitle(title or text("plot.attitude.title", language))
    return fig


def _segment_number(value: float, language: str) -> str:
    if pd.isna(value):
        return ""
    # round before formatting so that -0.001 prints as 0.00, not -0.00
    return (format_number(value, language, 0) if abs(value) >= 100
            else format_number(round(value, 2) + 0.0, language, 2))


@styled
def segment_heatmap(table: pd.DataFrame, *, title: str | None = None, language: str = "en") -> Figure:
    """Numeric segment means (rows variables, columns segments); colour = rank within the row.

    Category shares (``column=level`` rows) are left out; suppressed cells show as blank.
    """
    _require_columns(table, ["segment", "variable", "mean", "segment_size"], "segment_heatmap")
    numeric = table[~table["variable"].str.contains("=", regex=False)]
    grid = numeric.pivot(index="variable", columns="segment", values="mean")
    order = [c for level in ("low", "medium", "high") for c in grid.columns if c.startswith(level)]
    grid = grid[order + [c for c in grid.columns if c not in order]]
    grid = grid.reindex(list(dict.fromkeys(numeric["variable"])))
    spread = grid.max(axis=1) - grid.min(axis=1)
    relative = grid.sub(grid.min(axis=1), axis=0).div(spread.where(spread > 0), axis=0)
    sizes = numeric.drop_duplicates("segment").set_index("segment")["segment_size"]
    fig, ax = subplots(figsize=(min(7.3, 1.3 * grid.shape[1] + 3.6), 0.42 * len(grid) + 2.0),
                       layout="constrained")
    annotations = grid.map(lambda v: _segment_number(v, language))
    sns.heatmap(relative, ax=ax, cmap="cividis", annot=annotations, fmt="", vmin=0, vmax=1,
                annot_kws={"fontsize": 10},
                cbar_kws={"label": text("plot.segments.colorbar", language), "fraction": 0.08, "aspect": 30},
                linewidths=0.5, linecolor="white")
    colorbar = fig.axes[-1]
    colorbar.set_yticks([0, 1], [text("plot.segments.lowest", language), text("plot.segments.highest", language)])
    counts = numeric.groupby("variable")["n"].agg(["min", "max"]) if "n" in numeric else None
    full = numeric.groupby("variable")["segment_size"].min()
    labels = []
    for variable in grid.index:
        label = data_label("variable", variable, language)
        if counts is not None:
            low, high = counts.loc[variable]
            if pd.notna(low) and low < full.get(variable, np.inf):  # only part of the customers (e.g. respondents)
                n = (format_integer(low, language) if low == high else
                     text("plot.common.range", language, low=format_integer(low, language),
                          high=format_integer(high, language)))
                label = text("plot.segments.partial_n", language, label=label, n=n)
        labels.append(label)
    ax.set_yticks(np.arange(len(grid)) + 0.5, labels, rotation=0)
    ax.set_xticks(np.arange(grid.shape[1]) + 0.5,
                  [text("plot.common.with_n_below", language, label=wrap(data_label("segment", c, language), 12),
                        n=format_integer(sizes.get(c, np.nan), language)) for c in grid.columns], rotation=0)
    ax.set_xlabel(text("plot.segments.xlabel", language))
    ax.set_ylabel("")
    ax.set_title(title or text("plot.segments.title", language))
    return fig


def _signed(value: float, shown: str) -> str:
    return ("+" if value >= 0 else "−") + shown


@styled
def response_bias_plot(table: pd.DataFrame, *, title: str | None = None, language: str = "en") -> Figure:
    """Respondents minus all customers, with 95% CIs: relative difference of the CRM
    measures and, when simulated, the difference in true attitudes (SD units); one row each."""
    _require_columns(table, ["measure", "kind", "difference", "relative_difference", "ci_lower", "ci_upper",
                             "all_customers"], "response_bias_plot")
    observed = table[table["kind"] == "observed CRM"]
    truth = table[table["kind"] != "observed CRM"]
    panels = 1 + (len(truth) > 0)
    heights = [len(observed) + 1.2] + ([len(truth) + 1.2] if panels == 2 else [])
    fig, axes = subplots(panels, 1, figsize=(7.2, 0.42 * sum(heights) + 1.2), squeeze=False,
                         layout="constrained", gridspec_kw={"height_ratios": heights})
    specs = [(observed, 100 / observed["all_customers"].to_numpy(float), True, BLUE, "",
              "plot.response_bias.observed_axis", "plot.response_bias.observed_title")]
    if panels == 2:
        specs.append((truth, np.ones(len(truth)), False, ORANGE, "//",
                      "plot.response_bias.truth_axis", "plot.response_bias.truth_title"))
    for ax, (rows, scale, percent, color, hatch, xlabel, panel_title) in zip(axes[:, 0], specs):
        value = rows["difference"].to_numpy(float) * scale
        lower = rows["ci_lower"].to_numpy(float) * scale
        upper = rows["ci_upper"].to_numpy(float) * scale
        y = np.arange(len(rows))
        ax.barh(y, value, color=color, hatch=hatch, edgecolor="white", alpha=0.85)
        ax.errorbar(value, y, xerr=[value - lower, upper - value], fmt="none", ecolor="#333333", capsize=3)
        for k, v in enumerate(value):
            shown = (format_percent(abs(v) / 100, language, 1) if percent else
                     text("plot.response_bias.sd_value", language, value=format_number(abs(v), language, 2)))
            ax.text(upper[k] if v >= 0 else lower[k], k - 0.3, f" {_signed(v, shown)} ", va="center",
                    ha="left" if v >= 0 else "right", fontsize=SMALL_FONT)
        ax.axvline(0, color="#555555", linewidth=0.8)
        ax.set_yticks(y, [wrap(data_label("measure", m, language), 34) for m in rows["measure"]])
        ax.invert_yaxis()
        if percent:
            ax.xaxis.set_major_formatter(tick_formatter("percent", language, scale=100))
        low, high = min(np.nanmin(lower), 0.0), max(np.nanmax(upper), 0.0)
        pad = 0.35 * max(high - low, 0.05)
        ax.set_xlim(low - pad, high + pad)
        ax.set_xlabel(text(xlabel, language))
        ax.set_title(text(panel_title, language), loc="left", fontsize=11)
    fig.suptitle(title or text("plot.response_bias.title", language))
    return fig

"""Figures of the behavioural-loyalty chapter: retention, RFM/CLV, attitude vs behaviour.

Same conventions as :mod:`analysis.plots.survey`: data first, a :class:`~matplotlib.figure.Figure`
returned (never shown), saved by ``ctx.save_figure`` / :func:`analysis.plots.survey.save_figure`;
seaborn's colour-blind palette, and every distinction made by colour is repeated by line
style, marker or text. Inputs are the tables the stages of
:mod:`analysis.study.behaviour` save, so every figure can be redrawn from the CSVs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, PercentFormatter

from analysis.errors import DataError
from analysis.plots.style import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    PALETTE,
    VERMILLION,
    _require_columns,
    styled,
    subplots,
)

__all__ = ["cohort_retention_heatmap", "bgnbd_fit_check", "clv_distribution", "retention_curves",
           "loyalty_repeat_plot", "attitude_behaviour_correlations", "segment_heatmap",
           "response_bias_plot"]

GROUP_STYLES = {"low": (VERMILLION, ":", "v"), "medium": (GREY, "--", "s"), "high": (BLUE, "-", "^")}
SOURCE_STYLES = {"survey scores (respondents)": (BLUE, "o"), "true latent (respondents)": (ORANGE, "s"),
                 "true latent (all customers)": (GREEN, "D")}
BEHAVIOUR_LABELS = {"repeat_12m": "repeat purchase\nwithin 12 months", "log_frequency_12m": "repeat purchases\n"
                    "in 12 months (log)", "repeat_purchase": "repeat purchase\n(whole observation)",
                    "log_frequency": "repeat purchases\n(whole obs., log)", "churned": "churned",
                    "log_clv": "CLV (log)"}
ATTITUDE_LABELS = {"SAT": "satisfaction", "LOY": "attitudinal loyalty", "TRU": "trust"}
PANEL_TITLES = {"survey scores (respondents)": "Survey respondents, by measured satisfaction\n"
                "(thirds of the SAT factor score)",
                "true latent (all customers)": "All customers, by true satisfaction\n"
                "(thirds of the simulated latent score)",
                "all customers": "All customers"}
VARIABLE_LABELS = {"visit_count": "visits", "pages_per_session": "pages per visit",
                   "dwell_sec_per_session": "seconds per visit", "conversion_rate": "visits with an order (share)",
                   "repeat_12m": "bought again within 12 months (share)", "clv": "CLV (expected value)",
                   "churned": "churned (share)", "survey_SAT": "satisfaction (survey score)",
                   "survey_LOY": "loyalty (survey score)", "survey_TRU": "trust (survey score)",
                   "true_loyalty": "loyalty (true latent, simulation)"}


def _money(value, _position=None) -> str:
    return f"{value:,.0f}" if value >= 1 else f"{value:.2g}"


@styled
def cohort_retention_heatmap(cohorts: pd.DataFrame, max_periods: int = 18, *,
                             title: str = "Cohort retention: share of each signup month still ordering") -> Figure:
    """Heatmap of :func:`~analysis.behaviour.rfm.cohort_retention` (cohorts x months since signup)."""
    _require_columns(cohorts, ["cohort", "period", "cohort_size", "retention"], "cohort_retention_heatmap")
    grid = cohorts[cohorts["period"].between(1, max_periods)].pivot(index="cohort", columns="period",
                                                                    values="retention")
    sizes = cohorts.drop_duplicates("cohort").set_index("cohort")["cohort_size"]
    grid.index = [f"{c} (n={int(sizes[c]):,})" for c in grid.index]
    fig, ax = subplots(figsize=(10, 0.38 * len(grid) + 1.8), layout="constrained")
    sns.heatmap(grid * 100, ax=ax, cmap="cividis", annot=True, fmt=".0f", annot_kws={"fontsize": 7},
                cbar_kws={"label": "customers ordering in that month (%)"}, linewidths=0.4, linecolor="white")
    ax.set_xlabel("Months since signup (month 0, the first order, is always 100% and not shown)")
    ax.set_ylabel("Signup month (cohort)")
    ax.set_title(title)
    return fig


@styled
def bgnbd_fit_check(check: pd.DataFrame, *,
                    title: str = "Does BG/NBD describe the customers? Repeat purchases, observed vs model") -> Figure:
    """Grouped bars: customers by number of repeat purchases, observed and drawn from the fit."""
    _require_columns(check, ["repeat_purchases", "observed", "bgnbd_model"], "bgnbd_fit_check")
    x = np.arange(len(check))
    fig, ax = subplots(figsize=(8, 4.4), layout="constrained")
    ax.bar(x - 0.2, check["observed"], width=0.4, color=BLUE, label="observed customers")
    ax.bar(x + 0.2, check["bgnbd_model"], width=0.4, color=ORANGE, hatch="//", edgecolor="white",
           label="simulated from the fitted BG/NBD")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(_money))
    ax.set_xticks(x, check["repeat_purchases"])
    ax.set_xlabel("Repeat purchase weeks per customer during the observation")
    ax.set_ylabel("Customers (log scale)")
    ax.set_title(title)
    ax.legend()
    return fig


@styled
def clv_distribution(customers: pd.DataFrame, frequency: pd.Series | None = None, *,
                     title: str = "Customer value: who is still active, and who holds the value") -> Figure:
    """P(alive) by buyer type, the CLV distribution and the CLV concentration curve.

    ``customers`` is :func:`~analysis.behaviour.clv.customer_lifetime_value` output;
    ``frequency`` (same index) splits P(alive) into one-time and repeat buyers.
    """
    _require_columns(customers, ["probability_alive", "clv"], "clv_distribution")
    fig, axes = subplots(1, 3, figsize=(14, 4.4), layout="constrained")
    alive = customers["probability_alive"].to_numpy(float)
    bins = np.linspace(0, 1, 21)
    if frequency is not None:
        repeat = frequency.reindex(customers.index).to_numpy(float) > 0
        axes[0].hist([alive[~repeat], alive[repeat]], bins=bins, stacked=True, color=[GREY, BLUE],
                     label=["no repeat purchase yet", "repeat buyers"])
        axes[0].legend(loc="upper left")
    else:
        axes[0].hist(alive, bins=bins, color=BLUE)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("P(alive): probability the customer is still active")
    axes[0].set_ylabel("Customers (log scale)")
    axes[0].set_title("P(alive)", fontsize=11)
    clv = customers["clv"].to_numpy(float)
    positive = clv > 0
    edges = np.geomspace(max(np.quantile(clv[positive], 0.001), 0.01), clv.max(), 40)
    if frequency is not None:
        axes[0].text(0.86, 0.52, "no repeat purchase: P(alive) = 1,\nbecause BG/NBD lets customers\n"
                     "drop out only after a repeat", transform=axes[0].transAxes, ha="right",
                     fontsize=8, color="#444444")
        axes[1].hist([clv[positive & ~repeat], clv[positive & repeat]], bins=edges, stacked=True,
                     color=[GREY, BLUE], label=["no repeat purchase yet", "repeat buyers"])
    else:
        axes[1].hist(clv[positive], bins=edges, color=BLUE)
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].xaxis.set_major_formatter(FuncFormatter(_money))
    axes[1].yaxis.set_major_formatter(FuncFormatter(_money))
    axes[1].axvline(np.median(clv), color=VERMILLION, linestyle="--", label=f"median {np.median(clv):,.1f}")
    axes[1].axvline(clv.mean(), color=GREEN, linestyle="-.", label=f"mean {clv.mean():,.1f}")
    axes[1].legend(loc="upper left")
    axes[1].set_xlabel("Expected discounted value (currency, log scale)")
    axes[1].set_ylabel("Customers (log scale)")
    axes[1].set_title("Customer lifetime value (CLV)", fontsize=11)
    ranked = np.sort(clv)[::-1]
    share_customers = np.arange(1, len(ranked) + 1) / len(ranked)
    share_value = np.cumsum(ranked) / ranked.sum()
    axes[2].plot(share_customers * 100, share_value * 100, color=BLUE, label="customers ranked by CLV")
    axes[2].plot([0, 100], [0, 100], color=GREY, linestyle="--", label="everyone equally valuable")
    top = share_value[max(0, int(round(0.2 * len(ranked))) - 1)]
    axes[2].plot([20], [top * 100], "o", color=VERMILLION)
    axes[2].annotate(f"top 20% hold {top:.0%}", (20, top * 100), xytext=(30, top * 100 - 18),
                     arrowprops={"arrowstyle": "->", "color": "#444444"})
    axes[2].xaxis.set_major_formatter(PercentFormatter())
    axes[2].yaxis.set_major_formatter(PercentFormatter())
    axes[2].set_xlabel("Share of customers (most valuable first)")
    axes[2].set_ylabel("Share of total expected value")
    axes[2].set_title("Concentration of value", fontsize=11)
    axes[2].legend(loc="lower right")
    fig.suptitle(title)
    return fig


def _group_style(group: str):
    return GROUP_STYLES.get(str(group).split()[0], (PALETTE[4], "-", "o"))


@styled
def retention_curves(curves: pd.DataFrame, summary: pd.DataFrame | None = None, *,
                     title: str = "Kaplan-Meier retention by satisfaction: share still buying") -> Figure:
    """One panel per source: KM curves (with 95% bands) of the satisfaction groups.

    ``summary`` (the chapter's retention summary: ``source``, ``group``, ``n_customers``)
    adds group sizes to the legend.
    """
    _require_columns(curves, ["source", "group", "timeline", "survival", "ci_lower", "ci_upper"],
                     "retention_curves")
    sources = [s for s in dict.fromkeys(curves["source"]) if s != "all customers"] or ["all customers"]
    fig, axes = subplots(1, len(sources), figsize=(6.2 * len(sources), 4.6), squeeze=False,
                             sharey=True, layout="constrained")
    overall = curves[curves["source"] == "all customers"]
    sizes = {} if summary is None else {(r.source, r.group): int(r.n_customers) for r in summary.itertuples()}
    for ax, source in zip(axes[0], sources):
        part = curves[curves["source"] == source]
        order = sorted(part["group"].unique(), key=lambda g: list(GROUP_STYLES).index(g.split()[0])
                       if g.split()[0] in GROUP_STYLES else 9)
        for group in order:
            rows = part[part["group"] == group]
            color, style, _ = _group_style(group)
            ax.step(rows["timeline"], rows["survival"], where="post", color=color, linestyle=style,
                    linewidth=2, label=f"{group} (n={sizes[(source, group)]:,})"
                    if (source, group) in sizes else group)
            ax.fill_between(rows["timeline"], rows["ci_lower"], rows["ci_upper"], step="post", color=color,
                            alpha=0.15)
        if source != "all customers" and len(overall):
            ax.step(overall["timeline"], overall["survival"], where="post", color="black", linewidth=1,
                    linestyle=(0, (1, 3)), label="all customers")
        ax.set_title(PANEL_TITLES.get(source, source), fontsize=11)
        ax.set_xlabel("Weeks since the first order")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylim(0, None)
        ax.legend(loc="upper right")
    axes[0, 0].set_ylabel("Customers still buying (Kaplan-Meier)")
    fig.suptitle(title)
    return fig


@styled
def loyalty_repeat_plot(binned: pd.DataFrame, *,
                        title: str = "Stated loyalty vs buying again within 12 months") -> Figure:
    """12-month repeat rate (Wilson 95% CI) per loyalty quintile, one line per source."""
    _require_columns(binned, ["source", "group", "repeat_rate", "ci_lower", "ci_upper", "n_customers"],
                     "loyalty_repeat_plot")
    fig, ax = subplots(figsize=(8, 4.8), layout="constrained")
    sources = list(dict.fromkeys(binned["source"]))
    offsets = np.linspace(-0.12, 0.12, len(sources)) if len(sources) > 1 else [0.0]
    for offset, source in zip(offsets, sources):
        rows = binned[binned["source"] == source].sort_values("group")
        color, marker = SOURCE_STYLES.get(source, (PALETTE[4], "o"))
        x = np.arange(len(rows)) + offset
        ax.errorbar(x, rows["repeat_rate"], yerr=[rows["repeat_rate"] - rows["ci_lower"],
                                                   rows["ci_upper"] - rows["repeat_rate"]],
                    color=color, marker=marker, capsize=3, linewidth=1.5,
                    label=f"{source}, about {int(rows['n_customers'].median()):,} per fifth")
    labels = ["lowest fifth", "2nd", "3rd", "4th", "highest fifth"]
    ax.set_xticks(range(len(labels)), labels[:binned.groupby("source").size().max()])
    ax.set_xlabel("Attitudinal loyalty (LOY): fifths from least to most loyal, within each group")
    ax.set_ylabel("Customers who bought again within 12 months")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, None)
    ax.set_title(title)
    ax.legend(loc="upper left")
    return fig


@styled
def attitude_behaviour_correlations(correlations: pd.DataFrame, method: str = "pearson", *,
                                    title: str = "How strongly do attitudes go with behaviour?") -> Figure:
    """Dot plot of correlations with 95% CIs, one panel per attitude, markers by source."""
    _require_columns(correlations, ["source", "attitude", "behaviour", "method", "r", "ci_lower", "ci_upper"],
                     "attitude_behaviour_correlations")
    data = correlations[correlations["method"] == method]
    if data.empty:
        raise DataError(f"attitude_behaviour_correlations: no rows with method {method!r}")
    attitudes = list(dict.fromkeys(data["attitude"]))
    behaviours = [b for b in BEHAVIOUR_LABELS if b in set(data["behaviour"])]
    fig, axes = subplots(1, len(attitudes), figsize=(4.4 * len(attitudes) + 1.5, 5.2), sharey=True,
                             sharex=True, squeeze=False, layout="constrained")
    sources = list(dict.fromkeys(data["source"]))
    offsets = np.linspace(-0.22, 0.22, len(sources)) if len(sources) > 1 else [0.0]
    for ax, attitude in zip(axes[0], attitudes):
        for offset, source in zip(offsets, sources):
            rows = data[(data["attitude"] == attitude) & (data["source"] == source)].set_index("behaviour")
            rows = rows.reindex(behaviours)
            y = np.arange(len(behaviours)) + offset
            color, marker = SOURCE_STYLES.get(source, (PALETTE[4], "o"))
            ax.errorbar(rows["r"], y, xerr=[rows["r"] - rows["ci_lower"], rows["ci_upper"] - rows["r"]],
                        fmt=marker, color=color, capsize=2, label=source)
        ax.axvline(0, color="#555555", linewidth=0.8)
        ax.axvspan(0.2, 0.4, color=GREEN, alpha=0.08)
        ax.axvspan(-0.4, -0.2, color=GREEN, alpha=0.08)
        ax.set_title(ATTITUDE_LABELS.get(attitude, attitude), fontsize=11)
        ax.set_xlabel("Correlation r (95% CI)")
    axes[0, 0].set_yticks(range(len(behaviours)), [BEHAVIOUR_LABELS[b] for b in behaviours])
    axes[0, 0].invert_yaxis()
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles.append(Patch(color=GREEN, alpha=0.15))
    labels.append("|r| = .2-.4: the modest size expected (Mittal & Kamakura 2001)")
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels))
    fig.suptitle(title)
    return fig


@styled
def segment_heatmap(table: pd.DataFrame, *, title: str = "Web-behaviour segments: profile") -> Figure:
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
    fig, ax = subplots(figsize=(2.3 * grid.shape[1] + 3.5, 0.42 * len(grid) + 1.8), layout="constrained")
    # round before formatting so that -0.001 prints as 0.00, not -0.00
    annotations = grid.map(lambda v: "" if pd.isna(v) else (f"{v:,.0f}" if abs(v) >= 100
                                                           else f"{round(v, 2) + 0.0:.2f}"))
    sns.heatmap(relative, ax=ax, cmap="cividis", annot=annotations, fmt="", vmin=0, vmax=1,
                cbar_kws={"label": "lowest → highest segment in the row"}, linewidths=0.5, linecolor="white")
    counts = numeric.groupby("variable")["n"].agg(["min", "max"])
    full = numeric.groupby("variable")["segment_size"].min()
    labels = []
    for variable in grid.index:
        label = VARIABLE_LABELS.get(variable, variable)
        low, high = counts.loc[variable]
        if pd.notna(low) and low < full.get(variable, np.inf):  # only part of the customers (e.g. respondents)
            label += f", n = {low:.0f}-{high:.0f}" if low != high else f", n = {low:.0f}"
        labels.append(label)
    ax.set_yticks(np.arange(len(grid)) + 0.5, labels, rotation=0)
    ax.set_xticks(np.arange(grid.shape[1]) + 0.5,
                  [f"{c}\n(n={sizes.get(c, np.nan):,.0f})" for c in grid.columns], rotation=0)
    ax.set_xlabel("Segment (thirds of web engagement: visits, pages and dwell time per visit)")
    ax.set_ylabel("")
    ax.set_title(title + " (numbers are segment means)")
    return fig


@styled
def response_bias_plot(table: pd.DataFrame, *,
                       title: str = "Who answers the survey? Respondents compared with all customers") -> Figure:
    """Respondents minus all customers, with 95% CIs: relative difference of the CRM
    measures and, when simulated, the difference in true attitudes (SD units)."""
    _require_columns(table, ["measure", "kind", "difference", "relative_difference", "ci_lower", "ci_upper",
                             "all_customers"], "response_bias_plot")
    observed = table[table["kind"] == "observed CRM"]
    truth = table[table["kind"] != "observed CRM"]
    panels = 1 + (len(truth) > 0)
    fig, axes = subplots(1, panels, figsize=(6.8 * panels, 4.2), squeeze=False, layout="constrained")
    specs = [(observed, 100 / observed["all_customers"].to_numpy(float), "%", BLUE, "",
              "Respondents vs all customers (% difference, 95% CI)", "Observed behaviour (CRM)")]
    if panels == 2:
        specs.append((truth, np.ones(len(truth)), " SD", ORANGE, "//",
                      "Respondents minus all customers (SD units, 95% CI)", "True attitudes (simulation truth)"))
    for ax, (rows, scale, unit, color, hatch, xlabel, panel_title) in zip(axes[0], specs):
        value = rows["difference"].to_numpy(float) * scale
        lower = rows["ci_lower"].to_numpy(float) * scale
        upper = rows["ci_upper"].to_numpy(float) * scale
        y = np.arange(len(rows))
        ax.barh(y, value, color=color, hatch=hatch, edgecolor="white", alpha=0.85)
        ax.errorbar(value, y, xerr=[value - lower, upper - value], fmt="none", ecolor="#333333", capsize=3)
        for k, v in enumerate(value):
            ax.text(upper[k] if v >= 0 else lower[k], k - 0.3, f" {v:+.1f}{unit} " if unit == "%" else
                    f" {v:+.2f}{unit} ", va="center", ha="left" if v >= 0 else "right", fontsize=9)
        ax.axvline(0, color="#555555", linewidth=0.8)
        ax.set_yticks(y, rows["measure"])
        ax.invert_yaxis()
        low, high = min(np.nanmin(lower), 0.0), max(np.nanmax(upper), 0.0)
        pad = 0.3 * max(high - low, 0.05)
        ax.set_xlim(low - pad, high + pad)
        ax.set_xlabel(xlabel)
        ax.set_title(panel_title, fontsize=11)
    fig.suptitle(title)
    return fig

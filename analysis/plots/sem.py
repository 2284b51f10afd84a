"""SEM figures of the study report: loadings, fit indices, parameter recovery, bootstrap.

Same conventions as :mod:`analysis.plots.survey` (data first, returns a
:class:`matplotlib.figure.Figure`, never calls ``plt.show()``; save with
:func:`analysis.plots.survey.save_figure`; keyword-only ``language``, words from the
``plot.*`` catalog entries).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.textpath import TextPath

from analysis.errors import ConfigError, DataError
from analysis.i18n import format_integer, format_number, format_p, text
from analysis.plots.style import (
    BLUE,
    COMPACT_LEGEND,
    GREEN,
    GREY,
    ORANGE,
    SKY,
    SMALL_FONT,
    VERMILLION,
    _require_columns,
    legend_columns,
    plain_number,
    styled,
    subplots,
)

__all__ = [
    "DEFAULT_FIT_THRESHOLDS",
    "loadings_plot",
    "fit_indices_plot",
    "recovery_plot",
    "bootstrap_distribution",
]

DEFAULT_FIT_THRESHOLDS = {"cfi": 0.95, "tli": 0.95, "rmsea": 0.06, "srmr": 0.08}


@styled
def loadings_plot(
    estimates: pd.DataFrame, *, threshold: float = 0.708, title: str | None = None, language: str = "en"
) -> Figure:
    """Dot plot of standardized loadings (``op == "=~"``, column ``std_all``) per construct.

    Loadings whose absolute value is below ``threshold`` (default .708: the item shares
    at least half its variance with the construct, .708² ≈ .50) are drawn as vermillion
    diamonds with their value printed. Construct codes label the groups on the right.
    """
    _require_columns(estimates, ["lhs", "op", "rhs", "std_all"], "loadings_plot: estimates")
    rows = estimates[estimates["op"] == "=~"]
    if rows.empty:
        raise DataError("loadings_plot: estimates has no loadings (rows with op '=~')")
    constructs = list(dict.fromkeys(rows["lhs"]))
    fig, ax = subplots(figsize=(6.7, 1.5 + 0.27 * len(rows) + 0.2 * len(constructs)),
                       layout="constrained")
    y, ticks, names, weak_count = 0.0, [], [], 0
    values = pd.to_numeric(rows["std_all"], errors="coerce")
    for index, construct in enumerate(constructs):
        block = rows[rows["lhs"] == construct]
        top = y
        for row_id, item in zip(block.index, block["rhs"]):
            value = values[row_id]
            weak = bool(abs(value) < threshold) if pd.notna(value) else False
            weak_count += weak
            ax.plot(value, y, marker="D" if weak else "o", markersize=7 if weak else 6,
                    color=VERMILLION if weak else BLUE, linestyle="none")
            if weak:
                ax.annotate(format_number(value, language, 3), (value, y), xytext=(-8, 0),
                            textcoords="offset points", ha="right", va="center",
                            fontsize=SMALL_FONT, color=VERMILLION)
            ticks.append(y)
            names.append(str(item))
            y += 1
        if index % 2 == 0:
            ax.axhspan(top - 0.5, y - 0.5, color="#f0f0f0", zorder=0)
        ax.text(1.01, (top + y - 1) / 2, construct, transform=ax.get_yaxis_transform(),
                va="center", fontsize=10, fontweight="bold")
        y += 0.6
    ax.axvline(threshold, color="black", linestyle="--", linewidth=1)
    ax.set_yticks(ticks, names)
    ax.set_ylim(y - 0.6 - 0.5, -0.7)
    ax.grid(axis="y", visible=False)
    low = min(0.0, float(values.min()) - 0.05) if values.notna().any() else 0.0
    ax.set_xlim(low, max(1.0, float(values.max()) + 0.05) if values.notna().any() else 1.0)
    ax.set_xlabel(text("plot.loadings.xlabel", language))
    cut = plain_number(threshold, language)
    ax.plot([], [], "o", color=BLUE, label=text("plot.loadings.strong", language, threshold=cut))
    ax.plot([], [], "D", color=VERMILLION,
            label=text("plot.loadings.weak", language, threshold=cut, count=format_integer(weak_count, language)))
    ax.plot([], [], "--", color="black", label=text("plot.loadings.cutoff", language, threshold=cut))
    ax.legend(loc="lower left", fontsize=SMALL_FONT)
    ax.set_title(title or text("plot.loadings.title", language))
    return fig


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def p_clause(p: float, language: str) -> str:
    """"p = .023" / "p < .001" (Chinese: "p = 0.023")."""
    shown = format_p(p, language)
    return f"p {shown}" if shown.startswith("<") else f"p = {shown}"


@styled
def fit_indices_plot(
    fit: Mapping[str, float],
    thresholds: Mapping[str, float] | None = None,
    *,
    title: str | None = None,
    language: str = "en",
) -> Figure:
    """Small multiples of CFI, TLI, RMSEA (with its CI) and SRMR against their cut-offs.

    Each panel is a horizontal scale with the acceptable zone shaded green and the other
    zone red (labelled in words, too); the black diamond is the model's value. Missing
    indices show "not available".
    """
    unknown = sorted(set(thresholds or {}) - set(DEFAULT_FIT_THRESHOLDS))
    if unknown:
        raise ConfigError(f"fit_indices_plot: unknown threshold key(s) {unknown}; "
                          f"allowed: {sorted(DEFAULT_FIT_THRESHOLDS)}")
    cut_offs = {**DEFAULT_FIT_THRESHOLDS, **(thresholds or {})}
    specs = [("cfi", "CFI", True), ("tli", "TLI", True), ("rmsea", "RMSEA", False),
             ("srmr", "SRMR", False)]
    fig, axes = subplots(4, 1, figsize=(7.2, 5.8), layout="constrained")
    for ax, (key, name, higher_is_better) in zip(axes, specs):
        value, cut = _number(fit.get(key)), float(cut_offs[key])
        ci = [_number(fit.get(f"{key}_ci_lower")), _number(fit.get(f"{key}_ci_upper"))]
        if higher_is_better:
            lo = min(0.80, (value if value is not None else 1) - 0.03, cut - 0.05)
            hi = max(1.0, (value or 0) + 0.01)
            good, poor = (cut, hi), (lo, cut)
        else:
            lo = 0.0
            hi = max(0.15, cut * 1.8, *[(v or 0) * 1.15 for v in (value, ci[1])])
            good, poor = (lo, cut), (cut, hi)
        ax.axvspan(*good, color=GREEN, alpha=0.22)
        ax.axvspan(*poor, color=VERMILLION, alpha=0.16)
        ax.text(sum(good) / 2, 0.55, text("plot.fit.acceptable", language), ha="center",
                fontsize=SMALL_FONT, color="#1d5e45")
        ax.text(sum(poor) / 2, 0.55, text("plot.fit.poor", language), ha="center",
                fontsize=SMALL_FONT, color="#8a3b00")
        ax.axvline(cut, color="#333333", linewidth=1)
        sign = "≥" if higher_is_better else "≤"
        shown_cut = plain_number(cut, language)
        if value is None:
            ax.text(0.5, 0.0, text("plot.fit.not_available", language), transform=ax.get_yaxis_transform(),
                    ha="center", va="center", fontsize=10, style="italic",
                    bbox={"facecolor": "white", "edgecolor": "none"})
            heading = text("plot.fit.heading_missing", language, index=name, sign=sign, cut=shown_cut)
        else:
            met = value >= cut if higher_is_better else value <= cut
            if None not in ci:
                ax.errorbar(value, 0, xerr=[[value - ci[0]], [ci[1] - value]], fmt="none",
                            ecolor="black", capsize=5, linewidth=1.5)
            ax.plot(value, 0, "D", color="black", markersize=8)
            interval = (text("plot.fit.interval", language, low=format_number(ci[0], language, 3),
                             high=format_number(ci[1], language, 3)) if None not in ci else "")
            heading = text("plot.fit.heading", language, index=name, value=format_number(value, language, 3),
                           interval=interval, sign=sign, cut=shown_cut,
                           verdict=text("plot.fit.met" if met else "plot.fit.not_met", language))
        ax.set_title(heading, loc="left", fontsize=10.5)
        ax.set_xlim(lo, hi)
        ax.set_ylim(-1, 1)
        ax.set_yticks([])
        ax.grid(axis="y", visible=False)
    chisq, df, n = _number(fit.get("chisq")), _number(fit.get("df")), _number(fit.get("n"))
    parts = []
    if chisq is not None and df is not None:
        parts.append(text("plot.fit.chisq", language, df=plain_number(df, language),
                          chisq=format_number(chisq, language, 2)))
        p = _number(fit.get("pvalue"))
        if p is not None:
            parts.append(p_clause(p, language))
        if n is not None:
            parts.append(text("plot.fit.n", language, n=format_integer(n, language)))
    heading = title or text("plot.fit.title", language)
    fig.suptitle(heading + ("\n" + text("plot.common.list_separator", language).join(parts) if parts else ""))
    return fig


def _label_points(ax, xs, ys, texts, fontsize: float = SMALL_FONT) -> None:
    """Label points, trying offsets around each until the label clears earlier labels
    and every marker (greedy; good for tens of points, not hundreds)."""
    fig = ax.figure
    fig.draw_without_rendering()  # settle the layout so data->pixel positions are final
    px_per_pt = fig.dpi / 72
    points = ax.transData.transform(np.column_stack([xs, ys]))
    taken = [(x - 5, y - 5, x + 5, y + 5) for x, y in points if np.isfinite([x, y]).all()]
    for (x, y), label, data_x, data_y in zip(points, texts, xs, ys):
        if not np.isfinite([x, y]).all():
            continue
        extent = TextPath((0, 0), label, size=fontsize).get_extents()
        w, h = extent.width * px_per_pt, fontsize * 1.2 * px_per_pt
        offsets = [(6, 4), (6, -4 - h / px_per_pt), (-6 - w / px_per_pt, 4),
                   (-6 - w / px_per_pt, -4 - h / px_per_pt), (6, -h / 2 / px_per_pt),
                   (-6 - w / px_per_pt, -h / 2 / px_per_pt)]
        best = offsets[0]
        for dx, dy in offsets:
            box = (x + dx * px_per_pt, y + dy * px_per_pt,
                   x + dx * px_per_pt + w, y + dy * px_per_pt + h)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                       for b in taken):
                best = (dx, dy)
                break
        box = (x + best[0] * px_per_pt, y + best[1] * px_per_pt)
        taken.append((box[0], box[1], box[0] + w, box[1] + h))
        ax.annotate(label, (data_x, data_y), xytext=best, textcoords="offset points",
                    fontsize=fontsize, ha="left", va="bottom")


@styled
def recovery_plot(
    recovery: pd.DataFrame,
    *,
    tolerance: float = 0.05,
    max_labels: int = 20,
    title: str | None = None,
    language: str = "en",
) -> Figure:
    """Scatter of estimates against true values with the identity line and a ±tolerance band.

    Points inside the band are blue circles, outside vermillion triangles. All points are
    labelled when there are at most ``max_labels``, otherwise only those outside the band.
    Optional ``ci_lower``/``ci_upper`` columns add vertical interval bars.
    """
    _require_columns(recovery, ["parameter", "true", "estimate"], "recovery_plot: recovery")
    truth = pd.to_numeric(recovery["true"], errors="coerce").to_numpy(float)
    estimate = pd.to_numeric(recovery["estimate"], errors="coerce").to_numpy(float)
    has_ci = {"ci_lower", "ci_upper"} <= set(recovery.columns)
    span = [truth, estimate]
    if has_ci:
        lower = pd.to_numeric(recovery["ci_lower"], errors="coerce").to_numpy(float)
        upper = pd.to_numeric(recovery["ci_upper"], errors="coerce").to_numpy(float)
        has_ci = bool(np.isfinite(lower).any() and np.isfinite(upper).any())
        span += [lower, upper]
    finite = np.concatenate(span)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        raise DataError("recovery_plot: columns 'true' and 'estimate' hold no numbers")
    pad = 0.08 * max(finite.max() - finite.min(), 0.2)
    lo, hi = finite.min() - pad, finite.max() + pad
    fig, ax = subplots(figsize=(6.6, 6.6), layout="constrained")
    band = plain_number(tolerance, language)
    ax.fill_between([lo, hi], [lo - tolerance, hi - tolerance], [lo + tolerance, hi + tolerance],
                    color=GREEN, alpha=0.18, label=text("plot.recovery.band", language, tolerance=band))
    ax.plot([lo, hi], [lo, hi], color="#555555", linestyle="--", label=text("plot.recovery.identity", language))
    inside = np.abs(estimate - truth) <= tolerance
    if has_ci:
        ax.errorbar(truth, estimate, yerr=[estimate - lower, upper - estimate], fmt="none",
                    ecolor=GREY, elinewidth=1, capsize=2, label=text("plot.recovery.interval", language))
    ax.plot(truth[inside], estimate[inside], "o", color=BLUE, label=text("plot.recovery.inside", language))
    ax.plot(truth[~inside], estimate[~inside], "^", color=VERMILLION, markersize=8,
            label=text("plot.recovery.outside", language))
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    rmse = float(np.sqrt(np.nanmean((estimate - truth) ** 2)))
    ax.text(0.98, 0.03, text("plot.recovery.summary", language, within=format_integer(inside.sum(), language),
                             n=format_integer(len(recovery), language), tolerance=band,
                             rmse=format_number(rmse, language, 3)),
            transform=ax.transAxes, ha="right", va="bottom",
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#cccccc"})
    ax.set_xlabel(text("plot.recovery.xlabel", language))
    ax.set_ylabel(text("plot.recovery.ylabel", language))
    ax.set_title(title or text("plot.recovery.title", language))
    ax.legend(loc="upper left")
    chosen = [i for i in range(len(recovery)) if len(recovery) <= max_labels or not inside[i]]
    _label_points(ax, truth[chosen], estimate[chosen],
                  [str(recovery["parameter"].iloc[i]) for i in chosen])
    return fig


_EFFECT = re.compile(r"^(?P<source>.+?)->(?P<target>.+):(?P<kind>direct|indirect|total)$")


def _per_effect(values, column: str) -> dict[str, float]:
    """Effect name -> value, from a mapping/Series, a table indexed by effect or with an
    ``effect`` column, or a bootstrap summary (``from_``, ``to``, ``kind``: the draws'
    columns are named ``from->to:kind``)."""
    if values is None:
        return {}
    if isinstance(values, pd.DataFrame):
        if {"from_", "to", "kind"} <= set(values.columns):
            frame = values.set_index(values["from_"].astype(str) + "->" + values["to"].astype(str)
                                     + ":" + values["kind"].astype(str))
        else:
            frame = values.set_index("effect") if "effect" in values.columns else values
        return frame[column].to_dict() if column in frame.columns else {}
    return dict(values.items())


def _effect_title(effect, language: str) -> str:
    match = _EFFECT.match(str(effect))
    if not match:
        return str(effect)
    return text("plot.bootstrap.effect", language, source=match["source"], target=match["target"],
                kind=text(f"plot.bootstrap.kind.{match['kind']}", language))


@styled
def bootstrap_distribution(
    draws: pd.DataFrame,
    estimates: Mapping[str, float] | pd.Series | pd.DataFrame | None = None,
    ci: pd.DataFrame | None = None,
    *,
    level: float = 0.95,
    bins: int = 40,
    title: str | None = None,
    language: str = "en",
) -> Figure:
    """Histogram of the bootstrap draws of each effect with its interval and estimate.

    ``draws`` has one column per effect (``ESQ->LOY:indirect`` columns are titled "ESQ → LOY,
    indirect effect"). ``estimates`` (mapping, Series, a table with ``effect`` and ``est``, or
    the bootstrap summary with ``from_``, ``to``, ``kind``, ``est``) adds the full-sample
    estimate as a black line; ``ci`` (same shapes, columns ``ci_lower``/``ci_upper``) gives
    the interval, otherwise the ``level`` percentile interval of the draws is used. A grey
    line marks zero. The legend lists only the lines actually drawn.
    """
    if not isinstance(draws, pd.DataFrame) or draws.shape[1] == 0:
        raise DataError("bootstrap_distribution: expected a DataFrame with one column per effect")
    points = _per_effect(estimates, "est")
    lowers, uppers = _per_effect(ci, "ci_lower"), _per_effect(ci, "ci_upper")
    effects = list(draws.columns)
    ncols = min(2, len(effects))
    nrows = int(np.ceil(len(effects) / ncols))
    fig, axes = subplots(nrows, ncols, figsize=(7.2 if ncols == 2 else 4.8, 2.5 * nrows + 1.3),
                         squeeze=False, layout="constrained")
    tail = (1 - level) / 2
    shown_level = plain_number(100 * level, language)
    drew_estimate = drew_interval = False
    for ax, effect in zip(axes.flat, effects):
        values = pd.to_numeric(draws[effect], errors="coerce").dropna()
        low = _number(lowers.get(effect))
        high = _number(uppers.get(effect))
        if (low is None or high is None) and len(values):
            low, high = np.quantile(values, [tail, 1 - tail])
        ax.hist(values, bins=bins, color=SKY, edgecolor="white", linewidth=0.4)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.6)  # headroom for the text box
        if low is not None and high is not None:
            drew_interval = True
            ax.axvspan(low, high, color=ORANGE, alpha=0.12)
            for bound in (low, high):
                ax.axvline(bound, color=VERMILLION, linestyle="--", linewidth=1.5)
        ax.axvline(0, color=GREY, linewidth=1.2)
        point = _number(points.get(effect))
        if point is not None:
            drew_estimate = True
            ax.axvline(point, color="black", linewidth=2)
        lines = [] if point is None else [text("plot.bootstrap.estimate", language,
                                               value=format_number(point, language, 3))]
        if low is not None and high is not None:
            lines.append(text("plot.bootstrap.interval", language, level=shown_level,
                              low=format_number(low, language, 3), high=format_number(high, language, 3)))
            lines.append(text("plot.bootstrap.excludes_zero" if low > 0 or high < 0
                              else "plot.bootstrap.includes_zero", language))
        ax.text(0.02, 0.97, "\n".join(lines), transform=ax.transAxes, va="top", fontsize=SMALL_FONT,
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#cccccc", "alpha": 0.9})
        ax.set_title(_effect_title(effect, language), fontsize=10.5)
        ax.set_xlabel(text("plot.bootstrap.xlabel", language))
        ax.set_ylabel(text("plot.bootstrap.ylabel", language))
    for ax in axes.flat[len(effects):]:
        fig.delaxes(ax)
    handles = [Patch(color=SKY, label=text("plot.bootstrap.draws", language))]
    if drew_estimate:
        handles.append(Line2D([], [], color="black", linewidth=2, label=text("plot.bootstrap.estimate_line", language)))
    if drew_interval:
        handles.append(Line2D([], [], color=VERMILLION, linestyle="--", linewidth=1.5,
                              label=text("plot.bootstrap.interval_line", language, level=shown_level)))
    handles.append(Line2D([], [], color=GREY, linewidth=1.2, label=text("plot.bootstrap.zero_line", language)))
    ncol = legend_columns([h.get_label() for h in handles], fig.get_figwidth() - 0.3)
    fig.legend(handles=handles, loc="outside lower center", ncol=ncol, frameon=False, **COMPACT_LEGEND)
    fig.suptitle(title or text("plot.bootstrap.title", language))
    return fig

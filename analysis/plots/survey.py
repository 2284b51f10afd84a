"""Figures of the study report: Likert shares, screening, measurement, fit, bootstrap.

Every function takes the data first, returns a :class:`matplotlib.figure.Figure` and never
calls ``plt.show()``; :func:`save_figure` writes it as PNG and closes it. Colours come
from seaborn's "colorblind" palette, and no meaning is carried by colour alone (markers,
line styles and text repeat it). Every function takes a keyword-only ``language`` (``en``,
``zh-Hans``, ``zh-Hant``) and takes all its words from the ``plot.*`` catalog entries
(``analysis/i18n/catalog/figures.yaml``); numbers shown as text use :mod:`analysis.i18n`'s
formats. A ``title`` passed by the caller is used as given. The shared style (palette, :func:`styled`) lives in
:mod:`analysis.plots.style`; the SEM figures are in :mod:`analysis.plots.sem` and the path
diagram in :mod:`analysis.plots.diagram`.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator

from analysis.atomic import atomic_path
from analysis.errors import ConfigError, DataError
from analysis.i18n import catalog, format_integer, format_number, format_percent, text
from analysis.plots.style import (
    BLUE,
    COMPACT_LEGEND,
    DPI,
    ORANGE,
    PALETTE,
    SMALL_FONT,
    VERMILLION,
    _require_columns,
    construct_key,
    construct_name,
    legend_columns,
    plain_number,
    tick_formatter,
    styled,
    subplots,
)

__all__ = [
    "PALETTE",
    "save_figure",
    "likert_distribution",
    "construct_correlation_heatmap",
    "screening_summary",
    "duration_distribution",
]



def save_figure(fig: Figure, out_dir: str | os.PathLike, name: str, *, dpi: int = DPI) -> Path:
    """Write ``fig`` to ``out_dir/name.png`` atomically and close it.

    The PNG is first written to a temporary file in the same folder and then moved into
    place with :func:`os.replace`, so a reader never sees a half-written image.
    Returns the path of the PNG.
    """
    stem = name[:-4] if name.lower().endswith(".png") else name
    if not stem or not re.fullmatch(r"[A-Za-z0-9._-]+", stem) or stem.startswith("."):
        raise ConfigError(
            f"figure name {name!r}: expected a plain file name of letters, digits, "
            "'.', '_' or '-' (no folders), e.g. 'loadings'"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{stem}.png"
    try:
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as handle:
                fig.savefig(handle, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    finally:
        fig.clear()  # free the figure's memory at once; nothing else holds it
    return target


def _construct_of(item: str) -> str:
    match = re.fullmatch(r"([A-Za-z_]+?)_?\d+", str(item))
    return match.group(1) if match else ""


def _percent_axis(language: str, absolute: bool = False, scale: float = 100) -> FuncFormatter:
    """Tick labels of an axis in percent units (``scale`` 100) or shares (``scale`` 1)."""
    return tick_formatter("percent", language, scale=scale, absolute=absolute)


def _anchor_labels(points: int, anchors: Mapping[int, str] | None, language: str) -> list[str]:
    if anchors:
        return [text("plot.likert.point_label", language, point=k, label=anchors[k]) if k in anchors
                else str(k) for k in range(1, points + 1)]
    names = [str(k) for k in range(1, points + 1)]
    names[0] = text("plot.likert.lowest", language, point=1)
    names[-1] = text("plot.likert.highest", language, point=points)
    if points % 2:
        middle = (points + 1) // 2
        names[middle - 1] = text("plot.likert.neutral", language, point=middle)
    return names


def _panel_title(code: str, language: str) -> str:
    if not code:
        return text("plot.likert.other_items", language)
    name = construct_name(code, language)
    return text("plot.likert.panel", language, code=code, name=name) if name else code


@styled
def likert_distribution(
    responses: pd.DataFrame,
    items: Sequence[str],
    labels: Mapping[str, str] | None = None,
    *,
    points: int = 7,
    anchors: Mapping[int, str] | None = None,
    title: str | None = None,
    language: str = "en",
) -> Figure:
    """Diverging stacked bars of answer shares (1..points) per item, one panel per construct.

    Disagreement extends left of zero and agreement right; the neutral answer is split
    half and half around zero. Shares are among non-missing answers. Items are grouped
    by the construct code in their id (``EFF1`` -> ``EFF``; the panel is titled with the
    construct's catalog name); ``labels`` maps item ids to the text shown on the y axis.
    The % agree (answers above the midpoint) is printed right of each bar, the % disagree
    left of it. ``anchors`` (point -> label, e.g. ``instrument.scale.anchors[language]``)
    names every answer in the legend; without it the ends and the midpoint are named.
    """
    items = list(items)
    _require_columns(responses, items, "likert_distribution: responses")
    if not items:
        raise DataError("likert_distribution: expected at least one item, got none")
    labels = dict(labels or {})
    answers = responses[items].apply(pd.to_numeric, errors="coerce")
    bad = answers.notna() & ~answers.isin(range(1, points + 1))
    if bad.any().any():
        column = bad.any().idxmax()
        raise DataError(
            f"likert_distribution: column {column!r} holds values outside 1..{points}: "
            f"{sorted(answers.loc[bad[column], column].unique())[:5]}"
        )
    counts = pd.DataFrame({k: (answers == k).sum() for k in range(1, points + 1)})
    shares = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0).fillna(0) * 100

    groups: dict[str, list[str]] = {}
    for item in items:
        groups.setdefault(_construct_of(item), []).append(item)
    heights = [len(g) for g in groups.values()]
    names = _anchor_labels(points, anchors, language)
    width = 7.2
    ncol = legend_columns(names, width - 0.3)
    legend_rows = int(np.ceil(points / ncol))
    fig, axes = subplots(
        len(groups), 1, sharex=True, squeeze=False, layout="constrained",
        figsize=(width, 1.3 + 0.3 * legend_rows + 0.32 * len(items) + 0.5 * len(groups)),
        gridspec_kw={"height_ratios": heights},
    )
    colors = sns.blend_palette([VERMILLION, "#e6e6e6", BLUE], points)
    below = [k for k in range(1, points + 1) if k < (points + 1) / 2]
    above = [k for k in range(1, points + 1) if k > (points + 1) / 2]
    neutral = [k for k in range(1, points + 1) if k == (points + 1) / 2]
    starts = -(shares[below].sum(axis=1) + shares[neutral].sum(axis=1) / 2)
    # Room for the % labels beyond the longest bar on each side.
    left_limit = max(-100.0, 10 * np.floor((float(starts.min()) - 11) / 10))
    right_limit = min(100.0, 10 * np.ceil((float((starts + 100).max()) + 11) / 10))

    for ax, (code, group_items) in zip(axes[:, 0], groups.items()):
        y = np.arange(len(group_items))
        left = starts[group_items].to_numpy().copy()
        for k in range(1, points + 1):
            bar_width = shares.loc[group_items, k].to_numpy()
            ax.barh(y, bar_width, left=left, height=0.72, color=colors[k - 1],
                    edgecolor="white", linewidth=0.6, label=str(k))
            left += bar_width
        for row, item in enumerate(group_items):
            ax.text(left[row] + 1.5, row, format_percent(shares.loc[item, above].sum() / 100, language),
                    va="center", ha="left", fontsize=SMALL_FONT, color="#333333")
            ax.text(starts[item] - 1.5, row, format_percent(shares.loc[item, below].sum() / 100, language),
                    va="center", ha="right", fontsize=SMALL_FONT, color="#333333")
        ax.set_yticks(y, [labels.get(i, i) for i in group_items])
        ax.set_ylim(len(group_items) - 0.5, -0.5)
        ax.axvline(0, color="#555555", linewidth=0.8)
        ax.set_title(_panel_title(code, language), loc="left", fontsize=10.5)
        ax.grid(axis="y", visible=False)
    axes[-1, 0].set_xlim(left_limit - 2, right_limit + 2)
    axes[-1, 0].xaxis.set_major_formatter(_percent_axis(language, absolute=True))
    axes[-1, 0].set_xlabel(text("plot.likert.xlabel", language))
    handles, _ = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=ncol, frameon=False, **COMPACT_LEGEND)
    fig.suptitle(title or text("plot.likert.title", language, n=format_integer(len(responses), language)))
    return fig


@styled
def construct_correlation_heatmap(
    corr: pd.DataFrame, title: str | None = None, *, digits: int = 2, fornell_larcker: bool = False,
    language: str = "en",
) -> Figure:
    """Annotated heatmap of the lower triangle (diagonal included) of a correlation table.

    The diagonal is kept because Fornell-Larcker tables put sqrt(AVE) there
    (``fornell_larcker=True`` titles the figure accordingly). Axes show the construct
    codes; a key under the map spells out those the catalog names.
    """
    if not isinstance(corr, pd.DataFrame) or corr.shape[0] != corr.shape[1]:
        shape = getattr(corr, "shape", type(corr).__name__)
        raise DataError(f"construct_correlation_heatmap: expected a square DataFrame, got {shape}")
    if list(corr.index) != list(corr.columns):
        raise DataError(
            "construct_correlation_heatmap: row labels must equal column labels in the same "
            f"order; got rows {list(corr.index)} and columns {list(corr.columns)}"
        )
    n = corr.shape[0]
    key = construct_key([str(c) for c in corr.columns], language, width=80)
    side = min(6.6, max(4.5, 0.6 * n + 2.2))
    fig, ax = subplots(figsize=(side + 0.6, side + 0.22 * (key.count("\n") + 1 if key else 0)),
                       layout="constrained")
    values = corr.astype(float)
    annotations = values.map(lambda v: format_number(v, language, digits, bounded=True))
    with warnings.catch_warnings():
        # seaborn 0.13 calls Colormap.set_bad, which matplotlib 3.11 flags as pending removal.
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        sns.heatmap(
            values, mask=np.triu(np.ones((n, n), dtype=bool), k=1), annot=annotations,
            fmt="", cmap="RdBu_r", vmin=-1, vmax=1, center=0, square=True, linewidths=0.6,
            linecolor="white", annot_kws={"size": 10 if n <= 9 else SMALL_FONT}, ax=ax,
            cbar_kws={"shrink": 0.7, "label": text("plot.correlation.colorbar", language)},
        )
    colorbar = fig.axes[-1]
    colorbar.set_yticks([-1, -0.5, 0, 0.5, 1])
    colorbar.yaxis.set_major_formatter(tick_formatter("signed", language))
    default = "plot.correlation.title_fornell_larcker" if fornell_larcker else "plot.correlation.title"
    ax.set_title(title or text(default, language))
    ax.tick_params(axis="x", rotation=0 if n <= 8 else 45)
    ax.tick_params(axis="y", rotation=0)
    ax.grid(False)
    if key:
        ax.set_xlabel(key, fontsize=SMALL_FONT, color="#444444", labelpad=8)
    return fig


def _rule_columns(flags: pd.DataFrame) -> list[str]:
    """The screening rules: the ``rule_*`` columns when there are any, else every boolean
    column except the summaries ``excluded`` and ``flagged``."""
    booleans = [c for c in flags.columns if c not in ("excluded", "flagged")
                and pd.api.types.is_bool_dtype(flags[c])]
    rules = [c for c in booleans if str(c).startswith("rule_")]
    return rules or booleans


def _rule_label(column: str, language: str) -> str:
    name = str(column).removeprefix("rule_")
    key = f"plot.screening.rule.{name}"
    return text(key, language) if key in catalog() else str(column)


@styled
def screening_summary(flags: pd.DataFrame, *, title: str | None = None, language: str = "en") -> Figure:
    """How many respondents each screening rule flags, and who is excluded.

    ``flags`` has one boolean column per rule (``rule_<name>``; without such columns,
    every boolean column is a rule) plus a boolean ``excluded`` column; other columns
    (ids, reason strings, the ``flagged`` summary) are ignored. Top: respondents flagged
    per rule, split into excluded and kept. Bottom: respondents by number of rules
    flagged, excluded vs kept. Rules are named from the catalog (``plot.screening.rule.*``);
    a rule it does not know is shown by its column name.
    """
    _require_columns(flags, ["excluded"], "screening_summary: flags")
    rules = _rule_columns(flags)
    if not rules:
        raise DataError(
            "screening_summary: flags has no boolean rule columns besides 'excluded'; "
            f"got columns {list(flags.columns)} with dtypes {list(map(str, flags.dtypes))}"
        )
    flagged = flags[rules].fillna(False).astype(bool)
    excluded = flags["excluded"].fillna(False).astype(bool)
    n = len(flags)
    top = 0.4 * len(rules) + 1.0
    # Two subfigures, so the lower chart is not indented by the upper chart's long rule names.
    fig = Figure(figsize=(7.2, top + 3.4), layout="constrained")
    upper, lower = fig.subfigures(2, 1, height_ratios=[top, 2.7])
    ax_rules, ax_count = upper.subplots(), lower.subplots()
    y = np.arange(len(rules))
    out = flagged[excluded].sum().to_numpy()
    kept = flagged[~excluded].sum().to_numpy()
    ax_rules.barh(y, out, color=VERMILLION, label=text("plot.screening.excluded", language), height=0.65)
    ax_rules.barh(y, kept, left=out, color=ORANGE, hatch="//", edgecolor="white",
                  label=text("plot.screening.flagged_kept", language), height=0.65)
    for row, total in enumerate(out + kept):
        ax_rules.text(total, row, " " + text("plot.screening.bar_label", language,
                                             count=format_integer(total, language),
                                             share=format_percent(total / max(n, 1), language, 1)),
                      va="center", fontsize=SMALL_FONT)
    ax_rules.set_yticks(y, [_rule_label(r, language) for r in rules])
    ax_rules.set_ylim(len(rules) - 0.5, -0.6)
    ax_rules.set_xlim(0, max(1, (out + kept).max()) * 1.35)
    ax_rules.xaxis.set_major_formatter(tick_formatter("integer", language))
    ax_rules.set_xlabel(text("plot.screening.flagged_axis", language))
    ax_rules.set_title(text("plot.screening.by_rule", language), loc="left")
    ax_rules.legend(loc="lower right")

    n_flags = flagged.sum(axis=1)
    levels = np.arange(int(n_flags.max()) + 1)
    kept_by = np.array([int(((n_flags == k) & ~excluded).sum()) for k in levels])
    out_by = np.array([int(((n_flags == k) & excluded).sum()) for k in levels])
    ax_count.bar(levels, kept_by, color=BLUE, label=text("plot.screening.kept", language))
    ax_count.bar(levels, out_by, bottom=kept_by, color=VERMILLION, hatch="//",
                 edgecolor="white", label=text("plot.screening.excluded", language))
    for k in levels:
        ax_count.text(k, kept_by[k] + out_by[k], format_integer(kept_by[k] + out_by[k], language),
                      ha="center", va="bottom", fontsize=SMALL_FONT)
    ax_count.set_xticks(levels)
    ax_count.set_ylim(0, max(1, (kept_by + out_by).max()) * 1.15)
    ax_count.yaxis.set_major_formatter(tick_formatter("integer", language))
    ax_count.set_xlabel(text("plot.screening.rules_axis", language))
    ax_count.set_ylabel(text("plot.screening.respondents", language))
    ax_count.set_title(text("plot.screening.excluded_vs_kept", language), loc="left")
    ax_count.legend()
    n_out = int(excluded.sum())
    fig.suptitle(title or text("plot.screening.title", language, kept=format_integer(n - n_out, language),
                               excluded=format_integer(n_out, language),
                               share=format_percent(n_out / max(n, 1), language, 1),
                               n=format_integer(n, language)))
    return fig


def _integer_columns(responses: pd.DataFrame) -> list[str]:
    return [c for c in responses.columns if pd.api.types.is_integer_dtype(responses[c])]


@styled
def duration_distribution(
    responses: pd.DataFrame,
    flags: pd.DataFrame | None = None,
    *,
    items: Sequence[str] | None = None,
    seconds_per_item: float = 2.0,
    median_fraction: float = 0.4,
    title: str | None = None,
    language: str = "en",
) -> Figure:
    """Histogram of seconds per item (log scale) with the two speeder cut-offs.

    Seconds per item = ``duration_sec`` / number of items shown (``items``, by default the
    integer-coded columns). Lines mark ``seconds_per_item`` and ``median_fraction`` x the
    median total time (expressed per item). If ``flags`` has an ``excluded`` column
    (matched on ``respondent_id`` when both tables have it, else by row order), excluded
    respondents are stacked in a second colour.
    """
    _require_columns(responses, ["duration_sec"], "duration_distribution: responses")
    items = list(items) if items is not None else _integer_columns(responses)
    if not items:
        raise DataError("duration_distribution: found no item columns (integer dtype); "
                        "pass items=[...] explicitly")
    per_item = pd.to_numeric(responses["duration_sec"], errors="coerce") / len(items)
    excluded = pd.Series(False, index=responses.index)
    if flags is not None and "excluded" in flags.columns:
        if "respondent_id" in flags.columns and "respondent_id" in responses.columns:
            lookup = flags.set_index("respondent_id")["excluded"]
            excluded = responses["respondent_id"].map(lookup)
        elif len(flags) == len(responses):
            excluded = pd.Series(flags["excluded"].to_numpy(), index=responses.index)
        excluded = excluded.fillna(False).astype(bool)
    valid = per_item.notna() & (per_item > 0)
    if not valid.any():
        raise DataError("duration_distribution: column 'duration_sec' has no positive values")
    lo, hi = per_item[valid].min(), per_item[valid].max()
    bins = np.geomspace(lo * 0.95, hi * 1.05, 40)
    fig, ax = subplots(figsize=(7.2, 4.4), layout="constrained")
    series = [per_item[valid & ~excluded], per_item[valid & excluded]]
    names = [text("plot.durations.kept", language), text("plot.durations.excluded", language)]
    if flags is None or not excluded.any():
        series, names = series[:1], [text("plot.durations.respondents", language)]
    _, _, containers = ax.hist(series, bins=bins, stacked=True, edgecolor="white",
                               color=[BLUE, VERMILLION][: len(series)], linewidth=0.4,
                               label=names)
    if len(series) == 2:
        for patch in containers[1]:
            patch.set_hatch("///")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.axvline(seconds_per_item, color="black", linestyle="--", linewidth=1.5,
               label=text("plot.durations.absolute_cutoff", language,
                          seconds=plain_number(seconds_per_item, language)))
    relative = median_fraction * per_item[valid].median()
    ax.axvline(relative, color=ORANGE, linestyle=":", linewidth=2,
               label=text("plot.durations.relative_cutoff", language,
                          fraction=plain_number(median_fraction, language),
                          seconds=format_number(relative, language, 1)))
    ax.xaxis.set_major_formatter(tick_formatter("plain", language))
    ax.xaxis.set_minor_formatter(tick_formatter("blank", language))
    ax.yaxis.set_major_formatter(tick_formatter("integer", language))
    ax.set_xlabel(text("plot.durations.xlabel", language, items=format_integer(len(items), language)))
    ax.set_ylabel(text("plot.durations.respondents_axis", language))
    ax.set_title(title or text("plot.durations.title", language))
    ax.legend(loc="upper left")
    return fig

"""Figures of the study report: Likert shares, screening, measurement, fit, bootstrap.

Every function takes the data first, returns a :class:`matplotlib.figure.Figure` and never
calls ``plt.show()``; :func:`save_figure` writes it as PNG and closes it. Colours come
from seaborn's "colorblind" palette, and no meaning is carried by colour alone (markers,
line styles and text repeat it). The shared style (palette, :func:`styled`) lives in
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
from analysis.plots.style import (
    BLUE,
    ORANGE,
    PALETTE,
    VERMILLION,
    _require_columns,
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



def save_figure(fig: Figure, out_dir: str | os.PathLike, name: str, *, dpi: int = 150) -> Path:
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
    return match.group(1) if match else "Items"


@styled
def likert_distribution(
    responses: pd.DataFrame,
    items: Sequence[str],
    labels: Mapping[str, str] | None = None,
    *,
    points: int = 7,
    title: str | None = None,
) -> Figure:
    """Diverging stacked bars of answer shares (1..points) per item, one panel per construct.

    Disagreement extends left of zero and agreement right; the neutral answer is split
    half and half around zero. Shares are among non-missing answers. Items are grouped
    by the construct code in their id (``EFF1`` -> ``EFF``); ``labels`` maps item ids to
    the text shown on the y axis. The % agree (answers above the midpoint) is printed
    right of each bar, the % disagree left of it.
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
    fig, axes = subplots(
        len(groups), 1, sharex=True, squeeze=False, layout="constrained",
        figsize=(9, 1.4 + 0.34 * len(items) + 0.45 * len(groups)),
        gridspec_kw={"height_ratios": heights},
    )
    colors = sns.blend_palette([VERMILLION, "#e6e6e6", BLUE], points)
    below = [k for k in range(1, points + 1) if k < (points + 1) / 2]
    above = [k for k in range(1, points + 1) if k > (points + 1) / 2]
    neutral = [k for k in range(1, points + 1) if k == (points + 1) / 2]
    starts = -(shares[below].sum(axis=1) + shares[neutral].sum(axis=1) / 2)
    # Room for the % labels beyond the longest bar on each side.
    left_limit = max(-100.0, 10 * np.floor((float(starts.min()) - 9) / 10))
    right_limit = min(100.0, 10 * np.ceil((float((starts + 100).max()) + 9) / 10))

    for ax, (code, group_items) in zip(axes[:, 0], groups.items()):
        y = np.arange(len(group_items))
        left = starts[group_items].to_numpy().copy()
        for k in range(1, points + 1):
            width = shares.loc[group_items, k].to_numpy()
            ax.barh(y, width, left=left, height=0.72, color=colors[k - 1],
                    edgecolor="white", linewidth=0.6, label=str(k))
            left += width
        for row, item in enumerate(group_items):
            ax.text(left[row] + 1.5, row, f"{shares.loc[item, above].sum():.0f}%",
                    va="center", ha="left", fontsize=8, color="#333333")
            ax.text(starts[item] - 1.5, row, f"{shares.loc[item, below].sum():.0f}%",
                    va="center", ha="right", fontsize=8, color="#333333")
        ax.set_yticks(y, [labels.get(i, i) for i in group_items])
        ax.set_ylim(len(group_items) - 0.5, -0.5)
        ax.axvline(0, color="#555555", linewidth=0.8)
        ax.set_title(code, loc="left", fontsize=10)
        ax.grid(axis="y", visible=False)
    axes[-1, 0].set_xlim(left_limit - 2, right_limit + 2)
    axes[-1, 0].xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):.0f}%"))
    axes[-1, 0].set_xlabel("Share of answers (disagree ← neutral split at 0 → agree)")
    handles, _ = axes[0, 0].get_legend_handles_labels()
    names = [str(k) for k in range(1, points + 1)]
    names[0], names[-1] = "1 strongly disagree", f"{points} strongly agree"
    if neutral:
        names[neutral[0] - 1] = f"{neutral[0]} neutral"
    fig.legend(handles, names, loc="outside lower center", ncol=points, frameon=False)
    fig.suptitle(title or f"Answer distribution per item (n = {len(responses)})")
    return fig


@styled
def construct_correlation_heatmap(
    corr: pd.DataFrame, title: str = "Construct correlations", *, fmt: str = ".2f"
) -> Figure:
    """Annotated heatmap of the lower triangle (diagonal included) of a correlation table.

    The diagonal is kept because Fornell-Larcker tables put sqrt(AVE) there.
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
    side = max(4.5, 0.62 * n + 2.2)
    fig, ax = subplots(figsize=(side + 1.0, side), layout="constrained")
    with warnings.catch_warnings():
        # seaborn 0.13 calls Colormap.set_bad, which matplotlib 3.11 flags as pending removal.
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        sns.heatmap(
            corr.astype(float), mask=np.triu(np.ones((n, n), dtype=bool), k=1), annot=True,
            fmt=fmt, cmap="RdBu_r", vmin=-1, vmax=1, center=0, square=True, linewidths=0.6,
            linecolor="white", annot_kws={"size": 9}, ax=ax,
            cbar_kws={"shrink": 0.7, "label": "correlation"},
        )
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=0 if n <= 8 else 45)
    ax.tick_params(axis="y", rotation=0)
    ax.grid(False)
    return fig


@styled
def screening_summary(flags: pd.DataFrame, *, title: str | None = None) -> Figure:
    """How many respondents each screening rule flags, and who is excluded.

    ``flags`` has one boolean column per rule plus a boolean ``excluded`` column; other
    columns (ids, reason strings) are ignored. Left: respondents flagged per rule, split
    into excluded and kept. Right: respondents by number of rules flagged, excluded vs kept.
    """
    _require_columns(flags, ["excluded"], "screening_summary: flags")
    rules = [c for c in flags.columns if c != "excluded" and pd.api.types.is_bool_dtype(flags[c])]
    if not rules:
        raise DataError(
            "screening_summary: flags has no boolean rule columns besides 'excluded'; "
            f"got columns {list(flags.columns)} with dtypes {list(map(str, flags.dtypes))}"
        )
    flagged = flags[rules].fillna(False).astype(bool)
    excluded = flags["excluded"].fillna(False).astype(bool)
    n = len(flags)
    fig, (ax_rules, ax_count) = subplots(
        1, 2, figsize=(11, max(3.6, 0.45 * len(rules) + 2.0)), layout="constrained",
        gridspec_kw={"width_ratios": [1.4, 1]},
    )
    y = np.arange(len(rules))
    out = flagged[excluded].sum().to_numpy()
    kept = flagged[~excluded].sum().to_numpy()
    ax_rules.barh(y, out, color=VERMILLION, label="excluded", height=0.65)
    ax_rules.barh(y, kept, left=out, color=ORANGE, hatch="//", edgecolor="white",
                  label="flagged but kept", height=0.65)
    for row, total in enumerate(out + kept):
        ax_rules.text(total, row, f" {total} ({100 * total / max(n, 1):.1f}%)",
                      va="center", fontsize=9)
    ax_rules.set_yticks(y, rules)
    ax_rules.set_ylim(len(rules) - 0.5, -0.6)
    ax_rules.set_xlim(0, max(1, (out + kept).max()) * 1.3)
    ax_rules.set_xlabel("Respondents flagged")
    ax_rules.set_title("Flags by rule")
    ax_rules.legend(loc="lower right")

    n_flags = flagged.sum(axis=1)
    levels = np.arange(int(n_flags.max()) + 1)
    kept_by = np.array([int(((n_flags == k) & ~excluded).sum()) for k in levels])
    out_by = np.array([int(((n_flags == k) & excluded).sum()) for k in levels])
    ax_count.bar(levels, kept_by, color=BLUE, label="kept")
    ax_count.bar(levels, out_by, bottom=kept_by, color=VERMILLION, hatch="//",
                 edgecolor="white", label="excluded")
    for k in levels:
        ax_count.text(k, kept_by[k] + out_by[k], f"{kept_by[k] + out_by[k]}",
                      ha="center", va="bottom", fontsize=9)
    ax_count.set_xticks(levels)
    ax_count.set_xlabel("Number of rules flagged")
    ax_count.set_ylabel("Respondents")
    ax_count.set_title("Excluded vs kept")
    ax_count.legend()
    n_out = int(excluded.sum())
    fig.suptitle(title or f"Screening: {n - n_out} kept, {n_out} excluded "
                 f"({100 * n_out / max(n, 1):.1f}%) of {n} respondents")
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
    title: str = "Completion time per item",
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
    fig, ax = subplots(figsize=(8, 4.5), layout="constrained")
    series = [per_item[valid & ~excluded], per_item[valid & excluded]]
    names = ["kept", "excluded"]
    if flags is None or not excluded.any():
        series, names = series[:1], ["respondents"]
    _, _, containers = ax.hist(series, bins=bins, stacked=True, edgecolor="white",
                               color=[BLUE, VERMILLION][: len(series)], linewidth=0.4,
                               label=names)
    if len(series) == 2:
        for patch in containers[1]:
            patch.set_hatch("///")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.axvline(seconds_per_item, color="black", linestyle="--", linewidth=1.5,
               label=f"speeder cut-off: {seconds_per_item:g} s per item")
    relative = median_fraction * per_item[valid].median()
    ax.axvline(relative, color=ORANGE, linestyle=":", linewidth=2,
               label=f"{median_fraction:g} × median time ({relative:.1f} s per item)")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(f"Seconds per item (log scale; {len(items)} items)")
    ax.set_ylabel("Respondents")
    ax.set_title(title)
    ax.legend(loc="upper left")
    return fig

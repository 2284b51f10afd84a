"""Figures of the study report: Likert shares, screening, measurement, fit, bootstrap.

Every function takes the data first, returns a :class:`matplotlib.figure.Figure` and never
calls ``plt.show()``; :func:`save_figure` writes it as PNG and closes it. Colours come
from seaborn's "colorblind" palette, and no meaning is carried by colour alone (markers,
line styles and text repeat it). The structural path diagram lives in
:mod:`analysis.diagram` and is re-exported here as :func:`path_diagram`.

In a notebook, show a figure with ``display(fig)`` before saving it: saving closes it,
and the inline backend only shows figures that are still open when the cell ends.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Mapping, Sequence
from functools import wraps
from pathlib import Path

import matplotlib


def _select_backend() -> None:
    # Headless Linux (CI, papermill) gets Agg; Jupyter (inline backend, which sets
    # MPLBACKEND) and any explicit user choice are left alone.
    if os.environ.get("MPLBACKEND") or "ipykernel" in sys.modules:
        return
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        matplotlib.use("Agg")


_select_backend()

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from analysis.atomic import atomic_path  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.textpath import TextPath  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator  # noqa: E402

from analysis.errors import ConfigError, DataError  # noqa: E402

__all__ = [
    "PALETTE",
    "DEFAULT_FIT_THRESHOLDS",
    "save_figure",
    "likert_distribution",
    "construct_correlation_heatmap",
    "screening_summary",
    "duration_distribution",
    "loadings_plot",
    "fit_indices_plot",
    "recovery_plot",
    "bootstrap_distribution",
    "path_diagram",
]

PALETTE = sns.color_palette("colorblind")
BLUE, ORANGE, GREEN, VERMILLION, GREY, SKY = (PALETTE[i] for i in (0, 1, 2, 3, 7, 9))
DEFAULT_FIT_THRESHOLDS = {"cfi": 0.95, "tli": 0.95, "rmsea": 0.06, "srmr": 0.08}

_RC = {
    "font.size": 10, "axes.titlesize": 12, "axes.titleweight": "bold",
    "axes.labelsize": 11, "xtick.labelsize": 10, "ytick.labelsize": 10,
    "legend.fontsize": 9, "figure.titlesize": 13, "figure.titleweight": "bold",
    "axes.spines.top": False, "axes.spines.right": False,
}


def __getattr__(name: str):
    # Lazy re-export: analysis.diagram imports this module for its style helpers.
    if name == "path_diagram":
        from analysis.diagram import path_diagram

        return path_diagram
    raise AttributeError(f"module 'analysis.plots' has no attribute {name!r}")


def styled(func):
    """Run a figure function inside the report style (whitegrid, readable fonts)."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        # Ticks copy the properties of the first tick, created here, so the style
        # sticks even though later ticks are made at draw time.
        with sns.axes_style("whitegrid"), plt.rc_context(_RC):
            return func(*args, **kwargs)

    return wrapper


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
        plt.close(fig)
    return target


def _require_columns(data: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"{what}: expected a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DataError(
            f"{what}: missing column(s) {missing}; expected {list(columns)}, "
            f"got {list(map(str, data.columns))}"
        )


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
    fig, axes = plt.subplots(
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
    fig, ax = plt.subplots(figsize=(side + 1.0, side), layout="constrained")
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
    fig, (ax_rules, ax_count) = plt.subplots(
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
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
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


@styled
def loadings_plot(
    estimates: pd.DataFrame, *, threshold: float = 0.708, title: str = "Standardized loadings"
) -> Figure:
    """Dot plot of standardized loadings (``op == "=~"``, column ``std_all``) per construct.

    Loadings whose absolute value is below ``threshold`` (default .708: the item shares
    at least half its variance with the construct, .708² ≈ .50) are drawn as vermillion
    diamonds with their value printed.
    """
    _require_columns(estimates, ["lhs", "op", "rhs", "std_all"], "loadings_plot: estimates")
    rows = estimates[estimates["op"] == "=~"]
    if rows.empty:
        raise DataError("loadings_plot: estimates has no loadings (rows with op '=~')")
    constructs = list(dict.fromkeys(rows["lhs"]))
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.27 * len(rows) + 0.2 * len(constructs)),
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
                ax.annotate(f"{value:.3f}", (value, y), xytext=(-8, 0),
                            textcoords="offset points", ha="right", va="center",
                            fontsize=8, color=VERMILLION)
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
    ax.set_xlabel("Standardized loading (std_all)")
    ax.plot([], [], "o", color=BLUE, label=f"≥ {threshold:g}")
    ax.plot([], [], "D", color=VERMILLION, label=f"< {threshold:g} (weak, {weak_count})")
    ax.plot([], [], "--", color="black", label=f"cut-off {threshold:g}")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(title)
    return fig


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


@styled
def fit_indices_plot(
    fit: Mapping[str, float],
    thresholds: Mapping[str, float] | None = None,
    *,
    title: str = "Model fit against cut-offs (Hu & Bentler 1999)",
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
    fig, axes = plt.subplots(4, 1, figsize=(8, 5.6), layout="constrained")
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
        ax.text(sum(good) / 2, 0.62, "acceptable", ha="center", fontsize=8, color="#1d5e45")
        ax.text(sum(poor) / 2, 0.62, "poor", ha="center", fontsize=8, color="#8a3b00")
        ax.axvline(cut, color="#333333", linewidth=1)
        sign = "≥" if higher_is_better else "≤"
        if value is None:
            ax.text(0.5, 0.0, "not available", transform=ax.get_yaxis_transform(),
                    ha="center", va="center", fontsize=10, style="italic",
                    bbox={"facecolor": "white", "edgecolor": "none"})
            heading = f"{name}: not available (cut-off {sign} {cut:g})"
        else:
            met = value >= cut if higher_is_better else value <= cut
            if None not in ci:
                ax.errorbar(value, 0, xerr=[[value - ci[0]], [ci[1] - value]], fmt="none",
                            ecolor="black", capsize=5, linewidth=1.5)
            ax.plot(value, 0, "D", color="black", markersize=8)
            interval = f", 90% CI [{ci[0]:.3f}, {ci[1]:.3f}]" if None not in ci else ""
            heading = (f"{name} = {value:.3f}{interval}  (cut-off {sign} {cut:g}: "
                       f"{'met' if met else 'not met'})")
        ax.set_title(heading, loc="left", fontsize=10)
        ax.set_xlim(lo, hi)
        ax.set_ylim(-1, 1)
        ax.set_yticks([])
        ax.grid(axis="y", visible=False)
    chisq, df, n = _number(fit.get("chisq")), _number(fit.get("df")), _number(fit.get("n"))
    subtitle = ""
    if chisq is not None and df is not None:
        p = _number(fit.get("pvalue"))
        subtitle = f"\nχ²({df:g}) = {chisq:.2f}" + (f", p = {p:.3f}" if p is not None else "")
        subtitle += f", n = {n:g}" if n is not None else ""
    fig.suptitle(title + subtitle)
    return fig


def _label_points(ax, xs, ys, texts, fontsize: float = 8) -> None:
    """Label points, trying offsets around each until the label clears earlier labels
    and every marker (greedy; good for tens of points, not hundreds)."""
    fig = ax.figure
    fig.draw_without_rendering()  # settle the layout so data->pixel positions are final
    px_per_pt = fig.dpi / 72
    points = ax.transData.transform(np.column_stack([xs, ys]))
    taken = [(x - 5, y - 5, x + 5, y + 5) for x, y in points if np.isfinite([x, y]).all()]
    for (x, y), text, data_x, data_y in zip(points, texts, xs, ys):
        if not np.isfinite([x, y]).all():
            continue
        extent = TextPath((0, 0), text, size=fontsize).get_extents()
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
        ax.annotate(text, (data_x, data_y), xytext=best, textcoords="offset points",
                    fontsize=fontsize, ha="left", va="bottom")


@styled
def recovery_plot(
    recovery: pd.DataFrame,
    *,
    tolerance: float = 0.05,
    max_labels: int = 20,
    title: str = "Parameter recovery: estimate vs truth",
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
        span += [lower, upper]
    finite = np.concatenate(span)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        raise DataError("recovery_plot: columns 'true' and 'estimate' hold no numbers")
    pad = 0.08 * max(finite.max() - finite.min(), 0.2)
    lo, hi = finite.min() - pad, finite.max() + pad
    fig, ax = plt.subplots(figsize=(6.8, 6.8), layout="constrained")
    ax.fill_between([lo, hi], [lo - tolerance, hi - tolerance], [lo + tolerance, hi + tolerance],
                    color=GREEN, alpha=0.18, label=f"±{tolerance:g} band")
    ax.plot([lo, hi], [lo, hi], color="#555555", linestyle="--", label="estimate = truth")
    inside = np.abs(estimate - truth) <= tolerance
    if has_ci:
        ax.errorbar(truth, estimate, yerr=[estimate - lower, upper - estimate], fmt="none",
                    ecolor=GREY, elinewidth=1, capsize=2, label="confidence interval")
    ax.plot(truth[inside], estimate[inside], "o", color=BLUE, label="within band")
    ax.plot(truth[~inside], estimate[~inside], "^", color=VERMILLION, markersize=8,
            label="outside band")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    rmse = float(np.sqrt(np.nanmean((estimate - truth) ** 2)))
    ax.text(0.98, 0.03, f"{int(inside.sum())} of {len(recovery)} within ±{tolerance:g}\n"
            f"RMSE = {rmse:.3f}", transform=ax.transAxes, ha="right", va="bottom",
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#cccccc"})
    ax.set_xlabel("True value")
    ax.set_ylabel("Estimate")
    ax.set_title(title)
    ax.legend(loc="upper left")
    chosen = [i for i in range(len(recovery)) if len(recovery) <= max_labels or not inside[i]]
    _label_points(ax, truth[chosen], estimate[chosen],
                  [str(recovery["parameter"].iloc[i]) for i in chosen])
    return fig


def _per_effect(values, column: str) -> dict[str, float]:
    if values is None:
        return {}
    if isinstance(values, pd.DataFrame):
        frame = values.set_index("effect") if "effect" in values.columns else values
        return frame[column].to_dict() if column in frame.columns else {}
    return dict(values.items())


@styled
def bootstrap_distribution(
    draws: pd.DataFrame,
    estimates: Mapping[str, float] | pd.Series | pd.DataFrame | None = None,
    ci: pd.DataFrame | None = None,
    *,
    level: float = 0.95,
    bins: int = 40,
    title: str = "Bootstrap distributions",
) -> Figure:
    """Histogram of the bootstrap draws of each effect with its percentile interval.

    ``draws`` has one column per effect. ``estimates`` (mapping, Series, or a table with
    ``effect`` and ``est``) adds the point estimate; ``ci`` (indexed by effect or with an
    ``effect`` column, columns ``ci_lower``/``ci_upper``) gives the interval, otherwise
    the ``level`` percentile interval of the draws is used. A grey line marks zero.
    """
    if not isinstance(draws, pd.DataFrame) or draws.shape[1] == 0:
        raise DataError("bootstrap_distribution: expected a DataFrame with one column per effect")
    points = _per_effect(estimates, "est")
    lowers, uppers = _per_effect(ci, "ci_lower"), _per_effect(ci, "ci_upper")
    effects = list(draws.columns)
    ncols = min(3, len(effects))
    nrows = int(np.ceil(len(effects) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 3.3 * nrows + 0.6),
                             squeeze=False, layout="constrained")
    tail = (1 - level) / 2
    for ax, effect in zip(axes.flat, effects):
        values = pd.to_numeric(draws[effect], errors="coerce").dropna()
        low = _number(lowers.get(effect))
        high = _number(uppers.get(effect))
        if (low is None or high is None) and len(values):
            low, high = np.quantile(values, [tail, 1 - tail])
        ax.hist(values, bins=bins, color=SKY, edgecolor="white", linewidth=0.4)
        if low is not None and high is not None:
            ax.axvspan(low, high, color=ORANGE, alpha=0.12)
            for bound in (low, high):
                ax.axvline(bound, color=VERMILLION, linestyle="--", linewidth=1.5)
        ax.axvline(0, color=GREY, linewidth=1.2)
        point = _number(points.get(effect))
        if point is not None:
            ax.axvline(point, color="black", linewidth=2)
        lines = [] if point is None else [f"est = {point:.3f}"]
        if low is not None and high is not None:
            lines.append(f"{100 * level:g}% CI [{low:.3f}, {high:.3f}]")
            lines.append("excludes 0" if low > 0 or high < 0 else "includes 0")
        ax.text(0.02, 0.97, "\n".join(lines), transform=ax.transAxes, va="top", fontsize=8,
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#cccccc"})
        ax.set_title(str(effect), fontsize=11)
        ax.set_xlabel("Effect (bootstrap draws)")
        ax.set_ylabel("Draws")
    for ax in axes.flat[len(effects):]:
        fig.delaxes(ax)
    fig.suptitle(f"{title}\nblack line = estimate, dashed = {100 * level:g}% percentile "
                 "interval, grey line = zero", fontsize=11)
    return fig

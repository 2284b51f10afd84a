"""The importance-performance map: where improving a driver pays most for loyalty.

Drivers are placed by importance (standardized total effect on loyalty, x) and
performance (mean answer rescaled to 0-100, y), with the bootstrap interval of the
importance as a horizontal bar. Dashed lines at the drivers' mean importance and mean
performance divide the map; the lower-right area (important, performing below the
others) is labelled as the place to act first. A side panel shows the performance of
the e-service quality dimensions and of the levers measured outside the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.i18n import text
from analysis.plots.style import BLUE, GREY, ORANGE, VERMILLION, _require_columns, styled, subplots

__all__ = ["ipma_map"]


@styled
def ipma_map(drivers: pd.DataFrame, dimensions: pd.DataFrame, names: dict[str, str], *, language: str = "en"):
    """Importance (x) against performance (y) of each driver, and the dimensions' performance.

    Parameters
    ----------
    drivers : DataFrame
        driver, total_effect, ci_lower, ci_upper, performance.
    dimensions : DataFrame
        construct, group ("ESQ" for e-service quality dimensions, else "other"), performance.
    names : dict
        Construct code -> name in the report language.
    """
    _require_columns(drivers, ["driver", "total_effect", "ci_lower", "ci_upper", "performance"], "ipma_map")
    fig, (ax, side) = subplots(1, 2, figsize=(7.4, 4.2), layout="constrained", gridspec_kw={"width_ratios": [2.2, 1]})
    x, y = drivers["total_effect"].to_numpy(float), drivers["performance"].to_numpy(float)
    low, high = drivers["ci_lower"].to_numpy(float), drivers["ci_upper"].to_numpy(float)
    has_ci = np.isfinite(low) & np.isfinite(high)
    ax.errorbar(x[has_ci], y[has_ci], xerr=[x[has_ci] - low[has_ci], high[has_ci] - x[has_ci]], fmt="none",
                ecolor=GREY, elinewidth=1.2, capsize=3)
    ax.scatter(x, y, s=60, color=BLUE, zorder=3)
    for code, xi, yi in zip(drivers["driver"], x, y):
        ax.annotate(names.get(code, code), (xi, yi), xytext=(6, 5), textcoords="offset points", fontsize=9)
    ax.axvline(np.nanmean(x), color=GREY, linestyle="--", linewidth=0.9)
    ax.axhline(np.nanmean(y), color=GREY, linestyle="--", linewidth=0.9)
    x_hi = max(float(np.nanmax(np.where(has_ci, high, x))), float(np.nanmax(x))) * 1.15
    y_lo, y_hi = min(40.0, float(np.nanmin(y)) - 8), min(100.0, float(np.nanmax(y)) + 8)
    ax.set_xlim(0, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.text(0.98, 0.03, text("ipma.act_first", language), transform=ax.transAxes, ha="right", va="bottom",
            fontsize=9, color=VERMILLION)
    ax.set_xlabel(text("ipma.importance", language))
    ax.set_ylabel(text("ipma.performance", language))
    ax.set_title(text("ipma.title", language))
    if len(dimensions):
        ordered = dimensions.sort_values("performance")
        colors = [ORANGE if g == "ESQ" else GREY for g in ordered["group"]]
        side.barh([names.get(c, c) for c in ordered["construct"]], ordered["performance"], color=colors)
        for k, value in enumerate(ordered["performance"]):
            side.text(value + 1, k, f"{value:.0f}", va="center", fontsize=9)
        side.set_xlim(0, 100)
        side.set_xlabel(text("ipma.performance_short", language))
        side.set_title(text("ipma.dimensions_title", language))
    else:
        side.set_axis_off()
    return fig

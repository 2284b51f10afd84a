"""Power curves: the chance of detecting each hypothesised effect as the sample grows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.i18n import text
from analysis.plots.style import GREY, PALETTE, VERMILLION, _require_columns, styled, subplots

__all__ = ["power_curves"]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")


@styled
def power_curves(table: pd.DataFrame, target: float, *, language: str = "en"):
    """Power (y) against sample size (x), one line per path (left) and per effect (right)."""
    _require_columns(table, ["n", "parameter", "kind", "power"], "power_curves")
    fig, axes = subplots(1, 2, figsize=(7.4, 3.8), layout="constrained", sharey=True)
    for ax, kinds, title in ((axes[0], ("path",), "power.paths"), (axes[1], ("indirect", "total"), "power.effects")):
        subset = table[table["kind"].isin(kinds)]
        for k, (parameter, group) in enumerate(subset.groupby("parameter", sort=False)):
            group = group.sort_values("n")
            ax.plot(group["n"], group["power"], marker=_MARKERS[k % len(_MARKERS)], color=PALETTE[k % len(PALETTE)],
                    label=parameter, linewidth=1.4, markersize=4)
        ax.axhline(target, color=VERMILLION, linestyle="--", linewidth=1)
        ax.set_title(text(title, language))
        ax.set_xlabel(text("power.sample_size", language))
        ax.set_ylim(0, 1.02)
        ax.set_xticks(np.unique(table["n"]))
        ax.legend(fontsize=8, frameon=False, loc="lower right")
        ax.grid(True, color=GREY, alpha=0.2)
    axes[0].set_ylabel(text("power.power", language, target=f"{target:.2f}"))
    return fig

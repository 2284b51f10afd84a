"""Shared look of the report figures: colours, the ``styled`` decorator, new figures.

Figures are built object-oriented (:class:`matplotlib.figure.Figure`, never
:mod:`matplotlib.pyplot`), so importing the workbench neither chooses a backend nor
registers figures in pyplot's global state; ``Figure.savefig`` renders PNGs with Agg
on any machine. Colours come from seaborn's "colorblind" palette.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import wraps

import matplotlib
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from analysis.errors import DataError

__all__ = ["PALETTE", "BLUE", "ORANGE", "GREEN", "VERMILLION", "GREY", "SKY", "styled", "subplots"]

PALETTE = sns.color_palette("colorblind")
BLUE, ORANGE, GREEN, VERMILLION, GREY, SKY = (PALETTE[i] for i in (0, 1, 2, 3, 7, 9))

_RC = {
    "font.size": 10, "axes.titlesize": 12, "axes.titleweight": "bold",
    "axes.labelsize": 11, "xtick.labelsize": 10, "ytick.labelsize": 10,
    "legend.fontsize": 9, "figure.titlesize": 13, "figure.titleweight": "bold",
    "axes.spines.top": False, "axes.spines.right": False,
}


def styled(func):
    """Run a figure function inside the report style (whitegrid, readable fonts)."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        # Ticks copy the properties of the first tick, created here, so the style
        # sticks even though later ticks are made at draw time.
        with sns.axes_style("whitegrid"), matplotlib.rc_context(_RC):
            return func(*args, **kwargs)

    return wrapper


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, layout=None, **grid) -> tuple[Figure, object]:
    """A new :class:`Figure` and its axes, like ``pyplot.subplots`` but outside pyplot."""
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(nrows, ncols, **grid)


def _require_columns(data: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"{what}: expected a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DataError(
            f"{what}: missing column(s) {missing}; expected {list(columns)}, "
            f"got {list(map(str, data.columns))}"
        )

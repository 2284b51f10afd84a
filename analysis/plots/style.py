"""Shared look of the report figures: backend choice, colours, the ``styled`` decorator.

Imported by :mod:`analysis.plots.survey` and :mod:`analysis.plots.sem` (and, through
:mod:`analysis.plots.survey`, by the diagram and behaviour figures), so the headless backend is
chosen before :mod:`matplotlib.pyplot` is first imported. Colours come from seaborn's
"colorblind" palette.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from functools import wraps

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
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from analysis.errors import DataError  # noqa: E402

__all__ = ["PALETTE", "BLUE", "ORANGE", "GREEN", "VERMILLION", "GREY", "SKY", "plt", "styled"]

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
        with sns.axes_style("whitegrid"), plt.rc_context(_RC):
            return func(*args, **kwargs)

    return wrapper


def _require_columns(data: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"{what}: expected a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DataError(
            f"{what}: missing column(s) {missing}; expected {list(columns)}, "
            f"got {list(map(str, data.columns))}"
        )

"""Export the reference data sets to CSV so that R (lavaan) and Python read identical numbers.

Run from the repository root::

    .venv/bin/python tests/reference/export_data.py

Writes, under ``tests/reference/data/``:

``holzinger39.csv``
    semopy's bundled Holzinger & Swineford (1939) data (N = 301, incl. ``school``).
``political_democracy.csv``
    semopy's bundled Bollen (1989) Political Democracy data (N = 75).
``holzinger39_missing.csv``
    ``holzinger39.csv`` with about 10% of the x1..x9 cells set to missing completely at
    random: cell (i, j) is blanked when ``numpy.random.default_rng(2024).random((301, 9))``
    is below 0.10.
``holzinger39_ordinal.csv``
    ``holzinger39.csv`` with each of x1..x9 cut into four ordered categories 1..4 at its
    sample quartiles (``numpy.quantile`` default, linear interpolation); a value equal to a
    cut point goes to the lower category: ``category = 1 + (x > q25) + (x > q50) + (x > q75)``.

Floats are written with Python's shortest round-trip representation, so R's ``read.csv``
recovers exactly the same doubles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from semopy.examples import holzinger39, political_democracy

__all__ = [
    "DATA_DIR",
    "HS_ITEMS",
    "MISSING_SEED",
    "MISSING_RATE",
    "make_missing_copy",
    "make_ordinal_copy",
    "export_all",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
HS_ITEMS = [f"x{i}" for i in range(1, 10)]
MISSING_SEED = 2024
MISSING_RATE = 0.10


def make_missing_copy(data: pd.DataFrame) -> pd.DataFrame:
    """Blank about ``MISSING_RATE`` of the x1..x9 cells (MCAR, fixed seed)."""
    rng = np.random.default_rng(MISSING_SEED)
    blank = rng.random((len(data), len(HS_ITEMS))) < MISSING_RATE
    out = data.copy()
    out[HS_ITEMS] = out[HS_ITEMS].mask(blank)
    return out


def make_ordinal_copy(data: pd.DataFrame) -> pd.DataFrame:
    """Cut x1..x9 into categories 1..4 at their sample quartiles."""
    out = data.copy()
    for item in HS_ITEMS:
        values = data[item].to_numpy(dtype=float)
        cuts = np.quantile(values, [0.25, 0.50, 0.75])
        out[item] = 1 + (values[:, None] > cuts[None, :]).sum(axis=1)
    return out


def export_all() -> None:
    """Write the four CSV files into ``DATA_DIR``."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    hs = holzinger39.get_data().reset_index(drop=True)
    poldem = political_democracy.get_data().reset_index(drop=True)
    if "school" not in hs.columns:
        raise RuntimeError("semopy's holzinger39 lacks the 'school' column needed for invariance")
    hs.to_csv(DATA_DIR / "holzinger39.csv", index=False)
    poldem.to_csv(DATA_DIR / "political_democracy.csv", index=False)
    make_missing_copy(hs).to_csv(DATA_DIR / "holzinger39_missing.csv", index=False, na_rep="NA")
    make_ordinal_copy(hs).to_csv(DATA_DIR / "holzinger39_ordinal.csv", index=False)


if __name__ == "__main__":
    export_all()

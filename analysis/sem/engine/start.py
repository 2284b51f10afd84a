"""Starting values for the SEM engine (in the spirit of lavaan's ``start = "simple"``).

Observed residual variances start at half the sample variance and intercepts at the
sample means (lavaan). Loadings and latent variances use the marker indicator: with
marker variance s_mm, psi = s_mm / 2 and lambda_j = s_jm / psi, which puts the start
close to the solution and saves iterations; with ``std_lv`` loadings start at
sqrt(s_jj / 2). Regressions and covariances start at 0; ``start(...)`` modifiers win.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.sem.engine.data import GroupData
from analysis.sem.engine.ram import RamModel
from analysis.sem.partable import VariableSets

__all__ = ["start_values"]


def _markers(table: pd.DataFrame, vs: VariableSets) -> dict[tuple[int, str], tuple[str, float]]:
    """(group, latent) -> (observed marker, its fixed loading)."""
    out = {}
    loads = table[(table["op"] == "=~") & (table["free"] == 0) & table["rhs"].isin(vs.ov)]
    for rec in loads.itertuples(index=False):
        if rec.ustart != 0 and (rec.group, rec.lhs) not in out:
            out[(rec.group, rec.lhs)] = (rec.rhs, float(rec.ustart))
    return out


def _first_indicator(table: pd.DataFrame, vs: VariableSets) -> dict[tuple[int, str], str]:
    out = {}
    for rec in table[(table["op"] == "=~") & table["rhs"].isin(vs.ov)].itertuples(index=False):
        out.setdefault((rec.group, rec.lhs), rec.rhs)
    return out


def start_values(table: pd.DataFrame, vs: VariableSets, groups: list[GroupData], model: RamModel) -> np.ndarray:
    """Vector of starting values for the free parameters (first row of each index wins)."""
    position = {name: k for k, name in enumerate(model.observed)}
    markers = _markers(table, vs)
    first = _first_indicator(table, vs)
    x = np.full(model.npar, np.nan)
    for rec in table.itertuples(index=False):
        if rec.free == 0 or not np.isnan(x[rec.free - 1]):
            continue
        g = groups[rec.group - 1]
        cov, mean = g.cov, g.mean
        value = 0.0
        if rec.op == "=~" and rec.rhs in position:
            j = position[rec.rhs]
            if (rec.group, rec.lhs) in markers:
                marker, scale = markers[(rec.group, rec.lhs)]
                m = position[marker]
                psi = 0.5 * cov[m, m] / scale**2
                value = cov[j, m] / (scale * psi)
            else:
                ref = first.get((rec.group, rec.lhs), rec.rhs)
                sign = 1.0 if cov[j, position[ref]] >= 0 else -1.0
                value = sign * np.sqrt(0.5 * cov[j, j])
        elif rec.op == "=~":
            value = 1.0
        elif rec.op == "~~" and rec.lhs == rec.rhs:
            if rec.lhs in position:
                value = 0.5 * cov[position[rec.lhs], position[rec.lhs]]
            elif (rec.group, rec.lhs) in markers:
                marker, scale = markers[(rec.group, rec.lhs)]
                value = 0.5 * cov[position[marker], position[marker]] / scale**2
            else:
                value = 0.05
        elif rec.op == "~1" and rec.lhs in position:
            value = mean[position[rec.lhs]]
        if np.isfinite(rec.start):
            value = rec.start
        x[rec.free - 1] = value
    return np.nan_to_num(x)

"""Quantities derived from a fitted engine at any parameter vector.

The bootstrap evaluates these at every draw's estimates, the fitted model at its own:
the structural matrices (for direct, indirect and total effects), the values of the
labelled parameters (for ``:=`` definitions), the model-implied latent correlations
and regression factor scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import DataError
from analysis.sem.effects import LatentStructure

__all__ = ["structure_at", "label_values", "latent_correlations", "factor_scores"]


def _structural_names(engine) -> list[str]:
    """Latent variables and the observed variables that take part in regressions (``~``)."""
    table = engine.partable_ if hasattr(engine, "partable_") else engine._table
    regression = table[table["op"] == "~"]
    involved = set(regression["lhs"]) | set(regression["rhs"])
    latent = set(engine.model_.latent)
    return [name for name in engine.model_.names if name in latent or name in involved]


def structure_at(engine, x: np.ndarray, group: int = 0) -> LatentStructure:
    """B (direct effects) and the implied covariance of the structural variables at ``x``.

    Notes
    -----
    In RAM notation the implied covariance of all variables is
    ``(I - A)^-1 S (I - A)^-T``; B is the block of A among the structural variables
    (indicators are sinks, so no effect among them runs through an indicator).
    """
    model = engine.model_
    names = _structural_names(engine)
    index = [model.names.index(name) for name in names]
    A = model.matrices(x)[group][0]
    total = model.total_covariance(x)[group]
    return LatentStructure(tuple(names), A[np.ix_(index, index)], total[np.ix_(index, index)])


def label_values(engine, x: np.ndarray) -> dict[str, float]:
    """Value of every label at ``x`` (a label on a fixed parameter keeps its fixed value)."""
    table = engine.partable_ if hasattr(engine, "partable_") else engine._table
    labelled = table[(table["label"] != "") & (table["op"] != ":=")].drop_duplicates("label")
    values = {}
    for rec in labelled.itertuples(index=False):
        values[rec.label] = float(x[int(rec.free) - 1]) if rec.free > 0 else float(engine.model_.values[rec.id - 1])
    return values


def latent_correlations(engine, group: int = 0) -> pd.DataFrame:
    """Model-implied correlations among the latent variables."""
    model = engine.model_
    index = [model.names.index(v) for v in model.latent]
    cov = model.total_covariance(engine.x_)[group][np.ix_(index, index)]
    sd = np.sqrt(np.diag(cov))
    return pd.DataFrame(cov / np.outer(sd, sd), index=model.latent, columns=model.latent)


def factor_scores(engine, data: pd.DataFrame, id_column: str | None = None) -> pd.DataFrame:
    """Regression (Thurstone) factor scores of every latent variable for the complete rows.

    Notes
    -----
    E[eta | x] = mu_eta + Cov(eta, x) Sigma^-1 (x - mu_x), with the model-implied moments;
    without a mean structure mu_x is the sample mean and mu_eta = 0. As
    ``lavaan::lavPredict(fit, method = "regression")``; rows with a missing value on the
    model's variables get no score. Single-group models only.
    """
    model = engine.model_
    missing = [v for v in model.observed if v not in data.columns]
    if missing:
        raise DataError(f"factor_scores: the data lack the model variable(s) {', '.join(missing)}")
    frame = data[model.observed].astype(float)
    complete = frame.dropna()
    values = complete.to_numpy()
    total = model.total_covariance(engine.x_)[0]
    p = model.p
    sigma, cross = total[:p, :p], total[p:, :p]
    if engine.meanstructure_:
        _, _, mvec = model.matrices(engine.x_)[0]
        means = np.linalg.solve(np.eye(model.m) - model.matrices(engine.x_)[0][0], mvec)
        mu_x, mu_eta = means[:p], means[p:]
    else:
        mu_x, mu_eta = values.mean(axis=0), np.zeros(model.m - p)
    scores = mu_eta + (values - mu_x) @ np.linalg.solve(sigma, cross.T)
    out = pd.DataFrame(scores, index=complete.index, columns=model.latent)
    if id_column is not None:
        out.insert(0, id_column, data.loc[complete.index, id_column].to_numpy())
    return out

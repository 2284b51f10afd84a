"""Direct, indirect and total effects among the variables of a structural model.

With B the matrix of direct effects (``B[i, j]``: effect of j on i) of a recursive
model, the total effects are ``T = (I - B)^-1 - I`` and the indirect effects
``T - B`` (Bollen 1987). Standardized effects use the standardized B,
``B*_ij = B_ij sd_j / sd_i``, with standard deviations from the model-implied
covariance of the inner variables; that is lavaan's ``std.all`` for a defined
parameter such as ``ind := a*b`` written over the standardized paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import ModelError

__all__ = ["LatentStructure", "effect_matrices", "structural_effects", "specific_indirect_effects"]


@dataclass(frozen=True)
class LatentStructure:
    """Structural matrices of a fitted model over its inner variables.

    ``beta[i, j]`` is the direct effect of ``names[j]`` on ``names[i]``;
    ``covariance`` is the model-implied covariance of the inner variables.
    """

    names: tuple[str, ...]
    beta: np.ndarray
    covariance: np.ndarray

    def standardized_beta(self) -> np.ndarray:
        sd = np.sqrt(np.diag(self.covariance))
        return self.beta * sd[None, :] / sd[:, None]


def effect_matrices(structure: LatentStructure, standardized: bool = True) -> dict[str, np.ndarray]:
    """Direct, indirect and total effect matrices (rows: outcomes, columns: causes).

    Notes
    -----
    T = (I - B)^-1 - I, indirect = T - B. Checked against the defined parameter
    ``ind := a*b`` of ``lavaan::sem`` on the Political Democracy model.
    """
    beta = structure.standardized_beta() if standardized else structure.beta
    total = np.linalg.inv(np.eye(len(beta)) - beta) - np.eye(len(beta))
    return {"direct": beta, "indirect": total - beta, "total": total}


def structural_effects(structure: LatentStructure, pairs: Iterable[tuple[str, str]],
                       standardized: bool = True) -> pd.DataFrame:
    """Direct, indirect and total effect of each ``(cause, outcome)`` pair.

    Returns
    -------
    DataFrame
        One row per pair: from_, to, direct, indirect, total.
    """
    mats = effect_matrices(structure, standardized)
    index = {name: i for i, name in enumerate(structure.names)}
    rows = []
    for cause, outcome in pairs:
        if cause not in index or outcome not in index:
            missing = [v for v in (cause, outcome) if v not in index]
            raise ModelError(f"not a structural variable: {', '.join(missing)}; known: {', '.join(structure.names)}")
        i, j = index[outcome], index[cause]
        rows.append({"from_": cause, "to": outcome, "direct": mats["direct"][i, j],
                     "indirect": mats["indirect"][i, j], "total": mats["total"][i, j]})
    return pd.DataFrame(rows)


def _paths(beta: np.ndarray, start: int, end: int, names: Sequence[str]) -> list[list[int]]:
    found: list[list[int]] = []

    def walk(node: int, trail: list[int]) -> None:
        if node == end:
            found.append(trail)
            return
        for nxt in np.flatnonzero(beta[:, node]):
            if nxt not in trail:
                walk(int(nxt), trail + [int(nxt)])

    walk(start, [start])
    return found


def specific_indirect_effects(structure: LatentStructure, cause: str, outcome: str,
                              standardized: bool = True) -> pd.DataFrame:
    """Every specific indirect path from ``cause`` to ``outcome`` and its effect.

    Notes
    -----
    A specific indirect effect is the product of the direct effects along one
    path (e.g. ESQ -> TRU -> SAT -> LOY); they sum to the total indirect effect.
    """
    beta = structure.standardized_beta() if standardized else structure.beta
    names = structure.names
    start, end = names.index(cause), names.index(outcome)
    rows = []
    for path in _paths(beta, start, end, names):
        if len(path) <= 2:
            continue
        effect = float(np.prod([beta[b, a] for a, b in zip(path[:-1], path[1:])]))
        rows.append({"from_": cause, "to": outcome, "via": " -> ".join(names[k] for k in path[1:-1]),
                     "path": " -> ".join(names[k] for k in path), "effect": effect})
    return pd.DataFrame(rows, columns=["from_", "to", "via", "path", "effect"])

"""Is the model identified? Name the parameters that the data cannot pin down.

A model is not identified when it has more free parameters than sample moments, or
when its information matrix is singular at the solution: some combination of
parameters can change without changing the implied moments. The eigenvector of the
smallest eigenvalue says which parameters take part in that combination, which is what
a user needs to know to fix or constrain one of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import ModelError

__all__ = ["parameter_names", "check_information", "check_rank"]

#: Relative size of the smallest eigenvalue below which the information is singular.
SINGULAR = 1e-10


def parameter_names(table: pd.DataFrame) -> list[str]:
    """``lhs op rhs`` (with the group when there are several) of each free parameter."""
    free = table[table["free"] > 0].drop_duplicates("free").sort_values("free")
    multigroup = table["group"].max() > 1
    return [f"{r.lhs} {r.op} {r.rhs}".strip() + (f" (group {r.group})" if multigroup else "")
            for r in free[["lhs", "op", "rhs", "group"]].itertuples(index=False)]


def check_information(information: np.ndarray, table: pd.DataFrame, skip: np.ndarray | None = None) -> None:
    """Raise :class:`ModelError` naming the parameters of the singular direction, if any.

    ``skip`` marks parameters held at a bound (they are not estimated from the information).
    """
    keep = np.ones(len(information), dtype=bool) if skip is None else ~skip
    check_rank(information[np.ix_(keep, keep)], list(np.array(parameter_names(table), dtype=object)[keep]))


def check_rank(information: np.ndarray, names: list[str]) -> None:
    """Raise :class:`ModelError` if ``information`` (free parameters ``names``) is singular.

    The one identification test of every estimator (ML, MLR, FIML, multigroup: the
    expected information of the engine; WLSMV: the DWLS information Delta' W Delta). The
    message names the parameters with the largest weights in the eigenvector of the
    smallest eigenvalue: the combination that the data cannot pin down.
    """
    info = np.asarray(information, dtype=float)
    if not info.size:
        return
    if not np.all(np.isfinite(info)):
        raise ModelError("the model is not identified or the estimates diverged: the information matrix is not "
                         "finite; fix a loading or variance per factor and check the start values")
    values, vectors = np.linalg.eigh((info + info.T) / 2.0)
    if values[0] > SINGULAR * max(values[-1], 1e-300):
        return
    weights = np.abs(vectors[:, 0])
    order = np.argsort(-weights)
    involved = [names[k] for k in order[: max(1, int((weights > 0.1 * weights.max()).sum()))]]
    raise ModelError("the model is not identified: the information matrix is singular; the data cannot "
                     f"separate {', '.join(involved[:6])}{' ...' if len(involved) > 6 else ''}; "
                     "fix one of them (e.g. a loading to 1 or a variance) or add indicators")

"""An independent second opinion: refit a model with semopy and compare.

Every route fits with the workbench engine; semopy, an independent implementation
with its own parser, matrices and optimiser, refits the same model wherever it reads
the syntax exactly as lavaan does (one group, complete rows, no mean structure, no
``NA*``/``==``/bounds, no observed exogenous covariates, whose variances semopy would
count as moments). Agreement to about 1e-5 says the numbers do not depend on one
program's implementation; the parity tests certify both engines against lavaan.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import WorkbenchError
from analysis.sem.engine.threads import single_threaded_blas

__all__ = ["semopy_readable", "semopy_agreement", "AGREEMENT_TOLERANCE"]

#: Largest estimate difference still reported as agreement (both engines reach lavaan to ~1e-5).
AGREEMENT_TOLERANCE = 1e-4


def semopy_readable(fitted) -> str | None:
    """None if semopy reads this engine fit's syntax as lavaan does, else the reason it does not."""
    parsed = fitted.parsed_
    if len(fitted.groups_) > 1:
        return "multigroup model"
    if fitted.missing != "listwise":
        return "FIML"
    if fitted.meanstructure_:
        return "mean structure (~ 1)"
    if parsed.equalities or parsed.bounds:
        return "equality or bound constraints"
    if any(row.fixed is not None and None in row.fixed for row in parsed.rows):
        return "NA* modifiers"
    if len(fitted.variables_.ov_x):
        return "observed exogenous covariates (fixed.x)"
    return None


def _magnitude(value: float) -> float:
    if not np.isfinite(value) or abs(value) < 1e-9:
        return 0.0 if np.isfinite(value) else value
    return float(f"{value:.2g}")


def semopy_agreement(fitted, data: pd.DataFrame) -> pd.DataFrame:
    """One row comparing the engine fit with a semopy refit of the same model and data.

    Returns
    -------
    DataFrame
        ``engine, second_engine, parameters, max_abs_est_difference, max_abs_se_difference,
        chisq_difference, agree`` (or ``note`` saying why semopy was not asked).
    """
    reason = semopy_readable(fitted)
    if reason is not None:
        return pd.DataFrame([{"engine": "workbench", "second_engine": "semopy", "note": f"not compared: {reason}"}])
    from analysis.sem.semopy_engine import StructuralEquationModel

    try:
        # one BLAS thread: semopy's optimiser path then does not depend on thread scheduling, so the
        # reported differences are the same on every run
        with single_threaded_blas():
            other = StructuralEquationModel(fitted.model_syntax, estimator=fitted.estimator).fit(data)
    except WorkbenchError as exc:
        return pd.DataFrame([{"engine": "workbench", "second_engine": "semopy", "note": f"semopy failed: {exc}"}])
    keys = ["lhs", "op", "rhs"]
    ours = fitted.estimates_[fitted.estimates_["op"] != ":="]
    swapped = other.estimates_.rename(columns={"lhs": "rhs", "rhs": "lhs"})
    theirs = pd.concat([other.estimates_, swapped[swapped["op"] == "~~"]]).drop_duplicates(keys)
    merged = ours.merge(theirs, on=keys, suffixes=("", "_semopy"))
    est = float(np.nanmax(np.abs(merged["est"] - merged["est_semopy"])))
    se = float(np.nanmax(np.abs(merged["se"] - merged["se_semopy"])))
    return pd.DataFrame([{
        "engine": "workbench", "second_engine": "semopy", "parameters": int(len(merged)),
        # differences are reported to two significant digits and as 0 below 1e-9 (optimiser noise)
        "max_abs_est_difference": _magnitude(est), "max_abs_se_difference": _magnitude(se),
        "chisq_difference": _magnitude(float(fitted.fit_["chisq"] - other.fit_["chisq"])),
        "agree": bool(len(merged) == len(ours) and est < AGREEMENT_TOLERANCE),
    }])

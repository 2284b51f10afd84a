"""Robustness checks of the study, one stage function each (called by the notebook).

The main analysis treats 7-point answers as continuous, removes incomplete rows and
assumes one population. Each check here relaxes one of those assumptions with the
lavaan-grade layer (:mod:`analysis.sem`) and tabulates how much the conclusions move:

* measurement invariance across customer groups (configural -> strict, joint fits);
* missing data: FIML on every respondent vs listwise deletion;
* ordinal data: polychoric/WLSMV loadings vs ML;
* non-normality: MLR (robust SEs, Yuan-Bentler scaled test);
* common-method variance: Harman, full-collinearity VIF, marker-variable correction;
* discriminant validity with bootstrap HTMT intervals;
* local misfit: the largest modification indices; improper solutions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.measurement.method_bias import (
    construct_scores,
    full_collinearity_vif,
    harman_single_factor,
    htmt_bootstrap,
    marker_variable_correction,
)
from analysis.privacy import suppress_label_counts
from analysis.sem import admissibility_table
from analysis.sem.api import fit_model
from analysis.sem.engine.estimator import SEMEngine
from analysis.sem.fitted import FittedSEM
from analysis.sem.invariance import measurement_invariance
from analysis.sem.modindices import modification_indices
from analysis.simulate import measurement_model_syntax

__all__ = [
    "INVARIANCE_CONSTRUCTS", "INVARIANCE_COLUMNS", "invariance_by_group", "missing_data_sensitivity", "ordinal_sensitivity",
    "robust_fit", "method_bias", "htmt_intervals", "largest_modification_indices", "admissibility_report",
    "engine_agreement",
]

#: Columns of the invariance table a reader needs (the CSV keeps them all).
INVARIANCE_COLUMNS = ["level", "chisq", "df", "cfi", "rmsea", "srmr", "delta_cfi", "delta_rmsea", "chisq_diff",
                      "df_diff", "pvalue_diff", "decision"]

#: Constructs whose measurement is compared across groups (the outcome side of the model).
INVARIANCE_CONSTRUCTS = ("TRU", "SAT", "LOY")
_MIN_GROUP = 100  # smaller groups make a joint multigroup CFA unstable


def invariance_by_group(ctx, clean: pd.DataFrame, group: str = "gender",
                        constructs=INVARIANCE_CONSTRUCTS) -> pd.DataFrame:
    """Configural, metric, scalar and strict invariance of the outcome constructs across ``group``.

    Groups with fewer than 100 respondents (e.g. "other", "undisclosed") are left out and
    the table says so in its ``note`` column.
    """
    counts = clean[group].value_counts()
    kept = counts[counts >= _MIN_GROUP].index.tolist()
    if len(kept) < 2:
        table = pd.DataFrame({"level": [], "note": []})
        table.attrs["note"] = f"fewer than two {group} groups with >= {_MIN_GROUP} respondents; not tested"
        return ctx.save_table(table, "invariance")
    data = clean[clean[group].isin(kept)]
    syntax = measurement_model_syntax(ctx.instrument, constructs=list(constructs))
    table = measurement_invariance(syntax, data, group)
    # a left-out group's size under privacy.min_cell_size is shown as "<k" (analysis.privacy)
    sizes, _ = suppress_label_counts(counts, ctx.settings.privacy.min_cell_size)
    table.insert(0, "groups", " vs ".join(f"{g} (n={sizes[g]})" for g in kept))
    dropped = [f"{g} (n={sizes[g]})" for g in counts.index if g not in kept]
    table["note"] = f"left out (too small): {', '.join(dropped)}" if dropped else ""
    return ctx.save_table(table, "invariance")


def missing_data_sensitivity(ctx, clean: pd.DataFrame, structural_model: str,
                             listwise: FittedSEM) -> pd.DataFrame:
    """Structural paths under listwise deletion (main analysis) and under FIML (all respondents)."""
    fiml = SEMEngine(structural_model, missing="fiml").fit(clean)
    paths = lambda est: est[est["op"] == "~"].set_index(["lhs", "rhs"])["std_all"]  # noqa: E731
    table = pd.DataFrame({"listwise": paths(listwise.estimates_), "fiml": paths(fiml.estimates_)}).reset_index()
    table["difference"] = table["fiml"] - table["listwise"]
    table["n_listwise"] = listwise.fit_["n"]
    table["n_fiml"] = fiml.fit_["n"]
    return ctx.save_table(table.rename(columns={"lhs": "outcome", "rhs": "predictor"}), "missing_data_sensitivity")


def ordinal_sensitivity(ctx, clean: pd.DataFrame, constructs=INVARIANCE_CONSTRUCTS) -> pd.DataFrame:
    """Standardized loadings treating answers as continuous (ML) vs ordinal (polychoric WLSMV)."""
    syntax = measurement_model_syntax(ctx.instrument, constructs=list(constructs))
    ml = fit_model(clean, syntax, estimator="ML")
    ordinal = fit_model(clean, syntax, ordered="all", missing="pairwise")
    pick = lambda est: est[est["op"] == "=~"].set_index(["lhs", "rhs"])["std_all"]  # noqa: E731
    table = pd.DataFrame({"ml": pick(ml.estimates_), "wlsmv": pick(ordinal.estimates_)}).reset_index()
    table = table.rename(columns={"lhs": "construct", "rhs": "item"})
    table["difference"] = table["wlsmv"] - table["ml"]
    fit = {"ml_cfi": ml.fit_["cfi"], "ml_rmsea": ml.fit_["rmsea"], "wlsmv_cfi_scaled": ordinal.fit_["cfi_scaled"],
           "wlsmv_rmsea_scaled": ordinal.fit_["rmsea_scaled"]}
    table.attrs["fit"] = fit
    return ctx.save_table(table, "ordinal_vs_ml")


def robust_fit(ctx, clean: pd.DataFrame, structural_model: str) -> pd.DataFrame:
    """ML and MLR (robust) fit of the structural model side by side."""
    mlr = fit_model(clean, structural_model, estimator="MLR")
    f = mlr.fit_
    rows = [("chi-square", f["chisq"], f["chisq_scaled"]), ("p-value", f["pvalue"], f["pvalue_scaled"]),
            ("CFI", f["cfi"], f["cfi_robust"]), ("TLI", f["tli"], f["tli_robust"]),
            ("RMSEA", f["rmsea"], f["rmsea_robust"]), ("scaling factor", 1.0, f["chisq_scaling_factor"])]
    return ctx.save_table(pd.DataFrame(rows, columns=["index", "ml", "mlr"]), "robust_fit")


def method_bias(ctx, clean: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Harman's single factor, full-collinearity VIFs and the marker-variable correction."""
    codes = [c.code for c in ctx.instrument.constructs if c.role not in ("attention",)]
    blocks = {code: ctx.instrument.items_of(code) for code in codes}
    substantive = [i for code in codes if code != "MKR" for i in blocks[code]]
    harman = harman_single_factor(clean, substantive).to_frame().T
    scores = construct_scores(clean, blocks)
    vif = full_collinearity_vif(scores.drop(columns="MKR", errors="ignore"))
    complete = scores.dropna()
    marker = marker_variable_correction(complete.corr(), n=len(complete), marker="MKR")
    ctx.save_table(harman, "harman")
    ctx.save_table(vif, "full_collinearity_vif")
    ctx.save_table(marker, "marker_correction")
    return {"harman": harman, "vif": vif, "marker": marker}


def htmt_intervals(ctx, clean: pd.DataFrame, n_draws: int = 200) -> pd.DataFrame:
    """Bootstrap percentile intervals for HTMT (an upper bound below .85/.90 supports discriminance)."""
    codes = [c.code for c in ctx.instrument.constructs if c.role not in ("marker", "attention")]
    blocks = {code: ctx.instrument.items_of(code) for code in codes}
    table = htmt_bootstrap(clean, blocks, n_draws=n_draws, random_state=ctx.seed,
                           n_jobs=ctx.n_jobs)
    return ctx.save_table(table, "htmt_intervals")


def largest_modification_indices(ctx, clean: pd.DataFrame, measurement_model: str, top: int = 10) -> pd.DataFrame:
    """The fixed parameters whose freeing would most improve the CFA (score tests)."""
    engine = SEMEngine(measurement_model).fit(clean)
    table = modification_indices(engine).head(top)
    return ctx.save_table(table.reset_index(drop=True), "modindices")


def admissibility_report(ctx, models: dict) -> pd.DataFrame:
    """Improper solutions (Heywood cases, |std| > 1, non-positive-definite matrices) per model."""
    frames = []
    for name, model in models.items():
        problems = admissibility_table(getattr(model, "problems_", []))
        frames.append(problems.assign(model=name) if len(problems) else
                      pd.DataFrame({"model": [name], "kind": ["none"], "where": [""], "value": [np.nan],
                                    "message": ["no improper estimates"]}))
    table = pd.concat(frames, ignore_index=True)
    return ctx.save_table(table[["model", "kind", "where", "value", "message"]], "admissibility")


def engine_agreement(ctx, clean: pd.DataFrame, models: dict) -> pd.DataFrame:
    """Each model refitted by semopy, an independent SEM program: the largest differences."""
    from analysis.sem.crosscheck import semopy_agreement

    table = pd.concat([semopy_agreement(model, clean).assign(model=name) for name, model in models.items()],
                      ignore_index=True)
    columns = ["model"] + [c for c in table.columns if c != "model"]
    return ctx.save_table(table[columns], "engine_agreement")

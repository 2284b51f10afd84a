"""Regression cases where a fit once disagreed with lavaan, checked on every route.

Reference: tests/reference/regression_reference.json, written by
``Rscript tests/reference/regression_reference.R`` (each case records its R calls). The
cases run through the Python API and through ``python -m analysis fit``.

``bfi_wlsmv_reverse_first``: psych's ``bfi`` agreeableness items with the reverse-keyed
A1 as the first (marker) indicator, ``cfa(model, data = bfi, ordered = c("A1", ...,
"A5"), estimator = "WLSMV")``. With constant start values the DWLS fit once ran to a
loading of 251103 and χ² 1603; starts from the polychoric correlations give lavaan's
solution. Tolerances: the estimates and χ² agree to about 1e-6, standard errors to
about 1e-7 (measured: 1.1e-6 and 6.7e-8), so 1e-5 and 1e-6 leave a margin of ten.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE_DATA, reference_case, reference_data

from analysis.cli.main import main
from analysis.sem.api import fit_model

ORDINAL_CASES = ["bfi_wlsmv_reverse_first", "bfi_wlsmv_two_factor"]


def _compare(estimates: pd.DataFrame, fit: dict, case: dict) -> None:
    ref = pd.DataFrame(case["estimates"])
    latents = set(ref.loc[ref["op"] == "=~", "lhs"])
    # loadings, thresholds and the factor (co)variances: the free parameters of the delta
    # parameterization (item residual variances are implied, not estimated)
    ref = ref[ref["op"].isin(["=~", "|"]) | (ref["op"].eq("~~") & ref["lhs"].isin(latents))]
    merged = ref.merge(estimates, on=["lhs", "op", "rhs"], how="left", suffixes=("_ref", ""), indicator=True)
    missing = merged.loc[merged["_merge"] != "both", ["lhs", "op", "rhs"]]
    assert missing.empty, f"rows lavaan reports but the fit does not: {missing.to_dict('records')}"
    np.testing.assert_allclose(merged["est"], merged["est_ref"], atol=1e-5, rtol=0)
    free = merged["se_ref"] > 0  # lavaan gives fixed parameters se = 0, the workbench leaves it empty
    assert merged.loc[~free, "se"].isna().all()
    np.testing.assert_allclose(merged.loc[free, "se"], merged.loc[free, "se_ref"], atol=1e-6, rtol=0)
    for ours, theirs in [("chisq", "chisq"), ("chisq_scaled", "chisq.scaled"), ("df", "df"),
                         ("cfi_scaled", "cfi.scaled"), ("rmsea_scaled", "rmsea.scaled")]:
        np.testing.assert_allclose(fit[ours], case["fit"][theirs], rtol=1e-6, atol=1e-8, err_msg=ours)
    assert fit["n"] == case["n"]


@pytest.mark.parametrize("name", ORDINAL_CASES)
def test_wlsmv_with_a_reverse_keyed_marker_matches_lavaan(name):
    case = reference_case("regression", name)
    fitted = fit_model(reference_data("bfi.csv"), case["model"], estimator="WLSMV")
    _compare(fitted.estimates_, fitted.fit_, case)
    loadings = fitted.estimates_.query("op == '=~' and rhs in ['A2', 'A3', 'A4', 'A5']")["est"]
    assert (loadings < 0).all()  # the reverse-keyed marker turns the others negative


def test_wlsmv_regression_through_the_cli(tmp_path):
    case = reference_case("regression", "bfi_wlsmv_reverse_first")
    model = tmp_path / "agreeableness.lav"
    model.write_text(case["model"], encoding="utf-8")
    out = tmp_path / "out"
    assert main(["fit", "--data", str(REFERENCE_DATA / "bfi.csv"), "--model", str(model), "--estimator", "WLSMV",
                 "--out", str(out)]) == 0
    _compare(pd.read_csv(out / "estimates.csv"), json.loads((out / "fit.json").read_text()), case)

"""Guards for the committed lavaan reference file and its data (tests/reference/).

The headline numbers are the published lavaan 0.6 results quoted in shared/DOMAIN.md
("Reference results for parity tests"), rounded there to three decimals, hence ``atol=1e-3``.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.paths import PROJECT_ROOT

REFERENCE_DIR = PROJECT_ROOT / "tests" / "reference"
REFERENCE_JSON = REFERENCE_DIR / "lavaan_reference.json"
DATA_FILES = [
    "holzinger39.csv",
    "holzinger39_missing.csv",
    "holzinger39_ordinal.csv",
    "political_democracy.csv",
]
CASES = [
    "hs_cfa",
    "poldem_sem",
    "hs_mlr",
    "hs_fiml",
    "hs_ordinal",
    "hs_invariance",
    "hs_modindices",
    "hs_reliability",
    "poldem_bootstrap",
]
ESTIMATE_COLUMNS = {"lhs", "op", "rhs", "label", "est", "se", "z", "pvalue",
                    "ci.lower", "ci.upper", "std.all"}
DOMAIN_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def reference() -> dict:
    with REFERENCE_JSON.open(encoding="utf-8") as handle:
        return json.load(handle)


def _estimate(rows: list[dict], lhs: str, op: str, rhs: str) -> dict:
    matches = [row for row in rows if (row["lhs"], row["op"], row["rhs"]) == (lhs, op, rhs)]
    assert len(matches) == 1, f"expected one row {lhs} {op} {rhs}, found {len(matches)}"
    return matches[0]


def test_reference_has_every_case_and_versions(reference):
    assert reference["lavaan_version"].startswith("0.6")
    assert reference["R_version"].startswith("R version")
    assert set(CASES) <= set(reference["cases"])
    for name in CASES:
        assert reference["cases"][name]["calls"], f"case {name} records no R call"


@pytest.mark.parametrize("case", ["hs_cfa", "poldem_sem", "hs_mlr", "hs_fiml", "hs_ordinal"])
def test_single_group_cases_have_fit_and_estimates(reference, case):
    record = reference["cases"][case]
    for key in ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower",
                "rmsea.ci.upper", "srmr", "ntotal", "baseline.chisq", "baseline.df"):
        assert key in record["fit"], f"{case}: fit lacks {key}"
    assert ESTIMATE_COLUMNS <= set(record["estimates"][0])


@pytest.mark.parametrize("case", ["hs_mlr", "hs_ordinal"])
def test_robust_cases_have_scaled_statistics(reference, case):
    fit = reference["cases"][case]["fit"]
    for key in ("chisq.scaled", "df.scaled", "pvalue.scaled", "chisq.scaling.factor",
                "cfi.scaled", "tli.scaled", "rmsea.scaled", "cfi.robust", "tli.robust",
                "rmsea.robust"):
        assert fit[key] is not None, f"{case}: {key} missing"


def test_hs_cfa_matches_domain(reference):
    """R: ``cfa('visual =~ x1+x2+x3; textual =~ x4+x5+x6; speed =~ x7+x8+x9', data = hs)``."""
    case = reference["cases"]["hs_cfa"]
    fit = case["fit"]
    keys = ["chisq", "df", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
            "srmr", "logl", "aic", "bic", "ntotal"]
    expected = [85.306, 24, 0.931, 0.896, 0.092, 0.071, 0.114, 0.065, -3737.745,
                7517.490, 7595.339, 301]
    assert_allclose([fit[k] for k in keys], expected, rtol=0, atol=DOMAIN_TOLERANCE)
    assert case["chisq_uses"] == "N"


def test_poldem_matches_domain(reference):
    """R: ``sem(poldem_model, data = poldem)`` with ``dem60 ~ a*ind60``, ``ind := a*b``."""
    case = reference["cases"]["poldem_sem"]
    fit = case["fit"]
    keys = ["chisq", "df", "cfi", "tli", "rmsea", "srmr", "ntotal"]
    expected = [38.125, 35, 0.995, 0.993, 0.035, 0.044, 75]
    assert_allclose([fit[k] for k in keys], expected, rtol=0, atol=DOMAIN_TOLERANCE)
    rows = case["estimates"]
    a_path = _estimate(rows, "dem60", "~", "ind60")
    assert a_path["label"] == "a"
    observed = [a_path["est"], a_path["se"], _estimate(rows, "dem65", "~", "ind60")["est"],
                _estimate(rows, "dem65", "~", "dem60")["est"]]
    assert_allclose(observed, [1.483, 0.399, 0.572, 0.837], rtol=0, atol=DOMAIN_TOLERANCE)
    indirect = reference["cases"]["poldem_bootstrap"]["indirect"]
    assert_allclose(indirect["est"], observed[0] * observed[3], rtol=1e-12)


def test_invariance_matches_domain(reference):
    """R: ``cfa(hs_model, data = hs, group = "school", group.equal = ...)``."""
    steps = reference["cases"]["hs_invariance"]["steps"]
    observed = [(steps[s]["fit"]["chisq"], steps[s]["fit"]["df"])
                for s in ("configural", "metric", "scalar")]
    expected = [(115.851, 48), (124.044, 54), (164.103, 60)]
    assert_allclose(observed, expected, rtol=0, atol=DOMAIN_TOLERANCE)
    lrt = reference["cases"]["hs_invariance"]["lrt"]
    assert [row["model"] for row in lrt] == ["configural", "metric", "scalar", "strict"]


def test_reliability_matches_domain(reference):
    """R: ``semTools::compRelSEM(fit_hs)`` and ``psych::alpha(hs[, items])$total$raw_alpha``."""
    record = reference["cases"]["hs_reliability"]
    factors = ["visual", "textual", "speed"]
    assert_allclose([record["omega"][f] for f in factors], [0.612, 0.885, 0.686],
                    rtol=0, atol=DOMAIN_TOLERANCE)
    assert_allclose([record["alpha_raw"][f] for f in factors], [0.626, 0.883, 0.689],
                    rtol=0, atol=DOMAIN_TOLERANCE)


def test_modindices_are_sorted_top_20(reference):
    rows = reference["cases"]["hs_modindices"]["modindices"]
    assert len(rows) == 20
    mi = np.array([row["mi"] for row in rows])
    assert np.all(np.diff(mi) <= 0)


def test_data_files_exist_and_have_expected_shape():
    frames = {name: pd.read_csv(REFERENCE_DIR / "data" / name) for name in DATA_FILES}
    assert frames["holzinger39.csv"].shape == (301, 15)
    assert "school" in frames["holzinger39.csv"].columns
    assert frames["political_democracy.csv"].shape == (75, 11)
    items = [f"x{i}" for i in range(1, 10)]
    missing_share = frames["holzinger39_missing.csv"][items].isna().to_numpy().mean()
    assert 0.07 < missing_share < 0.13
    assert set(np.unique(frames["holzinger39_ordinal.csv"][items])) == {1, 2, 3, 4}


def test_derived_data_files_follow_their_fixed_rules():
    spec = importlib.util.spec_from_file_location("export_data", REFERENCE_DIR / "export_data.py")
    export_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(export_data)
    hs = pd.read_csv(REFERENCE_DIR / "data" / "holzinger39.csv")
    pd.testing.assert_frame_equal(
        export_data.make_missing_copy(hs),
        pd.read_csv(REFERENCE_DIR / "data" / "holzinger39_missing.csv"),
    )
    pd.testing.assert_frame_equal(
        export_data.make_ordinal_copy(hs),
        pd.read_csv(REFERENCE_DIR / "data" / "holzinger39_ordinal.csv"),
    )

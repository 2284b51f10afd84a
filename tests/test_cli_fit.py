"""`python -m analysis fit` / `invariance` on any data file and model (lavaan parity via the API).

The written files are checked against tests/reference/lavaan_reference.json (R calls quoted per
test) at the tolerances the fitting code reaches (see test_sem_fit.py, test_sem_engine.py,
test_ordinal.py), so a file that rounds or mislabels a value fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import reference_case
from numpy.testing import assert_allclose

from analysis.cli.main import main
from analysis.paths import PROJECT_ROOT
from analysis.sem.api import fit_model

REFERENCE = Path(__file__).parent / "reference"
HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
HS = REFERENCE / "data" / "holzinger39.csv"
# ours -> lavaan fitMeasures() name, (atol, rtol) [largest deviation measured for the ML and FIML fits]
FIT_KEYS = {
    "chisq": ("chisq", (0, 1e-9)), "loglik": ("logl", (0, 1e-9)), "aic": ("aic", (0, 1e-9)),
    "bic": ("bic", (0, 1e-9)),  # [1.7e-10 relative]
    "df": ("df", (0, 0)), "n": ("ntotal", (0, 0)),
    "pvalue": ("pvalue", (1e-10, 0)), "cfi": ("cfi", (1e-9, 0)), "tli": ("tli", (1e-9, 0)),
    "rmsea": ("rmsea", (1e-9, 0)),  # [2.3e-11]
    "rmsea_ci_lower": ("rmsea.ci.lower", (1e-7, 0)), "rmsea_ci_upper": ("rmsea.ci.upper", (1e-7, 0)),  # [5.1e-9]
    "srmr": ("srmr", (1e-6, 0)),  # [1.5e-7]
}


def _check_fit(fit: dict, reference: dict) -> None:
    for ours, (theirs, (atol, rtol)) in FIT_KEYS.items():
        assert ours in fit, f"fit.json has no {ours!r}"
        assert reference.get(theirs) is not None, f"lavaan reference has no {theirs!r}"
        assert_allclose(fit[ours], reference[theirs], atol=atol, rtol=rtol, err_msg=ours)


def _check_estimates(est: pd.DataFrame, reference: list[dict], est_tol: float, se_tol: float,
                     ops: tuple[str, ...] = ("=~", "~", "~~", "~1")) -> None:
    """estimates.csv rows joined to lavaan's parameterEstimates() rows of ``ops``; a lavaan row we lack fails."""
    ref = pd.DataFrame(reference)
    ref = ref[ref["op"].isin(ops)]
    keys = ["lhs", "op", "rhs"] + (["group"] if "group" in est.columns else [])
    ours = est.assign(rhs=est["rhs"].fillna(""))
    covariances = ours[(ours["op"] == "~~") & (ours["lhs"] != ours["rhs"])]
    swapped = covariances.rename(columns={"lhs": "rhs", "rhs": "lhs"})  # semopy may list (b, a) for lavaan's (a, b)
    ours = pd.concat([ours, swapped]).drop_duplicates(keys)
    merged = ref.merge(ours, on=keys, how="left", suffixes=("_ref", ""))
    absent = merged.loc[merged["est"].isna(), keys].values.tolist()
    assert not absent, f"lavaan rows missing from estimates.csv: {absent}"
    assert_allclose(merged["est"], merged["est_ref"], atol=est_tol, rtol=0, err_msg="est")
    free = merged["se_ref"] > 0
    assert_allclose(merged.loc[free, "se"], merged.loc[free, "se_ref"], atol=se_tol, rtol=0, err_msg="se")
    assert_allclose(merged["std_all"], merged["std.all"], atol=est_tol, rtol=0, err_msg="std_all")


@pytest.fixture()
def model_file(tmp_path):
    path = tmp_path / "hs.lav"
    path.write_text(HS_MODEL, encoding="utf-8")
    return path


def _fit(tmp_path, *args):
    out = tmp_path / "out"
    assert main(["fit", "--out", str(out), *map(str, args)]) == 0
    return out, json.loads((out / "fit.json").read_text()), pd.read_csv(out / "estimates.csv")


def test_ml_fit_writes_lavaan_style_outputs(tmp_path, model_file):
    """R: fitMeasures(cfa(hs_model, data = hs)) and parameterEstimates(fit, standardized = TRUE) (est,
    std.all 1e-5, se 1e-6); modindices(fit_hs, sort. = TRUE, maximum.number = 20): the same rows in
    the same order, mi 1e-4 + 1e-4 relative, epc and sepc.all 1e-4 (see test_modindices.py)."""
    out, fit, est = _fit(tmp_path, "--data", HS, "--model", model_file, "--modindices")
    _check_fit(fit, reference_case("lavaan", "hs_cfa")["fit"])
    assert fit["estimator"] == "ML"
    assert list(est.columns)[:11] == ["lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci_lower",
                                      "ci_upper", "std_all"]
    _check_estimates(est, reference_case("lavaan", "hs_cfa")["estimates"], est_tol=1e-5, se_tol=1e-6)
    mi = pd.read_csv(out / "modindices.csv")
    reference = pd.DataFrame(reference_case("lavaan", "hs_modindices")["modindices"])
    top = mi.head(len(reference))
    assert top[["lhs", "op", "rhs"]].values.tolist() == reference[["lhs", "op", "rhs"]].values.tolist()
    assert_allclose(top["mi"], reference["mi"], atol=1e-4, rtol=1e-4)
    assert_allclose(top["epc"], reference["epc"], atol=1e-4, rtol=0)
    assert_allclose(top["sepc_all"], reference["sepc.all"], atol=1e-4, rtol=0)
    assert "Latent variables" in (out / "fit.txt").read_text()


def test_mlr_fiml_group_and_ordinal_paths(tmp_path, model_file):
    """R: cfa(hs_model, data = hs, estimator = "MLR"); cfa(hs_model, data = hs_missing, missing = "fiml");
    cfa(hs_model, data = hs, group = "school", group.equal = "loadings");
    cfa(hs_model, data = hs_ordinal, ordered = paste0("x", 1:9)) and lavCor(..., output = "th")."""
    _, mlr, est = _fit(tmp_path / "a", "--data", HS, "--model", model_file, "--estimator", "mlr")
    reference = reference_case("lavaan", "hs_mlr")
    assert mlr["estimator"] == "MLR"
    assert_allclose(mlr["chisq_scaled"], reference["fit"]["chisq.scaled"], atol=0, rtol=1e-6)  # [1.6e-7]
    assert_allclose([mlr["chisq_scaling_factor"], mlr["cfi_robust"], mlr["rmsea_robust"]],
                    [reference["fit"]["chisq.scaling.factor"], reference["fit"]["cfi.robust"],
                     reference["fit"]["rmsea.robust"]], atol=1e-6, rtol=0)  # [1.6e-7]
    _check_estimates(est, reference["estimates"], est_tol=1e-5, se_tol=1e-5)  # robust SEs [3.5e-7]
    _, fiml, est = _fit(tmp_path / "b", "--data", REFERENCE / "data" / "holzinger39_missing.csv", "--model",
                        model_file, "--missing", "fiml")
    reference = reference_case("lavaan", "hs_fiml")
    _check_fit(fiml, reference["fit"])
    assert fiml["n"] == 301
    _check_estimates(est, reference["estimates"], est_tol=1e-5, se_tol=1e-6)  # intercepts included [1.6e-6]
    _, grouped, est = _fit(tmp_path / "c", "--data", HS, "--model", model_file, "--group", "school",
                           "--group-equal", "loadings")
    reference = reference_case("lavaan", "hs_invariance")["steps"]["metric"]
    _check_fit(grouped, reference["fit"])
    assert "group" in est.columns
    _check_estimates(est, reference["estimates"], est_tol=1e-4, se_tol=1e-5)  # two groups [8.7e-6]
    _, ordinal, est = _fit(tmp_path / "d", "--data", REFERENCE / "data" / "holzinger39_ordinal.csv", "--model",
                           model_file, "--ordered", "all")
    reference = reference_case("lavaan", "hs_ordinal")
    assert_allclose(ordinal["chisq_scaled"], reference["fit"]["chisq.scaled"], atol=0, rtol=1e-7)  # [3.2e-8]
    thresholds = est[est["op"] == "|"]
    assert (thresholds["lhs"] + "|" + thresholds["rhs"]).tolist() == list(reference["thresholds"])
    assert_allclose(thresholds["est"], list(reference["thresholds"].values()), atol=1e-12, rtol=0)  # [7.8e-16]
    # lavaan's fixed zero intercepts (~1) and scaling factors (~*~) are not rows of our ordinal table
    _check_estimates(est, reference["estimates"], est_tol=1e-6, se_tol=1e-6, ops=("=~", "~~", "|"))  # [2.3e-7]


def test_bootstrap_of_defined_parameter_from_the_cli(tmp_path):
    """ind := a*b on the Political Democracy model: percentile and bias-corrected intervals around
    lavaan's estimate (R: parameterEstimates(sem(poldem_model, data = poldem)) row ':=', 1e-5 [6.7e-7])."""
    model = tmp_path / "pd.lav"
    case = reference_case("lavaan", "poldem_sem")
    model.write_text(case["model"], encoding="utf-8")
    out, _, _ = _fit(tmp_path, "--data", REFERENCE / "data" / "political_democracy.csv", "--model", model,
                     "--bootstrap", "60", "--seed", "4")
    boot = pd.read_csv(out / "bootstrap_defined.csv")
    row = boot.iloc[0]
    assert row["name"] == "ind" and row["ci_lower"] < row["est"] < row["ci_upper"]
    assert_allclose(row["est"], next(r["est"] for r in case["estimates"] if r["op"] == ":="), atol=1e-5, rtol=0)
    assert row["n_draws"] + row["n_failed"] == 60


def test_invariance_command(tmp_path, model_file):
    """R: cfa(hs_model, data = hs, group = "school", group.equal = ...) for configural / metric / scalar /
    strict and lavTestLRT(...) (115.851/48, 124.044/54, 164.103/60, 181.511/69): chisq 1e-9 relative
    [2.1e-10], chisq_diff 1e-7 [1.9e-8]."""
    out = tmp_path / "inv"
    assert main(["invariance", "--data", str(HS), "--model", str(model_file), "--group", "school",
                 "--out", str(out)]) == 0
    table = pd.read_csv(out / "invariance.csv")
    case = reference_case("lavaan", "hs_invariance")
    lrt = pd.DataFrame(case["lrt"])
    assert table["level"].tolist() == lrt["model"].tolist() == ["configural", "metric", "scalar", "strict"]
    assert table["df"].tolist() == lrt["df"].tolist()
    assert_allclose(table["chisq"], [case["steps"][level]["fit"]["chisq"] for level in table["level"]],
                    atol=0, rtol=1e-9)
    assert_allclose(table["chisq_diff"].iloc[1:], lrt["chisq_diff"].iloc[1:], atol=1e-7, rtol=0)
    assert np.isnan(table["chisq_diff"].iloc[0])


@pytest.mark.parametrize("args, message", [
    (["--model", "BAD"], "cannot|syntax|line"),
    (["--model", "UNKNOWN"], "x99"),
    (["--data", "TEXT"], "column x4, line 5: value .seven. is not a number"),
    (["--data", "SMALL"], "rows"),
    (["--estimator", "mlr", "--ordered", "all"], "cannot be combined"),
    (["--group", "nope"], "nope"),
])
def test_user_errors_are_one_line(tmp_path, model_file, args, message):
    data = pd.read_csv(HS)
    files = {"BAD": "visual =~ x1 + + x2\n", "UNKNOWN": "f =~ x1 + x2 + x99\n"}
    resolved = []
    for arg in args:
        if arg in files:
            path = tmp_path / f"{arg}.lav"
            path.write_text(files[arg], encoding="utf-8")
            resolved.append(str(path))
        elif arg == "TEXT":
            bad = data.astype({"x4": object})
            bad.loc[3, "x4"] = "seven"
            resolved.append(str(_write(bad, tmp_path / "text.csv")))
        elif arg == "SMALL":
            resolved.append(str(_write(data.head(6), tmp_path / "small.csv")))
        else:
            resolved.append(arg)
    base = {"--data": str(HS), "--model": str(model_file)}
    for flag in ("--data", "--model"):
        if flag not in resolved:
            resolved += [flag, base[flag]]
    result = subprocess.run([sys.executable, "-m", "analysis", "fit", "--out", str(tmp_path / "o"), *resolved],
                            capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert pd.Series([result.stderr]).str.contains(message, case=False, regex=True).iloc[0], result.stderr


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_api_rejects_inconsistent_options():
    from analysis.errors import ConfigError

    data = pd.read_csv(HS)
    with pytest.raises(ConfigError, match="pairwise"):
        fit_model(data, HS_MODEL, missing="pairwise")
    with pytest.raises(ConfigError, match="estimator"):
        fit_model(data, HS_MODEL, estimator="GLS")

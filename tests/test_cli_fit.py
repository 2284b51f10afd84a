"""`python -m analysis fit` / `invariance` on any data file and model (lavaan parity via the API)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.cli.main import main
from analysis.paths import PROJECT_ROOT
from analysis.sem.api import fit_model

REFERENCE = Path(__file__).parent / "reference"
CASES = json.loads((REFERENCE / "lavaan_reference.json").read_text())["cases"]
HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
HS = REFERENCE / "data" / "holzinger39.csv"


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
    """R: fitMeasures(cfa(HS.model, data = hs)); estimates.csv has lavaan's columns."""
    out, fit, est = _fit(tmp_path, "--data", HS, "--model", model_file, "--modindices")
    for key in ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea_ci_lower", "rmsea_ci_upper", "srmr",
                "aic", "bic", "loglik", "n", "estimator"):
        assert key in fit
    assert_allclose(fit["chisq"], CASES["hs_cfa"]["fit"]["chisq"], atol=1e-3)
    assert list(est.columns)[:11] == ["lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci_lower",
                                      "ci_upper", "std_all"]
    assert "=~" in set(est["op"])
    mi = pd.read_csv(out / "modindices.csv")
    reference = pd.DataFrame(CASES["hs_modindices"]["modindices"]).head(5)  # R: modindices(fit, sort. = TRUE)
    assert mi[["lhs", "op", "rhs"]].head(5).values.tolist() == reference[["lhs", "op", "rhs"]].values.tolist()
    assert_allclose(mi["mi"].head(5), reference["mi"], atol=1e-3)
    assert_allclose(mi["sepc_all"].head(5), reference["sepc.all"], atol=1e-3)
    assert "Latent variables" in (out / "fit.txt").read_text()


def test_mlr_fiml_group_and_ordinal_paths(tmp_path, model_file):
    """R: cfa(..., estimator = "MLR"), cfa(..., missing = "fiml"), cfa(..., group = "school"), ordered = x1:x9."""
    _, mlr, _ = _fit(tmp_path / "a", "--data", HS, "--model", model_file, "--estimator", "mlr")
    assert_allclose(mlr["chisq_scaled"], CASES["hs_mlr"]["fit"]["chisq.scaled"], atol=1e-3)
    _, fiml, _ = _fit(tmp_path / "b", "--data", REFERENCE / "data" / "holzinger39_missing.csv", "--model",
                      model_file, "--missing", "fiml")
    assert_allclose([fiml["chisq"], fiml["n"]], [CASES["hs_fiml"]["fit"]["chisq"], 301], atol=1e-3)
    _, grouped, est = _fit(tmp_path / "c", "--data", HS, "--model", model_file, "--group", "school",
                           "--group-equal", "loadings")
    assert_allclose(grouped["chisq"], 124.044, atol=1e-3)
    assert "group" in est.columns
    _, ordinal, est = _fit(tmp_path / "d", "--data", REFERENCE / "data" / "holzinger39_ordinal.csv", "--model",
                           model_file, "--ordered", "all")
    assert_allclose(ordinal["chisq_scaled"], CASES["hs_ordinal"]["fit"]["chisq.scaled"], rtol=1e-3)
    assert "|" in set(est["op"])


def test_bootstrap_of_defined_parameter_from_the_cli(tmp_path):
    """ind := a*b on the Political Democracy model: percentile and bias-corrected intervals."""
    model = tmp_path / "pd.lav"
    model.write_text(CASES["poldem_sem"]["model"], encoding="utf-8")
    out, _, _ = _fit(tmp_path, "--data", REFERENCE / "data" / "political_democracy.csv", "--model", model,
                     "--bootstrap", "60", "--seed", "4")
    boot = pd.read_csv(out / "bootstrap_defined.csv")
    row = boot.iloc[0]
    assert row["name"] == "ind" and row["ci_lower"] < row["est"] < row["ci_upper"]
    assert row["n_draws"] + row["n_failed"] == 60


def test_invariance_command(tmp_path, model_file):
    """R: lavTestLRT over group.equal steps by school (115.851/48, 124.044/54, 164.103/60)."""
    out = tmp_path / "inv"
    assert main(["invariance", "--data", str(HS), "--model", str(model_file), "--group", "school",
                 "--out", str(out)]) == 0
    table = pd.read_csv(out / "invariance.csv")
    assert_allclose(table["chisq"].iloc[:3], [115.851, 124.044, 164.103], atol=1e-3)


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

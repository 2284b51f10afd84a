"""Hostile input: malformed profiles, client names, paths, instruments, models, CLI options and CRM exports.

Every case goes through a real entry point (``analysis.cli.main.main([...])``, or the
function the study stage calls) and must end in one line: a non-zero exit code (or the
right :class:`~analysis.errors.WorkbenchError` subclass), no traceback, at most 300
characters, naming the file or key, and never echoing planted content (a secret string is
written into the files the errors are about). Data-file readers have their own corpus in
``tests/test_hostile_data.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.cli.main import main
from analysis.errors import ConfigError, ConvergenceError, DataError, WorkbenchError
from tests.conftest import write_profile

SECRET = "PLANTED-SECRET-7f3a9c"
LIMIT = 300


# --------------------------------------------------------------------------- helpers
def cli_error(capsys, argv: list[str]) -> str:
    """Run the CLI; assert a one-line, short, traceback-free error; return that line."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code != 0, f"expected a non-zero exit code, got {code}; stdout: {out[:200]}"
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {err[:400]}"
    line = lines[0]
    assert line.startswith("error: ")
    assert len(line) <= LIMIT, f"{len(line)} characters: {line[:120]}..."
    assert SECRET not in err and SECRET not in out
    return line


def error_of(kind: type[WorkbenchError], call, *args, **kwargs) -> str:
    """Call a library entry point; assert it raises ``kind`` with a one-line, short message."""
    with pytest.raises(kind) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and len(message) <= LIMIT and SECRET not in message
    return message


def profile_file(folder: Path, text: str | bytes, name: str = "hostile") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def base_profile(name: str = "hostile", **extra) -> str:
    document = {"client": {"name": "Hostile", "id": name}, "report": {"title": "T"}, "analysis": {"seed": 1}}
    for section, values in extra.items():
        document[section] = {**document.get(section, {}), **values}
    return yaml.safe_dump(document, sort_keys=False)


def secret_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{SECRET}\n{SECRET}: {SECRET}\n", encoding="utf-8")
    return path


def alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 9)}]" for k in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def data_csv(tmp_path) -> Path:
    """300 rows of five indicators of one factor plus a group column (seeded)."""
    rng = np.random.default_rng(20261129)
    factor = rng.normal(size=300)
    frame = pd.DataFrame({f"x{i}": 0.8 * factor + 0.6 * rng.normal(size=300) for i in range(1, 6)})
    frame["grp"] = np.where(rng.random(300) < 0.5, "a", "b")
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


def model_file(tmp_path: Path, text: str | bytes, name: str = "model.lav") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


# --------------------------------------------------------------------------- profiles
def test_profile_three_unknown_keys_are_named_at_once(tmp_path, capsys):
    path = profile_file(tmp_path, base_profile(report={"titel": "x", "colour": "y"}, analysis={"sed": 2}))
    line = cli_error(capsys, ["profile", path])
    assert "3 problems" in line and "report.titel" in line and "report.colour" in line and "analysis.sed" in line
    assert "did you mean 'title'?" in line


def test_profile_problems_are_on_the_exception(tmp_path):
    from analysis.profile import load_profile

    path = profile_file(tmp_path, base_profile(analysis={"seed": "many", "n_jobs": 0}, simulation={"sample_size": 3}))
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert len(info.value.problems) == 3
    assert any("analysis.seed" in p and "'many'" in p for p in info.value.problems)


def test_profile_many_problems_fit_one_line_with_a_tail(tmp_path, capsys):
    unknown = {f"unknown_key_number_{k}": k for k in range(12)}
    path = profile_file(tmp_path, base_profile(report=unknown))
    line = cli_error(capsys, ["profile", path])
    assert "12 problems" in line and "more)" in line


def test_profile_wrong_type(tmp_path, capsys):
    line = cli_error(capsys, ["profile", profile_file(tmp_path, base_profile(analysis={"seed": "many"}))])
    assert "analysis.seed" in line and "expected an integer" in line and "'many'" in line


def test_profile_out_of_range(tmp_path, capsys):
    line = cli_error(capsys, ["profile", profile_file(tmp_path, base_profile(simulation={"sample_size": 10}))])
    assert "simulation.sample_size" in line and "between 100 and 100000" in line


def test_profile_missing_required_key(tmp_path, capsys):
    text = yaml.safe_dump({"client": {"name": "H", "id": "hostile"}, "report": {"title": "T"}})
    line = cli_error(capsys, ["profile", profile_file(tmp_path, text)])
    assert "analysis.seed" in line and "required key missing" in line


def test_profile_bad_yaml(tmp_path, capsys):
    line = cli_error(capsys, ["profile", profile_file(tmp_path, "client: {name: [unclosed\nreport: x\n")])
    assert "hostile.yml" in line and "line" in line and "YAML syntax error" in line


def test_profile_tab_indentation(tmp_path, capsys):
    line = cli_error(capsys, ["profile", profile_file(tmp_path, "client:\n\tname: H\n")])
    assert "hostile.yml, line 2" in line


def test_profile_duplicate_keys(tmp_path, capsys):
    text = base_profile() + "analysis: {seed: 2}\n"
    line = cli_error(capsys, ["profile", profile_file(tmp_path, text)])
    assert "duplicate key 'analysis'" in line


def test_profile_alias_bomb_is_refused_quickly(tmp_path, capsys):
    text = alias_bomb() + base_profile().replace("title: T", "title: *a8")
    started = time.perf_counter()
    line = cli_error(capsys, ["profile", profile_file(tmp_path, text)])
    assert time.perf_counter() - started < 5.0
    assert "alias" in line and "not allowed" in line


def test_profile_200kb_value_is_not_echoed(tmp_path, capsys):
    text = base_profile().replace("title: T", f"title: {SECRET}" + "x" * 200_000)
    line = cli_error(capsys, ["profile", profile_file(tmp_path, text.replace(SECRET, "y"))])
    assert "report.title" in line and "at most 1000 characters" in line


def test_profile_larger_than_the_cap(tmp_path, capsys):
    text = base_profile() + "# " + "z" * 300_000 + "\n"
    line = cli_error(capsys, ["profile", profile_file(tmp_path, text)])
    assert "hostile.yml" in line and "kB" in line


def test_profile_not_utf8(tmp_path, capsys):
    text = base_profile().encode("utf-8").replace(b"title: T", b"title: \xff\xfe caf\xe9")
    line = cli_error(capsys, ["profile", profile_file(tmp_path, text)])
    assert "not valid UTF-8" in line and "byte" in line


def test_profile_empty_file(tmp_path, capsys):
    line = cli_error(capsys, ["profile", profile_file(tmp_path, "")])
    assert "hostile.yml" in line and "an empty file" in line


def test_profile_list_instead_of_mapping(tmp_path, capsys):
    line = cli_error(capsys, ["profile", profile_file(tmp_path, f"- {SECRET}\n- {SECRET}\n")])
    assert "expected a mapping" in line and "a list" in line


def test_profile_client_id_differs_from_file_name(tmp_path, capsys):
    line = cli_error(capsys, ["profile", profile_file(tmp_path, base_profile(name="someone-else"))])
    assert "client.id" in line and "'hostile'" in line


def test_profile_data_file_without_path(tmp_path, capsys):
    line = cli_error(capsys, ["profile", profile_file(tmp_path, base_profile(data={"source": "file"}))])
    assert "data.path" in line and "required" in line


# --------------------------------------------------------------------------- client names and paths
@pytest.mark.parametrize("command", ["profile", "report", "power"])
def test_client_traversal_is_refused(capsys, command, tmp_path):
    argv = [command, "../../etc/passwd"] if command == "profile" else [command, "--client", "../../etc/passwd"]
    if command == "power":
        argv += ["--out", tmp_path / "power"]
    line = cli_error(capsys, argv)
    assert "client '../../etc/passwd'" in line and "root:" not in line


def test_client_yml_outside_the_project_is_not_read(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ELOYALTY_ALLOWED_ROOTS", "")
    path = secret_file(tmp_path / "outside.yml")
    line = cli_error(capsys, ["profile", path])
    assert "outside the project folder" in line


def test_client_symlink_pointing_out_is_refused(tmp_path, capsys, monkeypatch):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    monkeypatch.setenv("ELOYALTY_ALLOWED_ROOTS", str(allowed))
    link = allowed / "evil.yml"
    link.symlink_to(secret_file(tmp_path / "outside" / "evil.yml"))
    line = cli_error(capsys, ["profile", link])
    assert "outside the project folder" in line


def test_client_name_must_be_a_slug(capsys):
    line = cli_error(capsys, ["profile", "Acme Corp"])
    assert "client 'Acme Corp'" in line and "slug" in line


def test_client_file_must_be_yml(capsys):
    line = cli_error(capsys, ["profile", "README.md"])
    assert "client 'README.md'" in line


@pytest.mark.parametrize("section,key,value", [
    ("data", "path", "../../../../../../../../etc/passwd"),
    ("report", "logo", "/etc/hostname"),
    ("survey", "instrument", "../../../../../../../../etc/hostname"),
    ("behaviour", "crm_path", "/etc"),
])
def test_profile_paths_cannot_leave_the_project(tmp_path, capsys, monkeypatch, section, key, value):
    monkeypatch.setenv("ELOYALTY_ALLOWED_ROOTS", str(tmp_path))
    extra = {section: {key: value}} | ({"data": {"source": "file", "path": value}} if section == "data" else {})
    line = cli_error(capsys, ["profile", profile_file(tmp_path, base_profile(**extra))])
    assert f"{section}.{key}" in line and "outside the project folder" in line


def test_profile_logo_that_is_not_an_image(tmp_path, capsys):
    secret_file(tmp_path / "logo.png")
    line = cli_error(capsys, ["profile", profile_file(tmp_path, base_profile(report={"logo": "logo.png"}))])
    assert "report.logo" in line and "not a valid png image" in line


def test_profile_nonexistent_instrument(tmp_path, capsys):
    line = cli_error(capsys, ["profile", profile_file(tmp_path, base_profile(survey={"instrument": "nope.yaml"}))])
    assert "survey.instrument" in line and "not found" in line


def test_write_profile_in_tmp_path_still_loads(tmp_path):
    from analysis.profile import load_profile

    settings = load_profile(write_profile(tmp_path, "tmp-client"))
    assert settings.client.id == "tmp-client"


# --------------------------------------------------------------------------- instrument files
def _instrument_error(capsys, tmp_path, content: str | bytes) -> str:
    path = tmp_path / "instrument.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return cli_error(capsys, ["survey", "export", "--instrument", path, "--out", tmp_path / "out"])


def test_instrument_bad_yaml(tmp_path, capsys):
    assert "instrument.yaml" in _instrument_error(capsys, tmp_path, "id: [x\nitems: {\n")


def test_instrument_not_utf8(tmp_path, capsys):
    line = _instrument_error(capsys, tmp_path, b"id: \xff\xfe\n")
    assert "instrument.yaml" in line and "UTF-8" in line


def test_instrument_missing_keys(tmp_path, capsys):
    line = _instrument_error(capsys, tmp_path, f"id: x\nnote: {SECRET}\n")
    assert "instrument.yaml" in line


def test_instrument_alias_bomb(tmp_path, capsys):
    started = time.perf_counter()
    line = _instrument_error(capsys, tmp_path, alias_bomb() + "id: *a8\n")
    assert "instrument.yaml" in line and time.perf_counter() - started < 10.0


def test_instrument_not_found(tmp_path, capsys):
    line = cli_error(capsys, ["survey", "export", "--instrument", tmp_path / "nope.yaml", "--out", tmp_path])
    assert "nope.yaml" in line and "not found" in line


# --------------------------------------------------------------------------- model syntax (fit)
def fit_error(capsys, data_csv, tmp_path, model: str | bytes, *extra) -> str:
    path = model_file(tmp_path, model)
    return cli_error(capsys, ["fit", "--data", data_csv, "--model", path, "--out", tmp_path / "out", *extra])


def test_model_unknown_variable(capsys, data_csv, tmp_path):
    line = fit_error(capsys, data_csv, tmp_path, "f =~ x1 + x2 + zz9\n")
    assert "zz9" in line


def test_model_syntax_error(capsys, data_csv, tmp_path):
    line = fit_error(capsys, data_csv, tmp_path, "f =~ x1 + + x2 (\n")
    assert "line 1" in line


def test_model_more_parameters_than_moments(capsys, data_csv, tmp_path):
    line = fit_error(capsys, data_csv, tmp_path, "f =~ x1 + x2 + x3\nx1 ~~ x2\nx1 ~~ x3\nx2 ~~ x3\n")
    assert "9 free parameters" in line and "6 sample moments" in line


@pytest.mark.parametrize("route", [[], ["--estimator", "MLR"], ["--missing", "fiml"], ["--group", "grp"]],
                         ids=["ML", "MLR", "FIML", "multigroup"])
def test_model_single_indicator_factor_is_not_identified(capsys, data_csv, tmp_path, route):
    line = fit_error(capsys, data_csv, tmp_path, "f =~ x1 + x2 + x3 + x4\ng =~ x5\n", *route)
    assert "not identified" in line and "g ~~ g" in line and "x5 ~~ x5" in line
    assert not (tmp_path / "out" / "estimates.csv").exists()


def test_model_single_indicator_factor_ordinal_is_not_identified(capsys, tmp_path, data_csv):
    frame = pd.read_csv(data_csv)
    for column in [f"x{i}" for i in range(1, 6)]:
        frame[column] = pd.cut(frame[column], 5, labels=False) + 1
    frame.to_csv(data_csv, index=False)
    line = fit_error(capsys, data_csv, tmp_path, "f =~ x1 + x2 + x3 + x4\ng =~ x5\n", "--ordered", "all")
    assert "not identified" in line and "g ~~ g" in line


def test_model_not_utf8(capsys, data_csv, tmp_path):
    line = fit_error(capsys, data_csv, tmp_path, b"f =~ x1 + x2 \xff\xfe + x3\n")
    assert "model.lav" in line and "byte 13" in line


def test_model_empty(capsys, data_csv, tmp_path):
    line = fit_error(capsys, data_csv, tmp_path, "# only a comment\n\n")
    assert "model.lav" in line and "no model statements" in line


def test_model_that_cannot_start_is_a_convergence_error(capsys, data_csv, tmp_path):
    model = "f =~ x1 + x2 + x3\nx1 ~~ 0.1*x1\nx2 ~~ 0.1*x2\nx1 ~~ 5*x2\n"
    path = model_file(tmp_path, model)
    code = main(["fit", "--data", str(data_csv), "--model", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == ConvergenceError.exit_code and len(err.strip().splitlines()) == 1 and len(err.strip()) <= LIMIT


# --------------------------------------------------------------------------- fit options
def test_fit_bad_estimator(capsys, data_csv, tmp_path):
    line = fit_error(capsys, data_csv, tmp_path, "f =~ x1 + x2 + x3\n", "--estimator", "GLS")
    assert "--estimator" in line and "'GLS'" in line


def test_fit_out_is_an_existing_file(capsys, data_csv, tmp_path):
    out = secret_file(tmp_path / "results.txt")
    path = model_file(tmp_path, "f =~ x1 + x2 + x3\n")
    line = cli_error(capsys, ["fit", "--data", data_csv, "--model", path, "--out", out])
    assert "--out" in line and "existing file" in line
    assert out.read_text(encoding="utf-8").startswith(SECRET)  # untouched


def test_fit_missing_data_file(capsys, tmp_path):
    path = model_file(tmp_path, "f =~ x1 + x2 + x3\n")
    line = cli_error(capsys, ["fit", "--data", tmp_path / "nope.csv", "--model", path, "--out", tmp_path / "o"])
    assert "nope.csv" in line


def test_fit_missing_model_file(capsys, data_csv, tmp_path):
    line = cli_error(capsys, ["fit", "--data", data_csv, "--model", tmp_path / "nope.lav", "--out", tmp_path / "o"])
    assert "nope.lav" in line and "not found" in line


def test_fit_bootstrap_not_a_number(capsys, data_csv, tmp_path):
    line = fit_error(capsys, data_csv, tmp_path, "f =~ x1 + x2 + x3\n", "--bootstrap", "lots")
    assert "--bootstrap" in line


def test_invariance_unknown_group(capsys, data_csv, tmp_path):
    path = model_file(tmp_path, "f =~ x1 + x2 + x3\n")
    line = cli_error(capsys, ["invariance", "--data", data_csv, "--model", path, "--group", "nogroup",
                              "--out", tmp_path / "o"])
    assert "--group 'nogroup'" in line


# --------------------------------------------------------------------------- CRM exports
def crm_folder(tmp_path: Path, **changes) -> Path:
    """A valid orders.csv (100 orders of 40 customers in 2025), with ``changes`` = {row: {column: value}}."""
    frame = pd.DataFrame({"order_id": range(1, 101), "customer_id": [f"C{i % 40}" for i in range(100)],
                          "timestamp": pd.date_range("2025-01-01", periods=100, freq="3D").strftime("%Y-%m-%d"),
                          "amount": np.round(np.linspace(5, 200, 100), 2), "note": SECRET}).astype(object)
    for row, values in changes.get("rows", {}).items():
        for column, value in values.items():
            frame.loc[row, column] = value
    frame = frame.drop(columns=changes.get("drop", []))
    folder = tmp_path / "acme_crm"
    folder.mkdir(exist_ok=True)
    frame.to_csv(folder / "orders.csv", index=False)
    return folder


def read_crm(folder):
    from analysis.behaviour.database import read_crm_export

    return read_crm_export(folder, months=24)


@pytest.mark.parametrize("rows,column,expected", [
    ({7: {"timestamp": "2099-05-01"}}, "timestamp", "no later than the day of the run"),
    ({2: {"timestamp": "2001-01-01"}}, "timestamp", "observation window"),
    ({9: {"timestamp": "31/31/2025"}}, "timestamp", "expected a date"),
    ({3: {"amount": -5}}, "amount", "expected an amount >= 0"),
    ({4: {"amount": "twelve"}}, "amount", "expected a number"),
    ({50: {"order_id": 3}}, "order_id", "unique order ids"),
    ({6: {"customer_id": ""}}, "customer_id", "expected a customer id"),
], ids=["future-date", "before-window", "unparseable-date", "negative-amount", "text-amount", "duplicate-order",
        "empty-customer"])
def test_crm_bad_cell(tmp_path, rows, column, expected):
    message = error_of(DataError, read_crm, crm_folder(tmp_path, rows=rows))
    row = next(iter(rows))
    assert message.startswith(f"acme_crm/orders.csv: line {row + 2}, column '{column}'") and expected in message


def test_crm_missing_columns(tmp_path):
    message = error_of(DataError, read_crm, crm_folder(tmp_path, drop=["amount"]))
    assert "orders.csv" in message and "missing column(s) amount" in message


def test_crm_without_orders(tmp_path):
    (tmp_path / "empty_crm").mkdir()
    message = error_of(DataError, read_crm, tmp_path / "empty_crm")
    assert "empty_crm" in message and "no orders table" in message


def test_crm_orphans_none_match(tmp_path):
    from analysis.behaviour.database import check_linkage

    crm = read_crm(crm_folder(tmp_path))
    respondents = pd.Series([f"R{k}" for k in range(60)])
    message = error_of(DataError, check_linkage, respondents, crm.orders["customer_id"], folder="acme_crm")
    assert "0 of 60 survey respondents" in message and "'customer_id'" in message and "40 customers" in message


def test_crm_few_orphans_are_counted(tmp_path):
    from analysis.behaviour.database import check_linkage

    crm = read_crm(crm_folder(tmp_path))
    respondents = pd.Series([f"C{k}" for k in range(45)])  # C40..C44 are not customers
    assert check_linkage(respondents, crm.orders["customer_id"], folder="acme_crm") == (5, 45)


# --------------------------------------------------------------------------- power and other CLI options
@pytest.mark.parametrize("argv,named", [
    (["--n", "abc"], "--n"),
    (["--n", "10,20"], "--n"),
    (["--reps", "5"], "--reps"),
    (["--reps", "many"], "--reps"),
], ids=["n-text", "n-too-small", "reps-too-few", "reps-text"])
def test_power_bad_options(capsys, tmp_path, argv, named):
    line = cli_error(capsys, ["power", "--client", "default", *argv, "--out", tmp_path / "power"])
    assert named in line


def test_unknown_command(capsys):
    line = cli_error(capsys, ["explode"])
    assert "invalid choice" in line


def test_simulate_sample_size_not_a_number(capsys, tmp_path):
    line = cli_error(capsys, ["simulate", "--n", "x" * 5000, "--out", tmp_path])
    assert "--n" in line


def test_exception_messages_are_one_line_and_bounded():
    error = ConfigError("first line\nsecond line " + "y" * 1000)
    assert "\n" not in str(error) and len(str(error)) <= LIMIT and str(error).startswith("first line second")


# --------------------------------------------------------------------------- small samples
def test_fewer_complete_rows_than_variables_is_named_with_the_counts(capsys, tmp_path):
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(20, 16)), columns=[f"v{k}" for k in range(16)])
    frame.iloc[::3, 2] = np.nan  # 7 incomplete rows: 13 complete rows for 16 variables
    frame.to_csv(tmp_path / "small.csv", index=False)
    model = "f =~ " + " + ".join(frame.columns[:8]) + "\ng =~ " + " + ".join(frame.columns[8:]) + "\n"
    line = cli_error(capsys, ["fit", "--data", tmp_path / "small.csv", "--model", model_file(tmp_path, model),
                              "--out", tmp_path / "out"])
    assert "only 13 complete rows for 16 model variables (7 rows dropped" in line


@pytest.mark.slow
def test_the_documented_minimum_sample_size_renders_a_report(tmp_path):
    """``simulation.sample_size`` at its documented minimum (100) gives a complete report."""
    from analysis.profile.settings import SCHEMA
    from analysis.report.build import build_report

    minimum = int(SCHEMA["simulation"].children["sample_size"].minimum)
    profile = write_profile(tmp_path / "clients", "small-sample", report={"formats": ["html"]},
                            simulation={"sample_size": minimum}, analysis={"seed": 7, "bootstrap_draws": 200})
    folder = build_report(client=str(profile), output_root=tmp_path / "out", renderer="nbconvert")
    assert (folder / "index.html").is_file() and (folder / "tables" / "paths.csv").is_file()

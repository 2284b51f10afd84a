"""Batch of client reports on Dask (``python -m analysis batch``, ``make reports``).

The unit tests replace the per-client build with a stand-in that writes a manifest as
``build_report`` does (same digests, same ``write_manifest``), and run on an in-process
LocalCluster reached through its scheduler address, so they cover the Dask route without
rendering. One slow test renders two real small clients and a broken one.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from analysis.errors import DataError, RenderError
from analysis.paths import CLIENTS_DIR, DATA_DIR, simulated_data_folder
from analysis.profile.settings import available_profiles, load_profile
from analysis.report.batch import SUMMARY_COLUMNS, error_line, format_summary, resolve_clients, run_batch
from analysis.report.digests import code_digest, inputs_digest
from analysis.report.manifest import write_manifest
from conftest import write_profile

_BLAS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@pytest.fixture(autouse=True)
def _restore_blas_env(monkeypatch):
    # the batch task pins BLAS threads in its process; here that process is the test's own
    for name in _BLAS:
        monkeypatch.setenv(name, "1")


@pytest.fixture(scope="module")
def scheduler():
    """Address of an in-process LocalCluster (one thread): the stand-in builders need no pickling."""
    from dask.distributed import LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None)
    yield cluster.scheduler_address
    cluster.close()


class FakeBuilder:
    """Writes ``index.html`` and a manifest with the real digests; fails for the clients in ``fail``.

    Dask copies the builder to the worker even in-process, so calls are logged to a file.
    """

    def __init__(self, folder: Path, fail: dict[str, BaseException] | None = None) -> None:
        import tempfile

        self.fail = fail or {}
        handle, name = tempfile.mkstemp(prefix="calls-", suffix=".log", dir=folder)
        os.close(handle)
        self.log = Path(name)

    @property
    def calls(self) -> list[str]:
        return self.log.read_text(encoding="utf-8").split()

    def __call__(self, client: str, output_root: str) -> Path:
        settings = load_profile(client)
        cid = settings.client.id
        with self.log.open("a", encoding="utf-8") as stream:
            stream.write(cid + "\n")
        if cid in self.fail:
            raise self.fail[cid]
        folder = Path(output_root) / cid
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "index.html").write_text("<html></html>", encoding="utf-8")
        write_manifest(folder, parameters=settings.to_dict(), seed=settings.analysis.seed, inputs={},
                       digests={"inputs_digest": inputs_digest(settings), "code_digest": code_digest()})
        return folder


@pytest.fixture
def clients(tmp_path):
    folder = tmp_path / "clients"
    for name in ("alpha", "beta", "gamma"):
        write_profile(folder, name, report={"formats": ["html"]})
    return folder


def _run(clients, tmp_path, scheduler, builder, **kwargs):
    return run_batch(kwargs.pop("names", None), clients_dir=clients, output_root=tmp_path / "out",
                     scheduler=scheduler, builder=builder, progress=False, **kwargs)


def _statuses(result):
    return {o.client: o.status for o in result.outcomes}


def test_one_failure_never_stops_the_others(clients, tmp_path, scheduler):
    error = DataError("data/raw/beta.csv: row 3, column SAT2: expected 1-7, got 9")
    builder = FakeBuilder(tmp_path, {"beta": error})
    result = _run(clients, tmp_path, scheduler, builder)
    assert _statuses(result) == {"alpha": "ok", "beta": "failed", "gamma": "ok"}
    assert sorted(builder.calls) == ["alpha", "beta", "gamma"]
    assert result.exit_code == 1
    beta = result.failed[0]
    assert beta.error == "data/raw/beta.csv: row 3, column SAT2: expected 1-7, got 9" and beta.output == ""
    assert (tmp_path / "out" / "alpha" / "index.html").is_file()


def test_an_unexpected_exception_is_one_internal_error_line(clients, tmp_path, scheduler):
    builder = FakeBuilder(tmp_path, {"gamma": KeyError("SAT2")})
    (failed,) = _run(clients, tmp_path, scheduler, builder).failed
    assert failed.error == "internal error: KeyError: 'SAT2'"
    assert error_line(RuntimeError("first line\nTraceback (most recent call last):\n  more")) == \
        "internal error: RuntimeError: first line"


def test_all_ok_exits_zero(clients, tmp_path, scheduler):
    result = _run(clients, tmp_path, scheduler, FakeBuilder(tmp_path))
    assert result.exit_code == 0 and set(_statuses(result).values()) == {"ok"}


def test_summary_is_written_in_the_order_asked_for(clients, tmp_path, scheduler):
    error = RenderError("notebooks/study.ipynb: cell 7 (In [7]) failed: ValueError: x")
    builder = FakeBuilder(tmp_path, {"alpha": error})
    result = _run(clients, tmp_path, scheduler, builder, names="gamma, alpha")
    assert result.summary_csv == tmp_path / "out" / "_batch" / "summary.csv"
    with result.summary_csv.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == SUMMARY_COLUMNS
    assert [(r["client"], r["status"]) for r in rows] == [("gamma", "ok"), ("alpha", "failed")]
    assert rows[0]["output"].endswith("out/gamma") and float(rows[0]["seconds"]) >= 0
    assert rows[1]["error"].startswith("notebooks/study.ipynb: cell 7")
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    assert manifest["counts"] == {"ok": 1, "unchanged": 0, "failed": 1}
    assert manifest["clients"] == ["gamma", "alpha"] and manifest["code_digest"] == code_digest()
    assert manifest["summary"]["sha256"] is not None
    assert not [p for p in result.summary_csv.parent.iterdir() if p.name.startswith(".")], "no temporary files"
    table = format_summary(result)
    assert "error: notebooks/study.ipynb: cell 7" in table and "1 ok, 0 unchanged, 1 failed" in table


def test_summary_folder_can_be_chosen(clients, tmp_path, scheduler):
    result = _run(clients, tmp_path, scheduler, FakeBuilder(tmp_path), names="alpha",
                  summary_dir=tmp_path / "elsewhere")
    assert result.summary_csv == tmp_path / "elsewhere" / "summary.csv" and result.manifest.is_file()


def test_a_rerun_skips_unchanged_clients_and_force_rebuilds(clients, tmp_path, scheduler):
    _run(clients, tmp_path, scheduler, FakeBuilder(tmp_path))
    again = FakeBuilder(tmp_path)
    result = _run(clients, tmp_path, scheduler, again)
    assert set(_statuses(result).values()) == {"unchanged"} and again.calls == []
    assert result.exit_code == 0 and result.outcomes[0].output.endswith("out/alpha")

    profile = clients / "beta.yml"
    profile.write_text(profile.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")  # new bytes
    (tmp_path / "out" / "gamma" / "index.html").unlink()  # a listed output went missing
    third = FakeBuilder(tmp_path)
    assert _statuses(_run(clients, tmp_path, scheduler, third)) == {
        "alpha": "unchanged", "beta": "ok", "gamma": "ok"}
    forced = FakeBuilder(tmp_path)
    assert set(_statuses(_run(clients, tmp_path, scheduler, forced, force=True)).values()) == {"ok"}
    assert sorted(forced.calls) == ["alpha", "beta", "gamma"]


def test_a_replaced_salt_makes_the_report_stale(clients, tmp_path, scheduler):
    from analysis.privacy import salt_fingerprint

    salt = tmp_path / "secret.salt"
    salt.write_bytes(b"s" * 32)
    write_profile(clients, "alpha", report={"formats": ["html"]}, privacy={"salt_file": str(salt)})
    _run(clients, tmp_path, scheduler, FakeBuilder(tmp_path), names="alpha")
    manifest = tmp_path / "out" / "alpha" / "manifest.json"
    record = json.loads(manifest.read_text(encoding="utf-8"))
    record["parameters"]["privacy"]["salt_fingerprint"] = salt_fingerprint(salt.read_bytes())  # as build_report does
    manifest.write_text(json.dumps(record), encoding="utf-8")
    assert _statuses(_run(clients, tmp_path, scheduler, FakeBuilder(tmp_path), names="alpha")) == {
        "alpha": "unchanged"}
    salt.write_bytes(b"t" * 32)
    assert _statuses(_run(clients, tmp_path, scheduler, FakeBuilder(tmp_path), names="alpha")) == {"alpha": "ok"}


def test_the_recorded_digests_follow_the_files_the_profile_names(tmp_path):
    data = tmp_path / "export.csv"
    data.write_text("id\n1\n", encoding="utf-8")
    profile = write_profile(tmp_path / "clients", "acme", data={"source": "file", "path": str(data)})
    before = inputs_digest(load_profile(profile))
    data.write_text("id\n2\n", encoding="utf-8")
    assert inputs_digest(load_profile(profile)) != before


def test_a_failed_rebuild_is_not_mistaken_for_unchanged(clients, tmp_path, scheduler):
    _run(clients, tmp_path, scheduler, FakeBuilder(tmp_path))
    manifest = tmp_path / "out" / "alpha" / "manifest.json"
    record = json.loads(manifest.read_text(encoding="utf-8"))
    record["code_digest"] = "0" * 64  # made by other code
    manifest.write_text(json.dumps(record), encoding="utf-8")
    builder = FakeBuilder(tmp_path, {"alpha": DataError("bad")})
    assert _statuses(_run(clients, tmp_path, scheduler, builder))["alpha"] == "failed"


def test_client_names_are_checked_before_anything_is_read(clients):
    assert resolve_clients(None, clients) == ["alpha", "beta", "gamma"]
    assert resolve_clients("gamma,alpha gamma", clients) == ["gamma", "alpha"]
    with pytest.raises(ValueError) as caught:
        resolve_clients("../../etc/passwd,nope,alpha", clients)
    message = str(caught.value)
    assert message.startswith("--clients: expected profile names")
    assert "'../../etc/passwd'" in message and "'nope'" in message and "available: alpha, beta, gamma" in message
    assert "root:" not in message and "\n" not in message


def test_an_invalid_profile_is_a_failed_row_and_the_rest_is_built(clients, tmp_path, scheduler):
    write_profile(clients, "broken", analysis={"seed": 1, "ci_level": 95})
    result = _run(clients, tmp_path, scheduler, FakeBuilder(tmp_path))
    assert _statuses(result) == {"alpha": "ok", "beta": "ok", "broken": "failed", "gamma": "ok"}
    error = result.failed[0].error
    assert "broken.yml" in error and "analysis.ci_level" in error and "\n" not in error


def test_an_id_naming_another_commands_folder_is_refused(clients, tmp_path, scheduler):
    write_profile(clients, "survey")
    (failed,) = _run(clients, tmp_path, scheduler, FakeBuilder(tmp_path), names="survey").failed
    assert "client.id: 'survey' is the folder of another command" in failed.error


def test_progress_is_one_plain_line_per_client_without_a_terminal(clients, tmp_path, scheduler, capsys):
    run_batch("alpha,beta", clients_dir=clients, output_root=tmp_path / "out", scheduler=scheduler,
              builder=FakeBuilder(tmp_path, {"beta": DataError("bad cell")}))
    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split("] ", 1)[1].split(" (")[0] for line in lines) == ["alpha: ok", "beta: failed"]
    assert sorted(line.split("]")[0] for line in lines) == ["[1/2", "[2/2"]
    assert next(line for line in lines if "beta" in line).endswith(" s): bad cell")


def test_an_external_scheduler_is_used_and_left_running(clients, tmp_path, scheduler):
    from dask.distributed import Client

    _run(clients, tmp_path, scheduler, FakeBuilder(tmp_path), names="alpha")
    with Client(scheduler) as client:  # still up: the batch closed only its own connection
        assert len(client.scheduler_info()["workers"]) == 1


def test_the_command_line_refuses_bad_names_in_one_line(capsys):
    from analysis.cli.main import main

    assert main(["batch", "--clients", "../../etc/passwd"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --clients:") and len(err.splitlines()) == 1


def test_shipped_profiles_all_load_except_the_deliberately_broken_one():
    names = available_profiles()
    assert "demo-broken" in names
    for name in names:
        if name == "demo-broken":
            with pytest.raises(ValueError, match=r"demo-broken\.yml: analysis\.ci_level"):
                load_profile(name)
        else:
            load_profile(name)


# --------------------------------------------------------------------------- end to end
@pytest.fixture
def _e2e_data():
    """Remove the simulated raw data and the salts the end-to-end clients leave in the project's data folder."""
    yield
    for k in range(2):
        shutil.rmtree(simulated_data_folder(f"batch-e2e-{'ab'[k]}", 9100 + k, 200), ignore_errors=True)
    for salt in (DATA_DIR / "secrets").glob("batch-e2e-*.salt"):
        salt.unlink(missing_ok=True)


@pytest.mark.slow
def test_two_real_clients_and_a_broken_one_on_a_local_cluster(tmp_path, _e2e_data):
    """Two real small reports on the default LocalCluster; a client with a bad data cell fails alone."""
    raw = yaml.safe_load((CLIENTS_DIR / "default.yml").read_text(encoding="utf-8"))
    folder = tmp_path / "clients"
    folder.mkdir()
    ids = ["batch-e2e-a", "batch-e2e-b"]
    for k, cid in enumerate(ids):
        profile = {**raw, "client": {"name": cid, "id": cid}, "report": {**raw["report"], "formats": ["html"]},
                   "simulation": {**raw["simulation"], "sample_size": 200},
                   "analysis": {**raw["analysis"], "seed": 9100 + k, "bootstrap_draws": 0},
                   "behaviour": {**raw["behaviour"], "n_customers": 2000}}
        (folder / f"{cid}.yml").write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    export = tmp_path / "export.csv"
    export.write_text("respondent_id,SAT1\nr1,not a number\n", encoding="utf-8")
    write_profile(folder, "batch-e2e-broken", report={"formats": ["html"]},
                  data={"source": "file", "path": str(export)})
    result = run_batch(None, clients_dir=folder, output_root=tmp_path / "out", workers=2, progress=False)
    statuses = _statuses(result)
    assert statuses == {"batch-e2e-a": "ok", "batch-e2e-b": "ok", "batch-e2e-broken": "failed"}, format_summary(result)
    assert result.exit_code == 1
    (broken,) = result.failed
    assert "\n" not in broken.error and "Traceback" not in broken.error and len(broken.error) <= 300
    for cid in ids:
        manifest = json.loads((tmp_path / "out" / cid / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["client_id"] == cid and (tmp_path / "out" / cid / "index.html").is_file()
        assert manifest["inputs_digest"] == inputs_digest(load_profile(folder / f"{cid}.yml"))
        assert manifest["code_digest"] == code_digest()
    again = run_batch(ids, clients_dir=folder, output_root=tmp_path / "out", workers=2, progress=False)
    assert set(_statuses(again).values()) == {"unchanged"}

"""Many clients' reports at once, on Dask: ``python -m analysis batch`` and ``make reports``.

Every client's report is one Dask task calling :func:`analysis.report.build.build_report`,
on a ``LocalCluster`` of single-threaded worker processes by default (BLAS pinned to one
thread each: a report is mostly small matrices, and the cores are better filled with
whole reports) or on an existing scheduler when its address is given (its workers must
see the project at the same path). Dask is used rather than a process pool because the
same code then scales from a laptop to a cluster, as for the power study.

* **Isolation.** A task never raises: a user error becomes its one-line message, anything
  else ``internal error: <Type>: <first line>``, and the other clients go on. Any failure
  makes the exit code non-zero.
* **No collisions.** Each client writes only ``<output root>/<client id>/`` through a staging
  folder of its own; a profile's id equals its file name, so two profiles of one folder
  cannot share an output folder, and ids naming another command's folder are refused.
* **Skip unchanged.** A client whose recorded ``inputs_digest`` and ``code_digest``
  (``manifest.json``, :mod:`analysis.report.digests`) equal the current ones, whose
  listed outputs all exist and whose secret salt is the one recorded (by fingerprint), is
  not rebuilt (status ``unchanged``) unless ``force``.
* **Summary.** ``summary.csv`` (client, status, seconds, output, error) and a small
  ``manifest.json`` are written atomically to ``<output root>/_batch/``.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
import logging
import os
import re
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from analysis.atomic import atomic_write_text
from analysis.errors import ConfigError, WorkbenchError, one_line, shorten
from analysis.paths import CLIENTS_DIR, OUTPUT_ROOT, PROJECT_ROOT
from analysis.profile.settings import available_profiles, load_profile
from analysis.progress import progress_enabled
from analysis.provenance import MANIFEST_NAME, file_record, git_state, package_versions
from analysis.report.digests import code_digest, inputs_digest

__all__ = [
    "STATUSES",
    "SUMMARY_COLUMNS",
    "SUMMARY_DIR",
    "RESERVED_IDS",
    "ClientOutcome",
    "BatchResult",
    "resolve_clients",
    "is_current",
    "error_line",
    "run_batch",
    "format_summary",
]

STATUSES = ("ok", "unchanged", "failed")
SUMMARY_COLUMNS = ("client", "status", "seconds", "output", "error")
#: Folder of the batch summary under the output root (a client id cannot start with "_").
SUMMARY_DIR = "_batch"
#: Folders under ``reports/_output`` written by other commands; a client of that id would replace them.
RESERVED_IDS = frozenset({"bench", "interactive", "survey"})
_BLAS_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class ClientOutcome:
    """One row of the summary: what happened to one client."""

    client: str
    status: str  # one of STATUSES
    seconds: float
    output: str  # the report folder (empty when it failed)
    error: str = ""  # one line, empty unless failed


@dataclass(frozen=True)
class BatchResult:
    """Every client's outcome (in the order asked for) and where the summary was written."""

    outcomes: tuple[ClientOutcome, ...]
    summary_csv: Path
    manifest: Path
    seconds: float

    @property
    def failed(self) -> list[ClientOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def exit_code(self) -> int:
        """0 when every client is ok or unchanged, else 1."""
        return 1 if self.failed else 0


def _display(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def resolve_clients(names: str | Sequence[str] | None, clients_dir: str | os.PathLike | None = None) -> list[str]:
    """The profile names to build: ``names`` checked against ``clients_dir``, or every profile there.

    Parameters
    ----------
    names : str, sequence of str or None
        Names separated by commas or spaces (``"acme,globex"``), or a list; None or empty: every
        ``*.yml`` in ``clients_dir``. Duplicates are dropped, the order kept.
    clients_dir : path-like, optional
        Default ``reports/clients``.

    Raises
    ------
    ConfigError
        One line naming every name that is not a profile name (only ``a-z``, ``0-9``, ``-``,
        ``_``: no paths, so nothing outside the clients folder is ever opened) or has no profile.
    """
    directory = Path(clients_dir) if clients_dir is not None else CLIENTS_DIR
    available = available_profiles(directory)
    if isinstance(names, str):
        names = re.split(r"[,\s]+", names)
    wanted = list(dict.fromkeys(n.strip() for n in (names or []) if n and n.strip()))
    if not wanted:
        if not available:
            raise ConfigError(f"{_display(directory)}: no client profiles (*.yml) found")
        return available
    invalid = [n for n in wanted if not _NAME.match(n)]
    unknown = [n for n in wanted if _NAME.match(n) and n not in available]
    problems = []
    if invalid:
        problems.append("expected profile names (a-z, 0-9, '-', '_'), got "
                        + ", ".join(shorten(n, 40) for n in invalid[:5]) + (" ..." if len(invalid) > 5 else ""))
    if unknown:
        listing = ", ".join(available[:20]) + (" ..." if len(available) > 20 else "") if available else "none"
        problems.append(f"no profile in {_display(directory)} for " + ", ".join(shorten(n, 40) for n in unknown[:5])
                        + (" ..." if len(unknown) > 5 else "") + f" (available: {listing})")
    if problems:
        raise ConfigError("--clients: " + "; ".join(problems))
    return wanted


def is_current(settings, output_root: str | os.PathLike, code: str) -> bool:
    """Whether ``<output_root>/<id>/`` holds a complete report of these inputs made by this code."""
    folder = Path(output_root) / settings.client.id
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or manifest.get("code_digest") != code:
        return False
    if manifest.get("inputs_digest") != inputs_digest(settings):
        return False
    listed = [rec.get("path") for rec in manifest.get("outputs") or [] if isinstance(rec, dict)]
    if not (listed and all(isinstance(p, str) and (folder / p).is_file() for p in listed)):
        return False
    return _same_salt(settings, manifest)


def _same_salt(settings, manifest: dict) -> bool:
    """Whether the report's pseudonyms were made with the client's salt as it is now.

    The secret salt lives outside the profile (``data/secrets/<id>.salt`` by default), so it
    is not in the inputs digest; the manifest records its fingerprint instead, and a deleted
    or replaced salt makes the report stale.
    """
    recorded = ((manifest.get("parameters") or {}).get("privacy") or {}).get("salt_fingerprint")
    if recorded is None:
        return True  # nothing was pseudonymised with a recorded salt
    from analysis.privacy import default_salt_path, salt_fingerprint

    configured = getattr(getattr(settings, "privacy", None), "salt_file", None)
    path = default_salt_path(settings.client.id) if configured is None else (
        Path(configured) if Path(configured).is_absolute() else PROJECT_ROOT / configured)
    try:
        return salt_fingerprint(path.read_bytes()) == recorded
    except OSError:
        return False


def error_line(exc: BaseException) -> str:
    """One line for the summary: a user error's message, else ``internal error: <Type>: <first line>``."""
    if isinstance(exc, WorkbenchError):
        return one_line(str(exc)) or type(exc).__name__
    lines = str(exc).strip().splitlines()
    return one_line(f"internal error: {type(exc).__name__}" + (f": {lines[0]}" if lines else ""))


def _build_task(profile: str, output_root: str, builder: Callable | None = None, cores: int = 1) -> dict:
    """Build one report on a worker; never raises (the outcome says what happened).

    ``cores`` is the report's core budget (:mod:`analysis.cores`): the clients of a batch
    already fill the machine, so each report runs its bootstrap and figures in line.
    """
    from threadpoolctl import threadpool_limits

    # Also on a remote scheduler's workers: one BLAS thread here and in the kernel (which
    # inherits the environment; execute_notebook pins it again).
    os.environ.update(_BLAS_ENV)
    if builder is None:
        from analysis.report.build import build_report

        builder = functools.partial(build_report, cores=cores)
    started = time.perf_counter()
    try:
        with threadpool_limits(limits=1):
            final = builder(client=profile, output_root=output_root)
    except Exception as exc:  # isolation: one client's failure is a row, never the batch's end
        return {"status": "failed", "seconds": time.perf_counter() - started, "output": "",
                "error": error_line(exc)}
    return {"status": "ok", "seconds": time.perf_counter() - started, "output": _display(Path(final)),
            "error": ""}


def _dask_client(workers: int, scheduler: str | None):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"--scheduler: cannot connect to {shorten(scheduler)}: "
                              f"{one_line(str(exc), 120)}") from None
    # memory_limit=0: a report's memory is in its kernel (a child process the nanny does not
    # count), so the nanny's per-worker limit would only pause or kill work it cannot see.
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR, env=dict(_BLAS_ENV), memory_limit=0)
    return Client(cluster)


class _Progress:
    """A tqdm bar on a terminal, otherwise one plain line per finished client."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.bar = total, 0, None
        if enabled and total and progress_enabled():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="reports", unit="client", file=sys.stderr)

    def update(self, outcome: ClientOutcome) -> None:
        self.done += 1
        line = (f"[{self.done}/{self.total}] {outcome.client}: {outcome.status} ({outcome.seconds:.1f} s)"
                + (f": {outcome.error}" if outcome.error else ""))
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
            self.bar.update(1)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _plan(names: list[str], directory: Path, output_root: Path, force: bool, code: str
          ) -> tuple[dict[str, ClientOutcome], dict[str, str]]:
    """Outcomes decided without building (invalid, colliding, unchanged) and the profiles to build."""
    decided: dict[str, ClientOutcome] = {}
    todo: dict[str, str] = {}
    owners: dict[str, str] = {}
    for name in names:
        started = time.perf_counter()
        try:
            settings = load_profile(directory / f"{name}.yml")
            cid = settings.client.id
            if cid in RESERVED_IDS:
                raise ConfigError(f"{_display(settings.source_path)}: client.id: {cid!r} is the folder of "
                                  f"another command in {_display(output_root)}; expected another id")
            if cid in owners:
                raise ConfigError(f"{_display(settings.source_path)}: client.id: {cid!r} is also the id of "
                                  f"{owners[cid]}; their reports would overwrite each other")
            owners[cid] = name
            current = not force and is_current(settings, output_root, code)
        except Exception as exc:
            decided[name] = ClientOutcome(name, "failed", time.perf_counter() - started, "", error_line(exc))
            continue
        if current:
            decided[name] = ClientOutcome(name, "unchanged", time.perf_counter() - started,
                                          _display(output_root / cid))
        else:
            todo[name] = str(settings.source_path)
    return decided, todo


def run_batch(
    clients: str | Sequence[str] | None = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    clients_dir: str | os.PathLike | None = None,
    output_root: str | os.PathLike = OUTPUT_ROOT,
    summary_dir: str | os.PathLike | None = None,
    builder: Callable | None = None,
    progress: bool = True,
) -> BatchResult:
    """Build the reports of several clients in parallel and write the batch summary.

    Parameters
    ----------
    clients : str, sequence of str or None
        Profile names (see :func:`resolve_clients`); None: every profile in ``clients_dir``.
    workers : int, optional
        LocalCluster worker processes; default: the number of cores, at most one per report.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``) instead of a LocalCluster.
    force : bool, default False
        Rebuild clients whose report is current.
    clients_dir : path-like, optional
        Where the profiles are (default ``reports/clients``).
    output_root : path-like
        Reports go to ``<output_root>/<client id>/``.
    summary_dir : path-like, optional
        Default ``<output_root>/_batch``.
    builder : callable, optional
        ``builder(client=<profile path>, output_root=...) -> folder``; default
        :func:`analysis.report.build.build_report` (tests pass a stand-in).
    progress : bool, default True
        Show progress (a bar on a terminal, else a line per finished client).

    Returns
    -------
    BatchResult

    Raises
    ------
    ConfigError
        Unknown or invalid client names, ``workers`` < 1, or an unreachable scheduler (nothing
        is built then). A client's own failure is never raised: it is its outcome.
    """
    started_at = dt.datetime.now(dt.timezone.utc)
    clock = time.perf_counter()
    directory = Path(clients_dir) if clients_dir is not None else CLIENTS_DIR
    output_root = Path(output_root).absolute()
    names = resolve_clients(clients, directory)
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers: expected a whole number >= 1, got {workers}")
    code = code_digest()
    decided, todo = _plan(names, directory, output_root, force, code)
    bar = _Progress(len(names), progress)
    for outcome in decided.values():
        bar.update(outcome)
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    if todo:
        quiet = logging.getLogger("distributed")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # the cluster's start/stop chatter is not for the reader
        dask = _dask_client(n_workers, scheduler)
        try:
            from dask.distributed import as_completed

            # A LocalCluster's workers share this machine's cores; a remote worker runs one report per thread.
            cores = max(1, (os.cpu_count() or 1) // n_workers) if scheduler is None else 1
            futures = {dask.submit(_build_task, profile, str(output_root), builder, cores, pure=False,
                                   key=f"report-{name}-{time.time_ns()}"): name
                       for name, profile in todo.items()}
            for future in as_completed(futures):
                name = futures[future]
                try:
                    row = future.result()
                except Exception as exc:  # the worker died or the task could not be run
                    row = {"status": "failed", "seconds": 0.0, "output": "", "error": error_line(exc)}
                decided[name] = ClientOutcome(name, row["status"], float(row["seconds"]), row["output"],
                                              row["error"])
                bar.update(decided[name])
        finally:
            cluster = getattr(dask, "cluster", None)
            dask.close()
            if cluster is not None:
                cluster.close()
            quiet.setLevel(level)
    bar.close()
    outcomes = tuple(decided[name] for name in names)
    target = Path(summary_dir) if summary_dir is not None else output_root / SUMMARY_DIR
    seconds = time.perf_counter() - clock
    csv_path, manifest = _write_summary(outcomes, target, started_at=started_at, seconds=seconds, code=code,
                                        workers=None if scheduler else n_workers, scheduler=scheduler, force=force)
    return BatchResult(outcomes, csv_path, manifest, seconds)


def _write_summary(outcomes: Sequence[ClientOutcome], folder: Path, *, started_at: dt.datetime, seconds: float,
                   code: str, workers: int | None, scheduler: str | None, force: bool) -> tuple[Path, Path]:
    """``summary.csv`` and ``manifest.json`` in ``folder``, each written atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SUMMARY_COLUMNS)
    for o in outcomes:
        writer.writerow([o.client, o.status, f"{o.seconds:.1f}", o.output, o.error])
    csv_path = atomic_write_text(folder / "summary.csv", buffer.getvalue())
    counts = {status: sum(o.status == status for o in outcomes) for status in STATUSES}
    manifest = {
        "kind": "batch", "started": started_at.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "seconds": round(seconds, 1),
        "command_line": shlex.join(sys.argv), "clients": [o.client for o in outcomes], "counts": counts,
        "workers": workers, "scheduler": scheduler, "force": force, "code_digest": code,
        "git": git_state(), "versions": package_versions(("dask", "distributed", "papermill")),
        "summary": file_record(csv_path, folder),
    }
    manifest_path = atomic_write_text(folder / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
    return csv_path, manifest_path


def format_summary(result: BatchResult) -> str:
    """The summary table as printed at the end of a batch (errors on their own indented line)."""
    width = max([len("client")] + [len(o.client) for o in result.outcomes])
    lines = [f"{'client':<{width}}  {'status':<9}  {'seconds':>8}  output"]
    for o in result.outcomes:
        lines.append(f"{o.client:<{width}}  {o.status:<9}  {o.seconds:8.1f}  {o.output or '-'}")
        if o.error:
            lines.append(f"{'':<{width}}  error: {o.error}")
    counts = ", ".join(f"{sum(o.status == s for o in result.outcomes)} {s}" for s in STATUSES)
    lines.append(f"{counts} in {result.seconds:.1f} s; summary written to {_display(result.summary_csv)}")
    return "\n".join(lines)

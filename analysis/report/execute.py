"""Execute a parameterised notebook with papermill, failing with one readable line.

The kernel is the interpreter running the workbench: papermill's kernel ``python3``
(and the ``eloyalty`` kernel the Makefile registers) start ``sys.executable`` when
launched from the project's virtualenv, because jupyter_client replaces a bare
``python`` in a kernel spec by ``sys.executable``. :func:`resolve_kernel` checks this
instead of trusting it, so a stray user-level kernel spec cannot silently run the
report in another environment.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

# jsonschema (under nbformat) imports the optional IRI checker rfc3987-syntax when it is
# installed (a JupyterLab dependency pulls it in), which compiles a grammar for about a second
# on every start. Notebook schemas check no IRIs; marking the module absent makes jsonschema
# skip that checker, as on installations without it.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

import nbformat  # noqa: E402 - after the line above

from analysis.cores import REPORT_CORES_ENV
from analysis.errors import RenderError
from analysis.paths import PROJECT_ROOT

__all__ = ["ExecutionInfo", "execute_notebook", "resolve_kernel", "failed_notebook_path"]

_DEFAULT_KERNELS = ("python3", "eloyalty")
_INJECTED_TAG = "injected-parameters"
_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecutionInfo:
    """What ran: the notebook, where it was written, the kernel and how long it took."""

    notebook: Path
    output: Path
    kernel_name: str
    kernel_python: str
    seconds: float


def _display(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _kernel_python(argv: list[str]) -> str:
    first = argv[0] if argv else ""
    # Mirrors jupyter_client.KernelManager.format_kernel_cmd.
    bare = {"python", f"python{sys.version_info[0]}", "python%i.%i" % sys.version_info[:2]}
    return sys.executable if first in bare else first


def resolve_kernel(kernel_name: str | None = None) -> tuple[str, str]:
    """Return ``(kernel_name, interpreter)`` for executing report notebooks.

    With ``kernel_name=None`` the first of ``python3``, ``eloyalty`` whose interpreter
    is the current ``sys.executable`` is used; a RenderError explains how to register
    one if neither is.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    names = [kernel_name] if kernel_name else list(_DEFAULT_KERNELS)
    here = os.path.abspath(sys.executable)
    for name in names:
        try:
            spec = manager.get_kernel_spec(name)
        except NoSuchKernel:
            continue
        python = _kernel_python(list(spec.argv))
        if kernel_name or os.path.abspath(python) == here:
            return name, python
    available = ", ".join(sorted(manager.find_kernel_specs())) or "none"
    if kernel_name:
        raise RenderError(f"Jupyter kernel {kernel_name!r} not found; available kernels: "
                          f"{available}")
    raise RenderError(
        f"no Jupyter kernel runs this interpreter ({sys.executable}); kernels found: "
        f"{available}. Register one with: {sys.executable} -m ipykernel install "
        "--sys-prefix --name eloyalty"
    )


def failed_notebook_path(output: str | os.PathLike) -> Path:
    """Where a failed run's partially executed notebook is kept: ``<stem>.failed.ipynb``."""
    output = Path(output)
    return output.with_name(f"{output.stem}.failed{output.suffix}")


def _source_cell_number(cells: list, executed_index: int, source_ids: list | None = None
                        ) -> int:
    """1-based cell number in the *source* notebook (papermill adds injected cells)."""
    cell_id = cells[executed_index].get("id") if executed_index < len(cells) else None
    if source_ids and cell_id in source_ids:
        return source_ids.index(cell_id) + 1
    injected = sum(
        1 for cell in cells[:executed_index]
        if _INJECTED_TAG in cell.get("metadata", {}).get("tags", [])
    )
    return executed_index - injected + 1


def _cell_ids(notebook: Path) -> list:
    try:
        return [cell.get("id") for cell in nbformat.read(notebook, as_version=4).cells]
    except (OSError, ValueError):
        return []


class _UnknownParameters(logging.Filter):
    """Collect papermill's one-warning-per-name about undeclared parameters."""

    prefix = "Passed unknown parameter: "

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(self.prefix):
            self.names.append(message[len(self.prefix):])
            return False
        return True


def _running_cell(output: Path, source_ids: list) -> str:
    """Describe the cell that was running when execution stopped, if it can be found."""
    try:
        nb = nbformat.read(output, as_version=4)
    except (OSError, ValueError):
        return "a cell"
    # papermill marks every cell "completed" on the way out; the one that was running
    # is the last that has a start time.
    started = [index for index, cell in enumerate(nb.cells)
               if cell.get("metadata", {}).get("papermill", {}).get("start_time")]
    if not started:
        return "a cell"
    return f"cell {_source_cell_number(nb.cells, started[-1], source_ids)}"


def _keep_failed(output: Path) -> Path | None:
    if not output.exists():
        return None
    failed = failed_notebook_path(output)
    os.replace(output, failed)
    return failed


def _ipc_kernel_manager() -> type:
    """A kernel manager talking to the kernel over local sockets instead of TCP.

    The kernel runs on this machine only, so IPC is both the natural transport and the
    one ipykernel does not warn about ("Kernel is running over TCP without encryption").
    """
    import tempfile
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum, default

    class IPCKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        @default("ip")
        def _unique_socket_prefix(self) -> str:
            # jupyter_client's default is the relative "kernel-ipc", i.e. sockets
            # kernel-ipc-1..5 in the notebook folder (papermill chdirs there): reports built
            # at the same time (batch) would pick the same sockets and talk to each other's
            # kernels. An absolute, per-kernel prefix keeps concurrent builds apart.
            return os.path.join(tempfile.gettempdir(), f"eloyalty-kernel-{uuid.uuid4().hex}-ipc")

    return IPCKernelManager


def execute_notebook(
    notebook: str | os.PathLike,
    output: str | os.PathLike,
    parameters: Mapping[str, Any],
    cwd: str | os.PathLike,
    kernel_name: str | None = None,
    timeout: float = 3600,
    start_timeout: float = 120,
    cores: int | None = None,
) -> ExecutionInfo:
    """Run ``notebook`` with ``parameters`` injected and write it to ``output``.

    Parameters
    ----------
    notebook, output : path-like
        Source notebook (with a cell tagged ``parameters``) and executed notebook.
    parameters : mapping
        Names to literal values (str, int, float, bool, None, lists, dicts); path
        objects are passed as strings.
    cwd : path-like
        Working directory of the kernel.
    kernel_name : str, optional
        Jupyter kernel; by default the one running this interpreter (:func:`resolve_kernel`).
    timeout : float, default 3600
        Seconds one cell may run before execution is abandoned.
    start_timeout : float, default 120
        Seconds to wait for the kernel to start.
    cores : int, optional
        Processor cores the run may use (default: all); the kernel reads it through
        :mod:`analysis.cores`. A batch gives each report one.

    Returns
    -------
    ExecutionInfo

    Raises
    ------
    RenderError
        A cell raised (the message names the notebook, the 1-based cell number in
        the source notebook, the execution count and the exception line, not the
        traceback), a cell timed out, or the kernel died or could not start. The
        partially executed notebook is kept as ``<stem>.failed.ipynb`` next to
        ``output`` and its path is in the message.
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    notebook, output = Path(notebook), Path(output)
    if not notebook.is_file():
        raise RenderError(f"{_display(notebook)}: notebook not found")
    name, python = resolve_kernel(kernel_name)
    values = {k: os.fspath(v) if isinstance(v, os.PathLike) else v
              for k, v in parameters.items()}
    output.parent.mkdir(parents=True, exist_ok=True)
    source_ids = _cell_ids(notebook)
    unknown = _UnknownParameters()
    papermill_log = logging.getLogger("papermill")
    papermill_log.addFilter(unknown)
    started = time.perf_counter()
    # The kernel computes with one BLAS thread: the report's matrices are small, the bootstrap
    # already fills the cores with processes, and a fixed thread count keeps every floating-point
    # reduction in the same order, so the same profile gives byte-identical tables on every run.
    # The kernel learns how many cores this run may use (analysis.cores): all of them for a
    # report built alone, one per report in a batch.
    kernel_env = {**{variable: "1" for variable in _BLAS_THREADS},
                  REPORT_CORES_ENV: str(cores or os.cpu_count() or 1)}
    saved_env = {variable: os.environ.get(variable) for variable in kernel_env}
    os.environ.update(kernel_env)
    try:
        papermill.execute_notebook(
            notebook, output, parameters=values, cwd=os.fspath(cwd), kernel_name=name,
            progress_bar=False, log_output=False, execution_timeout=timeout,
            # Written once at the end (or on a failing cell), not after every cell: re-serialising
            # a notebook that grows to megabytes of figures 80 times cost the run about 2 s.
            request_save_on_cell_execute=False,
            # The notebook is complete when its last cell returns: stop the kernel at once rather
            # than wait seconds for its exit handlers (nothing it holds is needed any more).
            shutdown_kernel="immediate",
            start_timeout=start_timeout, kernel_manager_class=_ipc_kernel_manager(),
        )
    except papermill.PapermillExecutionError as exc:
        number = _source_cell_number(_executed_cells(exc, output), exc.cell_index, source_ids)
        reason = f"{exc.ename}: {str(exc.evalue).strip().splitlines()[0]}" if str(
            exc.evalue).strip() else exc.ename
        kept = _keep_failed(output)
        raise RenderError(
            f"{notebook.name}: cell {number} (In [{exc.exec_count}]) failed: {reason}",  # the kept copy has the path
            tail=f"; partially executed notebook kept at {kept}" if kept else "",
        ) from None
    except (CellTimeoutError, DeadKernelError, RuntimeError) as exc:
        where = _running_cell(output, source_ids)
        kept = _keep_failed(output)
        reason = (f"did not finish within {timeout:g} s" if isinstance(exc, CellTimeoutError)
                  else f"stopped: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
                  if str(exc).strip() else f"stopped: {type(exc).__name__}")
        raise RenderError(
            f"{notebook.name}: {where} {reason}",
            tail=f"; partially executed notebook kept at {kept}" if kept else "",
        ) from None
    finally:
        for variable, value in saved_env.items():  # not `name`: that is the kernel's name
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
        papermill_log.removeFilter(unknown)
        if unknown.names:
            log.info("%s: parameters not declared in its parameters cell (injected anyway): "
                     "%s", _display(notebook), ", ".join(unknown.names))
    return ExecutionInfo(notebook=notebook.resolve(), output=output.resolve(),
                         kernel_name=name, kernel_python=python,
                         seconds=time.perf_counter() - started)


def _executed_cells(exc: Exception, output: Path) -> list:
    """Cells as papermill numbered them when it found the error (before its markers)."""
    try:
        nb = nbformat.read(output, as_version=4)
    except (OSError, ValueError):
        return []
    # papermill inserts an error banner at the top and an anchor before the failing
    # cell after computing cell_index; drop them to recover its numbering.
    return [c for c in nb.cells
            if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])]

"""Build one client's report: profile -> papermill -> HTML -> manifest -> swap into place.

The report is assembled in a hidden staging directory and replaces
``<output_root>/<client id>/`` only when every stage succeeded, so a failed or
interrupted run never leaves a half-written report that looks complete.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from pathlib import Path

from analysis.atomic import StagingDirectory
from analysis.errors import ConfigError, WorkbenchError
from analysis.paths import OUTPUT_ROOT, STUDY_NOTEBOOK, simulated_data_folder
from analysis.privacy import Pseudonymiser
from analysis.privacy.gate import check_report_folder
from analysis.profile.settings import load_profile
from analysis.report.digests import code_digest, inputs_digest
from analysis.report.execute import execute_notebook
from analysis.report.manifest import write_manifest
from analysis.report.render import RENDERERS, render_documents

__all__ = ["build_report", "EXECUTED_NOTEBOOK", "REPORT_HTML"]

EXECUTED_NOTEBOOK = "report.ipynb"
REPORT_HTML = "index.html"
log = logging.getLogger(__name__)


def build_report(
    client: str | os.PathLike = "default",
    output_root: str | os.PathLike = OUTPUT_ROOT,
    notebook: str | os.PathLike = STUDY_NOTEBOOK,
    renderer: str | None = None,
    *,
    kernel_name: str | None = None,
    timeout: float = 3600,
    cores: int | None = None,
) -> Path:
    """Execute the study notebook for ``client`` and render its report.

    Parameters
    ----------
    client : str or path-like, default "default"
        Profile name (``reports/clients/<name>.yml``) or path to a profile file.
    output_root : path-like
        The report is written to ``<output_root>/<client.id>/``.
    notebook : path-like
        Notebook with a ``parameters`` cell; it receives ``profile`` (the absolute path
        of the validated profile, from which it rebuilds the same typed settings) and
        ``output_dir`` (absolute path of the directory being built: write ``tables/``
        and ``figures/`` there). Its working directory is the notebook's own directory,
        as in Jupyter.
    renderer : {"quarto", "nbconvert"}, optional
        Default: Quarto if on PATH, else nbconvert.
    kernel_name : str, optional
        Jupyter kernel; default: the one running this interpreter.
    timeout : float, default 3600
        Seconds a single cell may run.
    cores : int, optional
        Processor cores the run may use (default: all; see :mod:`analysis.cores`). The
        report is the same for every value; a batch gives each report one.

    Returns
    -------
    Path
        The final report directory, containing ``index.html``, ``report.ipynb``,
        whatever the notebook wrote (``tables/``, ``figures/``) and ``manifest.json``.

    Raises
    ------
    ConfigError
        Invalid profile or renderer name (raised before anything is executed).
    RenderError
        A notebook cell or the renderer failed. The previous report is left intact and
        the partial run is kept in ``<output_root>/.<client>.failed-<token>/``
        (path in the message; only the latest failure is kept).

    Notes
    -----
    The executed ``report.ipynb`` records ``output_dir`` as the staging directory's
    path (``.<client>.partial-<token>``), which no longer exists after the swap; the
    manifest's ``parameters`` record the final folder instead.
    """
    started = dt.datetime.now(dt.timezone.utc)
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    if renderer is not None and renderer not in RENDERERS:
        raise ConfigError(f"renderer: expected one of {', '.join(map(repr, RENDERERS))}, "
                          f"got {renderer!r}")
    profile = load_profile(client)
    notebook = Path(notebook).resolve()
    # taken before anything runs, so an edit made during the build makes the report stale
    digests = {"inputs_digest": inputs_digest(profile), "code_digest": code_digest()}
    timings["profile"] = time.perf_counter() - clock
    final = Path(output_root) / profile.client.id
    staging = StagingDirectory(final)
    try:
        with staging as work:
            parameters = {"profile": str(profile.source_path), "output_dir": str(work)}
            log.info("executing %s for client %r", notebook.name, profile.client.id)
            execution = execute_notebook(notebook, work / EXECUTED_NOTEBOOK, parameters,
                                         cwd=notebook.parent, kernel_name=kernel_name,
                                         timeout=timeout, cores=cores)
            timings["execute"] = execution.seconds

            clock = time.perf_counter()
            log.info("rendering %s", ", ".join(profile.report.formats))
            documents = render_documents(work / EXECUTED_NOTEBOOK, work, profile, renderer)
            rendered = documents["html"]
            timings["render"] = time.perf_counter() - clock

            if profile.data.source == "file":
                data_file = profile.data.path
            else:
                data_file = simulated_data_folder(profile.client.id, profile.analysis.seed,
                                                  profile.simulation.sample_size) / "responses.parquet"
            # the manifest says that ids were pseudonymised and with which salt, never the salt itself
            salt = Pseudonymiser.for_client(profile.client.id, profile.privacy.salt_file)
            settings = profile.to_dict()
            settings["privacy"] |= {"pseudonymisation": "HMAC-SHA256", "salt_fingerprint": salt.fingerprint}
            write_manifest(
                work, parameters={**settings, "output_dir": str(final.resolve())},
                seed=profile.analysis.seed,
                inputs={"profile": profile.source_path, "instrument": profile.survey.instrument,
                        "notebook": notebook, "data": data_file},
                renderer=rendered, documents=documents, timings=timings,
                execution={"kernel_name": execution.kernel_name,
                           "kernel_python": execution.kernel_python},
                started=started, finished=dt.datetime.now(dt.timezone.utc), digests=digests,
            )
            clock = time.perf_counter()
            check_report_folder(work, profile)  # no raw id in any file, or nothing is published
            log.info("privacy check: %.2f s", time.perf_counter() - clock)
    except WorkbenchError as exc:
        if staging.failed_path is None:
            raise
        # The partial run was moved after the message was written; point at its new home.
        old, new = str(staging.path), str(staging.failed_path)
        tail = exc.tail.replace(old, new) if old in exc.tail else f" (partial run kept in {new})"
        raise type(exc)(exc.head.replace(old, new), problems=exc.problems, tail=tail) from exc.__cause__
    log.info("report written to %s", final)
    return final

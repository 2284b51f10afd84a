"""``manifest.json``: what produced a report, from which inputs, and what it contains.

The manifest records the parameters and seed, interpreter and package versions, the
git commit (and whether the working tree had uncommitted changes), SHA-256 hashes of
the inputs (profile, instrument, notebook, data file) and of every output file, the
renderer, per-stage timings, start/finish times and the command line. A single
``tables_digest`` over ``tables/*.csv`` tells at a glance whether two runs produced
the same numbers.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import sys
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from analysis.atomic import atomic_write_text
from analysis.paths import PROJECT_ROOT
from analysis.provenance import (
    MANIFEST_NAME,
    PACKAGES,
    file_record,
    git_state,
    output_files,
    package_versions,
    sha256_file,
    tables_digest,
)

__all__ = [
    "MANIFEST_NAME",
    "PACKAGES",
    "sha256_file",
    "package_versions",
    "git_state",
    "output_files",
    "tables_digest",
    "build_manifest",
    "write_manifest",
]

MANIFEST_VERSION = 1


def _timestamp(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def _plain(value: Any) -> Any:
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value


def build_manifest(
    out_dir: str | os.PathLike,
    *,
    parameters: Mapping[str, Any],
    seed: int | None,
    inputs: Mapping[str, str | os.PathLike | None],
    renderer: Any = None,
    execution: Any = None,
    timings: Mapping[str, float] | None = None,
    started: dt.datetime | None = None,
    finished: dt.datetime | None = None,
    command_line: Sequence[str] | None = None,
    project_root: str | os.PathLike = PROJECT_ROOT,
    documents: Mapping[str, Any] | None = None,
    digests: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Assemble the manifest of the report in ``out_dir`` (call after all outputs exist).

    Parameters
    ----------
    out_dir : path-like
        The report directory; every file in it except ``manifest.json`` is hashed.
    parameters : mapping
        The notebook parameters as injected.
    seed : int or None
        The master seed.
    inputs : mapping
        Role (``"profile"``, ``"instrument"``, ``"notebook"``, ``"data"``) to path;
        None entries are skipped, missing files get ``sha256: None``.
    renderer, execution : RenderInfo, ExecutionInfo or mapping, optional
        Stored as plain dictionaries (``renderer``: what made the HTML page).
    documents : mapping, optional
        Format (``html``, ``pdf``, ``docx``) to the RenderInfo of the renderer that made it.
    timings : mapping, optional
        Stage name to seconds.
    started, finished : datetime, optional
        Stored as ISO 8601 UTC; ``finished`` defaults to now.
    command_line : sequence of str, optional
        Defaults to ``sys.argv``.
    project_root : path-like
        Input paths inside it are stored relative to it.
    digests : mapping, optional
        ``inputs_digest`` and ``code_digest`` (:mod:`analysis.report.digests`), stored at the
        top level; a batch run compares them to skip reports that are still current.
    """
    out_dir, root = Path(out_dir), Path(project_root)
    render = _plain(renderer)
    versions = package_versions()
    if isinstance(render, Mapping) and render.get("name") == "quarto":
        versions["quarto"] = render.get("version")
    finished = finished or dt.datetime.now(dt.timezone.utc)
    return {
        "manifest_version": MANIFEST_VERSION,
        "client_id": (parameters.get("client") or {}).get("id", parameters.get("client_id")),
        "started": _timestamp(started) if started else None,
        "finished": _timestamp(finished),
        "command_line": shlex.join(command_line if command_line is not None else sys.argv),
        "seed": seed,
        "parameters": dict(parameters),
        "git": git_state(root),
        "platform": {"python_executable": sys.executable, "system": platform.platform()},
        "versions": versions,
        "renderer": render,
        "documents": {name: _plain(info) for name, info in (documents or {}).items()},
        "execution": _plain(execution),
        "timings_sec": {k: round(float(v), 3) for k, v in (timings or {}).items()},
        "inputs": {role: file_record(Path(path), root)
                   for role, path in inputs.items() if path is not None},
        "outputs": output_files(out_dir),
        "tables_digest": tables_digest(out_dir),
        **dict(digests or {}),
    }


def write_manifest(out_dir: str | os.PathLike, **kwargs: Any) -> Path:
    """Build the manifest (see :func:`build_manifest`) and write ``out_dir/manifest.json``."""
    manifest = build_manifest(out_dir, **kwargs)
    text = json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n"
    return atomic_write_text(Path(out_dir) / MANIFEST_NAME, text)

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
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
from dataclasses import asdict, is_dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

from analysis import __version__
from analysis.atomic import atomic_write_text
from analysis.paths import PROJECT_ROOT

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

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
PACKAGES = (
    "numpy", "scipy", "pandas", "semopy", "pingouin", "papermill", "nbconvert", "nbclient",
    "nbformat", "ipykernel", "seaborn", "matplotlib", "pyarrow", "pyyaml",
)
_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    """Python and installed distribution versions (None if not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version(),
                                       "eloyalty-workbench": __version__}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(root: str | os.PathLike = PROJECT_ROOT) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}``; None outside a git work tree.

    ``dirty`` is True when tracked files are modified or untracked, non-ignored files
    exist (``git status --porcelain``), i.e. the commit alone does not reproduce the run.
    """
    root = Path(root)
    commit = _git(root, "rev-parse", "--verify", "HEAD")
    status = _git(root, "status", "--porcelain")
    return {"commit": commit.strip() if commit else None,
            "dirty": None if status is None else bool(status.strip())}


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def _file_record(path: Path, root: Path) -> dict[str, Any]:
    exists = path.is_file()
    return {"path": _relative(path, root), "sha256": sha256_file(path) if exists else None,
            "bytes": path.stat().st_size if exists else None}


def output_files(out_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every file under ``out_dir`` except the manifest: relative path, SHA-256, size."""
    out_dir = Path(out_dir)
    files = [p for p in out_dir.rglob("*") if p.is_file()]
    files = [p for p in files if p.relative_to(out_dir).as_posix() != MANIFEST_NAME]
    return [_file_record(p, out_dir)
            for p in sorted(files, key=lambda p: p.relative_to(out_dir).as_posix())]


def tables_digest(out_dir: str | os.PathLike) -> str | None:
    """One SHA-256 over ``tables/*.csv`` (names and contents, sorted); None if none."""
    tables = sorted(Path(out_dir, "tables").glob("*.csv"), key=lambda p: p.name)
    if not tables:
        return None
    digest = hashlib.sha256()
    for table in tables:
        digest.update(f"{table.name}\0{sha256_file(table)}\n".encode())
    return digest.hexdigest()


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
        "inputs": {role: _file_record(Path(path), root)
                   for role, path in inputs.items() if path is not None},
        "outputs": output_files(out_dir),
        "tables_digest": tables_digest(out_dir),
    }


def write_manifest(out_dir: str | os.PathLike, **kwargs: Any) -> Path:
    """Build the manifest (see :func:`build_manifest`) and write ``out_dir/manifest.json``."""
    manifest = build_manifest(out_dir, **kwargs)
    text = json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n"
    return atomic_write_text(Path(out_dir) / MANIFEST_NAME, text)

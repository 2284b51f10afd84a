"""Provenance of any output folder: file hashes, package versions, the git state.

Shared by the report manifest and the other outputs that carry one (power studies,
batches), so every folder the workbench writes can be traced to its code and inputs.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

from analysis import __version__
from analysis.paths import PROJECT_ROOT

__all__ = ["MANIFEST_NAME", "PACKAGES", "sha256_file", "package_versions", "git_state", "file_record",
           "output_files", "tables_digest"]

MANIFEST_NAME = "manifest.json"
PACKAGES = (
    "numpy", "scipy", "pandas", "semopy", "pingouin", "papermill", "nbconvert", "nbclient",
    "nbformat", "ipykernel", "seaborn", "matplotlib", "pyarrow", "pyyaml", "weasyprint", "pypandoc_binary",
    "python-docx", "babel", "dask", "distributed",
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


def file_record(path: Path, root: Path) -> dict[str, Any]:
    exists = path.is_file()
    return {"path": _relative(path, root), "sha256": sha256_file(path) if exists else None,
            "bytes": path.stat().st_size if exists else None}


def output_files(out_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every file under ``out_dir`` except the manifest: relative path, SHA-256, size."""
    out_dir = Path(out_dir)
    files = [p for p in out_dir.rglob("*") if p.is_file()]
    files = [p for p in files if p.relative_to(out_dir).as_posix() != MANIFEST_NAME]
    return [file_record(p, out_dir)
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

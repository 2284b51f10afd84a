"""Two digests that say whether a report is still current: its inputs and the code.

``inputs_digest`` covers what the client supplies: the profile's bytes and every file
or folder the validated profile names (instrument, data file, CRM export folder, logo,
and any path key added later, found by walking the settings rather than by a list that
could fall behind), except the secret salt file. ``code_digest`` covers what the workbench brings: every source file
of the ``analysis`` package (catalogs included), the notebooks, ``reports/_quarto.yml``
and ``requirements.lock``. Both are recorded in ``manifest.json``; a batch run skips a
client whose recorded digests equal the current ones (:mod:`analysis.report.batch`).

Contents are hashed, not modification times, so a checkout or a copy does not make
every report look stale; file names enter the inputs digest because the report prints
them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from analysis.paths import PROJECT_ROOT
from analysis.provenance import sha256_file

__all__ = ["CODE_SOURCES", "code_digest", "inputs_digest", "folder_digest"]

#: What the report's code consists of, relative to the project root (folders are walked).
CODE_SOURCES = ("analysis", "notebooks", "reports/_quarto.yml", "requirements.lock")
_SKIPPED_DIRS = {"__pycache__", ".ipynb_checkpoints"}


def _files(folder: Path) -> Iterable[Path]:
    """Regular, non-hidden files under ``folder`` (byte-code and checkpoints left out)."""
    for directory, subdirs, names in os.walk(folder):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(names):
            path = Path(directory, name)
            if not name.startswith(".") and not name.endswith((".pyc", ".pyo")) and path.is_file():
                yield path


def folder_digest(folder: str | os.PathLike) -> str:
    """SHA-256 over the relative names and contents of every file under ``folder``."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in _files(folder):
        digest.update(f"{path.relative_to(folder).as_posix()}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def _entry(path: Path) -> str:
    if path.is_dir():
        return f"dir:{folder_digest(path)}"
    if path.is_file():
        return f"file:{sha256_file(path)}"
    return "missing"


def code_digest(root: str | os.PathLike = PROJECT_ROOT) -> str:
    """SHA-256 of the workbench code that makes a report (see :data:`CODE_SOURCES`)."""
    root = Path(root)
    digest = hashlib.sha256()
    for name in CODE_SOURCES:
        digest.update(f"{name}\0{_entry(root / name)}\n".encode())
    return digest.hexdigest()


#: Paths a profile names that are not inputs: the secret salt enters no digest (a batch
#: compares its fingerprint, recorded in the manifest, instead).
_NOT_INPUTS = frozenset({"privacy.salt_file"})


def _paths(value: object, prefix: str) -> Iterable[tuple[str, Path]]:
    """Every ``Path`` in a (nested) settings dataclass, with its dotted key."""
    if isinstance(value, Path):
        if prefix not in _NOT_INPUTS:
            yield prefix, value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            if item.name != "source_path":
                yield from _paths(getattr(value, item.name), f"{prefix}.{item.name}".lstrip("."))


def inputs_digest(settings) -> str:
    """SHA-256 of a validated profile's bytes and of every file or folder it names.

    Parameters
    ----------
    settings : analysis.profile.settings.Settings
        A loaded profile (its paths already resolved).
    """
    digest = hashlib.sha256()
    digest.update(f"profile\0{sha256_file(settings.source_path)}\n".encode())
    for key, path in sorted(_paths(settings, ""), key=lambda pair: pair[0]):
        digest.update(f"{key}\0{path.name}\0{_entry(path)}\n".encode())
    return digest.hexdigest()

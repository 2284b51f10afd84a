"""Shared fixtures: the committed lavaan/psych reference numbers and study contexts.

Reference files live in ``tests/reference/`` with the R scripts that produced them;
:func:`reference` reads one (cached) and :func:`reference_case` fails with the list of
available cases instead of a bare ``KeyError``. :func:`make_context` builds a
:class:`~analysis.study.context.StudyContext` from a real profile file written for the
test, so tests go through the same validation and defaults as a report run.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

# Profiles written by tests live in pytest's temporary folders, outside the project, where
# load_profile refuses to read; this variable (analysis.profile.settings.ALLOWED_ROOTS_ENV) allows
# them, in this process and in the report kernels it starts. Only the test suite sets it.
os.environ.setdefault("ELOYALTY_ALLOWED_ROOTS", str(Path(tempfile.gettempdir()).resolve()))

REFERENCE_DIR = Path(__file__).parent / "reference"
REFERENCE_DATA = REFERENCE_DIR / "data"


@functools.cache
def reference(name: str) -> dict:
    """``tests/reference/<name>_reference.json`` as a dict (read once per session)."""
    return json.loads((REFERENCE_DIR / f"{name}_reference.json").read_text(encoding="utf-8"))


def reference_case(name: str, case: str) -> dict:
    """One case of a reference file; a missing case fails the test with the available ones."""
    cases = reference(name)["cases"]
    if case not in cases:
        pytest.fail(f"{name}_reference.json has no case {case!r}; available: {', '.join(sorted(cases))}")
    return cases[case]


@functools.cache
def reference_data(file_name: str) -> pd.DataFrame:
    """A data set from ``tests/reference/data/`` (read once; copy before modifying)."""
    return pd.read_csv(REFERENCE_DATA / file_name)


def write_profile(folder: Path, client_id: str = "pytest", **sections: dict) -> Path:
    """Write ``<folder>/<client_id>.yml`` with the given sections (everything else default)."""
    document = {"client": {"name": f"Test client {client_id}", "id": client_id},
                "report": {"title": "Test report"}, "analysis": {"seed": 1}}
    for name, values in sections.items():
        document[name] = {**document.get(name, {}), **values}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{client_id}.yml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def make_study_context(folder: Path, client_id: str = "pytest", **sections: dict):
    """A StudyContext for a profile written to ``folder``; outputs go to ``folder/out``."""
    from analysis.study.context import StudyContext

    return StudyContext.from_profile(write_profile(folder, client_id, **sections), folder / "out")


@pytest.fixture(scope="session")
def make_context():
    """The :func:`make_study_context` factory, for fixtures of any scope."""
    return make_study_context

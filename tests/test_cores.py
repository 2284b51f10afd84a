"""The core budget of a report run (analysis.cores): set by the build, read by the notebook."""

from __future__ import annotations

import pytest

from analysis.cores import REPORT_CORES_ENV, background_figures, report_cores, worker_processes


@pytest.mark.parametrize(("value", "budget", "workers", "background"), [
    (None, None, 4, False),  # a notebook run by hand follows the profile, saves figures in line
    ("1", 1, 1, False),      # a report in a batch: everything in line
    ("2", 2, 2, True),       # a report built alone on this machine
    ("8", 8, 4, True),       # never more than the profile asks for
    ("zero", None, 4, False),
])
def test_budget_bounds_the_profile_and_switches_background_figures(monkeypatch, value, budget, workers,
                                                                   background):
    if value is None:
        monkeypatch.delenv(REPORT_CORES_ENV, raising=False)
    else:
        monkeypatch.setenv(REPORT_CORES_ENV, value)
    assert report_cores() == budget
    assert worker_processes(4) == workers
    assert background_figures() is background

"""Where the workbench's files live, relative to the project root."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "PROJECT_ROOT",
    "SURVEY_DIR",
    "DEFAULT_INSTRUMENT",
    "NOTEBOOKS_DIR",
    "STUDY_NOTEBOOK",
    "CLIENTS_DIR",
    "OUTPUT_ROOT",
    "DATA_DIR",
    "simulated_data_folder",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SURVEY_DIR = PROJECT_ROOT / "survey"
DEFAULT_INSTRUMENT = SURVEY_DIR / "instrument.yaml"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
STUDY_NOTEBOOK = NOTEBOOKS_DIR / "study.ipynb"
CLIENTS_DIR = PROJECT_ROOT / "reports" / "clients"
OUTPUT_ROOT = PROJECT_ROOT / "reports" / "_output"
DATA_DIR = PROJECT_ROOT / "data"


def simulated_data_folder(client_id: str, seed: int, sample_size: int) -> Path:
    """Where a simulated study's raw data are stored (one folder per client, seed and size)."""
    return DATA_DIR / "simulated" / f"{client_id}-seed{seed}-n{sample_size}"

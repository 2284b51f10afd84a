"""The last check before a report is published: no raw identifier in any of its files.

:func:`forbidden_values` collects, from the study's *raw* inputs, the values that must
never appear in an output: the raw respondent and customer ids, and the e-mail
addresses, phone numbers, IP addresses and long free-text answers of the columns that
:mod:`analysis.privacy.columns` drops. Only *distinctive* values are kept
(:func:`~analysis.privacy.scan.distinctive`): a numeric id such as ``1001`` would be
found in every table of numbers, so it is protected by pseudonymisation alone.
:func:`check_report_folder` scans a staged report folder for them (under a second for a
default report) and raises :class:`~analysis.errors.RenderError` naming the files, never
the values.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from analysis.errors import WorkbenchError
from analysis.privacy.columns import EMAIL, IPV4, PHONE, classify_column
from analysis.privacy.scan import distinctive, raise_on_findings, scan_outputs

__all__ = ["forbidden_values", "check_report_folder", "ID_HEADERS"]

log = logging.getLogger(__name__)
#: Headers of id columns in exports (case-insensitive): the workbench's own and Qualtrics'.
ID_HEADERS = ("respondent_id", "customer_id", "responseid", "response_id", "recipientid", "externalreference",
              "externaldatareference")
_FREE_TEXT_MIN = 20


def _values(frame: pd.DataFrame) -> set[str]:
    found: set[str] = set()
    for column in frame.columns:
        name = str(column)
        cells = frame[column].dropna()
        if name.lower() in ID_HEADERS:
            found |= {str(v).strip() for v in cells.astype(str) if distinctive(str(v))}
            continue
        if pd.api.types.is_numeric_dtype(cells) and name.lower() not in ID_HEADERS:
            continue
        why = classify_column(name, cells)
        if why is None:
            continue
        text = cells.astype(str).str.strip()
        found |= {v for v in text if EMAIL.fullmatch(v) or IPV4.fullmatch(v)
                  or (PHONE.fullmatch(v) and distinctive(v))}
        if why == "free text":
            found |= {v for v in text if len(v) >= _FREE_TEXT_MIN}
    return found


def _read_inputs(settings) -> list[pd.DataFrame]:
    from analysis.data.readers import read_table
    from analysis.paths import simulated_data_folder

    frames = []
    if settings.data.source == "file":
        data = settings.data
        options = {k: getattr(data, k) for k in ("sheet", "encoding") if getattr(data, k, None) not in (None, "auto")}
        frames.append(read_table(data.path, format=data.format, **options))
    else:
        folder = simulated_data_folder(settings.client.id, settings.analysis.seed, settings.simulation.sample_size)
        path = folder / "responses.parquet"
        if path.is_file():
            frames.append(pd.read_parquet(path, columns=["respondent_id"]))
    crm = settings.behaviour.crm_path if settings.behaviour.enabled and settings.data.source == "file" else None
    if crm is not None:
        for name in ("customers", "orders"):
            for suffix, reader in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
                path = Path(crm) / f"{name}{suffix}"
                if path.is_file():
                    frames.append(reader(path))
                    break
    return frames


def forbidden_values(settings) -> set[str]:
    """Raw ids, e-mail addresses, phone numbers and long free-text answers of the study's inputs.

    An input that cannot be read here (the analysis read it, so this is rare) is logged
    and skipped: the gate protects against leaks, it does not re-validate the data.
    """
    try:
        frames = _read_inputs(settings)
    except (WorkbenchError, OSError, ValueError) as exc:
        log.warning("privacy check: inputs not read (%s); the scan covers e-mail patterns only",
                    str(exc).splitlines()[0][:120])
        return set()
    found: set[str] = set()
    for frame in frames:
        found |= _values(frame)
    return found


def check_report_folder(folder: str | Path, settings) -> int:
    """Scan every file of ``folder`` for the study's forbidden values; return how many were sought.

    Raises
    ------
    RenderError
        A raw identifier or personal value was found (the message names the files only).
    """
    forbidden = forbidden_values(settings)
    result = scan_outputs(folder, forbidden)
    raise_on_findings(result, what=f"privacy check of the report for {settings.client.id!r}")
    return len(forbidden)

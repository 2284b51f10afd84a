"""Qualtrics exports (CSV or Excel) as one row per respondent with instrument item ids.

A Qualtrics export has three header rows: the column names (``StartDate``, ``Q1_1`` ...),
the question text (``How much do you agree ... - <statement>``) and the ImportId JSON
(``{"ImportId":"QID1_1"}``); legacy exports have the first two only. Metadata columns
(dates, IP address, location, recipient name and e-mail ...) come first. Item columns are
found, in order of precedence, by the profile's ``data.columns`` (a column name or an
ImportId), by a column already named as the item, or by the question text matching the
item's wording in any instrument language.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd

from analysis.data.exports.matching import (
    keep_rows,
    match_columns,
    rename_mapped,
    targets,
)
from analysis.errors import DataError
from analysis.instrument import Instrument

__all__ = ["looks_like_qualtrics", "normalise_qualtrics", "METADATA"]

#: Qualtrics' metadata columns (not answers); ResponseId and the duration are kept under our names.
METADATA = ("StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)",
            "Finished", "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName",
            "RecipientEmail", "ExternalReference", "ExternalDataReference", "LocationLatitude",
            "LocationLongitude", "DistributionChannel", "UserLanguage", "Q_RecaptchaScore",
            "Q_RelevantIDDuplicate", "Q_RelevantIDDuplicateScore", "Q_RelevantIDFraudScore",
            "Q_RelevantIDLastStartDate")
_SIGNATURE = {"StartDate", "EndDate", "Status", "ResponseId", "Duration (in seconds)", "Finished"}
#: Status values of responses that are not real ones (text and numeric exports).
_NOT_RESPONSES = {"survey preview": "Survey Preview", "survey test": "Survey Test", "spam": "Spam",
                  "1": "Survey Preview", "2": "Survey Test", "8": "Spam", "9": "Survey Preview",
                  "17": "Survey Preview"}


def _import_id(value) -> str | None:
    text = str(value).strip() if value is not None else ""
    if not text.startswith("{") or "ImportId" not in text:
        return None
    try:
        return str(json.loads(text).get("ImportId"))
    except (ValueError, AttributeError):
        return None


def _header_rows(frame: pd.DataFrame) -> tuple[int, dict[str, str], dict[str, str]]:
    """How many leading rows are header rows; question texts and ImportIds by column."""
    questions: dict[str, str] = {}
    imports: dict[str, str] = {}
    n = 0
    for position in range(min(2, len(frame))):
        row = frame.iloc[position]
        ids = {str(c): i for c, v in row.items() if (i := _import_id(v))}
        filled = int(row.notna().sum())
        if ids and len(ids) >= filled / 2:
            imports = ids
            n = position + 1
            break
        start = str(row.get("StartDate", "") or "").strip().casefold()
        if position == 0 and (start == "start date" or (len(frame) > 1 and
                              any(_import_id(v) for v in frame.iloc[1]))):
            questions = {str(c): str(v) for c, v in row.items() if v is not None and str(v).strip()}
            n = 1
    return n, questions, imports


def looks_like_qualtrics(frame: pd.DataFrame) -> bool:
    """True when the metadata columns or an ImportId header row say Qualtrics."""
    columns = {str(c) for c in frame.columns}
    if len(_SIGNATURE & columns) >= 3:
        return True
    return any(_import_id(v) for k in range(min(2, len(frame))) for v in frame.iloc[k])


def _statement(question: str) -> list[str]:
    """Candidate item texts of a question-text cell: whole, and after the matrix stem's ' - '."""
    parts = [question]
    for mark in (" - ", " – ", " — ", "-"):
        if mark in question:
            parts.append(question.rsplit(mark, 1)[1])
            break
    return parts


def normalise_qualtrics(frame: pd.DataFrame, instrument: Instrument, source: str,
                        columns: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """A Qualtrics export as item columns (+ ``respondent_id``, ``duration_sec``), cells as found.

    Parameters
    ----------
    frame : DataFrame
        As :func:`analysis.data.readers.read_table` returns it (header row = column names).
    instrument : Instrument
    source : str
        File name for messages.
    columns : mapping, optional
        The profile's ``data.columns``: item (or demographic) id -> column name or ImportId.

    Returns
    -------
    tuple of (DataFrame, list of str)
        The frame and notes on what was done (header rows, previews excluded, columns mapped).
    """
    n_header, questions, imports = _header_rows(frame)
    notes = [f"read as a Qualtrics export ({n_header + 1} header rows)"]
    body = keep_rows(frame, [k >= n_header for k in range(len(frame))])
    wordings = targets(instrument)
    aliases = {qid: column for column, qid in imports.items()}
    body, renamed = rename_mapped(body, dict(columns or {}), wordings, source, aliases)
    notes += renamed
    mapped: dict[str, str] = {c: c for c in map(str, body.columns) if c in wordings}
    texts = {column: _statement(text) for column, text in questions.items() if column not in METADATA}
    by_text = match_columns(map(str, body.columns), texts, wordings, mapped)
    if by_text:
        notes.append(f"matched {by_text} column(s) to items by their question text")
    if "Status" in body.columns:
        status = body["Status"].map(lambda v: _NOT_RESPONSES.get(str(v).strip().casefold().removesuffix(".0")))
        dropped = status.notna()
        if dropped.any():
            lines = body.attrs.get("source_lines") or range(n_header + 2, n_header + 2 + len(body))
            where = ", ".join(str(n) for n, d in zip(lines, dropped) if d)
            kinds = ", ".join(sorted(set(status.dropna())))
            notes.append(f"excluded {int(dropped.sum())} row(s) with Status {kinds} (not real "
                         f"responses; line(s) {where[:80]})")
            body = keep_rows(body, ~dropped)
    if "Finished" in body.columns:
        unfinished = body["Finished"].map(lambda v: str(v).strip().casefold() in ("false", "0", "0.0"))
        if unfinished.any():
            notes.append(f"kept {int(unfinished.sum())} unfinished response(s) (Finished = False); "
                         "their unanswered items are missing")
    out = pd.DataFrame(index=body.index)
    if "respondent_id" in body.columns:
        out["respondent_id"] = body["respondent_id"]
    elif "ResponseId" in body.columns:
        out["respondent_id"] = body["ResponseId"]
    if "duration_sec" in body.columns:
        out["duration_sec"] = body["duration_sec"]
    elif "Duration (in seconds)" in body.columns:
        out["duration_sec"] = body["Duration (in seconds)"]
    for column, target in mapped.items():
        if target in out.columns:
            raise DataError(f"{source}: columns {column[:40]!r} and another both read as {target}; "
                            f"name the right one in data.columns ({target}: <column>)")
        out[target] = body[column]
    dropped_meta = [c for c in map(str, body.columns) if c in METADATA]
    if dropped_meta:
        notes.append(f"left out {len(dropped_meta)} Qualtrics metadata column(s) (dates, status, "
                     "IP address, location, recipient details)")
    other = [c for c in map(str, body.columns) if c not in METADATA and c not in mapped
             and c not in ("respondent_id", "duration_sec")]
    if other:
        notes.append(f"left out {len(other)} column(s) that match no item: "
                     + ", ".join(c[:20] for c in other[:6]) + (", ..." if len(other) > 6 else ""))
    out.attrs = {**body.attrs, "source_layout": "qualtrics"}
    return out, notes

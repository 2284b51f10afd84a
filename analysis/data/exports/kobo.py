"""KoboToolbox and ODK exports of the instrument's XLSForm, read back with no manual mapping.

A KoboToolbox export (CSV, usually ``;``-separated, or XLSX) of the form written by
:mod:`analysis.instrument.xlsform` has one column per question, headed by its XML name
(``TRU1``), by the name with its group path (``trust/TRU1``; ODK Central joins with ``-``:
``trust-TRU1``) or by the question label in the export language (possibly after the group
label, ``信任/我相信...``), plus metadata: ``start``, ``end``, ``_id``, ``_uuid``,
``_submission_time``, ``_index``, ``__version__``, ``meta/instanceID`` and more. Answers
are the choice names (``1``..``7``, option codes) or, in a label export, the choice labels
in any language of the form.

:func:`looks_like_kobo` recognises such a table; :func:`normalise_kobo` returns the plain
layout :func:`analysis.data.ingest.validate_responses` checks: item ids as columns (answers
as found; scale labels in any language are mapped to points there), demographics as their
option codes, ``respondent_id`` and ``duration_sec`` (``end`` - ``start``). Raw files are
never touched; a new frame is returned.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import DataError, shorten
from analysis.instrument.model import Instrument

__all__ = ["KOBO_METADATA", "ID_COLUMNS", "looks_like_kobo", "normalise_kobo"]

#: Metadata columns KoboToolbox and ODK Central add to an export (never analysed).
KOBO_METADATA = frozenset({
    "start", "end", "today", "deviceid", "username", "phonenumber", "simserial", "subscriberid", "audit",
    "__version__", "_version_", "_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status",
    "_submitted_by", "_tags", "_index", "_attachments", "_geolocation", "_xform_id_string", "_duration",
    "formhub/uuid", "meta/instanceID", "meta/instanceName", "meta/deprecatedID", "meta/rootUuid",
    "SubmissionDate", "meta-instanceID", "meta-instanceName", "KEY", "SubmitterID", "SubmitterName",
    "AttachmentsPresent", "AttachmentsExpected", "Status", "ReviewState", "DeviceID", "Edits", "FormVersion",
})
#: Where a respondent's id is taken from, in order of preference (the first complete column).
ID_COLUMNS = ("respondent_id", "_uuid", "meta/instanceID", "meta-instanceID", "KEY", "_id")
#: Columns only KoboToolbox/ODK exports have; one of them is enough to recognise an export.
_MARKERS = frozenset({"_uuid", "_submission_time", "__version__", "_xform_id_string", "_validation_status",
                      "meta/instanceID", "meta-instanceID", "formhub/uuid"})
_MARKER_PAIRS = (frozenset({"_id", "_index"}), frozenset({"KEY", "SubmissionDate"}))
#: Characters that join group names (or the group label) to a question's name or label.
_JOINERS = "/-:._"
_LISTED = 8


_STRAIGHT = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def _normal(text: Any) -> str:
    # pyxform, and so KoboToolbox, turns typographic quotes into straight ones in labels.
    return re.sub(r"\s+", " ", str(text).translate(_STRAIGHT)).strip().casefold()


def _listing(values, limit: int = _LISTED) -> str:
    values = [str(v) if len(str(v)) <= 40 else str(v)[:37] + "..." for v in values]
    return ", ".join(values[:limit]) + (f", ... ({len(values)} in all)" if len(values) > limit else "")


class _Headers:
    """Which instrument variable (item or demographic) an export header holds, and how it was named."""

    def __init__(self, instrument: Instrument):
        variables = [*instrument.likert_items, *instrument.demographic_ids]
        self.names = {_normal(v): v for v in variables}
        texts = [(item.id, item.text) for item in instrument.items]
        texts += [(d.id, d.label) for d in instrument.demographics]
        self.labels: dict[str, str] = {}
        self.label_language: dict[str, str] = {}
        for variable, by_language in texts:
            for language, label in by_language.items():
                key = _normal(label)
                # A label two variables share cannot tell them apart: neither may claim it.
                if self.labels.get(key, variable) != variable:
                    self.labels[key] = ""
                    continue
                self.labels[key] = variable
                self.label_language.setdefault(key, language)
        # Longest first, so 'website/SAT10' is SAT10 and never SAT1.
        self._names = sorted(self.names.items(), key=lambda kv: -len(kv[0]))
        self._labels = sorted(((k, v) for k, v in self.labels.items() if v), key=lambda kv: -len(kv[0]))

    @staticmethod
    def _suffix(header: str, pool) -> str | None:
        for key, variable in pool:
            if len(header) > len(key) and header.endswith(key) and header[-len(key) - 1] in _JOINERS:
                return variable
        return None

    def match(self, header: Any) -> tuple[str, str] | None:
        """``(variable, how)``: how is ``name``, ``prefixed`` or ``label:<language>``; None if no match."""
        if str(header).strip() in KOBO_METADATA:
            return None
        h = _normal(header)
        if h in self.names:
            return self.names[h], "name"
        if (variable := self._suffix(h, self._names)) is not None:
            return variable, "prefixed"
        if self.labels.get(h):
            return self.labels[h], f"label:{self.label_language[h]}"
        for key, variable in self._labels:
            if len(h) > len(key) and h.endswith(key) and h[-len(key) - 1] in _JOINERS:
                return variable, f"label:{self.label_language[key]}"
        return None


def _columns(frame: pd.DataFrame) -> list[str]:
    return [str(c).strip() for c in frame.columns]


def looks_like_kobo(frame: pd.DataFrame, instrument: Instrument) -> bool:
    """Whether ``frame`` is a KoboToolbox/ODK export (of the instrument's form).

    True when a column only these exports have is present (``_uuid``, ``_submission_time``,
    ``__version__``, ``meta/instanceID``, ``meta-instanceID``, ``_validation_status``, or
    ``_id`` with ``_index``, or ODK Central's ``KEY`` with ``SubmissionDate``), or when
    ``start`` and ``end`` are present and at least half of the instrument's items are found
    under a group prefix or a question label (a plain table names them exactly).
    """
    columns = set(_columns(frame))
    if columns & _MARKERS or any(pair <= columns for pair in _MARKER_PAIRS):
        return True
    if not {"start", "end"} <= columns:
        return False
    headers = _Headers(instrument)
    items = set(instrument.likert_items)
    found = {m[0] for c in columns if (m := headers.match(c)) and m[1] != "name" and m[0] in items}
    return len(found) * 2 >= len(items)


def _line(frame: pd.DataFrame, position: int) -> str:
    lines = frame.attrs.get("source_format") in ("csv", "excel")
    return f"line {position + 2}" if lines else f"row {position + 1}"


def _respondent_ids(frame: pd.DataFrame, notes: list[str]) -> tuple[pd.Series | None, str]:
    present = [c for c in ID_COLUMNS if c in _columns(frame)]
    if not present:
        return None, ""
    complete = [c for c in present if not frame[_original(frame, c)].isna().any()]
    chosen = (complete or present)[0]

    def clean(value: Any) -> Any:
        # ODK's instanceID is 'uuid:<uuid>'; the bare uuid is the same id as Kobo's _uuid.
        return value[5:] if isinstance(value, str) and value.startswith("uuid:") else value

    notes.append(f"respondent ids taken from column '{chosen}'")
    return frame[_original(frame, chosen)].map(clean), chosen


def _original(frame: pd.DataFrame, stripped: str) -> Any:
    return next(c for c in frame.columns if str(c).strip() == stripped)


def _timestamps(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    raw = frame[_original(frame, column)]
    text = raw.map(lambda v: v.strip() if isinstance(v, str) else v)
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    bad = np.flatnonzero((parsed.isna() & text.notna() & (text != "")).to_numpy())
    if bad.size:
        more = f" ({bad.size - 1} more)" if bad.size > 1 else ""
        raise DataError(f"{source}: column {column}, {_line(frame, int(bad[0]))}: value "
                        f"{shorten(raw.iloc[bad[0]])} is not a date and time{more}; expected ISO 8601 "
                        "timestamps as KoboToolbox writes them, e.g. '2026-03-02T09:15:27.403+08:00'")
    return parsed


def _durations(frame: pd.DataFrame, source: str, notes: list[str]) -> pd.Series | None:
    columns = _columns(frame)
    if not {"start", "end"} <= set(columns):
        absent = [c for c in ("start", "end") if c not in columns]
        notes.append(f"no '{absent[0]}' column: completion times unknown, screening skips the speed checks")
        return None
    start, end = _timestamps(frame, "start", source), _timestamps(frame, "end", source)
    seconds = (end - start).dt.total_seconds()
    negative = np.flatnonzero((seconds < 0).to_numpy())
    if negative.size:
        more = f" ({negative.size - 1} more)" if negative.size > 1 else ""
        raise DataError(f"{source}: columns start/end, {_line(frame, int(negative[0]))}: end "
                        f"{shorten(frame[_original(frame, 'end')].iloc[negative[0]])} is before start "
                        f"{shorten(frame[_original(frame, 'start')].iloc[negative[0]])}{more}; "
                        "expected end at or after start")
    notes.append("completion times (duration_sec) computed as end - start")
    return seconds.astype(float)


class _Bad:
    """A demographic answer that is neither an option code nor an option label (kept for the message)."""

    def __init__(self, value: Any):
        self.value = value


def _demographic(frame: pd.DataFrame, column: Any, demographic, source: str,
                 counts: dict[str, int]) -> pd.Series:
    lookup = {_normal(code): code for code in demographic.codes}
    for code, labels in demographic.options:
        for label in labels.values():
            lookup.setdefault(_normal(label), code)

    def code_of(value: Any) -> Any:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            return pd.NA
        key = _normal(value)
        if key == "":
            return pd.NA
        if key not in lookup:
            return _Bad(value)
        if key != _normal(lookup[key]):
            counts["labels"] += 1
        return lookup[key]

    codes = frame[column].map(code_of)
    bad = [p for p, v in enumerate(codes) if isinstance(v, _Bad)]
    if bad:
        raise DataError(f"{source}: column {shorten(str(column), 50)} ({demographic.id}), {_line(frame, bad[0])}: "
                        f"value {shorten(codes.iloc[bad[0]].value)} is not an option of the form"
                        f"{f' ({len(bad) - 1} more)' if len(bad) > 1 else ''}; expected one of "
                        f"{', '.join(demographic.codes)} or their labels")
    return codes.astype(object)


def normalise_kobo(frame: pd.DataFrame, instrument: Instrument, source: str) -> tuple[pd.DataFrame, list[str]]:
    """The export in the workbench's plain layout, and what was done (one line each, English).

    Parameters
    ----------
    frame : DataFrame
        The export as :func:`analysis.data.readers.read_table` returned it; never modified.
    instrument : Instrument
        The instrument whose XLSForm was fielded.
    source : str
        File name used in messages.

    Returns
    -------
    (DataFrame, list of str)
        Columns ``respondent_id`` (from ``_uuid``, ``meta/instanceID`` or ``_id``; absent if
        the export has none), ``duration_sec`` (``end - start`` in seconds; absent without
        both), the instrument's items (answers as found) and the demographics present (as
        option codes). Rows and ``attrs`` are those of ``frame``; ``attrs["source_layout"]``
        is ``"kobo"``. Metadata and unmatched columns are dropped and named in the notes.

    Raises
    ------
    DataError
        An item has no column, two columns hold the same question, a demographic answer is
        not an option of the form, or a ``start``/``end`` timestamp is unreadable or ``end``
        precedes ``start``.
    """
    headers = _Headers(instrument)
    matched: dict[str, Any] = {}
    how: dict[str, str] = {}
    dropped: list[str] = []
    for column in frame.columns:
        found = headers.match(column)
        if found is None:
            dropped.append(str(column))
            continue
        variable, kind = found
        if variable in matched:
            raise DataError(f"{source}: columns {shorten(str(matched[variable]), 50)} and "
                            f"{shorten(str(column), 50)} both hold "
                            f"question {variable}; expected one column per question of the form")
        matched[variable], how[variable] = column, kind
    items = instrument.likert_items
    missing = [item for item in items if item not in matched]
    if missing:
        languages = ", ".join(instrument.languages)
        # The essentials first: a message is cut at MESSAGE_LIMIT characters.
        raise DataError(f"{source}: KoboToolbox/ODK export has no column for {len(missing)} of "
                        f"{len(items)} item(s): {_listing(missing, 5)}; expected a header with the "
                        f"XML name (e.g. '{missing[0]}' or 'page/{missing[0]}') or the question label "
                        f"({languages}); found {_listing([str(c)[:30] for c in frame.columns], 3)}")

    notes: list[str] = []
    kinds = sorted({how[i] for i in items})
    named = {"name": "XML names", "prefixed": "XML names with group prefixes"}
    described = ", ".join(named.get(k, f"question labels ({k.split(':', 1)[-1]})") for k in kinds)
    notes.append(f"read as a KoboToolbox/ODK export: {len(items)} item columns found by {described}")
    out = pd.DataFrame(index=frame.index)
    ids, id_column = _respondent_ids(frame, notes)
    if ids is not None:
        out["respondent_id"] = ids
    durations = _durations(frame, source, notes)
    if durations is not None:
        out["duration_sec"] = durations
    for item in items:
        out[item] = frame[matched[item]]
    counts = {"labels": 0}
    absent = []
    for demographic in instrument.demographics:
        if demographic.id in matched:
            out[demographic.id] = _demographic(frame, matched[demographic.id], demographic, source, counts)
        else:
            absent.append(demographic.id)
    if counts["labels"]:
        notes.append(f"mapped {counts['labels']} demographic answer(s) given as option labels to their codes")
    if absent:
        notes.append(f"demographic question(s) not in the export: {_listing(absent)}")
    used = {id_column, *(("start", "end") if durations is not None else ())}
    dropped = [c for c in dropped if c.strip() not in used]
    if dropped:
        notes.append(f"dropped {len(dropped)} metadata or other column(s): {_listing(dropped)}")
    out.attrs = {**frame.attrs, "source_layout": "kobo"}
    return out, notes

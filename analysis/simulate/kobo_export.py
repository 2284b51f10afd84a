"""A simulated survey as KoboToolbox would export it: the fielding round-trip without a field.

:func:`kobo_export_frame` simulates respondents (:func:`analysis.simulate.simulate_survey`,
seeded) and lays them out as a KoboToolbox export of the instrument's XLSForm
(:func:`analysis.instrument.xlsform.build_xlsform`):

* ``start`` and ``end`` as ISO 8601 timestamps with the respondents' UTC offset, ``end -
  start`` equal to the simulated completion time (to the millisecond), starts spread over
  a fielding window;
* one column per question, headed ``<group>/<name>`` with XML values (``6``, ``female``)
  as KoboToolbox's default export, or, with ``labels=True``, ``<group label>/<question
  label>`` with the choice labels, both in the respondents' language;
* Kobo's metadata: ``__version__``, ``meta/instanceID``, ``_id``, ``_uuid``,
  ``_submission_time`` (UTC), ``_validation_status``, ``_notes``, ``_status``,
  ``_submitted_by``, ``_tags``, ``_index``; rows in order of submission.

The form makes every item required, so the simulated answers have no blanks
(``missing_share`` 0). :func:`write_kobo_export` writes the frame as Kobo does: a
``;``-separated UTF-8 CSV or an XLSX workbook.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.atomic import atomic_path, atomic_write_text
from analysis.errors import ConfigError
from analysis.instrument.model import Instrument
from analysis.instrument.xlsform import build_xlsform, language_column
from analysis.seeding import component_rng, seed_sequence
from analysis.simulate.survey import simulate_survey

__all__ = ["KOBO_TRAILING_COLUMNS", "kobo_export_frame", "write_kobo_export"]

#: Metadata columns after the questions, in KoboToolbox's order.
KOBO_TRAILING_COLUMNS = ("__version__", "meta/instanceID", "_id", "_uuid", "_submission_time",
                         "_validation_status", "_notes", "_status", "_submitted_by", "_tags", "_index")
_FIELDING_START = "2026-03-02T08:00:00+08:00"  # a Monday morning in Taipei
_FIELDING_DAYS = 14
_FIRST_ID = 318_422_000
_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))


#: pyxform, and so KoboToolbox, publishes typographic quotes as straight ones (“同意” -> "同意").
_STRAIGHT = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def _labels(form_rows, language: str) -> dict[str, str]:
    key = f"label::{language_column(language)}"
    return {row["name"]: row[key].translate(_STRAIGHT) for row in form_rows if key in row}


def kobo_export_frame(instrument: Instrument, *, n: int = 400, seed: int = 20240601, language: str = "zh-Hant",
                      labels: bool = False, group_separator: str = "/", careless_share: float = 0.08,
                      fielding_start: str = _FIELDING_START) -> pd.DataFrame:
    """A simulated KoboToolbox export of the instrument's XLSForm (cells as text).

    Parameters
    ----------
    instrument : Instrument
    n : int
        Respondents (>= 50).
    seed : int
        Same seed -> identical export (answers, timestamps, ids).
    language : str
        The language the respondents chose in the form; used for label headers and answers.
    labels : bool, default False
        Question labels as headers and choice labels as answers (Kobo's "labels" export);
        otherwise XML names and values.
    group_separator : str
        Joins group and question in headers (Kobo's default ``/``; ODK Central uses ``-``).
    careless_share : float
        Share of careless respondents, as in :func:`simulate_survey`.
    fielding_start : str
        ISO 8601 time the fielding opened; its UTC offset is the respondents'.

    Returns
    -------
    DataFrame
        One text column per header, rows in order of submission.
    """
    if language not in instrument.languages:
        raise ConfigError(f"kobo_export_frame: parameter 'language': expected one of "
                          f"{', '.join(instrument.languages)}, got {language!r}")
    sim = simulate_survey(instrument, n=n, careless_share=careless_share, missing_share=0.0,
                          language=language, random_state=seed)
    responses = sim.responses
    rng = component_rng(seed_sequence(seed, "kobo_export_frame"), "kobo_export")
    form = build_xlsform(instrument)
    label_of = _labels(form.survey, language)
    choice_label = {(row["list_name"], row["name"]): row[f"label::{language_column(language)}"].translate(_STRAIGHT)
                    for row in form.choices}

    opened = pd.Timestamp(fielding_start)
    offsets = np.sort(rng.uniform(0, _FIELDING_DAYS * 86_400, size=len(responses)))
    start = opened + pd.to_timedelta(np.round(offsets * 1000), unit="ms")
    end = start + pd.to_timedelta(np.round(responses["duration_sec"].to_numpy() * 1000), unit="ms")
    submitted = (end + pd.to_timedelta(rng.uniform(0.4, 20.0, size=len(responses)), unit="s")).tz_convert("UTC")
    order = np.argsort(submitted.to_numpy(), kind="stable")

    columns: dict[str, list[str]] = {
        "start": [t.isoformat(timespec="milliseconds") for t in start],
        "end": [t.isoformat(timespec="milliseconds") for t in end],
    }
    for name, kind, group in form.questions():
        list_name = kind.split(" ", 1)[1]
        values = responses[name].astype(object)
        if labels:
            header = f"{label_of[group]}{group_separator}{label_of[name]}" if group else label_of[name]
            cells = [choice_label[(list_name, str(v))] if not pd.isna(v) else "" for v in values]
        else:
            header = f"{group}{group_separator}{name}" if group else name
            cells = ["" if pd.isna(v) else str(v) for v in values]
        columns[header] = cells
    uuids = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(len(responses))]
    version = "v" + "".join(rng.choice(_ALPHABET, size=22))
    columns.update({
        "__version__": [version] * len(responses),
        "meta/instanceID": [f"uuid:{u}" for u in uuids],
        "_uuid": uuids,
        "_submission_time": [t.tz_localize(None).isoformat(timespec="seconds") for t in submitted],
        "_validation_status": [""] * len(responses),
        "_notes": [""] * len(responses),
        "_status": ["submitted_via_web"] * len(responses),
        "_submitted_by": [""] * len(responses),
        "_tags": [""] * len(responses),
    })
    frame = pd.DataFrame(columns).iloc[order].reset_index(drop=True)
    frame.insert(frame.columns.get_loc("_uuid"), "_id", [str(_FIRST_ID + k) for k in range(len(frame))])
    frame["_index"] = [str(k) for k in range(1, len(frame) + 1)]
    return frame


def write_kobo_export(instrument: Instrument, path: str | os.PathLike, *, n: int = 400, seed: int = 20240601,
                      language: str = "zh-Hant", labels: bool = False, overwrite: bool = False,
                      group_separator: str = "/") -> Path:
    """Simulate and write a KoboToolbox export: ``.csv`` (``;``-separated UTF-8) or ``.xlsx``.

    ``overwrite`` False (the default) refuses an existing file with a
    :class:`~analysis.errors.ConfigError`. See :func:`kobo_export_frame` for the rest.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ConfigError(f"{target.name}: expected a file name ending in .csv or .xlsx (as KoboToolbox "
                          f"exports), got {target.suffix or '(no extension)'!r}")
    if target.exists() and not overwrite:
        raise ConfigError(f"{target}: the file already exists; expected a new file name (--force replaces it)")
    frame = kobo_export_frame(instrument, n=n, seed=seed, language=language, labels=labels,
                              group_separator=group_separator)
    if suffix == ".csv":
        atomic_write_text(target, frame.to_csv(sep=";", index=False, lineterminator="\n"))
    else:
        with atomic_path(target) as tmp:
            # Kobo names the sheet after the form; Excel allows 31 characters.
            frame.to_excel(tmp, sheet_name=instrument.id[:31], index=False, engine="openpyxl")
    return target

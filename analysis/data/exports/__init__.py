"""Survey-platform exports as the workbench's table: one row per respondent, instrument item ids.

:func:`normalise_export` takes a table as read (:func:`analysis.data.readers.read_table`) and
returns one whose columns are the instrument's item ids (plus ``respondent_id`` and
``duration_sec`` where the export has them), cells as found, for
:func:`analysis.data.ingest.validate_responses` to check. Layouts (profile key ``data.layout``):

* ``plain`` - columns already named as the items (renamed by ``data.columns`` if needed);
* ``qualtrics`` - :mod:`analysis.data.exports.qualtrics`;
* ``wenjuanxing`` - 问卷星, :mod:`analysis.data.exports.wenjuanxing`;
* ``kobo`` - KoboToolbox/ODK exports of the workbench's XLSForm, :mod:`analysis.data.exports.kobo`;
* ``auto`` - detected: Qualtrics, then KoboToolbox, then Wenjuanxing by their metadata
  columns and header rows, else plain.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from analysis.data.exports.matching import rename_mapped, targets
from analysis.data.exports.qualtrics import looks_like_qualtrics, normalise_qualtrics
from analysis.data.exports.wenjuanxing import (
    looks_like_wenjuanxing,
    normalise_wenjuanxing,
)
from analysis.errors import DataError
from analysis.instrument import Instrument

__all__ = ["LAYOUTS", "detect_layout", "normalise_export"]

#: Names accepted by ``data.layout``.
LAYOUTS: tuple[str, ...] = ("auto", "plain", "qualtrics", "wenjuanxing", "kobo")


def _kobo():
    """The KoboToolbox module (imported when needed: it is optional for the other layouts)."""
    from analysis.data.exports import kobo

    return kobo


def detect_layout(frame: pd.DataFrame, instrument: Instrument) -> str:
    """The layout of a table as read: ``qualtrics``, ``kobo``, ``wenjuanxing`` or ``plain``.

    Platform signatures (metadata columns, header rows) come first; a table that then has
    every item column is ``plain``.
    """
    if looks_like_qualtrics(frame):
        return "qualtrics"
    try:
        kobo = _kobo()
    except ImportError:  # the KoboToolbox reader is not installed in this tree
        kobo = None
    if kobo is not None and kobo.looks_like_kobo(frame, instrument):
        return "kobo"
    if set(instrument.likert_items) <= {str(c) for c in frame.columns}:
        return "plain"
    if looks_like_wenjuanxing(frame):
        return "wenjuanxing"
    return "plain"


def normalise_export(frame: pd.DataFrame, instrument: Instrument, layout: str = "auto",
                     source: str | None = None, *, columns: Mapping[str, str] | None = None
                     ) -> tuple[pd.DataFrame, list[str]]:
    """Reshape a platform export into item columns (+ ``respondent_id``, ``duration_sec``).

    Parameters
    ----------
    frame : DataFrame
        A table as :func:`~analysis.data.readers.read_table` returns it; not modified.
    instrument : Instrument
    layout : {"auto", "plain", "qualtrics", "wenjuanxing", "kobo"}
        See the module notes.
    source : str, optional
        File name for messages (default: from ``frame.attrs``).
    columns : mapping, optional
        The profile's ``data.columns``: item (or demographic) id -> export column. Names
        that are not in the file are an error naming the key.

    Returns
    -------
    tuple of (DataFrame, list of str)
        The table (``attrs`` kept, plus ``source_layout``) and notes on what was done.
    """
    source = source or str(frame.attrs.get("source_path", "<data>")).rsplit("/", 1)[-1]
    if layout not in LAYOUTS:
        raise DataError(f"{source}: data.layout: expected one of {', '.join(LAYOUTS)}, "
                        f"got {str(layout)[:60]!r}")
    chosen = detect_layout(frame, instrument) if layout == "auto" else layout
    detected = [f"layout detected: {chosen}"] if layout == "auto" and chosen != "plain" else []
    if chosen == "qualtrics":
        out, notes = normalise_qualtrics(frame, instrument, source, columns)
    elif chosen == "wenjuanxing":
        out, notes = normalise_wenjuanxing(frame, instrument, source, columns)
    else:
        out, notes = rename_mapped(frame, dict(columns or {}), targets(instrument), source)
        if chosen == "kobo":
            out, kobo_notes = _kobo().normalise_kobo(out, instrument, source)
            notes = notes + list(kobo_notes)
        out.attrs = {**frame.attrs, **out.attrs, "source_layout": chosen}
    return out, detected + notes

"""Reading researchers' own survey exports (CSV, Excel, Parquet, SPSS) without modifying them.

Three steps, each a plain function:

* :func:`read_table` (from :mod:`analysis.data.readers`, re-exported here) opens a file
  read-only, records its SHA-256 and how it was decoded in ``DataFrame.attrs`` and
  returns the cells as found (CSV cells stay text).
* :func:`validate_responses` checks a table against the instrument and returns a new
  frame with item columns as pandas ``"Int8"`` (scale labels in any instrument language
  mapped to their points, missing codes to ``<NA>``) plus notes in ``attrs["ingest_notes"]``.
* :func:`recode_reverse_keyed` is the separate, explicit reverse-keying step.

:func:`load_survey_file` chains reading, renaming (``column_map``) and validation and returns
an :class:`IngestReport` for the provenance log. Every user mistake raises one
:class:`~analysis.errors.DataError` naming the file, line and column.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from analysis.data.cells import CellRules
from analysis.data.readers import FORMATS, file_sha256, read_table
from analysis.errors import DataError
from analysis.instrument import Instrument, load_instrument

__all__ = [
    "numeric_columns",
    "DEFAULT_MISSING_CODES",
    "FORMATS",
    "IngestReport",
    "file_sha256",
    "read_table",
    "validate_responses",
    "recode_reverse_keyed",
    "load_survey_file",
]

#: Cell values read as "no answer": empty, NA, N/A and the SPSS/online-panel habit -99.
#: Compared after trimming spaces and ignoring case; numeric codes also match numbers (-99.0).
#: "99" is deliberately absent: on 0-100 scales it is a real answer, so pass it explicitly.
DEFAULT_MISSING_CODES: tuple[str, ...] = ("", "NA", "N/A", "-99")

_LINE_FORMATS = ("csv", "excel")  # formats whose rows are spreadsheet lines under one header
_LISTED = 5


@dataclass
class IngestReport:
    """Provenance of one ingested file, for the report's data section and the manifest."""

    source: Path
    sha256: str
    encoding: str | None
    n_rows: int
    n_columns: int
    format: str = ""
    renamed: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# --- validation ---------------------------------------------------------------------------

def _where(data: pd.DataFrame) -> tuple[str, int]:
    """How to cite row positions: spreadsheet lines under one header, else 1-based rows."""
    return ("line", 2) if data.attrs.get("source_format") in _LINE_FORMATS else ("row", 1)


def _listing(values: Iterable[Any], limit: int = _LISTED) -> str:
    values = [str(v) for v in values]
    return ", ".join(values[:limit]) + (", ..." if len(values) > limit else "")


def _suggest(name: str, columns: list[str]) -> str | None:
    def key(text: str) -> str:
        return re.sub(r"[^0-9a-z]", "", text.casefold())

    exact = [c for c in columns if key(c) == key(name)]
    close = exact or difflib.get_close_matches(name, columns, n=1, cutoff=0.6)
    return close[0] if close else None


def _check_columns(data: pd.DataFrame, items: list[str], source: str) -> None:
    duplicated = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
    if duplicated:
        raise DataError(f"{source}: column name(s) {', '.join(duplicated)} appear more than once; "
                        "each column needs a unique header")
    columns = [str(c) for c in data.columns]
    missing = [item for item in items if item not in columns]
    if not missing:
        return
    spare = [c for c in columns if c not in items]
    parts, mapping = [], {}
    for item in missing:
        guess = _suggest(item, spare)
        if guess is None:
            parts.append(f"column '{item}' not found")
        else:
            parts.append(f"column '{item}' not found; did you mean '{guess}'?")
            mapping[guess] = item
    hint = f" Pass column_map={mapping!r} to rename." if mapping else ""
    raise DataError(f"{source}: {len(missing)} required item column(s) missing: {'; '.join(parts)}."
                    f"{hint} Expected all of {_listing(items, 3)} ({len(items)} items).")


def _convert_items(data: pd.DataFrame, items: list[str], rules: CellRules, source: str,
                   notes: list[str]) -> dict[str, pd.arrays.IntegerArray]:
    points = rules.points
    unit, offset = _where(data)
    converted: dict[str, pd.arrays.IntegerArray] = {}
    problems: list[tuple[str, list[int], list[str]]] = []
    n_labels = n_missing = 0
    for item in items:
        # Classify each distinct value once; code -1 marks empty cells (NaN, None, <NA>).
        codes, uniques = pd.factorize(data[item].astype(object))
        verdicts = [rules.classify(value) for value in uniques] + [("missing", None)]
        kinds = np.array([kind for kind, _ in verdicts])[codes]
        bad = np.flatnonzero(kinds == "bad")
        if bad.size:
            reasons = [verdicts[codes[p]][1] for p in bad]
            problems.append((item, [int(p) + offset for p in bad], reasons))
            continue
        n_labels += int((kinds == "label").sum())
        n_missing += int(((kinds == "missing") & (codes >= 0)).sum())
        values = np.array([point or 0 for _, point in verdicts], dtype=np.int8)[codes]
        converted[item] = pd.arrays.IntegerArray(values, kinds == "missing")
    if problems:
        item, lines, reasons = problems[0]
        more = "" if len(lines) == 1 else f" (1 more such cell in {unit} {lines[1]})" \
            if len(lines) == 2 else \
            f" ({len(lines) - 1} more such cells in {unit}s {_listing(lines[1:])})"
        others = "".join(f"; also column {col} ({len(rows)} cell(s))"
                         for col, rows, _ in problems[1:])
        allowed = ", ".join(repr(c) for c in rules.missing_codes)
        raise DataError(f"{source}: column {item}, {unit} {lines[0]}: {reasons[0]}{more}{others}. "
                        f"Allowed: whole numbers 1..{points}, the scale labels (e.g. "
                        f"{rules.example_label!r}) or a missing code ({allowed}).")
    if n_labels:
        notes.append(f"mapped {n_labels} text answer(s) to scale points using the scale labels "
                     f"({rules.languages})")
    if n_missing:
        notes.append(f"read {n_missing} item cell(s) holding a missing code as missing")
    return converted


def _respondent_ids(data: pd.DataFrame, id_column: str, source: str, notes: list[str]) -> pd.Series:
    if id_column not in data.columns:
        width = max(5, len(str(len(data))))
        notes.append(f"no '{id_column}' column: created ids R{1:0{width}d}..R{len(data):0{width}d} "
                     "in file order")
        return pd.Series([f"R{i:0{width}d}" for i in range(1, len(data) + 1)], index=data.index,
                         dtype=object)

    def text(value: Any) -> Any:
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))  # Excel/SPSS store numeric ids as floats: 1001.0 -> '1001'
        return value if pd.isna(value) else str(value).strip()

    ids = data[id_column].astype(object).map(text)
    unit, offset = _where(data)
    absent = np.flatnonzero(ids.isna().to_numpy())
    if absent.size:
        raise DataError(f"{source}: column {id_column}: missing id in {unit}(s) "
                        f"{_listing(int(p) + offset for p in absent)}; every respondent needs an id")
    repeated = ids[ids.duplicated(keep=False)]
    if not repeated.empty:
        shown = []
        for value in pd.unique(repeated)[:_LISTED]:
            lines = (int(p) + offset for p in np.flatnonzero((ids == value).to_numpy()))
            shown.append(f"{value!r} ({unit}s {_listing(lines, 3)})")
        raise DataError(f"{source}: column {id_column}: {repeated.nunique()} duplicated id(s): "
                        f"{'; '.join(shown)}; ids must be unique")
    return ids


def _durations(data: pd.DataFrame, column: str, rules: CellRules, source: str) -> pd.Series:
    values = data[column].tolist()
    numbers = [np.nan if rules.is_missing(v) else rules.number(v) for v in values]
    bad = np.flatnonzero([n is None or n < 0 for n in numbers])
    if bad.size:
        unit, offset = _where(data)
        raise DataError(f"{source}: column {column}, {unit} {int(bad[0]) + offset}: value "
                        f"{data[column].iloc[bad[0]]!r} is not a duration in seconds (a number >= 0)"
                        f"{f' ({bad.size - 1} more)' if bad.size > 1 else ''}")
    return pd.Series(numbers, index=data.index, dtype=float)


def validate_responses(data: pd.DataFrame, instrument: Instrument, source: str | None = None,
                       id_column: str = "respondent_id", duration_column: str = "duration_sec",
                       missing_codes: Iterable[str] = DEFAULT_MISSING_CODES) -> pd.DataFrame:
    """Check a responses table against the instrument and return a clean copy.

    Parameters
    ----------
    data : DataFrame
        One row per respondent; never modified.
    instrument : Instrument
        Every ``instrument.likert_items`` column must be present.
    source : str, optional
        Name used in messages; defaults to the file name in ``data.attrs`` or ``"<data>"``.
    id_column, duration_column : str
        Ids are created (``R00001``...) if the column is absent; duplicates are an error.
        The duration column is optional (converted to float seconds when present).
    missing_codes : iterable of str
        Cell values meaning "no answer" (see :data:`DEFAULT_MISSING_CODES`).

    Returns
    -------
    DataFrame
        Item columns as ``"Int8"`` in 1..points or ``<NA>``; other columns kept as they were.
        ``attrs["ingest_notes"]`` lists what was done (created ids, mapped labels, ...).

    Notes
    -----
    Text answers equal to a scale anchor in any instrument language (case and spacing
    ignored) become that point, e.g. ``"Strongly agree"`` and ``"非常同意"`` -> 7. Reverse-keyed
    items are left as answered; see :func:`recode_reverse_keyed`. Positions in messages are
    spreadsheet lines (header = line 1) for CSV/Excel sources, else 1-based rows.
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"{source or '<data>'}: expected a pandas DataFrame, "
                        f"got {type(data).__name__}")
    if not isinstance(instrument, Instrument):
        raise DataError(f"expected an analysis.instrument.model.Instrument, "
                        f"got {type(instrument).__name__}")
    missing_codes = tuple(missing_codes)
    source = source or Path(data.attrs.get("source_path", "<data>")).name
    if data.empty:
        raise DataError(f"{source}: the responses table has no rows")
    items = instrument.likert_items
    _check_columns(data, items, source)
    notes: list[str] = list(data.attrs.get("ingest_notes", []))
    rules = CellRules(instrument, missing_codes, data)
    converted = _convert_items(data, items, rules, source, notes)
    result = data.copy(deep=True)
    for item, values in converted.items():
        result[item] = pd.Series(values, index=result.index, name=item)
    ids = _respondent_ids(data, id_column, source, notes)
    if id_column in result.columns:
        result[id_column] = ids
    else:
        result.insert(0, id_column, ids)
    if duration_column in result.columns:
        result[duration_column] = _durations(data, duration_column, rules, source)
    else:
        notes.append(f"no '{duration_column}' column: screening will skip the speed checks")
    extra = [str(c) for c in data.columns
             if c not in items and c not in (id_column, duration_column)]
    if extra:
        notes.append(f"kept {len(extra)} other column(s): {_listing(extra, 8)}")
    result.attrs = {**data.attrs, "ingest_notes": notes}
    return result


def numeric_columns(data: pd.DataFrame, columns: Iterable[str], source: str | None = None,
                    missing_codes: tuple[str, ...] = DEFAULT_MISSING_CODES) -> pd.DataFrame:
    """A copy of ``data`` with ``columns`` converted to float (missing codes -> NaN).

    For model variables read from a file, where text cells are kept as text. A cell
    that is neither a number nor a missing code is a :class:`DataError` naming the file,
    the column, the line (or row) and the value. Columns absent from ``data`` are left
    for the model to report.
    """
    out = data.copy()
    codes = {code.strip().lower() for code in missing_codes}
    unit, offset = _where(data)
    name = source or data.attrs.get("source_path") or "data"
    for column in [c for c in columns if c in out.columns]:
        values = out[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            out[column] = values.astype(float)
            continue
        text = values.astype("string").str.strip()
        missing = values.isna() | text.str.lower().isin(codes).fillna(False)
        numbers = pd.to_numeric(text.where(~missing), errors="coerce")
        bad = numbers.isna() & ~missing
        if bad.any():
            positions = [i for i, flag in enumerate(bad.to_numpy()) if flag]
            first = positions[0]
            more = f" ({len(positions) - 1} more such cells)" if len(positions) > 1 else ""
            raise DataError(f"{name}: column {column}, {unit} {first + offset}: value {values.iloc[first]!r} "
                            f"is not a number{more}; expected numbers or a missing code "
                            f"({', '.join(repr(c) for c in missing_codes)})")
        out[column] = numbers.astype(float)
    return out


def recode_reverse_keyed(data: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Return a copy with reverse-keyed items recoded as ``(points + 1) - x`` (8 - x on 7 points).

    Apply it to validated data, once, and only for analyses that expect keyed scores; the
    screening step (:mod:`analysis.screening.rules`) keys items itself and wants the raw answers.
    ``attrs["reverse_recoded"]`` guards against recoding twice.
    """
    items = instrument.reverse_keyed
    done = data.attrs.get("reverse_recoded", [])
    if done:
        raise DataError(f"reverse-keyed items {', '.join(done)} were already recoded; recoding "
                        "again would restore the original direction")
    absent = [item for item in items if item not in data.columns]
    if absent:
        raise DataError(f"cannot recode reverse-keyed item(s) {', '.join(absent)}: column(s) not "
                        "found; run validate_responses first")
    points = instrument.scale.points
    result = data.copy(deep=True)
    for item in items:
        values = pd.to_numeric(data[item], errors="coerce").astype("Int64")
        if ((values < 1) | (values > points)).any() or (values.isna() & data[item].notna()).any():
            raise DataError(f"column {item}: values outside 1..{points}; "
                            "run validate_responses first")
        result[item] = (points + 1 - values).astype("Int8")
    note = (f"recoded reverse-keyed item(s) {', '.join(items)} as {points + 1} - x" if items
            else "no reverse-keyed items in the instrument; nothing recoded")
    result.attrs = {**data.attrs, "reverse_recoded": list(items),
                    "ingest_notes": [*data.attrs.get("ingest_notes", []), note]}
    return result


def load_survey_file(path: str | Path, instrument: Instrument | str | Path | None = None,
                     format: str = "auto", sheet: str | int | None = None,
                     column_map: Mapping[str, str] | None = None, *,
                     id_column: str = "respondent_id", duration_column: str = "duration_sec",
                     missing_codes: Iterable[str] = DEFAULT_MISSING_CODES,
                     ) -> tuple[pd.DataFrame, IngestReport]:
    """Read, rename (``column_map``: file column -> instrument id) and validate one export.

    ``instrument`` may be an :class:`Instrument`, a path to an instrument file, or None for
    the default instrument. Returns the validated frame and its :class:`IngestReport`.
    """
    if not isinstance(instrument, Instrument):
        instrument = load_instrument(instrument)
    path = Path(path)
    raw = read_table(path, format=format, sheet=sheet)
    renamed = dict(column_map or {})
    columns = [str(c) for c in raw.columns]
    unknown = [old for old in renamed if old not in columns]
    if unknown:
        hints = [f"'{old}'" + (f" (did you mean '{g}'?)" if (g := _suggest(old, columns)) else "")
                 for old in unknown]
        raise DataError(f"{path.name}: column_map names column(s) not in the file: "
                        f"{', '.join(hints)}")
    clashes = [new for old, new in renamed.items() if new in columns and new not in renamed]
    if clashes:
        raise DataError(f"{path.name}: column_map would create duplicate column(s) "
                        f"{', '.join(clashes)}, which the file already has")
    table = raw.rename(columns=renamed) if renamed else raw
    table.attrs = dict(raw.attrs)
    data = validate_responses(table, instrument, source=path.name, id_column=id_column,
                              duration_column=duration_column, missing_codes=missing_codes)
    notes = list(data.attrs.get("ingest_notes", []))
    if renamed:
        notes.insert(0, f"renamed {len(renamed)} column(s): "
                        + ", ".join(f"{old} -> {new}" for old, new in renamed.items()))
        data.attrs["ingest_notes"] = notes
    report = IngestReport(source=path, sha256=raw.attrs["source_sha256"],
                          encoding=raw.attrs.get("source_encoding"), n_rows=int(raw.shape[0]),
                          n_columns=int(raw.shape[1]), format=raw.attrs["source_format"],
                          renamed=renamed, notes=notes)
    return data, report

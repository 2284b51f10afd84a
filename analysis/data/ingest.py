"""Reading researchers' own survey exports (CSV, Excel, Parquet, SPSS) without modifying them.

Three steps, each a plain function:

* :func:`read_table` (from :mod:`analysis.data.readers`, re-exported here) opens a file
  read-only, records its SHA-256 and how it was decoded in ``DataFrame.attrs`` and
  returns the cells as found (CSV cells stay text).
* :func:`validate_responses` checks a table against the instrument and returns a new
  frame with item columns as pandas ``"Int8"`` (scale labels in any instrument language
  mapped to their points, missing codes to ``<NA>``) plus notes in ``attrs["ingest_notes"]``.
* :func:`recode_reverse_keyed` is the separate, explicit reverse-keying step.

:func:`load_survey_file` chains reading, the platform layout (Qualtrics, Wenjuanxing,
KoboToolbox: :mod:`analysis.data.exports`), renaming and validation and returns an
:class:`IngestReport` for the provenance log. By default every user mistake raises one
:class:`~analysis.errors.DataError` naming the file, line and column; with ``collect=True``
(the study pipeline) problems in single cells or rows are listed in the validation report
(:mod:`analysis.data.validation`) instead, and only fatal ones raise.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.data.cells import CellRules
from analysis.data.exports import normalise_export
from analysis.data.readers import FORMATS, clip, file_sha256, read_table
from analysis.data.validation import ValidationLog
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

_LINE_FORMATS = ("csv", "xlsx")  # formats whose rows are spreadsheet lines under one header
_LISTED = 5
#: In collecting mode, more unreadable item cells than this share means the wrong file or mapping.
_FATAL_SHARE = 0.5


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
    layout: str = "plain"
    sheet: str | None = None
    problems: pd.DataFrame | None = None


# --- validation ---------------------------------------------------------------------------

def _where(data: pd.DataFrame) -> tuple[str, np.ndarray]:
    """How to cite row positions: ("line", the file line or sheet row of each row) for CSV and
    Excel sources (header = line 1; header rows and excluded rows skipped), else ("row", 1..n)."""
    lines = data.attrs.get("source_lines")
    if lines is not None and len(lines) == len(data):
        return "line", np.asarray(lines, dtype=int)
    if data.attrs.get("source_format") in _LINE_FORMATS:
        return "line", np.arange(2, len(data) + 2)
    return "row", np.arange(1, len(data) + 1)


def _listing(values: Iterable[Any], limit: int = _LISTED) -> str:
    values = [str(v) for v in values]
    return ", ".join(values[:limit]) + (", ..." if len(values) > limit else "")


def _suggest(name: str, columns: list[str]) -> str | None:
    def key(text: str) -> str:
        return re.sub(r"[^0-9a-z]", "", text.casefold())

    exact = [c for c in columns if key(c) == key(name)]
    close = exact or difflib.get_close_matches(name, columns, n=1, cutoff=0.6)
    return close[0] if close else None


def _sheet_hint(data: pd.DataFrame) -> str:
    """Which sheet was read (and which others there are), for column errors in workbooks."""
    sheet, sheets = data.attrs.get("source_sheet"), data.attrs.get("source_sheets") or []
    if sheet is None:
        return ""
    others = [s for s in sheets if s != sheet]
    listing = f"; other sheets: {', '.join(clip(s, 30) for s in others[:6])} (set data.sheet)" \
        if others else ""
    return f" (read sheet {clip(sheet, 30)}{listing})"


def _check_columns(data: pd.DataFrame, items: list[str], source: str) -> None:
    duplicated = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
    if duplicated:
        raise DataError(f"{source}: column name(s) {clip(', '.join(duplicated))} appear more than "
                        "once; each column needs a unique header")
    columns = [str(c) for c in data.columns]
    missing = [item for item in items if item not in columns]
    if not missing:
        return
    layout = data.attrs.get("source_layout")
    if len(missing) == len(items):
        found = ", ".join(clip(c, 24) for c in columns[:4]) + (", ..." if len(columns) > 4 else "")
        raise DataError(f"{source}: no item columns found{_sheet_hint(data)}; expected columns "
                        f"{_listing(items, 3)} ({len(items)} items), got {len(columns)} column(s): "
                        f"{found}" + (f" (read as {layout}; map the columns with data.columns)"
                                      if layout and layout != "plain" else
                                      "; set data.layout or data.columns"))
    spare = [c for c in columns if c not in items]
    parts, mapping = [], {}
    for item in missing:
        guess = _suggest(item, spare)
        if guess is None:
            parts.append(f"column '{item}' not found")
        else:
            parts.append(f"column '{item}' not found; did you mean '{guess}'?")
            mapping[guess] = item
    hint = (" Map them in the profile: data.columns: {"
            + ", ".join(f"{new}: {old[:20]}" for old, new in list(mapping.items())[:3]) + "}.") if mapping else ""
    shown = "; ".join(parts[:4]) + (f"; and {len(parts) - 4} more" if len(parts) > 4 else "")
    raise DataError(f"{source}: {len(missing)} required item column(s) missing{_sheet_hint(data)}: "
                    f"{shown}.{hint} Expected all of {_listing(items, 3)} ({len(items)} items).")


def _expected(rules: CellRules) -> str:
    return f"a whole number 1..{rules.points} or a scale label"


def _convert_items(data: pd.DataFrame, items: list[str], rules: CellRules, source: str,
                   notes: list[str], log: ValidationLog | None = None
                   ) -> dict[str, pd.arrays.IntegerArray]:
    points = rules.points
    unit, lines = _where(data)
    converted: dict[str, pd.arrays.IntegerArray] = {}
    problems: list[tuple[str, list[int], list[tuple[str, str]]]] = []
    n_labels = n_missing = n_bad = 0
    for item in items:
        # Classify each distinct value once; code -1 marks empty cells (NaN, None, <NA>).
        codes, uniques = pd.factorize(data[item].astype(object))
        verdicts = [rules.classify(value) for value in uniques] + [("missing", None)]
        kinds = np.array([kind for kind, _ in verdicts])[codes]
        bad = np.flatnonzero(kinds == "bad")
        if bad.size:
            reasons = [verdicts[codes[p]][1] for p in bad]
            problems.append((item, [int(lines[p]) for p in bad], reasons))
            if log is None:
                continue
            n_bad += int(bad.size)
            for p, (code, _) in zip(bad, reasons):
                log.add(source, int(lines[p]), item, uniques[codes[p]], code, _expected(rules))
        n_labels += int((kinds == "label").sum())
        n_missing += int(((kinds == "missing") & (codes >= 0)).sum())
        values = np.array([point if kind in ("label", "number") else 0 for kind, point in verdicts],
                          dtype=np.int8)[codes]
        converted[item] = pd.arrays.IntegerArray(values, np.isin(kinds, ("missing", "bad")))
    if problems and log is None:
        item, cells, reasons = problems[0]
        more = "" if len(cells) == 1 else f" (1 more such cell in {unit} {cells[1]})" \
            if len(cells) == 2 else \
            f" ({len(cells) - 1} more such cells in {unit}s {_listing(cells[1:])})"
        others = "".join(f"; also column {col} ({len(rows)} cell(s))"
                         for col, rows, _ in problems[1:3])
        if len(problems) > 3:
            others += f"; and {len(problems) - 3} more column(s)"
        allowed = ", ".join(repr(c) for c in rules.missing_codes)
        raise DataError(f"{source}: column {item}, {unit} {cells[0]}: {reasons[0][1]}{more}{others}. "
                        f"Allowed: whole numbers 1..{points}, the scale labels (e.g. "
                        f"{rules.example_label!r}) or a missing code ({allowed}).")
    if n_bad:
        total = len(data) * len(items)
        if n_bad > _FATAL_SHARE * total:
            item, cells, reasons = problems[0]
            raise DataError(f"{source}: {n_bad:,} of {total:,} item cells are not answers on the "
                            f"1..{points} scale (first: column {item}, {unit} {cells[0]}: "
                            f"{reasons[0][1]}); is this the right file, and are the answer texts "
                            "mapped (data.recode)?")
        notes.append(f"read {n_bad} item cell(s) that are not answers on the scale as missing "
                     "(listed in the validation report)")
    if n_labels:
        notes.append(f"mapped {n_labels} text answer(s) to scale points using the scale labels "
                     f"({rules.languages}{', and data.recode' if rules.recoded else ''})")
    if n_missing:
        notes.append(f"read {n_missing} item cell(s) holding a missing code as missing")
    return converted


def _id_text(value: Any) -> Any:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))  # Excel/SPSS store numeric ids as floats: 1001.0 -> '1001'
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(value)
    return value if _empty(value) else str(value).strip()


def _empty(value: Any) -> bool:
    try:
        return bool(pd.isna(value)) or (isinstance(value, str) and not value.strip())
    except (TypeError, ValueError):
        return False


def _respondent_ids(data: pd.DataFrame, id_column: str, source: str, notes: list[str],
                    log: ValidationLog | None = None) -> tuple[pd.Series, np.ndarray]:
    """Ids as text, and which rows to keep (collecting mode drops repeats of an id)."""
    keep = np.ones(len(data), dtype=bool)
    if id_column not in data.columns:
        width = max(5, len(str(len(data))))
        notes.append(f"no '{id_column}' column: created ids R{1:0{width}d}..R{len(data):0{width}d} "
                     "in file order")
        return pd.Series([f"R{i:0{width}d}" for i in range(1, len(data) + 1)], index=data.index,
                         dtype=object), keep
    ids = data[id_column].astype(object).map(_id_text)
    unit, lines = _where(data)
    absent = np.flatnonzero(ids.map(_empty).to_numpy(dtype=bool))
    if absent.size and log is None:
        raise DataError(f"{source}: column {id_column}: missing id in {unit}(s) "
                        f"{_listing(int(lines[p]) for p in absent)}; every respondent needs an id")
    for p in absent:  # collecting: the row keeps a made-up id and is reported
        log.add(source, int(lines[p]), id_column, "", "missing_id", "a respondent id")
        ids.iloc[p] = f"missing-id-{unit}-{int(lines[p])}"
    repeated = ids[ids.duplicated(keep=False)]
    if not repeated.empty and log is None:
        shown = []
        for value in pd.unique(repeated)[:_LISTED]:
            where = (int(lines[p]) for p in np.flatnonzero((ids == value).to_numpy()))
            shown.append(f"{clip(value, 30)} ({unit}s {_listing(where, 3)})")
        raise DataError(f"{source}: column {id_column}: {repeated.nunique()} duplicated id(s): "
                        f"{'; '.join(shown)}; ids must be unique")
    later = ids.duplicated(keep="first").to_numpy()
    for p in np.flatnonzero(later):
        first = int(lines[int(np.flatnonzero((ids == ids.iloc[p]).to_numpy())[0])])
        # the id itself stays out of the report (privacy): the rows say which ones repeat
        log.add(source, int(lines[p]), id_column, "", "duplicate_id",
                f"a unique id (same id as {unit} {first}; this row excluded)")
    keep &= ~later
    if later.any():
        notes.append(f"excluded {int(later.sum())} row(s) repeating an earlier respondent id "
                     "(listed in the validation report)")
    return ids, keep


def _durations(data: pd.DataFrame, column: str, rules: CellRules, source: str,
               log: ValidationLog | None = None) -> pd.Series:
    values = data[column].tolist()
    numbers = [np.nan if rules.is_missing(v) else rules.number(v) for v in values]
    bad = np.flatnonzero([n is None or n < 0 or not np.isfinite(n) for n in numbers])
    unit, lines = _where(data)
    if bad.size and log is None:
        raise DataError(f"{source}: column {column}, {unit} {int(lines[bad[0]])}: value "
                        f"{clip(data[column].iloc[bad[0]])} is not a duration in seconds (a number >= 0)"
                        f"{f' ({bad.size - 1} more)' if bad.size > 1 else ''}")
    for p in bad:
        log.add(source, int(lines[p]), column, values[p], "bad_duration", "seconds (a number >= 0)")
        numbers[p] = np.nan
    return pd.Series(numbers, index=data.index, dtype=float)


def validate_responses(data: pd.DataFrame, instrument: Instrument, source: str | None = None,
                       id_column: str = "respondent_id", duration_column: str = "duration_sec",
                       missing_codes: Iterable[str] = DEFAULT_MISSING_CODES,
                       recode: Mapping[str, int] | None = None,
                       log: ValidationLog | None = None) -> pd.DataFrame:
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
    recode : mapping of str to int, optional
        Answer texts -> scale points (the profile's ``data.recode``), in addition to the
        instrument's scale labels.
    log : ValidationLog, optional
        Collecting mode: a cell that is no answer on the scale becomes missing, a repeated
        id's later rows and rows without any answer are excluded, a bad duration becomes
        missing - each listed in ``log`` - instead of raising. Without it the first such
        problem raises.

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
    try:
        rules = CellRules(instrument, missing_codes, data, dict(recode or {}))
    except DataError as exc:  # the profile's data.recode does not fit this instrument's scale
        raise DataError(f"{source}: {exc}") from None
    converted = _convert_items(data, items, rules, source, notes, log)
    result = data.copy(deep=True)
    for item, values in converted.items():
        result[item] = pd.Series(values, index=result.index, name=item)
    ids, keep = _respondent_ids(data, id_column, source, notes, log)
    if id_column in result.columns:
        result[id_column] = ids
    else:
        result.insert(0, id_column, ids)
    if duration_column in result.columns:
        result[duration_column] = _durations(data, duration_column, rules, source, log)
    else:
        notes.append(f"no '{duration_column}' column: screening will skip the speed checks")
    if log is not None:
        empty = result[items].isna().all(axis=1).to_numpy() & keep
        _, lines = _where(data)
        for p in np.flatnonzero(empty):
            log.add(source, int(lines[p]), "", "", "empty_row", "at least one answered item")
        if empty.any():
            notes.append(f"excluded {int(empty.sum())} row(s) without any answered item (listed "
                         "in the validation report)")
        keep = keep & ~empty
        if not keep.any():
            raise DataError(f"{source}: no row holds an answer to any item; expected one row per "
                            "respondent with answers on the 1..{rules.points} scale")
    extra = [str(c) for c in data.columns
             if c not in items and c not in (id_column, duration_column)]
    if extra:
        notes.append(f"kept {len(extra)} other column(s): {_listing([e[:30] for e in extra], 8)}")
    if not keep.all():
        result = result.loc[keep].reset_index(drop=True)
    attrs = {k: v for k, v in data.attrs.items() if k != "source_lines"}
    result.attrs = {**attrs, "ingest_notes": notes}
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
    unit, lines = _where(data)
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
            raise DataError(f"{name}: column {column}, {unit} {int(lines[first])}: value {clip(values.iloc[first])} "
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
                     encoding: str = "auto", layout: str = "auto",
                     columns: Mapping[str, str] | None = None,
                     recode: Mapping[str, int] | None = None,
                     id_column: str = "respondent_id", duration_column: str = "duration_sec",
                     missing_codes: Iterable[str] = DEFAULT_MISSING_CODES,
                     collect: bool = False,
                     ) -> tuple[pd.DataFrame, IngestReport]:
    """Read, reshape (platform layout), rename and validate one export.

    Parameters
    ----------
    path : str or Path
        The export; only ever read.
    instrument : Instrument, path or None
        An :class:`Instrument`, a path to an instrument file, or None for the default one.
    format, sheet, encoding
        See :func:`read_table` (profile keys ``data.format``, ``data.sheet``, ``data.encoding``).
    column_map : mapping, optional
        File column -> instrument id, applied after the layout (for plain tables).
    layout : {"auto", "plain", "qualtrics", "wenjuanxing", "kobo"}
        The platform's layout (``data.layout``); see :func:`analysis.data.exports.normalise_export`.
    columns : mapping, optional
        The profile's ``data.columns``: instrument id -> export column (or Qualtrics ImportId).
    recode : mapping, optional
        The profile's ``data.recode``: answer text -> scale point.
    collect : bool
        Collect non-fatal problems in the validation report (``report.problems``) instead of
        raising at the first (see :func:`validate_responses`).

    Returns
    -------
    tuple of (DataFrame, IngestReport)
        The validated frame and its provenance (encoding, sheet, layout, notes, problems).
    """
    if not isinstance(instrument, Instrument):
        instrument = load_instrument(instrument)
    path = Path(path)
    raw = read_table(path, format=format, sheet=sheet, encoding=encoding)
    shaped, layout_notes = normalise_export(raw, instrument, layout, path.name, columns=columns)
    renamed = dict(column_map or {})
    present = [str(c) for c in shaped.columns]
    unknown = [old for old in renamed if old not in present]
    if unknown:
        hints = [f"'{old}'" + (f" (did you mean '{g}'?)" if (g := _suggest(old, present)) else "")
                 for old in unknown]
        raise DataError(f"{path.name}: column_map names column(s) not in the file: "
                        f"{', '.join(hints)}")
    clashes = [new for old, new in renamed.items() if new in present and new not in renamed]
    if clashes:
        raise DataError(f"{path.name}: column_map would create duplicate column(s) "
                        f"{', '.join(clashes)}, which the file already has")
    table = shaped.rename(columns=renamed) if renamed else shaped
    sheets = raw.attrs.get("source_sheets") or []
    read_from = [f"read sheet {clip(raw.attrs.get('source_sheet'), 40)} of {len(sheets)}: "
                 + ", ".join(clip(n, 30) for n in sheets[:8])] if len(sheets) > 1 else []
    table.attrs = {**shaped.attrs, "ingest_notes": [*read_from, *layout_notes]}
    log = ValidationLog() if collect else None
    data = validate_responses(table, instrument, source=path.name, id_column=id_column,
                              duration_column=duration_column, missing_codes=missing_codes,
                              recode=recode, log=log)
    notes = list(data.attrs.get("ingest_notes", []))
    if renamed:
        notes.insert(0, f"renamed {len(renamed)} column(s): "
                        + ", ".join(f"{old} -> {new}" for old, new in renamed.items()))
        data.attrs["ingest_notes"] = notes
    report = IngestReport(source=path, sha256=raw.attrs["source_sha256"],
                          encoding=raw.attrs.get("source_encoding"), n_rows=int(raw.shape[0]),
                          n_columns=int(raw.shape[1]), format=raw.attrs["source_format"],
                          renamed=renamed, notes=notes,
                          layout=str(shaped.attrs.get("source_layout", "plain")),
                          sheet=raw.attrs.get("source_sheet"),
                          problems=log.frame() if log is not None else None)
    return data, report

"""Reading researchers' survey exports (CSV, Excel, Parquet, SPSS) read-only, as found.

:func:`read_table` opens a file read-only, records its SHA-256 and how it was decoded in
``DataFrame.attrs`` and returns the cells as found (CSV cells stay text). CSV and Excel are
parsed row by row here (the :mod:`csv` module, openpyxl) rather than by pandas, because
pandas repairs exactly what the user must hear about: it renames a repeated header to
``SAT2.1``, pads short rows and accepts a last row cut mid-line. Checking the cells against
the instrument is :mod:`analysis.data.ingest`'s job.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.data.encoding import ENCODINGS, decode_text
from analysis.errors import DataError

__all__ = ["FORMATS", "FORMAT_ALIASES", "ENCODINGS", "file_sha256", "read_table", "clip"]

#: Format name -> file extensions recognised by ``format="auto"``.
FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".tsv", ".txt"),
    "xlsx": (".xlsx", ".xlsm", ".xls"),
    "parquet": (".parquet", ".pq"),
    "sav": (".sav", ".zsav"),
}
#: Other accepted names for the same formats.
FORMAT_ALIASES = {"excel": "xlsx", "spss": "sav"}
_ALLOWED = "; ".join(f"{name} ({', '.join(ext)})" for name, ext in FORMATS.items())
_NAMES = ", ".join(["auto", *FORMATS, *FORMAT_ALIASES])
_DELIMITERS = ",;\t"
#: What the first bytes say a file is, whatever its name.
_MAGIC = ((b"PK\x03\x04", "xlsx", "an Excel workbook (.xlsx) or another zip archive"),
          (b"\xd0\xcf\x11\xe0", "xls", "a legacy Excel workbook (.xls)"),
          (b"PAR1", "parquet", "a Parquet file"),
          (b"$FL2", "sav", "an SPSS data file (.sav)"), (b"$FL3", "sav", "an SPSS data file (.zsav)"))


def clip(value: Any, limit: int = 60) -> str:
    """``repr`` of a value for a message, cut to ``limit`` characters (a cell may hold 200 kB)."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 5] + "...'" + f" ({len(str(value)):,} chars)"


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks through a read-only handle."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _resolve_format(path: Path, format: str) -> str:
    if format != "auto":
        fmt = FORMAT_ALIASES.get(format, format)
        if fmt not in FORMATS:
            raise DataError(f"{path.name}: unknown format {clip(format)}; allowed formats: {_NAMES}")
        return fmt
    suffix = path.suffix.lower()
    for name, extensions in FORMATS.items():
        if suffix in extensions:
            return name
    raise DataError(f"{path.name}: unrecognised file extension {clip(suffix or '(none)')}; "
                    f"allowed formats: {_ALLOWED}")


def _sniff(raw: bytes) -> tuple[str, str] | None:
    """(format, description) when the bytes are a known binary format, else None."""
    for magic, fmt, description in _MAGIC:
        if raw.startswith(magic):
            return fmt, description
    return None


def _looks_binary(raw: bytes) -> bool:
    """Control bytes (other than tab, line ends, form feed) in more than 2% of a sample."""
    sample = raw[:65536]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    controls = sum(sample.count(bytes([b])) for b in range(32) if b not in (9, 10, 12, 13))
    controls += sample.count(b"\x7f")
    if b"\x00" in sample and controls > 0.3 * len(sample):  # UTF-16 without a mark: decode decides
        return False
    return controls > 0.02 * len(sample)


# --------------------------------------------------------------------------- header and rows
def _check_header(header: list[Any], name: str, where: str) -> list[str]:
    """Column names as text; a repeated name is an error (pandas would rename it 'SAT2.1')."""
    names = ["" if cell is None else str(cell).strip() for cell in header]
    seen: dict[str, int] = {}
    for position, column in enumerate(names, start=1):
        if not column:
            continue
        if column in seen:
            raise DataError(f"{name}: {where}column name {clip(column)} appears more than once in "
                            f"the header (columns {seen[column]} and {position}); each column "
                            "needs a unique name")
        seen[column] = position
    return [column or f"Unnamed: {k}" for k, column in enumerate(names)]


def _frame(header: list[str], rows: list[list[Any]], lines: list[int], name: str, where: str,
           attrs: dict) -> pd.DataFrame:
    # Columns with neither a name nor a value (Excel's trailing blanks) say nothing.
    keep = [k for k, column in enumerate(header)
            if not column.startswith("Unnamed: ") or any(k < len(r) and _filled(r[k]) for r in rows)]
    if not any(not header[k].startswith("Unnamed: ") for k in keep):
        raise DataError(f"{name}: {where}the header row is empty; expected column names in the "
                        "first row")
    if not rows:
        raise DataError(f"{name}: {where}no data rows found (a header at most); expected one row "
                        "per respondent under the header")
    frame = pd.DataFrame([[r[k] for k in keep] for r in rows], columns=[header[k] for k in keep],
                         dtype=object)
    attrs["source_lines"] = tuple(lines)
    return frame


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:  # e.g. a single column: fall back to the most frequent in the header
        header = text.splitlines()[0] if text else ""
        return max(_DELIMITERS, key=header.count) if any(d in header for d in _DELIMITERS) else ","


def _records(text: str, delimiter: str, name: str) -> Iterable[tuple[int, list[str]]]:
    """(first line, fields) of every non-blank record, with csv's errors as DataErrors."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    line = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = str(exc)
            if "field larger than field limit" in reason:
                raise DataError(f"{name}: line {reader.line_num}: a cell longer than "
                                f"{csv.field_size_limit():,} characters; expected survey answers "
                                "(is this the right file?)") from None
            if "unexpected end of data" in reason:
                raise DataError(f"{name}: line {line}: a quoted cell is never closed; the file "
                                "looks truncated (cut mid-row) or has an unbalanced quote") from None
            raise DataError(f"{name}: line {reader.line_num}: not valid CSV ({clip(reason, 80)})") \
                from None
        if fields and any(f.strip() for f in fields) or len(fields) > 1:
            yield line, fields
        line = reader.line_num + 1


def _read_csv(raw: bytes, name: str, encoding: str, attrs: dict) -> pd.DataFrame:
    if _looks_binary(raw):
        raise DataError(f"{name}: not a text table (binary content); expected a CSV export "
                        "(comma, semicolon or tab separated)")
    text, attrs["source_encoding"] = decode_text(raw, name, encoding)
    if "\x00" in text:
        raise DataError(f"{name}: not a text table (NUL characters after decoding as "
                        f"{attrs['source_encoding']}); expected a CSV export")
    if not text.strip():
        raise DataError(f"{name}: the file holds no text (only an encoding mark or blanks)")
    attrs["source_delimiter"] = _delimiter(text)
    records = list(_records(text, attrs["source_delimiter"], name))
    if not records:
        raise DataError(f"{name}: the file holds no rows; expected a header row and one row per "
                        "respondent")
    header = _check_header(records[0][1], name, "")
    width = len(header)
    rows, lines = [], []
    for position, (line, fields) in enumerate(records[1:], start=2):
        if len(fields) > width:
            if any(f.strip() for f in fields[width:]):
                raise DataError(f"{name}: line {line} has {len(fields)} fields but the header has "
                                f"{width}; expected one field per column (an unquoted "
                                f"{attrs['source_delimiter']!r} inside a cell?)")
            fields = fields[:width]  # a trailing delimiter: empty extra fields carry nothing
        elif len(fields) < width:
            cut = (" and is the last, without a line break: the file looks truncated"
                   if position == len(records) and not text.endswith(("\n", "\r")) else "")
            raise DataError(f"{name}: line {line} has {len(fields)} fields but the header has "
                            f"{width}{cut}; expected one field per column")
        rows.append([f if f.strip() else None for f in fields])
        lines.append(line)
    # Cells stay text (no type guessing) so ids like '007' and codes like '-99' survive;
    # validate_responses converts the item and duration columns.
    return _frame(header, rows, lines, name, "", attrs)


def _sheet_listing(names: list[str]) -> str:
    return ", ".join(clip(n, 40) for n in names[:10]) + (", ..." if len(names) > 10 else "")


def _choose_sheet(names: list[str], sheet: str | int | None, name: str, attrs: dict) -> str:
    """The sheet to read (``data.sheet``: a name or 0-based position; the first by default)."""
    attrs["source_sheets"] = names
    chosen = 0 if sheet is None else sheet
    if isinstance(chosen, str) and chosen not in names or \
            isinstance(chosen, int) and not 0 <= chosen < len(names):
        raise DataError(f"{name}: no sheet {clip(chosen, 40)}; the workbook has sheets "
                        f"{_sheet_listing(names)} (set data.sheet to a name or a 0-based position)")
    attrs["source_sheet"] = title = names[chosen] if isinstance(chosen, int) else chosen
    return title


def _read_xlsx(raw: bytes, name: str, sheet: str | int | None, attrs: dict) -> pd.DataFrame:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    try:
        names = [str(s) for s in book.sheetnames]
        title = _choose_sheet(names, sheet, name, attrs)
        where = f"sheet {clip(title, 40)}: " if len(names) > 1 or sheet is not None else ""
        rows = [list(r) for r in book[title].iter_rows(values_only=True)]
    finally:
        book.close()
    numbered = [(k + 1, r) for k, r in enumerate(rows) if any(_filled(v) for v in r)]
    if not numbered:
        others = f"; the workbook has sheets {_sheet_listing(names)}" if len(names) > 1 else ""
        raise DataError(f"{name}: sheet {clip(title, 40)} is empty{others}; expected a header row "
                        "and one row per respondent (set data.sheet to choose the sheet)")
    _, header_cells = numbered[0]
    header = _check_header(header_cells, name, where)
    width = len(header)
    data = [[None if not _filled(v) else (v.strip() if isinstance(v, str) else v)
             for v in (r + [None] * width)[:width]] for _, r in numbered[1:]]
    return _frame(header, data, [n for n, _ in numbered[1:]], name, where, attrs)


def _read_xls(raw: bytes, name: str, sheet: str | int | None, attrs: dict) -> pd.DataFrame:
    book = pd.ExcelFile(io.BytesIO(raw), engine="xlrd")
    with book:
        names = [str(s) for s in book.sheet_names]
        chosen = _choose_sheet(names, sheet, name, attrs)
        frame = book.parse(chosen, header=None, dtype=object, keep_default_na=False, na_values=[""])
    header = _check_header(list(frame.iloc[0]) if len(frame) else [], name, "")
    rows = frame.iloc[1:].astype(object).where(frame.iloc[1:].notna(), None).values.tolist()
    return _frame(header, rows, list(range(2, len(rows) + 2)), name, "", attrs)


def _read_spss(path: Path, attrs: dict) -> pd.DataFrame:
    import pyreadstat

    # Codes stay numbers; labels travel in attrs. Declared user-missing codes become NaN.
    frame, meta = pyreadstat.read_sav(str(path), apply_value_formats=False, user_missing=False)
    attrs["source_encoding"] = meta.file_encoding
    attrs["value_labels"] = {col: dict(labels) for col, labels in meta.variable_value_labels.items()}
    attrs["column_labels"] = {col: label for col, label in
                              zip(meta.column_names, meta.column_labels) if label}
    return frame


def _check_content(raw: bytes, name: str, fmt: str, suffix: str) -> str:
    """The parser to use: the named format, unless the bytes clearly are another one."""
    found = _sniff(raw)
    if fmt == "csv":
        if found:
            raise DataError(f"{name}: the file is named {suffix or '(no extension)'} but holds "
                            f"{found[1]}, not CSV text; rename it to .{found[0]} or set "
                            f"data.format: {found[0] if found[0] != 'xls' else 'xlsx'}")
        return fmt
    if fmt == "xlsx":
        if suffix == ".xls" or (found and found[0] == "xls"):
            return "xls"
        if not found or found[0] != "xlsx":
            what = found[1] if found else ("binary content" if _looks_binary(raw) else "text (CSV?)")
            raise DataError(f"{name}: not an Excel workbook: the file holds {what}; rename it to "
                            "match its content or set data.format")
    if fmt == "parquet" and (not found or found[0] != "parquet"):
        raise DataError(f"{name}: not a Parquet file (no 'PAR1' mark); expected a Parquet table")
    return fmt


def read_table(path: str | Path, format: str = "auto", sheet: str | int | None = None,
               encoding: str = "auto") -> pd.DataFrame:
    """Read a survey export read-only: CSV, Excel, Parquet or SPSS ``.sav``.

    Parameters
    ----------
    path : str or Path
        The file. It is only ever opened for reading.
    format : {"auto", "csv", "xlsx", "parquet", "sav", "excel", "spss"}
        ``"auto"`` decides from the extension (see :data:`FORMATS`); ``excel`` and ``spss``
        are other names for ``xlsx`` and ``sav``.
    sheet : str or int, optional
        Excel sheet name or 0-based position; the first sheet by default.
    encoding : str
        CSV text encoding, one of :data:`ENCODINGS` (``"auto"`` detects; see
        :func:`analysis.data.encoding.decode_text`).

    Returns
    -------
    DataFrame
        Cells as found (object columns; empty cells None). ``attrs``: ``source_path``,
        ``source_format`` (``csv``, ``xlsx``, ``parquet``, ``sav``), ``source_sha256``,
        ``source_encoding`` (CSV: the encoding used; SPSS: the file's declared encoding;
        else None), ``source_lines`` (CSV and Excel: the line or sheet row of each data row,
        header = 1) and per format ``source_delimiter``, ``source_sheet``, ``source_sheets``,
        ``value_labels``, ``column_labels``.

    Raises
    ------
    DataError
        One line naming the file (and line, column or sheet): unreadable or binary content,
        content that does not match the extension, a repeated column name, a row with more
        or fewer fields than the header, an unclosed quote (a truncated file), an empty
        sheet or a header without rows.
    """
    path = Path(path)
    fmt = _resolve_format(path, format)
    if encoding not in ENCODINGS:
        raise DataError(f"{path.name}: data.encoding: expected one of {', '.join(ENCODINGS)}, "
                        f"got {clip(encoding)}")
    if not path.is_file():
        raise DataError(f"{path.name}: file not found (allowed formats: {_ALLOWED})")
    if sheet is not None and fmt != "xlsx":
        raise DataError(f"{path.name}: data.sheet applies to Excel files only; this is read as {fmt}")
    attrs: dict[str, Any] = {"source_path": str(path), "source_format": fmt, "source_encoding": None}
    if path.stat().st_size == 0:
        raise DataError(f"{path.name}: the file is empty; expected a {fmt} table")
    try:
        if fmt == "sav":
            attrs["source_sha256"] = file_sha256(path)
            with open(path, "rb") as handle:
                head = handle.read(4)
            if head not in (b"$FL2", b"$FL3"):
                raise DataError(f"{path.name}: not an SPSS data file (no '$FL2' mark); expected "
                                "a .sav file saved by SPSS, PSPP or pyreadstat")
            frame = _read_spss(path, attrs)
        else:
            with open(path, "rb") as handle:
                raw = handle.read()
            attrs["source_sha256"] = hashlib.sha256(raw).hexdigest()
            parser = _check_content(raw, path.name, fmt, path.suffix.lower())
            if parser == "csv":
                frame = _read_csv(raw, path.name, encoding, attrs)
            elif parser == "xlsx":
                frame = _read_xlsx(raw, path.name, sheet, attrs)
            elif parser == "xls":
                frame = _read_xls(raw, path.name, sheet, attrs)
            else:
                frame = pd.read_parquet(io.BytesIO(raw))
    except DataError:
        raise
    except ImportError:
        raise DataError(f"{path.name}: legacy .xls files need the 'xlrd' package, which is not "
                        "installed; open the file in Excel and save it as .xlsx") from None
    except Exception as exc:  # parsers raise many types; the user needs one readable message
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path.name}: cannot read as {fmt} ({first[:100]}); allowed "
                        f"formats: {_ALLOWED}") from None
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise DataError(f"{path.name}: no data rows found (a header at most); expected one row "
                        "per respondent")
    # Notes from an earlier session (Parquet keeps attrs) would be repeated in this one's report.
    frame.attrs = {**{k: v for k, v in frame.attrs.items() if k != "ingest_notes"}, **attrs}
    return frame

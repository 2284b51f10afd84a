"""Reading researchers' survey exports (CSV, Excel, Parquet, SPSS) read-only, as found.

:func:`read_table` opens a file read-only, records its SHA-256 and how it was decoded in
``DataFrame.attrs`` and returns the cells as found (CSV cells stay text). Checking the
cells against the instrument is :mod:`analysis.data.ingest`'s job.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.errors import DataError

__all__ = ["FORMATS", "file_sha256", "read_table"]

#: Format name -> file extensions recognised by ``format="auto"``.
FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".tsv", ".txt"),
    "excel": (".xlsx", ".xlsm", ".xls"),
    "parquet": (".parquet", ".pq"),
    "spss": (".sav", ".zsav"),
}
_ALLOWED = "; ".join(f"{name} ({', '.join(ext)})" for name, ext in FORMATS.items())
_CSV_ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
_DELIMITERS = ",;\t"


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks through a read-only handle."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _resolve_format(path: Path, format: str) -> str:
    if format != "auto":
        if format not in FORMATS:
            raise DataError(f"{path.name}: unknown format {format!r}; allowed formats: auto, "
                            f"{', '.join(FORMATS)}")
        return format
    suffix = path.suffix.lower()
    for name, extensions in FORMATS.items():
        if suffix in extensions:
            return name
    raise DataError(f"{path.name}: unrecognised file extension {suffix or '(none)'!r}; "
                    f"allowed formats: {_ALLOWED}")


def _decode(raw: bytes, name: str) -> tuple[str, str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise DataError(f"{name}: cannot decode the text with any of {', '.join(_CSV_ENCODINGS)}; "
                    "re-save the file as UTF-8 CSV")


def _delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:  # e.g. a single column: fall back to the most frequent in the header
        header = text.splitlines()[0] if text else ""
        return max(_DELIMITERS, key=header.count) if any(d in header for d in _DELIMITERS) else ","


def _read_csv(raw: bytes, name: str, attrs: dict) -> pd.DataFrame:
    text, attrs["source_encoding"] = _decode(raw, name)
    if not text.strip():
        raise DataError(f"{name}: the file holds no text (only an encoding mark or blanks)")
    attrs["source_delimiter"] = _delimiter(text)
    # Cells stay text (no type guessing) so ids like '007' and codes like '-99' survive;
    # validate_responses converts the item and duration columns.
    return pd.read_csv(io.StringIO(text), sep=attrs["source_delimiter"], dtype=str,
                       keep_default_na=False, na_values=[""], skip_blank_lines=True)


def _read_excel(raw: bytes, path: Path, sheet: str | int | None, attrs: dict) -> pd.DataFrame:
    engine = "xlrd" if path.suffix.lower() == ".xls" else "openpyxl"
    try:
        book = pd.ExcelFile(io.BytesIO(raw), engine=engine)
    except ImportError:
        raise DataError(f"{path.name}: legacy .xls files need the 'xlrd' package, which is not "
                        "installed; open the file in Excel and save it as .xlsx") from None
    with book:
        names = [str(s) for s in book.sheet_names]
        chosen = 0 if sheet is None else sheet
        if isinstance(chosen, str) and chosen not in names or \
                isinstance(chosen, int) and not 0 <= chosen < len(names):
            raise DataError(f"{path.name}: no sheet {chosen!r}; the workbook has sheets "
                            f"{', '.join(map(repr, names))}")
        attrs["source_sheet"] = names[chosen] if isinstance(chosen, int) else chosen
        return book.parse(chosen, keep_default_na=False, na_values=[""])


def _read_spss(path: Path, attrs: dict) -> pd.DataFrame:
    import pyreadstat

    # Codes stay numbers; labels travel in attrs. Declared user-missing codes become NaN.
    frame, meta = pyreadstat.read_sav(str(path), apply_value_formats=False, user_missing=False)
    attrs["source_encoding"] = meta.file_encoding
    attrs["value_labels"] = {col: dict(labels) for col, labels in meta.variable_value_labels.items()}
    attrs["column_labels"] = {col: label for col, label in
                              zip(meta.column_names, meta.column_labels) if label}
    return frame


def read_table(path: str | Path, format: str = "auto",
               sheet: str | int | None = None) -> pd.DataFrame:
    """Read a survey export read-only: CSV, Excel, Parquet or SPSS ``.sav``.

    Parameters
    ----------
    path : str or Path
        The file. It is only ever opened for reading.
    format : {"auto", "csv", "excel", "parquet", "spss"}
        ``"auto"`` decides from the extension (see :data:`FORMATS`).
    sheet : str or int, optional
        Excel sheet name or 0-based position; the first sheet by default.

    Returns
    -------
    DataFrame
        With ``attrs``: ``source_path``, ``source_format``, ``source_sha256``,
        ``source_encoding`` (CSV: ``"utf-8"``, ``"utf-8-sig"`` (BOM stripped) or
        ``"gb18030"`` (a superset of GBK); SPSS: the file's declared encoding; else None),
        and per format ``source_delimiter``, ``source_sheet``, ``value_labels``,
        ``column_labels``.

    Notes
    -----
    CSV encodings are tried in the order UTF-8, UTF-8 with BOM, GB18030; the delimiter is
    chosen among ``,`` ``;`` and tab with :class:`csv.Sniffer`. CSV cells are kept as text;
    only empty cells become missing. The SHA-256 is of exactly the bytes parsed (SPSS: of
    the file, read just before parsing).
    """
    path = Path(path)
    fmt = _resolve_format(path, format)
    if not path.is_file():
        raise DataError(f"{path}: file not found (allowed formats: {_ALLOWED})")
    if sheet is not None and fmt != "excel":
        raise DataError(f"{path.name}: 'sheet' applies to Excel files only; this is read as {fmt}")
    attrs: dict[str, Any] = {"source_path": str(path), "source_format": fmt, "source_encoding": None}
    if path.stat().st_size == 0:
        raise DataError(f"{path.name}: the file is empty; expected a {fmt} table")
    try:
        if fmt == "spss":
            attrs["source_sha256"] = file_sha256(path)
            frame = _read_spss(path, attrs)
        else:
            with open(path, "rb") as handle:
                raw = handle.read()
            attrs["source_sha256"] = hashlib.sha256(raw).hexdigest()
            if fmt == "csv":
                frame = _read_csv(raw, path.name, attrs)
            elif fmt == "excel":
                frame = _read_excel(raw, path, sheet, attrs)
            else:
                frame = pd.read_parquet(io.BytesIO(raw))
    except DataError:
        raise
    except Exception as exc:  # parsers raise many types; the user needs one readable message
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path.name}: cannot read as {fmt} ({reason}); allowed formats: "
                        f"{_ALLOWED}") from None
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise DataError(f"{path.name}: no data rows found (a header at most); expected one row "
                        "per respondent")
    # Notes from an earlier session (Parquet keeps attrs) would be repeated in this one's report.
    frame.attrs = {**{k: v for k, v in frame.attrs.items() if k != "ingest_notes"}, **attrs}
    return frame

"""Hostile survey files: each malformed export gets one clear, short DataError, never a traceback.

One case per file, generated in ``tmp_path``: duplicate headers (caught before pandas would
rename them ``SAT2.1``), ragged and truncated rows, unclosed quotes, 200 kB cells, binary
content, content that contradicts the extension, empty sheets and files, header-only files,
undecodable text, wrong sheets and mappings. Every message must be one line of at most 300
characters, name the file, and never echo the planted long or secret value. The non-data
corpus (profiles, models, CLI) is tests/test_hostile_input.py.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from analysis.data.ingest import file_sha256, load_survey_file
from analysis.errors import DataError
from analysis.instrument import load_instrument

SECRET = "TOPSECRET-7f3a"
#: A 200 kB value whose secret part lies beyond any reasonable quoting length.
HUGE = "x" * 100 + SECRET + "y" * 200_000


@pytest.fixture(scope="module")
def instrument():
    return load_instrument()


def _table(instrument, n: int = 6) -> pd.DataFrame:
    items = instrument.likert_items
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.integers(1, 8, size=(n, len(items))), columns=items).astype(object)
    frame.insert(0, "respondent_id", [f"S{i}" for i in range(n)])
    return frame


def _csv_text(instrument, n: int = 6) -> str:
    return _table(instrument, n).to_csv(index=False)


def _xlsx_bytes(rows: list[list], sheets: dict[str, list[list]] | None = None) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    first = book.active
    first.title = "Sheet1"
    for row in rows:
        first.append(row)
    for name, content in (sheets or {}).items():
        sheet = book.create_sheet(name)
        for row in content:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _rows(instrument, n: int = 6) -> list[list]:
    frame = _table(instrument, n)
    return [list(frame.columns)] + frame.values.tolist()


# Each builder returns (file name, bytes, keyword arguments for load_survey_file, expected text).
def dup_header_csv(ins):
    text = _csv_text(ins).replace("SAT3", "SAT2", 1)
    return "dup.csv", text.encode(), {}, "appears more than once"


def dup_header_spaces_csv(ins):
    text = _csv_text(ins).replace("SAT3", "SAT2 ", 1)
    return "dup_spaces.csv", text.encode(), {}, "appears more than once"


def dup_header_xlsx(ins):
    rows = _rows(ins)
    rows[0][rows[0].index("SAT3")] = "SAT2"
    return "dup.xlsx", _xlsx_bytes(rows), {}, "appears more than once"


def dup_by_mapping(ins):
    return "dup_map.csv", _csv_text(ins).encode(), {"columns": {"SAT1": "SAT2"}}, "duplicate column"


def ragged_more_fields(ins):
    lines = _csv_text(ins).splitlines()
    lines[3] += ",7," + SECRET
    return "ragged_more.csv", ("\n".join(lines) + "\n").encode(), {}, "line 4 has"


def ragged_fewer_fields(ins):
    lines = _csv_text(ins).splitlines()
    lines[2] = lines[2].rsplit(",", 5)[0]
    return "ragged_fewer.csv", ("\n".join(lines) + "\n").encode(), {}, "line 3 has"


def truncated_last_row(ins):
    text = _csv_text(ins)
    return "truncated.csv", text[: len(text) - 40].encode(), {}, "truncated"


def truncated_in_quote(ins):
    text = _csv_text(ins) + 'S99,"5,6,7'
    return "unclosed.csv", text.encode(), {}, "never closed"


def huge_cell_csv(ins):
    frame = _table(ins)
    frame.loc[2, "TRU1"] = HUGE
    return "huge.csv", frame.to_csv(index=False).encode(), {}, "longer than"


def huge_cell_xlsx(ins):
    rows = _rows(ins)
    rows[3][rows[0].index("TRU1")] = HUGE
    return "huge.xlsx", _xlsx_bytes(rows), {}, "column TRU1"


def huge_duration_xlsx(ins):
    rows = _rows(ins)
    rows[0].append("duration_sec")
    for row in rows[1:]:
        row.append(300)
    rows[2][-1] = HUGE
    return "huge_time.xlsx", _xlsx_bytes(rows), {}, "not a duration"


def huge_number_text(ins):
    frame = _table(ins)
    frame.loc[1, "EFF2"] = "9" * 120 + SECRET
    return "long_number.csv", frame.to_csv(index=False).encode(), {}, "column EFF2"


def binary_garbage_csv(ins):
    noise = np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    return "garbage.csv", noise + SECRET.encode(), {}, "binary"


def xlsx_named_csv(ins):
    return "really_excel.csv", _xlsx_bytes(_rows(ins)), {}, "rename it to .xlsx"


def csv_named_xlsx(ins):
    return "really_text.xlsx", _csv_text(ins).encode(), {}, "not an Excel workbook"


def parquet_named_csv(ins):
    buffer = io.BytesIO()
    _table(ins).to_parquet(buffer)
    return "really_parquet.csv", buffer.getvalue(), {}, "Parquet"


def text_named_parquet(ins):
    return "text.parquet", _csv_text(ins).encode(), {}, "not a Parquet file"


def text_named_sav(ins):
    return "text.sav", _csv_text(ins).encode(), {}, "not an SPSS data file"


def zip_named_xlsx(ins):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", SECRET)
    return "archive.xlsx", buffer.getvalue(), {}, "cannot read as xlsx"


def empty_file(ins):
    return "empty.csv", b"", {}, "the file is empty"


def bom_only(ins):
    return "bom.csv", b"\xef\xbb\xbf", {}, "no text"


def blank_lines_only(ins):
    return "blank.csv", b"\n\n   \r\n\n", {}, "no text"


def header_only_csv(ins):
    return "header.csv", (",".join(ins.likert_items) + "\n").encode(), {}, "no data rows"


def header_only_xlsx(ins):
    return "header.xlsx", _xlsx_bytes([ins.likert_items]), {}, "no data rows"


def empty_sheet(ins):
    return "empty_sheet.xlsx", _xlsx_bytes([]), {}, "sheet 'Sheet1' is empty"


def empty_chosen_sheet(ins):
    return ("empty_second.xlsx", _xlsx_bytes(_rows(ins), {"Blank": []}), {"sheet": "Blank"},
            "sheet 'Blank' is empty")


def missing_sheet(ins):
    return "no_sheet.xlsx", _xlsx_bytes(_rows(ins)), {"sheet": HUGE}, "no sheet"


def sheet_without_items(ins):
    return ("wrong_sheet.xlsx", _xlsx_bytes([["note"], [SECRET]], {"Data": _rows(ins)}), {},
            "read sheet 'Sheet1'")


def nul_bytes_text(ins):
    return "nul.csv", _csv_text(ins).encode().replace(b",", b"\x00,"), {}, "binary"


def broken_utf16(ins):
    return "broken16.csv", b"\xff\xfe" + "EFF1\n1\n".encode("utf-16-le") + b"\x00\xd8", {}, "UTF-16"


def wrong_encoding_override(ins):
    text = _csv_text(ins).replace("S1", "受访者一")
    return "gbk.csv", text.encode("gbk"), {"encoding": "utf-8"}, "data.encoding"


def unknown_extension(ins):
    return "answers.json", b'{"EFF1": 1}', {}, "unrecognised file extension"


def unknown_format_name(ins):
    return "answers.csv", _csv_text(ins).encode(), {"format": HUGE}, "unknown format"


def no_item_columns(ins):
    return "unrelated.csv", f"name,comment\nAnna,{SECRET}\n".encode(), {}, "no item columns found"


def some_items_missing(ins):
    frame = _table(ins).drop(columns=["LOY1", "LOY2"])
    return "partial.csv", frame.to_csv(index=False).encode(), {}, "2 required item column(s) missing"


def html_page_as_csv(ins):
    page = f"<html><head><title>Login</title></head><body>{SECRET}</body></html>\n"
    return "download.csv", page.encode(), {}, "no data rows"


def duplicate_ids(ins):
    frame = _table(ins)
    frame.loc[3, "respondent_id"] = "S1"
    return "dup_ids.csv", frame.to_csv(index=False).encode(), {}, "duplicated id"


def empty_header_row(ins):
    return "no_header.csv", b",,,\n1,2,3,4\n", {}, "header row is empty"


def mapping_to_unknown_column(ins):
    return "mapping.csv", _csv_text(ins).encode(), {"columns": {"EFF1": HUGE}}, "data.columns.EFF1"


def recode_out_of_scale(ins):
    return "recode.csv", _csv_text(ins).encode(), {"recode": {"Top": 70}}, "data.recode"


CASES = [dup_header_csv, dup_header_spaces_csv, dup_header_xlsx, dup_by_mapping, ragged_more_fields,
         ragged_fewer_fields, truncated_last_row, truncated_in_quote, huge_cell_csv, huge_cell_xlsx,
         huge_duration_xlsx, huge_number_text, binary_garbage_csv, xlsx_named_csv, csv_named_xlsx,
         parquet_named_csv, text_named_parquet, text_named_sav, zip_named_xlsx, empty_file, bom_only,
         blank_lines_only, header_only_csv, header_only_xlsx, empty_sheet, empty_chosen_sheet, missing_sheet,
         sheet_without_items, nul_bytes_text, broken_utf16, wrong_encoding_override, unknown_extension,
         unknown_format_name, no_item_columns, some_items_missing, html_page_as_csv, duplicate_ids,
         empty_header_row, mapping_to_unknown_column, recode_out_of_scale]


@pytest.mark.parametrize("build", CASES, ids=[case.__name__ for case in CASES])
def test_hostile_file_gets_one_clear_line(tmp_path, instrument, build):
    name, content, kwargs, expected = build(instrument)
    path = tmp_path / name
    path.write_bytes(content)
    before = file_sha256(path)
    with pytest.raises(DataError) as caught:
        load_survey_file(path, instrument, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and len(message) <= 300, message
    assert name in message, message
    assert expected in message, message
    assert SECRET not in message and "x" * 80 not in message, message
    assert "Traceback" not in message
    assert file_sha256(path) == before  # read-only, even when it fails


def test_truncated_last_row_names_the_line(tmp_path, instrument):
    text = _csv_text(instrument)
    path = tmp_path / "cut.csv"
    path.write_bytes(text[:-40].encode())
    with pytest.raises(DataError, match=r"cut\.csv: line 7 has \d+ fields but the header has 46 and is the "
                                        r"last, without a line break: the file looks truncated"):
        load_survey_file(path, instrument)


def test_duplicate_header_is_caught_before_pandas_renames_it(tmp_path, instrument):
    path = tmp_path / "dup.csv"
    path.write_bytes(_csv_text(instrument).replace("SAT3", "SAT2", 1).encode())
    with pytest.raises(DataError, match=r"column name 'SAT2' appears more than once in the header "
                                        r"\(columns 36 and 37\)"):
        load_survey_file(path, instrument)

"""Tests for analysis.data.ingest: reading exports read-only and validating them against the instrument.

Every fixture is generated in ``tmp_path`` from a small, seeded, valid responses table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data.ingest import (
    DEFAULT_MISSING_CODES,
    IngestReport,
    file_sha256,
    load_survey_file,
    read_table,
    recode_reverse_keyed,
    validate_responses,
)
from analysis.errors import DataError
from analysis.instrument import load_instrument

N_ROWS = 60


@pytest.fixture(scope="module")
def instrument():
    return load_instrument()


@pytest.fixture()
def responses(instrument) -> pd.DataFrame:
    rng = np.random.default_rng(20240501)
    items = instrument.likert_items
    answers = rng.integers(1, 8, size=(N_ROWS, len(items)))
    frame = pd.DataFrame(answers, columns=items)
    frame.insert(0, "respondent_id", [f"S{i:03d}" for i in range(1, N_ROWS + 1)])
    frame.insert(1, "duration_sec", rng.uniform(200, 900, N_ROWS).round(1))
    frame["gender"] = rng.choice(["female", "male"], N_ROWS)
    return frame


def _assert_items_match(loaded: pd.DataFrame, original: pd.DataFrame, items: list[str]) -> None:
    for item in items:
        assert loaded[item].dtype == "Int8"
        np.testing.assert_array_equal(loaded[item].to_numpy(dtype=int), original[item].to_numpy())


# --- formats ------------------------------------------------------------------------------

def _write(frame: pd.DataFrame, path) -> None:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".xlsx":
        frame.to_excel(path, index=False, sheet_name="responses")
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        import pyreadstat

        pyreadstat.write_sav(frame, str(path))


@pytest.mark.parametrize("suffix, fmt", [(".csv", "csv"), (".xlsx", "xlsx"),
                                         (".parquet", "parquet"), (".sav", "sav")])
def test_each_format_round_trips(tmp_path, responses, instrument, suffix, fmt):
    path = tmp_path / f"export{suffix}"
    _write(responses, path)
    data, report = load_survey_file(path, instrument)
    assert isinstance(report, IngestReport)
    assert (report.format, report.n_rows, report.n_columns) == (fmt, N_ROWS, responses.shape[1])
    assert report.sha256 == file_sha256(path) == data.attrs["source_sha256"]
    _assert_items_match(data, responses, instrument.likert_items)
    assert list(data["respondent_id"]) == list(responses["respondent_id"])
    np.testing.assert_allclose(data["duration_sec"], responses["duration_sec"], rtol=0, atol=1e-9)
    assert list(data["gender"]) == list(responses["gender"])


def test_spss_keeps_value_labels_and_numeric_codes(tmp_path, responses, instrument):
    import pyreadstat

    path = tmp_path / "labelled.sav"
    labels = {1: "Strongly disagree", 7: "Strongly agree"}
    pyreadstat.write_sav(responses, str(path), variable_value_labels={"SAT1": labels},
                         column_labels={"SAT1": "Overall satisfaction"})
    table = read_table(path)
    assert table.attrs["value_labels"]["SAT1"] == {1.0: "Strongly disagree", 7.0: "Strongly agree"}
    assert table.attrs["column_labels"]["SAT1"] == "Overall satisfaction"
    assert pd.api.types.is_numeric_dtype(table["SAT1"])


def test_excel_sheet_selection(tmp_path, responses):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["cover page"]}).to_excel(writer, sheet_name="about", index=False)
        responses.to_excel(writer, sheet_name="data", index=False)
    assert read_table(path, sheet="data").shape == responses.shape
    assert read_table(path, sheet=1).attrs["source_sheet"] == "data"
    with pytest.raises(DataError, match=r"book\.xlsx: no sheet 'answers'; .*'about', 'data'"):
        read_table(path, sheet="answers")


# --- CSV encodings and delimiters ----------------------------------------------------------

def test_gb18030_csv_with_chinese_headers_and_labels(tmp_path, responses, instrument):
    """A WJX-style export: GBK bytes, Chinese headers, answers written as scale labels."""
    zh_labels = instrument.scale.anchors["zh-Hans"]
    frame = responses.copy()
    frame["SAT1"] = frame["SAT1"].map(zh_labels)
    frame = frame.rename(columns={"respondent_id": "编号", "SAT2": "满意度2", "gender": "性别"})
    frame["性别"] = frame["性别"].map({"female": "女", "male": "男"})
    path = tmp_path / "问卷.csv"
    path.write_bytes(frame.to_csv(index=False).encode("gbk"))

    column_map = {"满意度2": "SAT2", "编号": "respondent_id"}
    data, report = load_survey_file(path, instrument, column_map=column_map)
    assert report.encoding == "gb18030"
    assert report.renamed == column_map
    _assert_items_match(data, responses, ["SAT1", "SAT2"])
    assert set(data["性别"]) == {"女", "男"}
    assert any("mapped 60 text answer(s)" in note for note in report.notes)


def test_bom_csv_is_stripped(tmp_path, responses):
    path = tmp_path / "qualtrics.csv"
    path.write_bytes(b"\xef\xbb\xbf" + responses.to_csv(index=False).encode("utf-8"))
    table = read_table(path)
    assert table.attrs["source_encoding"] == "utf-8-sig"
    assert table.columns[0] == "respondent_id"


def test_plain_utf8_csv_reports_utf8_and_keeps_cells_as_text(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("respondent_id,code\n007,-99\n008,1\n", encoding="utf-8")
    table = read_table(path)
    assert table.attrs["source_encoding"] == "utf-8"
    assert list(table["respondent_id"]) == ["007", "008"] and table.loc[0, "code"] == "-99"


def test_semicolon_csv(tmp_path, responses, instrument):
    path = tmp_path / "european.csv"
    responses.to_csv(path, index=False, sep=";", decimal=",")
    data, report = load_survey_file(path, instrument)
    assert data.attrs["source_delimiter"] == ";"
    _assert_items_match(data, responses, instrument.likert_items)


def test_tab_separated_file(tmp_path, responses, instrument):
    path = tmp_path / "export.tsv"
    responses.to_csv(path, index=False, sep="\t")
    assert read_table(path).attrs["source_delimiter"] == "\t"


# --- file-level errors ---------------------------------------------------------------------

def test_unknown_extension_names_file_and_formats(tmp_path):
    path = tmp_path / "answers.json"
    path.write_text("{}")
    with pytest.raises(DataError, match=r"answers\.json: unrecognised file extension '\.json'.*"
                                        r"csv \(\.csv.*xlsx.*parquet.*sav \(\.sav"):
        read_table(path)


@pytest.mark.parametrize("name, content, expected", [
    ("empty.csv", b"", r"empty\.csv: the file is empty"),
    ("header.csv", b"EFF1,EFF2\n", r"header\.csv: no data rows"),
    ("broken.xlsx", b"not a zip archive", r"broken\.xlsx: not an Excel workbook"),
    ("broken.parquet", b"PAR1 nonsense", r"broken\.parquet: cannot read as parquet"),
])
def test_unreadable_files_raise_data_error(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=expected):
        read_table(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_table(tmp_path / "nowhere.csv")


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet", ".sav"])
def test_input_file_bytes_unchanged(tmp_path, responses, instrument, suffix):
    path = tmp_path / f"raw{suffix}"
    _write(responses, path)
    before, mtime = file_sha256(path), path.stat().st_mtime_ns
    load_survey_file(path, instrument)
    assert file_sha256(path) == before
    assert path.stat().st_mtime_ns == mtime


# --- validation ----------------------------------------------------------------------------

def test_out_of_range_value_names_line_and_column(tmp_path, responses, instrument):
    frame = responses.copy()
    for row, value in [(12, 9), (18, 0), (29, 8), (45, 12)]:  # data rows -> lines 14, 20, 31, 47
        frame.loc[row, "SAT2"] = value
    frame["LOY1"] = frame["LOY1"].astype(float)
    frame.loc[3, "LOY1"] = 5.5
    path = tmp_path / "responses.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError) as caught:
        load_survey_file(path, instrument)
    message = str(caught.value)
    assert "responses.csv: column SAT2, line 14: value 9 is outside 1..7 " \
           "(3 more such cells in lines 20, 31, 47)" in message
    assert "also column LOY1 (1 cell(s))" in message


def test_non_file_rows_are_counted_from_one(responses, instrument):
    frame = responses.copy()
    frame["EFF1"] = frame["EFF1"].astype(object)
    frame.loc[4, "EFF1"] = "very good"
    with pytest.raises(DataError, match=r"<data>: column EFF1, row 5: value 'very good' is neither"):
        validate_responses(frame, instrument)


def test_missing_column_suggests_close_match(responses, instrument):
    frame = responses.rename(columns={"SAT2": "SAT_2", "LOY4": "loyalty_other"})
    with pytest.raises(DataError) as caught:
        validate_responses(frame, instrument, source="responses.csv")
    message = str(caught.value)
    assert message.startswith("responses.csv: 2 required item column(s) missing")
    assert "column 'SAT2' not found; did you mean 'SAT_2'?" in message
    assert "column 'LOY4' not found" in message and "data.columns: {SAT2: SAT_2}" in message


def test_column_map_unknown_source_column(tmp_path, responses, instrument):
    path = tmp_path / "r.csv"
    responses.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"r\.csv: column_map names column\(s\) not in the file: "
                                        r"'SAT_1' \(did you mean 'SAT1'\?\)"):
        load_survey_file(path, instrument, column_map={"SAT_1": "SAT1"})


def test_text_labels_in_any_language_are_mapped(responses, instrument):
    frame = responses.copy()
    frame["SAT1"] = frame["SAT1"].astype(object)
    frame.loc[0:3, "SAT1"] = ["Strongly agree", "非常同意", "有點同意", " strongly  DISAGREE "]
    data = validate_responses(frame, instrument)
    assert data["SAT1"].iloc[:4].tolist() == [7, 7, 5, 1]
    assert any("mapped 4 text answer(s)" in note for note in data.attrs["ingest_notes"])


def test_missing_codes_default_and_custom(responses, instrument):
    assert DEFAULT_MISSING_CODES == ("", "NA", "N/A", "-99")
    frame = responses.copy()
    frame["EFF2"] = frame["EFF2"].astype(object)
    frame.loc[0:4, "EFF2"] = ["NA", "n/a", "-99", -99.0, None]
    data = validate_responses(frame, instrument)
    assert data["EFF2"].iloc[:5].isna().all() and data["EFF2"].iloc[5:].notna().all()
    frame.loc[5, "EFF2"] = "99"
    with pytest.raises(DataError, match="column EFF2, row 6: value 99 is outside 1..7"):
        validate_responses(frame, instrument)
    assert validate_responses(frame, instrument, missing_codes=("NA", "N/A", "-99", "99", ""))[
        "EFF2"].iloc[:6].isna().all()


def test_duplicate_ids_are_named(tmp_path, responses, instrument):
    frame = responses.copy()
    frame.loc[[7, 30], "respondent_id"] = "S001"
    path = tmp_path / "dups.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"dups\.csv: column respondent_id: 1 duplicated id\(s\): "
                                        r"'S001' \(lines 2, 9, 32\)"):
        load_survey_file(path, instrument)


def test_ids_created_and_missing_duration_noted(responses, instrument):
    frame = responses.drop(columns=["respondent_id", "duration_sec"])
    data = validate_responses(frame, instrument)
    assert data.columns[0] == "respondent_id"
    assert data["respondent_id"].iloc[[0, -1]].tolist() == ["R00001", "R00060"]
    notes = " | ".join(data.attrs["ingest_notes"])
    assert "created ids R00001..R00060" in notes
    assert "no 'duration_sec' column: screening will skip the speed checks" in notes


def test_bad_duration_is_reported(responses, instrument):
    frame = responses.copy()
    frame["duration_sec"] = frame["duration_sec"].astype(object)
    frame.loc[2, "duration_sec"] = "12:30"
    with pytest.raises(DataError, match=r"column duration_sec, row 3: value '12:30' is not a duration"):
        validate_responses(frame, instrument)


def test_input_dataframe_not_mutated(responses, instrument):
    frame = responses.copy()
    frame["SAT1"] = frame["SAT1"].astype(object)
    frame.loc[0, "SAT1"] = "Agree"
    frame.attrs["source_format"] = "csv"
    snapshot, attrs = frame.copy(deep=True), dict(frame.attrs)
    data = validate_responses(frame.drop(columns="respondent_id"), instrument)
    recode_reverse_keyed(data, instrument)
    pd.testing.assert_frame_equal(frame, snapshot)
    assert frame.attrs == attrs and "ingest_notes" not in frame.attrs
    assert data["SAT1"].iloc[0] == 6


def test_recode_reverse_keyed_is_explicit_and_once(responses, instrument):
    data = validate_responses(responses, instrument)
    assert data["MKR3"].tolist() == responses["MKR3"].tolist()  # validation never recodes
    keyed = recode_reverse_keyed(data, instrument)
    assert instrument.reverse_keyed == ["MKR3"]
    np.testing.assert_array_equal(keyed["MKR3"].to_numpy(dtype=int), 8 - responses["MKR3"].to_numpy())
    assert keyed["MKR3"].dtype == "Int8"
    assert keyed.attrs["ingest_notes"][-1] == "recoded reverse-keyed item(s) MKR3 as 8 - x"
    with pytest.raises(DataError, match="already recoded"):
        recode_reverse_keyed(keyed, instrument)

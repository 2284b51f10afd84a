"""Real field exports: Qualtrics, Wenjuanxing (问卷星), encodings, workbook sheets, mapping, recoding.

Every export is generated in ``tmp_path`` in the shape the platform writes it (header rows,
metadata columns, numbered question headers, option texts), from one seeded answer matrix,
so each test can check that the answers come back exactly. The files are hashed before and
after reading: raw inputs are never modified.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

from analysis.data.exports import detect_layout, normalise_export
from analysis.data.exports.matching import seconds
from analysis.data.ingest import file_sha256, load_survey_file
from analysis.data.readers import read_table
from analysis.data.validation import COLUMNS, shown_value, summarise
from analysis.errors import ConfigError, DataError
from analysis.instrument import load_instrument

N = 24


@pytest.fixture(scope="module")
def instrument():
    return load_instrument()


@pytest.fixture(scope="module")
def answers(instrument) -> np.ndarray:
    return np.random.default_rng(20240601).integers(1, 8, size=(N, len(instrument.likert_items)))


def _same_answers(data: pd.DataFrame, answers: np.ndarray, instrument) -> None:
    np.testing.assert_array_equal(data[instrument.likert_items].to_numpy(dtype=int), answers)


def _read_unchanged(path, instrument, **kwargs):
    before = file_sha256(path)
    data, report = load_survey_file(path, instrument, **kwargs)
    assert file_sha256(path) == before, "the raw export was modified"
    return data, report


# --------------------------------------------------------------------------- Qualtrics
_META = ["StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished",
         "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail",
         "ExternalReference", "LocationLatitude", "LocationLongitude", "DistributionChannel", "UserLanguage"]
_META_TEXT = ["Start Date", "End Date", "Response Type", "IP Address", "Progress", "Duration (in seconds)",
              "Finished", "Recorded Date", "Response ID", "Recipient Last Name", "Recipient First Name",
              "Recipient Email", "External Data Reference", "Location Latitude", "Location Longitude",
              "Distribution Channel", "User Language"]


def _qualtrics_rows(instrument, answers, *, preview: bool = True, question_text: bool = True) -> list[list]:
    items = instrument.likert_items
    qids = [f"Q{k // 4 + 1}_{k % 4 + 1}" for k in range(len(items))]
    stem = "How much do you agree with each statement about this store?"
    texts = [f"{stem} - {instrument.item(i).text['en']}" if question_text else f"Statement {k + 1}"
             for k, i in enumerate(items)]
    imports = [json.dumps({"ImportId": m}) for m in _META] + \
        [json.dumps({"ImportId": f"QID{k // 4 + 1}_{k % 4 + 1}"}) for k in range(len(items))]
    labels = instrument.scale.anchors["en"]
    rows = [_META + qids, _META_TEXT + texts, imports]
    if preview:  # a preview the researcher clicked through: not a response
        rows.append(["2024-05-01 09:00:00", "2024-05-01 09:01:00", "Survey Preview", "", "100", "60", "True",
                     "2024-05-01 09:01:00", "R_preview", "", "", "", "", "", "", "preview", "EN"]
                    + ["4"] * len(items))
    for r in range(len(answers)):
        meta = ["2024-05-01 10:00:00", "2024-05-01 10:10:00", "IP Address", f"10.0.0.{r}", "100", str(300 + r),
                "True", "2024-05-01 10:10:01", f"R_{r:05d}xYz", "Doe", "Jane", f"jane{r}@example.com", "",
                "47.37", "8.54", "anonymous", "EN"]
        # text exports write the choice label, numeric exports the code; both occur
        rows.append(meta + [labels[int(a)] if r % 2 else str(int(a)) for a in answers[r]])
    return rows


def _write_csv(path, rows, encoding="utf-8-sig", delimiter=","):
    with open(path, "w", newline="", encoding=encoding) as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)


def test_qualtrics_csv_three_header_rows(tmp_path, instrument, answers):
    path = tmp_path / "qualtrics.csv"
    _write_csv(path, _qualtrics_rows(instrument, answers))
    data, report = _read_unchanged(path, instrument, collect=True)
    assert report.layout == "qualtrics" and report.encoding == "utf-8-sig"
    _same_answers(data, answers, instrument)
    assert data["respondent_id"].tolist()[:2] == ["R_00000xYz", "R_00001xYz"]
    assert data["duration_sec"].tolist()[:2] == [300.0, 301.0]
    assert any("Survey Preview" in n and "line(s) 4" in n for n in report.notes)
    assert not {"RecipientEmail", "IPAddress", "LocationLatitude"} & set(data.columns)
    assert report.problems.empty


def test_qualtrics_xlsx(tmp_path, instrument, answers):
    rows = _qualtrics_rows(instrument, answers, preview=False)
    path = tmp_path / "qualtrics.xlsx"
    pd.DataFrame(rows[1:], columns=rows[0]).to_excel(path, index=False, sheet_name="Sheet0")
    data, report = _read_unchanged(path, instrument)
    assert (report.layout, report.format, report.sheet) == ("qualtrics", "xlsx", "Sheet0")
    _same_answers(data, answers, instrument)


def test_qualtrics_columns_mapped_by_import_id(tmp_path, instrument, answers):
    """Question texts that match no item wording: the profile maps ImportIds (or headers)."""
    path = tmp_path / "qualtrics.csv"
    _write_csv(path, _qualtrics_rows(instrument, answers, question_text=False))
    items = instrument.likert_items
    mapping = {item: f"QID{k // 4 + 1}_{k % 4 + 1}" for k, item in enumerate(items)}
    mapping[items[0]] = "Q1_1"  # a header works as well as an ImportId
    data, _ = _read_unchanged(path, instrument, columns=mapping)
    _same_answers(data, answers, instrument)
    with pytest.raises(DataError, match=r"no item columns found.*qualtrics"):
        load_survey_file(path, instrument)


# --------------------------------------------------------------------------- Wenjuanxing
def _wenjuanxing(instrument, answers, language="zh-Hans") -> pd.DataFrame:
    items = instrument.likert_items
    heads = []
    for k, item in enumerate(items):
        wording = instrument.item(item).text[language]
        if k % 3 == 0:
            heads.append(f"{k + 1}、{wording[:12]}…")  # single question, cut by the platform
        elif k % 3 == 1:
            heads.append(f"{k // 4 + 1}({wording})")  # a row of a matrix question
        else:
            heads.append(f"{k + 1}.({wording})")
    simplified = language == "zh-Hans"
    meta = (["序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP"] if simplified else
            ["序號", "提交答卷時間", "所用時間", "來源", "來源詳情", "來自IP"])
    where = ("手机提交", "直接访问", "1.2.3.4(上海-上海)") if simplified else ("手機提交", "直接訪問", "1.2.3.4(台北)")
    labels = instrument.scale.anchors[language]
    rows = [[r + 1, "2024/5/1 10:00:00", f"{100 + r}秒" if r % 2 else f"2分{r}秒", *where]
            + [labels[int(a)] for a in answers[r]] for r in range(len(answers))]
    return pd.DataFrame(rows, columns=meta + heads)


def test_wenjuanxing_xlsx_option_texts(tmp_path, instrument, answers):
    path = tmp_path / "wjx.xlsx"
    _wenjuanxing(instrument, answers).to_excel(path, index=False)
    data, report = _read_unchanged(path, instrument, collect=True)
    assert report.layout == "wenjuanxing"
    _same_answers(data, answers, instrument)
    assert data["respondent_id"].tolist()[:3] == ["1", "2", "3"]
    assert data["duration_sec"].tolist()[:2] == [120.0, 101.0]  # '2分0秒', '101秒'
    assert "来自IP" not in data.columns and report.problems.empty


def test_wenjuanxing_gbk_csv(tmp_path, instrument, answers):
    path = tmp_path / "wjx.csv"
    _wenjuanxing(instrument, answers).to_csv(path, index=False, encoding="gbk")
    data, report = _read_unchanged(path, instrument)
    assert (report.layout, report.encoding) == ("wenjuanxing", "gb18030")
    _same_answers(data, answers, instrument)


def test_big5_csv_from_taiwan_is_read_as_big5(tmp_path, instrument, answers):
    path = tmp_path / "taiwan.csv"
    _wenjuanxing(instrument, answers, language="zh-Hant").to_csv(path, index=False, encoding="big5")
    data, report = _read_unchanged(path, instrument)
    assert report.encoding == "big5"
    _same_answers(data, answers, instrument)


def test_utf16_tab_separated_csv(tmp_path, instrument, answers):
    """Excel's "Unicode text": UTF-16 with a byte-order mark, tab-separated."""
    frame = pd.DataFrame(answers, columns=instrument.likert_items)
    path = tmp_path / "unicode.txt"
    frame.to_csv(path, index=False, sep="\t", encoding="utf-16")
    data, report = _read_unchanged(path, instrument)
    assert report.encoding == "utf-16"
    _same_answers(data, answers, instrument)


def test_encoding_override_and_failure_message(tmp_path, instrument, answers):
    path = tmp_path / "taiwan.csv"
    _wenjuanxing(instrument, answers, language="zh-Hant").to_csv(path, index=False, encoding="big5")
    _, report = load_survey_file(path, instrument, encoding="big5")
    assert report.encoding == "big5"
    utf8 = tmp_path / "utf8.csv"
    _wenjuanxing(instrument, answers).to_csv(utf8, index=False, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_table(utf8, encoding="big5")
    message = str(caught.value)
    assert "utf8.csv" in message and "data.encoding" in message and "garbled" not in message
    undecodable = tmp_path / "mixed.csv"
    undecodable.write_bytes("EFF1\n非常同意\n".encode() + b"\xff\xfe\xfd\x80\n")
    with pytest.raises(DataError, match=r"mixed\.csv: cannot decode.*tried utf-8, utf-8-sig, utf-16, "
                                        r"gb18030, big5.*data\.encoding"):
        read_table(undecodable)


# --------------------------------------------------------------------------- workbooks
def _workbook(path, instrument, answers):
    frame = pd.DataFrame(answers, columns=instrument.likert_items)
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["exported 2024-05-01"]}).to_excel(writer, sheet_name="About", index=False)
        frame.to_excel(writer, sheet_name="Responses", index=False)


def test_workbook_sheet_by_name_and_position(tmp_path, instrument, answers):
    path = tmp_path / "book.xlsx"
    _workbook(path, instrument, answers)
    for sheet in ("Responses", 1):
        data, report = _read_unchanged(path, instrument, sheet=sheet)
        assert report.sheet == "Responses" and "read sheet 'Responses' of 2: 'About', 'Responses'" in report.notes
        _same_answers(data, answers, instrument)


def test_workbook_wrong_sheet_says_which_was_read(tmp_path, instrument, answers):
    path = tmp_path / "book.xlsx"
    _workbook(path, instrument, answers)
    with pytest.raises(DataError) as caught:
        load_survey_file(path, instrument)
    message = str(caught.value)
    assert "read sheet 'About'" in message and "'Responses'" in message and "data.sheet" in message
    with pytest.raises(DataError, match=r"no sheet 'Data'; the workbook has sheets 'About', 'Responses'"):
        load_survey_file(path, instrument, sheet="Data")


# --------------------------------------------------------------------------- mapping and recoding
def test_column_mapping_and_recoding(tmp_path, instrument, answers):
    items = instrument.likert_items
    words = {1: "完全不同意", 2: "不同意", 3: "有些不同意", 4: "中立", 5: "有些同意", 6: "同意", 7: "完全同意"}
    frame = pd.DataFrame([[words[int(a)] for a in row] for row in answers],
                         columns=[f"Q{k + 1}" for k in range(len(items))])
    path = tmp_path / "custom.csv"
    frame.to_csv(path, index=False)
    columns = {item: f"Q{k + 1}" for k, item in enumerate(items)}
    data, report = _read_unchanged(path, instrument, columns=columns, recode=words and {v: k for k, v in
                                                                                        words.items()})
    _same_answers(data, answers, instrument)
    assert any("data.recode" in n for n in report.notes)
    with pytest.raises(DataError, match=r"data\.columns\.EFF1: column 'Q999' is not in the file"):
        load_survey_file(path, instrument, columns={"EFF1": "Q999"})
    with pytest.raises(DataError, match=r"data\.columns: 'NOPE' is not an item"):
        load_survey_file(path, instrument, columns={"NOPE": "Q1"})
    with pytest.raises(DataError, match=r"data\.recode: '完全同意': expected a scale point 1\.\.7, got 9"):
        load_survey_file(path, instrument, columns=columns, recode={"完全同意": 9})


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "excel", "parquet", "sav", "spss"])
def test_every_documented_format_name(tmp_path, instrument, answers, fmt):
    frame = pd.DataFrame(answers, columns=instrument.likert_items)
    suffix = {"excel": "xlsx", "spss": "sav"}.get(fmt, fmt)
    path = tmp_path / f"export.{suffix}"
    if suffix == "csv":
        frame.to_csv(path, index=False)
    elif suffix == "xlsx":
        frame.to_excel(path, index=False)
    elif suffix == "parquet":
        frame.to_parquet(path)
    else:
        import pyreadstat

        pyreadstat.write_sav(frame, str(path))
    data, report = load_survey_file(path, instrument, format=fmt)
    assert report.format == suffix
    _same_answers(data, answers, instrument)


def test_plain_table_is_detected_as_plain(instrument, answers):
    frame = pd.DataFrame(answers, columns=instrument.likert_items)
    assert detect_layout(frame, instrument) == "plain"
    out, notes = normalise_export(frame, instrument, "plain", "x.csv")
    assert list(out.columns) == instrument.likert_items and notes == []
    with pytest.raises(DataError, match=r"data\.layout: expected one of auto, plain"):
        normalise_export(frame, instrument, "surveymonkey", "x.csv")


@pytest.mark.parametrize("text, expected", [("125秒", 125), ("2分5秒", 125), ("1小时2分", 3720), ("1時2分3秒", "1時2分3秒"),
                                            ("300", "300"), (12.5, 12.5)])
def test_completion_time_texts(text, expected):
    assert seconds(text) == expected


# --------------------------------------------------------------------------- validation report
def test_validation_report_lists_every_problem(tmp_path, instrument, answers):
    items = instrument.likert_items
    frame = pd.DataFrame(answers, columns=items).astype(object)
    frame.insert(0, "respondent_id", [f"S{i:03d}" for i in range(N)])
    frame.insert(1, "duration_sec", pd.Series([400] * N, dtype=object))
    frame.loc[2, "EFF1"] = 9                                  # outside the scale
    frame.loc[3, "SAT2"] = "contact me: someone@example.com"  # text, with an e-mail address
    frame.loc[4, "TRU1"] = "x" * 5000                         # a huge cell
    frame.loc[5, "respondent_id"] = "S000"                    # repeats line 2's id
    frame.loc[6, items] = None                                # no answer at all
    frame.loc[7, "duration_sec"] = "fast"
    path = tmp_path / "messy.csv"
    frame.to_csv(path, index=False)
    data, report = _read_unchanged(path, instrument, collect=True)
    problems = report.problems
    assert list(problems.columns) == list(COLUMNS)
    got = {(r.row, r.column, r.problem) for r in problems.itertuples()}
    assert got == {(4, "EFF1", "out_of_range"), (5, "SAT2", "not_a_scale_point"),
                   (6, "TRU1", "not_a_scale_point"), (7, "respondent_id", "duplicate_id"),
                   (8, "", "empty_row"), (9, "duration_sec", "bad_duration")}
    assert set(problems["file"]) == {"messy.csv"}
    assert "someone@example.com" not in problems.to_csv() and "<e-mail>" in problems.to_csv()
    assert problems["value"].str.len().max() <= 60
    assert "S000" not in problems["value"].tolist()  # ids stay out of the report
    assert len(data) == N - 2 and data["EFF1"].isna().sum() == 1
    summary = summarise(problems)
    assert summary["cells"].sum() == len(problems)
    with pytest.raises(DataError, match=r"messy\.csv: column EFF1, line 4: value 9 is outside 1\.\.7"):
        load_survey_file(path, instrument)  # without collect=True the first problem stops


def test_mostly_unreadable_answers_are_fatal(tmp_path, instrument, answers):
    frame = pd.DataFrame([["agree-ish"] * len(instrument.likert_items)] * 5, columns=instrument.likert_items)
    path = tmp_path / "wrong.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"wrong\.csv: 225 of 225 item cells are not answers.*data\.recode"):
        load_survey_file(path, instrument, collect=True)


def test_shown_value_is_short_and_masked():
    assert shown_value("x" * 1000).endswith("…") and len(shown_value("x" * 1000)) == 60
    assert shown_value("call +86 138 0013 8000 please") == "call <phone> please"
    assert shown_value(None) == ""


# --------------------------------------------------------------------------- profile keys
def _profile(tmp_path, data: str):
    from analysis.profile import load_profile

    (tmp_path / "export.csv").write_text("EFF1\n1\n")
    path = tmp_path / "acme.yml"
    path.write_text(f"client: {{name: Acme, id: acme}}\nreport: {{title: T}}\nanalysis: {{seed: 1}}\n"
                    f"data:\n  source: file\n  path: export.csv\n{data}", encoding="utf-8")
    return load_profile(path)


def test_profile_data_keys(tmp_path):
    settings = _profile(tmp_path, "  format: excel\n  sheet: 1\n  encoding: big5\n  layout: wenjuanxing\n"
                                  "  columns: {TRU1: Q5_1}\n  recode: {完全同意: 7, Tout à fait: 7}\n"
                                  "  missing_codes: ['', '-99', '跳过']\n")
    d = settings.data
    assert (d.format, d.sheet, d.encoding, d.layout) == ("excel", 1, "big5", "wenjuanxing")
    assert d.columns == {"TRU1": "Q5_1"} and d.recode == {"完全同意": 7, "Tout à fait": 7}
    assert d.missing_codes == ("", "-99", "跳过")


@pytest.mark.parametrize("line, key", [("  encoding: latin-1\n", "data.encoding"),
                                       ("  layout: surveymonkey\n", "data.layout"),
                                       ("  sheet: -1\n", "data.sheet"),
                                       ("  columns: [TRU1]\n", "data.columns"),
                                       ("  recode: {agree: high}\n", "data.recode")])
def test_profile_data_keys_rejected(tmp_path, line, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        _profile(tmp_path, line)


# --------------------------------------------------------------------------- report stage
def test_validation_stage_saves_report_and_translates_summary(tmp_path, instrument):
    from analysis.study import stages
    from analysis.study.context import StudyContext

    ctx = StudyContext.from_profile("demo-zh-hant", tmp_path / "out")
    simulated = stages.validation_report(ctx, stages.StudyData(responses=pd.DataFrame(), source="simulated"))
    assert simulated.empty and (tmp_path / "out" / "tables" / "validation_report.csv").is_file()
    problems = pd.DataFrame([("a.csv", 4, "EFF1", "9", "out_of_range", "1..7"),
                             ("a.csv", 9, "EFF1", "0", "out_of_range", "1..7")], columns=list(COLUMNS))
    data = stages.StudyData(responses=pd.DataFrame(), source="file", validation=problems,
                            ingest={"file": "a.csv", "encoding": "big5"})
    summary = stages.validation_report(ctx, data)
    assert summary.iloc[0].tolist() == ["作答超出量表範圍", "EFF1", 2, "4, 9", "1–7 的整數"]
    saved = pd.read_csv(tmp_path / "out" / "tables" / "data_source.csv")
    assert dict(zip(saved["setting"], saved["value"]))["encoding"] == "big5"

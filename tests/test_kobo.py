"""KoboToolbox/ODK exports of the workbench's XLSForm come back with no manual mapping.

The exports are simulated by :mod:`analysis.simulate.kobo_export` in KoboToolbox's layout
(``;`` CSV, ``group/name`` headers, metadata columns, ISO timestamps) and varied the ways
real exports vary: ODK Central's ``-`` separator, label headers, label answers, XLSX.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from numpy.testing import assert_allclose

from analysis.data.exports.kobo import looks_like_kobo, normalise_kobo
from analysis.data.ingest import validate_responses
from analysis.data.readers import read_table
from analysis.errors import DataError
from analysis.instrument import load_instrument
from analysis.simulate import simulate_survey
from analysis.simulate.kobo_export import kobo_export_frame, write_kobo_export

N, SEED = 80, 7


@pytest.fixture(scope="module")
def instrument():
    return load_instrument()


@pytest.fixture(scope="module")
def simulated(instrument):
    """The respondents every export below holds (kobo_export_frame simulates exactly this)."""
    return simulate_survey(instrument, n=N, careless_share=0.08, missing_share=0.0, language="zh-Hant",
                           random_state=SEED).responses


@pytest.fixture(scope="module")
def xml_csv(instrument, tmp_path_factory):
    return read_table(write_kobo_export(instrument, tmp_path_factory.mktemp("kobo") / "export.csv", n=N, seed=SEED))


def _clean(frame, instrument):
    out, notes = normalise_kobo(frame, instrument, "export.csv")
    return validate_responses(out, instrument, source="export.csv"), notes


def _same_answers(clean, simulated, instrument):
    """Rows are in submission order in an export: compare per item the counts of each answer."""
    for item in instrument.likert_items:
        got = clean[item].astype(int).value_counts().sort_index()
        want = simulated[item].astype(int).value_counts().sort_index()
        pd.testing.assert_series_equal(got, want, check_names=False)


def test_semicolon_csv_with_group_prefixes_reads_back_every_answer(xml_csv, instrument, simulated):
    assert xml_csv.attrs["source_delimiter"] == ";"
    assert "website/EFF1" in xml_csv.columns and looks_like_kobo(xml_csv, instrument)
    clean, notes = _clean(xml_csv, instrument)
    _same_answers(clean, simulated, instrument)
    assert "XML names with group prefixes" in notes[0]


def test_metadata_columns_are_dropped_and_named_in_the_notes(xml_csv, instrument):
    out, notes = normalise_kobo(xml_csv, instrument, "export.csv")
    assert list(out.columns) == ["respondent_id", "duration_sec", *instrument.likert_items,
                                 *instrument.demographic_ids]
    dropped = next(n for n in notes if n.startswith("dropped"))
    assert "_submission_time" in dropped and "_uuid" not in dropped  # _uuid became respondent_id
    assert out["respondent_id"].tolist() == xml_csv["_uuid"].tolist()
    assert out.attrs["source_sha256"] == xml_csv.attrs["source_sha256"]


def test_duration_is_end_minus_start(xml_csv, instrument, simulated):
    out, notes = normalise_kobo(xml_csv, instrument, "export.csv")
    # start and end are written to the millisecond: each duration within 1 ms of the simulated one
    assert_allclose(np.sort(out["duration_sec"].to_numpy()), np.sort(simulated["duration_sec"].to_numpy()),
                    atol=1e-3)
    assert "end - start" in " ".join(notes)


def test_odk_central_dash_separator_and_instance_id(instrument, simulated):
    frame = kobo_export_frame(instrument, n=N, seed=SEED, group_separator="-")
    frame = frame.drop(columns=["_uuid", "_id", "_index", "__version__"]).rename(
        columns={"meta/instanceID": "meta-instanceID"})
    assert "website-EFF1" in frame.columns and looks_like_kobo(frame, instrument)
    clean, notes = _clean(frame, instrument)
    _same_answers(clean, simulated, instrument)
    assert not clean["respondent_id"].str.startswith("uuid:").any()
    assert "'meta-instanceID'" in " ".join(notes)


def test_label_headers_in_zh_hans_with_label_answers_in_zh_hant(instrument, simulated):
    headers = kobo_export_frame(instrument, n=N, seed=SEED, labels=True, language="zh-Hans")
    answers = kobo_export_frame(instrument, n=N, seed=SEED, labels=True, language="zh-Hant")
    frame = pd.DataFrame(answers.to_numpy(), columns=headers.columns)
    assert any(c.endswith("我会向他们推荐这家网店。") for c in frame.columns)
    assert set(frame.iloc[:, 2]) <= set(instrument.scale.anchors["zh-Hant"].values())  # EFF1 as labels
    clean, notes = _clean(frame, instrument)
    _same_answers(clean, simulated, instrument)
    assert "question labels (zh-Hans)" in notes[0]
    assert set(clean["gender"]) <= set(instrument.demographics[0].codes)
    assert any("option labels" in n for n in notes)


def test_xlsx_with_label_headers_reads_like_the_csv(instrument, tmp_path, xml_csv):
    path = write_kobo_export(instrument, tmp_path / "export.xlsx", n=N, seed=SEED, labels=True)
    frame = read_table(path)
    assert looks_like_kobo(frame, instrument)
    from_xlsx, _ = _clean(frame, instrument)
    from_csv, _ = _clean(xml_csv, instrument)
    pd.testing.assert_frame_equal(from_xlsx.drop(columns="respondent_id"), from_csv.drop(columns="respondent_id"),
                                  check_dtype=False)


def test_without_group_prefixes_names_are_matched_exactly(instrument, xml_csv):
    frame = xml_csv.rename(columns=lambda c: c.rsplit("/", 1)[-1] if not c.startswith("meta/") else c)
    assert "SAT1" in frame.columns and looks_like_kobo(frame, instrument)
    out, notes = normalise_kobo(frame, instrument, "export.csv")
    assert "found by XML names" in notes[0]
    assert list(out.columns) == ["respondent_id", "duration_sec", *instrument.likert_items,
                                 *instrument.demographic_ids]


def test_a_plain_table_is_not_taken_for_a_kobo_export(instrument, simulated):
    assert not looks_like_kobo(simulated, instrument)
    assert not looks_like_kobo(simulated.assign(start="2026-03-02T09:00:00", end="2026-03-02T09:10:00"),
                               instrument)


def test_a_label_export_without_kobo_metadata_is_recognised_by_start_end_and_labels(instrument):
    frame = kobo_export_frame(instrument, n=N, seed=SEED, labels=True, language="en")
    frame = frame[[c for c in frame.columns if not c.startswith(("_", "meta/"))]]
    assert looks_like_kobo(frame, instrument)
    assert not looks_like_kobo(frame.drop(columns=["start"]), instrument)


def test_a_missing_item_column_is_one_clear_error(instrument, xml_csv):
    frame = xml_csv.drop(columns=["value_satisfaction/SAT2"])
    with pytest.raises(DataError) as caught:
        normalise_kobo(frame, instrument, "export.csv")
    message = str(caught.value)
    assert message.startswith("export.csv: ") and "SAT2" in message and "\n" not in message
    assert "1 of 45 item(s)" in message and "'page/SAT2'" in message and len(message) <= 300


def test_two_columns_for_one_question_are_an_error(instrument, xml_csv):
    frame = xml_csv.assign(SAT1=xml_csv["value_satisfaction/SAT1"])
    with pytest.raises(DataError, match=r"'value_satisfaction/SAT1' and 'SAT1' both hold question SAT1"):
        normalise_kobo(frame, instrument, "export.csv")


def test_an_unknown_demographic_answer_names_column_and_line(instrument, xml_csv):
    frame = xml_csv.copy()
    frame.loc[3, "about_you/gender"] = "robot"
    with pytest.raises(DataError, match=r"column 'about_you/gender' \(gender\), line 5: value 'robot'"):
        normalise_kobo(frame, instrument, "export.csv")


def test_unreadable_or_reversed_timestamps_are_errors(instrument, xml_csv):
    frame = xml_csv.copy()
    frame.loc[0, "end"] = "yesterday"
    with pytest.raises(DataError, match=r"column end, line 2: value 'yesterday' is not a date and time"):
        normalise_kobo(frame, instrument, "export.csv")
    frame = xml_csv.copy()
    frame.loc[1, "end"] = "2020-01-01T00:00:00.000+08:00"
    with pytest.raises(DataError, match=r"columns start/end, line 3: end .* is before start"):
        normalise_kobo(frame, instrument, "export.csv")


def test_without_start_and_end_there_is_no_duration_and_a_note(instrument, xml_csv):
    out, notes = normalise_kobo(xml_csv.drop(columns=["start", "end"]), instrument, "export.csv")
    assert "duration_sec" not in out.columns and any("no 'start' column" in n for n in notes)


def test_the_committed_example_is_this_simulators_output(instrument, tmp_path):
    """data/examples/kobo-zh-hant was made by the command in its README, byte for byte."""
    from analysis.paths import PROJECT_ROOT

    example = PROJECT_ROOT / "data" / "examples" / "kobo-zh-hant" / "eloyalty_kobo_export.csv"
    readme = (example.parent / "README.md").read_text(encoding="utf-8")
    assert "python -m analysis survey kobo-example" in readme
    made = write_kobo_export(instrument, tmp_path / "again.csv", n=500, seed=20240601, language="zh-Hant")
    assert made.read_bytes() == example.read_bytes()
    assert example.stat().st_size < 300_000


@pytest.mark.slow
def test_round_trip_form_to_export_to_rendered_report(instrument, tmp_path):
    """Instrument -> XLSForm -> filled KoboToolbox export -> profile (data.source: file) -> report."""
    from pyxform.xls2xform import convert

    from analysis.instrument.xlsform import build_xlsform, write_xlsform
    from analysis.paths import PROJECT_ROOT
    from analysis.report.build import build_report

    form = write_xlsform(instrument, tmp_path / "form.xlsx")
    assert "<select1" in convert(xlsform=str(form), validate=False).xform
    # The export is of that form: its question headers are the form's group/name paths.
    paths = {f"{group}/{name}" for name, _, group in build_xlsform(instrument).questions()}
    export = write_kobo_export(instrument, tmp_path / "data" / "kobo.csv", n=300, seed=11)
    assert paths <= set(pd.read_csv(export, sep=";", nrows=1).columns)
    profile = yaml.safe_load((PROJECT_ROOT / "reports" / "clients" / "demo-zh-hant.yml").read_text("utf-8"))
    profile["client"]["id"] = "kobo-roundtrip"
    profile["report"]["formats"] = ["html"]
    profile["report"].pop("logo", None)
    profile["analysis"]["bootstrap_draws"] = 0
    profile["data"] = {"source": "file", "path": str(export), "layout": "kobo"}
    client = tmp_path / "kobo-roundtrip.yml"
    client.write_text(yaml.safe_dump(profile, allow_unicode=True, sort_keys=False), encoding="utf-8")
    final = build_report(client=str(client), output_root=tmp_path / "out", renderer="nbconvert")
    manifest = json.loads((final / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["inputs"]["data"]["path"].endswith("kobo.csv")
    flags = pd.read_csv(final / "tables" / "screening_flags.csv")
    assert len(flags) == 300
    html = (final / "index.html").read_text(encoding="utf-8")
    assert "kobo.csv" in html

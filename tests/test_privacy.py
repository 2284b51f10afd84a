"""Privacy: keyed pseudonyms, dropped identifiers, k-suppression and the output scan."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ConfigError, RenderError
from analysis.paths import OUTPUT_ROOT
from analysis.privacy import (
    Pseudonymiser,
    drop_identifying_columns,
    load_or_create_salt,
    pseudonymise_crm,
    pseudonymise_table,
    salt_fingerprint,
    scan_outputs,
    suppress_counts,
    suppress_groups,
    suppress_label_counts,
    suppressed_cells,
)
from analysis.privacy.columns import classify_column
from analysis.privacy.gate import check_report_folder
from analysis.privacy.scan import file_text
from tests.conftest import write_profile

PSEUDONYM = re.compile(r"^[RC]-[0-9a-f]{12}$")


# ----------------------------------------------------------------------- pseudonyms and salt

def test_pseudonyms_are_stable_keyed_and_readable():
    one, other = Pseudonymiser(b"a" * 32), Pseudonymiser(b"b" * 32)
    assert one.one("CUST-000123") == one.one("CUST-000123")
    assert one.one("CUST-000123") != other.one("CUST-000123")  # keyed: another salt, another pseudonym
    assert PSEUDONYM.match(one.one("CUST-000123", "R"))
    # 1001 as an integer (CRM), a float (Excel) and text (CSV) is one id
    assert one.one(1001, "C") == one.one(1001.0, "C") == one.one(" 1001 ", "C")
    assert one.one(None) is None


def test_salt_is_created_once_with_mode_0600(tmp_path):
    path = tmp_path / "secrets" / "acme.salt"
    salt = load_or_create_salt("acme", path)
    assert len(salt) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_salt("acme", path) == salt  # reused, never redrawn
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".salt-")]  # no temporary left


def test_salt_file_must_be_private_and_outside_the_output_folder(tmp_path):
    with pytest.raises(ConfigError, match="privacy.salt_file: expected a path outside reports/_output"):
        load_or_create_salt("acme", OUTPUT_ROOT / "acme" / "salt")
    loose = tmp_path / "loose.salt"
    loose.write_bytes(os.urandom(32))
    loose.chmod(0o644)
    with pytest.raises(ConfigError, match=r"readable by other users \(mode 644\); expected mode 600"):
        load_or_create_salt("acme", loose)


def test_fingerprint_reveals_neither_salt_nor_pseudonyms():
    salt = bytes(range(32))
    fingerprint = salt_fingerprint(salt)
    assert re.fullmatch(r"[0-9a-f]{8}", fingerprint)
    assert fingerprint not in salt.hex() and fingerprint not in Pseudonymiser(salt).one("1")


def test_linkage_survives_pseudonymisation():
    from analysis.simulate.linked import simulate_linked_study

    study = simulate_linked_study(n_customers=1000, sample_size=100, random_state=3)
    key = Pseudonymiser(b"k" * 32)
    responses = pseudonymise_table(study.responses, key)
    crm = pseudonymise_crm(study.crm, key)
    assert responses["respondent_id"].map(PSEUDONYM.match).all()
    assert responses["customer_id"].isin(crm.orders["customer_id"]).all()
    assert set(crm.customer_truth["respondent_id"].dropna()) == set(responses["respondent_id"])
    # each respondent's CRM truth row is the same customer as before
    truth = crm.customer_truth.dropna(subset=["respondent_id"]).set_index("respondent_id")["customer_id"]
    assert (responses.set_index("respondent_id")["customer_id"] == truth.reindex(responses["respondent_id"])).all()
    assert study.responses["respondent_id"].iloc[0].startswith("R0")  # the input is left as it was


def test_study_data_are_pseudonymised_on_the_simulated_route(tmp_path, make_context):
    from analysis.study import stages

    salt = tmp_path / "pytest.salt"
    ctx = make_context(tmp_path, simulation={"sample_size": 120}, behaviour={"n_customers": 1000},
                       privacy={"salt_file": str(salt)})
    data = stages.load_study_data(ctx)
    assert data.responses["respondent_id"].map(PSEUDONYM.match).all()
    assert data.responses["customer_id"].isin(data.crm.orders["customer_id"]).all()
    assert set(data.respondent_truth["respondent_id"]) == set(data.responses["respondent_id"])
    result = stages.screen(ctx, data)  # the truth still joins: every respondent has a true type
    kinds = data.respondent_truth.set_index("respondent_id")["careless_type"]
    assert result.flags["respondent_id"].map(kinds).notna().all()
    again = stages.load_study_data(ctx)
    pd.testing.assert_frame_equal(again.responses, data.responses)  # same salt, same pseudonyms


# ----------------------------------------------------------------------- dropped columns

def test_identifying_columns_are_dropped_and_named_by_header_only():
    frame = pd.DataFrame({
        "respondent_id": ["CUST-000001", "CUST-000002", "CUST-000003"], "SAT1": [5, 6, 7],
        "gender": ["female", "male", "female"],
        "email": ["ann@example.com", "bo@example.org", "cy@example.net"],
        "手机": ["13800138000", "13912345678", "13700000000"],
        "来自IP": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
        "x7": ["dan@example.com", "eve@example.com", "fay@example.com"],  # found by content
        "comment": ["Delivery was late again this week", "很好的服务，下次还会再来购买",
                    "Nothing to add here, thanks"],
        "wave": [1, 1, 2],
    })
    kept, dropped = drop_identifying_columns(frame, ["respondent_id", "SAT1", "gender"], check=["gender"])
    assert list(kept.columns) == ["respondent_id", "SAT1", "gender"]
    assert dropped.columns == {"email": "e-mail", "手机": "phone", "来自IP": "ip address", "x7": "e-mail",
                               "comment": "free text", "wave": None}
    note = dropped.note()
    assert "dropped 6 column(s)" in note and "5 with personal data" in note and "email" in note
    assert "@" not in note and "138" not in note and "late" not in note  # headers, never values
    assert list(frame.columns)[3] == "email"  # the input frame is not modified


def test_a_kept_demographic_holding_phone_numbers_is_dropped():
    frame = pd.DataFrame({"SAT1": [1, 2, 3], "city_tier": ["+86 138 0013 8000", "tier1", "0912-345-678"]})
    kept, dropped = drop_identifying_columns(frame, ["SAT1", "city_tier"], check=["city_tier"])
    assert list(kept.columns) == ["SAT1"] and dropped.columns == {"city_tier": "phone"}


@pytest.mark.parametrize("header, kind", [
    ("RecipientEmail", "e-mail"), ("電子郵件", "e-mail"), ("IPAddress", "ip address"), ("来自IP", "ip address"),
    ("姓名", "name"), ("RecipientFirstName", "name"), ("電話", "phone"), ("手机号码", "phone"),
    ("LocationLatitude", "location"), ("Q12_TEXT", "free text"), ("其他意见", "free text")])
def test_identifier_headers_are_recognised_in_english_and_chinese(header, kind):
    assert classify_column(header, pd.Series(["x", "y"])) == kind


def test_ordinary_columns_are_not_taken_for_identifiers():
    for name, values in (("amount", [12.5, 30.0, 8.9]), ("timestamp", pd.to_datetime(["2024-01-01"] * 3)),
                         ("referral_source", ["search engine", "direct", "search engine"]),
                         ("cancelled", [True, False, True])):
        assert classify_column(name, pd.Series(values)) is None, name


# ----------------------------------------------------------------------- k-suppression

def test_small_groups_are_suppressed_with_a_complement():
    table = pd.DataFrame({"grouping": ["tier"] * 4 + ["all"], "group": ["a", "b", "c", "d", "all"],
                          "n": [50, 3, 40, 20, 113], "n_repeat": [10, 1, 12, 2, 25],
                          "rate": [.2, .33, .3, .1, .22]})
    out = suppress_groups(table, "n", 5, values=["rate"], within=["grouping"], inner=["n_repeat"])
    # group b (3 customers) and, because the total 113 is published, the next smallest d (20)
    assert out["n"].isna().tolist() == [False, True, False, True, False]
    assert out.loc[1, ["n_repeat", "rate"]].isna().all() and out.loc[3, ["n_repeat", "rate"]].isna().all()
    assert out.loc[0, "rate"] == .2 and table["n"].notna().all()  # input untouched
    assert suppressed_cells(out) == 6 and out.attrs["min_cell_size"] == 5


def test_inner_counts_that_single_out_a_few_are_suppressed():
    table = pd.DataFrame({"group": ["a", "b"], "n": [40, 40], "n_repeat": [2, 38], "rate": [.05, .95]})
    out = suppress_groups(table, "n", 5, values=["rate"], inner=["n_repeat"])
    assert out["n"].tolist() == [40, 40]  # the groups are large enough
    assert out["n_repeat"].isna().all() and out["rate"].isna().all()  # 2 repeaters; 2 non-repeaters


def test_cross_table_cells_are_suppressed_down_the_columns():
    table = pd.DataFrame({"true_type": ["attentive", "random", "speeder"], "excluded": [3, 6, 0],
                          "kept": [181, 0, 9]})
    out = suppress_counts(table, ["excluded", "kept"], 5, by_row=False)
    # 3 is suppressed; 6 goes with it (the column total is published); zeros reveal nobody
    assert out["excluded"].isna().tolist() == [True, True, False]
    assert out["kept"].tolist() == [181, 0, 9]
    assert suppressed_cells(out) == 2


def test_k_is_the_profile_setting(tmp_path):
    from analysis.behaviour.segments import segment_profile
    from analysis.profile import load_profile

    assert load_profile(write_profile(tmp_path)).privacy.min_cell_size == 5
    profile = load_profile(write_profile(tmp_path, privacy={"min_cell_size": 10}))
    assert profile.privacy.min_cell_size == 10 and profile.privacy.salt_file is None
    with pytest.raises(ConfigError, match=r"privacy.min_cell_size: expected an integer between 1 and 100, got 0"):
        load_profile(write_profile(tmp_path, privacy={"min_cell_size": 0}))
    profile_table = pd.DataFrame({"visits": np.arange(12.0)}, index=range(12))
    segments = pd.Series(["big"] * 8 + ["small"] * 4, index=profile_table.index)
    table = segment_profile(profile_table, segments, min_cell=profile.privacy.min_cell_size)
    assert table["suppressed"].all() and suppressed_cells(table) == 2


def test_small_group_sizes_in_words_become_less_than_k():
    shown, n = suppress_label_counts(pd.Series({"female": 250, "male": 240, "other": 3}), 5)
    assert shown == {"female": 250, "male": 240, "other": "<5"} and n == 1


# ----------------------------------------------------------------------- output scan

def _png_with_text(keyword: str, value: str) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"tEXt", f"{keyword}\0{value}".encode("latin-1"))
            + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b""))


def test_scan_finds_planted_values_in_every_file_type(tmp_path):
    import docx

    planted = {"index.html": "<p>id&#58; <b>CUST-000123</b></p>", "tables/t.csv": "id\nCUST-000124\n",
               "manifest.json": json.dumps({"who": "ann@example.com"}), "notes.md": "call +86 138 0013 8000",
               "figure.svg": "<svg><text>CUST-000125</text></svg>", "log.txt": "CUST-000126 done"}
    for name, content in planted.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content, encoding="utf-8")
    notebook = {"cells": [{"cell_type": "code", "source": ["x"], "outputs": [{"text": ["CUST-000127\n"]}]}]}
    (tmp_path / "report.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    document = docx.Document()
    paragraph = document.add_paragraph("respondent ")
    paragraph.add_run("CUST-0001")  # Word splits text into runs: the scan joins them
    paragraph.add_run("28")
    document.save(tmp_path / "report.docx")
    (tmp_path / "figure.png").write_bytes(_png_with_text("Comment", "CUST-000129"))
    (tmp_path / "font.woff2").write_bytes(b"\0\1")
    forbidden = [f"CUST-0001{k}" for k in range(23, 30)] + ["ann@example.com", "+86 138 0013 8000"]
    result = scan_outputs(tmp_path, forbidden + ["CUST-000999"])
    found = {(f.file, f.value) for f in result.findings}
    assert {v for _, v in found} == set(forbidden)
    assert ("report.docx", "CUST-000128") in found and ("figure.png", "CUST-000129") in found
    assert result.skipped == [("font.woff2", "binary file type .woff2 holds no searchable text")]


def test_scan_matches_ids_as_whole_tokens_and_can_report_any_email(tmp_path):
    (tmp_path / "a.csv").write_text("n\n21001\nR-1001x\n", encoding="utf-8")
    (tmp_path / "b.html").write_text("contact someone@example.com", encoding="utf-8")
    assert scan_outputs(tmp_path, ["1001"]).clean
    result = scan_outputs(tmp_path, [], emails=True)
    assert [(f.file, f.kind) for f in result.findings] == [("b.html", "e-mail pattern")]


def test_pdf_without_pdftotext_is_skipped_with_the_reason(tmp_path, monkeypatch):
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4\n")
    monkeypatch.setattr("analysis.privacy.scan.shutil.which", lambda name: None)
    assert file_text(tmp_path / "report.pdf") == (None, "pdftotext (poppler-utils) is not installed")


def test_the_gate_names_the_file_never_the_value(tmp_path):
    export = tmp_path / "export.csv"
    export.write_text("respondent_id,email\nCUST-000123,ann@example.com\n", encoding="utf-8")
    out = tmp_path / "out"
    (out / "tables").mkdir(parents=True)
    (out / "tables" / "excluded.csv").write_text("respondent_id\nCUST-000123\n", encoding="utf-8")

    class Settings:  # the parts of a profile the gate reads
        class client:
            id = "acme"

        class data:
            source, path, format = "file", export, "csv"

        class behaviour:
            enabled, crm_path = False, None

    with pytest.raises(RenderError, match=r"found in 1 output file\(s\): tables/excluded.csv;") as caught:
        check_report_folder(out, Settings)
    assert "CUST-000123" not in str(caught.value) and "ann@" not in str(caught.value)
    (out / "tables" / "excluded.csv").write_text("respondent_id\nR-0123456789ab\n", encoding="utf-8")
    assert check_report_folder(out, Settings) == 2  # the id and the e-mail address were sought


# ----------------------------------------------------------------------- a real export, end to end

def _planted_export(folder: Path) -> tuple[Path, Path, set[str]]:
    """A survey CSV and a CRM export with raw ids, e-mail addresses, phone numbers and comments."""
    from analysis.simulate.linked import simulate_linked_study

    study = simulate_linked_study(n_customers=1500, sample_size=150, random_state=11)
    raw_customer = {c: f"CUST-{c:06d}" for c in study.crm.customers["customer_id"]}
    survey = study.responses.copy()
    survey["respondent_id"] = [f"RESP-{k:05d}" for k in range(1, len(survey) + 1)]
    survey["customer_id"] = survey["customer_id"].map(raw_customer)
    survey = survey.drop(columns=["survey_language"])
    survey["email"] = [f"shopper{k}@example.com" for k in range(len(survey))]
    survey["phone"] = [f"+86 139 {k:04d} {7000 + k:04d}" for k in range(len(survey))]
    survey["comment"] = [f"Parcel {k} arrived late and the courier was rude to my mother" for k in range(len(survey))]
    path = folder / "export.csv"
    survey.to_csv(path, index=False)
    crm = folder / "crm"
    crm.mkdir()
    customers = study.crm.customers.assign(customer_id=lambda f: f["customer_id"].map(raw_customer),
                                           email=lambda f: [f"client{k}@example.org" for k in range(len(f))])
    customers.to_csv(crm / "customers.csv", index=False)
    for name in ("orders", "sessions"):
        table = getattr(study.crm, name)
        table.assign(customer_id=table["customer_id"].map(raw_customer)).to_csv(crm / f"{name}.csv", index=False)
    planted = (set(survey["respondent_id"]) | set(survey["customer_id"]) | set(survey["email"])
               | set(survey["phone"]) | set(survey["comment"]) | set(customers["email"]))
    return path, crm, planted


@pytest.mark.slow
def test_no_planted_value_reaches_any_output_file(tmp_path):
    from analysis.report.build import build_report

    export, crm, planted = _planted_export(tmp_path)
    salt_file = tmp_path / "secret" / "planted.salt"
    profile = write_profile(tmp_path, "planted", data={"source": "file", "path": str(export)},
                            report={"formats": ["html", "docx"]}, analysis={"bootstrap_draws": 0},
                            behaviour={"crm_path": str(crm)}, privacy={"salt_file": str(salt_file)})
    final = build_report(client=str(profile), output_root=tmp_path / "out", renderer="nbconvert")
    salt = salt_file.read_bytes()
    secret_forms = {salt.hex(), base64.b64encode(salt).decode()}
    result = scan_outputs(final, planted | secret_forms, emails=True)
    assert result.findings == []
    assert {"index.html", "report.docx", "report.ipynb", "manifest.json"} <= set(result.scanned)
    assert len(result.scanned) > 40 and not [s for s in result.skipped if not s[0].endswith((".woff", ".woff2"))]
    manifest = json.loads((final / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["privacy"]["salt_fingerprint"] == salt_fingerprint(salt)
    excluded = pd.read_csv(final / "tables" / "excluded_respondents.csv")
    assert excluded["respondent_id"].map(lambda v: bool(PSEUDONYM.match(v))).all()
    assert "email" not in excluded.columns and "comment" not in excluded.columns
    crm_overview = pd.read_csv(final / "tables" / "crm_overview.csv")
    linked = crm_overview.loc[crm_overview["quantity"].str.startswith("survey respondents linked"), "value"]
    assert linked.tolist() == ["150"]  # linkage between survey and CRM survives the pseudonyms


def _qualtrics_export(path: Path, n: int = 80) -> set[str]:
    """A Qualtrics CSV (three header rows) with contact details, IP addresses and comments."""
    import csv

    from analysis.instrument import load_instrument
    from analysis.simulate import simulate_survey

    instrument = load_instrument()
    answers = simulate_survey(instrument, n=n, careless_share=0.0, missing_share=0.0, random_state=5).responses
    items = instrument.likert_items
    meta = ["StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished",
            "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail",
            "ExternalReference", "LocationLatitude", "LocationLongitude", "DistributionChannel", "UserLanguage"]
    rows = [meta + items + ["Q99_TEXT"],
            meta + [instrument.item(i).text["en"] for i in items] + ["Anything else you want to tell us?"],
            [json.dumps({"ImportId": m}) for m in meta] + [json.dumps({"ImportId": f"QID{k + 1}"})
                                                             for k in range(len(items) + 1)]]
    planted = set()
    for r in range(n):
        values = [f"R_{r:04d}QxZ8", f"bob{r}@example.com", f"Wong{r}x", f"172.16.{r}.9",
                  f"The parcel number {r} was left outside my door in the rain"]
        planted |= {values[0], values[1], values[3], values[4]}
        rows.append(["2024-05-01 10:00:00", "2024-05-01 10:10:00", "IP Address", values[3], "100", str(300 + r),
                     "True", "2024-05-01 10:10:01", values[0], values[2], "Jane", values[1], "", "22.3", "114.2",
                     "anonymous", "EN"] + [str(int(answers[i].iloc[r])) for i in items] + [values[4]])
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        csv.writer(handle).writerows(rows)
    return planted


def test_a_qualtrics_export_reaches_the_analysis_without_identifiers(tmp_path, make_context):
    from analysis.privacy.gate import forbidden_values
    from analysis.study import stages

    export = tmp_path / "qualtrics.csv"
    planted = _qualtrics_export(export)
    ctx = make_context(tmp_path, data={"source": "file", "path": str(export)},
                       privacy={"salt_file": str(tmp_path / "q.salt")})
    data = stages.load_study_data(ctx)
    assert data.responses["respondent_id"].map(lambda v: bool(PSEUDONYM.match(v))).all()
    cells = {str(v) for v in data.responses.astype(str).to_numpy().ravel()}
    assert not cells & planted and not [c for c in data.responses.columns if "Recipient" in c or "IP" in c]
    assert not [n for n in data.notes if "@" in n or "R_0001" in n]
    # the publication gate knows what to look for: raw ResponseIds, e-mail addresses, comments
    sought = forbidden_values(ctx.settings)
    assert {"R_0001QxZ8", "bob1@example.com", "172.16.1.9"} <= sought
    assert "The parcel number 1 was left outside my door in the rain" in sought

"""The instrument as an XLSForm: sheets, languages, groups, required items, attention checks.

Validity is checked the way KoboToolbox checks an upload: by converting the workbook with
pyxform (``pyxform.xls2xform.convert``, without the Java ODK Validate) and reading the
XForm XML it produces.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import openpyxl
import pytest
from pyxform.xls2xform import convert

from analysis.cli.main import main
from analysis.errors import ConfigError
from analysis.instrument import load_instrument
from analysis.instrument.xlsform import build_xlsform, language_column, write_xlsform
from analysis.paths import PROJECT_ROOT

NS = {"h": "http://www.w3.org/1999/xhtml", "x": "http://www.w3.org/2002/xforms",
      "jr": "http://openrosa.org/javarosa"}
LANGUAGES = ("English (en)", "简体中文 (zh-Hans)", "繁體中文 (zh-Hant)")


@pytest.fixture(scope="module")
def instrument():
    return load_instrument()


@pytest.fixture(scope="module")
def workbook(instrument, tmp_path_factory):
    return write_xlsform(instrument, tmp_path_factory.mktemp("xlsform") / "eloyalty.xlsx")


@pytest.fixture(scope="module")
def converted(workbook):
    warnings: list[str] = []
    result = convert(xlsform=str(workbook), validate=False, pretty_print=False, warnings=warnings)
    return ET.fromstring(result.xform), warnings


def _straight(text: str) -> str:
    return text.translate(str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"}))


def _sheet(path, name):
    rows = list(openpyxl.load_workbook(path, read_only=True)[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def test_workbook_has_the_three_sheets_with_labels_in_three_languages(workbook):
    book = openpyxl.load_workbook(workbook, read_only=True)
    assert book.sheetnames == ["survey", "choices", "settings"]
    header = [c.value for c in next(book["survey"].iter_rows(max_row=1))]
    assert [f"label::{lang}" for lang in LANGUAGES] == [h for h in header if h.startswith("label::")]
    assert {f"hint::{lang}" for lang in LANGUAGES} <= set(header)
    assert {f"required_message::{lang}" for lang in LANGUAGES} <= set(header)


def test_settings_carry_form_id_version_and_default_language(workbook, instrument):
    (settings,) = _sheet(workbook, "settings")
    assert settings["form_id"] == instrument.id and settings["version"] == instrument.version
    assert settings["default_language"] == "English (en)"


def test_conversion_succeeds_with_only_pyxforms_script_subtag_warning(converted):
    # pyxform checks the code in parentheses against single IANA subtags only; zh-Hans and
    # zh-Hant are valid BCP 47 tags (language + script), which its lists do not hold.
    _, warnings = converted
    assert all("zh-Hans" in w and "zh-Hant" in w and "machine-readable" in w for w in warnings), warnings


def test_xform_has_three_translations_with_every_item_text(converted, instrument):
    root, _ = converted
    translations = {t.get("lang"): t for t in root.iter(f"{{{NS['x']}}}translation")}
    assert set(translations) == set(LANGUAGES)
    for lang, code in zip(LANGUAGES, ("en", "zh-Hans", "zh-Hant")):
        values = {v.text for v in translations[lang].iter(f"{{{NS['x']}}}value")}
        # pyxform (and so KoboToolbox) turns typographic quotes into straight ones: “同意” -> "同意".
        missing = [i.id for i in instrument.items if _straight(" ".join(i.text[code].split())) not in values]
        assert missing == [], (lang, missing)
        anchors = set(instrument.scale.anchors[code].values())
        assert anchors <= values


def test_every_item_is_a_required_select_one_on_the_scale_with_point_names(converted, instrument):
    root, _ = converted
    binds = {b.get("nodeset").rsplit("/", 1)[-1]: b for b in root.iter(f"{{{NS['x']}}}bind")}
    for item in instrument.items:
        assert binds[item.id].get("required") == "true()", item.id
    selects = {s.get("ref").rsplit("/", 1)[-1]: s for s in root.iter(f"{{{NS['x']}}}select1")}
    assert set(instrument.likert_items) <= set(selects)
    assert selects["SAT1"].find("x:itemset", NS).get("nodeset") == "instance('agree7')/root/item"
    scale = next(i for i in root.iter(f"{{{NS['x']}}}instance") if i.get("id") == "agree7")
    names = [n.text for n in scale.iter(f"{{{NS['x']}}}name")]
    assert names == [str(p) for p in range(1, instrument.scale.points + 1)]


def test_attention_checks_are_included_as_worded_on_their_page(workbook, instrument):
    rows = {r["name"]: r for r in _sheet(workbook, "survey") if r["name"]}
    for item_id in instrument.attention_checks:
        item = instrument.item(item_id)
        row = rows[item_id]
        assert row["type"] == "select_one agree7" and row["required"] == "yes"
        assert row[f"label::{language_column('zh-Hant')}"] == item.text["zh-Hant"]
        assert not row.get("constraint")  # a wrong answer must be possible: that is the check
    form = build_xlsform(instrument)
    groups = {name: group for name, _, group in form.questions()}
    assert groups["QC1"] == instrument.item("QC1").block and groups["QC2"] == "loyalty"


def test_pages_are_field_list_groups_in_questionnaire_order(converted, instrument):
    root, _ = converted
    body = root.find("h:body", NS)
    groups = [g for g in body.findall("x:group", NS)]
    names = [g.get("ref").rsplit("/", 1)[-1] for g in groups]
    assert names == ["welcome", *instrument.blocks, "about_you"]
    assert all(g.get("appearance") == "field-list" for g in groups)
    website = groups[1]
    assert [s.get("ref").rsplit("/", 1)[-1] for s in website.findall("x:select1", NS)] == \
        instrument.blocks["website"]


def test_welcome_and_closing_are_notes_and_start_end_are_recorded(workbook):
    rows = _sheet(workbook, "survey")
    kinds = {r["name"]: r["type"] for r in rows if r["name"]}
    assert {kinds[n] for n in ("introduction", "consent", "instructions", "closing")} == {"note"}
    assert kinds["start"] == "start" and kinds["end"] == "end"


def test_demographics_choices_are_the_option_codes(workbook, instrument):
    choices = _sheet(workbook, "choices")
    gender = [c["name"] for c in choices if c["list_name"] == "gender"]
    assert gender == instrument.demographics[0].codes


def test_cli_writes_the_form_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "form.xlsx"
    assert main(["survey", "xlsform", "--out", str(out)]) == 0
    first = out.stat().st_mtime_ns
    assert main(["survey", "xlsform", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "already exists" in err and "--force" in err
    assert out.stat().st_mtime_ns == first
    assert main(["survey", "xlsform", "--out", str(out), "--force"]) == 0


def test_cli_rejects_a_name_that_is_not_xlsx_in_one_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "analysis", "survey", "xlsform", "--out", str(tmp_path / "f.csv")],
                         check=False, capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.startswith("error: f.csv: ") and ".xlsx" in run.stderr and run.stderr.count("\n") == 1


def test_library_refuses_to_overwrite_unless_asked(tmp_path, instrument):
    out = tmp_path / "form.xlsx"
    out.write_bytes(b"keep me")
    with pytest.raises(ConfigError, match="already exists"):
        write_xlsform(instrument, out)
    assert out.read_bytes() == b"keep me"
    write_xlsform(instrument, out, overwrite=True)
    assert out.read_bytes()[:2] == b"PK"

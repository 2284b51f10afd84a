"""Tests for analysis.instrument.model (schema, validator) and analysis.instrument.questionnaire (outputs)."""

from __future__ import annotations

import copy
import html
import os
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis import atomic
from analysis.errors import ConfigError
from analysis.instrument import Instrument, load_instrument
from analysis.instrument.questionnaire import (
    CODEBOOK_COLUMNS,
    codebook,
    export_survey,
    questionnaire_html,
    questionnaire_markdown,
    write_codebook,
)
from analysis.paths import DEFAULT_INSTRUMENT

LANGUAGES = ("en", "zh-Hans", "zh-Hant")
CONTRACT_ITEMS = {
    "EFF": 4, "SYS": 4, "FUL": 4, "PRI": 3, "CUS": 4, "ITB": 3, "TRU": 4,
    "VAL": 3, "SAT": 4, "LOY": 4, "EMO": 3, "MKR": 3, "QC": 2,
}
CONTRACT_DEMOGRAPHICS = [
    "gender", "age_group", "education", "city_tier", "shopping_frequency", "customer_tenure", "device",
]
# Characters that exist only in one script; a hit means the two Chinese versions got mixed up.
SIMPLIFIED_ONLY = set("这网资们对时会说买东务质价为订单货账号达过还进么个应门过络虑")
TRADITIONAL_ONLY = set("這網資們對時會說買東務質價為訂單貨帳號達過還進麼個應門絡慮")


@pytest.fixture(scope="module")
def instrument() -> Instrument:
    return load_instrument()


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(DEFAULT_INSTRUMENT.read_text(encoding="utf-8"))


def _all_texts(instrument: Instrument) -> list[tuple[str, dict[str, str]]]:
    texts = [(key, getattr(instrument, key)) for key in
             ("title", "introduction", "consent", "instructions", "closing")]
    texts += [("anchors", instrument.scale.anchors)]
    texts += [(f"block {b.id}", b.title) for b in instrument.block_specs]
    texts += [(f"block {b.id} intro", b.intro) for b in instrument.block_specs if b.intro]
    texts += [(f"construct {c.code}", c.name) for c in instrument.constructs]
    texts += [(item.id, item.text) for item in instrument.items]
    for demographic in instrument.demographics:
        texts.append((demographic.id, demographic.label))
        texts += [(f"{demographic.id}={code}", label) for code, label in demographic.options]
    return texts


# --- the default instrument -------------------------------------------------------------

def test_default_instrument_has_exactly_the_contract_items(instrument):
    expected = {f"{code}{n}" for code, count in CONTRACT_ITEMS.items() for n in range(1, count + 1)}
    assert set(instrument.likert_items) == expected
    assert len(instrument.likert_items) == len(expected)
    for code, count in CONTRACT_ITEMS.items():
        assert instrument.items_of(code) == [f"{code}{n}" for n in range(1, count + 1)]
    assert instrument.construct_codes == [code for code in CONTRACT_ITEMS if code != "QC"]
    assert instrument.demographic_ids == CONTRACT_DEMOGRAPHICS
    assert instrument.languages == LANGUAGES
    assert instrument.scale.points == 7
    assert instrument.source_path == DEFAULT_INSTRUMENT.resolve()


def test_every_text_has_all_three_languages(instrument):
    for where, text in _all_texts(instrument):
        assert set(text) == set(LANGUAGES), where
        assert all(str(value).strip() for value in text.values()), where
    assert all(len(labels) == 7 for labels in instrument.scale.anchors.values())


def test_chinese_versions_are_in_the_right_script(instrument):
    for where, text in _all_texts(instrument):
        if where == "anchors":
            continue
        assert not SIMPLIFIED_ONLY & set(text["zh-Hant"]), (where, text["zh-Hant"])
        assert not TRADITIONAL_ONLY & set(text["zh-Hans"]), (where, text["zh-Hans"])
    distinct = sum(item.text["zh-Hans"] != item.text["zh-Hant"] for item in instrument.items)
    assert distinct == len(instrument.items)


def test_reverse_keying_and_attention_checks(instrument):
    assert instrument.reverse_keyed == ["MKR3"]
    core_roles = {"quality_dimension", "trust", "outcome"}
    for item in instrument.items:
        if instrument.construct(item.construct).role in core_roles:
            assert not item.reverse, item.id
    assert instrument.attention_checks == {"QC1": 6, "QC2": 1}
    assert instrument.scale.anchors["en"][6] == "Agree"
    assert instrument.scale.anchors["en"][1] == "Strongly disagree"
    assert "QC1" not in instrument.substantive_items
    assert len(instrument.substantive_items) == len(instrument.likert_items) - 2
    for qc in ("QC1", "QC2"):
        page = instrument.blocks[instrument.item(qc).block]
        assert len(page) >= 5 and page[0] != qc and page[-1] != qc  # hidden among real items


def test_blocks_are_pages_covering_the_items_in_order(instrument):
    assert 6 <= len(instrument.blocks) <= 8
    flattened = [item for page in instrument.blocks.values() for item in page]
    assert flattened == instrument.likert_items
    assert list(instrument.blocks) == [spec.id for spec in instrument.block_specs]


def test_constructs_name_their_literature(instrument):
    for construct in instrument.constructs:
        assert construct.source and construct.description, construct.code
    assert "Parasuraman" in instrument.construct("EFF").source
    assert "Lindell" in instrument.construct("MKR").source


def test_lookups_of_unknown_names_raise_config_error(instrument):
    with pytest.raises(ConfigError, match="unknown construct 'XYZ'; expected one of EFF, SYS"):
        instrument.items_of("XYZ")
    with pytest.raises(ConfigError, match="unknown item 'SAT9'"):
        instrument.item("SAT9")


# --- the validator ----------------------------------------------------------------------

def _index(raw: dict, item_id: str) -> int:
    return next(i for i, item in enumerate(raw["items"]) if item["id"] == item_id)


def _load_broken(tmp_path: Path, document: dict) -> str:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_instrument(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    return message


def _drop_language(doc, raw):
    del doc["items"][_index(raw, "SAT2")]["text"]["zh-Hant"]


def _unknown_item_key(doc, raw):
    doc["items"][0]["reversed"] = True


def _duplicate_id(doc, raw):
    doc["items"][1]["id"] = "EFF1"


def _unknown_construct(doc, raw):
    doc["items"][0]["construct"] = "XYZ"


def _unknown_block(doc, raw):
    doc["items"][0]["block"] = "nowhere"


def _expected_off_scale(doc, raw):
    doc["items"][_index(raw, "QC1")]["expected"] = 9


def _qc_text_names_other_answer(doc, raw):
    doc["items"][_index(raw, "QC1")]["expected"] = 7


def _expected_on_normal_item(doc, raw):
    doc["items"][_index(raw, "SAT1")]["expected"] = 4


def _missing_anchor(doc, raw):
    del doc["scale"]["anchors"]["zh-Hans"][4]


def _unknown_top_key(doc, raw):
    doc["author"] = "someone"


def _missing_top_key(doc, raw):
    del doc["demographics"]


def _block_split(doc, raw):
    doc["items"][_index(raw, "EFF3")]["block"] = "delivery_privacy"


def _block_out_of_order(doc, raw):
    for item in doc["items"]:
        if item["block"] == "website":
            item["block"] = "service"


def _bad_numbering(doc, raw):
    doc["items"][_index(raw, "LOY4")]["id"] = "LOY5"


def _numeric_option_code(doc, raw):
    doc["demographics"][0]["options"][0]["code"] = 1


def _bad_role(doc, raw):
    doc["constructs"][0]["role"] = "driver"


def _folded_chinese(doc, raw):
    doc["items"][0]["text"]["zh-Hans"] = "在这家网店的网站上， 我能找到东西。"


def _unsupported_language(doc, raw):
    doc["languages"] = ["en", "fr"]


@pytest.mark.parametrize(("breaker", "expected"), [
    (_drop_language, "items[34] (SAT2).text: missing language 'zh-Hant'; expected all of en, zh-Hans, zh-Hant"),
    (_unknown_item_key, "items[0] (EFF1): unknown key 'reversed'; allowed keys: id, construct, block, text"),
    (_duplicate_id, "items[1] (EFF1).id: duplicate item id 'EFF1'"),
    (_unknown_construct, "items[0] (EFF1).construct: unknown construct 'XYZ'; expected one of EFF, SYS"),
    (_unknown_block, "items[0] (EFF1).block: unknown block 'nowhere'; expected one of website"),
    (_expected_off_scale, "items[12] (QC1).expected: expected an integer from 1 to 7"),
    (_qc_text_names_other_answer, "items[12] (QC1).text.en: must name the expected answer 7 ('Strongly agree')"),
    (_expected_on_normal_item, "items[33] (SAT1).expected: only attention-check items may set 'expected'"),
    (_missing_anchor, "scale.anchors.zh-Hans: missing anchor for point 4"),
    (_unknown_top_key, "unknown key 'author'; allowed keys: id, version"),
    (_missing_top_key, "missing key 'demographics'"),
    (_block_split, "items[3] (EFF4).block: block 'website' was closed by earlier items; items of a "
                   "block must be contiguous"),
    (_block_out_of_order, "items[0] (EFF1).block: expected block 'website' next (the order of 'blocks'); "
                          "got 'service'"),
    (_bad_numbering, "items[41] (LOY5).id: expected 'LOY4'"),
    (_numeric_option_code, "demographics[0] (gender).options[0].code: expected a non-empty string "
                           "(quote it in the YAML file); got int 1"),
    (_bad_role, "constructs[0] (EFF).role: expected one of quality_dimension, trust"),
    (_folded_chinese, "items[0] (EFF1).text.zh-Hans: space between Chinese characters"),
    (_unsupported_language, "languages[1]: unsupported language 'fr'; expected one of en, zh-Hans, zh-Hant"),
])
def test_validator_names_the_key_path(tmp_path, raw, breaker, expected):
    document = copy.deepcopy(raw)
    breaker(document, raw)
    assert expected in _load_broken(tmp_path, document)


def test_duplicate_yaml_keys_and_syntax_errors_report_the_line(tmp_path):
    text = DEFAULT_INSTRUMENT.read_text(encoding="utf-8").replace(
        "version: \"1.0.0\"", "version: \"1.0.0\"\nversion: \"2.0.0\"", 1)
    path = tmp_path / "dup.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"dup\.yaml: invalid YAML at line 9, column 1: duplicate key 'version'"):
        load_instrument(path)
    path.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"dup\.yaml: invalid YAML at line \d+"):
        load_instrument(path)


def test_missing_file_and_non_mapping_document(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: instrument file not found"):
        load_instrument(tmp_path / "nope.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"list\.yaml: expected a mapping with keys id, version"):
        load_instrument(path)


# --- codebook and questionnaires ----------------------------------------------------------

def test_codebook_shape_and_columns(instrument):
    table = codebook(instrument)
    n_items, n_demo = len(instrument.likert_items), len(instrument.demographics)
    assert list(table.columns) == CODEBOOK_COLUMNS
    assert table.shape == (n_items + n_demo, len(CODEBOOK_COLUMNS))
    assert table["position"].tolist() == list(range(1, n_items + n_demo + 1))
    assert table["variable"].tolist() == instrument.likert_items + instrument.demographic_ids
    assert table["variable_type"].value_counts().to_dict() == {"likert": n_items, "categorical": n_demo}
    qc = table.set_index("variable").loc[["QC1", "QC2"], "expected_response"]
    assert qc.tolist() == [6, 1]
    assert table.loc[table["reverse"], "variable"].tolist() == ["MKR3"]
    gender = table.set_index("variable").loc["gender"]
    assert gender["values"].startswith("female=Female; male=Male")
    assert pd.isna(gender["scale_min"]) and gender["block"] == "demographics"
    sat1 = table.set_index("variable").loc["SAT1"]
    assert (sat1["scale_min"], sat1["scale_max"], sat1["construct_name"]) == (1, 7, "E-satisfaction")
    assert sat1["text_zh_hant"] == instrument.item("SAT1").text["zh-Hant"]


class _TagBalance(HTMLParser):
    VOID = {"meta", "br", "link", "img", "input", "hr", "col"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
        self.stack.pop()


@pytest.mark.parametrize("language", LANGUAGES)
def test_questionnaires_contain_every_text(instrument, language):
    markdown = questionnaire_markdown(instrument, language)
    page = questionnaire_html(instrument, language)
    options = sum(len(d.options) for d in instrument.demographics)
    for text_of in (lambda s: s, html.escape):
        document = markdown if text_of is not html.escape else page
        for item in instrument.items:
            assert text_of(item.text[language]) in document, item.id
        for demographic in instrument.demographics:
            assert text_of(demographic.label[language]) in document
            assert all(text_of(label[language]) in document for _, label in demographic.options)
        assert all(text_of(label) in document for label in instrument.scale.anchors[language].values())
        assert document.count("\u25cb") == 7 * len(instrument.items) + options
    assert f'<html lang="{language}">' in page and "@media print" in page and "<script" not in page
    checker = _TagBalance()
    checker.feed(page)
    assert checker.stack == []
    # demographics come after the last scale item
    assert page.index(instrument.demographics[0].label[language]) > page.index(
        html.escape(instrument.items[-1].text[language]))


def test_questionnaire_rejects_unknown_language(instrument):
    with pytest.raises(ConfigError, match="language 'fr' is not available; expected one of en, zh-Hans"):
        questionnaire_markdown(instrument, "fr")


def test_export_writes_all_files(instrument, tmp_path):
    out_dir = tmp_path / "survey"
    written = export_survey(instrument, out_dir)
    names = sorted(path.name for path in written)
    expected = ["codebook.csv", "codebook.md"] + [
        f"questionnaire_{lang}.{ext}" for lang in LANGUAGES for ext in ("html", "md")]
    assert names == sorted(expected)
    assert sorted(os.listdir(out_dir)) == sorted(expected)  # no temporary files left behind
    raw_csv = (out_dir / "codebook.csv").read_bytes()
    assert raw_csv.startswith(b"\xef\xbb\xbf")
    reread = pd.read_csv(out_dir / "codebook.csv", encoding="utf-8-sig", keep_default_na=False)
    assert reread["text_zh_hans"].tolist() == codebook(instrument)["text_zh_hans"].tolist()
    assert "| `SAT1` |" in (out_dir / "codebook.md").read_text(encoding="utf-8")


def test_failed_write_keeps_the_previous_file(instrument, tmp_path, monkeypatch):
    write_codebook(instrument, tmp_path)
    before = (tmp_path / "codebook.csv").read_bytes()

    def refuse(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_codebook(instrument, tmp_path)
    assert (tmp_path / "codebook.csv").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["codebook.csv", "codebook.md"]

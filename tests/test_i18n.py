"""The report's words: complete catalogs, Taiwan and mainland terminology, the narrative.

Every text a reader sees lives in ``analysis/i18n/catalog/*.yaml`` with en, zh-Hans and
zh-Hant side by side. These tests hold the catalog to that: nothing missing, every key the
code and the notebook use exists, zh-Hant speaks Taiwan's methodology language (not
character-converted mainland terms), zh-Hans contains no traditional characters, Chinese
texts are not English left untranslated, and the reference list covers every citation.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from analysis.i18n import LANGUAGES, MissingTranslation, catalog, check_catalog, text

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "study.ipynb"
#: Literal keys with these prefixes must exist in the catalog (f-string keys: some key must
#: start with their literal head).
KEY_PREFIXES = ("narrative.", "construct.", "reference.", "findings.", "ipma.")
#: Literals that look like keys but are file names ("reference.docx").
FILE_SUFFIXES = {"docx", "pdf", "html", "csv", "json", "png", "svg", "yml", "yaml", "md", "ipynb", "txt", "py"}

#: Mainland terms (written in traditional characters, as a character converter would)
#: that Taiwan's methodology literature does not use; the Taiwan term in the comment.
MAINLAND_IN_TRADITIONAL = (
    "結構方程模型",  # 結構方程模式
    "驗證性因子分析",  # 驗證性因素分析
    "因子載荷",  # 因素負荷量
    "組合信度",  # 組成信度
    "平均方差",  # 平均變異數萃取量
    "方差",  # 變異數
    "聚合效度",  # 收斂效度
    "區分效度",  # 區別效度
    "擬合",  # 適配
    "置信區間",  # 信賴區間
    "自助法",  # 拔靴法
    "效應",  # 效果 (間接效果, 總效果)
    "測量不變性",  # 測量恆等性
    "修正指數",  # 修正指標
    "共同方法偏差",  # 共同方法變異
    "不認真作答",  # 不用心作答
    "服務質量",  # 服務品質
    "感知價值",  # 知覺價值
    "潛變量",  # 潛在變項
    "觀測變量",  # 觀察變項
    "樣本量",  # 樣本數
    "數據",  # 資料
    "正態",  # 常態
    "概率",  # 機率
    "回歸",  # 迴歸
    "顧客保留",  # 顧客維繫
    "應答偏差",  # 回應偏誤
    "軟件",  # 軟體
    "默認",  # 預設
    "配置文件",  # 設定檔
)
#: Both in simplified characters: terms a mainland reader would not expect.
TAIWAN_IN_SIMPLIFIED = ("结构方程模式", "因素负荷量", "信赖区间", "拔靴法", "适配度", "变异数", "资料")
#: Characters that exist only in traditional script (their simplified forms differ).
TRADITIONAL_ONLY = "這們個對會來時為於從發變區質務數據驗誤與網體資說種後點經過還開關題購歸續樣應當實際價顧"
#: Characters that exist only in simplified script.
SIMPLIFIED_ONLY = "这们个对会来时为于从发变区质务数据验误与网体资说种后点经过还开关题购归续样应当实际价顾"
_CJK = re.compile(r"[\u3400-\u9fff]")
_FIELD = re.compile(r"\{[^{}]*\}")


def _texts(language: str):
    for key, values in catalog().items():
        yield key, str(values.get(language, ""))


def test_catalog_is_complete():
    assert check_catalog() == []


def _literal_keys(source: str) -> tuple[set[str], set[str]]:
    """Catalog keys in Python source: exact string literals, and heads of f-strings."""
    exact, heads = set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            value = node.value
            if (value.startswith(KEY_PREFIXES) and re.fullmatch(r"[a-z]+(\.[A-Za-z0-9_\-]+)+", value)
                    and value.rsplit(".", 1)[-1] not in FILE_SUFFIXES):
                exact.add(value)
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            head = str(node.values[0].value)
            if head.startswith(KEY_PREFIXES) and len(node.values) > 1:
                heads.add(head)
    return exact, heads


def _sources() -> dict[str, str]:
    sources = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in (ROOT / "analysis").rglob("*.py")}
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for k, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            sources[f"notebook cell {k}"] = "".join(cell["source"])
    return sources


def test_every_key_the_code_and_the_notebook_use_exists():
    keys = set(catalog())
    missing = []
    for where, source in _sources().items():
        exact, heads = _literal_keys(source)
        missing += [f"{where}: {key}" for key in sorted(exact - keys)]
        missing += [f"{where}: {head}..." for head in sorted(heads) if not any(k.startswith(head) for k in keys)]
    assert missing == []


def test_the_notebook_says_only_keys_that_exist_and_holds_no_prose():
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    cells = notebook["cells"]
    assert all(cell["cell_type"] == "code" for cell in cells), "narrative belongs in narrative.yaml"
    assert all(not cell["outputs"] and cell["execution_count"] is None for cell in cells), "commit without outputs"
    assert "parameters" in cells[0]["metadata"]["tags"]
    assert 'profile = "default"' in "".join(cells[0]["source"]) and "output_dir = None" in "".join(cells[0]["source"])
    said = re.findall(r"say\(ctx, \"([^\"]+)\"", "".join("".join(c["source"]) for c in cells))
    assert said and set(said) <= set(catalog())
    for cell in cells:  # show_table returns the shown frame: a cell ending with it would show it twice
        source = "".join(cell["source"]).rstrip()
        last = ast.parse(source).body[-1] if source else None
        if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) and \
                getattr(last.value.func, "id", "") == "show_table":
            assert source.endswith(";"), source[-80:]


def test_zh_hant_uses_taiwan_terms():
    found = {key: term for key, value in _texts("zh-Hant") for term in MAINLAND_IN_TRADITIONAL if term in value}
    assert found == {}


def test_zh_hant_is_traditional():
    simplified = {key: sorted(set(value) & set(SIMPLIFIED_ONLY)) for key, value in _texts("zh-Hant")
                  if not key.startswith("reference.")}
    assert {k: v for k, v in simplified.items() if v} == {}


def test_zh_hans_is_simplified_and_mainland():
    traditional = {key: sorted(set(value) & set(TRADITIONAL_ONLY)) for key, value in _texts("zh-Hans")
                   if not key.startswith("reference.")}
    assert {k: v for k, v in traditional.items() if v} == {}
    taiwan = {key: term for key, value in _texts("zh-Hans") for term in TAIWAN_IN_SIMPLIFIED if term in value}
    assert taiwan == {}


def _words(value: str) -> str:
    """English words left in a text once format fields, code spans and URLs are removed."""
    value = _FIELD.sub("", value)
    value = re.sub(r"`[^`]*`|https?://\S+", "", value)
    return " ".join(re.findall(r"[a-z]{3,}", value))


def test_chinese_texts_are_translations_not_english():
    untranslated = []
    for key, values in catalog().items():
        if key.startswith("reference."):  # works are cited in the language they were published in
            continue
        english = str(values["en"])
        for language in ("zh-Hans", "zh-Hant"):
            chinese = str(values[language])
            if not _words(english):  # proper names, codes, symbols: the same in every language
                continue
            if chinese == english or not _CJK.search(chinese):
                untranslated.append(f"{key} [{language}]")
    assert untranslated == []


def _citations(value: str) -> set[tuple[str, str]]:
    """(first author, year) of every APA in-text citation: "(Hu & Bentler, 1999)", "Oliver (1999)"."""
    value = " ".join(value.split())
    author = r"([A-Z][\w\-]+)(?: (?:&|and) [A-Z][\w\-]+| et al\.)?"
    found = set(re.findall(author + r", (\d{4}[ab]?)\b", value))
    found |= set(re.findall(author + r" \((\d{4}[ab]?)\)", value))
    return found


def test_the_reference_list_holds_every_cited_work_and_only_those():
    entries = [" ".join(str(v["en"]).split()) for k, v in catalog().items() if k.startswith("reference.")]
    listed = {(e.split(",")[0], re.search(r"\((\d{4}[ab]?)\)", e).group(1)) for e in entries}
    cited = set().union(*(_citations(str(v["en"])) for k, v in catalog().items() if not k.startswith("reference.")))
    assert sorted(cited - listed) == [], "cited but not in references.yaml"
    assert sorted(listed - cited) == [], "listed but never cited"
    for key, values in catalog().items():  # the Chinese texts cite the same works
        if not key.startswith("reference."):
            for language in ("zh-Hans", "zh-Hant"):
                years = set(re.findall(r"\b(1[89]\d\d[ab]?|20\d\d[ab]?)\b", str(values[language])))
                assert {y for _, y in _citations(str(values["en"]))} <= years, (key, language)


def test_missing_text_fails_instead_of_falling_back_to_english():
    with pytest.raises(MissingTranslation):
        text("narrative.no_such_key", "zh-Hans")
    with pytest.raises(MissingTranslation):
        text("narrative.about", "fr")


# --------------------------------------------------------------------------- the narrative module

@pytest.fixture(scope="module")
def contexts(tmp_path_factory):
    from conftest import make_study_context

    folder = tmp_path_factory.mktemp("i18n")
    return {language: make_study_context(folder / language, f"pytest-i18n-{language.lower()}",
                                         report={"title": "T", "language": language},
                                         thresholds={"cfi": 0.93, "htmt": 0.9},
                                         analysis={"seed": 1, "bootstrap_draws": 250, "ci_level": 0.9},
                                         simulation={"sample_size": 150},
                                         behaviour={"enabled": True, "n_customers": 2000})
            for language in LANGUAGES}


def test_say_quotes_the_profile_thresholds_in_the_report_language(contexts):
    from analysis.study.narrative import phrase, say

    english = say(contexts["en"], "narrative.measurement.intro")
    assert "CFI at least .93" in english and "below .90" in english and "## Measurement model" in english
    assert say(contexts["en"], "narrative.indirect.intro").count("250") == 1
    assert "90%" in phrase(contexts["en"], "narrative.indirect.intro")
    simplified = phrase(contexts["zh-Hans"], "narrative.measurement.intro")
    assert "CFI 不低于 0.93" in simplified and "验证性因子分析" in simplified
    traditional = phrase(contexts["zh-Hant"], "narrative.measurement.intro")
    assert "CFI 至少 0.93" in traditional and "驗證性因素分析" in traditional and "因素負荷量" in traditional
    assert phrase(contexts["en"], "narrative.screening.result", kept=1234, excluded=5).startswith("**1,234**")


def test_every_narrative_text_renders_in_every_language(contexts):
    from analysis.study.narrative import phrase

    for key in [k for k in catalog() if k.startswith("narrative.")]:
        fields = set(_FIELD.findall(str(catalog()[key]["en"])))
        values = {f.strip("{}"): "X" for f in fields}
        for language, ctx in contexts.items():
            assert "{" not in phrase(ctx, key, **values).replace("{{", ""), (key, language)


def test_glossary_names_every_construct_in_the_report_language(contexts):
    from analysis.study.narrative import glossary, glossary_codes

    codes = glossary_codes(contexts["en"])
    assert codes[0] == "ESQ" and {"CUS", "ITB", "EMO", "MKR", "QC"} <= set(codes)
    english = glossary(contexts["en"])
    assert "| CUS | Customer service |" in english and "| MKR |" in english
    assert "| ITB | 制度信任 |" in glossary(contexts["zh-Hans"])
    hant = glossary(contexts["zh-Hant"])
    assert "附錄" in hant and "| SAT | 網購滿意度 |" in hant and "標記變項" in hant


def test_references_are_alphabetical_with_a_translated_heading(contexts):
    from analysis.study.narrative import references

    english = references(contexts["en"])
    assert english.startswith("## References")
    entries = [line for line in english.splitlines() if re.match(r"^[A-Z][\w\-]+, ", line)]
    assert len(entries) == len([k for k in catalog() if k.startswith("reference.")])
    assert entries.index(next(e for e in entries if e.startswith("Fornell, C., Johnson"))) < \
        entries.index(next(e for e in entries if e.startswith("Fornell, C., & Larcker")))
    assert references(contexts["zh-Hans"]).startswith("## 参考文献")
    assert references(contexts["zh-Hant"]).startswith("## 參考文獻")


def test_said_text_is_not_echoed_twice():
    from analysis.study.narrative import Said

    said = Said("text")
    assert said == "text" and said._ipython_display_() is None


def test_reader_sentences_name_no_absolute_path(contexts):
    from analysis.study import stages

    for language in ("en", "zh-Hant"):
        ctx = contexts[language]
        data = stages.load_study_data(ctx)
        for sentence in (data.source, data.behaviour_note):
            assert str(ROOT) not in sentence and "/" not in sentence, sentence
        assert ("simulated" in data.source) == (language == "en")
        assert "模擬資料" in data.source if language == "zh-Hant" else True

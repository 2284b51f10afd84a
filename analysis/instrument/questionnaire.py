"""Codebook and printable questionnaires generated from a validated :class:`Instrument`.

* :func:`codebook` - one row per variable (Likert items in questionnaire order, then the
  demographics), with texts in every language; :func:`write_codebook` writes it as
  ``codebook.csv`` (UTF-8 with BOM, so Excel shows the Chinese) and ``codebook.md``.
* :func:`questionnaire_markdown` / :func:`questionnaire_html` - a paper questionnaire in one
  language: introduction, consent, instructions, one table per block with the scale
  anchors as columns and circles to tick, demographics at the end.
* :func:`export_survey` - all of the above into one directory.

Every file is written atomically (temporary file in the target directory, then
``os.replace``), so a reader never sees a half-written codebook.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from analysis.atomic import atomic_write_text
from analysis.errors import ConfigError
from analysis.instrument.model import SUPPORTED_LANGUAGES, Instrument

__all__ = [
    "CODEBOOK_COLUMNS",
    "codebook",
    "write_codebook",
    "questionnaire_markdown",
    "questionnaire_html",
    "write_questionnaires",
    "export_survey",
]

CODEBOOK_COLUMNS = [
    "position", "variable", "construct", "construct_name", "block", "text_en", "text_zh_hans",
    "text_zh_hant", "scale_min", "scale_max", "reverse", "attention_check", "expected_response",
    "variable_type", "values",
]
_TEXT_COLUMNS = {"en": "text_en", "zh-Hans": "text_zh_hans", "zh-Hant": "text_zh_hant"}
_DEMOGRAPHICS_BLOCK = "demographics"
_CIRCLE = "\u25cb"  # WHITE CIRCLE: prints as an empty radio button

# Page furniture that is not part of the instrument's content.
_UI = {
    "en": {"number": "No.", "statement": "Statement", "about_you": "About you",
           "instructions": "Instructions", "choose_one": "Please tick one answer."},
    "zh-Hans": {"number": "题号", "statement": "题目", "about_you": "个人基本信息",
                "instructions": "填答说明", "choose_one": "请选择一项。"},
    "zh-Hant": {"number": "題號", "statement": "題目", "about_you": "個人基本資料",
                "instructions": "填答說明", "choose_one": "請勾選一項。"},
}
_FONTS = {
    "en": '"Segoe UI", "Helvetica Neue", Arial, sans-serif',
    "zh-Hans": '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif',
    "zh-Hant": '"Noto Sans CJK TC", "Source Han Sans TC", "PingFang TC", "Microsoft JhengHei", sans-serif',
}


# --- codebook -------------------------------------------------------------------------

def codebook(instrument: Instrument) -> pd.DataFrame:
    """One row per variable of the response table, in questionnaire order.

    Likert items (``variable_type`` ``"likert"``) come first, then the demographics
    (``"categorical"``, ``block`` ``"demographics"``, option codes in ``values`` as
    ``code=English label`` pairs separated by ``"; "``). ``position`` is the question
    number printed on the questionnaires.
    """
    construct_names = {c.code: c.name["en"] for c in instrument.constructs}
    anchors = "; ".join(f"{point}={label}" for point, label in instrument.scale.anchors["en"].items())
    rows = []
    for position, item in enumerate(instrument.items, start=1):
        rows.append({
            "position": position, "variable": item.id, "construct": item.construct,
            "construct_name": construct_names[item.construct], "block": item.block,
            **_text_columns(item.text), "scale_min": instrument.scale.minimum,
            "scale_max": instrument.scale.maximum, "reverse": item.reverse,
            "attention_check": item.attention_check, "expected_response": item.expected,
            "variable_type": "likert", "values": anchors,
        })
    for position, demographic in enumerate(instrument.demographics, start=len(rows) + 1):
        rows.append({
            "position": position, "variable": demographic.id, "construct": None,
            "construct_name": None, "block": _DEMOGRAPHICS_BLOCK, **_text_columns(demographic.label),
            "scale_min": None, "scale_max": None, "reverse": False, "attention_check": False,
            "expected_response": None, "variable_type": "categorical",
            "values": "; ".join(f"{code}={label['en']}" for code, label in demographic.options),
        })
    table = pd.DataFrame(rows, columns=CODEBOOK_COLUMNS)
    return table.astype({"position": "int64", "scale_min": "Int64", "scale_max": "Int64",
                         "expected_response": "Int64", "reverse": bool, "attention_check": bool})


def write_codebook(instrument: Instrument, out_dir: str | Path) -> list[Path]:
    """Write ``codebook.csv`` (UTF-8 with BOM) and ``codebook.md`` into ``out_dir``."""
    out_dir = Path(out_dir)
    table = codebook(instrument)
    csv_path = _write_atomic(out_dir / "codebook.csv", table.to_csv(index=False, lineterminator="\n"),
                             encoding="utf-8-sig")
    return [csv_path, _write_atomic(out_dir / "codebook.md", _codebook_markdown(instrument, table))]


def _text_columns(text: dict[str, str]) -> dict[str, str | None]:
    return {column: text.get(language) for language, column in _TEXT_COLUMNS.items()}


def _codebook_markdown(instrument: Instrument, table: pd.DataFrame) -> str:
    languages = instrument.languages
    lines = [f"# Codebook: {instrument.title['en']}", "",
             f"Instrument `{instrument.id}` version {instrument.version}; languages: "
             f"{', '.join(languages)}. Likert items are coded {instrument.scale.minimum}.."
             f"{instrument.scale.maximum}; demographics are string codes.", "", "## Scale", ""]
    lines += _md_table(["Point", *languages],
                       [[str(p), *(instrument.scale.anchors[lang][p] for lang in languages)]
                        for p in range(1, instrument.scale.points + 1)])
    lines += ["", "## Constructs", ""]
    lines += _md_table(
        ["Code", *(f"Name ({lang})" for lang in languages), "Role", "Items", "Source", "Description"],
        [[c.code, *(c.name[lang] for lang in languages), c.role, ", ".join(instrument.items_of(c.code)),
          c.source, c.description] for c in instrument.constructs])
    lines += ["", "## Variables", ""]
    rows = []
    for row in table.itertuples(index=False):
        notes = []
        if row.reverse:
            notes.append("reverse-keyed")
        if row.attention_check:
            notes.append(f"attention check, expected {row.expected_response}")
        if row.variable_type == "categorical":
            notes.append(f"values: {row.values}")
        texts = [getattr(row, _TEXT_COLUMNS[lang]) for lang in languages]
        rows.append([str(row.position), f"`{row.variable}`", row.construct or "", row.block,
                     row.variable_type, *texts, "; ".join(notes)])
    lines += _md_table(["#", "Variable", "Construct", "Block", "Type", *languages, "Notes"], rows)
    return "\n".join(lines) + "\n"


def _md_table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> list[str]:
    def cells(values: list[str]) -> str:
        return "| " + " | ".join(_md_cell(value) for value in values) + " |"

    rule = "|" + "|".join(align or ["---"] * len(header)) + "|"
    return [cells(header), rule, *(cells(row) for row in rows)]


def _md_cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


# --- questionnaires -------------------------------------------------------------------

def questionnaire_markdown(instrument: Instrument, language: str) -> str:
    """The paper questionnaire in one language as Markdown (tables need a GFM renderer)."""
    _check_language(instrument, language)
    ui, anchors = _UI[language], instrument.scale.anchors[language]
    lines = [f"# {instrument.title[language]}", "", instrument.introduction[language], "",
             f"*{instrument.consent[language]}*", "", f"**{ui['instructions']}**",
             "", instrument.instructions[language], ""]
    number = 0
    for page, (block_id, item_ids) in enumerate(instrument.blocks.items(), start=1):
        block = instrument.block(block_id)
        lines += [f"## {page}. {block.title[language]}", ""]
        if block.intro:
            lines += [block.intro[language], ""]
        header = [ui["number"], ui["statement"], *(f"{p}<br>{label}" for p, label in anchors.items())]
        rows = []
        for item_id in item_ids:
            number += 1
            rows.append([str(number), instrument.item(item_id).text[language], *[_CIRCLE] * len(anchors)])
        lines += _md_table(header, rows, align=["---:", "---", *[":---:"] * len(anchors)])
        lines.append("")
    lines += [f"## {len(instrument.blocks) + 1}. {ui['about_you']}", "", ui["choose_one"], ""]
    for demographic in instrument.demographics:
        number += 1
        lines += [f"**{number}. {demographic.label[language]}**", ""]
        lines += [f"- {_CIRCLE} {label[language]}" for _, label in demographic.options] + [""]
    lines += ["---", "", instrument.closing[language], ""]
    return "\n".join(lines)


def questionnaire_html(instrument: Instrument, language: str) -> str:
    """The paper questionnaire in one language as a self-contained, printable HTML page."""
    _check_language(instrument, language)
    ui, anchors = _UI[language], instrument.scale.anchors[language]
    esc = html.escape
    head_cells = "".join(f'<th class="point" scope="col"><span class="code">{p}</span><br>{esc(label)}</th>'
                         for p, label in anchors.items())
    circles = "".join(f'<td class="point" aria-label="{p}">{_CIRCLE}</td>' for p in anchors)
    parts = [
        f'<header><h1>{esc(instrument.title[language])}</h1>'
        f'<p class="meta">{esc(instrument.id)} · v{esc(instrument.version)}</p></header>',
        f'<section class="intro"><p>{esc(instrument.introduction[language])}</p>'
        f'<p class="consent">{esc(instrument.consent[language])}</p>'
        f'<h2>{esc(ui["instructions"])}</h2><p>{esc(instrument.instructions[language])}</p></section>',
    ]
    number = 0
    for page, (block_id, item_ids) in enumerate(instrument.blocks.items(), start=1):
        block = instrument.block(block_id)
        intro = f'<p class="lead">{esc(block.intro[language])}</p>' if block.intro else ""
        rows = []
        for item_id in item_ids:
            number += 1
            rows.append(f'<tr data-variable="{esc(item_id)}"><td class="num">{number}</td>'
                        f'<td class="statement">{esc(instrument.item(item_id).text[language])}</td>'
                        f"{circles}</tr>")
        parts.append(
            f'<section class="block" id="block-{esc(block_id)}"><h2>{page}. {esc(block.title[language])}</h2>'
            f'{intro}<table class="likert"><thead><tr><th class="num" scope="col">{esc(ui["number"])}</th>'
            f'<th class="statement" scope="col">{esc(ui["statement"])}</th>{head_cells}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></section>')
    questions = []
    for demographic in instrument.demographics:
        number += 1
        options = "".join(f'<li><span class="circle">{_CIRCLE}</span> {esc(label[language])}</li>'
                          for _, label in demographic.options)
        questions.append(f'<div class="question" data-variable="{esc(demographic.id)}">'
                         f'<p class="prompt"><span class="num">{number}.</span> {esc(demographic.label[language])}'
                         f'</p><ul class="options">{options}</ul></div>')
    parts.append(f'<section class="block demographics" id="block-{_DEMOGRAPHICS_BLOCK}">'
                 f'<h2>{len(instrument.blocks) + 1}. {esc(ui["about_you"])}</h2>'
                 f'<p class="lead">{esc(ui["choose_one"])}</p>{"".join(questions)}</section>')
    parts.append(f'<footer><p>{esc(instrument.closing[language])}</p></footer>')
    return (f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(instrument.title[language])}</title>\n<style>{_css(language)}</style>\n"
            f"</head>\n<body>\n" + "\n".join(parts) + "\n</body>\n</html>\n")


def _css(language: str) -> str:
    return f"""
body {{ font-family: {_FONTS[language]}; font-size: 11pt; line-height: 1.45; color: #111;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }}
h1 {{ font-size: 1.6em; margin-bottom: .2em; }}
h2 {{ font-size: 1.15em; margin: 1.6em 0 .4em; border-bottom: 1px solid #999; }}
.meta {{ color: #666; font-size: .85em; margin-top: 0; }}
.consent {{ font-style: italic; }}
.lead {{ color: #333; }}
table.likert {{ width: 100%; border-collapse: collapse; table-layout: fixed; }}
table.likert th, table.likert td {{ border: 1px solid #bbb; padding: .35em .3em; vertical-align: middle; }}
table.likert th {{ background: #f2f2f2; font-weight: 600; font-size: .8em; }}
th.num, td.num {{ width: 2.6em; text-align: right; }}
th.statement {{ width: 42%; text-align: left; }}
th.point, td.point {{ text-align: center; }}
td.point, .circle {{ font-size: 1.35em; line-height: 1; }}
.code {{ font-size: 1.1em; }}
tbody tr:nth-child(even) td {{ background: #fafafa; }}
.question {{ margin: .8em 0; break-inside: avoid; }}
.prompt {{ font-weight: 600; margin: 0 0 .3em; }}
ul.options {{ list-style: none; padding-left: 1.6em; margin: 0; display: flex; flex-wrap: wrap; gap: .3em 1.8em; }}
footer {{ margin-top: 2em; border-top: 1px solid #999; padding-top: .6em; text-align: center; }}
@page {{ size: A4; margin: 15mm 14mm; }}
@media print {{
  body {{ max-width: none; margin: 0; padding: 0; font-size: 10pt; }}
  section.block {{ break-inside: avoid-page; }}
  thead {{ display: table-header-group; }}
  tr, .question {{ break-inside: avoid; }}
  tbody tr:nth-child(even) td, table.likert th {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
}}
"""


def write_questionnaires(instrument: Instrument, out_dir: str | Path) -> list[Path]:
    """Write ``questionnaire_<lang>.md`` and ``.html`` for every instrument language."""
    out_dir = Path(out_dir)
    written = []
    for language in instrument.languages:
        written.append(_write_atomic(out_dir / f"questionnaire_{language}.md",
                                     questionnaire_markdown(instrument, language)))
        written.append(_write_atomic(out_dir / f"questionnaire_{language}.html",
                                     questionnaire_html(instrument, language)))
    return written


def export_survey(instrument: Instrument, out_dir: str | Path) -> list[Path]:
    """Codebook plus questionnaires in every language; returns the paths written."""
    return write_codebook(instrument, out_dir) + write_questionnaires(instrument, out_dir)


def _check_language(instrument: Instrument, language: str) -> None:
    if language not in instrument.languages:
        raise ConfigError(f"instrument '{instrument.id}': language {language!r} is not available; "
                          f"expected one of {', '.join(instrument.languages)}")
    if language not in _UI:  # defensive: the validator only admits supported languages
        raise ConfigError(f"language {language!r}: no page labels; supported: {', '.join(SUPPORTED_LANGUAGES)}")


def _write_atomic(path: Path, text: str, encoding: str = "utf-8") -> Path:
    try:
        return atomic_write_text(path, text, encoding)
    except PermissionError as exc:
        raise ConfigError(f"{path.parent}: cannot write survey files: {exc.strerror}") from None

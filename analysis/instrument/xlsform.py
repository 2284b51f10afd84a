"""The instrument as an XLSForm, for fielding it with KoboToolbox, ODK or Enketo.

:func:`build_xlsform` turns an :class:`~analysis.instrument.model.Instrument` into the three
sheets of an XLSForm (``survey``, ``choices``, ``settings``); :func:`write_xlsform` writes
them as an ``.xlsx`` workbook, atomically. The form is the printed questionnaire in web
form:

* every language of the instrument as ``label::<language name> (<code>)`` columns (the
  ``(<code>)`` suffix is how KoboToolbox and ODK recognise the language), English default;
* the welcome page (title, introduction, consent, instructions) and the closing text as
  notes, every questionnaire page as a ``field-list`` group, the demographics last;
* every scale item, the instructed-response items included exactly as worded, as a
  required ``select_one`` on one scale list whose choice *names* are the points ``1..7``
  (so an export "as XML values" holds the numbers the workbench analyses) and whose labels
  are the anchors; demographics as ``select_one`` on their option codes;
* ``start`` and ``end`` metadata, so each submission's completion time comes back.

The instrument declares no answer constraints (a choice list already limits the answers,
and the instructed-response items must be *allowed* to fail), so no ``constraint`` column
is written. A KoboToolbox export of this form is read back by
:mod:`analysis.data.exports.kobo`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from analysis.atomic import atomic_path
from analysis.errors import ConfigError
from analysis.i18n import text
from analysis.instrument.model import Instrument

__all__ = [
    "LANGUAGE_NAMES",
    "DEMOGRAPHICS_GROUP",
    "WELCOME_GROUP",
    "XLSForm",
    "language_column",
    "scale_list_name",
    "build_xlsform",
    "write_xlsform",
]

#: Language names as they appear in the form's language menu (each in its own script).
LANGUAGE_NAMES = {"en": "English", "zh-Hans": "简体中文", "zh-Hant": "繁體中文"}
#: Names of the form's own groups (the questionnaire pages are named by their block ids).
WELCOME_GROUP = "welcome"
DEMOGRAPHICS_GROUP = "about_you"
_CLOSING_NOTE = "closing"
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_QUESTION_TYPES = ("select_one ",)


def language_column(language: str) -> str:
    """``"繁體中文 (zh-Hant)"``: the language part of a ``label::`` column header."""
    return f"{LANGUAGE_NAMES.get(language, language)} ({language})"


def scale_list_name(instrument: Instrument) -> str:
    """The choice list of the agreement scale, e.g. ``agree7``."""
    return f"agree{instrument.scale.points}"


@dataclass(frozen=True)
class XLSForm:
    """The three sheets of an XLSForm as rows of ``{column: cell}``.

    ``survey`` and ``choices`` are lists of rows in form order; ``settings`` is the single
    settings row. Columns absent from a row are empty cells.
    """

    survey: tuple[dict[str, str], ...]
    choices: tuple[dict[str, str], ...]
    settings: dict[str, str]
    languages: tuple[str, ...]

    def columns(self, sheet: str) -> list[str]:
        """Column headers of ``sheet`` in a readable order (type, name, labels, ...)."""
        rows = {"survey": self.survey, "choices": self.choices, "settings": (self.settings,)}[sheet]
        seen: list[str] = []
        for row in rows:
            seen += [key for key in row if key not in seen]
        return seen

    def questions(self) -> list[tuple[str, str, str]]:
        """``(name, type, group)`` of every answered question, in form order.

        ``group`` is the name of the enclosing page group (KoboToolbox prefixes export
        headers with it, e.g. ``website/EFF1``).
        """
        found, group = [], ""
        for row in self.survey:
            kind = row["type"]
            if kind == "begin_group":
                group = row["name"]
            elif kind == "end_group":
                group = ""
            elif kind.startswith(_QUESTION_TYPES):
                found.append((row["name"], kind, group))
        return found


def _texts(prefix: str, values: dict[str, str], languages: tuple[str, ...]) -> dict[str, str]:
    # Collapse the line breaks of folded YAML text: a form label is one paragraph.
    return {f"{prefix}::{language_column(lang)}": " ".join(str(values[lang]).split())
            for lang in languages}


def _catalog(prefix: str, key: str, languages: tuple[str, ...]) -> dict[str, str]:
    return _texts(prefix, {lang: text(key, lang) for lang in languages}, languages)


def _check_names(instrument: Instrument, names: list[str], lists: list[str]) -> None:
    where = instrument.source_path.name if instrument.source_path else f"instrument '{instrument.id}'"
    for kind, pool in (("field or group name", names), ("choice list name", lists)):
        repeated = sorted({n for n in pool if pool.count(n) > 1})
        if repeated:
            raise ConfigError(f"{where}: XLSForm {kind}(s) {', '.join(repeated)} would appear twice; "
                              f"expected block, item and demographic ids distinct from "
                              f"{WELCOME_GROUP!r}, {DEMOGRAPHICS_GROUP!r}, {_CLOSING_NOTE!r}, "
                              "'start', 'end' and the scale list name")
        invalid = [n for n in pool if not _XML_NAME.fullmatch(n)]
        if invalid:
            raise ConfigError(f"{where}: {invalid[0]!r} is not a valid XLSForm {kind}; expected "
                              "letters, digits, '_', '-' or '.', starting with a letter or '_'")


def build_xlsform(instrument: Instrument) -> XLSForm:
    """The instrument's XLSForm sheets (no file is written).

    Parameters
    ----------
    instrument : Instrument
        As loaded by :func:`analysis.instrument.load_instrument`; every language it
        declares becomes a label language of the form.

    Returns
    -------
    XLSForm
        ``settings`` carries ``form_id`` and ``version`` of the instrument, the English
        title and ``default_language``; ``style: pages`` shows one group per screen.
    """
    langs = tuple(instrument.languages)
    scale = scale_list_name(instrument)
    required = {"required": "yes", **_catalog("required_message", "fielding.required", langs)}
    survey: list[dict[str, str]] = [{"type": "start", "name": "start"}, {"type": "end", "name": "end"}]

    survey.append({"type": "begin_group", "name": WELCOME_GROUP,
                   **_catalog("label", "fielding.welcome", langs), "appearance": "field-list"})
    for name in ("title", "introduction", "consent", "instructions"):
        values = getattr(instrument, name)
        if values:
            survey.append({"type": "note", "name": name, **_texts("label", values, langs)})
    survey.append({"type": "end_group", "name": WELCOME_GROUP})

    for block_id, item_ids in instrument.blocks.items():
        block = instrument.block(block_id)
        survey.append({"type": "begin_group", "name": block_id, **_texts("label", block.title, langs),
                       "appearance": "field-list"})
        if block.intro:
            survey.append({"type": "note", "name": f"{block_id}_intro", **_texts("label", block.intro, langs)})
        for item_id in item_ids:
            item = instrument.item(item_id)
            # Instructed-response items are ordinary-looking scale questions, as printed.
            survey.append({"type": f"select_one {scale}", "name": item.id, **_texts("label", item.text, langs),
                           **required, "appearance": "likert"})
        survey.append({"type": "end_group", "name": block_id})

    if instrument.demographics:
        survey.append({"type": "begin_group", "name": DEMOGRAPHICS_GROUP,
                       **_catalog("label", "fielding.about_you", langs), "appearance": "field-list"})
        for demographic in instrument.demographics:
            survey.append({"type": f"select_one {demographic.id}", "name": demographic.id,
                           **_texts("label", demographic.label, langs),
                           **_catalog("hint", "fielding.choose_one", langs)})
        survey.append({"type": "end_group", "name": DEMOGRAPHICS_GROUP})
    if instrument.closing:
        survey.append({"type": "note", "name": _CLOSING_NOTE, **_texts("label", instrument.closing, langs)})

    choices: list[dict[str, str]] = []
    for point in range(1, instrument.scale.points + 1):
        anchors = {lang: instrument.scale.anchors[lang][point] for lang in langs}
        choices.append({"list_name": scale, "name": str(point), **_texts("label", anchors, langs)})
    for demographic in instrument.demographics:
        for code, labels in demographic.options:
            choices.append({"list_name": demographic.id, "name": code, **_texts("label", labels, langs)})

    names = [row["name"] for row in survey if row["type"] != "end_group"]
    _check_names(instrument, names, [scale, *instrument.demographic_ids])
    settings = {"form_title": " ".join(instrument.title.get("en", instrument.id).split()),
                "form_id": instrument.id, "version": instrument.version,
                "default_language": language_column("en"), "style": "pages"}
    return XLSForm(tuple(survey), tuple(choices), settings, langs)


def write_xlsform(instrument: Instrument, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write the instrument's XLSForm to ``path`` (``.xlsx``) atomically.

    Parameters
    ----------
    instrument : Instrument
    path : path-like
        The workbook to create; its folder is created if needed.
    overwrite : bool, default False
        Replace an existing file (the command line's ``--force``); otherwise an existing
        file is a :class:`~analysis.errors.ConfigError` and is left untouched.

    Returns
    -------
    Path
        ``path``. Upload it to KoboToolbox ("Upload an XLSForm") or ODK Central as it is.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    target = Path(path)
    if target.suffix.lower() != ".xlsx":
        raise ConfigError(f"{target.name}: an XLSForm is an Excel workbook; expected a file name "
                          f"ending in .xlsx, got {target.suffix or '(no extension)'!r}")
    if target.exists() and not overwrite:
        raise ConfigError(f"{target}: the file already exists; expected a new file name "
                          "(--force replaces it)")
    form = build_xlsform(instrument)
    book = Workbook()
    book.remove(book.active)
    sheets = {"survey": form.survey, "choices": form.choices, "settings": (form.settings,)}
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        columns = form.columns(name)
        sheet.append(columns)
        for row in rows:
            sheet.append([row.get(column, "") or None for column in columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for letter, column in zip((c.column_letter for c in sheet[1]), columns):
            wide = column.startswith(("label::", "hint::")) and name == "survey"
            sheet.column_dimensions[letter].width = 60 if wide else max(12, len(column) + 2)
    with atomic_path(target) as tmp:
        book.save(tmp)
    return target

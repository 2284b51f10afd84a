"""Message catalogs: every word a reader sees, in en, zh-Hans and zh-Hant side by side.

Each YAML file under ``analysis/i18n/catalog/`` maps a dotted key to its three
translations, written next to each other so that a translator sees them together::

    measurement.title:
      en: Measurement model
      zh-Hans: 测量模型
      zh-Hant: 測量模式

Values may hold ``str.format`` fields (``{alpha}``); every language of a key must use the
same fields. Nothing falls back to English: a key that is missing, or a language that is
missing for a key, raises :class:`MissingTranslation` (and :func:`check_catalog`, run by
the test suite, reports every such gap at once). YAML with languages side by side was
chosen over gettext ``.po`` files because a report's narrative is long prose that
bilingual reviewers read and correct as a whole, not as isolated strings.
"""

from __future__ import annotations

import functools
import string
from importlib import resources

import yaml

__all__ = ["LANGUAGES", "MissingTranslation", "catalog", "check_catalog", "text"]

LANGUAGES = ("en", "zh-Hans", "zh-Hant")


class MissingTranslation(KeyError):
    """A catalog key, or one of its languages, does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@functools.cache
def catalog() -> dict[str, dict[str, str]]:
    """All catalog files merged (a key may be defined in one file only)."""
    merged: dict[str, dict[str, str]] = {}
    origin: dict[str, str] = {}
    folder = resources.files("analysis.i18n") / "catalog"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        document = yaml.safe_load(entry.read_text(encoding="utf-8")) or {}
        for key, values in document.items():
            if key in merged:
                raise MissingTranslation(f"catalog key {key!r} is defined in both {origin[key]} and {entry.name}")
            merged[key], origin[key] = values, entry.name
    return merged


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def check_catalog() -> list[str]:
    """Every problem of the catalogs: missing or empty languages, differing format fields."""
    problems = []
    for key, values in catalog().items():
        if not isinstance(values, dict):
            problems.append(f"{key}: expected a mapping of languages, got {type(values).__name__}")
            continue
        missing = [lang for lang in LANGUAGES if not str(values.get(lang) or "").strip()]
        if missing:
            problems.append(f"{key}: no text for {', '.join(missing)}")
            continue
        extra = sorted(set(values) - set(LANGUAGES))
        if extra:
            problems.append(f"{key}: unknown language(s) {', '.join(extra)}")
        fields = {lang: _fields(str(values[lang])) for lang in LANGUAGES}
        if len({frozenset(f) for f in fields.values()}) > 1:
            problems.append(f"{key}: format fields differ between languages: {fields}")
    return problems


def text(key: str, language: str, /, **values) -> str:
    """The text of ``key`` in ``language``, with ``values`` filled into its format fields."""
    entry = catalog().get(key)
    if entry is None:
        raise MissingTranslation(f"no catalog entry {key!r}")
    if language not in LANGUAGES:
        raise MissingTranslation(f"unknown report language {language!r}; expected one of {', '.join(LANGUAGES)}")
    template = entry.get(language)
    if not template:
        raise MissingTranslation(f"catalog entry {key!r} has no {language} text")
    return str(template).format(**values) if values else str(template)

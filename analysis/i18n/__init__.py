"""Language: message catalogs and number formatting for en, zh-Hans and zh-Hant.

:func:`text` looks up a catalog entry (``analysis/i18n/catalog/*.yaml``, all three
languages side by side); :mod:`analysis.i18n.numbers` formats numbers, shares,
p-values and dates the way each language's readers expect.
"""

from __future__ import annotations

from analysis.i18n.catalog import LANGUAGES, MissingTranslation, catalog, check_catalog, text
from analysis.i18n.numbers import (
    LOCALES,
    format_date,
    format_integer,
    format_number,
    format_p,
    format_percent,
    html_lang,
)

__all__ = [
    "LANGUAGES", "LOCALES", "MissingTranslation", "catalog", "check_catalog", "text", "format_number",
    "format_integer", "format_percent", "format_p", "format_date", "html_lang",
]

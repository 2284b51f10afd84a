"""Numbers, shares, p-values and dates as a reader of each language expects them.

English follows APA style (no leading zero for values that cannot exceed 1, "p < .001");
Chinese reports keep the leading zero ("p < 0.001"), as Chinese journals print it.
Digit grouping, percent signs and dates come from Babel's CLDR data for zh_Hans_CN and
zh_Hant_TW, so they are right without hand-written rules.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers

from babel import dates as babel_dates
from babel import numbers as babel_numbers

from analysis.i18n.catalog import LANGUAGES, MissingTranslation

__all__ = ["LOCALES", "format_number", "format_integer", "format_percent", "format_p", "format_date",
           "html_lang"]

#: Babel locale of each report language.
LOCALES = {"en": "en_US", "zh-Hans": "zh_Hans_CN", "zh-Hant": "zh_Hant_TW"}


def _locale(language: str) -> str:
    if language not in LANGUAGES:
        raise MissingTranslation(f"unknown report language {language!r}; expected one of {', '.join(LANGUAGES)}")
    return LOCALES[language]


def _missing(value) -> bool:
    return value is None or (isinstance(value, numbers.Real) and not math.isfinite(float(value)))


def format_number(value, language: str, digits: int = 2, *, bounded: bool = False) -> str:
    """``value`` with ``digits`` decimals; ``bounded`` (|value| <= 1 by nature) drops the
    leading zero in English (APA: r = .45)."""
    if _missing(value):
        return "–"
    text = babel_numbers.format_decimal(round(float(value), digits), format=f"#,##0.{'0' * digits}" if digits else "#,##0",
                                        locale=_locale(language))
    if bounded and language == "en":
        text = text.replace("0.", ".", 1) if text.lstrip("-").startswith("0.") else text
    return text


def format_integer(value, language: str) -> str:
    """A count with the language's digit grouping (1,234)."""
    if _missing(value):
        return "–"
    return babel_numbers.format_decimal(int(round(float(value))), format="#,##0", locale=_locale(language))


def format_percent(share, language: str, digits: int = 0) -> str:
    """A share (0.083) as a percentage (8%)."""
    if _missing(share):
        return "–"
    pattern = "#,##0" + (f".{'0' * digits}" if digits else "") + "%"
    return babel_numbers.format_percent(float(share), format=pattern, locale=_locale(language))


def format_p(p, language: str) -> str:
    """A p-value: "< .001" / "< 0.001" below .001, else three decimals (".023" / "0.023")."""
    if _missing(p):
        return "–"
    if p < 0.001:
        return "< .001" if language == "en" else "< 0.001"
    return format_number(p, language, 3, bounded=True)


def format_date(moment: dt.date | dt.datetime, language: str) -> str:
    """A date in the language's long form (29 November 2026, 2026年11月29日)."""
    return babel_dates.format_date(moment, format="long", locale=_locale(language))


def html_lang(language: str) -> str:
    """The BCP 47 tag for ``<html lang>`` and Quarto's ``lang``."""
    _locale(language)
    return language

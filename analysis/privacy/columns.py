"""Direct identifiers and free text never reach the analysis: which columns to drop.

A survey export carries more than the analysis needs: e-mail addresses, phone numbers,
names, IP addresses, coordinates, free-text comments, panel metadata. The analysis
needs the items, the ids (pseudonymised), the completion time and the instrument's
demographics; :func:`drop_identifying_columns` keeps exactly those and drops the rest
right after reading. Every dropped column is also classified (by its header, in English
or Chinese, and by its cells: e-mail addresses, phone numbers, IP addresses, long
free text) so that the note can say how many of them held personal data. A *kept*
demographic column whose cells look like e-mail addresses or phone numbers is dropped
too. Notes name headers, never cell values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.data.ingest import DEFAULT_MISSING_CODES

__all__ = ["HEADER_PATTERNS", "EMAIL", "PHONE", "IPV4", "DroppedColumns", "classify_column",
           "drop_identifying_columns", "looks_like"]

#: Header patterns of direct identifiers (case-insensitive), English and Chinese, with
#: the names Qualtrics, Wenjuanxing (问卷星) and KoboToolbox/ODK give such columns.
HEADER_PATTERNS: dict[str, re.Pattern] = {
    "e-mail": re.compile(r"e[-_ ]?mail|邮箱|郵箱|电子邮件|電子郵件|電郵|mailbox", re.IGNORECASE),
    "phone": re.compile(r"phone|mobile|(^|[^a-z])tel([^a-z]|$)|telephone|(^|[^a-z])cell([^a-z]|$)|"
                        r"手机|手機|电话|電話|联系方式|聯絡方式|微信|wechat|line\s*id", re.IGNORECASE),
    "name": re.compile(r"(^|[_ ])(first|last|full|sur|given|recipient)?[_ ]?name($|[_ ])|姓名|名字|称呼|稱呼|"
                       r"^name$|firstname|lastname|surname", re.IGNORECASE),
    "ip address": re.compile(r"(^|[^a-z])ip([^a-z]|$)|ipaddress|"
                             r"ip地址|ip位址|来自ip|來自ip|来源ip|來源ip", re.IGNORECASE),
    "location": re.compile(r"location|latitude|longitude|^lat$|^lon$|^lng$|geo|coordinates|gps|"
                           r"地理位置|经纬度|經緯度|来源地区|來源地區|address|地址", re.IGNORECASE),
    "free text": re.compile(r"comment|remark|feedback|open[-_ ]?end|free[-_ ]?text|_text$|other|"
                            r"意见|意見|建议|建議|备注|備註|评论|評論|其他", re.IGNORECASE),
}
EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
#: Phone numbers: international (+86 138 0013 8000), mainland mobiles (13800138000),
#: Taiwan mobiles (0912-345-678) and grouped landlines ((02) 2345-6789, 555-123-4567).
PHONE = re.compile(r"(?<![\w.])(?:\+\d{1,3}[\s-]?)?(?:\(?\d{2,4}\)?[\s-]?)?\d{3,4}[\s-]?\d{3,4}(?![\w.])")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")


def _sample(values: pd.Series, size: int = 2000) -> pd.Series:
    """The non-empty cells, or ``size`` of them evenly spaced (a 10-million-row CRM table
    is judged by a sample; the verdict needs shares, not every cell)."""
    values = values.dropna()
    if len(values) > size:
        values = values.iloc[np.linspace(0, len(values) - 1, size).astype(int)]
    return values


def looks_like(values: pd.Series, pattern: re.Pattern, share: float = 0.5) -> bool:
    """Whether at least ``share`` of the non-empty cells match ``pattern`` in full.

    Phone numbers are only recognised with at least 7 digits and when written as text
    (a numeric column of answers is never a phone number).
    """
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    text = _sample(values).astype(str).str.strip()
    text = text[~text.str.upper().isin(DEFAULT_MISSING_CODES) & (text != "")]
    if text.empty:
        return False
    hits = text.map(lambda v: bool(pattern.fullmatch(v)))
    if pattern is PHONE:
        hits &= text.str.count(r"\d") >= 7
    return float(hits.mean()) >= share


def _free_text(values: pd.Series) -> bool:
    """Answers in words: mostly distinct text cells with spaces or CJK, longer than a code."""
    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return False  # numbers, dates, categories
    text = _sample(values).astype(str).str.strip()
    text = text[text != ""]
    if len(text) < 3 or pd.to_numeric(text, errors="coerce").notna().mean() > 0.5:
        return False
    letters = text.str.contains(r"[A-Za-z\u3400-\u9fff]", regex=True).mean() >= 0.5
    wordy = letters and text.str.contains(r"\s|[\u3400-\u9fff]", regex=True).mean() >= 0.5
    return bool(wordy and text.str.len().mean() >= 8 and text.nunique() >= 0.8 * len(text))


def classify_column(name: str, values: pd.Series) -> str | None:
    """Why a column is personal data ("e-mail", "phone", ..., "free text"), or None."""
    for label, pattern in HEADER_PATTERNS.items():
        if pattern.search(str(name)):
            return label
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return None  # e-mails, IP addresses, written phone numbers and words are text
    for label, pattern in (("e-mail", EMAIL), ("ip address", IPV4), ("phone", PHONE)):
        if looks_like(values, pattern):
            return label
    return "free text" if _free_text(values) else None


@dataclass(frozen=True)
class DroppedColumns:
    """What :func:`drop_identifying_columns` removed: header -> reason (None: not needed)."""

    columns: dict[str, str | None]

    @property
    def personal(self) -> list[str]:
        return [c for c, why in self.columns.items() if why is not None]

    def note(self) -> str | None:
        """One line for the data section: how many columns were dropped and their headers."""
        if not self.columns:
            return None
        def listing(names):
            names = [str(n)[:40] for n in names]
            return ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        personal = self.personal
        other = [c for c in self.columns if c not in personal]
        parts = []
        if personal:
            parts.append(f"{len(personal)} with personal data or free text ({listing(personal)})")
        if other:
            parts.append(f"{len(other)} not used by the analysis ({listing(other)})")
        return (f"dropped {len(self.columns)} column(s) before the analysis: " + "; ".join(parts)
                + " (values are never read into the report)")


def drop_identifying_columns(frame: pd.DataFrame, keep: Iterable[str],
                             check: Iterable[str] = ()) -> tuple[pd.DataFrame, DroppedColumns]:
    """Keep only the columns in ``keep``; drop the rest, and any ``check`` column that holds
    e-mail addresses, phone numbers or IP addresses.

    Parameters
    ----------
    frame : DataFrame
        The validated survey table (never modified).
    keep : iterable of str
        Columns the analysis needs: items, ids, duration, demographics.
    check : iterable of str
        Kept columns whose cells are still checked for identifiers (demographics: a
        column named ``city`` might hold addresses).

    Returns
    -------
    (DataFrame, DroppedColumns)
    """
    keep = set(map(str, keep))
    check = set(map(str, check))
    dropped: dict[str, str | None] = {}
    for column in frame.columns:
        name = str(column)
        if name not in keep:
            dropped[name] = classify_column(name, frame[column])
        elif name in check:
            for label, pattern in (("e-mail", EMAIL), ("ip address", IPV4), ("phone", PHONE)):
                if looks_like(frame[column], pattern, share=0.2):
                    dropped[name] = label
                    break
    out = frame.drop(columns=[c for c in frame.columns if str(c) in dropped])
    out.attrs = dict(frame.attrs)
    return out, DroppedColumns(dropped)

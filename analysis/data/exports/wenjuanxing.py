"""Wenjuanxing (问卷星) exports (Excel or CSV) as one row per respondent with instrument item ids.

Wenjuanxing names columns by the question as shown: ``1、我信任这家网店…`` or ``3.(我觉得…)``
for single questions, ``5(这家网店的网站…)`` for the rows of a matrix question, preceded by
``序号`` (submission number), ``提交答卷时间``, ``所用时间`` (``125秒``), ``来源``, ``来源详情`` and
``来自IP``. Answers are option texts (``非常同意``) or scores, depending on the export
choice. Headers are matched to items by their wording in zh-Hans, zh-Hant or English (see
:mod:`analysis.data.exports.matching`) unless the profile's ``data.columns`` names them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from analysis.data.exports.matching import match_columns, rename_mapped, seconds, targets
from analysis.errors import DataError
from analysis.instrument import Instrument

__all__ = ["looks_like_wenjuanxing", "normalise_wenjuanxing", "METADATA", "question_text"]

#: Wenjuanxing's own columns (simplified and traditional spellings); none is an answer.
METADATA = ("序号", "序號", "提交答卷时间", "提交答卷時間", "所用时间", "所用時間", "来源", "來源",
            "来源详情", "來源詳情", "来自IP", "來自IP", "IP", "总分", "總分", "用户ID", "用戶ID",
            "微信昵称", "微信暱稱", "答题时间", "答題時間")
_ID = ("序号", "序號")
_TIME = ("所用时间", "所用時間")
_NUMBERED = re.compile(r"^\s*(\d+)\s*(?:[、.．:：]\s*)?[(（]?(.*?)[)）]?\s*$", re.DOTALL)


def question_text(header: str) -> list[str]:
    """Candidate wordings of a header: without its number and brackets, and each part of it."""
    match = _NUMBERED.match(str(header))
    body = match.group(2) if match and match.group(2) else str(header)
    parts = [body]
    for mark in ("—", "－", " - ", "：", ":", "|"):
        if mark in body:
            parts += [p for p in body.split(mark) if p.strip()]
    return parts


def looks_like_wenjuanxing(frame: pd.DataFrame) -> bool:
    """True for Wenjuanxing's metadata columns, or mostly numbered question headers."""
    columns = [str(c) for c in frame.columns]
    if any(c in _ID for c in columns) and any(c in columns for c in (*_TIME, "提交答卷时间", "提交答卷時間")):
        return True
    numbered = [c for c in columns if re.match(r"^\s*\d+\s*[、.．(（]", c)]
    return len(numbered) >= max(3, len(columns) // 2)


def normalise_wenjuanxing(frame: pd.DataFrame, instrument: Instrument, source: str,
                          columns: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """A Wenjuanxing export as item columns (+ ``respondent_id``, ``duration_sec``), cells as found.

    ``序号`` becomes ``respondent_id`` and ``所用时间`` (``125秒``, ``2分5秒``) ``duration_sec``
    in seconds. ``columns`` is the profile's ``data.columns`` (item id -> column header).
    Returns the frame and notes on what was done.
    """
    notes = ["read as a Wenjuanxing (问卷星) export"]
    wordings = targets(instrument)
    body, renamed = rename_mapped(frame, dict(columns or {}), wordings, source)
    notes += renamed
    mapped: dict[str, str] = {c: c for c in map(str, body.columns) if c in wordings}
    texts = {column: question_text(column) for column in map(str, body.columns) if column not in METADATA}
    by_text = match_columns(texts, texts, wordings, mapped)
    if by_text:
        notes.append(f"matched {by_text} column(s) to items by their question wording")
    out = pd.DataFrame(index=body.index)
    ids = next((c for c in ("respondent_id", *_ID) if c in body.columns), None)
    if ids:
        out["respondent_id"] = body[ids]
    times = next((c for c in ("duration_sec", *_TIME) if c in body.columns), None)
    if times:
        out["duration_sec"] = body[times].map(seconds)
    for column, target in mapped.items():
        if target in out.columns:
            raise DataError(f"{source}: columns {column[:40]!r} and another both read as {target}; "
                            f"name the right one in data.columns ({target}: <column>)")
        out[target] = body[column]
    meta = [c for c in map(str, body.columns) if c in METADATA and c not in (ids, times)]
    if meta:
        notes.append(f"left out {len(meta)} Wenjuanxing metadata column(s) (submission time, "
                     "source, IP address)")
    other = [c for c in map(str, body.columns) if c not in METADATA and c not in mapped
             and c not in (ids, times)]
    if other:
        notes.append(f"left out {len(other)} column(s) that match no item: "
                     + ", ".join(c[:20] for c in other[:6]) + (", ..." if len(other) > 6 else ""))
    out.attrs = {**body.attrs, "source_layout": "wenjuanxing"}
    return out, notes

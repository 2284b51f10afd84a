"""Matching an export's question headers to the instrument's items, and small shared helpers.

Survey platforms label columns with the question as the respondent read it (Wenjuanxing:
``5(这家网店的网站…)``; Qualtrics: ``Question stem - statement``), often cut short. A header
matches an item when its normalised text is close to the item's wording in any instrument
language (:class:`difflib.SequenceMatcher` ratio >= 0.80, or a prefix of at least six
characters of a header cut with an ellipsis), and clearly closer than to any other item.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from analysis.data.readers import clip
from analysis.errors import DataError
from analysis.instrument import Instrument

__all__ = ["normal", "targets", "match_header", "match_columns", "rename_mapped", "keep_rows", "seconds",
           "MATCH_CUTOFF"]

#: Smallest similarity at which a header is taken to be an item's wording.
MATCH_CUTOFF = 0.80
_MARGIN = 0.05
_ELLIPSIS = re.compile(r"(\.\.\.|…|⋯)+\s*$")


def normal(text: Any) -> str:
    """Wording reduced to what identifies it: NFKC, case-folded, letters and digits only."""
    folded = unicodedata.normalize("NFKC", str(text)).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def targets(instrument: Instrument) -> dict[str, list[str]]:
    """Item and demographic id -> its normalised wordings in every instrument language."""
    found = {item.id: [normal(t) for t in item.text.values() if t] for item in instrument.items}
    for demographic in instrument.demographics:
        found[demographic.id] = [normal(t) for t in demographic.label.values() if t]
    return found


def _score(header: str, wording: str, cut: bool) -> float:
    if not header or not wording:
        return 0.0
    if cut and len(header) >= 6 and wording.startswith(header):
        return 0.95
    return difflib.SequenceMatcher(None, header, wording, autojunk=False).ratio()


def match_header(texts: Iterable[str], wordings: Mapping[str, list[str]]) -> tuple[str, float] | None:
    """The id whose wording best matches any of ``texts`` (header parts), or None.

    None also when two ids match about equally well (a header that is ambiguous is left
    for the profile's ``data.columns`` rather than guessed).
    """
    scores: dict[str, float] = {}
    for raw in texts:
        cut = bool(_ELLIPSIS.search(str(raw)))
        header = normal(_ELLIPSIS.sub("", str(raw)))
        if len(header) < 4:
            continue
        for key, options in wordings.items():
            best = max((_score(header, w, cut) for w in options), default=0.0)
            scores[key] = max(scores.get(key, 0.0), best)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] < MATCH_CUTOFF:
        return None
    if len(ranked) > 1 and ranked[1][1] > ranked[0][1] - _MARGIN:
        return None
    return ranked[0]


def match_columns(columns: Iterable[str], texts: Mapping[str, Any], wordings: Mapping[str, list[str]],
                  mapped: dict[str, str]) -> int:
    """Match each column not yet in ``mapped`` (column -> item id) by its question text.

    ``texts`` gives a column's header text(s) for :func:`match_header`; columns without an
    entry are skipped. An item is matched at most once. Adds the matches to ``mapped`` and
    returns how many there were.
    """
    found = 0
    for column in columns:
        if column in mapped or column not in texts:
            continue
        hit = match_header(texts[column], {k: v for k, v in wordings.items() if k not in mapped.values()})
        if hit:
            mapped[column] = hit[0]
            found += 1
    return found


def rename_mapped(frame: pd.DataFrame, columns: Mapping[str, str], known: Iterable[str], source: str,
                  aliases: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Apply the profile's ``data.columns`` (id <- export column); unknown names are errors.

    ``aliases`` maps other names of a column (Qualtrics ImportIds such as ``QID5_1``) to
    the column's header.
    """
    if not columns:
        return frame, []
    known = set(known)
    header = [str(c) for c in frame.columns]
    renames: dict[str, str] = {}
    for target, column in columns.items():
        if target not in known:
            raise DataError(f"{source}: data.columns: {clip(str(target))} is not an item or "
                            f"demographic id of the instrument; expected ids such as "
                            f"{', '.join(sorted(known)[:4])}")
        name = str(column)
        if name not in header and aliases and name in aliases:
            name = aliases[name]
        if name not in header:
            close = difflib.get_close_matches(name, header, n=1, cutoff=0.6)
            hint = f" (did you mean {clip(close[0])}?)" if close else ""
            raise DataError(f"{source}: data.columns.{target}: column {clip(name)} is not in the "
                            f"file{hint}")
        if name in renames:
            raise DataError(f"{source}: data.columns: column {clip(name)} is mapped to both "
                            f"{renames[name]} and {target}")
        renames[name] = target
    clashes = [t for c, t in renames.items() if t in header and t not in renames]
    if clashes:
        raise DataError(f"{source}: data.columns would create duplicate column(s) "
                        f"{', '.join(clashes)}, which the file already has")
    renamed = frame.rename(columns=renames)
    renamed.attrs = dict(frame.attrs)
    note = f"renamed {len(renames)} column(s) as data.columns says: " + ", ".join(
        f"{c[:30]} -> {t}" for c, t in list(renames.items())[:8]) + (", ..." if len(renames) > 8 else "")
    return renamed, [note]


def keep_rows(frame: pd.DataFrame, keep: Any) -> pd.DataFrame:
    """Rows where ``keep`` is true, with their source line numbers kept alongside."""
    mask = pd.Series(keep, index=frame.index).to_numpy(dtype=bool)
    out = frame.loc[mask].reset_index(drop=True)
    out.attrs = dict(frame.attrs)
    lines = frame.attrs.get("source_lines")
    if lines is not None and len(lines) == len(frame):
        out.attrs["source_lines"] = tuple(n for n, k in zip(lines, mask) if k)
    return out


_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*(?:小时|小時|h))?\s*(?:(\d+(?:\.\d+)?)\s*(?:分钟|分鐘|分|min|m))?"
                       r"\s*(?:(\d+(?:\.\d+)?)\s*(?:秒|s|sec))?\s*$", re.IGNORECASE)


def seconds(value: Any) -> Any:
    """A completion time as seconds: numbers stay, ``'125秒'``, ``'2分5秒'``, ``'1小时2分'`` convert.

    Anything else is returned as found, for validation to report.
    """
    if value is None or isinstance(value, (int, float)):
        return value
    text = str(value).strip()
    match = _DURATION.match(text)
    if not text or not match or not any(match.groups()):
        return value
    hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + secs
    return int(total) if total.is_integer() else total

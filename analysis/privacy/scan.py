"""Scan every file of a report folder for values that must never be published.

:func:`scan_outputs` walks an output folder, extracts the text each file can carry and
looks for *forbidden* strings (raw respondent and customer ids, e-mail addresses, phone
numbers, free-text answers) and, on request, for anything shaped like an e-mail address.

What is read, by file type: HTML, Markdown, text, CSV, JSON, SVG, XML, YAML and logs as
text (HTML entities decoded too); notebooks as JSON text and every string inside;
Word files (``.docx``) as every XML part of the package, with the text runs of each
paragraph joined (Word splits words across runs); PDFs through ``pdftotext`` (poppler)
when it is installed, otherwise they are listed as skipped with the reason; PNG images
through their text chunks (``tEXt``, ``zTXt``, ``iTXt``), the only place a PNG holds
text. Other binary files are listed as skipped.

Ids are matched as whole tokens (``1001`` is not found inside ``21001``), strings with
spaces as substrings; a finding names the file and the forbidden value (for the caller;
:func:`~analysis.privacy.scan.raise_on_findings` names only the file).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from analysis.errors import RenderError
from analysis.privacy.columns import EMAIL

__all__ = ["Finding", "ScanResult", "file_text", "scan_outputs", "raise_on_findings", "distinctive"]

_TEXT = {".html", ".htm", ".md", ".txt", ".csv", ".json", ".svg", ".xml", ".yml", ".yaml", ".log",
         ".tex", ".qmd", ".css", ".js"}
_TOKEN = re.compile(r"[\w@.+\-]+")
#: Embedded images (base64 runs) hold no text; dropping them first makes the scan linear and fast.
_BASE64 = re.compile(r"[A-Za-z0-9+/=\\n]{400,}")
_EMAIL_START = re.compile(r"(?<![A-Za-z0-9._%+\-])" + EMAIL.pattern)
_EDGE = ".-+_"


@dataclass(frozen=True)
class Finding:
    file: str
    value: str
    kind: str  # "forbidden" or "e-mail pattern"


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings


def _png_text(data: bytes) -> str:
    """Keywords and texts of the PNG's tEXt, zTXt and iTXt chunks."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ""
    parts, at = [], 8
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        at += 12 + length
        try:
            if kind == b"tEXt":
                parts.append(body.replace(b"\0", b" ").decode("latin-1"))
            elif kind == b"zTXt":
                key, _, rest = body.partition(b"\0")
                parts.append(key.decode("latin-1") + " " + zlib.decompress(rest[1:]).decode("latin-1"))
            elif kind == b"iTXt":
                key, _, rest = body.partition(b"\0")
                compressed, rest = rest[0], rest[2:]
                _, _, rest = rest.partition(b"\0")  # language tag
                _, _, rest = rest.partition(b"\0")  # translated keyword
                value = zlib.decompress(rest) if compressed else rest
                parts.append(key.decode("latin-1") + " " + value.decode("utf-8", "replace"))
        except (zlib.error, IndexError, UnicodeDecodeError):
            parts.append(body.decode("latin-1"))
        if kind == b"IEND":
            break
    return "\n".join(parts)


def _docx_text(path: Path) -> str:
    parts = []
    with zipfile.ZipFile(path) as package:
        for name in package.namelist():
            if not name.endswith((".xml", ".rels")):
                continue
            xml = package.read(name).decode("utf-8", "replace")
            # paragraphs and cells end a line; runs inside a paragraph join without a gap
            joined = re.sub(r"</w:p>|</w:tc>|<w:br/>|<w:tab/>", "\n", xml)
            parts += [xml, html.unescape(re.sub(r"<[^>]+>", "", joined))]
    return "\n".join(parts)


def _strings(node) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def file_text(path: str | Path) -> tuple[str | None, str]:
    """The text ``path`` can carry, or None with the reason it was skipped."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _TEXT:
        raw = path.read_text(encoding="utf-8", errors="replace")
        return raw + "\n" + html.unescape(raw) if suffix in (".html", ".htm", ".svg", ".xml") else raw, ""
    if suffix == ".ipynb":
        raw = path.read_text(encoding="utf-8", errors="replace")
        try:
            return raw + "\n" + "\n".join(_strings(json.loads(raw))), ""
        except json.JSONDecodeError:
            return raw, ""
    if suffix == ".docx":
        try:
            return _docx_text(path), ""
        except zipfile.BadZipFile:
            return None, "not a valid Word (zip) file"
    if suffix == ".pdf":
        tool = shutil.which("pdftotext")
        if tool is None:
            return None, "pdftotext (poppler-utils) is not installed"
        done = subprocess.run([tool, "-q", "-enc", "UTF-8", str(path), "-"], capture_output=True, timeout=120,
                              check=False)
        if done.returncode != 0:
            return None, f"pdftotext failed (exit code {done.returncode})"
        return done.stdout.decode("utf-8", "replace"), ""
    if suffix == ".png":
        return _png_text(path.read_bytes()), ""
    return None, f"binary file type {suffix or '(none)'} holds no searchable text"


def distinctive(value: str, min_length: int = 5) -> bool:
    """Whether ``value`` can be searched for without matching ordinary report text.

    Plain numbers (``1001``) and short codes would be found in every table of numbers,
    so only values of ``min_length`` characters or more that are not a plain number are
    searched for.
    """
    text = str(value).strip()
    return len(text) >= min_length and not re.fullmatch(r"[\d.,\s+-]+", text) or (
        len(re.sub(r"\D", "", text)) >= 8)  # long digit strings (phone numbers) are distinctive


def _tokens(text: str) -> set[str]:
    found = set()
    for token in _TOKEN.findall(text):
        found.add(token)
        found.add(token.strip(_EDGE))
    return found


def scan_outputs(folder: str | Path, forbidden: Iterable[str] = (), *, emails: bool = False) -> ScanResult:
    """Every occurrence of a ``forbidden`` string (and, with ``emails``, any e-mail address)
    in the files under ``folder``.

    Parameters
    ----------
    folder : path-like
        A report folder (all files below it are scanned, hidden ones included).
    forbidden : iterable of str
        Values that must not appear. Values made of id characters only (letters, digits,
        ``@ . + - _``) are matched as whole tokens, others (phone numbers written with
        spaces, free text) as substrings.
    emails : bool
        Also report every e-mail-shaped string, planted or not.
    """
    root = Path(folder)
    needles = {str(v).strip() for v in forbidden if str(v).strip()}
    tokens_wanted = {n for n in needles if _TOKEN.fullmatch(n)}
    phrases = needles - tokens_wanted
    result = ScanResult()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = str(path.relative_to(root))
        text, reason = file_text(path)
        if text is None:
            result.skipped.append((name, reason))
            continue
        result.scanned.append(name)
        text = _BASE64.sub(" ", text)
        hits = tokens_wanted & _tokens(text) if tokens_wanted else set()
        hits |= {p for p in phrases if p in text}
        result.findings += [Finding(name, value, "forbidden") for value in sorted(hits)]
        if emails:
            result.findings += [Finding(name, value, "e-mail pattern")
                                for value in sorted(set(_EMAIL_START.findall(text)) - hits)]
    return result


def raise_on_findings(result: ScanResult, what: str = "report") -> None:
    """Raise :class:`RenderError` naming the files (never the values) that leak."""
    if result.clean:
        return
    files = sorted({f.file for f in result.findings})
    shown = ", ".join(files[:5]) + (", ..." if len(files) > 5 else "")
    raise RenderError(f"{what}: {len(result.findings)} raw identifier(s) or personal value(s) found in "
                      f"{len(files)} output file(s): {shown}; expected none (the report is not published)")

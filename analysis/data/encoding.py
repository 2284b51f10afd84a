"""Which text encoding a survey export is written in: UTF-8 (with or without BOM), UTF-16, GB18030/GBK, Big5.

Survey exports reach us from three markets: UTF-8 from web tools, GBK/GB18030 from Excel on
mainland Windows, Big5 (code page 950) from Excel in Taiwan, and UTF-16 from Excel's
"Unicode text". :func:`decode_text` decides among exactly these candidates, never among every
codec there is: byte-order marks first, then strict UTF-8, then those of GB18030 and Big5 that
decode the bytes without error; when both do (most Big5 byte pairs are also valid GBK),
`charset-normalizer <https://charset-normalizer.readthedocs.io>`_, restricted to the two,
decides from the characters' coherence. A file that none decodes, or that stays ambiguous,
is a :class:`~analysis.errors.DataError` naming the encodings tried and the profile key
(``data.encoding``) that settles it.
"""

from __future__ import annotations

import codecs

from analysis.errors import DataError

__all__ = ["ENCODINGS", "decode_text"]

#: Names accepted by ``data.encoding`` (``auto`` detects).
ENCODINGS: tuple[str, ...] = ("auto", "utf-8", "utf-8-sig", "utf-16", "gb18030", "gbk", "big5")

# The codec that decodes each name: GB18030 is a superset of GBK, and code page 950 is Big5 as
# Excel in Taiwan writes it (with Microsoft's additions such as 碁 and 銹).
_CODEC = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "utf-16": "utf-16", "gb18030": "gb18030",
          "gbk": "gb18030", "big5": "cp950"}
_TRIED_AUTO = "utf-8, utf-8-sig, utf-16, gb18030, big5"
_HINT = ("set data.encoding in the profile to one of " + ", ".join(ENCODINGS[1:])
         + " (or re-save the file as UTF-8 CSV)")


def _failure(exc: UnicodeDecodeError) -> str:
    return f"byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"


def _explicit(raw: bytes, name: str, encoding: str) -> tuple[str, str]:
    if encoding not in _CODEC:
        raise DataError(f"{name}: data.encoding: expected one of {', '.join(ENCODINGS)}, got {encoding!r}")
    used = encoding
    if encoding == "utf-8" and raw.startswith(codecs.BOM_UTF8):
        used = "utf-8-sig"  # a BOM is not part of the first header
    if encoding == "utf-16" and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        used = "utf-16-le"  # Excel's "Unicode text" without a mark is little-endian
    try:
        return raw.decode(_CODEC.get(used, used)), used
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: cannot decode the file as {encoding} (set by data.encoding; "
                        f"{_failure(exc)}); set data.encoding: auto to detect among "
                        f"{_TRIED_AUTO}") from None


def _utf16_without_bom(raw: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when every other byte of a text sample is NUL, else None."""
    sample = raw[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    if odd > 0.4 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.4 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def _chinese(raw: bytes, name: str) -> tuple[str, str]:
    decoded: dict[str, str] = {}
    failures: list[str] = []
    for label in ("gb18030", "big5"):
        try:
            decoded[label] = raw.decode(_CODEC[label])
        except UnicodeDecodeError as exc:
            failures.append(f"{label}: {_failure(exc)}")
    if len(decoded) == 1:
        label, text = next(iter(decoded.items()))
        return text, label
    if not decoded:
        raise DataError(f"{name}: cannot decode the text; tried {_TRIED_AUTO} ({'; '.join(failures)}); "
                        + _HINT)
    from charset_normalizer import from_bytes

    # Both decode: judge which reading is coherent text. Only these two are candidates.
    matches = list(from_bytes(raw, cp_isolation=["gb18030", "big5"]))
    ranked = sorted(matches, key=lambda m: (m.chaos, -m.coherence))
    labels = {"gb18030": "gb18030", "big5": "big5", "cp950": "big5"}
    best = [labels.get(m.encoding) for m in ranked if labels.get(m.encoding)]
    if not best or (len(ranked) > 1 and ranked[0].chaos == ranked[1].chaos
                    and ranked[0].coherence == ranked[1].coherence
                    and labels.get(ranked[0].encoding) != labels.get(ranked[1].encoding)):
        raise DataError(f"{name}: the text reads as both gb18030 (simplified Chinese) and big5 "
                        f"(traditional Chinese) and neither is clearly right; tried {_TRIED_AUTO}; "
                        + _HINT)
    return decoded[best[0]], best[0]


def decode_text(raw: bytes, name: str, encoding: str = "auto") -> tuple[str, str]:
    """Decode a text export; return ``(text, encoding used)``.

    Parameters
    ----------
    raw : bytes
        The file's bytes.
    name : str
        File name for messages.
    encoding : str
        One of :data:`ENCODINGS`; ``"auto"`` detects (see the module notes).

    Returns
    -------
    tuple of (str, str)
        The text without any byte-order mark, and the encoding: ``"utf-8"``, ``"utf-8-sig"``,
        ``"utf-16"`` (with a mark), ``"utf-16-le"``/``"utf-16-be"`` (without), ``"gb18030"``,
        ``"gbk"`` or ``"big5"`` (the last two only when named in the profile).

    Raises
    ------
    DataError
        One line naming the file, the encodings tried and how to set ``data.encoding``.
    """
    if encoding != "auto":
        return _explicit(raw, name, encoding)
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise DataError(f"{name}: starts with a UTF-8 byte-order mark but is not UTF-8 "
                            f"({_failure(exc)}); {_HINT}") from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise DataError(f"{name}: starts with a UTF-16 byte-order mark but is not UTF-16 "
                            f"({_failure(exc)}); {_HINT}") from None
    wide = _utf16_without_bom(raw)
    if wide:
        try:
            return raw.decode(wide), wide
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return _chinese(raw, name)

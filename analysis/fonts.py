"""Fonts the reports use, shipped by Python packages so nothing is downloaded at run time.

Latin text is set in DejaVu Sans (bundled with matplotlib) and Chinese in Noto Sans SC
(zh-Hans) or Noto Sans TC (zh-Hant), from the OFL-licensed font packages
``pylopdf-fonts-zh-cn`` and ``pylopdf-fonts-zh-tw`` pinned in requirements.lock. Figures
register them with matplotlib; PDFs embed them through ``@font-face``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["FontFace", "latin_font", "cjk_font", "document_fonts"]


@dataclass(frozen=True)
class FontFace:
    """A font family name and the file that provides it."""

    family: str
    path: Path


def latin_font() -> FontFace:
    import matplotlib

    return FontFace("DejaVu Sans", Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")


def cjk_font(language: str) -> FontFace | None:
    """Noto Sans SC for zh-Hans, Noto Sans TC for zh-Hant, None for English."""
    if language == "zh-Hans":
        import pylopdf_fonts_zh_cn

        return FontFace("Noto Sans SC", Path(pylopdf_fonts_zh_cn.sans_path()))
    if language == "zh-Hant":
        import pylopdf_fonts_zh_tw

        return FontFace("Noto Sans TC", Path(pylopdf_fonts_zh_tw.sans_path()))
    return None


def document_fonts(language: str) -> list[FontFace]:
    """The faces a document in ``language`` needs, Latin first."""
    cjk = cjk_font(language)
    return [latin_font()] + ([cjk] if cjk else [])

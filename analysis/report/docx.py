"""The report as an editable Word document, converted from the HTML page by pandoc.

pandoc (shipped inside the ``pypandoc-binary`` wheel, so nothing is installed or
downloaded at run time) turns headings into Word heading styles, HTML tables into Word
tables and embedded images into pictures, and adds a Word table of contents. A reference
document derived from pandoc's own, edited with python-docx, carries the branding: the
primary colour on headings and a font for East Asian text on every style, so Chinese
shows in a Chinese face wherever the document is opened.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from analysis.atomic import atomic_path
from analysis.errors import RenderError
from analysis.i18n import text
from analysis.report.info import RenderInfo

__all__ = ["EAST_ASIAN_FONTS", "reference_document", "render_docx"]

#: East Asian font per language, available on Windows and macOS Office installations.
EAST_ASIAN_FONTS = {"zh-Hans": "Microsoft YaHei", "zh-Hant": "Microsoft JhengHei", "en": "Microsoft YaHei"}
_NAV = re.compile(r"<nav class=\"toc\".*?</nav>", re.DOTALL)
_STYLE = re.compile(r"<style[^>]*>.*?</style>", re.DOTALL)
_ANCHOR = re.compile(r"<a class=\"anchor-link\"[^>]*>.*?</a>", re.DOTALL)
_TITLE = re.compile(r"<h1\b.*?</h1>", re.DOTALL)


def reference_document(target: Path, language: str, accent: str) -> Path:
    """pandoc's default reference.docx with the headings in ``accent`` and an East Asian font."""
    import pypandoc
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import RGBColor

    # pypandoc returns text only; the binary data file comes from the bundled pandoc itself
    with open(target, "wb") as handle:
        subprocess.run([pypandoc.get_pandoc_path(), "--print-default-data-file", "reference.docx"],
                       stdout=handle, check=True)
    document = Document(str(target))
    colour = RGBColor.from_string(accent.lstrip("#").upper())
    for style in document.styles:
        if getattr(style, "font", None) is None:
            continue
        fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
        fonts.set(qn("w:eastAsia"), EAST_ASIAN_FONTS[language])
        if style.name.startswith(("Heading", "Title")):
            style.font.color.rgb = colour
    document.save(str(target))
    return target


def render_docx(page: str, target: str | os.PathLike, settings):
    """Convert the HTML ``page`` to ``target`` (atomically); returns its RenderInfo."""
    import pypandoc

    target = Path(target)
    report = settings.report
    language = report.language
    # Word gets its own contents and title (document metadata); CSS and heading anchors mean nothing there
    body = _TITLE.sub("", _ANCHOR.sub("", _STYLE.sub("", _NAV.sub("", page))), count=1)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            reference = reference_document(Path(scratch) / "reference.docx", language, report.primary_color)
            args = ["--toc", "--toc-depth=3", f"--reference-doc={reference}", f"--metadata=lang:{language}",
                    f"--metadata=title:{report.title}", f"--metadata=toc-title:{text('report.contents', language)}"]
            if report.author or report.organisation:
                args.append(f"--metadata=author:{' · '.join(p for p in (report.author, report.organisation) if p)}")
            with atomic_path(target) as tmp:
                pypandoc.convert_text(body, "docx", format="html", outputfile=str(tmp), extra_args=args,
                                      sandbox=True)
    except (OSError, RuntimeError) as exc:
        raise RenderError(f"{target.name}: Word conversion failed: {str(exc).strip().splitlines()[0]}") from exc
    version = pypandoc.get_pandoc_version()
    return RenderInfo("pandoc", version, f"pandoc -f html -t docx --toc index.html -> {target.name}",
                      f"Word document converted from the HTML page by pandoc {version}")

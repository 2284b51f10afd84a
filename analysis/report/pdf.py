"""The report as an A4 PDF, printed from the HTML page by WeasyPrint.

WeasyPrint is a well-kept HTML/CSS to PDF engine with paged-media support (page
counters, ``target-counter`` for page numbers in the contents, break control), which a
headless browser lacks. The print CSS sets A4 pages with numbers, keeps figures and
table rows whole, lets wide tables shrink to the page instead of scrolling, and embeds
the fonts from Python packages (DejaVu Sans for Latin text, Noto Sans SC/TC for
Chinese, see :mod:`analysis.fonts`), so Chinese text is extractable and nothing is
fetched from the network (external URLs are refused).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from analysis.atomic import atomic_path
from analysis.errors import RenderError
from analysis.fonts import document_fonts
from analysis.i18n import text
from analysis.report.info import RenderInfo

__all__ = ["print_css", "render_pdf"]


def print_css(language: str, accent: str) -> str:
    """Paged-media CSS for the report in ``language`` (fonts, A4, page numbers, breaks)."""
    faces = document_fonts(language)
    font_faces = "\n".join(f'@font-face {{ font-family: "{face.family}"; src: url("{face.path.as_uri()}"); }}'
                           for face in faces)
    families = ", ".join(f'"{face.family}"' for face in faces)
    page = text("report.page", language, page="\" counter(page) \"", pages="\" counter(pages) \"")
    return f"""
{font_faces}
@page {{
  size: A4; margin: 18mm 16mm 20mm 16mm;
  @bottom-center {{ content: "{page}"; font: 8.5pt {families}; color: #57606a; }}
}}
html, body {{ font-size: 10pt; line-height: 1.45; }}
body, body *:not(pre):not(code) {{ font-family: {families} !important; }}
main {{ max-width: none; padding: 0; margin: 0; }}
h1 {{ font-size: 20pt; }} h2 {{ font-size: 14pt; color: {accent}; border-bottom-color: {accent}; }}
h3 {{ font-size: 11.5pt; }}
h1, h2, h3, h4 {{ break-after: avoid; }}
nav.toc {{ break-after: page; background: none; border: none; padding: 0; }}
nav.toc a {{ color: inherit; text-decoration: none; }}
nav.toc a::after {{ content: leader('.') target-counter(attr(href), page); }}
img {{ max-width: 100%; max-height: 235mm; width: auto; height: auto; object-fit: contain;
       break-inside: avoid; }}
.jp-OutputArea-output {{ overflow: visible !important; }}
table {{ width: auto; max-width: 100%; font-size: 8pt; break-inside: auto; }}
tr, thead {{ break-inside: avoid; }}
th, td {{ padding: 2px 5px; overflow-wrap: break-word; }}
/* Only the header cells of Markdown tables (the questionnaire's answer columns) may break
   anywhere: 'anywhere' makes WeasyPrint measure every character of a cell when it sizes
   columns, which on all tables cost a third of the PDF time. */
.jp-RenderedMarkdown th {{ overflow-wrap: anywhere; }}
p, li {{ max-width: none; orphans: 3; widows: 3; }}
pre {{ white-space: pre-wrap; font-size: 8pt; }}
a {{ color: {accent}; }}
"""


def _offline_fetcher():
    """WeasyPrint URL fetcher that serves data: and file: URLs only (reports are built offline)."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols=("data", "file"))


def render_pdf(page: str, target: str | os.PathLike, language: str, accent: str):
    """Print the HTML ``page`` to ``target`` (atomically); returns its RenderInfo."""
    import weasyprint

    target = Path(target)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    try:
        document = weasyprint.HTML(string=page, base_url=str(target.parent), url_fetcher=_offline_fetcher())
        with atomic_path(target) as tmp:
            document.write_pdf(tmp, stylesheets=[weasyprint.CSS(string=print_css(language, accent))])
    except (OSError, ValueError) as exc:
        raise RenderError(f"{target.name}: PDF rendering failed: {exc}") from exc
    return RenderInfo("weasyprint", weasyprint.__version__, f"weasyprint index.html -> {target.name} (A4)",
                      f"PDF printed from the HTML page by WeasyPrint {weasyprint.__version__}")

"""The report as one self-contained HTML page: nbconvert, branding, contents, language.

``HTMLExporter`` renders the executed notebook with the input cells excluded, images
embedded, none of the lab template's CDN scripts (require.js, MathJax, mermaid,
widgets), compact CSS in the profile's primary colour, the logo and the author on the
title, and a table of contents built from the rendered headings (headings in Markdown
outputs included), all in the report language. The same page, with print CSS, is the
source of the PDF and the Word document.
"""

from __future__ import annotations

import base64
import html
import mimetypes
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat

from analysis.errors import RenderError
from analysis.i18n import text

__all__ = ["TOC_MARKER", "find_external_resources", "render_html", "brand_header", "report_css"]

TOC_MARKER = "<!-- workbench:toc -->"
_EXTERNAL = re.compile(
    r"<(?:script|link|img|iframe|source|video|audio)\b[^>]*?\b(?:src|href)\s*=\s*"
    r"[\"']?((?:https?:)?//[^\"'\s>]+)|@import\s+(?:url\()?[\"']?((?:https?:)?//[^\"')\s]+)",
    re.IGNORECASE,
)


def find_external_resources(page: str) -> list[str]:
    """URLs the page would fetch from the network (scripts, styles, images, imports)."""
    return sorted({a or b for a, b in _EXTERNAL.findall(page)})


_TEMPLATE = r"""
{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block notebook_css -%}
<style type="text/css">
{{ resources.workbench_css }}
</style>
{%- endblock notebook_css -%}
{%- block body_header -%}
<body class="workbench-report">
<main>
{%- endblock body_header -%}
"""

_CSS = """
:root { --ink: #1f2328; --muted: #57606a; --rule: #d0d7de; --accent: @ACCENT@; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.55;
  font: 16px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
h1, h2, h3, h4 { line-height: 1.25; margin: 1.8em 0 .6em; }
h1 { font-size: 2rem; margin-top: .5em; }
h2 { font-size: 1.5rem; border-bottom: 2px solid var(--accent); padding-bottom: .25em; color: var(--accent); }
header.brand { display: flex; align-items: center; gap: 1rem; margin: 0 0 1rem; color: var(--muted); }
header.brand img { max-height: 3.2rem; width: auto; }
h3 { font-size: 1.2rem; }
a { color: var(--accent); }
a.anchor-link { display: none; }
p, li { max-width: 48rem; }
img { max-width: 100%; height: auto; }
pre { background: #f6f8fa; padding: .75em 1em; overflow-x: auto; font-size: .85rem;
  border-radius: 4px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
table { border-collapse: collapse; margin: 1em 0; font-size: .9rem;
  font-variant-numeric: tabular-nums; }
th, td { padding: .3em .7em; border-bottom: 1px solid var(--rule); text-align: right; }
th { background: #f6f8fa; }
td:first-child, th:first-child { text-align: left; }
.jp-OutputArea-output { margin: .5em 0; overflow-x: auto; }
.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"] pre { background: #fff8e6; }
.jp-Cell-inputWrapper .jp-InputPrompt, .jp-OutputPrompt, .jp-Collapser { display: none; }
.celltag_workbench-render-note p { color: var(--muted); font-size: .9rem; margin: 0; }
nav.toc { background: #f6f8fa; border: 1px solid var(--rule); border-radius: 6px;
  padding: .8em 1.2em; margin: 1.2em 0 2em; }
nav.toc .toc-title { font-weight: 600; margin-bottom: .3em; }
nav.toc ol { list-style: none; margin: 0; padding: 0; }
nav.toc li { margin: .15em 0; }
nav.toc li.toc-level-3 { padding-left: 1.2em; font-size: .95rem; }
nav.toc li.toc-level-4 { padding-left: 2.4em; font-size: .9rem; }
@media print { nav.toc { break-after: page; } }
"""


class _HeadingCollector(HTMLParser):
    """Collect (level, id, text) of h1-h4 headings that carry an id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[tuple[int, str, str]] = []
        self._current: list | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if re.fullmatch(r"h[1-4]", tag) and dict(attrs).get("id"):
            self._current = [int(tag[1]), dict(attrs)["id"], ""]
        elif tag == "a" and self._current is not None and "anchor-link" in (
                dict(attrs).get("class") or ""):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._skip:
            self._skip -= 1
        elif self._current is not None and tag == f"h{self._current[0]}":
            level, anchor, text = self._current
            self.headings.append((level, anchor, " ".join(text.split())))
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None and not self._skip:
            self._current[2] += data


def _table_of_contents(page: str, language: str) -> str:
    collector = _HeadingCollector()
    collector.feed(page)
    headings = collector.headings
    if headings and headings[0][0] == 1:
        headings = headings[1:]  # the document title
    if not headings:
        return ""
    items = "\n".join(
        f'<li class="toc-level-{max(level, 2)}"><a href="#{html.escape(anchor)}">'
        f"{html.escape(text)}</a></li>"
        for level, anchor, text in headings
    )
    title = html.escape(text("report.contents", language))
    return (f'<nav class="toc" aria-label="{title}"><div class="toc-title">{title}</div>'
            f"<ol>\n{items}\n</ol></nav>")


def report_css(accent: str) -> str:
    """The report's screen CSS in the profile's primary colour."""
    return _CSS.replace("@ACCENT@", accent)


def brand_header(logo: Path | None, byline: str, language: str) -> str:
    """The logo (embedded as a data URI) and the author / organisation line."""
    parts = []
    if logo is not None:
        kind = mimetypes.guess_type(logo.name)[0] or "image/png"
        data = base64.b64encode(logo.read_bytes()).decode("ascii")
        parts.append(f'<img src="data:{kind};base64,{data}" alt="{html.escape(text("report.logo_alt", language))}">')
    if byline:
        parts.append(f"<div>{html.escape(byline)}</div>")
    return f'<header class="brand">{"".join(parts)}</header>' if parts else ""


def render_html(copy: nbformat.NotebookNode, resource_dir: Path, language: str, *, accent: str = "#0b5cad",
                header: str = "") -> str:
    """The self-contained page of a prepared notebook copy (see :mod:`analysis.report.render`)."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        template_file="workbench_report.html.j2",
        extra_loaders=[DictLoader({"workbench_report.html.j2": _TEMPLATE})],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        language_code=language,
    )
    resources = {"metadata": {"path": str(resource_dir), "name": copy.metadata["title"]},
                 "workbench_css": report_css(accent)}
    try:
        page, _ = exporter.from_notebook_node(copy, resources=resources)
    except Exception as exc:  # nbconvert raises many types; report one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise RenderError(f"nbconvert failed: {type(exc).__name__}: {first}") from exc
    page = re.sub(r"<html\b[^>]*>", f'<html lang="{html.escape(language)}">', page, count=1)
    toc = _table_of_contents(page, language)
    page = page.replace(TOC_MARKER, toc, 1) if TOC_MARKER in page else page.replace("<main>", "<main>\n" + toc, 1)
    return page.replace("<main>", "<main>\n" + header, 1) if header else page

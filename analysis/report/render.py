"""Render an executed notebook to one self-contained HTML file, code hidden.

Two renderers, chosen by :func:`detect_renderer`:

* **Quarto** (if ``quarto`` is on PATH): ``quarto render <copy>.ipynb --to html
  --no-execute`` next to a copy of ``reports/_quarto.yml``, which sets
  ``execute: enabled: false``, ``echo: false``, ``toc: true`` and
  ``embed-resources: true``. Quarto never re-executes an ``.ipynb`` unless
  ``--execute`` is given or ``execute: enabled: true`` is set; both the flag and the
  setting keep that explicit, because the notebook was already run by papermill.
* **nbconvert** (fallback): ``HTMLExporter`` with the input cells excluded, markdown
  images embedded, a table of contents built from the rendered headings, compact CSS,
  and none of the lab template's CDN scripts (require.js, MathJax, mermaid, widgets).
  LaTeX in markdown is therefore shown as source, not typeset.

Either way the HTML says which renderer made it: a markdown cell is inserted under
the title of a *copy* of the notebook; the executed notebook itself is never modified.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import secrets
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import nbformat

from analysis.atomic import atomic_write_text
from analysis.errors import ConfigError, RenderError
from analysis.paths import PROJECT_ROOT

__all__ = [
    "RenderInfo",
    "RENDERERS",
    "QUARTO_CONFIG",
    "detect_renderer",
    "render_report",
    "find_external_resources",
]

RENDERERS = ("quarto", "nbconvert")
QUARTO_CONFIG = PROJECT_ROOT / "reports" / "_quarto.yml"
_NOTE_TAG = "workbench-render-note"
_TOC_MARKER = "<!-- workbench:toc -->"
_REMOVE_TAGS = {"remove-cell", "remove_cell"}
_EXTERNAL = re.compile(
    r"<(?:script|link|img|iframe|source|video|audio)\b[^>]*?\b(?:src|href)\s*=\s*"
    r"[\"']?((?:https?:)?//[^\"'\s>]+)|@import\s+(?:url\()?[\"']?((?:https?:)?//[^\"')\s]+)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RenderInfo:
    """Which renderer made the HTML: name, version, the command, and remarks."""

    name: str
    version: str
    command: str
    statement: str
    external_resources: tuple[str, ...] = ()


def detect_renderer() -> str:
    """``"quarto"`` if the ``quarto`` executable is on PATH, else ``"nbconvert"``."""
    return "quarto" if shutil.which("quarto") else "nbconvert"


def find_external_resources(page: str) -> list[str]:
    """URLs the page would fetch from the network (scripts, styles, images, imports)."""
    return sorted({a or b for a, b in _EXTERNAL.findall(page)})


def _quarto_version(executable: str) -> str:
    try:
        done = subprocess.run([executable, "--version"], capture_output=True, text=True,
                              timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise RenderError(f"cannot run '{executable} --version': {exc}") from None
    return done.stdout.strip() or "unknown"


def _prepared_copy(nb: nbformat.NotebookNode, title: str, statement: str,
                   front_matter: bool) -> nbformat.NotebookNode:
    """A copy with the renderer statement under the title (and a title if missing)."""
    copy = nbformat.from_dict(nb)
    copy.cells = [c for c in copy.cells
                  if not _REMOVE_TAGS & set(c.get("metadata", {}).get("tags", []))]
    note = nbformat.v4.new_markdown_cell(f"*{statement}*\n\n{_TOC_MARKER}",
                                         metadata={"tags": [_NOTE_TAG]})
    first = copy.cells[0] if copy.cells else None
    starts_with_title = (first is not None and first.cell_type == "markdown"
                         and first.source.lstrip().startswith("# "))
    if starts_with_title:
        copy.cells.insert(1, note)
    elif front_matter:
        escaped = title.replace("\\", "\\\\").replace('"', '\\"')
        header = nbformat.v4.new_raw_cell(f'---\ntitle: "{escaped}"\n---')
        copy.cells[:0] = [header, note]
    else:
        copy.cells[:0] = [nbformat.v4.new_markdown_cell(f"# {title}"), note]
    copy.metadata["title"] = title
    return copy


def render_report(
    executed_ipynb: str | os.PathLike,
    out_html: str | os.PathLike,
    title: str,
    renderer: str | None = None,
    *,
    language: str = "en",
    fallback_reason: str | None = None,
) -> RenderInfo:
    """Render ``executed_ipynb`` to the self-contained HTML file ``out_html``.

    Parameters
    ----------
    executed_ipynb : path-like
        A notebook executed by papermill; it is read, never modified.
    out_html : path-like
        The HTML file to write (atomically).
    title : str
        Document title; shown as the first heading unless the notebook starts with a
        level-1 heading.
    renderer : {"quarto", "nbconvert"}, optional
        Defaults to :func:`detect_renderer`.
    language : str, default "en"
        ``<html lang>`` of the nbconvert output.
    fallback_reason : str, optional
        Remark for the statement; by default "fallback; Quarto not found on PATH" when
        nbconvert was chosen automatically.

    Returns
    -------
    RenderInfo

    Raises
    ------
    ConfigError
        Unknown renderer name.
    RenderError
        The renderer failed; the message carries its last error line.
    """
    chosen = renderer or detect_renderer()
    if chosen not in RENDERERS:
        raise ConfigError(f"renderer: expected one of {', '.join(map(repr, RENDERERS))}, "
                          f"got {renderer!r}")
    source, target = Path(executed_ipynb), Path(out_html)
    nb = nbformat.read(source, as_version=4)
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if chosen == "quarto":
        executable = shutil.which("quarto")
        if executable is None:
            raise RenderError("renderer 'quarto' requested but 'quarto' is not on PATH")
        version = _quarto_version(executable)
        statement = f"Rendered by Quarto {version} on {when}"
        copy = _prepared_copy(nb, title, statement, front_matter=True)
        command = _render_quarto(executable, copy, source.parent, target)
        page = target.read_text(encoding="utf-8")
    else:
        import nbconvert

        version = nbconvert.__version__
        if fallback_reason is None and renderer is None:
            fallback_reason = "fallback; Quarto not found on PATH"
        remark = f" ({fallback_reason})" if fallback_reason else ""
        statement = f"Rendered by nbconvert {version}{remark} on {when}"
        copy = _prepared_copy(nb, title, statement, front_matter=False)
        page = _render_nbconvert(copy, source.parent, language)
        atomic_write_text(target, page)
        command = (f"nbconvert.HTMLExporter(template='lab', exclude_input=True, "
                   f"embed_images=True) {source.name} -> {target.name}")
    external = find_external_resources(page)
    if external:
        warnings.warn(f"{target}: the report loads {len(external)} external resource(s), "
                      f"e.g. {external[0]}; it is not fully self-contained", stacklevel=2)
    return RenderInfo(chosen, version, command, statement, tuple(external))


def _render_quarto(executable: str, copy: nbformat.NotebookNode, workdir: Path,
                   target: Path) -> str:
    """Run quarto next to the executed notebook (relative image paths keep working)."""
    if not QUARTO_CONFIG.is_file():
        raise RenderError(f"{QUARTO_CONFIG}: Quarto configuration not found")
    config = workdir / "_quarto.yml"
    if config.exists():
        raise RenderError(f"{config}: refusing to overwrite an existing Quarto project file")
    stem = f"render-{secrets.token_hex(4)}"
    notebook = workdir / f"{stem}.ipynb"
    args = [executable, "render", notebook.name, "--to", "html", "--no-execute"]
    try:
        shutil.copyfile(QUARTO_CONFIG, config)
        nbformat.write(copy, notebook)
        done = subprocess.run(args, cwd=workdir, capture_output=True, text=True)
        produced = workdir / f"{stem}.html"
        if done.returncode != 0 or not produced.is_file():
            lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
            last = lines[-1].strip() if lines else f"exit status {done.returncode}"
            raise RenderError(f"quarto render failed: {last}")
        os.replace(produced, target)
    finally:
        for leftover in (config, notebook):
            leftover.unlink(missing_ok=True)
        for directory in (workdir / ".quarto", workdir / f"{stem}_files"):
            shutil.rmtree(directory, ignore_errors=True)
    return f"quarto {' '.join(args[1:])} (in {workdir}, with a copy of {QUARTO_CONFIG.name})"


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
:root { --ink: #1f2328; --muted: #57606a; --rule: #d0d7de; --accent: #0b5cad; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.55;
  font: 16px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
h1, h2, h3, h4 { line-height: 1.25; margin: 1.8em 0 .6em; }
h1 { font-size: 2rem; margin-top: .5em; }
h2 { font-size: 1.5rem; border-bottom: 1px solid var(--rule); padding-bottom: .25em; }
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


def _table_of_contents(page: str) -> str:
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
    return (f'<nav class="toc" aria-label="Contents"><div class="toc-title">Contents</div>'
            f"<ol>\n{items}\n</ol></nav>")


def _render_nbconvert(copy: nbformat.NotebookNode, resource_dir: Path, language: str) -> str:
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
                 "workbench_css": _CSS}
    try:
        page, _ = exporter.from_notebook_node(copy, resources=resources)
    except Exception as exc:  # nbconvert raises many types; report one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise RenderError(f"nbconvert failed: {type(exc).__name__}: {first}") from exc
    toc = _table_of_contents(page)
    if _TOC_MARKER in page:
        return page.replace(_TOC_MARKER, toc, 1)
    return page.replace("<main>", "<main>\n" + toc, 1)

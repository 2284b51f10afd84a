"""Render an executed notebook to the report's documents: HTML, PDF and Word.

The HTML page comes from one of two renderers, chosen by :func:`detect_renderer`:

* **Quarto** (if ``quarto`` is on PATH): ``quarto render <copy>.ipynb --to html
  --no-execute`` next to a copy of ``reports/_quarto.yml``, which sets
  ``execute: enabled: false``, ``echo: false``, ``toc: true`` and
  ``embed-resources: true``. Quarto never re-executes an ``.ipynb`` unless
  ``--execute`` is given or ``execute: enabled: true`` is set; both the flag and the
  setting keep that explicit, because the notebook was already run by papermill.
* **nbconvert** (fallback): :mod:`analysis.report.html` (self-contained, code hidden,
  contents, branding, the report language).

The PDF (A4, fonts embedded, page numbers) is printed from that page by WeasyPrint
(:mod:`analysis.report.pdf`) and the Word document converted from it by pandoc
(:mod:`analysis.report.docx`), so all formats show the same executed notebook; with
Quarto on PATH, Quarto makes the Word document too. Each format says which renderer made
it (in the document and in the manifest); the executed notebook itself is never modified.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import subprocess
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from analysis.atomic import atomic_write_text
from analysis.errors import ConfigError, RenderError
from analysis.i18n import format_date, text
from analysis.paths import PROJECT_ROOT
from analysis.report.html import TOC_MARKER, find_external_resources, render_html
from analysis.report.info import RenderInfo

__all__ = [
    "RenderInfo",
    "RENDERERS",
    "QUARTO_CONFIG",
    "detect_renderer",
    "render_report",
    "render_documents",
    "find_external_resources",
]

RENDERERS = ("quarto", "nbconvert")
QUARTO_CONFIG = PROJECT_ROOT / "reports" / "_quarto.yml"
_NOTE_TAG = "workbench-render-note"
_REMOVE_TAGS = {"remove-cell", "remove_cell"}


def detect_renderer() -> str:
    """``"quarto"`` if the ``quarto`` executable is on PATH, else ``"nbconvert"``."""
    return "quarto" if shutil.which("quarto") else "nbconvert"


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
    note = nbformat.v4.new_markdown_cell(f"*{statement}*\n\n{TOC_MARKER}",
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
    accent: str = "#0b5cad",
    header: str = "",
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
        The report language: ``<html lang>``, the contents title and the renderer statement.
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
    when = format_date(dt.datetime.now(dt.timezone.utc), language)
    if chosen == "quarto":
        executable = shutil.which("quarto")
        if executable is None:
            raise RenderError("renderer 'quarto' requested but 'quarto' is not on PATH")
        version = _quarto_version(executable)
        statement = text("report.rendered_by", language, renderer=f"Quarto {version}", remark="", date=when)
        copy = _prepared_copy(nb, title, statement, front_matter=True)
        command = _render_quarto(executable, copy, source.parent, target, language)
        page = target.read_text(encoding="utf-8")
    else:
        import nbconvert

        version = nbconvert.__version__
        if fallback_reason is None and renderer is None:
            fallback_reason = text("report.quarto_missing", language)
        remark = text("report.remark", language, remark=fallback_reason) if fallback_reason else ""
        statement = text("report.rendered_by", language, renderer=f"nbconvert {version}", remark=remark, date=when)
        copy = _prepared_copy(nb, title, statement, front_matter=False)
        page = render_html(copy, source.parent, language, accent=accent, header=header)
        atomic_write_text(target, page)
        command = (f"nbconvert.HTMLExporter(template='lab', exclude_input=True, "
                   f"embed_images=True) {source.name} -> {target.name}")
    external = find_external_resources(page)
    if external:
        warnings.warn(f"{target}: the report loads {len(external)} external resource(s), "
                      f"e.g. {external[0]}; it is not fully self-contained", stacklevel=2)
    return RenderInfo(chosen, version, command, statement, tuple(external))


def _render_quarto(executable: str, copy: nbformat.NotebookNode, workdir: Path,
                   target: Path, language: str) -> str:
    """Run quarto next to the executed notebook (relative image paths keep working)."""
    if not QUARTO_CONFIG.is_file():
        raise RenderError(f"{QUARTO_CONFIG}: Quarto configuration not found")
    config = workdir / "_quarto.yml"
    if config.exists():
        raise RenderError(f"{config}: refusing to overwrite an existing Quarto project file")
    stem = f"render-{secrets.token_hex(4)}"
    notebook = workdir / f"{stem}.ipynb"
    args = [executable, "render", notebook.name, "--to", "html", "--no-execute", "-M", f"lang:{language}"]
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


def render_documents(executed_ipynb: str | os.PathLike, folder: str | os.PathLike, settings,
                     renderer: str | None = None) -> dict[str, RenderInfo]:
    """Every format ``settings.report.formats`` asks for, in ``folder``; returns format -> RenderInfo.

    ``index.html`` is always made (it is also the source of the PDF and, without Quarto, of
    the Word document); ``report.pdf`` and ``report.docx`` when listed.
    """
    from analysis.report.html import brand_header

    folder = Path(folder)
    report = settings.report
    byline = " · ".join(part for part in (report.author, report.organisation) if part)
    header = brand_header(report.logo, byline, report.language)
    html_info = render_report(executed_ipynb, folder / "index.html", report.title, renderer,
                              language=report.language, accent=report.primary_color, header=header)
    done = {"html": html_info}
    page = (folder / "index.html").read_text(encoding="utf-8")
    # pandoc runs as a separate process, so the Word document is made while WeasyPrint prints the PDF
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = {}
        if "docx" in report.formats:
            from analysis.report.docx import render_docx

            jobs["docx"] = pool.submit(render_docx, page, folder / "report.docx", settings)
        if "pdf" in report.formats:
            from analysis.report.pdf import render_pdf

            jobs["pdf"] = pool.submit(render_pdf, page, folder / "report.pdf", report.language, report.primary_color)
        for name in ("pdf", "docx"):
            if name in jobs:
                done[name] = jobs[name].result()
    return done

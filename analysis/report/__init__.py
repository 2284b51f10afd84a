"""Report pipeline: execute the study notebook, render HTML, write a manifest.

``build_report(client)`` runs the whole chain for one client profile and swaps the
finished report into ``reports/_output/<client>/``; the pieces are usable alone:
:func:`execute_notebook` (papermill), :func:`render_report` (Quarto or nbconvert),
and :func:`write_manifest`.
"""

from __future__ import annotations

from analysis.report.build import build_report
from analysis.report.execute import ExecutionInfo, execute_notebook, resolve_kernel
from analysis.report.manifest import build_manifest, tables_digest, write_manifest
from analysis.report.render import RenderInfo, detect_renderer, render_report

__all__ = [
    "build_report",
    "execute_notebook",
    "resolve_kernel",
    "ExecutionInfo",
    "render_report",
    "detect_renderer",
    "RenderInfo",
    "build_manifest",
    "write_manifest",
    "tables_digest",
]

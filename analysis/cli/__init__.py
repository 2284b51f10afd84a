"""Command line: ``python -m analysis <command>`` (also installed as ``eloyalty``).

:mod:`~analysis.cli.main` builds the parser and dispatches; :mod:`~analysis.cli.fit`
runs the ``fit`` and ``invariance`` commands (read a data file, fit, write tables).
Heavy libraries are imported inside the commands, so ``--help`` answers at once.
"""

from __future__ import annotations

from analysis.cli.main import build_parser, main

__all__ = ["main", "build_parser"]

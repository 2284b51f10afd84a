"""Progress bars for loops that take more than a few seconds (bootstrap, power, batch).

A bar (tqdm) is drawn only where a person watches a terminal: it is off when standard
error is not a terminal (papermill, CI logs, pipes), when ``CI`` is set, and whenever
``ELOYALTY_PROGRESS=0`` (or :func:`set_progress(False) <set_progress>`) switches it
off. tqdm is used rather than hand-written output because it handles terminal widths,
rates and nested bars correctly.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["progress_bar", "progress_enabled", "set_progress"]

_override: bool | None = None


def set_progress(enabled: bool | None) -> None:
    """Force progress bars on or off for this process (None: decide from the environment)."""
    global _override
    _override = enabled


def progress_enabled() -> bool:
    """Whether a bar would be drawn now."""
    if _override is not None:
        return _override
    if os.environ.get("ELOYALTY_PROGRESS", "").strip().lower() in ("0", "false", "no", "off"):
        return False
    if os.environ.get("CI"):
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


class _Silent:
    def update(self, n: int = 1) -> None:
        pass


@contextlib.contextmanager
def progress_bar(total: int, description: str) -> Iterator:
    """A bar with ``update(n)``; a silent stand-in where no bar should be drawn."""
    if not progress_enabled():
        yield _Silent()
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, desc=description, unit="draw", leave=False, file=sys.stderr) as bar:
        yield bar

"""One BLAS thread while fitting: the matrices are small, so more threads only contend.

``threadpoolctl.threadpool_limits`` inspects every loaded library on each call (about
8 ms, longer than a whole fit of a small model); a single controller, created once,
makes entering the limit cheap.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

__all__ = ["single_threaded_blas"]


@functools.cache
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread for the duration (restored afterwards)."""
    with _controller().limit(limits=1, user_api="blas"):
        yield

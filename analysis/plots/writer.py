"""Saving report figures in a second process while the notebook goes on computing.

Rasterising a figure (Agg, 150 dpi, tight bounding box) holds Python's global
interpreter lock, so a thread cannot overlap it with the analysis; the default report
spends about a third of its notebook time there. :class:`FigureWriter` hands each
finished figure (pickled: every figure the workbench builds is picklable, see
:func:`analysis.plots.style.tick_formatter`) to one helper process that writes the PNG
with the same :func:`~analysis.plots.survey.save_figure` the notebook would call, so the
bytes do not depend on where a figure was saved. concurrent.futures is the right tool
here rather than Dask: one local helper for the lifetime of a notebook, no scheduler.

The helper is started with ``spawn`` (forking a Jupyter kernel with live threads is
unsafe), registers the report fonts once, and is shut down by :meth:`FigureWriter.close`.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from matplotlib.figure import Figure

__all__ = ["FigureWriter"]


def _start_helper() -> None:
    """Runs once in the helper process: one BLAS thread, the report fonts registered."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    from analysis.plots.style import register_fonts

    register_fonts()


def _write(payload: bytes, out_dir: str, name: str) -> Path:
    from analysis.plots.survey import save_figure

    return save_figure(pickle.loads(payload), out_dir, name)  # noqa: S301 - our own figure


class FigureWriter:
    """Writes figures to PNG files in ``processes`` helper processes; :meth:`submit` returns at once.

    Examples
    --------
    >>> writer = FigureWriter()                         # doctest: +SKIP
    >>> future = writer.submit(fig, "figures", "ipma")  # doctest: +SKIP
    >>> future.result()                                 # doctest: +SKIP
    PosixPath('figures/ipma.png')
    >>> writer.close()                                  # doctest: +SKIP
    """

    def __init__(self, processes: int = 1) -> None:
        self._pool = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_start_helper)
        # Start the helpers now, so their imports overlap with the analysis before the first figure.
        for _ in range(processes):
            self._pool.submit(int)

    def submit(self, fig: Figure, out_dir: str | os.PathLike, name: str) -> Future:
        """Queue ``fig`` to be written as ``out_dir/name.png``; the future gives its path.

        The figure is pickled at once and then cleared here, as the synchronous
        :func:`~analysis.plots.survey.save_figure` does, so the caller may drop it.
        """
        # Pickled here, not by the executor's feeder thread, so clearing the figure is safe.
        payload = pickle.dumps(fig, protocol=pickle.HIGHEST_PROTOCOL)
        fig.clear()
        return self._pool.submit(_write, payload, str(out_dir), name)

    def close(self) -> None:
        """Wait for the queued figures and stop the helper process."""
        self._pool.shutdown(wait=True)

    def __enter__(self) -> "FigureWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

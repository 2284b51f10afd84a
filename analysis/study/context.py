"""One report run: its settings, its instrument and the folder its outputs go to.

The notebook builds a :class:`StudyContext` from the client profile it receives (a name
or a path) and hands it to every stage. The context holds the typed
:class:`~analysis.profile.Settings` itself, not a copy of its values, so a stage reads
``ctx.settings.analysis.bootstrap_draws`` and never restates a default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.atomic import atomic_write_text
from analysis.cores import background_figures, worker_processes
from analysis.instrument import Instrument, load_instrument
from analysis.measurement import ValidityThresholds
from analysis.paths import OUTPUT_ROOT
from analysis.profile import Settings, load_profile

__all__ = ["StudyContext", "INTERACTIVE_OUTPUT"]

#: Where a notebook run started by hand (JupyterLab) writes: inside the ignored output folder.
INTERACTIVE_OUTPUT = OUTPUT_ROOT / "interactive"


@dataclass
class StudyContext:
    """Settings of one report run and where its outputs go."""

    settings: Settings
    output_dir: Path
    instrument: Instrument
    saved: list[Path] = field(default_factory=list)
    #: Figures saved so far; the next one shown is "Figure figure_count + 1".
    figure_count: int = 0
    #: Writes figures in a helper process during a report run (None: each is saved in line).
    _writer: object | None = field(default=None, repr=False)
    #: Figures queued in the writer and not yet shown: (future, display handle, image builder).
    _pending: list = field(default_factory=list, repr=False)

    @classmethod
    def from_profile(cls, profile: str | os.PathLike | Settings = "default",
                     output_dir: str | os.PathLike | None = None) -> StudyContext:
        """Load and validate ``profile`` (name, path or Settings) and prepare ``output_dir``.

        Without ``output_dir`` (a notebook run by hand) the outputs go to
        ``reports/_output/interactive/<client id>/``, never next to the notebook.
        """
        settings = profile if isinstance(profile, Settings) else load_profile(profile)
        folder = Path(output_dir) if output_dir else INTERACTIVE_OUTPUT / settings.client.id
        folder = folder.resolve()
        for sub in ("tables", "figures"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        context = cls(settings, folder, load_instrument(settings.survey.instrument))
        if background_figures() and _ipython() is not None:
            from analysis.plots.writer import FigureWriter

            # One helper: the notebook itself fits the titles (a layout pass) while the helper
            # rasterises, which keeps both cores busy without a third process's imports.
            context._writer = FigureWriter()  # started now: its imports overlap the analysis
        return context

    @property
    def seed(self) -> int:
        return self.settings.analysis.seed

    @property
    def n_jobs(self) -> int:
        """Worker processes for the bootstrap and replications: ``analysis.n_jobs`` within the
        run's core budget (:mod:`analysis.cores`); results do not depend on it."""
        return worker_processes(self.settings.analysis.n_jobs)

    @property
    def language(self) -> str:
        return self.settings.report.language

    def fit_thresholds(self) -> dict[str, float]:
        """Cut-offs of the global fit indices (CFI, TLI minima; RMSEA, SRMR maxima)."""
        t = self.settings.thresholds
        return {"cfi": t.cfi, "tli": t.tli, "rmsea": t.rmsea, "srmr": t.srmr}

    def validity_thresholds(self) -> ValidityThresholds:
        t = self.settings.thresholds
        return ValidityThresholds(alpha=t.alpha, ave=t.ave, htmt=t.htmt)

    def save_table(self, table: pd.DataFrame, name: str) -> pd.DataFrame:
        """Write ``tables/<name>.csv`` (fixed float format, so reruns are byte-identical)."""
        path = self.output_dir / "tables" / f"{name}.csv"
        self.saved.append(atomic_write_text(path, table.to_csv(index=False, float_format="%.6g")))
        return table

    def save_figure(self, fig, name: str) -> None:
        """Write ``figures/<name>.png`` and show exactly that image in the notebook, numbered.

        In a notebook the image is shown with the catalog's alt text
        (``figure.<name>.alt``) and followed by its caption, "Figure N. <caption>"
        (``figure.<name>.caption``), in the report language; both are looked up before the
        PNG is written, so a figure without catalog text stops the run instead of
        appearing unexplained. ``figure_count`` numbers the figures in the order shown.
        Outside IPython only the PNG is written (and counted).

        In a report run with two or more cores (:func:`analysis.cores.background_figures`)
        the PNG is written by a helper process while the notebook goes on: the figure's
        place is held by a display that :meth:`finish` (the notebook's last cell) fills
        with the image, so the executed notebook is the same as when saving in line.
        """
        from analysis.plots import save_figure

        shell = _ipython()
        number = self.figure_count + 1
        outputs = _figure_outputs(name, number, self.language) if shell is not None else None
        self.figure_count = number
        if outputs is None:
            self.saved.append(save_figure(fig, self.output_dir / "figures", name))
            return
        from IPython.display import DisplayHandle, display

        image, caption = outputs
        if self._writer is None:
            path = save_figure(fig, self.output_dir / "figures", name)
            self.saved.append(path)
            bundle, metadata = image(path)
            display(bundle, metadata=metadata, raw=True)
        else:
            future = self._writer.submit(fig, self.output_dir / "figures", name)
            handle = DisplayHandle()
            handle.display({"text/plain": caption["text/plain"]}, raw=True)
            self._pending.append((future, handle, image))
        display(caption, raw=True)

    def finish(self) -> None:
        """Show the figures still being written and stop the figure writer (last notebook cell).

        Raises the writer's error, if a figure could not be written.
        """
        pending, self._pending = self._pending, []
        try:
            for future, handle, image in pending:
                path = future.result()
                self.saved.append(path)
                bundle, metadata = image(path)
                handle.update(bundle, metadata=metadata, raw=True)
        finally:
            if self._writer is not None:
                self._writer.close()
                self._writer = None


def _ipython():
    """The running IPython shell, or None (plain Python, or IPython not installed)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _figure_outputs(name: str, number: int, language: str):
    """Look up the caption and alt text of figure ``name``; return ``(image, caption)``:
    a function that, given the saved PNG, builds the raw image bundle and its metadata, and
    the caption's raw bundle.

    The image bundle carries ``image/png`` with ``alt`` in its metadata (Jupyter, the
    classic nbconvert template, converters to other formats) and an ``<img alt>`` as
    ``text/html``, because nbconvert's ``lab`` HTML template ignores image metadata; the
    base64 data are the same, so the HTML report stays self-contained. The caption is a
    Markdown paragraph, "**Figure N.** caption", so it stays text in every format.
    """
    import base64
    import html

    from analysis.i18n import text

    name = name[:-4] if name.lower().endswith(".png") else name
    caption = text(f"figure.{name}.caption", language)
    alt = text(f"figure.{name}.alt", language)
    label = text("figure.label", language, number=number)

    def image(path: Path) -> tuple[dict, dict]:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        bundle = {"image/png": data,
                  "text/html": f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt, quote=True)}">',
                  "text/plain": f"{label} {alt}"}
        return bundle, {"image/png": {"alt": alt}}

    return image, {"text/markdown": f"**{label}** {caption}", "text/plain": f"{label} {caption}"}

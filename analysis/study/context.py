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
        return cls(settings, folder, load_instrument(settings.survey.instrument))

    @property
    def seed(self) -> int:
        return self.settings.analysis.seed

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
        """
        from analysis.plots import save_figure

        shell = _ipython()
        number = self.figure_count + 1
        outputs = _figure_outputs(name, number, self.language) if shell is not None else None
        path = save_figure(fig, self.output_dir / "figures", name)
        self.saved.append(path)
        self.figure_count = number
        if outputs is None:
            return
        from IPython.display import display

        image, metadata, caption = outputs(path)
        display(image, raw=True, metadata=metadata)
        display(caption, raw=True)


def _ipython():
    """The running IPython shell, or None (plain Python, or IPython not installed)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _figure_outputs(name: str, number: int, language: str):
    """Look up the caption and alt text of figure ``name``; return a function that, given
    the saved PNG, builds the raw display bundles: the image, its metadata, the caption.

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

    def build(path: Path):
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        image = {"image/png": data,
                 "text/html": f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt, quote=True)}">',
                 "text/plain": f"{label} {alt}"}
        markdown = f"**{label}** {caption}"
        return image, {"image/png": {"alt": alt}}, {"text/markdown": markdown, "text/plain": f"{label} {caption}"}

    return build

"""Shared look of the report figures: colours, fonts, the ``styled`` decorator, new figures.

Figures are built object-oriented (:class:`matplotlib.figure.Figure`, never
:mod:`matplotlib.pyplot`), so importing the workbench neither chooses a backend nor
registers figures in pyplot's global state; ``Figure.savefig`` renders PNGs with Agg
on any machine. Colours come from seaborn's "colorblind" palette.

Language and fonts
------------------
Every figure function takes ``language`` (``en``, ``zh-Hans`` or ``zh-Hant``) and reads
its words from the ``figure.*`` entries of the message catalog
(``analysis/i18n/catalog/figures.yaml``). Chinese is drawn with Noto Sans SC (zh-Hans) or
Noto Sans TC (zh-Hant), which the pinned packages ``pylopdf-fonts-zh-cn`` and
``pylopdf-fonts-zh-tw`` install inside the virtual environment, so no system font is
needed. :func:`register_fonts` adds them to matplotlib's font manager once per process;
:func:`styled` then sets ``font.family`` to an explicit list, DejaVu Sans (matplotlib's
own font: Latin, Greek, symbols) first and the Noto font second. Matplotlib (>= 3.6)
falls back glyph by glyph along that list, so Latin text keeps DejaVu Sans and every CJK
character comes from the Noto font of the report's language (the Taiwan glyph shapes for
zh-Hant). The family list is stored in each text's font properties when the text is
created, so it holds when the figure is saved later, outside the style context.
The Noto packages ship one weight (Regular): Chinese titles are therefore set in the
regular weight (mixing bold Latin with regular Chinese looks accidental), and
matplotlib's log message about the missing bold face of these two families is dropped.

Legibility
----------
Figures are saved at :data:`DPI` (150) and shown at most at :data:`REPORT_WIDTH_PX` (760)
CSS pixels, the report's text width, never enlarged. A font of ``f`` points in a figure
whose PNG is ``w`` pixels wide is therefore seen at
``f * DPI / 72 * min(1, REPORT_WIDTH_PX / w)`` CSS pixels, i.e. ``0.75`` times that in
CSS points (1 pt = 4/3 px). :func:`rendered_points` computes it; the rule is that every
text of every figure is seen at :data:`MIN_RENDERED_PT` (9 pt) or more. Figures are
therefore at most :data:`MAX_WIDTH_IN` (7.5 in) wide and use no font below
:data:`SMALL_FONT` (9 pt): 9 pt * 150/72 * 760 / (7.7 in * 150) * 0.75 = 9.3 pt, with
0.1 in of tight-bbox padding on each side.
"""

from __future__ import annotations

import functools
import logging
import textwrap
from collections.abc import Sequence
from functools import wraps

import matplotlib
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.font_manager import fontManager

from analysis.errors import DataError
from matplotlib.ticker import FuncFormatter

from analysis.i18n import (LANGUAGES, MissingTranslation, catalog, format_integer, format_number,
                           format_percent, text)

__all__ = ["PALETTE", "BLUE", "ORANGE", "GREEN", "VERMILLION", "GREY", "SKY", "styled", "subplots",
           "register_fonts", "font_families", "construct_name", "rendered_points", "DPI",
           "REPORT_WIDTH_PX", "MAX_WIDTH_IN", "MIN_RENDERED_PT", "SMALL_FONT", "construct_key", "wrap",
           "plain_number", "tick_formatter", "legend_columns", "COMPACT_LEGEND", "title_weight", "fit_texts"]

PALETTE = sns.color_palette("colorblind")
BLUE, ORANGE, GREEN, VERMILLION, GREY, SKY = (PALETTE[i] for i in (0, 1, 2, 3, 7, 9))

#: Resolution of the saved PNGs, the report's text width in CSS pixels, the widest figure.
DPI = 150
REPORT_WIDTH_PX = 760
MAX_WIDTH_IN = 7.5
#: The smallest size any text may be seen at (CSS points), and the smallest font used.
MIN_RENDERED_PT = 9.0
SMALL_FONT = 9.0

LATIN_FAMILY = "DejaVu Sans"
#: The Noto font of each language, and the package (with its ``sans_path()``) providing it.
CJK_FAMILIES = {"zh-Hans": "Noto Sans SC", "zh-Hant": "Noto Sans TC"}
_FONT_PACKAGES = {"Noto Sans SC": "pylopdf_fonts_zh_cn", "Noto Sans TC": "pylopdf_fonts_zh_tw"}

_RC = {
    "font.size": 10, "axes.titlesize": 12, "axes.titleweight": "bold",
    "axes.labelsize": 10.5, "xtick.labelsize": 10, "ytick.labelsize": 10,
    "legend.fontsize": 9.5, "legend.title_fontsize": 9.5, "figure.titlesize": 12.5,
    "figure.titleweight": "bold", "axes.spines.top": False, "axes.spines.right": False,
    "savefig.dpi": DPI,
}


class _SingleWeightFilter(logging.Filter):
    """Drop "Failed to find font weight bold for Noto Sans SC" (the package has one weight)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        args = record.args if isinstance(record.args, tuple) else ()
        return not (message.startswith("findfont: Failed to find font weight")
                    and len(args) >= 2 and args[1] in _FONT_PACKAGES)


@functools.cache
def register_fonts() -> dict[str, str]:
    """Add Noto Sans SC and TC (from their Python packages) to matplotlib; once per process.

    Returns family name -> font file. The files are located through each package's own
    ``sans_path()``, so nothing depends on fonts installed on the system.
    """
    import importlib

    found = {}
    for family, package in _FONT_PACKAGES.items():
        path = importlib.import_module(package).sans_path()
        if not path.is_file():
            raise DataError(f"font package {package} does not contain its font file {path}; "
                            "reinstall it (make setup)")
        fontManager.addfont(str(path))
        found[family] = str(path)
    logging.getLogger("matplotlib.font_manager").addFilter(_SingleWeightFilter())
    return found


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise MissingTranslation(f"unknown report language {language!r}; expected one of {', '.join(LANGUAGES)}")


def font_families(language: str) -> list[str]:
    """``font.family`` for ``language``: DejaVu Sans, then the language's Noto font, then the
    other Noto font (so that a stray character of the other script still has a glyph)."""
    _check_language(language)
    first = CJK_FAMILIES.get(language, CJK_FAMILIES["zh-Hans"])
    return [LATIN_FAMILY, first, *[f for f in CJK_FAMILIES.values() if f != first]]


def _language_rc(language: str) -> dict:
    weight = "bold" if language == "en" else "normal"
    return {"font.family": font_families(language), "axes.titleweight": weight, "figure.titleweight": weight}


def title_weight(language: str) -> str:
    """The weight of titles: bold in English, regular in Chinese (one-weight Noto fonts)."""
    return "bold" if language == "en" else "normal"


def styled(func):
    """Run a figure function inside the report style (whitegrid, readable fonts, the fonts
    of its ``language`` keyword, default ``en``)."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        language = kwargs.get("language", "en")
        _check_language(language)
        register_fonts()
        # Ticks copy the properties of the first tick, created here, so the style
        # sticks even though later ticks are made at draw time.
        with sns.axes_style("whitegrid"), matplotlib.rc_context({**_RC, **_language_rc(language)}):
            fig = func(*args, **kwargs)
            if isinstance(fig, Figure):
                fit_texts(fig)
            return fig

    return wrapper


def _headings(fig: Figure):
    """The texts that may run wider than the figure: titles and horizontal axis labels."""
    found = [fig._suptitle] if fig._suptitle is not None else []
    for ax in fig.axes:
        found += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label]
    return [t for t in found if t.get_visible() and t.get_text().strip()]


def fit_texts(fig: Figure, margin_in: float = 0.1, rounds: int = 3) -> None:
    """Wrap titles and x-axis labels that would stick out of the figure (a wider PNG is
    shown smaller, so its text would shrink below the legibility rule). Chinese wraps
    between characters, Latin text at spaces."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    width = fig.get_figwidth() * fig.dpi
    margin = margin_in * fig.dpi
    for _ in range(rounds):
        fig.draw_without_rendering()
        renderer = fig.canvas.get_renderer()
        changed = False
        for item in _headings(fig):
            box = item.get_window_extent(renderer)
            if box.x0 >= -1 and box.x1 <= width + 1:
                continue
            anchor = {"left": box.x0, "right": box.x1}.get(item.get_horizontalalignment(), (box.x0 + box.x1) / 2)
            room = {"left": width - anchor, "right": anchor}.get(
                item.get_horizontalalignment(), 2 * min(anchor, width - anchor)) - margin
            value = item.get_text().replace("\n", " ") if _display_width(item.get_text()) == len(item.get_text()) \
                else item.get_text().replace("\n", "")
            longest = max(_display_width(line) for line in item.get_text().splitlines())
            characters = max(10, int(longest * room / max(box.width, 1) * 0.97))
            wrapped = wrap(value, characters)
            if wrapped != item.get_text():
                item.set_text(wrapped)
                changed = True
        if not changed:
            break


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, layout=None, **grid) -> tuple[Figure, object]:
    """A new :class:`Figure` and its axes, like ``pyplot.subplots`` but outside pyplot."""
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(nrows, ncols, **grid)


def rendered_points(font_pt: float, image_width_px: float) -> float:
    """The size (CSS points) at which a ``font_pt`` text of a PNG ``image_width_px`` wide,
    saved at :data:`DPI`, is seen in the report (shown at most :data:`REPORT_WIDTH_PX` wide)."""
    scale = min(1.0, REPORT_WIDTH_PX / image_width_px)
    return font_pt * DPI / 72 * scale * 0.75


def construct_name(code: str, language: str) -> str | None:
    """The catalog name of construct ``code`` (``construct.<code>``), or None for a code the
    catalog does not know (a model outside the study, e.g. Political Democracy's ``ind60``)."""
    if f"construct.{code}" not in catalog():
        return None
    return text(f"construct.{code}", language)


def construct_key(codes: Sequence[str], language: str, width: float = 95) -> str:
    """"EFF = efficiency · SYS = system availability · ..." for the codes the catalog names,
    wrapped between entries at about ``width`` Latin characters (a CJK character counts 2)."""
    entries = [text("plot.common.code_name", language, code=code, name=name)
               for code in dict.fromkeys(codes) if (name := construct_name(code, language))]
    if not entries:
        return ""
    separator = text("plot.common.key_separator", language)
    lines, current = [], ""
    for entry in entries:
        candidate = entry if not current else current + separator + entry
        if current and _display_width(candidate) > width:
            lines.append(current)
            current = entry
        else:
            current = candidate
    lines.append(current)
    return "\n".join(lines)


def _display_width(value: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in value)


def _em_width(value: str) -> float:
    """Rough width in em: a CJK character is 1 em, anything else about 0.6 em (DejaVu Sans)."""
    return sum(1.0 if ord(ch) > 0x2E7F else 0.6 for ch in value)


def wrap(value: str, width: int) -> str:
    """Wrap ``value`` at about ``width`` Latin characters: at spaces for Latin text, between
    any two characters for Chinese (which has no spaces)."""
    if " " in value.strip() and _display_width(value) == len(value):
        return textwrap.fill(value, width)
    lines, current = [], ""
    for ch in value:
        if _display_width(current + ch) > width and current:
            lines.append(current)
            current = ch.lstrip()
        else:
            current += ch
    lines.append(current)
    return "\n".join(lines)


#: Compact legend spacing (in font sizes) used with :func:`legend_columns`.
COMPACT_LEGEND = {"handlelength": 1.4, "handletextpad": 0.5, "columnspacing": 1.2}


def legend_columns(labels: Sequence[str], width_in: float, fontsize: float = _RC["legend.fontsize"]) -> int:
    """The most legend columns (up to one per label) whose rows fit in ``width_in`` inches,
    estimating a Latin character at 0.6 em and a CJK character at 1 em, with the
    :data:`COMPACT_LEGEND` spacing."""
    labels = [str(label) for label in labels]
    per_entry = (COMPACT_LEGEND["handlelength"] + COMPACT_LEGEND["handletextpad"]
                 + COMPACT_LEGEND["columnspacing"] + 0.6) * fontsize
    for ncol in range(len(labels), 1, -1):
        columns = [labels[k::ncol] for k in range(ncol)]
        widest = sum(max(fontsize * _em_width(line) for label in column for line in label.splitlines() or [""])
                     for column in columns)
        if (widest + ncol * per_entry) / 72 <= width_in:
            return ncol
    return 1


def plain_number(value: float, language: str) -> str:
    """A tick value as short as it allows (``0.5``, ``2``, ``1,000``) in the language's format."""
    short = f"{float(value):g}"
    digits = len(short.split(".")[1]) if "." in short and "e" not in short else 0
    return format_number(value, language, min(digits, 4))


def _format_tick(value: float, _position, *, kind: str, language: str, scale: float = 1.0,
                 absolute: bool = False) -> str:
    value = abs(value) if absolute else value
    if kind == "percent":
        return format_percent(value / scale, language)
    if kind == "integer":
        return format_integer(value, language)
    if kind == "count":  # log axes: 1,000 / 10 / 0.1
        return format_integer(value, language) if value >= 1 else plain_number(value, language)
    if kind == "plain":
        return plain_number(value, language)
    if kind == "signed":
        return "0" if abs(value) < 1e-9 else format_number(value, language, 1, bounded=True)
    if kind == "blank":
        return ""
    raise ValueError(f"tick_formatter: unknown kind {kind!r}")


def tick_formatter(kind: str, language: str, *, scale: float = 1.0, absolute: bool = False) -> FuncFormatter:
    """Tick labels in the report language: ``percent`` (value / scale as a share), ``integer``,
    ``count`` (integers, small values as decimals), ``plain``, ``signed`` (.5, -.2; "0") or ``blank``.

    A :func:`functools.partial` of a module-level function rather than a lambda, so a figure
    can be pickled and saved in the figure-writer process (:mod:`analysis.plots.writer`).
    """
    return FuncFormatter(functools.partial(_format_tick, kind=kind, language=language, scale=scale,
                                           absolute=absolute))


def _require_columns(data: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"{what}: expected a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DataError(
            f"{what}: missing column(s) {missing}; expected {list(columns)}, "
            f"got {list(map(str, data.columns))}"
        )

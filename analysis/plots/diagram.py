"""Structural path diagram of a fitted SEM, drawn with plain matplotlib (no graphviz).

Latent variables are ellipses (observed variables in structural paths are boxes); arrows
show regressions (``op == "~"``, predictor -> outcome) and second-order loadings
(``op == "=~"`` between latents, factor -> dimension); dashed double-headed arcs show
covariances between latents. Each arrow carries its standardized coefficient and
significance stars. Item loadings are not drawn; see :func:`analysis.plots.survey.loadings_plot`.
Where nodes, arrows and labels go is computed in :mod:`analysis.plots.diagram_layout`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch

from analysis.errors import DataError
from analysis.i18n import format_number, text
from analysis.plots.diagram_layout import (
    INCHES_PER_UNIT,
    LABEL_FONT,
    NODE_FONT,
    _choose_layout,
    _Edge,
    _Node,
    _pick_radius,
    _place_label,
    _sample_curve,
    _text_size,
)
from analysis.plots.style import (
    BLUE,
    GREY,
    ORANGE,
    SMALL_FONT,
    construct_key,
    styled,
    title_weight,
    wrap,
)

__all__ = ["significance_stars", "path_diagram"]

MIN_WIDTH_IN = 6.5
#: Characters per line of the note under the diagram (9 pt on a figure of about 7 in).
NOTE_CHARACTERS = 92


def significance_stars(pvalue) -> str:
    """``***`` p < .001, ``**`` p < .01, ``*`` p < .05, else empty (also for missing p)."""
    try:
        p = float(pvalue)
    except (TypeError, ValueError):
        return ""
    if not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def _read_edges(estimates: pd.DataFrame) -> tuple[list[str], set[str], list[_Edge]]:
    missing = [c for c in ("lhs", "op", "rhs") if c not in getattr(estimates, "columns", [])]
    if missing:
        got = list(getattr(estimates, "columns", []))
        raise DataError(f"path_diagram: estimates lacks column(s) {missing}; got {got}")
    table = estimates.reset_index(drop=True)

    def numbers(column):
        if column not in table.columns:
            return [None] * len(table)
        values = pd.to_numeric(table[column], errors="coerce")
        return [None if pd.isna(v) else float(v) for v in values]

    coefs = numbers("std_all" if "std_all" in table.columns else "est")
    pvalues = numbers("pvalue")
    ops, lhs, rhs = table["op"], table["lhs"].astype(str), table["rhs"].astype(str)
    latents = set(lhs[ops == "=~"])
    edges, nodes = [], list(dict.fromkeys(lhs[ops == "=~"]))
    for i in range(len(table)):
        if ops[i] == "~":
            edges.append(_Edge(rhs[i], lhs[i], "path", coefs[i], pvalues[i]))
            nodes += [rhs[i], lhs[i]]
        elif ops[i] == "=~" and rhs[i] in latents:
            edges.append(_Edge(lhs[i], rhs[i], "loading", coefs[i], pvalues[i]))
    nodes = list(dict.fromkeys(nodes))
    edges += [_Edge(lhs[i], rhs[i], "covariance", coefs[i], pvalues[i])
              for i in range(len(table))
              if ops[i] == "~~" and lhs[i] != rhs[i] and lhs[i] in nodes and rhs[i] in nodes]
    if not nodes:
        raise DataError("path_diagram: estimates has no latent variables ('=~' rows) "
                        "and no structural paths ('~' rows); nothing to draw")
    return nodes, latents, edges


def _label_text(edge: _Edge, language: str) -> str:
    return "" if edge.coef is None else f"{format_number(edge.coef, language, 2)}{significance_stars(edge.pvalue)}"


def _canvas(nodes, curves, note_lines: int):
    """Axes whose data units map to the same length on both axes (arc3 bends assume it)."""
    xs = [n.x + k * n.width / 2 for n in nodes.values() for k in (-1, 1)]
    ys = [n.y + k * n.height / 2 for n in nodes.values() for k in (-1, 1)]
    for cx, cy in curves.values():
        xs += list(cx)
        ys += list(cy)
    x0, x1, y0, y1 = min(xs) - 0.35, max(xs) + 0.35, min(ys) - 0.5, max(ys) + 0.5
    spare = max(0.0, MIN_WIDTH_IN / INCHES_PER_UNIT - (x1 - x0)) / 2  # room for title/note
    x0, x1 = x0 - spare, x1 + spare
    top_in, bottom_in = 0.65, 0.25 + 0.19 * note_lines
    width_in, height_in = (x1 - x0) * INCHES_PER_UNIT, (y1 - y0) * INCHES_PER_UNIT
    total_h = height_in + top_in + bottom_in
    fig = Figure(figsize=(width_in, total_h))
    ax = fig.add_axes((0, bottom_in / total_h, 1, height_in / total_h))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax, total_h


def _note(estimates, edges, names, language: str) -> str:
    """The note under the diagram: what the numbers are, the stars, line styles, the codes."""
    has_p = any(e.pvalue is not None for e in edges)
    parts = [text("plot.path.standardized" if "std_all" in estimates.columns else "plot.path.unstandardized",
                  language)]
    if has_p:
        parts.append(text("plot.path.significance", language,
                          **{f"p{k}": format_number(v, language, len(k), bounded=True)
                             for k, v in (("001", 0.001), ("01", 0.01), ("05", 0.05))}))
        if any(e.pvalue is None and e.coef is not None and e.kind != "covariance" for e in edges):
            parts.append(text("plot.path.fixed", language))
    if any(e.kind == "covariance" for e in edges):
        parts.append(text("plot.path.covariances", language))
    lines = [wrap("".join(parts).strip(), NOTE_CHARACTERS)]
    key = construct_key(names, language, width=NOTE_CHARACTERS)
    return "\n".join(lines + ([key] if key else []))


def _draw_nodes(ax, nodes, edges, r2, language):
    """Ellipses (latent) or boxes (observed), coloured by role, with name and R²."""
    targets = {e.target for e in edges if e.kind in ("path", "loading")}
    dimensions = {e.target for e in edges if e.kind == "loading"}
    patches = {}
    for node in nodes.values():
        base = GREY if node.name in dimensions else ORANGE if node.name in targets else BLUE
        style = {"facecolor": sns.blend_palette([base, "white"], 5)[3],
                 "edgecolor": "#333333", "linewidth": 1.4, "zorder": 3}
        if node.latent:
            patch = Ellipse((node.x, node.y), node.width, node.height, **style)
        else:
            patch = FancyBboxPatch((node.x - node.width / 2, node.y - node.height / 2),
                                   node.width, node.height, boxstyle="square,pad=0", **style)
        patches[node.name] = ax.add_patch(patch)
        ax.text(node.x, node.y + (0.16 if node.name in r2 else 0), node.name, ha="center",
                va="center", fontsize=NODE_FONT, fontweight="bold", zorder=4)
        if node.name in r2:
            ax.text(node.x, node.y - 0.24, f"R² = {format_number(float(r2[node.name]), language, 2)}",
                    ha="center", va="center", fontsize=SMALL_FONT, zorder=4)
    return patches


@styled
def path_diagram(
    estimates: pd.DataFrame,
    latents_layout: Mapping[str, tuple[float, float]] | None = None,
    title: str | None = None,
    *,
    r2: Mapping[str, float] | None = None,
    show_covariances: bool = True,
    language: str = "en",
) -> Figure:
    """Draw the structural model with standardized coefficients and significance stars.

    Parameters
    ----------
    estimates : DataFrame
        Lavaan-style table (``lhs, op, rhs`` and ideally ``std_all``, ``pvalue``). Without
        ``std_all`` the unstandardized ``est`` is shown; without ``pvalue``, no stars.
    latents_layout : mapping, optional
        Node name -> (x, y) in diagram units (about 3.3 between columns). Default: the
        study layout when the model uses only its constructs, otherwise an automatic
        left-to-right layering of the directed graph (:func:`layered_layout`).
    title : str, optional
    r2 : mapping, optional
        Node name -> R², printed inside the node.
    show_covariances : bool
        Draw covariances between latents (dashed double-headed arcs).
    language : str
        Report language of the title, the note and the key of construct codes (codes the
        catalog names are spelled out under the diagram).

    Notes
    -----
    Labels read ``0.55***``: standardized coefficient (lavaan ``std.all``), *** p < .001,
    ** p < .01, * p < .05. Non-significant arrows are dashed grey. Arrows that would cross
    another node are bent (quadratic arcs), and labels slide along their arrow until they
    clear every node and earlier label. The R counterpart is
    ``semPlot::semPaths(fit, what = "std", layout = "tree2", rotation = 2)``, minus items.
    """
    names, latents, edges = _read_edges(estimates)
    if not show_covariances:
        edges = [e for e in edges if e.kind != "covariance"]
    positions = _choose_layout(names, edges, latents_layout)
    r2 = dict(r2 or {})
    nodes: dict[str, _Node] = {}
    for name in names:
        width = max(1.6, _text_size(name, NODE_FONT, "bold")[0] + 0.7)
        if name in r2:  # room for "R² = 0.54" in the lower part of the ellipse
            width = max(width, _text_size("R² = 0.00", SMALL_FONT)[0] + 0.9)
        nodes[name] = _Node(name, *positions[name], width, 1.15 if name in r2 else 0.85,
                            name in latents)
    radii, curves = {}, {}
    # Short arrows first: the long ones, which have room to bend, then route around them.
    for e in sorted(edges, key=lambda e: abs(nodes[e.source].x - nodes[e.target].x)):
        radii[e] = _pick_radius(e, nodes, edges, list(curves.values()))
        curves[e] = _sample_curve(e, nodes, radii[e])
    note = _note(estimates, edges, names, language)
    ax, total_h = _canvas(nodes, curves, note.count("\n") + 1)
    fig = ax.figure
    patches = _draw_nodes(ax, nodes, edges, r2, language)
    has_p = any(e.pvalue is not None for e in edges)
    placed: list[tuple[float, float, float, float]] = []
    for edge in edges:
        rad = radii[edge]
        significant = not has_p or edge.pvalue is None or edge.pvalue < 0.05
        color = (BLUE if edge.kind == "loading" else "#222222") if significant else "#8c8c8c"
        both = edge.kind == "covariance"
        ax.add_patch(FancyArrowPatch(
            (nodes[edge.source].x, nodes[edge.source].y),
            (nodes[edge.target].x, nodes[edge.target].y),
            patchA=patches[edge.source], patchB=patches[edge.target],
            arrowstyle="<|-|>" if both else "-|>", mutation_scale=14,
            connectionstyle=f"arc3,rad={rad}", shrinkA=2, shrinkB=2, color=color,
            linewidth=1.2 if both else 1.5,
            linestyle="--" if both or not significant else "-", zorder=2,
        ))
        label = _label_text(edge, language)
        if label:
            x, y = _place_label(edge, rad, nodes, placed, label, curves)
            ax.text(x, y, label, ha="center", va="center", fontsize=LABEL_FONT, color=color,
                    zorder=5, bbox={"boxstyle": "round,pad=0.18", "facecolor": "white",
                                    "edgecolor": "none", "alpha": 0.92})
    fig.text(0.5, 0.12 / total_h, note, ha="center", va="bottom", fontsize=SMALL_FONT, color="#444444",
             linespacing=1.35)
    fig.text(0.5, 1 - 0.32 / total_h, title or text("plot.path.title", language), ha="center", va="center",
             fontsize=12.5, fontweight=title_weight(language))
    return fig

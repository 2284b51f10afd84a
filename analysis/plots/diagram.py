"""Structural path diagram of a fitted SEM, drawn with plain matplotlib (no graphviz).

Latent variables are ellipses (observed variables in structural paths are boxes); arrows
show regressions (``op == "~"``, predictor -> outcome) and second-order loadings
(``op == "=~"`` between latents, factor -> dimension); dashed double-headed arcs show
covariances between latents. Each arrow carries its standardized coefficient and
significance stars. Item loadings are not drawn; see :func:`analysis.plots.survey.loadings_plot`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch
from matplotlib.textpath import TextPath

from analysis.errors import ConfigError, DataError
from analysis.plots.style import BLUE, GREY, ORANGE, plt, styled

__all__ = ["STUDY_LAYOUT", "layered_layout", "significance_stars", "path_diagram"]

# Study model: ESQ dimensions left, ESQ, then TRU/VAL, SAT, LOY (data units).
STUDY_LAYOUT: dict[str, tuple[float, float]] = {
    "EFF": (0.0, 2.4), "SYS": (0.0, 0.8), "FUL": (0.0, -0.8), "PRI": (0.0, -2.4),
    "ESQ": (3.5, 0.0), "TRU": (6.5, 1.8), "VAL": (6.5, -1.8), "SAT": (9.5, 0.0),
    "LOY": (13.1, 0.0),
}
INCHES_PER_UNIT = 0.62
MIN_WIDTH_IN = 6.5
NODE_FONT, LABEL_FONT = 11.0, 9.5
_RADII = (0.0, 0.18, -0.18, 0.28, -0.28, 0.4, -0.4, 0.55, -0.55, 0.7, -0.7)
_LABEL_T = (0.5, 0.42, 0.58, 0.35, 0.65, 0.28, 0.72, 0.22, 0.78)


def significance_stars(pvalue) -> str:
    """``***`` p < .001, ``**`` p < .01, ``*`` p < .05, else empty (also for missing p)."""
    try:
        p = float(pvalue)
    except (TypeError, ValueError):
        return ""
    if not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def layered_layout(
    nodes: Sequence[Hashable],
    edges: Sequence[tuple[Hashable, Hashable]],
    *,
    x_gap: float = 3.3,
    y_gap: float = 1.6,
) -> dict[Hashable, tuple[float, float]]:
    """Left-to-right layered positions: longest-path layering plus barycentre ordering.

    A node's layer is one more than the deepest of its predecessors (edges point left to
    right); feedback loops are broken at their DFS back edge. Within a layer, nodes are
    ordered by the mean height of their neighbours (a few down and up sweeps), then
    spaced ``y_gap`` apart around zero (up to twice that in short layers).
    """
    order = list(dict.fromkeys(nodes))
    succ: dict[Hashable, list] = {n: [] for n in order}
    for a, b in edges:
        if a != b and a in succ and b in succ and b not in succ[a]:
            succ[a].append(b)
    state: dict[Hashable, int] = {}
    forward: dict[Hashable, list] = {n: [] for n in order}

    def visit(node):  # graphs here have tens of nodes, so recursion depth is no issue
        state[node] = 1
        for nxt in succ[node]:
            if state.get(nxt) == 1:
                continue  # back edge of a feedback loop
            forward[node].append(nxt)
            if nxt not in state:
                visit(nxt)
        state[node] = 2

    for node in order:
        if node not in state:
            visit(node)
    preds: dict[Hashable, list] = {n: [] for n in order}
    for a, targets in forward.items():
        for b in targets:
            preds[b].append(a)
    layer: dict[Hashable, int] = {}

    def depth(node):
        if node not in layer:
            layer[node] = 1 + max((depth(p) for p in preds[node]), default=-1)
        return layer[node]

    for node in order:
        depth(node)
    depth_count = max(layer.values(), default=-1) + 1
    layers = [[n for n in order if layer[n] == k] for k in range(depth_count)]

    tallest = max((len(m) for m in layers), default=1)

    def heights(members):
        # Short layers spread out (up to twice the gap) so their arrows fan out readably.
        gap = y_gap if len(members) < 2 else min(2 * y_gap, max(
            y_gap, (tallest - 1) * y_gap / (len(members) - 1)))
        return {n: ((len(members) - 1) / 2 - k) * gap for k, n in enumerate(members)}

    y = {n: h for members in layers for n, h in heights(members).items()}
    for sweep in range(4):
        downward = sweep % 2 == 0
        sequence = range(1, len(layers)) if downward else range(len(layers) - 2, -1, -1)
        for k in sequence:
            def key(n):
                near = preds[n] if downward else forward[n]
                return -np.mean([y[m] for m in near]) if near else -y[n]

            layers[k] = sorted(layers[k], key=key)
            y.update(heights(layers[k]))
    return {n: (layer[n] * x_gap, y[n]) for n in order}


@dataclass
class _Node:
    name: str
    x: float
    y: float
    width: float
    height: float
    latent: bool

    def overlaps(self, px, py, margin: float = 0.0):
        dx, dy = np.abs(px - self.x), np.abs(py - self.y)
        a, b = self.width / 2 + margin, self.height / 2 + margin
        if self.latent:
            return (dx / a) ** 2 + (dy / b) ** 2 <= 1
        return (dx <= a) & (dy <= b)


@dataclass(eq=False)
class _Edge:
    source: str
    target: str
    kind: str  # "path", "loading" or "covariance"
    coef: float | None
    pvalue: float | None


def _text_size(text: str, size: float, weight: str = "normal") -> tuple[float, float]:
    extent = TextPath((0, 0), text, size=size, prop=FontProperties(weight=weight)).get_extents()
    to_units = 1 / 72 / INCHES_PER_UNIT
    return extent.width * to_units, size * 1.25 * to_units


def _bezier(p0, p2, rad, t):
    (x0, y0), (x2, y2) = p0, p2
    # Same control point as matplotlib's "arc3" connection style (valid at equal aspect).
    cx, cy = (x0 + x2) / 2 + rad * (y2 - y0), (y0 + y2) / 2 - rad * (x2 - x0)
    t = np.asarray(t, dtype=float)
    return ((1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t**2 * x2,
            (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t**2 * y2)


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


def _choose_layout(nodes, edges, latents_layout):
    if latents_layout is not None:
        absent = [n for n in nodes if n not in latents_layout]
        if absent:
            raise ConfigError(f"path_diagram: latents_layout has no position for {absent}; "
                              f"it has {sorted(latents_layout)}")
        return {n: tuple(map(float, latents_layout[n])) for n in nodes}
    if "ESQ" in nodes and set(nodes) <= set(STUDY_LAYOUT):
        return {n: STUDY_LAYOUT[n] for n in nodes}
    # Second-order dimensions go left of their factor, so layering follows the reading order.
    links = [(e.source, e.target) if e.kind == "path" else (e.target, e.source)
             for e in edges if e.kind != "covariance"]
    return layered_layout(nodes, links)


def _label_text(edge: _Edge) -> str:
    return "" if edge.coef is None else f"{edge.coef:.2f}{significance_stars(edge.pvalue)}"


def _pick_radius(edge, nodes, edges, drawn):
    """Smallest bend that keeps the arrow off other nodes and off arrows already ``drawn``
    (a list of sampled (xs, ys)); nodes weigh far more than running alongside an arrow."""
    a, b = nodes[edge.source], nodes[edge.target]
    reciprocal = any(e.source == edge.target and e.target == edge.source for e in edges)
    others = [n for n in nodes.values() if n.name not in (edge.source, edge.target)]
    t = np.linspace(0.03, 0.97, 90)
    radii = [r for r in _RADII if r != 0] if reciprocal or edge.kind == "covariance" else _RADII
    best, lowest = radii[0], np.inf
    for rad in radii:
        xs, ys = _bezier((a.x, a.y), (b.x, b.y), rad, t)
        cost = 100 * sum(int(n.overlaps(xs, ys, margin=0.14).sum()) for n in others)
        # Arrows meeting at a shared node may touch there; elsewhere they should not run together.
        free = ~a.overlaps(xs, ys, margin=0.45) & ~b.overlaps(xs, ys, margin=0.45)
        step = float(np.hypot(np.diff(xs), np.diff(ys)).mean())
        for dx, dy in drawn:
            if len(dx):
                gaps = np.hypot(xs[free, None] - dx[None, :], ys[free, None] - dy[None, :])
                near = gaps.min(axis=1, initial=np.inf) < 0.1
                cost += _alongside(near, run=max(3, int(np.ceil(0.9 / step))))
        if cost < lowest:
            best, lowest = rad, cost
        if cost == 0:
            break
    return best


def _alongside(near: np.ndarray, run: int) -> int:
    """Samples in stretches of at least ``run`` consecutive near points: crossing an arrow
    is fine, running along one is not."""
    total, length = 0, 0
    for flag in np.append(near, False):
        if flag:
            length += 1
        else:
            total += length if length >= run else 0
            length = 0
    return total


def _sample_curve(edge, nodes, rad):
    a, b = nodes[edge.source], nodes[edge.target]
    xs, ys = _bezier((a.x, a.y), (b.x, b.y), rad, np.linspace(0, 1, 120))
    outside = ~a.overlaps(xs, ys) & ~b.overlaps(xs, ys)
    return xs[outside], ys[outside]


def _label_spots(edge, rad, nodes, width, height):
    """Candidate (x, y, penalty) spots: along the arrow, or first beside it when the label
    would hide most of a short arrow."""
    a, b = nodes[edge.source], nodes[edge.target]
    t = np.linspace(0, 1, 201)
    xs, ys = _bezier((a.x, a.y), (b.x, b.y), rad, t)
    visible = ~a.overlaps(xs, ys) & ~b.overlaps(xs, ys)
    steps = np.hypot(np.diff(xs), np.diff(ys))
    length = float(steps[visible[1:] & visible[:-1]].sum())
    along = [(*(float(v) for v in _bezier((a.x, a.y), (b.x, b.y), rad, u)), 0)
             for u in _LABEL_T]
    if width < 0.52 * length or not visible.any():
        return along
    middle = float(np.median(t[visible]))
    x, y = (float(v) for v in _bezier((a.x, a.y), (b.x, b.y), rad, middle))
    dx, dy = (float(v) for v in np.subtract(
        _bezier((a.x, a.y), (b.x, b.y), rad, middle + 1e-3),
        _bezier((a.x, a.y), (b.x, b.y), rad, middle - 1e-3)))
    nx, ny = -dy / np.hypot(dx, dy), dx / np.hypot(dx, dy)
    if ny < 0 or (ny == 0 and nx < 0):
        nx, ny = -nx, -ny  # prefer the upper (or right) side
    reach = abs(nx) * width / 2 + abs(ny) * height / 2 + 0.06
    # On a cramped arrow, sitting on it hides most of the line: worth two crossings elsewhere.
    beside = [(x + nx * reach, y + ny * reach, 0), (x - nx * reach, y - ny * reach, 0)]
    return beside + [(x, y, 2) for x, y, _ in along]


def _arrowheads(curves):
    for edge, (xs, ys) in curves.items():
        if len(xs):
            yield xs[-1], ys[-1]
            if edge.kind == "covariance":
                yield xs[0], ys[0]


def _place_label(edge, rad, nodes, placed, text, curves):
    """Best spot for a label: never on a node or earlier label if avoidable, then fewest
    other arrows underneath. ``curves`` maps other edges to sampled (xs, ys)."""
    width, height = _text_size(text, LABEL_FONT)
    width, height = width + 0.16, height + 0.08
    best, lowest = None, np.inf
    for x, y, penalty in _label_spots(edge, rad, nodes, width, height):
        xs = x + np.array([-1, 0, 1, -1, 1, -1, 0, 1]) * width / 2
        ys = y + np.array([-1, -1, -1, 0, 0, 1, 1, 1]) * height / 2
        cost = penalty + 10 * sum(int(n.overlaps(xs, ys, margin=0.05).sum())
                                  for n in nodes.values())
        cost += 10 * sum(abs(x - px) < (width + pw) / 2 and abs(y - py) < (height + ph) / 2
                         for px, py, pw, ph in placed)
        cost += sum(bool(np.any((np.abs(cx - x) < width / 2) & (np.abs(cy - y) < height / 2)))
                    for other, (cx, cy) in curves.items() if other is not edge)
        cost += 10 * sum(abs(hx - x) < width / 2 + 0.22 and abs(hy - y) < height / 2 + 0.22
                         for hx, hy in _arrowheads(curves))
        if cost < lowest:
            best, lowest = (x, y), cost
        if cost == 0:
            break
    placed.append((*best, width, height))
    return best


def _canvas(nodes, curves):
    """Axes whose data units map to the same length on both axes (arc3 bends assume it)."""
    xs = [n.x + k * n.width / 2 for n in nodes.values() for k in (-1, 1)]
    ys = [n.y + k * n.height / 2 for n in nodes.values() for k in (-1, 1)]
    for cx, cy in curves.values():
        xs += list(cx)
        ys += list(cy)
    x0, x1, y0, y1 = min(xs) - 0.5, max(xs) + 0.5, min(ys) - 0.6, max(ys) + 0.6
    spare = max(0.0, MIN_WIDTH_IN / INCHES_PER_UNIT - (x1 - x0)) / 2  # room for title/note
    x0, x1 = x0 - spare, x1 + spare
    top_in, bottom_in = 0.65, 0.45
    width_in, height_in = (x1 - x0) * INCHES_PER_UNIT, (y1 - y0) * INCHES_PER_UNIT
    total_h = height_in + top_in + bottom_in
    fig = plt.figure(figsize=(width_in, total_h))
    ax = fig.add_axes((0, bottom_in / total_h, 1, height_in / total_h))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax, total_h


def _draw_nodes(ax, nodes, edges, r2):
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
        ax.text(node.x, node.y + (0.14 if node.name in r2 else 0), node.name, ha="center",
                va="center", fontsize=NODE_FONT, fontweight="bold", zorder=4)
        if node.name in r2:
            ax.text(node.x, node.y - 0.2, f"R² = {float(r2[node.name]):.2f}", ha="center",
                    va="center", fontsize=LABEL_FONT - 0.5, zorder=4)
    return patches


@styled
def path_diagram(
    estimates: pd.DataFrame,
    latents_layout: Mapping[str, tuple[float, float]] | None = None,
    title: str | None = None,
    *,
    r2: Mapping[str, float] | None = None,
    show_covariances: bool = True,
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
        width = max(1.5, _text_size(name, NODE_FONT, "bold")[0] + 0.7)
        nodes[name] = _Node(name, *positions[name], width, 1.0 if name in r2 else 0.78,
                            name in latents)
    radii, curves = {}, {}
    # Short arrows first: the long ones, which have room to bend, then route around them.
    for e in sorted(edges, key=lambda e: abs(nodes[e.source].x - nodes[e.target].x)):
        radii[e] = _pick_radius(e, nodes, edges, list(curves.values()))
        curves[e] = _sample_curve(e, nodes, radii[e])
    ax, total_h = _canvas(nodes, curves)
    fig = ax.figure
    patches = _draw_nodes(ax, nodes, edges, r2)
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
            arrowstyle="<|-|>" if both else "-|>", mutation_scale=15,
            connectionstyle=f"arc3,rad={rad}", shrinkA=2, shrinkB=2, color=color,
            linewidth=1.2 if both else 1.6,
            linestyle="--" if both or not significant else "-", zorder=2,
        ))
        text = _label_text(edge)
        if text:
            x, y = _place_label(edge, rad, nodes, placed, text, curves)
            ax.text(x, y, text, ha="center", va="center", fontsize=LABEL_FONT, color=color,
                    zorder=5, bbox={"boxstyle": "round,pad=0.18", "facecolor": "white",
                                    "edgecolor": "none", "alpha": 0.92})

    coefficient = "Standardized" if "std_all" in estimates.columns else "Unstandardized"
    note = f"{coefficient} coefficients."
    if has_p:
        note += " *** p < .001, ** p < .01, * p < .05; dashed grey = not significant."
        if any(e.pvalue is None and e.coef is not None and e.kind != "covariance" for e in edges):
            note += " No test: fixed for identification."
    if any(e.kind == "covariance" for e in edges):
        note += " Double-headed arcs: covariances."
    fig.text(0.5, 0.18 / total_h, note, ha="center", va="center", fontsize=8.5, color="#444444")
    fig.text(0.5, 1 - 0.32 / total_h, title or "Structural model", ha="center", va="center",
             fontsize=13, fontweight="bold")
    return fig

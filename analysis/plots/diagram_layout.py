"""Layout geometry of the path diagram: node positions, arrow bends and label spots.

Positions come from :data:`STUDY_LAYOUT` (the study model), a caller's layout or
:func:`layered_layout` (automatic left-to-right layering); arrows are quadratic arcs
bent to clear other nodes and arrows, and labels slide along them to free spots. All in
diagram units; nothing is drawn here. :mod:`analysis.plots.diagram` draws the result.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextPath

from analysis.errors import ConfigError

__all__ = ["STUDY_LAYOUT", "layered_layout"]

# Study model: ESQ dimensions left, ESQ, then TRU/VAL, SAT, LOY (data units).
STUDY_LAYOUT: dict[str, tuple[float, float]] = {
    "EFF": (0.0, 2.4), "SYS": (0.0, 0.8), "FUL": (0.0, -0.8), "PRI": (0.0, -2.4),
    "ESQ": (3.0, 0.0), "TRU": (6.0, 1.8), "VAL": (6.0, -1.8), "SAT": (9.0, 0.0),
    "LOY": (12.3, 0.0),
}
# 0.5 in per unit keeps the study model within the report's 7.5 in figure width
# (see analysis.plots.style: fonts of 9 pt or more then stay legible at 760 px).
INCHES_PER_UNIT = 0.5
NODE_FONT, LABEL_FONT = 10.5, 9.5
_RADII = (0.0, 0.18, -0.18, 0.28, -0.28, 0.4, -0.4, 0.55, -0.55, 0.7, -0.7)
_LABEL_T = (0.5, 0.42, 0.58, 0.35, 0.65, 0.28, 0.72, 0.22, 0.78)


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

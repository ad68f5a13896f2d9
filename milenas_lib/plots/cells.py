"""DARTS-style cell diagrams drawn with matplotlib alone (no system graphviz).

Inputs ``c_{k-2}`` and ``c_{k-1}`` on the left, the four intermediate nodes
0-3 in a zig-zag, the output ``c_{k}`` (the concatenation of nodes 0-3) on the
right; every kept edge is an arrow labelled with its operation, coloured by
operation family.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

from matplotlib.patches import FancyArrowPatch

from ..space.genotype import EDGES_PER_NODE, NUM_NODES, Genotype
from .style import figure, titled

#: Colour by op family (sep convs greens, dilated convs purples, pools browns,
#: skip blue) so that a cell's make-up shows at a glance.
OP_COLORS = {
    "sep_conv_3x3": "#1b7837", "sep_conv_5x5": "#5aae61",
    "dil_conv_3x3": "#762a83", "dil_conv_5x5": "#9970ab",
    "max_pool_3x3": "#b35806", "avg_pool_3x3": "#e08214",
    "skip_connect": "#2166ac", "none": "#999999",
}
OP_SHORT = {"sep_conv_3x3": "sep 3x3", "sep_conv_5x5": "sep 5x5", "dil_conv_3x3": "dil 3x3",
            "dil_conv_5x5": "dil 5x5", "max_pool_3x3": "max pool", "avg_pool_3x3": "avg pool",
            "skip_connect": "skip", "none": "none"}

# Nodes sit on an ellipse (convex position), so no edge between two of them
# passes through a third: inputs on the left, intermediate nodes alternating
# top and bottom from left to right; the output c_{k} is outside on the right.
_A, _B = 3.7, 2.1
_ANGLES = {0: 158, 1: 202, 2: 97, 3: 263, 4: 38, 5: 322}
_POS: dict = {key: (_A * math.cos(math.radians(a)), _B * math.sin(math.radians(a))) for key, a in _ANGLES.items()}
_POS["out"] = (_A + 2.3, 0.0)
_NAMES = {0: "$c_{k-2}$", 1: "$c_{k-1}$", 2: "0", 3: "1", 4: "2", 5: "3", "out": "$c_{k}$"}


def _node(ax, key, radius: float = 0.42) -> None:
    x, y = _POS[key]
    if key in (0, 1, "out"):
        face, edge = ("#fde0b6", "#b35806") if key != "out" else ("#d9f0d3", "#1b7837")
        ax.add_patch(_rounded(x, y, face, edge))
    else:
        from matplotlib.patches import Circle

        ax.add_patch(Circle((x, y), radius, facecolor="#deebf7", edgecolor="#2166ac", linewidth=1.4, zorder=3))
    ax.text(x, y, _NAMES[key], ha="center", va="center", fontsize=11, zorder=4)


def _rounded(x: float, y: float, face: str, edge: str):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((x - 0.55, y - 0.36), 1.1, 0.72, boxstyle="round,pad=0.05", facecolor=face,
                          edgecolor=edge, linewidth=1.4, zorder=3)


def _curve_point(p0, p1, rad: float, t: float = 0.5):
    """A point of matplotlib's ``arc3`` Bezier curve (equal-aspect axes)."""
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2 + rad * dy, (y0 + y1) / 2 - rad * dx
    return ((1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t ** 2 * x1,
            (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t ** 2 * y1)


def _label_spot(p0, p1, rad: float, text: str, placed: list) -> tuple[float, float]:
    """Where to put an edge label: try points along the edge from the middle
    outwards; keep the first whose box overlaps no node and no earlier label."""
    half_w, half_h = 0.085 * len(text) + 0.12, 0.2
    best, best_overlap = None, math.inf
    for t in (0.5, 0.4, 0.6, 0.32, 0.68, 0.25, 0.75):
        x, y = _curve_point(p0, p1, rad, t)
        box = (x - half_w, y - half_h, x + half_w, y + half_h)
        overlap = sum(_area(box, other) for other in placed)
        overlap += sum(_area(box, (nx - 0.5, ny - 0.45, nx + 0.5, ny + 0.45)) for nx, ny in _POS.values())
        if overlap < best_overlap - 1e-9:
            best, best_overlap = box, overlap
        if overlap == 0:
            break
    placed.append(best)
    return (best[0] + best[2]) / 2, (best[1] + best[3]) / 2


def _area(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def draw_cell(ax, edges: Sequence[tuple[str, int]], title: Optional[str] = None) -> None:
    """Draw one cell (8 edges ``(op, input)``) on ``ax``."""
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_xlim(-_A - 0.8, _A + 3.0)
    ax.set_ylim(-_B - 0.6, _B + 0.6)
    for key in _POS:
        _node(ax, key)
    placed: list[tuple[float, float, float, float]] = []
    for position, (op, source) in enumerate(edges):
        target = 2 + position // EDGES_PER_NODE
        rad = 0.0
        p0, p1 = _POS[source], _POS[target]
        color = OP_COLORS.get(op, "black")
        ax.add_patch(FancyArrowPatch(p0, p1, connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
                                     mutation_scale=12, color=color, linewidth=1.8, shrinkA=20, shrinkB=15,
                                     zorder=2))
        # Greedy label placement: the first point along the edge whose label
        # box clears the nodes and the labels already placed.
        lx, ly = _label_spot(p0, p1, rad, OP_SHORT.get(op, op), placed)
        ax.text(lx, ly, OP_SHORT.get(op, op), fontsize=8.5, ha="center", va="center", color=color, zorder=5,
                bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor=color, linewidth=0.6))
    for node in range(2, 2 + NUM_NODES):
        bend = {2: -0.3, 3: 0.3}.get(node, 0.0)  # the far nodes arc around the near ones
        ax.add_patch(FancyArrowPatch(_POS[node], _POS["out"], connectionstyle=f"arc3,rad={bend}", arrowstyle="-|>",
                                     mutation_scale=10, color="0.6", linewidth=1.0, linestyle="--", shrinkA=15,
                                     shrinkB=22, zorder=1))
    if title:
        ax.set_title(title)


def fig_genotype(genotype: Genotype, title: str, detail: str = ""):
    """Normal and reduction cell of ``genotype`` side by side (Fig. 4 style)."""
    fig, axes = figure(1, 2, figsize=(12, 3.4))
    n, r = genotype.conv_counts
    draw_cell(axes[0], genotype.normal, f"normal cell ({n} conv ops)")
    draw_cell(axes[1], genotype.reduce, f"reduction cell ({r} conv ops)")
    titled(fig, title, detail)
    return fig


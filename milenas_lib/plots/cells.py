"""DARTS-style cell diagrams drawn with matplotlib alone (no system graphviz).

The layout follows the paper's Fig. 4 (graphviz ``dot``, left to right):
columns by depth, i.e. the longest path from the inputs (``c_{k-2}`` and
``c_{k-1}`` at depth 0, an intermediate node one deeper than its deepest
input, the output ``c_{k}`` (the concatenation of nodes 0-3) right of all);
within a column the nodes keep their order 0..3 from top to bottom.  Each kept
edge is an arrow labelled with its operation and coloured by op family.

Text is drawn as paths in data units (``TextPath``), so the geometry is fixed
before anything is rendered: edge labels are placed greedily where their box
clears every node and every earlier label, and since text scales with the
axes, no two labels overlap at any figure size or dpi.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, PathPatch
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D

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

NODE_NAMES = {0: "$c_{k-2}$", 1: "$c_{k-1}$", 2: "0", 3: "1", 4: "2", 5: "3", "out": "$c_{k}$"}
_NODE_STYLE = {"input": ("#fde0b6", "#b35806"), "inner": ("#deebf7", "#2166ac"), "out": ("#d9f0d3", "#1b7837")}

# Geometry in data units (one unit is about 0.45 inch in fig_genotype).
FONT_SIZE = 0.32          # em size of the label text
COLUMN_GAP = 4.2          # between the centres of neighbouring columns
ROW_GAP = 1.25            # between the centres of nodes in one column
INPUT_SIZE, INNER_SIZE = (1.25, 0.62), (0.62, 0.62)
LABEL_PAD = 0.07          # white margin around a label's text
_FONT = FontProperties(family="DejaVu Sans")
_RADS = (0.0, 0.15, -0.15, 0.3, -0.3, 0.45, -0.45)


@dataclass
class CellLayout:
    """Where everything of one cell goes (data units): node boxes, edge arcs
    (``arc3`` bend ``rad``) and edge-label boxes ``(x0, y0, x1, y1)``."""

    centres: dict
    boxes: dict
    edges: list = field(default_factory=list)       # (op, source, target, rad)
    outputs: list = field(default_factory=list)     # (node, rad) for the dashed edges into c_{k}
    labels: list = field(default_factory=list)      # (text, box)
    arcs: list = field(default_factory=list)        # sampled points of every arc, labelled ones first

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        boxes = list(self.boxes.values()) + [box for _, box in self.labels]
        boxes += [(*points.min(0), *points.max(0)) for points in self.arcs]
        return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def node_depths(edges: Sequence[tuple[str, int]]) -> dict:
    """Longest path from the inputs: 0 for both inputs, 1 + the deepest input for
    an intermediate node, one past the deepest node for the output."""
    depth = {0: 0, 1: 0}
    for node in range(2, 2 + NUM_NODES):
        sources = [src for _, src in edges[(node - 2) * EDGES_PER_NODE:(node - 1) * EDGES_PER_NODE]]
        depth[node] = 1 + max(depth[s] for s in sources)
    depth["out"] = 1 + max(depth[n] for n in range(2, 2 + NUM_NODES))
    return depth


@functools.lru_cache(maxsize=None)
def _text_size(text: str) -> tuple[float, float]:
    extents = TextPath((0, 0), text, size=FONT_SIZE, prop=_FONT).get_extents()
    return extents.width, max(extents.height, FONT_SIZE * 0.75)


def _box(centre, size) -> tuple[float, float, float, float]:
    (x, y), (w, h) = centre, size
    return (x - w / 2, y - h / 2, x + w / 2, y + h / 2)


def _overlap(a, b, margin: float = 0.0) -> bool:
    return a[0] < b[2] + margin and b[0] < a[2] + margin and a[1] < b[3] + margin and b[1] < a[3] + margin


def _inside(points: np.ndarray, box, margin: float = 0.0) -> np.ndarray:
    return ((points[:, 0] > box[0] - margin) & (points[:, 0] < box[2] + margin)
            & (points[:, 1] > box[1] - margin) & (points[:, 1] < box[3] + margin))


def arc_points(p0, p1, rad: float, t) -> np.ndarray:
    """Points of matplotlib's ``arc3`` curve (a quadratic Bezier whose control
    point sits ``rad`` times the chord length beside the chord's middle; equal
    aspect, so data and display agree)."""
    (x0, y0), (x1, y1) = p0, p1
    control = np.array([(x0 + x1) / 2 + rad * (y1 - y0), (y0 + y1) / 2 - rad * (x1 - x0)])
    t = np.atleast_1d(np.asarray(t, dtype=float))[:, None]
    return (1 - t) ** 2 * np.array([x0, y0]) + 2 * (1 - t) * t * control + t ** 2 * np.array([x1, y1])


def _route(layout: CellLayout, source, target, routed: list) -> float:
    """The bend whose arc passes no other node and keeps clear of the arcs
    routed before (two arcs running side by side read as one), straight if it can."""
    ends = layout.centres[source], layout.centres[target]
    best, best_cost = _RADS[-1], np.inf
    for rad in _RADS:
        points = arc_points(*ends, rad, np.linspace(0.05, 0.95, 40))
        if any(_inside(points, box, 0.15).any() for key, box in layout.boxes.items() if key not in (source, target)):
            continue
        middle = arc_points(*ends, rad, np.linspace(0.25, 0.75, 26))
        close = max((np.mean(np.hypot(*(middle[:, None, :] - other[None]).transpose(2, 0, 1)).min(1) < 0.25)
                     for other in routed), default=0.0)
        if close + abs(rad) < best_cost:
            best, best_cost = rad, close + abs(rad)
    routed.append(arc_points(*ends, best, np.linspace(0.25, 0.75, 26)))
    return best


def _place_label(layout: CellLayout, text: str, arc, others: np.ndarray) -> Optional[tuple]:
    """The label box nearest the middle of its own arc that clears all nodes and
    earlier labels, preferring spots that hide as little of other arcs as possible."""
    width, height = _text_size(text)
    width, height = width + 2 * LABEL_PAD, height + 2 * LABEL_PAD
    best, best_cost = None, np.inf
    for t in np.linspace(0.2, 0.8, 25):
        x, y = arc_points(*arc, t)[0]
        box = _box((x, y), (width, height))
        if any(_overlap(box, node, 0.08) for node in layout.boxes.values()):
            continue
        if any(_overlap(box, other, 0.05) for _, other in layout.labels):
            continue
        hidden = int(_inside(others, box).sum())
        cost = hidden + 2 * abs(t - 0.5)
        if cost < best_cost:
            best, best_cost = box, cost
    return best


def cell_layout(edges: Sequence[tuple[str, int]], spread: float = 1.0) -> CellLayout:
    """Nodes by depth in columns, arcs routed round other nodes, labels placed
    without overlap; the spacing grows until every label fits."""
    depth = node_depths(edges)
    columns: dict = {}
    for key in [0, 1, *range(2, 2 + NUM_NODES), "out"]:
        columns.setdefault(depth[key], []).append(key)
    centres, boxes = {}, {}
    for d, keys in columns.items():
        gap = ROW_GAP * spread * (1.0 if d else 1.3)
        for row, key in enumerate(keys):
            centres[key] = (d * COLUMN_GAP * spread, ((len(keys) - 1) / 2 - row) * gap)
            boxes[key] = _box(centres[key], INNER_SIZE if key in range(2, 6) else INPUT_SIZE)
    layout = CellLayout(centres, boxes)
    routed: list = []
    for position, (op, source) in enumerate(edges):
        target = 2 + position // EDGES_PER_NODE
        layout.edges.append((op, source, target, _route(layout, source, target, routed)))
    layout.outputs = [(node, _route(layout, node, "out", routed)) for node in range(2, 2 + NUM_NODES)]
    arcs = [(centres[s], centres[t], rad) for _, s, t, rad in layout.edges]
    sampled = [arc_points(*arc, np.linspace(0.1, 0.9, 30)) for arc in arcs]
    sampled += [arc_points(centres[n], centres["out"], rad, np.linspace(0.1, 0.9, 30)) for n, rad in layout.outputs]
    layout.arcs = sampled
    # Short edges first: they have the least room.
    order = sorted(range(len(arcs)), key=lambda i: np.hypot(*np.subtract(arcs[i][1], arcs[i][0])))
    placed: dict = {}
    for i in order:
        text = OP_SHORT.get(layout.edges[i][0], layout.edges[i][0])
        box = _place_label(layout, text, arcs[i], np.concatenate([s for j, s in enumerate(sampled) if j != i]))
        if box is None:
            if spread > 3:
                raise RuntimeError("no room for the edge labels of this cell")
            return cell_layout(edges, spread * 1.2)
        layout.labels.append((text, box))
        placed[i] = (text, box)
    layout.labels = [placed[i] for i in range(len(arcs))]
    return layout


def _draw_text(ax, text: str, centre, color, size: float = FONT_SIZE, zorder: int = 6) -> None:
    path = TextPath((0, 0), text, size=size, prop=_FONT)
    extents = path.get_extents()
    shift = Affine2D().translate(centre[0] - (extents.x0 + extents.x1) / 2, centre[1] - (extents.y0 + extents.y1) / 2)
    ax.add_patch(PathPatch(shift.transform_path(path), facecolor=color, edgecolor="none", zorder=zorder))


def draw_cell(ax, edges: Sequence[tuple[str, int]], title: Optional[str] = None) -> CellLayout:
    """Draw one cell (8 edges ``(op, input)``) on ``ax``; returns its layout."""
    layout = cell_layout(edges)
    ax.set_aspect("equal")
    ax.axis("off")
    x0, y0, x1, y1 = layout.bounds
    ax.set_xlim(x0 - 0.2, x1 + 0.2)
    ax.set_ylim(y0 - 0.2, y1 + 0.2)
    patches = {}
    for key, box in layout.boxes.items():
        kind = "inner" if key in range(2, 6) else "out" if key == "out" else "input"
        face, edge = _NODE_STYLE[kind]
        patches[key] = FancyBboxPatch(box[:2], box[2] - box[0], box[3] - box[1], facecolor=face, edgecolor=edge,
                                      linewidth=1.4, zorder=3, boxstyle="round,pad=0,rounding_size=0.12")
        ax.add_patch(patches[key])
        _draw_text(ax, NODE_NAMES[key], layout.centres[key], "black", size=FONT_SIZE * 1.1)
    for op, source, target, rad in layout.edges:
        ax.add_patch(FancyArrowPatch(layout.centres[source], layout.centres[target], patchA=patches[source],
                                     patchB=patches[target], connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
                                     mutation_scale=11, color=OP_COLORS.get(op, "black"), linewidth=1.6,
                                     shrinkA=1, shrinkB=1, zorder=2))
    for node, rad in layout.outputs:
        ax.add_patch(FancyArrowPatch(layout.centres[node], layout.centres["out"], patchA=patches[node],
                                     patchB=patches["out"], connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
                                     mutation_scale=9, color="0.6", linewidth=1.0, linestyle="--", shrinkA=1,
                                     shrinkB=1, zorder=1))
    for (op, *_), (text, box) in zip(layout.edges, layout.labels):
        color = OP_COLORS.get(op, "black")
        ax.add_patch(FancyBboxPatch(box[:2], box[2] - box[0], box[3] - box[1], boxstyle="round,pad=0,rounding_size=0.06",
                                    facecolor="white", edgecolor=color, linewidth=0.6, zorder=5))
        _draw_text(ax, text, ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), color)
    if title:
        ax.set_title(title)
    return layout


def fig_genotype(genotype: Genotype, title: str, detail: str = ""):
    """Normal and reduction cell of ``genotype`` side by side (Fig. 4 style)."""
    layouts = [cell_layout(genotype.normal), cell_layout(genotype.reduce)]
    widths = [b[2] - b[0] for b in (lay.bounds for lay in layouts)]
    height = max(b[3] - b[1] for b in (lay.bounds for lay in layouts))
    inch = 0.45  # per data unit: the 0.32-unit label text is about 10 pt
    fig, axes = figure(1, 2, figsize=(inch * sum(widths) + 1.2, inch * height + 1.4),
                       gridspec_kw={"width_ratios": widths})
    n, r = genotype.conv_counts
    draw_cell(axes[0], genotype.normal, f"normal cell ({n} conv ops)")
    draw_cell(axes[1], genotype.reduce, f"reduction cell ({r} conv ops)")
    titled(fig, title, detail)
    return fig

"""α pictures: softmax(α) heatmaps over the search, operation weights, the
relaxation of one edge (Eq. 8).  (The epoch slider of notebook 1 is
:func:`milenas_lib.explorers.alpha_explorer`.)

Each function takes a search record (its per-epoch ``softmax`` of α) or
notebook 9's relaxation table and gives a matplotlib figure.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.ticker import MaxNLocator

from ..space.operations import PRIMITIVES
from .cells import OP_COLORS
from .style import figure, titled

#: Markers per op, so that ops of one colour family stay apart in print.
OP_MARKERS = {"none": "x", "max_pool_3x3": "v", "avg_pool_3x3": "^", "skip_connect": "o", "sep_conv_3x3": "s",
              "sep_conv_5x5": "D", "dil_conv_3x3": "P", "dil_conv_5x5": "X"}
#: Row labels of the α heatmaps: "input → intermediate node", in α's edge order.
EDGE_LABELS = [f"{src} → {node}" for node in range(4)
               for src in ["$c_{k-2}$", "$c_{k-1}$", *map(str, range(node))]]

_CELL_NAMES = {"normal": "normal cell", "reduce": "reduction cell"}


def _softmax(record: dict, epoch_index: int, cell: str) -> np.ndarray:
    return np.asarray(record["epochs"][epoch_index]["softmax"][cell])


def draw_alpha_heatmap(ax, weights: np.ndarray, title: str, vmin: float, vmax: float, show_ops: bool = True):
    """softmax(α) as a heatmap, diverging around the uniform 1/8: red gained weight, blue lost it."""
    uniform = 1 / len(PRIMITIVES)
    norm = TwoSlopeNorm(uniform, min(vmin, uniform - 1e-6), max(vmax, uniform + 1e-6))
    image = ax.imshow(weights, cmap="RdBu_r", norm=norm, aspect="auto")
    ax.set_yticks(range(len(EDGE_LABELS)), EDGE_LABELS, fontsize=8)
    ax.set_xticks(range(len(PRIMITIVES)), [p.replace("_", " ") for p in PRIMITIVES] if show_ops else [],
                  rotation=45, ha="right", fontsize=8)
    ax.set_title(title)
    ax.grid(False)
    return image


def fig_alpha_heatmaps(record: dict, detail: str, epochs: Optional[Sequence[int]] = None):
    """softmax(α) of every edge (rows) and op (columns) at a few epochs, normal
    and reduction cell; one colour scale for all panels."""
    total = len(record["epochs"])
    if epochs is None:
        epochs = sorted({0, total // 2, total - 1}) if total > 2 else list(range(total))
    all_weights = np.concatenate([_softmax(record, e, c).ravel() for e in epochs for c in ("normal", "reduce")])
    vmin, vmax = float(all_weights.min()), float(all_weights.max())
    fig, axes = figure(2, len(epochs), figsize=(3.4 * len(epochs) + 1.5, 9.2), squeeze=False)
    image = None
    for column, e in enumerate(epochs):
        for row, cell in enumerate(("normal", "reduce")):
            image = draw_alpha_heatmap(axes[row, column], _softmax(record, e, cell),
                                       f"{_CELL_NAMES[cell]}, after epoch {e + 1}", vmin, vmax)
            if column:
                axes[row, column].set_yticklabels([])
    fig.colorbar(image, ax=axes, shrink=0.6, label="softmax(α) weight of the op on the edge\n(white: uniform 1/8; red: gained, blue: lost)")
    titled(fig, "α over the search: softmax weight of each operation on each edge (rows: input→node)", detail)
    return fig


def fig_op_weights(record: dict, detail: str):
    """Mean softmax(α) of each op over the 14 edges, per epoch: how the search
    shifts weight between operations (a fast rise of skip connections warns of collapse)."""
    fig, axes = figure(1, 2, figsize=(11, 4), sharey=True)
    epochs = np.arange(1, len(record["epochs"]) + 1)
    for ax, cell in zip(axes, ("normal", "reduce")):
        weights = np.stack([np.asarray(e["softmax"][cell]).mean(0) for e in record["epochs"]])
        for k, op in enumerate(PRIMITIVES):
            ax.plot(epochs, weights[:, k], color=OP_COLORS[op], marker=OP_MARKERS[op], markersize=4.5,
                    linewidth=2.6 if op == "skip_connect" else 1.4, linestyle="--" if op == "none" else "-",
                    label=op.replace("_", " "))
        ax.axhline(1 / len(PRIMITIVES), color="black", linewidth=0.7, linestyle=":")
        ax.set_title(_CELL_NAMES[cell])
        ax.set_xlabel("search epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("mean softmax(α) over the 14 edges\n(dotted: uniform 1/8)")
    axes[1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    titled(fig, "Operation weights over the search", detail)
    return fig


def fig_relaxation(table: pd.DataFrame):
    """Eq. 8 on one edge: α per operation and the softmax weights it gives."""
    fig, (ax, p_ax) = figure(1, 2, figsize=(11, 3.6))
    names = [op.replace("_", " ") for op in table["operation"]]
    colors = [OP_COLORS[op] for op in table["operation"]]
    ax.bar(names, table["alpha"], color=colors, edgecolor="black", linewidth=0.5)
    ax.set_ylabel("α (architecture parameter)")
    ax.set_title("(a) α of one edge")
    p_ax.bar(names, table["softmax weight p_k"], color=colors, edgecolor="black", linewidth=0.5)
    p_ax.axhline(1 / len(names), color="black", linestyle=":", linewidth=0.8)
    p_ax.set_ylabel("p_k = softmax(α)_k (sums to 1)")
    p_ax.set_title("(b) mixing weights of Eq. 8 (dotted: uniform)")
    for axis in (ax, p_ax):
        axis.tick_params(axis="x", rotation=45)
        for label in axis.get_xticklabels():
            label.set_ha("right")
        axis.grid(axis="x", visible=False)
    titled(fig, "The continuous relaxation (Eq. 8): an edge outputs Σ_k p_k·o_k(x)")
    return fig

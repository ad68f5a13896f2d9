"""Explorers over stored search runs: one run epoch by epoch (α and the derived
cells), and several settings side by side (the curves of Figs. 2 and 3)."""
from __future__ import annotations

from functools import lru_cache
from typing import Optional, Sequence

import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from ..paper.frames import curves, records_frame
from ..paper.settings import label
from ..plots import OP_COLORS, band_plot, draw_alpha_heatmap, draw_cell
from ..plots.cells import cell_layout
from ..plots.style import figure, styled, titled
from ..space.genotype import Genotype
from ..space.operations import PRIMITIVES
from .common import Explorer, image_widget, png

#: What the method explorer can draw: frame column -> axis label.
METRICS = {
    "val_acc": "search-val accuracy (%)",
    "train_acc": "train accuracy (%)",
    "gap": "train − search-val accuracy (percentage points)",
    "train_loss": "train loss",
    "val_loss": "search-val loss",
    "entropy_normal": "α entropy, normal cell (nats)",
    "entropy_reduce": "α entropy, reduction cell (nats)",
    "skip_connects": "skip connections in the derived cells",
}
_CELLS = (("normal", "normal cell"), ("reduce", "reduction cell"))


# ---------------------------------------------------------------------------
# One run, epoch by epoch.

@styled
def fig_alpha_epoch(record: dict, epoch: int):
    """After search epoch ``epoch`` (1 = the first) of one run: softmax(α) per edge
    and op (Eq. 8) on one colour scale for the whole run, the mean weight of each
    op, and the cells derived from α at that epoch (two strongest inputs per node,
    their strongest op other than ``none``), with conv counts and the size of the
    CIFAR-10 evaluation network they would give (20 cells, C = 36)."""
    entries = record["epochs"]
    entry = entries[epoch - 1]
    weights = {cell: np.asarray(entry["softmax"][cell]) for cell, _ in _CELLS}
    every = np.concatenate([np.asarray(e["softmax"][c]).ravel() for e in entries for c, _ in _CELLS])
    genotype = Genotype.from_dict(entry["genotype"])
    fig = plt.figure(figsize=(12, 9.2))
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.35, 0.8])
    heat_normal, heat_reduce, bars = top.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 0.9]})
    for ax, (cell, name) in zip((heat_normal, heat_reduce), _CELLS):
        image = draw_alpha_heatmap(ax, weights[cell], f"{name}: softmax(α)", float(every.min()), float(every.max()))
        ax.tick_params(labelsize=9)
    heat_reduce.set_yticklabels([])
    top.colorbar(image, ax=[heat_normal, heat_reduce], shrink=0.85, label="softmax(α) of the op on the edge\n"
                 "(white: uniform 1/8; red: gained, blue: lost)")
    rows = np.arange(len(PRIMITIVES))
    for offset, (cell, name), hatch in ((-0.2, _CELLS[0], None), (0.2, _CELLS[1], "///")):
        bars.barh(rows + offset, weights[cell].mean(0), height=0.4, color=[OP_COLORS[op] for op in PRIMITIVES],
                  edgecolor="black", linewidth=0.5, hatch=hatch, label=name)
    bars.axvline(1 / len(PRIMITIVES), color="black", linestyle=":", linewidth=1)
    bars.set_yticks(rows, [op.replace("_", " ") for op in PRIMITIVES])
    bars.invert_yaxis()
    bars.set_xlabel("mean softmax(α) over the 14 edges\n(dotted: uniform 1/8)")
    bars.set_title("op weights (hatched: reduction cell)")
    bars.grid(axis="y", visible=False)
    widths = [cell_layout(getattr(genotype, cell)).bounds for cell, _ in _CELLS]
    cell_axes = bottom.subplots(1, 2, gridspec_kw={"width_ratios": [b[2] - b[0] for b in widths]})
    for ax, (cell, name), count in zip(cell_axes, _CELLS, genotype.conv_counts):
        draw_cell(ax, getattr(genotype, cell), f"derived {name}: {count} conv ops")
    titled(fig, f"{record.get('label', record['method'])}, seed {record['seed']} · after epoch {epoch} of "
                f"{len(entries)}: search-val {100 * entry['val_acc']:.1f}%, train {100 * entry['train_acc']:.1f}%",
           f"derived cells: {genotype.conv_counts[0]} + {genotype.conv_counts[1]} conv ops, "
           f"{genotype.count('skip_connect')} skip connections; CIFAR-10 evaluation network "
           f"(20 cells, C = 36): {entry['params'] / 1e6:.2f}M parameters")
    return fig


def alpha_explorer(record: dict, interval_ms: int = 1200) -> Explorer:
    """One run: an epoch slider and a play button over :func:`fig_alpha_epoch`,
    and the derived genotype's text at that epoch."""
    import ipywidgets as widgets

    last = len(record["epochs"])
    picture = lru_cache(maxsize=None)(lambda epoch: png(fig_alpha_epoch(record, epoch)))
    image = image_widget(picture(last))
    output = widgets.Output()
    slider = widgets.IntSlider(value=last, min=1, max=last, step=1, description="epoch", continuous_update=False)
    play = widgets.Play(value=last, min=1, max=last, step=1, interval=interval_ms, description="play the epochs")
    widgets.jslink((play, "value"), (slider, "value"))
    genotype = widgets.HTML(_genotype_html(record, last))

    @output.capture(clear_output=True)
    def moved(change) -> None:
        image.value = picture(change["new"])
        genotype.value = _genotype_html(record, change["new"])

    slider.observe(moved, names="value")
    box = widgets.VBox([widgets.HBox([play, slider]), image, genotype, output])
    return Explorer(box, {"epoch": slider, "play": play, "genotype": genotype}, image, output,
                    f"α explorer: {record.get('label', record['method'])}, seed {record['seed']}, {last} epochs")


def _genotype_html(record: dict, epoch: int) -> str:
    text = record["epochs"][epoch - 1]["genotype_text"]
    return f"<code style='white-space: pre-wrap'>after epoch {epoch}: {text}</code>"


# ---------------------------------------------------------------------------
# Several settings: curves with mean ± std bands.

def fig_metric(frame: pd.DataFrame, metric: str, keys: Sequence[str], seeds: Sequence[int]):
    """``metric`` over the search for the settings ``keys``, mean ± std over ``seeds``
    (the rows of ``frame``, a :func:`records_frame`, that exist), n in the legend."""
    chosen = frame[frame["setting"].isin(keys) & frame["seed"].isin(seeds)]
    fig, ax = figure(figsize=(10, 4.6))
    if chosen.empty:
        ax.text(0.5, 0.5, "nothing selected: pick at least one setting and one seed", transform=ax.transAxes,
                ha="center", va="center", fontsize=11, color="0.3")
    else:
        band_plot(ax, curves(chosen, [metric]), metric, list(keys))
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    if metric == "gap":
        ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("search epoch")
    ax.set_ylabel(METRICS[metric])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    seeds_text = ", ".join(map(str, sorted(seeds))) or "none"
    titled(fig, f"{METRICS[metric]} over the search", f"mean ± std over seeds {seeds_text} (band only when n > 1)")
    return fig


def method_explorer(records: Sequence[dict], metric: str = "gap", settings: Optional[Sequence[str]] = None
                    ) -> Explorer:
    """Stored runs of several settings: toggle settings and seeds, pick a metric."""
    import ipywidgets as widgets

    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    frame = records_frame(records)
    keys = list(dict.fromkeys(frame["setting"]))
    shown = set(keys if settings is None else settings)
    setting_buttons = {key: widgets.ToggleButton(value=key in shown, description=label(key), tooltip=key,
                                                 layout=widgets.Layout(width="auto")) for key in keys}
    seed_buttons = {seed: widgets.ToggleButton(value=True, description=f"seed {seed}",
                                               layout=widgets.Layout(width="auto"))
                    for seed in sorted(frame["seed"].unique())}
    metric_menu = widgets.Dropdown(options=[(text, key) for key, text in METRICS.items()], value=metric,
                                   description="metric", layout=widgets.Layout(width="auto"))

    def draw() -> bytes:
        return png(fig_metric(frame, metric_menu.value, [k for k, b in setting_buttons.items() if b.value],
                              [s for s, b in seed_buttons.items() if b.value]))

    image = image_widget(draw())
    output = widgets.Output()

    @output.capture(clear_output=True)
    def changed(_change) -> None:
        image.value = draw()

    for control in [*setting_buttons.values(), *seed_buttons.values(), metric_menu]:
        control.observe(changed, names="value")
    box = widgets.VBox([widgets.HBox(list(setting_buttons.values()), layout=widgets.Layout(flex_flow="row wrap")),
                        widgets.HBox([metric_menu, *seed_buttons.values()],
                                     layout=widgets.Layout(flex_flow="row wrap")),
                        image, output])
    controls = {"metric": metric_menu, **{f"setting:{k}": b for k, b in setting_buttons.items()},
                **{f"seed:{s}": b for s, b in seed_buttons.items()}}
    return Explorer(box, controls, image, output,
                    f"method explorer: {len(keys)} settings, {len(seed_buttons)} seeds, metric {metric}")

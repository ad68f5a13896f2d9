"""The paper's figures (and notebook 8's and 9's) from tidy frames.

Every function takes what :mod:`milenas_lib.experiments` returns and gives a
matplotlib figure; saving (PNG + PDF) and listing it is the caller's job
(``NotebookOutputs.save_figure``).  Several seeds are drawn as mean ± std
bands with n in the legend; one seed as a plain line (no band to fake).
"""
from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ..experiments import (PAPER_BEST_RANGE_M, PAPER_FIG5, PAPER_FIG5_ERRORS, PAPER_MILENAS_ARCHS, SETTINGS,
                           mean_std, setting)
from ..space.operations import PRIMITIVES
from .cells import OP_COLORS, draw_cell
from .style import QUOTED_STYLE, figure, titled

#: Row labels of the α heatmaps: "input → intermediate node", in α's edge order.
#: Markers per op, so that ops of one colour family stay apart in print.
OP_MARKERS = {"none": "x", "max_pool_3x3": "v", "avg_pool_3x3": "^", "skip_connect": "o", "sep_conv_3x3": "s",
              "sep_conv_5x5": "D", "dil_conv_3x3": "P", "dil_conv_5x5": "X"}
EDGE_LABELS = [f"{src} → {node}" for node in range(4)
               for src in ["$c_{k-2}$", "$c_{k-1}$", *map(str, range(node))]]


def _present(frame: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    have = set(frame["setting"])
    return [k for k in keys if k in have]


def band_plot(ax, frame: pd.DataFrame, value: str, keys: Sequence[str], x: str = "epoch") -> None:
    """Mean over seeds per setting and ``x``, with a ± std band when n > 1."""
    summary = mean_std(frame, value, ("setting", x))
    for key in _present(frame, keys):
        spec = setting(key)
        part = summary[summary["setting"] == key].sort_values(x)
        n = int(part["n"].max())
        label = f"{spec.label}, n={n}"
        ax.plot(part[x], part["mean"], color=spec.color, marker=spec.marker, linestyle=spec.linestyle,
                label=label, markevery=max(1, len(part) // 12))
        if n > 1:
            ax.fill_between(part[x], part["mean"] - part["std"], part["mean"] + part["std"], color=spec.color,
                            alpha=0.15, linewidth=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _bar_with_seeds(ax, frame: pd.DataFrame, value: str, keys: Sequence[str], xlabel: str) -> None:
    """Horizontal bars: mean over seeds, std whisker, each seed as a dot."""
    keys = _present(frame, keys)
    for row, key in enumerate(keys):
        spec = setting(key)
        values = frame.loc[frame["setting"] == key, value]
        ax.barh(row, values.mean(), xerr=values.std() if len(values) > 1 else None, color=spec.color, alpha=0.75,
                edgecolor="black", linewidth=0.6, capsize=3)
        ax.plot(values, np.full(len(values), row), "o", color="black", markersize=3.5, zorder=3)
        ax.text(values.mean(), row, f"  {values.mean():+.1f}" if "gap" in value else f"  {values.mean():.1f}",
                va="center", ha="left" if values.mean() >= 0 else "right", fontsize=8.5)
    ax.set_yticks(range(len(keys)), [f"{setting(k).label}, n={int((frame['setting'] == k).sum())}" for k in keys])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.grid(axis="y", visible=False)


# ---------------------------------------------------------------------------
# Fig. 2 and Fig. 3

def fig_train_val_gap(epochs: pd.DataFrame, keys: Sequence[str], detail: str, smooth_window: int = 1):
    """Fig. 2: train − search-val accuracy over epochs, and at the last epoch."""
    from ..experiments import final_epoch, smooth

    fig, (ax, bar_ax) = figure(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.6, 1]})
    smoothed = smooth(epochs, "gap", smooth_window)
    band_plot(ax, smoothed, "gap", keys)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("search epoch")
    ax.set_ylabel("train acc − search-val acc (percentage points)")
    ax.set_title("(a) gap over the search" + (f" ({smooth_window}-epoch moving average)" if smooth_window > 1 else ""))
    ax.legend(loc="best")
    _bar_with_seeds(bar_ax, final_epoch(epochs), "gap", keys, "gap at the last epoch (percentage points)")
    bar_ax.set_title("(b) last epoch: mean ± std, dots = seeds")
    titled(fig, "Fig. 2 · Train-validation accuracy gap during the search "
                "(paper: single-level largest, bilevel smallest, MiLeNAS between, ordered by λ)", detail)
    return fig


def fig_search_val_accuracy(epochs: pd.DataFrame, keys: Sequence[str], detail: str,
                            switch_epoch: Optional[int] = None):
    """Fig. 3a: search-validation accuracy over epochs, with the switch marked."""
    fig, ax = figure(figsize=(10.5, 4.8))
    band_plot(ax, epochs, "val_acc", keys)
    if epochs["val_acc"].min() < 20:  # short runs: show where guessing would be
        ax.axhline(10, color="0.4", linestyle=":", linewidth=1, label="chance (10 classes)")
    if switch_epoch is not None and "switch" in set(epochs["setting"]):
        ax.axvline(switch_epoch + 0.5, color=SETTINGS["switch"].color, linestyle=":", linewidth=1.2)
        ax.annotate(f"switch to MiLeNAS\nafter epoch {switch_epoch}", (switch_epoch + 0.5, 1.0),
                    xycoords=("data", "axes fraction"), xytext=(4, -4), textcoords="offset points", va="top",
                    fontsize=8.5, color=SETTINGS["switch"].color)
    ax.set_xlabel("search epoch")
    ax.set_ylabel("search-val accuracy (%, un-augmented)")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    titled(fig, "Fig. 3a · Search-validation accuracy (paper: MiLeNAS λ = 1, 0.1 above bilevel; "
                "single-level lowest)", detail)
    return fig


def _time_label(times: pd.DataFrame, key: str) -> str:
    part = times[times["setting"] == key]
    passes = int(part["passes_per_step"].max())
    if (part["method"] == "switch").all():
        text = "5 → 2 passes/step"
    else:
        text = f"{passes} pass{'es' if passes > 1 else ''}/step"
    return f"{setting(key).label}\nn={len(part)} · {text}"


def fig_search_time(times: pd.DataFrame, keys: Sequence[str], detail: str, reference: str = "milenas_lam1"):
    """Fig. 3b: search time per method, split into α step, w step and evaluation."""
    keys = _present(times, keys)
    means = times.groupby("setting")[["time_s", "alpha_step_s", "w_step_s", "eval_s", "other_s"]].mean()
    stds = times.groupby("setting")["time_s"].std()
    hours = means["time_s"].max() > 7200
    scale, unit = (3600.0, "h") if hours else (1.0, "s")
    fig, ax = figure(figsize=(9, 0.55 * len(keys) + 2.4))
    parts = [("alpha_step_s", "α step", "#4477AA"), ("w_step_s", "w step", "#DDCC77"),
             ("eval_s", "search-val evaluation", "#AAAAAA"), ("other_s", "other (records, checkpoints)", "#EEEEEE")]
    for row, key in enumerate(keys):
        left = 0.0
        for column, name, color in parts:
            width = means.loc[key, column] / scale
            ax.barh(row, width, left=left, color=color, edgecolor="black", linewidth=0.5,
                    label=name if row == 0 else None)
            left += width
        n = int((times["setting"] == key).sum())
        error = stds.get(key)
        if n > 1 and error is not None and np.isfinite(error):
            ax.errorbar(left, row, xerr=error / scale, color="black", capsize=3, linewidth=1)
        ratio = ""
        if reference in means.index and key != reference:
            ratio = f"  ({means.loc[key, 'time_s'] / means.loc[reference, 'time_s']:.2f}x {setting(reference).label})"
        ax.text(left, row, f"  {left:.1f} {unit}{ratio}", va="center", fontsize=8.5)
    ax.set_yticks(range(len(keys)), [_time_label(times, k) for k in keys])
    ax.invert_yaxis()
    cpu = times["device"].astype(str).str.startswith("cpu").any()
    ax.set_xlabel(f"search wall time per run ({unit}), mean over seeds"
                  + ("\n(on a shared CPU the seconds vary with its load; the ratios are what matters)" if cpu else ""))
    ax.set_xlim(0, means["time_s"].max() / scale * 1.55)
    ax.grid(axis="y", visible=False)
    ax.legend(loc="upper right", fontsize=8)  # the short bars leave the top right free
    titled(fig, "Fig. 3b · Search time per method (paper, quoted: MiLeNAS more than 3x faster than "
                "2nd-order DARTS)", detail)
    return fig


# ---------------------------------------------------------------------------
# Fig. 5

def fig_gumbel(epochs: pd.DataFrame, detail: str):
    """Fig. 5: GDAS against MiLeNAS (Gumbel): search-val accuracy over epochs,
    τ, and the final accuracy beside the paper's quoted values."""
    from ..experiments import final_epoch

    keys = _present(epochs, ["gdas", "milenas_gumbel"])
    fig, (ax, bar_ax) = figure(1, 2, figsize=(11, 4.3), gridspec_kw={"width_ratios": [1.5, 1]})
    band_plot(ax, epochs, "val_acc", keys)
    ax.set_xlabel("search epoch")
    ax.set_ylabel("search-val accuracy (%, argmax architecture)")
    ax.set_title("(a) ours over the search")
    ax.axhline(10, color="0.4", linestyle=":", linewidth=1, label="chance (10 classes)")
    ax.legend(loc="best")
    if epochs["tau"].notna().any():
        tau = epochs.groupby("epoch")["tau"].mean()
        ax.set_title(f"(a) ours over the search (Gumbel τ {tau.iloc[0]:g} → {tau.iloc[-1]:g})")
    final = final_epoch(epochs).groupby("setting")["val_acc"]
    width = 0.38
    for i, key in enumerate(keys):
        spec = setting(key)
        ours = final.mean()[key]
        n = int(final.count()[key])
        bar_ax.bar(i - width / 2, ours, width, color=spec.color, edgecolor="black", linewidth=0.6,
                   yerr=final.std()[key] if n > 1 else None, capsize=3, label="ours, last epoch" if i == 0 else None)
        bar_ax.text(i - width / 2, ours, f"{ours:.1f}", ha="center", va="bottom", fontsize=8.5)
        bar_ax.bar(i + width / 2, PAPER_FIG5[key], width, **QUOTED_STYLE,
                   label="paper (quoted), 250 epochs" if i == 0 else None)
        bar_ax.text(i + width / 2, PAPER_FIG5[key], f"{PAPER_FIG5[key]:.2f}\n(test err {PAPER_FIG5_ERRORS[key]}%)",
                    ha="center", va="bottom", fontsize=8)
    bar_ax.set_xticks(range(len(keys)), [f"{setting(k).label}\n(n={int(final.count()[k])})" for k in keys])
    bar_ax.axhline(10, color="0.4", linestyle=":", linewidth=1, label="chance (10 classes)")
    bar_ax.set_ylabel("search-val accuracy (%)")
    bar_ax.set_ylim(0, 100)
    bar_ax.set_title("(b) final accuracy, ours vs paper")
    bar_ax.legend(loc="upper left", fontsize=8)
    bar_ax.grid(axis="x", visible=False)
    titled(fig, "Fig. 5 · GDAS vs MiLeNAS (Gumbel) (paper: 65.79% vs 69.56% search-val accuracy)", detail)
    return fig


# ---------------------------------------------------------------------------
# Fig. 6

def fig_model_size(best_params: pd.DataFrame, best_convs: pd.DataFrame, keys: Sequence[str], detail: str):
    """Fig. 6: best search-val accuracy per parameter range (a) and per
    conv-count bucket (b), with the paper's evaluated architectures (c, quoted)."""
    fig, axes = figure(1, 3, figsize=(15, 4.6), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    ax, heat_ax, paper_ax = axes
    for key in _present(best_params, keys):
        spec = setting(key)
        part = best_params[best_params["setting"] == key].sort_values("params_M")
        ax.plot(part["params_M"], part["val_acc"], color=spec.color, marker=spec.marker, linestyle=spec.linestyle,
                linewidth=1.2, label=spec.label)
    ax.axvspan(*PAPER_BEST_RANGE_M, color="0.85", zorder=0, label="paper's best range 3.5-4.5M (quoted)")
    ax.set_xlabel("parameters of the derived CIFAR-10 network (M, 20 cells, C=36)")
    ax.set_ylabel("best search-val accuracy in the range (%)")
    ax.set_title("(a) best per 0.5M parameter range")
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)

    grid = np.full((9, 9), np.nan)
    for _, row in best_convs.iterrows():
        n, r = int(row["convs_normal"]), int(row["convs_reduce"])
        grid[r, n] = np.nanmax([grid[r, n], row["val_acc"]])
    image = heat_ax.imshow(grid, origin="lower", cmap="viridis", aspect="equal")
    for (r, n), value in np.ndenumerate(grid):
        if np.isfinite(value):
            heat_ax.text(n, r, f"{value:.0f}", ha="center", va="center", fontsize=7.5,
                         color="white" if value < np.nanmean(grid) else "black")
    heat_ax.set_xticks(range(9))
    heat_ax.set_yticks(range(9))
    heat_ax.set_xlabel("conv ops in the normal cell")
    heat_ax.set_ylabel("conv ops in the reduction cell")
    heat_ax.set_title("(b) best per conv-count bucket (all settings)")
    heat_ax.grid(False)
    fig.colorbar(image, ax=heat_ax, shrink=0.8, label="best search-val accuracy (%)")

    params = [p for _, p, _ in PAPER_MILENAS_ARCHS]
    accuracy = [100 - e for _, _, e in PAPER_MILENAS_ARCHS]
    paper_ax.axvspan(*PAPER_BEST_RANGE_M, color="0.85", zorder=0)
    paper_ax.plot(params, accuracy, "s", color="0.3", markerfacecolor="white", markeredgewidth=1.5)
    for (name, p, e) in PAPER_MILENAS_ARCHS:
        paper_ax.annotate(f"{e:.2f}% err, {p:.2f}M", (p, 100 - e), xytext=(6, 4), textcoords="offset points",
                          fontsize=8)
    paper_ax.set_xlabel("parameters (M)")
    paper_ax.set_ylabel("CIFAR-10 test accuracy after evaluation (%)")
    paper_ax.set_title("(c) paper (quoted): evaluated MiLeNAS cells")
    paper_ax.set_xlim(1.8, 5.0)
    paper_ax.set_ylim(96.9, 97.9)
    titled(fig, "Fig. 6 · Search-val accuracy per model size (paper: evaluated accuracy peaks at 3.5-4.5M)",
           detail)
    return fig


# ---------------------------------------------------------------------------
# Notebook 1: α over the search

_CELL_NAMES = {"normal": "normal cell", "reduce": "reduction cell"}


def _softmax(record: dict, epoch_index: int, cell: str) -> np.ndarray:
    return np.asarray(record["epochs"][epoch_index]["softmax"][cell])


def draw_alpha_heatmap(ax, weights: np.ndarray, title: str, vmin: float, vmax: float, show_ops: bool = True):
    """softmax(α) as a heatmap, diverging around the uniform 1/8: red gained weight, blue lost it."""
    from matplotlib.colors import TwoSlopeNorm

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


def alpha_explorer(record: dict) -> None:
    """An ipywidgets slider over epochs: heatmaps and derived cells at that epoch
    (interactive sessions only; papermill runs keep the static figures).

    The picture is an ``Image`` widget holding a PNG, redrawn on each move: no
    ``Output`` widget, whose captured outputs make headless runners wait."""
    import io

    import ipywidgets as widgets
    from IPython.display import display

    from ..space.genotype import Genotype

    all_weights = np.concatenate([np.asarray(e["softmax"][c]).ravel() for e in record["epochs"]
                                  for c in ("normal", "reduce")])
    vmin, vmax = float(all_weights.min()), float(all_weights.max())

    def render(epoch: int) -> bytes:
        index = epoch - 1
        genotype = Genotype.from_dict(record["epochs"][index]["genotype"])
        fig, axes = figure(2, 2, figsize=(13, 9), gridspec_kw={"width_ratios": [1, 1.6]})
        for row, cell in enumerate(("normal", "reduce")):
            draw_alpha_heatmap(axes[row, 0], _softmax(record, index, cell), f"{_CELL_NAMES[cell]}: softmax(α)",
                               vmin, vmax)
            draw_cell(axes[row, 1], getattr(genotype, cell), f"derived {_CELL_NAMES[cell]}")
        entry = record["epochs"][index]
        titled(fig, f"after epoch {epoch}: search-val {100 * entry['val_acc']:.1f}%, "
                    f"train {100 * entry['train_acc']:.1f}%")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        plt.close(fig)
        return buffer.getvalue()

    last = len(record["epochs"])
    image = widgets.Image(value=render(last), format="png")
    slider = widgets.IntSlider(value=last, min=1, max=last, step=1, description="epoch", continuous_update=False)
    slider.observe(lambda change: setattr(image, "value", render(change["new"])), names="value")
    display(widgets.VBox([slider, image]))


# ---------------------------------------------------------------------------
# Notebook 8: gradient error

def fig_gradient_error(trajectory: pd.DataFrame, sweep: pd.DataFrame, detail: str, darts_epsilon: float = 1e-2):
    """(a) relative error of DARTS' finite difference against the exact
    hypergradient along the search; (b) cosine of each rule's α direction to the
    exact hypergradient; (c) the error against ε at the last state."""
    fig, (ax, cos_ax, eps_ax) = figure(1, 3, figsize=(16, 4.8))
    for epsilon, style in zip(sorted(trajectory["epsilon"].unique(), reverse=True), ("-", "--", ":")):
        part = trajectory[trajectory["epsilon"] == epsilon].sort_values("step")
        tag = "DARTS' ε" if np.isclose(epsilon, darts_epsilon) else f"ε = {epsilon:g}"
        ax.plot(part["epoch"], part["second_order_relative_error"], style, marker="o", color="#D55E00",
                label=f"2nd-order term g₂, {tag}")
        ax.plot(part["epoch"], part["total_relative_error"], style, marker="s", color="#0072B2",
                label=f"whole hypergradient, {tag}")
    weight = trajectory.groupby("step").first().sort_values("epoch")
    ax.plot(weight["epoch"], weight["second_order_norm"] / weight["direct_norm"], ":", marker=".", color="0.45",
            label="ξ‖g₂‖ / ‖g₁‖: weight of the g₂ term")
    ax.set_yscale("log")
    ax.set_xlabel("search epoch (0 = start)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("relative error ‖approx − exact‖ / ‖exact‖")
    ax.set_title("(a) finite-difference error along the search")
    ax.legend(fontsize=7.5)

    darts = trajectory[np.isclose(trajectory["epsilon"], darts_epsilon)].sort_values("step")
    series = [("total_cosine", "2nd-order DARTS (finite diff., DARTS' ε)", "#0072B2", "^"),
              ("darts_1st_cosine", "1st-order DARTS: ∇α L_val", "#999999", "x"),
              ("milenas_cosine", "MiLeNAS: ∇α L_tr + λ ∇α L_val", "#009E73", "o"),
              ("single_level_cosine", "single-level: ∇α L_tr", "#D55E00", "v")]
    for column, label, color, marker in series:
        cos_ax.plot(darts["epoch"], darts[column], marker=marker, color=color, label=label)
    cos_ax.axhline(0, color="black", linewidth=0.7)
    cos_ax.set_ylim(-1.05, 1.05)
    cos_ax.set_xlabel("search epoch (0 = start)")
    cos_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    cos_ax.set_ylabel("cosine to the exact hypergradient")
    cos_ax.set_title("(b) where each rule's α gradient points")
    cos_ax.legend(fontsize=7.5, loc="lower left")

    for dtype, marker in (("float64", "o"), ("float32", "s")):
        part = sweep[sweep["dtype"] == dtype].sort_values("epsilon")
        if part.empty:
            continue
        eps_ax.plot(part["epsilon"], part["second_order_relative_error"], marker=marker, color="#D55E00",
                    linestyle="-" if dtype == "float64" else "--", label=f"g₂ term, {dtype}")
        eps_ax.plot(part["epsilon"], part["total_relative_error"], marker=marker, color="#0072B2",
                    linestyle="-" if dtype == "float64" else "--", label=f"whole hypergradient, {dtype}")
    eps_ax.axvline(darts_epsilon, color="black", linestyle=":", linewidth=1)
    eps_ax.annotate("DARTS' ε", (darts_epsilon, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3),
                    textcoords="offset points", va="top", fontsize=8.5)
    eps_ax.set_xscale("log")
    eps_ax.set_yscale("log")
    eps_ax.invert_xaxis()
    eps_ax.set_xlabel("finite-difference step ε·‖v‖ in weight space (smaller →)")
    eps_ax.set_ylabel("relative error to double backward")
    eps_ax.set_title("(c) error against ε at the last state")
    eps_ax.legend(fontsize=7.5)
    titled(fig, "Gradient error of 2nd-order DARTS (Eq. 7) against the exact one-step hypergradient "
                "(double backward), and the first-order rules beside it", detail)
    return fig


# ---------------------------------------------------------------------------
# Notebook 9: the relaxation

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


def fig_learning_curves(epochs: pd.DataFrame, keys: Sequence[str], detail: str):
    """Train and search-val accuracy of a few settings side by side (teaching notebook)."""
    fig, axes = figure(1, 2, figsize=(11, 4), sharey=True)
    band_plot(axes[0], epochs, "train_acc", keys)
    band_plot(axes[1], epochs, "val_acc", keys)
    axes[0].set_title("(a) train accuracy (augmented batches)")
    axes[1].set_title("(b) search-val accuracy (un-augmented)")
    for axis in axes:
        axis.set_xlabel("search epoch")
    axes[0].set_ylabel("accuracy (%)")
    axes[1].legend(fontsize=8)
    titled(fig, "A tiny search with three formulations", detail)
    return fig


__all__ = ["EDGE_LABELS", "alpha_explorer", "band_plot", "draw_alpha_heatmap", "fig_alpha_heatmaps",
           "fig_gradient_error", "fig_gumbel", "fig_learning_curves", "fig_model_size", "fig_op_weights",
           "fig_relaxation", "fig_search_time", "fig_search_val_accuracy", "fig_train_val_gap"]



# ---------------------------------------------------------------------------
# Tables 1 and 2 as pictures

def _quoted_scatter(ax, quoted: pd.DataFrame, x: str, y: str, yerr: Optional[str] = None) -> None:
    """The paper's rows as open grey markers (MiLeNAS filled), each labelled."""
    for _, row in quoted.iterrows():
        if pd.isna(row[x]) or pd.isna(row[y]):
            continue
        mine = row["architecture"].startswith("MiLeNAS")
        ax.errorbar(row[x], row[y], yerr=row[yerr] if yerr and pd.notna(row[yerr]) else None, fmt="s" if mine else "o",
                    color="#009E73" if mine else "0.35", markerfacecolor="#009E73" if mine else "white",
                    markersize=5.5, capsize=2, linewidth=1)
        ax.annotate(row["architecture"], (row[x], row[y]), xytext=(4, 3), textcoords="offset points", fontsize=7,
                    color="#006d50" if mine else "0.25")


def _our_bars(ax, ours: pd.DataFrame, column: str, std: str, xlabel: str, chance: Optional[float] = None) -> None:
    if ours.empty:
        ax.text(0.5, 0.5, "no trained rows\n(see the notebook's data note)", ha="center", va="center",
                transform=ax.transAxes, fontsize=10, color="0.3")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    labels = [f"{a}\n{p:.2f}M params here · n={int(n)}"
              for a, p, n in zip(ours["architecture"], ours["params_m"], ours["n"])]
    values = ours[column].astype(float)
    errors = ours[std].astype(float).fillna(0.0) if std in ours else None
    rows = range(len(ours))
    ax.barh(rows, values, xerr=errors, color="#56B4E9", edgecolor="black", linewidth=0.6, capsize=3)
    for row, value in zip(rows, values):
        ax.text(value, row, f"  {value:.1f}", va="center", fontsize=8.5)
    ax.set_yticks(list(rows), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_xlim(0, max(100.0, float(values.max()) * 1.15))
    if chance is not None:
        ax.axvline(chance, color="0.4", linestyle=":", linewidth=1)
    ax.grid(axis="y", visible=False)


def fig_table1(table: pd.DataFrame, detail: str):
    """Table 1 as a picture: the paper's rows (quoted) and ours (final-epoch
    error, mean ± std over seeds), in separate panels since their scales differ."""
    quoted = table[table["source"].str.startswith("quoted")]
    ours = table[table["source"] == "ours"].reset_index(drop=True)
    fig, (ax, ours_ax) = figure(1, 2, figsize=(14, max(4.5, 0.55 * len(ours) + 3)),
                                gridspec_kw={"width_ratios": [1.3, 1]})
    _quoted_scatter(ax, quoted[quoted["params_m"] < 10], "params_m", "test_error", "test_error_std")
    ax.set_xlabel("parameters (M)")
    ax.set_ylabel("CIFAR-10 test error (%)")
    ax.set_title("(a) paper's Table 1, quoted (params < 10M; MiLeNAS green)")
    _our_bars(ours_ax, ours, "test_error", "test_error_std", "final-epoch CIFAR-10 test error (%)  (dotted: chance)",
              chance=90.0)
    ours_ax.set_title("(b) ours: networks trained here")
    titled(fig, "Table 1 · CIFAR-10 evaluation of searched and registered cells", detail)
    return fig


def fig_table2(table: pd.DataFrame, detail: str, chance: Optional[float] = None):
    """Table 2 as a picture: quoted top-1 error against mult-adds, ours, and the
    network size of every registered cell at the paper's ImageNet setting."""
    quoted = table[table["source"].str.startswith("quoted")]
    sizes = table[table["source"] == "ours (size only)"].reset_index(drop=True)
    ours = table[table["source"] == "ours"].reset_index(drop=True)
    ours = ours.assign(test_error=ours["top1_error"], test_error_std=ours["top1_error_std"])
    fig, (ax, size_ax, ours_ax) = figure(1, 3, figsize=(17, 5), gridspec_kw={"width_ratios": [1.2, 1, 1]})
    _quoted_scatter(ax, quoted, "mult_adds_m", "top1_error")
    ax.axvline(600, color="#D55E00", linestyle="--", linewidth=1)
    ax.set_xlabel("mult-adds (M)")
    ax.set_ylabel("ImageNet top-1 error (%)")
    ax.set_title("(a) paper's Table 2, quoted (dashed: 600M mobile limit)")
    ax.set_xlim(480, 640)
    rows = range(len(sizes))
    size_ax.barh(rows, sizes["mult_adds_m"], color="#E69F00", edgecolor="black", linewidth=0.6)
    for row, (madds, params) in enumerate(zip(sizes["mult_adds_m"], sizes["params_m"])):
        size_ax.text(madds, row, f" {madds:.0f}M, {params:.2f}M params", va="center", fontsize=8)
    size_ax.axvline(600, color="#D55E00", linestyle="--", linewidth=1)
    size_ax.set_yticks(list(rows), sizes["architecture"], fontsize=8)
    size_ax.invert_yaxis()
    size_ax.set_xlim(0, 900)
    size_ax.set_xlabel("mult-adds (M), 224x224, conv + linear layers")
    size_ax.set_title("(b) our count: cells at the paper's ImageNet size")
    size_ax.grid(axis="y", visible=False)
    _our_bars(ours_ax, ours, "test_error", "test_error_std",
              "final-epoch top-1 error (%)" + ("  (dotted: chance)" if chance is not None else ""), chance=chance)
    ours_ax.set_title("(c) ours: networks trained here")
    titled(fig, "Table 2 · ImageNet transfer of the searched cells", detail)
    return fig


__all__ += ["fig_table1", "fig_table2"]

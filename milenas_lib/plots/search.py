"""The figures of the search runs: Fig. 2 (train-val gap), Fig. 3 (search-val
accuracy and search time), Fig. 5 (Gumbel variants), Fig. 6 (model size), and
the teaching notebook's learning curves.

Every function takes reduced frames from :mod:`milenas_lib.paper.frames`
(``curves``: mean ± std over seeds per setting and epoch, long format with a
``value`` column; ``final_epoch``: each run's last epoch; per-run time rows)
and gives a matplotlib figure; saving it is the caller's job.  Several seeds
are drawn as mean ± std bands with n in the legend; one seed as a plain line
(no band to fake).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ..paper.quoted import PAPER_BEST_RANGE_M, PAPER_FIG5, PAPER_FIG5_ERRORS, PAPER_MILENAS_ARCHS
from ..paper.settings import SETTINGS, setting
from .style import QUOTED_STYLE, figure, titled


def _present(frame: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    have = set(frame["setting"])
    return [k for k in keys if k in have]


def band_plot(ax, curves: pd.DataFrame, value: str, keys: Sequence[str], x: str = "epoch",
              overlay: Optional[tuple[str, str]] = None) -> None:
    """The mean of ``value`` per setting and ``x`` (rows of ``curves`` with that
    ``value``), with a ± 1 SD band when n > 1 (one legend entry says so).
    ``overlay = (top, beneath)``: two settings whose curves coincide for a while
    (the switch runs bilevel first): ``beneath`` is drawn thick with large hollow
    markers, ``top`` over it, dashed with small filled markers, so both show."""
    summary = curves[curves["value"] == value]
    banded = False
    for key in _present(summary, keys):
        spec = setting(key)
        part = summary[summary["setting"] == key].sort_values(x)
        n = int(part["n"].max())
        style = {"markevery": max(1, len(part) // 12), "zorder": 2}
        if overlay and key == overlay[0]:
            style.update(zorder=6, markersize=4.5, linewidth=1.4, linestyle="--", markevery=1)
        elif overlay and key == overlay[1]:
            style.update(zorder=5, markersize=10, linewidth=2.6, markerfacecolor="white", markeredgewidth=1.6)
        ax.plot(part[x], part["mean"], **{"color": spec.color, "marker": spec.marker, "linestyle": spec.linestyle,
                                          "label": f"{spec.label}, n={n}", **style})
        if n > 1:
            banded = True
            ax.fill_between(part[x], part["mean"] - part["std"], part["mean"] + part["std"], color=spec.color,
                            alpha=0.15, linewidth=0)
    if banded:  # say what a band is, once
        ax.fill_between([], [], [], color="0.5", alpha=0.3, linewidth=0, label="band: mean ± 1 SD over the n seeds")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _value_column(ax, rows: Sequence[float], texts: Sequence[str]) -> None:
    """Value labels in a column right of the axes, where no whisker or dot can cover them."""
    for row, text in zip(rows, texts):
        ax.annotate(text, (1.01, row), xycoords=("axes fraction", "data"), va="center", ha="left", fontsize=8.5,
                    annotation_clip=False)


def _bar_with_seeds(ax, frame: pd.DataFrame, value: str, keys: Sequence[str], xlabel: str) -> None:
    """Horizontal bars: mean over seeds, ± 1 SD whisker, each seed as a dot; the mean written right of the axes."""
    keys = _present(frame, keys)
    means = []
    for row, key in enumerate(keys):
        spec = setting(key)
        values = frame.loc[frame["setting"] == key, value]
        ax.barh(row, values.mean(), xerr=values.std() if len(values) > 1 else None, color=spec.color, alpha=0.75,
                edgecolor="black", linewidth=0.6, capsize=3)
        ax.plot(values, np.full(len(values), row), "o", color="black", markersize=3.5, zorder=3)
        means.append(f"{values.mean():+.1f}" if "gap" in value else f"{values.mean():.1f}")
    ax.set_yticks(range(len(keys)), [f"{setting(k).label}, n={int((frame['setting'] == k).sum())}" for k in keys])
    ax.invert_yaxis()
    _value_column(ax, range(len(keys)), means)
    ax.set_xlabel(xlabel)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.grid(axis="y", visible=False)


# ---------------------------------------------------------------------------
# Fig. 2 and Fig. 3

def fig_train_val_gap(curves: pd.DataFrame, final: pd.DataFrame, keys: Sequence[str], detail: str,
                      smooth_window: int = 1):
    """Fig. 2: train − search-val accuracy over epochs (``curves`` of ``gap``,
    smoothed over ``smooth_window`` epochs), and at the last epoch (``final``)."""
    fig, (ax, bar_ax) = figure(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.6, 1]})
    band_plot(ax, curves, "gap", keys)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("search epoch")
    ax.set_ylabel("train acc − search-val acc (percentage points)")
    ax.set_title("(a) gap over the search" + (f" ({smooth_window}-epoch moving average)" if smooth_window > 1 else ""))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8)
    _bar_with_seeds(bar_ax, final, "gap", keys, "gap at the last epoch (percentage points)")
    bar_ax.set_title("(b) last epoch: mean (bar, value at right), ± 1 SD whisker, dots = seeds", fontsize=10)
    titled(fig, "Fig. 2 · Train-validation accuracy gap during the search "
                "(paper: single-level largest, bilevel smallest, MiLeNAS between, ordered by λ)", detail)
    return fig


def fig_search_val_accuracy(curves: pd.DataFrame, keys: Sequence[str], detail: str,
                            switch_epoch: Optional[int] = None):
    """Fig. 3a: search-validation accuracy over epochs (``curves`` of ``val_acc``), with the switch marked."""
    fig, ax = figure(figsize=(10.5, 4.8))
    band_plot(ax, curves, "val_acc", keys, overlay=("switch", "darts_2nd"))
    accuracy = curves[curves["value"] == "val_acc"]
    if accuracy["mean"].min() < 20:  # short runs: show where guessing would be
        ax.axhline(10, color="0.4", linestyle=":", linewidth=1, label="chance (10 classes)")
    if switch_epoch is not None and "switch" in set(accuracy["setting"]):
        # Labelled in the legend, outside the axes: an annotation inside sits on the curves.
        ax.axvline(switch_epoch + 0.5, color=SETTINGS["switch"].color, linestyle=":", linewidth=1.2,
                   label=f"the switch to MiLeNAS, after epoch {switch_epoch}")
    ax.set_xlabel("search epoch")
    ax.set_ylabel("search-val accuracy (%, un-augmented)")
    if switch_epoch is not None and "switch" in set(accuracy["setting"]):
        ax.plot([], [], " ", label=f"(the switch runs bilevel for its first {switch_epoch} epochs:\n"
                                   " its dashed curve lies on the hollow bilevel markers)")
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
        whisker = 0.0
        if n > 1 and error is not None and np.isfinite(error):
            ax.errorbar(left, row, xerr=error / scale, color="black", capsize=3, linewidth=1)
            whisker = error / scale
        ratio = ""
        if reference in means.index and key != reference:
            ratio = f"  ({means.loc[key, 'time_s'] / means.loc[reference, 'time_s']:.2f}x {setting(reference).label})"
        ax.text(left + whisker, row, f"  {left:.1f} {unit}{ratio}", va="center", fontsize=8.5)  # past the whisker
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

def _unlike(final: pd.DataFrame) -> str:
    """Where our Fig. 5 numbers and the paper's differ in what they measure."""
    epochs = int(final["epoch"].max())
    pixels = f"{int(final['resolution'].max())} px" if "resolution" in final else "our resolution"
    return (f"not like for like: ours = argmax cell, un-augmented images, {epochs} epochs, {pixels};\n"
            "paper = the authors' code: cell sampled at evaluation, augmented images, 250 epochs, 32 px")


def fig_gumbel(curves: pd.DataFrame, final: pd.DataFrame, detail: str):
    """Fig. 5: GDAS against MiLeNAS (Gumbel): search-val accuracy over epochs
    (``curves`` of ``val_acc`` and ``tau``) on a 0-100 % axis with chance drawn,
    so that wiggles at chance do not read as a trend, and the last epoch's
    (``final``) beside the paper's quoted values, with where the two differ."""
    keys = _present(final, ["gdas", "milenas_gumbel"])
    fig, (ax, bar_ax) = figure(1, 2, figsize=(11, 4.8), gridspec_kw={"width_ratios": [1.5, 1]}, sharey=True)
    band_plot(ax, curves, "val_acc", keys)
    ax.set_xlabel("search epoch")
    ax.set_ylabel("search-val accuracy (%, argmax architecture)")
    ax.set_ylim(0, 100)
    ax.set_title("(a) ours over the search")
    ax.axhline(10, color="0.4", linestyle=":", linewidth=1, label="chance (10 classes)")
    ax.legend(loc="upper left", fontsize=8)
    tau = curves[curves["value"] == "tau"].dropna(subset=["mean"]).groupby("epoch")["mean"].mean()
    if not tau.empty:
        ax.set_title(f"(a) ours over the search (Gumbel τ {tau.iloc[0]:g} → {tau.iloc[-1]:g})")
    width = 0.38
    for i, key in enumerate(keys):
        spec = setting(key)
        values = final.loc[final["setting"] == key, "val_acc"]
        ours, spread = values.mean(), (values.std() if len(values) > 1 else 0.0)
        bar_ax.bar(i - width / 2, ours, width, color=spec.color, edgecolor="black", linewidth=0.6,
                   yerr=spread if len(values) > 1 else None, capsize=3,
                   label="ours, last epoch (± 1 SD, dots = seeds)" if i == 0 else None)
        bar_ax.plot(np.full(len(values), i - width / 2), values, "o", color="black", markersize=3, zorder=3)
        top = max(ours + spread, values.max())  # the label sits above the whisker and the dots
        bar_ax.text(i - width / 2, top + 2, f"{ours:.1f}", ha="center", va="bottom", fontsize=8.5)
        bar_ax.bar(i + width / 2, PAPER_FIG5[key], width, **QUOTED_STYLE,
                   label="paper (quoted), 250 epochs" if i == 0 else None)
        bar_ax.text(i + width / 2, PAPER_FIG5[key] + 1, f"{PAPER_FIG5[key]:.2f}\n(test err {PAPER_FIG5_ERRORS[key]}%)",
                    ha="center", va="bottom", fontsize=8)
    bar_ax.set_xticks(range(len(keys)), [f"{setting(k).label}\n(n={int((final['setting'] == k).sum())})"
                                         for k in keys])
    bar_ax.axhline(10, color="0.4", linestyle=":", linewidth=1, label="chance (10 classes)")
    bar_ax.set_title("(b) final accuracy, ours vs paper")
    bar_ax.legend(loc="upper left", fontsize=8)
    bar_ax.grid(axis="x", visible=False)
    bar_ax.text(0.5, -0.3, _unlike(final), transform=bar_ax.transAxes, ha="center", va="top", fontsize=7.5)
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




def fig_learning_curves(curves: pd.DataFrame, keys: Sequence[str], detail: str):
    """Train and search-val accuracy (``curves`` of ``train_acc`` and ``val_acc``)
    of a few settings side by side (teaching notebook)."""
    fig, axes = figure(1, 2, figsize=(11, 4), sharey=True)
    band_plot(axes[0], curves, "train_acc", keys)
    band_plot(axes[1], curves, "val_acc", keys)
    axes[0].set_title("(a) train accuracy (augmented batches)")
    axes[1].set_title("(b) search-val accuracy (un-augmented)")
    for axis in axes:
        axis.set_xlabel("search epoch")
    axes[0].set_ylabel("accuracy (%)")
    axes[1].legend(fontsize=8)
    titled(fig, "A tiny search with three formulations", detail)
    return fig


"""Notebook 8's figure: the error of DARTS' finite-difference hypergradient (Eq. 7)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from .style import figure, titled


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

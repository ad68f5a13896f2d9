"""The claims at a glance: each part's per-seed values, raw 95 % interval and Holm-adjusted interval, beside
the line it must clear, coloured by its verdict."""
from __future__ import annotations

import math

import pandas as pd
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullLocator

from .style import figure, titled

#: Verdict -> colour (Okabe-Ito: holds green, weaker orange, reversed vermilion, not resolved grey,
#: not measurable light grey).
VERDICT_COLORS = {"holds": "#009E73", "weaker than claimed": "#E69F00", "reversed": "#D55E00",
                  "not resolved at this scale": "0.35", "not measurable at this scale": "0.7"}
_PANELS = (("gap", "train-val gap difference (pp), per seed and mean"),
           ("val_acc", "search-val accuracy difference (pp), per seed and mean"),
           ("step_s", "step-time ratio darts_2nd / MiLeNAS (×, log scale), per interleaved pair and geometric mean"),
           ("time_s", "search-time ratio (×, log scale)"))


def _boundaries(ax, row: pd.Series, y: float) -> None:
    """The lines a part must clear besides zero: the paper's speed-up factor, or the ± margin of "close"."""
    if row["kind"] == "close" and math.isfinite(row["margin"]):
        for x in (-row["margin"], row["margin"]):
            ax.plot([x, x], [y - 0.4, y + 0.4], color="0.2", linewidth=1, linestyle="--")
    elif row["kind"] == "ratio":
        size = float(row["comparison"].rsplit(">", 1)[1])
        ax.plot([size, size], [y - 0.4, y + 0.4], color="0.2", linewidth=1, linestyle="--")


def _draw_part(ax, row: pd.Series, y: float) -> None:
    color = VERDICT_COLORS.get(row["verdict"], "0.35")
    seeds = [p["value"] for p in row["per_seed"]]
    ax.plot(seeds, [y + 0.22] * len(seeds), "o", color=color, markersize=4, markerfacecolor="white",
            markeredgewidth=1.2, zorder=3)
    if math.isfinite(row.get("ci_low_holm", math.nan)):  # the interval the verdict uses: thin, capped
        ax.errorbar(row["mean"], y, xerr=[[row["mean"] - row["ci_low_holm"]], [row["ci_high_holm"] - row["mean"]]],
                    fmt="none", color=color, capsize=5, linewidth=1)
    if math.isfinite(row["ci_low"]):  # the raw 95 % interval: thick
        ax.plot([row["ci_low"], row["ci_high"]], [y, y], color=color, linewidth=4, solid_capstyle="butt", alpha=0.8)
    if math.isfinite(row["mean"]):
        ax.plot(row["mean"], y, "D", color=color, markeredgecolor="black", markersize=7, zorder=4)
    _boundaries(ax, row, y)


def fig_claims(claims: pd.DataFrame, detail: str):
    """A forest plot of ``claims`` (:func:`milenas_lib.paper.claims.evaluate_claims`): one row per part,
    each seed's value (open dots, just below the row), the mean (diamond), the raw 95 % t interval (thick bar) and
    the Holm-adjusted interval the verdict uses (thin, capped), coloured by the verdict; the verdict is
    written on the right, clear of the whiskers."""
    panels = [(value, title) for value, title in _PANELS if (claims["value"] == value).any()]
    heights = [int((claims["value"] == value).sum()) for value, _ in panels]
    fig, axes = figure(len(panels), 1, figsize=(12, 1.6 + 0.62 * len(claims)), squeeze=False,
                       gridspec_kw={"height_ratios": heights})
    for ax, (value, title) in zip(axes[:, 0], panels):
        rows = claims[claims["value"] == value].reset_index(drop=True)
        for y, row in rows.iterrows():
            _draw_part(ax, row, y)
        if value in ("step_s", "time_s"):
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(FixedLocator([0.5, 1, 2, 3, 5, 10]))
            ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.axvline(1, color="0.2", linewidth=1)
        else:
            ax.axvline(0, color="0.2", linewidth=1)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"{p}: {c.split(': ', 1)[1]}\n(n = {n})"
                            for p, c, n in zip(rows["part"], rows["comparison"], rows["n"])], fontsize=8)
        ax.set_ylim(len(rows) - 0.4, -0.6)
        for y, row in rows.iterrows():  # the verdict, in the right margin: never on a whisker
            ax.annotate(row["verdict"], (1.01, y), xycoords=("axes fraction", "data"), va="center", fontsize=8,
                        color=VERDICT_COLORS.get(row["verdict"], "0.35"), annotation_clip=False)
        ax.set_xlabel(title, fontsize=9)
    handles = [axes[0, 0].plot([], [], "D", color=c, label=v)[0] for v, c in VERDICT_COLORS.items()]
    fig.legend(handles=handles, loc="outside lower center", ncol=5, fontsize=8,
               title="open dots: seeds · diamond: mean · thick: raw 95 % t interval · thin capped: Holm-adjusted "
                     "interval (the verdict's) · dashed: the line a part must clear", title_fontsize=8)
    titled(fig, "The paper's claims: paired effects over seeds, gated, Holm-corrected", detail)
    return fig

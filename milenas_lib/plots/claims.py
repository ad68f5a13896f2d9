"""The claims at a glance: each part's measured effect with its 95 % interval, beside the line it must clear."""
from __future__ import annotations

import pandas as pd

from .style import figure, titled

#: Verdict -> marker colour (Okabe-Ito: holds green, reversed vermilion, open grey).
VERDICT_COLORS = {"holds": "#009E73", "reversed": "#D55E00"}
UNRESOLVED_COLOR = "0.45"
_PANELS = (("gap", "train-val gap difference (pp)"), ("val_acc", "search-val accuracy difference (pp)"),
           ("time_s", "search-time ratio (×)"))


def _boundary(ax, comparison: str, y: float) -> None:
    """The line a part must clear: 0, the paper's speed-up, or the ± margin of "close"."""
    if "|" in comparison:
        margin = float(comparison.rsplit("<", 1)[1])
        ax.plot([-margin, -margin], [y - 0.4, y + 0.4], color="0.2", linewidth=1, linestyle="--")
        ax.plot([margin, margin], [y - 0.4, y + 0.4], color="0.2", linewidth=1, linestyle="--")
    elif "/" in comparison:
        threshold = float(comparison.rsplit(">", 1)[1])
        ax.plot([threshold, threshold], [y - 0.4, y + 0.4], color="0.2", linewidth=1, linestyle="--")


def fig_claims(claims: pd.DataFrame, detail: str):
    """A forest plot of ``claims`` (:func:`milenas_lib.experiments.claims.evaluate_claims`): one row per part,
    the paired mean effect and its 95 % t interval, coloured by its verdict."""
    panels = [(value, title) for value, title in _PANELS if _rows(claims, value).any()]
    fig, axes = figure(len(panels), 1, figsize=(10, 1.2 + 0.55 * len(claims)), squeeze=False,
                       gridspec_kw={"height_ratios": [int(_rows(claims, value).sum()) for value, _ in panels]})
    for ax, (value, title) in zip(axes[:, 0], panels):
        rows = claims[_rows(claims, value)].reset_index(drop=True)
        for y, row in rows.iterrows():
            color = VERDICT_COLORS.get(row["verdict"], UNRESOLVED_COLOR)
            ax.errorbar(row["mean"], y, xerr=[[row["mean"] - row["ci_low"]], [row["ci_high"] - row["mean"]]],
                        fmt="o", color=color, capsize=4, markersize=7)
            _boundary(ax, row["comparison"], y)
        if value != "time_s":
            ax.axvline(0, color="0.2", linewidth=1)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"{p}: {c.split(': ', 1)[1]}" for p, c in zip(rows["part"], rows["comparison"])])
        ax.invert_yaxis()
        ax.set_xlabel(title)
    handles = [axes[0, 0].scatter([], [], color=c, label=v) for v, c in
               (*VERDICT_COLORS.items(), ("not resolved at this scale", UNRESOLVED_COLOR))]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8)
    titled(fig, "The paper's claims: paired effect over seeds, mean and 95 % t interval "
                "(dashed: the line a claim must clear)", detail)
    return fig


def _rows(claims: pd.DataFrame, value: str) -> pd.Series:
    """The parts that compare ``value`` (their statements start with its name)."""
    prefix = {"gap": "train-val", "val_acc": "search-val", "time_s": "search time"}[value]
    return claims["comparison"].str.startswith(prefix)

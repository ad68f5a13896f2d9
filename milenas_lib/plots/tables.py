"""Tables 1 and 2 as pictures: the paper's rows (quoted) beside the networks trained here."""
from __future__ import annotations

from typing import Optional

import pandas as pd

from .style import figure, titled


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


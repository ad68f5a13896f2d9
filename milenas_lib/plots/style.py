"""One look for every figure: sizes readable in print, colour-blind-safe colours
that also differ in marker and dash (grey-scale print), titles that say what
was run (preset, data, n)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import matplotlib as mpl
import matplotlib.pyplot as plt

PRINT_STYLE = {
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10.5,
    "legend.fontsize": 9,
    "legend.framealpha": 0.9,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "figure.titlesize": 11.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.8,
    "lines.markersize": 5.5,
    "pdf.fonttype": 42,   # editable text in the PDFs
    "figure.constrained_layout.use": True,
}

QUOTED_STYLE = {"hatch": "///", "facecolor": "white", "edgecolor": "0.35"}


@contextmanager
def print_style() -> Iterator[None]:
    with mpl.rc_context(PRINT_STYLE):
        yield


def figure(*args, **kwargs):
    """``plt.subplots`` in the print style."""
    with print_style():
        return plt.subplots(*args, **kwargs)


def titled(fig, title: str, detail: str = "") -> None:
    """A two-line title: what the figure is, then preset, data and n."""
    fig.suptitle(title + (f"\n{detail}" if detail else ""), fontsize=PRINT_STYLE["figure.titlesize"])

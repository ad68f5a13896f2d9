"""One look for every figure: sizes readable in print, colour-blind-safe colours
that also differ in marker and dash (grey-scale print), titles that say what
was run (preset, data, n); and tables shown whole in a notebook."""
from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd

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

F = TypeVar("F", bound=Callable)


@contextmanager
def print_style() -> Iterator[None]:
    """PRINT_STYLE for what is drawn inside, leaving interactive mode as it is.

    ``mpl.rc_context`` restores *every* rcParam on exit, ``interactive`` too.
    The first figure of a Jupyter kernel loads the inline backend, which turns
    interactive mode on; restoring the value from before would turn it off
    again, and with it the display of every later figure of the session.
    """
    interactive = mpl.is_interactive()
    try:
        with mpl.rc_context(PRINT_STYLE):
            try:
                yield
            finally:
                interactive = mpl.is_interactive()
    finally:
        mpl.interactive(interactive)


def styled(draw: F) -> F:
    """Decorator: the whole figure function runs in :func:`print_style` (legends,
    lines and texts drawn after the figure exists get the style too)."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with print_style():
            return draw(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def figure(*args, **kwargs):
    """``plt.subplots`` in the print style."""
    with print_style():
        return plt.subplots(*args, **kwargs)


def titled(fig, title: str, detail: str = "") -> None:
    """A two-line title: what the figure is, then preset, data and n."""
    fig.suptitle(title + (f"\n{detail}" if detail else ""), fontsize=PRINT_STYLE["figure.titlesize"])


class Table:
    """A frame shown whole: every cell's full text (no cut at 50 characters), no
    index column, strings unquoted, floats rounded; HTML in Jupyter, text elsewhere."""

    def __init__(self, frame: pd.DataFrame, precision: int = 3, caption: str = ""):
        self.frame, self.precision, self.caption = frame, precision, caption

    def _repr_html_(self) -> str:
        styler = self.frame.style.hide(axis="index").format(precision=self.precision, na_rep="")
        styler = styler.set_table_styles([{"selector": "td, th", "props": "text-align: left; white-space: pre-wrap;"}])
        return (styler.set_caption(self.caption) if self.caption else styler).to_html()

    def __repr__(self) -> str:
        with pd.option_context("display.max_colwidth", None, "display.width", None, "display.max_columns", None,
                               "display.precision", self.precision):
            text = self.frame.to_string(index=False)
        return f"{self.caption}\n{text}" if self.caption else text


def show_table(frame: pd.DataFrame, precision: int = 3, caption: str = "") -> Table:
    """``frame`` as a cell's last line shows it: see :class:`Table`."""
    return Table(frame, precision, caption)

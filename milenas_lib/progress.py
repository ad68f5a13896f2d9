"""Progress bars for long work: tqdm's notebook bar in JupyterLab, plain text
lines in a terminal and in notebooks that papermill runs.

``tqdm.auto`` picks its widget bar in every Jupyter kernel, also in one that
papermill drives, where no browser ever draws the widget and the executed
notebook keeps only a stale first state.  The notebook runner therefore sets
``MILENAS_PROGRESS=text`` for the kernels it starts (the variable is inherited);
this module honours it.
"""
from __future__ import annotations

import os
import sys
from typing import Any

#: Environment variable: ``text`` forces plain text bars (set by the notebook runner).
PROGRESS_ENV = "MILENAS_PROGRESS"


def plain_text() -> bool:
    return os.environ.get(PROGRESS_ENV, "").lower() == "text"


def tqdm(*args: Any, **kwargs: Any):
    """A tqdm bar of the kind that shows where this runs (same arguments as tqdm)."""
    if plain_text():
        from tqdm.std import tqdm as text_bar

        # stdout: an executed notebook shows it as the cell's text (Jupyter folds the
        # carriage-return redraws into one line per bar); few redraws keep it short.
        kwargs.setdefault("file", sys.stdout)
        kwargs.setdefault("mininterval", 5.0)
        return text_bar(*args, **kwargs)
    from tqdm.auto import tqdm as auto_bar

    return auto_bar(*args, **kwargs)

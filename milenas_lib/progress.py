"""Progress bars for long work: tqdm's notebook bar in JupyterLab, plain text
lines in a terminal and in notebooks that papermill (or nbconvert) runs.

``tqdm.auto`` picks its widget bar in every Jupyter kernel, also in one that
papermill drives, where no browser ever draws the widget and the executed
notebook keeps only a stale first state.  So inside a kernel this module asks
who started it (:func:`batch_kernel`): a kernel that a Jupyter server started
for a browser gets the widget; a kernel that papermill, nbconvert or nbclient
started gets text lines, with no setting needed.  ``MILENAS_PROGRESS=text`` or
``=widget`` overrides the guess (the kit's notebook runner sets ``text``).
"""
from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from typing import Any, Callable, Mapping

#: Environment variable: ``text`` forces plain text bars, ``widget`` the notebook widget.
PROGRESS_ENV = "MILENAS_PROGRESS"
# Programs that execute notebooks with nobody watching: their kernels' widgets are never drawn.
_BATCH_RUNNERS = re.compile(r"papermill|nbconvert|nbclient|nbmake|nbval|jupyter-execute|testbook")


def _command_line(pid: int) -> str:
    """The command line of process ``pid`` ("" when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:  # Linux
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        pass
    try:  # macOS and other Unixes
        return subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True,
                              timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def batch_kernel(environ: Mapping[str, str], command_line: Callable[[int], str] = _command_line) -> bool:
    """Whether the Jupyter kernel with environment ``environ`` was started to run a notebook unattended.

    jupyter_client, which every Jupyter launcher uses, tells the kernel who started it
    (``JPY_PARENT_PID``); a Jupyter server (JupyterLab, Notebook 7) also names the
    session (``JPY_SESSION_NAME``).  Batch: the starter is papermill, nbconvert and the
    like (by its command line, so papermill run from a JupyterLab terminal or a
    notebook's ``!papermill`` counts too), or jupyter_client started the kernel without
    a server (papermill's Python API, nbclient).  A kernel no jupyter_client started
    (VS Code, say) keeps the widget.
    """
    parent = environ.get("JPY_PARENT_PID", "")
    if not parent.isdigit():
        return False
    if _BATCH_RUNNERS.search(command_line(int(parent))):
        return True
    return not environ.get("JPY_SESSION_NAME")


@functools.lru_cache(maxsize=1)
def _this_kernel_is_batch() -> bool:
    return batch_kernel(os.environ)  # who started a process does not change: asked once


def _in_kernel() -> bool:
    """Whether this is an IPython kernel (a notebook), not a terminal or a plain script."""
    shell = sys.modules.get("IPython") and getattr(sys.modules["IPython"], "get_ipython", lambda: None)()
    return shell is not None and getattr(shell, "kernel", None) is not None


def plain_text() -> bool:
    """Text lines rather than the notebook widget (see the module docstring)."""
    chosen = os.environ.get(PROGRESS_ENV, "").lower()
    if chosen in ("text", "widget"):
        return chosen == "text"
    return _in_kernel() and _this_kernel_is_batch()


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

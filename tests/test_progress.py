"""Progress bars: the notebook widget only where a browser draws it; plain text lines in
a terminal and in a kernel that papermill (or nbconvert) runs, with no setting needed.
And ``-p plan_only True`` under papermill prints the plan and ends the notebook cleanly."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from milenas_lib import progress
from milenas_lib.experiments import head

REPO = Path(__file__).resolve().parent.parent
TINY_SEARCH = {"dataset": "synthetic", "per_class": 2, "batch_size": 8, "C": 4, "layers": 3, "epochs": 2}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _launched_by(command: str):
    return lambda pid: command


@pytest.mark.parametrize("environ, starter, batch", [
    ({"JPY_PARENT_PID": "7"}, "/venv/bin/python /venv/bin/papermill a.ipynb b.ipynb -p preset smoke", True),
    ({"JPY_PARENT_PID": "7"}, "python -m jupyter nbconvert --execute a.ipynb", True),
    # papermill typed into a JupyterLab terminal or `!papermill` in a notebook inherits the session name
    ({"JPY_PARENT_PID": "7", "JPY_SESSION_NAME": "a.ipynb"}, "/venv/bin/python /venv/bin/papermill a b", True),
    # papermill's Python API from a script: jupyter_client started the kernel, no Jupyter server did
    ({"JPY_PARENT_PID": "7"}, "python run_my_notebooks.py", True),
    # JupyterLab: a server started it for a browser
    ({"JPY_PARENT_PID": "7", "JPY_SESSION_NAME": "notebooks/01.ipynb"}, "/venv/bin/python /venv/bin/jupyter-lab", False),
    # no jupyter_client launcher (VS Code, say): keep the widget
    ({}, "", False),
])
def test_a_kernel_knows_whether_it_runs_unattended(environ, starter, batch):
    assert progress.batch_kernel(environ, _launched_by(starter)) is batch


def test_the_command_line_of_a_process_is_read():
    assert "pytest" in progress._command_line(os.getpid()) or "python" in progress._command_line(os.getpid())


def test_outside_a_kernel_tqdm_decides_and_the_variable_overrides(monkeypatch):
    monkeypatch.delenv(progress.PROGRESS_ENV, raising=False)
    assert progress.plain_text() is False  # pytest is no kernel: tqdm.auto picks its text bar itself
    monkeypatch.setenv(progress.PROGRESS_ENV, "text")
    assert progress.plain_text() is True
    monkeypatch.setattr(progress, "_in_kernel", lambda: True)
    monkeypatch.setattr(progress, "_this_kernel_is_batch", lambda: True)
    monkeypatch.setenv(progress.PROGRESS_ENV, "widget")
    assert progress.plain_text() is False
    monkeypatch.delenv(progress.PROGRESS_ENV)
    assert progress.plain_text() is True


def test_after_plan_only_only_a_cell_that_reopens_the_notebook_runs():
    assert head.skip_unless_reopened(["fig = plots.figure()\n"]) == []
    assert head.skip_unless_reopened(["plan_only = False\n"]) == ["plan_only = False\n"]
    assert head.skip_unless_reopened(["nb = ex.open_notebook('02', globals())\n"]) != []


def _papermill(notebook: str, out: Path, *parameters: str, env: dict) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "papermill"), str(REPO / "notebooks" / notebook), str(out),
               "--cwd", str(REPO / "notebooks"), "--start-timeout", "600", *parameters]  # a loaded machine
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)


def _user_env() -> dict:
    """A user's shell: no MILENAS_PROGRESS (the kit's runner sets it; a user typing papermill does not)."""
    env = {k: v for k, v in os.environ.items() if k != progress.PROGRESS_ENV}
    return {**env, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


@pytest.mark.slow
def test_papermill_as_a_user_runs_it_shows_text_progress(tmp_path):
    out = tmp_path / "out.ipynb"
    done = _papermill("01_search_walkthrough.ipynb", out, "-p", "preset", "smoke", "-p", "output_root", str(tmp_path),
                      "-y", "search_overrides: " + json.dumps(TINY_SEARCH), env=_user_env())
    assert done.returncode == 0, done.stderr[-3000:]
    cells = nbformat.read(out, as_version=4).cells
    outputs = [o for cell in cells for o in cell.get("outputs", [])]
    # the explorer is a widget with a picture beside it; a progress bar must not be one
    bars = [o for cell in cells if "explorer" not in cell.source for o in cell.get("outputs", [])]
    assert not any(WIDGET_MIME in o.get("data", {}) for o in bars), "a widget bar no one will draw"
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "search milenas: 100%" in text and "search-val acc" in text, text[-2000:]


@pytest.mark.slow
def test_papermill_plan_only_prints_the_plan_and_ends_cleanly(tmp_path):
    out = tmp_path / "out.ipynb"
    done = _papermill("02_train_val_gap.ipynb", out, "-p", "preset", "smoke", "-p", "plan_only", "True",
                      "-p", "output_root", str(tmp_path), env=_user_env())
    assert done.returncode == 0, done.stderr[-3000:]
    cells = [c for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"]
    opened = next(i for i, c in enumerate(cells) if "open_notebook" in c.source)
    printed = "".join(o.get("text", "") for o in cells[opened].outputs)
    assert "plan_only=True: nothing was run" in printed and "search milenas_lam1 seed 0" in printed
    assert all(not c.outputs for c in cells[opened + 1:]), "a cell after the plan ran"
    assert not (tmp_path / "results" / "runs").exists() or not any((tmp_path / "results" / "runs").rglob("*.json"))


def test_the_search_bar_gives_accuracy_in_percent_and_the_gap_in_points():
    from milenas_lib.loops.search import epoch_postfix

    text = epoch_postfix({"val_acc": 0.4567, "gap": -0.0123})
    assert "45.7 %" in text and "-1.2 pp" in text

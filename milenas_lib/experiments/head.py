"""The one call at the head of every notebook, after its ``parameters`` cell::

    nb = ex.open_notebook("02_train_val_gap", globals())

It takes the notebook's parameters from the namespace (the values the
``parameters`` cell or papermill set; every other one keeps its spec's
default), checks them all (:mod:`.spec`), and returns the
:class:`.notebook.Notebook` context; with ``plan_only=True`` it prints the
notebook's runs and their cost (:mod:`.plan`) instead, and in a kernel every
later cell then does nothing, so ``papermill ... -p plan_only True`` ends
cleanly (exit status 0).  It sits above both the notebook context and the
plan, so that neither imports the other.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, Mapping, Optional

from .notebook import Notebook
from .notebook_specs import notebook_spec
from .plan import NOTEBOOKS_DIR, format_plan, make_plan
from .spec import NotebookParameters


class PlanOnly(Exception):
    """``plan_only=True``: the notebook's runs and their cost were printed; nothing runs."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return str(self).splitlines()


def open_notebook(name: str, namespace: Optional[Mapping[str, Any]] = None, *,
                  notebooks_dir: Optional[Path] = None, **values: Any) -> Notebook:
    """Notebook ``name``'s context: its spec's parameters read from ``namespace``
    (a notebook's ``globals()``: only the names the spec declares are taken) and
    ``values`` (every one must be declared), each checked; a bad one is one
    :class:`.params.ParameterError` line, raised before anything is written.
    ``notebooks_dir`` (default: the working directory, where a kernel runs)
    may hold a ``notebook_specs.py`` for notebooks that are not the kit's."""
    folder = Path.cwd() if notebooks_dir is None else Path(notebooks_dir)
    spec = notebook_spec(name, folder)
    injected = papermill_parameters(namespace or {})
    given = {key: value for key, value in (namespace or {}).items() if key in spec.all_parameters or key in injected}
    checked = spec.check({**given, **values})  # a name papermill injected that the spec lacks: refused
    shell = _kernel_shell()
    if shell is not None:
        _skip_later_cells(shell, checked.plan_only)
    if checked.plan_only:
        if shell is None:  # a script or a test: nothing may go on
            raise PlanOnly(f"plan_only=True: nothing was run\n{_plan_text(checked, folder)}")
        print(f"{_plan_text(checked, folder)}\n\nplan_only=True: nothing was run, and the cells below do nothing "
              "(set plan_only = False and run the cells from the parameters cell on to run them)")
        return None  # type: ignore[return-value]  # no later cell runs to use it
    return Notebook(checked, spec)


def _kernel_shell() -> Any:
    """The IPython shell when this runs in a notebook kernel, else None."""
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell if getattr(shell, "kernel", None) is not None else None


def skip_unless_reopened(lines: list[str]) -> list[str]:
    """IPython input transformer after ``plan_only=True``: a cell runs only when it sets
    parameters or opens the notebook again (so the plan can be undone); every other
    cell becomes empty, which papermill executes as a success."""
    text = "".join(lines)
    return lines if "plan_only" in text or "open_notebook" in text else []


def _skip_later_cells(shell: Any, skip: bool) -> None:
    """Install (or, when the notebook is opened without ``plan_only``, remove) the transformer."""
    transformers = shell.input_transformers_cleanup
    while skip_unless_reopened in transformers:
        transformers.remove(skip_unless_reopened)
    if skip:
        transformers.append(skip_unless_reopened)


#: The first line of the cell papermill injects after the ``parameters`` cell (its Python translator).
PAPERMILL_HEADER = "# Parameters\n"


def papermill_parameters(namespace: Mapping[str, Any]) -> set[str]:
    """The names papermill's injected cell assigned, read from the kernel's input history
    (``_ih``, IPython's ``In``): papermill only warns about a name the notebook does not declare,
    and the notebook would then run with its default, under a name that suggests otherwise."""
    names: set[str] = set()
    history = namespace.get("_ih")
    for source in history if isinstance(history, list) else ():
        if not (isinstance(source, str) and source.startswith(PAPERMILL_HEADER)):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        names |= {target.id for node in tree.body if isinstance(node, ast.Assign)
                  for target in node.targets if isinstance(target, ast.Name)}
    return names


def _plan_text(checked: NotebookParameters, notebooks_dir: Path) -> str:
    if not any((notebooks_dir / f"{checked.name}{suffix}").exists() for suffix in (".ipynb", ".py")):
        notebooks_dir = NOTEBOOKS_DIR  # a kit notebook opened from elsewhere
    parameters = {k: v for k, v in checked.values.items() if k not in ("preset", "seeds", "output_root", "plan_only")}
    plan = make_plan(checked.preset, [checked.name], seeds=checked.seeds, output_root=checked.output_root,
                     parameters=parameters, notebooks_dir=notebooks_dir)
    return format_plan(plan, checked.workers)

#!/usr/bin/env python
"""Check that every notebook and its jupytext py:percent twin say the same thing.

Each ``notebooks/NN_name.ipynb`` is stored without outputs next to
``notebooks/NN_name.py`` (py:percent), the file reviewers read in diffs. This
check fails when

* a notebook has no twin, or a twin no notebook;
* their cells differ (type, source or tags);
* a stored notebook carries outputs or execution counts (strip them:
  ``jupyter nbconvert --clear-output --inplace`` or re-sync from the .py);
* a notebook has no code cell tagged ``parameters`` (papermill needs one).

Fix a drift with ``jupytext --sync notebooks/*.ipynb`` (the newer file wins).

Usage: ``python scripts/check_notebook_pairs.py [NOTEBOOK_DIR]``; exit 1 on a problem.
"""
from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def _cells(notebook) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(cell.cell_type, cell.source.strip(), tuple(cell.metadata.get("tags", ()))) for cell in notebook.cells]


def check(directory: Path = DEFAULT_DIR) -> list[str]:
    """Every problem found, as one line each (empty when all pairs agree)."""
    directory = Path(directory)
    problems = []
    notebooks = sorted(directory.glob("*.ipynb"))
    twins = {p.with_suffix(".py") for p in notebooks}
    for orphan in sorted(set(directory.glob("[0-9]*.py")) - twins):
        problems.append(f"{orphan.name}: py:percent file without a notebook (jupytext --to ipynb {orphan})")
    for path in notebooks:
        twin = path.with_suffix(".py")
        if not twin.exists():
            problems.append(f"{path.name}: no py:percent twin {twin.name} (jupytext --set-formats ipynb,py:percent {path})")
            continue
        stored = nbformat.read(path, as_version=4)
        for index, cell in enumerate(stored.cells):
            if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
                problems.append(f"{path.name}: cell {index} is stored with outputs or an execution count; "
                                "store notebooks without outputs")
                break
        if not any("parameters" in c.metadata.get("tags", ()) for c in stored.cells if c.cell_type == "code"):
            problems.append(f"{path.name}: no code cell tagged 'parameters'")
        ours, theirs = _cells(jupytext.read(path)), _cells(jupytext.read(twin, fmt="py:percent"))
        if ours != theirs:
            where = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
            problems.append(f"{path.name} and {twin.name} differ (first at cell {where}; {len(ours)} vs "
                            f"{len(theirs)} cells): run `jupytext --sync {path}`")
    return problems


def main(argv: list[str]) -> int:
    directory = Path(argv[0]) if argv else DEFAULT_DIR
    problems = check(directory)
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{len(list(directory.glob('*.ipynb')))} notebooks and their py:percent twins agree")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

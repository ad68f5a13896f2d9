"""Regenerate the README blocks that quote the kit's own output.

    python scripts/update_readme.py          # rewrite every block from its command
    python scripts/update_readme.py --check  # exit 1, naming each block that drifted

A block is the text between ``<!-- generated: NAME -->`` and ``<!-- /generated -->``
in README.md or notebooks/README.md; NAME is one of :data:`BLOCKS`, each of which runs
the command its text quotes.  tests/test_readme.py checks the blocks against the same
commands (the test count against ``pytest --collect-only -q``).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator

REPO = Path(__file__).resolve().parent.parent
DOCUMENTS = (REPO / "README.md", REPO / "notebooks" / "README.md")
BLOCK = re.compile(r"(<!-- generated: ([\w-]+) -->\n)(.*?)(<!-- /generated -->)", re.DOTALL)
PLAN_COMMAND = "python -m milenas_lib plan --preset paper --device cpu --workers 2"


@contextlib.contextmanager
def _empty_checkout() -> Iterator[Path]:
    """A working directory with an empty run store and no bench calibration: the plan of a fresh clone."""
    saved_cwd, saved_cache = Path.cwd(), os.environ.get("MILENAS_CACHE_DIR")
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        os.environ["MILENAS_CACHE_DIR"] = str(Path(folder) / "cache")
        try:
            yield Path(folder)
        finally:
            os.chdir(saved_cwd)
            if saved_cache is None:
                os.environ.pop("MILENAS_CACHE_DIR", None)
            else:
                os.environ["MILENAS_CACHE_DIR"] = saved_cache


def plan_paper() -> str:
    """``plan --preset paper`` of a fresh clone, as the README quotes it."""
    from milenas_lib.experiments.plan import format_plan, make_plan

    with _empty_checkout() as folder:
        plan = make_plan("paper", None, output_root=str(folder), device_type="cpu")
        text = format_plan(plan, 2)
    return f"```\n$ {PLAN_COMMAND}\n{text}\n```\n"


def notebook_list() -> str:
    names = sorted(path.stem for path in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    return f"The {len(names)} notebooks: " + ", ".join(f"`{name}`" for name in names) + ".\n"


def collected_tests() -> int:
    """How many tests ``pytest --collect-only -q`` finds (its last line: ``N tests collected``)."""
    path = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                          cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path})
    match = re.search(r"(\d+) tests? collected", done.stdout)
    if match is None or done.returncode != 0:  # a module that cannot be imported (a missing extra) is not counted
        raise RuntimeError("pytest --collect-only failed (install the test extra: pip install -e '.[test]'):\n"
                           f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return int(match.group(1))


def test_count() -> str:
    return (f"The suite holds **{collected_tests()} tests** (`python -m pytest --collect-only -q`); "
            "`make test-fast` leaves out those marked `slow` and `browser`.\n")


def presets() -> str:
    from milenas_lib.presets import PRESETS

    return "Presets: " + ", ".join(f"`{name}`" for name in PRESETS) + " (`--preset` of every command).\n"


BLOCKS: dict[str, Callable[[], str]] = {"plan-paper": plan_paper, "notebook-list": notebook_list,
                                        "test-count": test_count, "presets": presets}


def blocks_in(text: str) -> dict[str, str]:
    return {match.group(2): match.group(3) for match in BLOCK.finditer(text)}


def render(text: str, values: dict[str, str]) -> str:
    return BLOCK.sub(lambda m: m.group(1) + values.get(m.group(2), m.group(3)) + m.group(4), text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a block drifted")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    drifted = []
    for document in DOCUMENTS:
        text = document.read_text()
        names = blocks_in(text)
        unknown = sorted(set(names) - set(BLOCKS))
        if unknown:
            print(f"{document}: unknown block(s) {unknown}; known: {', '.join(BLOCKS)}", file=sys.stderr)
            return 2
        values = {name: BLOCKS[name]() for name in names}
        drifted += [f"{document.relative_to(REPO)}: {name}" for name in names if values[name] != names[name]]
        if not args.check:  # read again: the commands take a while, and the file may have been edited meanwhile
            document.write_text(render(document.read_text(), values))
    if drifted:
        print(("drifted: " if args.check else "updated: ") + "; ".join(drifted))
    return 1 if drifted and args.check else 0


if __name__ == "__main__":
    sys.exit(main())

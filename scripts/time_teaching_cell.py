"""Time notebook 09's teaching cell (the MiLeNAS update written out) on the kernel's
default CPU threads and on the one thread the teaching helpers pin.

    OMP_NUM_THREADS= python scripts/time_teaching_cell.py [--repeats 3]

Runs the cell's own source (tag ``teaching``) with ``ex.TeachingLab`` given
``threads=None`` (as before the pinning: every core a fresh kernel gets) and then
``threads=1``; prints the best of ``--repeats`` for each and the load average, since
a loaded machine changes both.
"""
from __future__ import annotations

import argparse
import functools
import os
import time
import types
from pathlib import Path

import nbformat
import torch

from milenas_lib.experiments import teaching

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "09_teaching_walkthrough.ipynb"


def teaching_cell() -> str:
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    return next(c.source for c in cells if "teaching" in c.metadata.get("tags", []))


def time_cell(source: str, threads: int | None) -> float:
    names = {"ex": types.SimpleNamespace(TeachingLab=functools.partial(teaching.TeachingLab, threads=threads)),
             "plots": types.SimpleNamespace(show_table=lambda *args, **kwargs: None)}
    start = time.perf_counter()
    exec(compile(source, str(NOTEBOOK), "exec"), names)  # noqa: S102 - the kit's own notebook cell
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)  # what a fresh kernel has
    source, cores = teaching_cell(), torch.get_num_threads()
    for threads, name in ((None, f"kernel default ({cores} threads)"), (1, "pinned (1 thread)")):
        best = min(time_cell(source, threads) for _ in range(args.repeats))
        print(f"{name}: {best:.2f} s (best of {args.repeats})")
    print(f"load average: {' '.join(f'{v:.1f}' for v in os.getloadavg())}; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Check that the committed evidence regenerates unchanged from the committed records.

``results/<preset>/`` and ``figures/<preset>/`` hold what the notebooks wrote from the
records in ``results/runs/<preset>/``.  This script copies those records (and the step
benchmark) into a temporary output root, reruns the notebooks that wrote the committed
files with ``reuse_only=True`` (nothing is trained), and compares every committed file
with its regenerated copy:

* tables (CSV) and reports (Markdown) byte for byte;
* JSON (provenance, manifests, ``claims.json``) without the keys that say when and where
  it was made (``provenance``, ``created``, ``started``, ``git_commit``);
* figures: PNG byte for byte, PDF without its creation date and its font subsets' random tags.

A refactoring that changes no result passes; one that changes a number, a caption or a
pixel names the file.  The index (``README.md``) and the executed copies hold run times
and are left out.

Usage: ``python scripts/check_evidence.py [--preset medium] [--keep DIR]``; exit 1 when
a file differs or is missing (about two minutes for ``medium`` on a CPU).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Keys whose values say when and on which machine a file was written, not what it holds.
VOLATILE = {"provenance", "created", "started", "git_commit", "reuse_only"}
#: Files that record run times, executions or a sweep's log and notes, not results.
LEFT_OUT = {"README.md", "speed_benchmark.json", "SWEEP.md", "epochs_load.tsv"}


def _without_volatile(value):
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def same(committed: Path, regenerated: Path) -> bool:
    """Whether the two files hold the same content, as the module docstring defines it."""
    if committed.read_bytes() == regenerated.read_bytes():
        return True
    if committed.suffix == ".json":
        return _without_volatile(json.loads(committed.read_text())) == \
            _without_volatile(json.loads(regenerated.read_text()))
    if committed.suffix == ".pdf":
        # Besides the date, the 6-letter tag of each embedded font subset ("/ABCDEF+DejaVuSans")
        # changes from one process to the next; the glyphs and the page do not.
        undated = [re.sub(rb"/[A-Z]{6}\+", b"/SUBSET+", re.sub(rb"/CreationDate \(.*?\)", b"", p.read_bytes()))
                   for p in (committed, regenerated)]
        return undated[0] == undated[1]
    return False


#: Parameters that say where and how a notebook ran, not what it computed.
VENUE = {"reuse_only", "plan_only", "output_root", "workers", "backend", "address", "data_root"}


def committed_files(preset: str) -> list[Path]:
    """The committed evidence of ``preset``, relative to the checkout."""
    files = [p for folder in (REPO / "results" / preset, REPO / "figures" / preset) if folder.is_dir()
             for p in folder.rglob("*") if p.is_file()]
    return sorted(p.relative_to(REPO) for p in files if p.name not in LEFT_OUT and "executed" not in p.parts)


def regenerate(preset: str, root: Path) -> None:
    """The notebooks that wrote ``results/<preset>/`` rerun from the committed records into ``root``."""
    notebooks = sorted(p.parent.name[:2] for p in (REPO / "results" / preset).glob("*/manifest.json"))
    shutil.copytree(REPO / "results" / "runs" / preset, root / "results" / "runs" / preset)
    benchmark = REPO / "results" / preset / "speed_benchmark.json"
    if benchmark.is_file():
        (root / "results" / preset).mkdir(parents=True, exist_ok=True)
        shutil.copy2(benchmark, root / "results" / preset / benchmark.name)
    # The notebooks' kernels must import this checkout's milenas_lib, not an installed one.
    path = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
    for notebook in notebooks:  # each with the parameters its manifest says it ran with
        subprocess.run([sys.executable, "-m", "milenas_lib", "reproduce", "--preset", preset, "--only", notebook,
                        *manifest_parameters(preset, notebook), "--param", "reuse_only=true",
                        "--output-root", str(root)], cwd=REPO, check=True, env={**os.environ, "PYTHONPATH": path})


def manifest_parameters(preset: str, notebook: str) -> list[str]:
    """``--param KEY=VALUE`` for each parameter the notebook's committed manifest records (the run
    store's, the executor's and the output root's excepted: the rerun reads the copied records)."""
    manifest = next((REPO / "results" / preset).glob(f"{notebook}*/manifest.json"))
    parameters = json.loads(manifest.read_text()).get("parameters", {})
    return [argument for key, value in parameters.items()
            if key not in VENUE and value is not None for argument in ("--param", f"{key}={json.dumps(value)}")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--keep", type=Path, help="regenerate into this (new) folder and keep it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        regenerate(args.preset, root)
        problems = [f"{path}: {'missing' if not (root / path).exists() else 'differs'}"
                    for path in committed_files(args.preset)
                    if not (root / path).exists() or not same(REPO / path, root / path)]
    print("\n".join(problems) or f"the committed {args.preset} evidence regenerates unchanged")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

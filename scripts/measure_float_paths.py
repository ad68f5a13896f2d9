"""How far the fingerprint moves between float paths (docs/RELIABILITY.md, "Verifying on another machine").

    python scripts/measure_float_paths.py                       # preset long, every method
    python scripts/measure_float_paths.py --preset smoke --methods milenas gdas

For each CPU capability this machine can force (``ATEN_CPU_CAPABILITY`` = default, avx2 and, where the
CPU has it, avx512), a fresh process runs the first steps of each method's search (seed 0) and prints
the fingerprint a record keeps (the first steps' train losses).  The table gives, per method, the
largest relative difference between capabilities; ``verify``'s FINGERPRINT_RTOL must lie well above it
and far below the differences an edit or another config makes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from milenas_lib.records.float_path import float_path

CHILD = """
import json, sys
import torch
from milenas_lib.config import search_config
from milenas_lib.loops.search_record import FINGERPRINT_STEPS
from milenas_lib.loops.searcher import Search
preset, methods = sys.argv[1], sys.argv[2:]
out = {"capability": torch.backends.cpu.get_cpu_capability()}
for method in methods:
    search = Search(search_config(preset, method=method, device="cpu"))
    for _ in range(FINGERPRINT_STEPS):
        search.step()
    out[method] = search.record["fingerprint"]["train_loss"]
print(json.dumps(out))
"""


def capabilities() -> list[str]:
    flags = set(float_path(__import__("torch").device("cpu"))["flags"])
    return ["default", "avx2"] + (["avx512"] if "avx512f" in flags else [])


def run(capability: str, preset: str, methods: list[str]) -> dict:
    env = {**os.environ, "ATEN_CPU_CAPABILITY": capability}
    done = subprocess.run([sys.executable, "-c", CHILD, preset, *methods], env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="long")
    parser.add_argument("--methods", nargs="+", default=None)
    args = parser.parse_args()
    from milenas_lib.config import METHODS

    methods = args.methods or list(METHODS)
    results = {cap: run(cap, args.preset, methods) for cap in capabilities()}
    print(f"preset {args.preset}; capabilities forced: "
          + ", ".join(f"{cap} (ran as {r['capability']})" for cap, r in results.items()))
    worst_all = 0.0
    for method in methods:
        runs = [r[method] for r in results.values()]
        worst = max(abs(a - b) / abs(a) for losses in runs[1:] for a, b in zip(runs[0], losses))
        worst_all = max(worst_all, worst)
        print(f"  {method:16s} largest relative difference {worst:.2e}; losses {[f'{v:.6f}' for v in runs[0]]}")
    print(f"largest over all methods: {worst_all:.2e}")


if __name__ == "__main__":
    main()

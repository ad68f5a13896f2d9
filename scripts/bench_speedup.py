"""Claim 4 (Fig. 3b: MiLeNAS more than 3x faster than 2nd-order DARTS) from one same-run step benchmark.

    python scripts/bench_speedup.py --preset medium --repeats 8

Times a search step of darts_2nd and of MiLeNAS λ = 1 alternately in one process
(one thread, random tensors of the preset's shape; ``milenas_lib.bench.interleaved_speedup``),
prints the ratio darts_2nd / MiLeNAS of the process's CPU time per step (what
claim 4 is judged on: a busy machine slows the wall clock, not the CPU time)
and of the wall time, each with a 95 % t interval over the pairs (on the log scale), the machine's load average and CPU, and writes
``results/<preset>/speed_benchmark.json``, which notebook 10 reads for claim 4.
Run it on a quiet machine: the load average is recorded beside the numbers.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import datetime, timezone

from milenas_lib.bench import SPEEDUP_PAIR, interleaved_speedup
from milenas_lib.experiments.speed_benchmark import speed_benchmark_path
from milenas_lib.paper.stats import Sample
from milenas_lib.presets import PRESETS


def summary(report: dict, wall: bool = False) -> dict:
    """The ratio slow / fast over the pairs (CPU time, or ``wall`` time): geometric mean and 95 % t interval."""
    slow, fast = SPEEDUP_PAIR
    times = [p["wall_s"] if wall else p for p in report["pairs"]]
    sample = Sample.of([math.log(t[slow] / t[fast]) for t in times])
    low, high = sample.interval()
    return {"n": sample.n, "ratio": math.exp(sample.mean), "ci_low": math.exp(low) if sample.n > 1 else None,
            "ci_high": math.exp(high) if sample.n > 1 else None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--repeats", type=int, default=8, help="alternating pairs timed (at least 2)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps of each method first")
    parser.add_argument("--output-root", default=None, help="folder holding results/ (default: the checkout)")
    args = parser.parse_args(argv)
    if args.preset not in PRESETS or args.repeats < 2:
        print(f"error: --preset must be one of {', '.join(PRESETS)} and --repeats at least 2", file=sys.stderr)
        return 2
    report = interleaved_speedup(args.preset, args.repeats, args.warmup)
    report["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report["ratio"], report["ratio_wall"] = summary(report), summary(report, wall=True)
    path = speed_benchmark_path(args.preset, args.output_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    r, w = report["ratio"], report["ratio_wall"]
    print(f"{report['what']}\n{SPEEDUP_PAIR[0]} / {SPEEDUP_PAIR[1]} step CPU time: {r['ratio']:.2f}x "
          f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}] (95 % t interval over {r['n']} pairs); wall time "
          f"{w['ratio']:.2f}x [{w['ci_low']:.2f}, {w['ci_high']:.2f}]\n"
          f"load average {report['loadavg']} -> {report['loadavg_end']}; CPU {report['cpu']} "
          f"({report['cpu_capability']}, {report['cpus']} cores seen); wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

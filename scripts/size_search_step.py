"""Step times of the search methods at candidate supernet sizes (docs/PROTOCOL.md, "Presets").

    python scripts/size_search_step.py                      # the default grid, one thread
    python scripts/size_search_step.py --sizes 32,8,5,16 16,8,4,16 --methods milenas gdas

A size is ``batch,C,layers,resolution``.  Each step runs on random tensors of that shape, one thread,
channels_last, as the search does; the median of ``--repeats`` steps after two warm-up steps is printed,
in seconds, with each method's time relative to MiLeNAS at the same size (same run, interleaved).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from milenas_lib.algorithms.base import Batch, SearchContext
from milenas_lib.algorithms.methods import make_rule
from milenas_lib.config import search_config

DEFAULT_SIZES = ("64,8,5,16", "32,8,5,16", "16,8,5,16", "32,8,4,16", "32,8,5,8", "16,8,5,8", "32,6,5,16")
DEFAULT_METHODS = ("milenas", "darts_2nd", "single_level", "gdas")


def step_seconds(size: str, method: str, repeats: int) -> float:
    batch, channels, layers, resolution = (int(v) for v in size.split(","))
    config = search_config("medium", method=method, batch_size=batch, C=channels, layers=layers,
                           resolution=resolution, epochs=10)
    torch.manual_seed(0)
    ctx, rule = SearchContext.from_config(config), make_rule(config)
    rule.new_epoch(0, config.epochs)
    shape = (batch, 3, resolution, resolution)
    tensors = (torch.randn(shape), torch.randint(0, 10, shape[:1]), torch.randn(shape), torch.randint(0, 10, shape[:1]))
    step = Batch(*(t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t for t in tensors))
    times = []
    for i in range(repeats + 2):
        start = time.perf_counter()
        rule.step(ctx, step)
        if i >= 2:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=DEFAULT_SIZES)
    parser.add_argument("--methods", nargs="+", default=DEFAULT_METHODS)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}, one thread; "
          f"median of {args.repeats} steps (s)")
    for size in args.sizes:
        seconds = {m: step_seconds(size, m, args.repeats) for m in args.methods}
        base = seconds.get("milenas")
        cells = "  ".join(f"{m} {s:.3f}" + (f" ({s / base:.2f}x)" if base else "") for m, s in seconds.items())
        print(f"batch,C,layers,px = {size}: {cells}", flush=True)


if __name__ == "__main__":
    main()

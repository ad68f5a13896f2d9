"""Where a search step's time goes, and what the alternatives we tried cost (docs/PERFORMANCE.md, "medium").

    python scripts/profile_search_step.py --preset medium            # torch profiler table of one MiLeNAS step
    python scripts/profile_search_step.py --preset medium --kernels  # the conv alternatives, same-run ratios

One thread, channels_last, synthetic tensors of the preset's shape.  The kernel
comparisons time forward+backward of one depthwise convolution of the medium
supernet's first cells (C=8, 16 px, batch 64) three ways: as the supernet runs
it, with the same op of 4 edges merged into one call (channel multiplier 4),
and a dilated conv as a plain conv on the 4 pixel phases.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from milenas_lib.algorithms.base import Batch, SearchContext
from milenas_lib.algorithms.methods import make_rule
from milenas_lib.config import search_config


def timed(fn, repeats: int = 15) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def profile_step(preset: str, method: str) -> None:
    config = search_config(preset, method=method)
    torch.manual_seed(0)
    ctx, rule = SearchContext.from_config(config), make_rule(config)
    rule.new_epoch(0, config.epochs)
    shape = (config.batch_size, 3, config.resolution, config.resolution)
    batch = Batch(*(t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t for t in (
        torch.randn(shape), torch.randint(0, 10, shape[:1]), torch.randn(shape), torch.randint(0, 10, shape[:1]))))
    print(f"{method} step at preset {preset}: {timed(lambda: rule.step(ctx, batch), 5) / 1e3:.0f} ms (median of 5)")
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        rule.step(ctx, batch)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def phase_conv(x: torch.Tensor, weight: torch.Tensor, kernel: int) -> torch.Tensor:
    """A dilation-2 depthwise conv as a dilation-1 conv on the 4 pixel phases, batched."""
    n, c, h, w = x.shape
    phases = F.pixel_unshuffle(x, 2).view(n, c, 4, h // 2, w // 2).transpose(1, 2).reshape(4 * n, c, h // 2, w // 2)
    y = F.conv2d(phases, weight, padding=(kernel - 1) // 2, groups=c)
    return F.pixel_shuffle(y.view(n, 4, c, h // 2, w // 2).transpose(1, 2).reshape(n, 4 * c, h // 2, w // 2), 2)


def kernels(channels: int = 8, side: int = 16, batch: int = 64) -> None:
    def grad_input() -> torch.Tensor:
        return torch.randn(batch, channels, side, side).contiguous(memory_format=torch.channels_last).requires_grad_()

    def weight(count: int, kernel: int) -> torch.Tensor:
        return torch.randn(count, 1, kernel, kernel).contiguous(memory_format=torch.channels_last).requires_grad_()

    def fwd_bwd(fn):
        def run():
            y = fn()
            y.backward(torch.ones_like(y))
        return run

    x = grad_input()
    print(f"depthwise conv forward+backward, C={channels}, {side} px, batch {batch} (µs, median of 15)")
    for kernel, dilation in ((3, 1), (5, 1), (3, 2), (5, 2)):
        pad = dilation * (kernel - 1) // 2
        w1, w4 = weight(channels, kernel), weight(4 * channels, kernel)
        one = timed(fwd_bwd(lambda: F.conv2d(x, w1, padding=pad, dilation=dilation, groups=channels)))
        merged = timed(fwd_bwd(lambda: F.conv2d(x, w4, padding=pad, dilation=dilation, groups=channels)))
        line = f"  {kernel}x{kernel} dilation {dilation}: one edge {one:7.0f}; 4 edges merged {merged:7.0f} " \
               f"(vs 4 calls: {merged / (4 * one):.2f}x)"
        if dilation == 2:
            line += f"; as 4 phases {timed(fwd_bwd(lambda: phase_conv(x, w1, kernel))) / one:.2f}x"
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--method", default="milenas")
    parser.add_argument("--kernels", action="store_true", help="time the conv alternatives instead")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.kernels:
        kernels()
    else:
        profile_step(args.preset, args.method)

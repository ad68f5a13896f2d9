"""``python -m milenas_lib bench``: search-step speed of every method, measured
against second-order DARTS in one run, on synthetic tensors of CIFAR-10's shape.

Each method runs in a fresh subprocess so its peak memory (RSS on the CPU,
the CUDA allocator's peak on a GPU) is its own; the process warms up, then
times ``steps`` full search steps (α update + w update), synchronised on a
GPU, and reports the median.  images/s counts the training images of a step
(the batch size) per second.
"""
from __future__ import annotations

import multiprocessing
import signal
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch

from .algorithms.base import Batch, SearchContext, synchronize
from .algorithms.methods import make_rule
from .config import SearchConfig, search_config, train_config
from .presets import PRESETS
from .loops.train import build_network
from .loops.train_step import training_loss
from .names import ORDERS, unknown_name_message
from .records.provenance import peak_memory_mib, provenance, resolve_device
from .registry import get_method, method_names
from .space.genotype import resolve_genotype

SIZES = tuple(PRESETS)  # every search preset's supernet can be timed


@dataclass(frozen=True)
class Case:
    method: str
    order: Optional[str] = None  # methods with an order are timed in each

    @property
    def label(self) -> str:
        return self.method + (f" ({self.order})" if self.order else "")


def _cases(methods: Sequence[str]) -> list[Case]:
    """One case per method, one per order for methods with an order.  A method
    that runs others in phases (switch) is timed in its first phase, where the
    order does not matter."""
    cases = []
    for name in methods:
        method = get_method(name)
        orders = ORDERS if method.has_order and not method.phases else (None,)
        cases += [Case(name, order) for order in orders]
    return cases


def synthetic_batch(batch_size: int, device: torch.device, channels_last: bool, seed: int = 0,
                    resolution: int = 32) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    shape = (batch_size, 3, resolution, resolution)
    tensors = [torch.randn(shape, generator=gen), torch.randint(0, 10, (batch_size,), generator=gen),
               torch.randn(shape, generator=gen), torch.randint(0, 10, (batch_size,), generator=gen)]
    if channels_last:
        tensors[0] = tensors[0].contiguous(memory_format=torch.channels_last)
        tensors[2] = tensors[2].contiguous(memory_format=torch.channels_last)
    return Batch(*(t.to(device) for t in tensors))


def _memory_baseline(device: torch.device) -> float:
    """Memory held before the timed steps (model, optimizer, data), so that the
    reported peak is what the steps themselves add."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device) / 2**20
    return peak_memory_mib(device)


def time_search_steps(config: SearchConfig, steps: int, warmup: int = 1) -> dict:
    """Median wall time of ``steps`` search steps of ``config`` (after ``warmup``)."""
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    ctx = SearchContext.from_config(config, device=device)
    rule = make_rule(config)
    rule.new_epoch(0, config.epochs)
    batch = synthetic_batch(config.batch_size, device, config.channels_last, resolution=config.resolution)
    baseline = _memory_baseline(device)
    times = []
    for step in range(warmup + steps):
        synchronize(device)
        start = time.perf_counter()
        rule.step(ctx, batch)
        synchronize(device)
        if step >= warmup:
            times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {"median_ms": 1e3 * median, "images_per_s": config.batch_size / median,
            "peak_mem_mib": peak_memory_mib(device) - baseline, "passes": rule.passes}


def _child(connection, target, args) -> None:
    try:
        connection.send((True, target(*args)))
    except BaseException as error:  # noqa: BLE001 - handed to the parent, which raises it
        connection.send((False, error))
    finally:
        connection.close()


def _in_subprocess(target, *args):
    """Run ``target(*args)`` in a fresh process (spawned: no inherited memory).

    The child starts with SIGINT ignored (Python keeps an ignored SIGINT at start-up), so
    Ctrl-C reaches only this process: it stops the child and waits for it, and a
    pipe (no semaphore) carries the result, so nothing is left behind to warn about."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sender, target, args), daemon=True)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        child.start()
    finally:
        signal.signal(signal.SIGINT, previous)
    sender.close()
    try:
        ok, value = receiver.recv()
    except EOFError:
        child.join()
        raise RuntimeError(f"the bench process died (exit code {child.exitcode}) before it reported") from None
    except BaseException:
        child.terminate()
        raise
    finally:
        child.join()
        receiver.close()
    if not ok:
        raise value
    return value


def _bench_case(config: SearchConfig, steps: int) -> dict:
    return time_search_steps(config, steps)


def time_eval_step(dataset: str, device_name: str, steps: int, num_threads: Optional[int]) -> dict:
    """Training-step throughput of DARTS_V2's evaluation network under the
    ``paper`` training preset of ``dataset`` (CIFAR-10: C=36, 20 cells, batch
    96; ImageNet: C=48, 14 cells, batch 128 at 224 px), drop path at its final
    rate."""
    if num_threads:
        torch.set_num_threads(num_threads)
    device = resolve_device(device_name)
    config = train_config("paper", dataset=dataset)
    classes = 1000 if dataset == "imagenet" else 10
    model = build_network(config, resolve_genotype("DARTS_V2"), classes)
    model = model.to(device).to(memory_format=torch.channels_last).train()
    model.drop_path_prob = config.drop_path_prob
    optimizer = torch.optim.SGD(model.parameters(), config.learning_rate, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    size = config.resolution
    x = torch.randn(config.batch_size, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, classes, (config.batch_size,), device=device)
    baseline = _memory_baseline(device)
    times = []
    for step in range(1 + steps):
        synchronize(device)
        start = time.perf_counter()
        logits, aux = model(x)
        loss = training_loss(logits, aux, y, config.auxiliary_weight, config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        synchronize(device)
        if step:
            times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {"network": dataset, "batch": config.batch_size, "median_ms": 1e3 * median,
            "images_per_s": config.batch_size / median,
            "peak_mem_mib": peak_memory_mib(device) - baseline}


def run_bench(device: str = "cpu", size: str = "paper", methods: Optional[Sequence[str]] = None, steps: int = 3,
              eval_steps: int = 2, num_threads: Optional[int] = None, channels_last: bool = True,
              log: Optional[Callable[[str], None]] = None) -> dict:
    """Time every method of ``methods`` (default: all registered; each order
    of those with one) at ``size``, each on its own protocol of the preset;
    ``log`` is told each case as it starts and ends."""
    if size not in SIZES:
        raise ValueError(unknown_name_message("size", size, SIZES))
    resolved = resolve_device(device)
    methods = list(dict.fromkeys(methods or method_names()))
    if "darts_2nd" not in methods:
        methods.append("darts_2nd")  # the reference of every ratio
    threads = num_threads or (1 if resolved.type == "cpu" else None)
    results, cases = [], _cases(methods)
    say = log or (lambda line: None)
    for number, case in enumerate(cases, 1):
        overrides = {"method": case.method, "device": device, "channels_last": channels_last, "num_threads": threads}
        if case.order:
            overrides["order"] = case.order
        config = search_config(size, **overrides)
        say(f"bench [{number}/{len(cases) + 1}] {case.label}: {steps} steps ...")
        timing = _in_subprocess(_bench_case, config, steps)
        say(f"bench [{number}/{len(cases) + 1}] {case.label}: {timing['median_ms']:.1f} ms/step")
        results.append({"method": case.method, "order": case.order, "label": case.label, **timing})
    reference = next(r["median_ms"] for r in results if r["method"] == "darts_2nd")
    for r in results:
        r["ratio_to_darts_2nd"] = r["median_ms"] / reference
    say(f"bench [{len(cases) + 1}/{len(cases) + 1}] evaluation network train step ...")
    evals = [_in_subprocess(time_eval_step, "cifar10", device, eval_steps, threads)]
    if resolved.type == "cuda":
        evals.append(_in_subprocess(time_eval_step, "imagenet", device, eval_steps, threads))
    example = search_config(size, method="milenas")
    return {
        "data": "synthetic tensors of CIFAR-10's shape (no real images)",
        "size": size, "steps": steps, "batch_size": example.batch_size, "C": example.C, "layers": example.layers,
        "resolution": example.resolution,
        "num_threads": threads, "channels_last": channels_last,
        **provenance(resolved), "results": results, "eval": evals,
    }


def format_table(report: dict) -> str:
    lines = [f"search step, size={report['size']} (C={report['C']}, layers={report['layers']}, "
             f"batch={report['batch_size']}, {report.get('resolution', 32)} px), {report['device_name']}, torch {report['torch']}, "
             f"data: {report['data']}",
             f"{'method':32s} {'passes':>6s} {'ms/step':>10s} {'images/s':>9s} {'peak MiB':>9s} {'× darts_2nd':>11s}"]
    for r in report["results"]:
        lines.append(f"{r['label']:32s} {r['passes']:6d} {r['median_ms']:10.1f} {r['images_per_s']:9.1f} "
                     f"{r['peak_mem_mib']:9.0f} {r['ratio_to_darts_2nd']:11.3f}")
    by_case = {(r["method"], r["order"]): r["median_ms"] for r in report["results"]}
    for method in dict.fromkeys(r["method"] for r in report["results"]):
        for other in ORDERS[1:]:
            if (method, ORDERS[0]) in by_case and (method, other) in by_case:
                ratio = by_case[(method, ORDERS[0])] / by_case[(method, other)]
                lines.append(f"{method} {ORDERS[0]} / {other}: {ratio:.3f}")
    for e in report["eval"]:
        lines.append(f"evaluation train step {e['network']} (batch {e['batch']}): {e['median_ms']:.1f} ms, "
                     f"{e['images_per_s']:.1f} images/s, peak {e['peak_mem_mib']:.0f} MiB")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Claim 4: the speed-up of MiLeNAS over second-order DARTS, measured in one run.

#: The two settings claim 4 compares (docs/PROTOCOL.md, "Claims").
SPEEDUP_PAIR = ("darts_2nd", "milenas_lam1")


def machine_state() -> dict:
    """What the timings depend on besides the code: load average, CPU model and vector capability, threads."""
    import os
    import platform
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    return {"loadavg": [round(x, 2) for x in os.getloadavg()], "cpu": model, "cpus": os.cpu_count(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "threads": torch.get_num_threads()}


def interleaved_speedup(preset: str = "medium", repeats: int = 5, warmup: int = 1) -> dict:
    """Search steps of ``darts_2nd`` and MiLeNAS λ = 1 timed alternately in one process, one thread, on random
    tensors of the preset's shape: each repeat times one step of each, the one going first alternating
    (ABBA...), so that a change in the machine's load hits both alike.  Returns the per-pair times keyed by
    setting, which :mod:`milenas_lib.paper.claims` reads for claim 4: the process's CPU seconds per step
    (one thread: the step's compute, whatever share of the machine other processes take), with the wall
    seconds beside them (``wall_s``; the same on a quiet machine)."""
    from .paper.settings import SETTINGS
    torch.set_num_threads(1)
    steppers = {}
    for key in SPEEDUP_PAIR:
        config = search_config(preset, **SETTINGS[key].overrides, device="cpu", num_threads=1)
        torch.manual_seed(config.seed)
        ctx, rule = SearchContext.from_config(config, device=torch.device("cpu")), make_rule(config)
        rule.new_epoch(0, config.epochs)
        batch = synthetic_batch(config.batch_size, torch.device("cpu"), config.channels_last,
                                resolution=config.resolution)
        steppers[key] = (lambda rule=rule, ctx=ctx, batch=batch: rule.step(ctx, batch))
    for _ in range(warmup):
        for step in steppers.values():
            step()
    before, pairs = machine_state(), []
    for repeat in range(repeats):
        order = SPEEDUP_PAIR if repeat % 2 == 0 else SPEEDUP_PAIR[::-1]
        pair = {"first": order[0], "wall_s": {}}
        for key in order:
            start, start_cpu = time.perf_counter(), time.process_time()
            steppers[key]()
            pair[key] = time.process_time() - start_cpu
            pair["wall_s"][key] = time.perf_counter() - start
        pairs.append(pair)
    config = search_config(preset, method="milenas")
    return {"preset": preset, "repeats": repeats, "warmup": warmup, "pairs": pairs,
            "what": f"one search step each of {' and '.join(SPEEDUP_PAIR)} on random tensors, preset {preset} "
                    f"(C={config.C}, {config.layers} cells, batch {config.batch_size}, {config.resolution} px), "
                    "one thread, alternating which goes first; CPU time of the process per step",
            **before, "loadavg_end": machine_state()["loadavg"]}

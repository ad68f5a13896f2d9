"""What a run costs: steps x seconds per step, and the wall clock of a sweep.

Seconds per step come from a calibration file that ``python -m milenas_lib
bench`` writes on this machine (``<cache>/bench/<device>_<size>.json``, the
cache being ``MILENAS_CACHE_DIR`` or ``~/.cache/milenas-kit``), else from the
figures measured in docs/PERFORMANCE.md (CPU, one thread), else, on a GPU,
from the projection in docs/SCALING.md.  Every estimate says which.

A search step is one α update and one w update; a search also evaluates the
search-val half after every epoch (a forward pass per batch, ``EVAL_SHARE`` of
a single-level step each) and starts a process and loads its data once
(``RUN_OVERHEAD_S``).  A training step is one SGD step of the evaluation
network.  Other sizes than the measured ones are scaled from the nearest by
C² x cells x batch x pixels (the convolutions' arithmetic).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from .executor import cpu_cores

#: Search-step seconds on the development machine's CPU, one thread
#: (docs/PERFORMANCE.md, "CPU, paper supernet size", "CPU, medium" and "CPU, smoke supernet size").
PERFORMANCE_MD: dict[str, dict[str, float]] = {
    "paper": {"single_level": 12.304, "darts_1st": 19.481, "darts_2nd": 49.667, "milenas (simultaneous)": 19.302,
              "milenas (alpha_then_w)": 25.172, "switch": 53.829, "gdas": 6.464,
              "milenas_gumbel (simultaneous)": 7.163, "milenas_gumbel (alpha_then_w)": 10.155},
    "medium": {"single_level": 1.181, "darts_1st": 1.75, "darts_2nd": 5.419, "milenas (simultaneous)": 1.80,
               "milenas (alpha_then_w)": 2.3, "milenas (w_then_alpha)": 2.3, "switch": 5.419, "gdas": 0.275,
               "milenas_gumbel (simultaneous)": 0.282, "milenas_gumbel (alpha_then_w)": 0.36,
               "milenas_gumbel (w_then_alpha)": 0.36},
    # Measured with scripts/size_search_step.py (batch 16, C=8, 5 cells, 16 px, one thread, this kit's
    # development machine, 2026-12-07); the two controls bounded by the pass they share (one train pass).
    "long": {"single_level": 0.775, "darts_1st": 1.144, "darts_2nd": 4.059, "milenas (simultaneous)": 1.144,
             "milenas (alpha_then_w)": 1.5, "milenas (w_then_alpha)": 1.5, "switch": 4.059, "gdas": 0.211,
             "milenas_gumbel (simultaneous)": 0.25, "frozen_alpha": 0.775, "frozen_gumbel": 0.211},
    "smoke": {"single_level": 0.578, "darts_1st": 0.973, "darts_2nd": 2.607, "milenas (simultaneous)": 0.983,
              "milenas (alpha_then_w)": 1.259, "switch": 2.532, "gdas": 0.135,
              "milenas_gumbel (simultaneous)": 0.143, "milenas_gumbel (alpha_then_w)": 0.186},
}
#: The supernet each size was measured at: (C, cells, batch, pixels).
MEASURED_SEARCH = {"paper": (16, 8, 64, 32), "medium": (8, 5, 64, 16), "long": (8, 5, 16, 16),
                   "smoke": (4, 5, 8, 32)}
#: One evaluation batch (forward only, softmax(α)) over one single-level step of the same
#: supernet, and the seconds a search run spends outside its steps (process, data), both
#: measured on the medium sweep's records (docs/PERFORMANCE.md, "medium").
EVAL_SHARE = 0.16
RUN_OVERHEAD_S = 12.0
#: Training step of the CIFAR-10 evaluation network (DARTS_V2, C=36, 20 cells,
#: batch 96, 32 px) on that CPU (docs/PERFORMANCE.md).
CPU_CIFAR_TRAIN_STEP = 14.7
#: The authors' MiLeNAS search step on an H200, one search alone on the GPU
#: (measured with the authors' code; docs/SCALING.md).  GPU figures without a
#: calibration file are the CPU figures scaled by H200 / CPU for this step.
H200_MILENAS_STEP = 1.06
GPU_OVER_CPU = H200_MILENAS_STEP / PERFORMANCE_MD["paper"]["milenas (alpha_then_w)"]
#: ImageNet (C=48, 14 cells, batch 128, 224 px): the paper's §3.3 "3 days on a
#: server with 8 GPU cards" for 250 epochs of 1,281,167 images: 0.83 GPU-s per step.
PAPER_IMAGENET_GPU_STEP = 3 * 86400 * 8 / (250 * math.ceil(1281167 / 128))
#: Per-GPU throughput of K runs side by side over one run alone: measured 3.0x
#: at K = 4 (docs/SCALING.md); linear in between, flat beyond (not measured).
MEASURED_SHARING = {1: 1.0, 4: 3.0}

SOURCES = {"calibration": "calibration file {path} (python -m milenas_lib bench on this machine)",
           "performance": "docs/PERFORMANCE.md (CPU, 2 cores, 1 thread per run, measured 2026-11-28)",
           "projection": "projection, no GPU measured by this kit: docs/PERFORMANCE.md's CPU figures x "
                         f"{GPU_OVER_CPU:.4f} (the authors' MiLeNAS step on an H200, {H200_MILENAS_STEP} s; "
                         "ImageNet: the paper's 3 days on 8 GPUs); docs/SCALING.md"}


def calibration_path(device_type: str, size: str) -> Path:
    root = os.environ.get("MILENAS_CACHE_DIR") or Path.home() / ".cache" / "milenas-kit"
    return Path(root).expanduser() / "bench" / f"{device_type}_{size}.json"


def save_calibration(report: dict) -> Path:
    """Keep a ``bench`` report as this machine's per-step figures for ``plan``."""
    device_type = "cuda" if str(report.get("device", "cpu")).startswith("cuda") else "cpu"
    path = calibration_path(device_type, report["size"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report))
    return path


@dataclass(frozen=True)
class StepTimes:
    """Seconds per step by bench label, the evaluation-network steps, and where they come from."""

    device_type: str
    search: dict[str, dict[str, float]]     # size -> bench label -> seconds
    train: dict[str, float]                 # "cifar10" / "imagenet" -> seconds at the paper network
    source: str

    @classmethod
    def load(cls, device_type: str) -> "StepTimes":
        search: dict[str, dict[str, float]] = {}
        train: dict[str, float] = {}
        used = []
        for size in MEASURED_SEARCH:
            path = calibration_path(device_type, size)
            if path.exists():
                report = json.loads(path.read_text())
                search[size] = {r["label"]: r["median_ms"] / 1e3 for r in report["results"]}
                if size == "paper":
                    train.update({e["network"]: e["median_ms"] / 1e3 for e in report.get("eval", [])})
                used.append(SOURCES["calibration"].format(path=path))
        scale = 1.0 if device_type == "cpu" else GPU_OVER_CPU
        for size, figures in PERFORMANCE_MD.items():
            search.setdefault(size, {label: s * scale for label, s in figures.items()})
        train.setdefault("cifar10", CPU_CIFAR_TRAIN_STEP * scale)
        train.setdefault("imagenet", PAPER_IMAGENET_GPU_STEP / (1.0 if device_type == "cuda" else GPU_OVER_CPU))
        fallback = SOURCES["performance" if device_type == "cpu" else "projection"]
        source = "; ".join(used + ([("otherwise " if used else "") + fallback] if len(used) < len(MEASURED_SEARCH)
                                   else []))
        return cls(device_type, search, train, source)


def _label(method: str, order: str) -> str:
    return f"{method} ({order})" if method in ("milenas", "milenas_gumbel") else method


def search_steps(config: Any) -> int:
    """Steps of a search: epochs x (search-train half / batch), the half being
    25,000 CIFAR-10 images, or per_class x 10 (synthetic: 128)."""
    half = 10 * config.per_class if config.per_class else (128 if config.dataset == "synthetic" else 25_000)
    return config.epochs * max(1, half // config.batch_size)


def train_steps(config: Any) -> int:
    full = {"cifar10": 50_000, "synthetic": 256, "imagenet": 1_281_167}[config.dataset]
    images = min(full, 10 * config.train_per_class if config.train_per_class else full)
    if config.dataset == "imagenet" and config.train_per_class:
        images = 10 * config.train_per_class  # the CIFAR-10 stand-in in ImageFolder layout
    return config.epochs * math.ceil(images / config.batch_size)


def _work(C: int, cells: int, batch: int, pixels: int) -> float:
    return C ** 2 * cells * batch * pixels ** 2


def nearest_size(config: Any) -> str:
    """The measured supernet size whose arithmetic is nearest ``config``'s (on a log scale)."""
    work = _work(config.C, config.layers, config.batch_size, getattr(config, "resolution", 32))
    return min(MEASURED_SEARCH, key=lambda size: abs(math.log(work / _work(*MEASURED_SEARCH[size]))))


def search_step_seconds(config: Any, times: StepTimes, method: Optional[str] = None) -> float:
    """Seconds of one step of ``config`` (of ``method`` instead of its own, when given)."""
    size = nearest_size(config)
    figures = times.search[size]

    def step(name: str) -> float:
        return figures.get(_label(name, config.order), figures.get(name, figures["milenas (simultaneous)"]))

    seconds = step(method or config.method)
    if (method or config.method) == "switch":  # bilevel before switch_at, MiLeNAS after
        at = getattr(config, "switch_at", None) or config.epochs // 2
        seconds = (at * step("darts_2nd") + (config.epochs - at) * step("milenas")) / config.epochs
    scale = _work(config.C, config.layers, config.batch_size, getattr(config, "resolution", 32))
    return seconds * scale / _work(*MEASURED_SEARCH[size])


def search_seconds(config: Any, times: StepTimes) -> float:
    """A whole search: its steps, an evaluation of the search-val half after each epoch, and the run's start."""
    per_class = getattr(config, "val_per_class", None) or config.per_class
    half = 10 * per_class if per_class else (128 if config.dataset == "synthetic" else 25_000)
    eval_batches = math.ceil(half / config.batch_size)  # images, counted in training batches
    # Gumbel rules evaluate the argmax cell (one op per edge): as cheap as their own forward.
    reference = config.method if config.method in ("gdas", "milenas_gumbel", "frozen_gumbel") else "single_level"
    eval_s = config.epochs * eval_batches * EVAL_SHARE * search_step_seconds(config, times, reference)
    return search_steps(config) * search_step_seconds(config, times) + eval_s + RUN_OVERHEAD_S


def train_step_seconds(config: Any, times: StepTimes) -> float:
    if config.dataset == "imagenet":
        reference, size = times.train["imagenet"], (48, 14, 128, 224)
    else:
        reference, size = times.train["cifar10"], (36, 20, 96, 32)
    C, cells, batch, pixels = size
    scaled = reference * (config.C ** 2 * config.layers * config.batch_size * config.resolution ** 2) / (
        C ** 2 * cells * batch * pixels ** 2)
    # Small networks cost per operation, not per multiply: a floor of 0.4 x the
    # smoke single-level supernet step per cell (8 ops of a cell against 14 mixed
    # edges of 7 ops, the separable convolutions being 8 layers each).
    floor = 0.4 * times.search["smoke"]["single_level"] / MEASURED_SEARCH["smoke"][1] * config.layers
    return max(scaled, floor)


def sharing_speedup(per_gpu: int) -> float:
    """Throughput of ``per_gpu`` runs on one GPU over one run alone (:data:`MEASURED_SHARING`)."""
    if per_gpu >= 4:
        return MEASURED_SHARING[4]
    return 1.0 + (per_gpu - 1) * (MEASURED_SHARING[4] - 1.0) / 3


def wall_clock(seconds: Sequence[float], slots: int, slowdown: float = 1.0) -> float:
    """Longest-first list scheduling of runs of ``seconds`` onto ``slots``
    workers, each run ``slowdown`` times slower than alone (GPU sharing)."""
    finish = [0.0] * max(1, slots)
    for length in sorted(seconds, reverse=True):
        index = finish.index(min(finish))
        finish[index] += length * slowdown
    return max(finish)


def estimate_wall(seconds: Sequence[float], device_type: str, workers: Optional[int], per_gpu: Optional[int],
                  gpus: int) -> tuple[float, str]:
    """The wall clock of running ``seconds`` with the executor's slots, and how it was reckoned."""
    if device_type == "cuda":
        per = per_gpu or 4
        count = max(1, gpus) * per if workers is None else workers
        slowdown = per / sharing_speedup(per)
        return wall_clock(seconds, count, slowdown), (
            f"{max(1, gpus)} GPU(s) x {per} runs each (per-GPU throughput x{sharing_speedup(per):.2f}, "
            f"measured x3.0 at 4)")
    count = workers or cpu_cores()
    return wall_clock(seconds, count), (f"{count} worker(s)" + ("" if workers else " (every core: the default)")
                                        + ", one CPU thread each, no slowdown assumed")

"""The evaluation loop: train a genotype's network from scratch (paper §3.3; docs/PROTOCOL.md).

``run_training(config, out_dir)`` trains, or resumes the run whose checkpoint
``out_dir`` holds, on one device or, under ``torchrun``, on several with
DistributedDataParallel.  Both protocols of the paper are presets of one loop:

* CIFAR-10: SGD 0.025 (momentum 0.9, weight decay 3e-4), cosine to 0 over 600
  epochs, batch 96, cutout 16, drop path ramped linearly to 0.2, auxiliary
  head weighted 0.4, gradient-norm clip 5.
* ImageNet: SGD 0.1 (weight decay 3e-5) decayed ×0.97 per epoch over 250
  epochs, batch 128, label smoothing 0.1, colour jitter, no drop path,
  auxiliary 0.4, clip 5.

Each epoch appends to ``record.json``: train loss (the objective, auxiliary
and smoothing included) and top-1, test loss (plain cross-entropy), top-1 and
top-5 as fractions, learning rate, drop-path probability, epoch time and
throughput.  The headline ``final_test_top1`` is the last epoch's, never
the best epoch's (docs/PROTOCOL.md).  Checkpoints (loops/driver.py,
records/run_dir.py) are written at every epoch end and every
``checkpoint_every_minutes`` within an epoch; SIGINT or SIGTERM checkpoint at
the next step, so an interrupted run loses minutes at most.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import torch
from torch import nn

from ..config import ConfigError, TrainConfig
from ..data import derive_seed
from ..networks import CellNetwork, NetworkCIFAR, NetworkImageNet, count_mult_adds, count_params
from ..records.identity import RECORD_FORMAT, run_identity
from ..records.provenance import load_1min, peak_memory_mib, provenance
from ..records.run_dir import RunDir
from ..records.state import all_finite, is_deterministic, restore_rng, rng_state
from ..space.genotype import Genotype, resolve_genotype
from .distributed import (
    DistributedContext,
    all_reduce_sums,
    any_process,
    average_buffers,
    cleanup,
    gather_objects,
    init_distributed,
    wrap_ddp,
)
from .driver import Cadence, Progress, drive
from .events import Diverged, EpochEnd, LoopEvent, StepEnd
from .train_data import epoch_batches, make_data
from .train_step import Accelerations, EpochSums, evaluate, train_steps

TOP_K = 5


@dataclass
class TrainResult:
    out_dir: Path
    record: dict
    completed: bool
    rank: int = 0  # of the process that returns it; under torchrun only rank 0 wrote out_dir


# ---------------------------------------------------------------------------
# The protocol as functions of the epoch (tested one by one).

def learning_rate_at(config: TrainConfig, epoch: int) -> float:
    """The learning rate of ``epoch`` (0-based), set before the epoch starts.

    cosine: ``lr_min + (lr - lr_min)(1 + cos(π e / epochs)) / 2``, what
    ``CosineAnnealingLR(T_max=epochs)`` stepped once per epoch gives (DARTS
    CIFAR-10); step: ``lr * lr_decay ** (e // lr_decay_epochs)``, i.e.
    ``StepLR`` (DARTS ImageNet: ×0.97 every epoch).
    """
    if config.lr_schedule == "cosine":
        cosine = (1 + math.cos(math.pi * epoch / config.epochs)) / 2
        return config.lr_min + (config.learning_rate - config.lr_min) * cosine
    return config.learning_rate * config.lr_decay ** (epoch // config.lr_decay_epochs)


def drop_path_prob_at(config: TrainConfig, epoch: int) -> float:
    """DARTS' linear ramp: ``drop_path_prob * epoch / epochs``, 0 in the first epoch."""
    return config.drop_path_prob * epoch / config.epochs


# ---------------------------------------------------------------------------
# Model.

def build_network(config: TrainConfig, genotype: Genotype, num_classes: int) -> CellNetwork:
    network = NetworkImageNet if config.dataset == "imagenet" else NetworkCIFAR
    return network(config.C, num_classes, config.layers, config.auxiliary, genotype=genotype)


def check_resolution(config: TrainConfig, genotype: Genotype) -> None:
    """Run one training-mode forward on the meta device (no memory, no compute)
    so that a resolution the network or its auxiliary head cannot take fails
    before any data is read, naming the setting to change.  The class count
    does not change which resolutions work."""
    with torch.device("meta"):
        probe = build_network(config, genotype, num_classes=10)
        try:
            probe(torch.empty(2, 3, config.resolution, config.resolution))
        except (ValueError, RuntimeError) as error:
            fix = " or set auxiliary=False (--no-auxiliary)" if config.auxiliary else ""
            raise ConfigError(f"the {config.dataset} network cannot train at resolution {config.resolution} "
                              f"({error}); change the resolution{fix}") from None


def model_size(config: TrainConfig, genotype: Genotype, num_classes: int) -> dict[str, int]:
    """Parameters (DARTS convention, auxiliary head excluded) and mult-adds at
    the training resolution, counted on a meta-device copy."""
    with torch.device("meta"):
        network = build_network(config, genotype, num_classes)
    return {"params": count_params(network), "params_with_aux": count_params(network, include_aux=True),
            "mult_adds": count_mult_adds(network, (3, config.resolution, config.resolution))}


# ---------------------------------------------------------------------------
# The run.

def search_origin(genotype_source: str) -> Optional[dict]:
    """When the genotype came from a search's record.json: which search, and
    what it cost (for Table 1's search-cost column)."""
    path = Path(genotype_source)
    if path.suffix != ".json" or not path.is_file():
        return None
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("kind") != "search":
        return None
    return {"record": str(path.resolve()), "method": data.get("method"), "lam": data.get("lam"),
            "epochs": len(data.get("epochs", [])), "time_s": data.get("time_s"), "gpu_hours": data.get("gpu_hours"),
            "device_name": data.get("device_name"), "data_source": data.get("data_source")}


def run_training(config: TrainConfig, out_dir: Path | str, *, stop_after_epochs: Optional[int] = None,
                 progress: bool = True) -> TrainResult:
    """Train (or resume) into ``out_dir``; returns the record.

    Under ``torchrun`` every process calls this with the same arguments; it
    joins the process group itself (and leaves it if it joined), and only
    process 0 writes ``out_dir``, which every process must be able to read
    (one machine, or a shared file system) to resume.  ``stop_after_epochs``
    stops after that many epochs of this call with the checkpoint written,
    as an interruption would (for tests and time-boxed jobs).  The training
    itself is :class:`Training`'s; the run around it (resume, checkpoints,
    SIGINT/SIGTERM, progress bars) is the run driver's (loops/driver.py), the
    same as the search's; the folder (lock, refusals) is :class:`RunDir`'s.
    """
    genotype = resolve_genotype(config.genotype)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    context, device, joined = init_distributed(config.device)
    share = config.batch_size // context.world_size
    advice = (f"at {share} images per device; set micro_batches={2 * config.micro_batches} (same optimisation, "
              f"less memory; the run resumes with it) or use more devices")
    try:
        with RunDir(out_dir, oom_advice=advice, writer=context.is_main) as run:
            training = Training(config, genotype, context, device)
            cadence = Cadence(every_minutes=config.checkpoint_every_minutes, stop_after_epochs=stop_after_epochs)
            bars = Progress(f"train {config.dataset}", config.epochs, epoch_postfix)
            outcome = drive(training, run, cadence, bars if progress and context.is_main else None)
            return TrainResult(run.path, outcome.record, outcome.completed, rank=context.rank)
    finally:
        if joined:
            cleanup()


def epoch_postfix(entry: dict) -> str:
    """An epoch's figures beside its bar: test top-1 in %, the train loss."""
    return f"test top-1 {100 * entry['test_top1']:.1f} %, train loss {entry['train_loss']:.3f}"


class Training:
    """One evaluation training's state (network, optimizer, data, epoch,
    partial sums) and its events (loops/events.py); the run driver
    (loops/driver.py) adds the run folder."""

    def __init__(self, config: TrainConfig, genotype: Genotype, parallel: DistributedContext,
                 device: torch.device) -> None:
        if config.batch_size % (parallel.world_size * config.micro_batches):
            raise ConfigError(f"batch_size {config.batch_size} must split evenly into {parallel.world_size} "
                              f"processes x {config.micro_batches} micro-batches")
        self.config, self.genotype, self.parallel, self.device = config, genotype, parallel, device
        self.accelerations = Accelerations.resolve(config, device, parallel)
        torch.manual_seed(config.seed)
        check_resolution(config, genotype)
        self.data = make_data(config, parallel, device)
        model = build_network(config, genotype, self.data.num_classes).to(device)
        # Drop path draws from the process's generator: give each process its own
        # stream, so the shards of one batch do not share their masks.
        torch.manual_seed(derive_seed(config.seed, "train-rng", parallel.rank))
        if self.accelerations.sync_batchnorm:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        if self.accelerations.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.optimizer = torch.optim.SGD(model.parameters(), config.learning_rate, momentum=config.momentum,
                                         weight_decay=config.weight_decay)
        self.identity = run_identity(config, self.data.provenance["source"], genotype.to_dict())
        self.sums = EpochSums.zeros(device)
        self.epoch = 0
        self.record = self._new_record()
        self._clock: Optional[float] = None  # when the running stretch of training began

    def _new_record(self) -> dict[str, Any]:
        config, genotype, parallel, acc = self.config, self.genotype, self.parallel, self.accelerations
        return {
            "format": RECORD_FORMAT, "kind": "train", "identity": self.identity, "config": config.to_dict(),
            "seed": config.seed, "dataset": config.dataset, "genotype": genotype.to_dict(),
            "genotype_text": str(genotype), "genotype_source": config.genotype,
            "search": search_origin(config.genotype),
            **provenance(self.device, self.data.provenance),
            "world_size": parallel.world_size, "backend": parallel.backend,
            "accelerations": {"bf16": acc.bf16, "channels_last": acc.channels_last,
                              "compile": acc.compile, "sync_batchnorm": acc.sync_batchnorm},
            "resolution": config.resolution, "top_k": min(TOP_K, self.data.num_classes),
            "steps_per_epoch": self.data.steps_per_epoch,
            **model_size(config, genotype, self.data.num_classes),
            "deterministic": is_deterministic(self.device), "epochs": [], "time_s": 0.0, "completed": False,
            "final_test_top1": None, "final_test_top5": None, "final_test_loss": None,
        }

    def restore(self, record: dict, state: dict) -> None:
        """Continue from a checkpoint (on any number of processes)."""
        parallel = self.parallel
        self.record, self.epoch = record, state["epoch"]
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if len(state["rng"]) == parallel.world_size:
            restore_rng(state["rng"][parallel.rank])
        else:  # resumed on another number of devices: fresh, distinct streams
            torch.manual_seed(derive_seed(self.config.seed, "train-rng", parallel.rank, self.epoch))
        if state["mid_epoch"] is not None:
            self.sums = _restore_mid_epoch(state["mid_epoch"], self.model, parallel, self.device)
        record["resumed"] = record.get("resumed", 0) + 1

    def state_dict(self) -> Optional[dict]:
        """The checkpoint's state on process 0 (None elsewhere; every process
        takes part): every process's generator state, so drop-path masks resume
        exactly; within an epoch also every process's sums and batch-norm
        buffers, the state checked finite first (the sums stay on the device
        between checkpoints, so here is where a divergence within an epoch shows)."""
        within_epoch = self.sums.steps > 0
        if within_epoch:
            self.check_finite(float(self.sums.loss))
            self.record["time_s"] += self._clock_out()  # writing the checkpoint is no training time
        rng_states = gather_objects(rng_state(), self.parallel)
        mid_epoch = None if not within_epoch else gather_objects({
            "sums": self.sums.state_dict(),
            "buffers": {name: b.detach().cpu() for name, b in self.model.named_buffers() if b.is_floating_point()},
        }, self.parallel)
        if not self.parallel.is_main:
            return None
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "rng": rng_states,
                "epoch": self.epoch, "mid_epoch": mid_epoch}

    def check_finite(self, loss: float) -> None:
        if any_process(not (math.isfinite(loss) and all_finite(self.model)), self.parallel, self.device):
            raise Diverged(f"non-finite train loss or weights in epoch {self.epoch}",
                           f"lower the learning rate, e.g. --set learning_rate={self.config.learning_rate / 2:g}, "
                           "and run into a new --out directory")

    def events(self) -> Iterator[LoopEvent]:
        """Train the remaining epochs: a :class:`StepEnd` after each step, an
        :class:`EpochEnd` after each epoch's close."""
        self._start()
        while self.epoch < self.config.epochs:
            lr = self._begin_epoch()
            self._clock_in()
            for _ in train_steps(self.model, self.ddp_model, self.training_model,
                                 epoch_batches(self.data, self.epoch, self.sums.steps), self.optimizer, self.config,
                                 self.accelerations, self.device, self.sums):
                yield StepEnd(self.epoch, self.sums.steps - 1, self.data.steps_per_epoch)
                self._clock_in()  # again, if a checkpoint stopped it
            entry = self._close_epoch(lr, self._clock_out())
            self.epoch += 1
            yield EpochEnd(entry["epoch"], entry, self.record["completed"])

    def _start(self) -> None:
        """Wrap the network for DDP (process 0's weights to all) and torch.compile."""
        self.ddp_model = wrap_ddp(self.model, self.parallel, self.device)
        self.training_model = torch.compile(self.ddp_model) if self.accelerations.compile else self.ddp_model
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def _begin_epoch(self) -> float:
        """Set the epoch's learning rate (returned) and drop-path probability."""
        lr = learning_rate_at(self.config, self.epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.drop_path_prob = drop_path_prob_at(self.config, self.epoch)
        return lr

    def _clock_in(self) -> None:
        if self._clock is None:
            self._clock = time.perf_counter()

    def _clock_out(self) -> float:
        """Seconds of training since the clock started (the device done first); the clock stops."""
        assert self._clock is not None
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds, self._clock = time.perf_counter() - self._clock, None
        return seconds

    def _close_epoch(self, lr: float, train_s: float) -> dict:
        parallel, device, record = self.parallel, self.device, self.record
        loss_sum, correct, seen = all_reduce_sums([self.sums.loss, self.sums.correct, self.sums.images], parallel,
                                                  device)
        self.sums = EpochSums.zeros(device)
        average_buffers(self.model, parallel)  # first: a non-finite statistic then reaches every process alike
        self.check_finite(loss_sum)
        eval_start = time.perf_counter()
        test_loss, top1, topk, count = all_reduce_sums(
            evaluate(self.model, self.data.eval_batches(), self.accelerations, device, record["top_k"]), parallel,
            device)
        eval_s = time.perf_counter() - eval_start
        entry = {
            "epoch": self.epoch, "train_loss": loss_sum / seen, "train_top1": correct / seen,
            "test_loss": test_loss / count, "test_top1": top1 / count, "test_top5": topk / count,
            "lr": lr, "drop_path_prob": self.model.drop_path_prob,
            "epoch_time_s": train_s + eval_s, "train_s": train_s, "eval_s": eval_s,
            "throughput_img_s": seen / train_s, "peak_mem_mib": peak_memory_mib(device), "load_1min": load_1min(),
        }
        record["epochs"].append(entry)
        record["time_s"] += train_s + eval_s
        record["gpu_hours"] = record["time_s"] * parallel.world_size / 3600 if device.type == "cuda" else None
        _finish(record, self.config)
        return entry


def _restore_mid_epoch(parts: list, model: nn.Module, context: DistributedContext,
                       device: torch.device) -> EpochSums:
    """Each process's sums and batch-norm buffers of a checkpoint written within
    an epoch.  On another number of processes the sums go to process 0 (the
    epoch's totals are all-reduced anyway) and every process takes the mean buffers."""
    buffers = dict(model.named_buffers())
    if len(parts) == context.world_size:
        mine = parts[context.rank]
        for name, value in mine["buffers"].items():
            buffers[name].copy_(value)
        return EpochSums.from_state(mine["sums"], device)
    for name in parts[0]["buffers"]:
        buffers[name].copy_(torch.stack([part["buffers"][name] for part in parts]).mean(0))
    total = {key: sum(part["sums"][key] for part in parts) for key in ("loss", "correct", "images")}
    total["steps"] = parts[0]["sums"]["steps"]
    sums = EpochSums.from_state(total, device)
    if context.rank != 0:
        sums = EpochSums(sums.loss * 0, sums.correct * 0, 0, sums.steps)
    return sums


def _finish(record: dict, config: TrainConfig) -> None:
    """The headline numbers: the final epoch's, and only once every epoch ran."""
    record["completed"] = len(record["epochs"]) == config.epochs
    last = record["epochs"][-1] if record["completed"] else {}
    record["final_test_top1"] = last.get("test_top1")
    record["final_test_top5"] = last.get("test_top5")
    record["final_test_loss"] = last.get("test_loss")

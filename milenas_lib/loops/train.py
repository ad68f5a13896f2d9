"""The evaluation loop: train a genotype's network from scratch (GUIDE §4).

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
the best epoch's (GUIDE §3.5).  Checkpoints are written at every epoch end;
an interrupted run loses at most the epoch in progress.
"""
from __future__ import annotations

import contextlib
import json
import math
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Protocol

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..config import TENSOR_DATASETS, ConfigError, TrainConfig
from ..data import TensorBatches, derive_seed, load_cifar10, synthetic_cifar
from ..data.imagefolder import first_per_class, make_imagefolder_data
from ..networks import CellNetwork, NetworkCIFAR, NetworkImageNet, count_mult_adds, count_params
from ..records.guard import ensure_free_space, run_lock, state_bytes
from ..records.io import load_checkpoint, save_checkpoint, write_json
from ..records.provenance import provenance
from ..records.state import all_finite, is_deterministic, restore_rng, rng_state
from ..space.genotype import Genotype, resolve_genotype
from .distributed import (
    DistributedContext,
    all_reduce_sums,
    average_buffers,
    barrier,
    cleanup,
    init_distributed,
    wrap_ddp,
)
from .search import (
    CHECKPOINT_NAME,
    RECORD_NAME,
    CheckpointMismatchError,
    GPUOutOfMemoryError,
    peak_memory_mib,
)

RECORD_FORMAT = 1
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


def training_loss(logits: torch.Tensor, logits_aux: Optional[torch.Tensor], targets: torch.Tensor,
                  auxiliary_weight: float, label_smoothing: float) -> torch.Tensor:
    """``CE(logits) + auxiliary_weight * CE(logits_aux)``, both with the same
    label smoothing (DARTS smooths the auxiliary loss on ImageNet too)."""
    loss = F.cross_entropy(logits, targets, label_smoothing=label_smoothing)
    if logits_aux is not None:
        loss = loss + auxiliary_weight * F.cross_entropy(logits_aux, targets, label_smoothing=label_smoothing)
    return loss


# ---------------------------------------------------------------------------
# Data: both sources hand each process its part of every global batch.

class TrainData(Protocol):
    provenance: dict[str, Any]

    @property
    def num_classes(self) -> int: ...

    @property
    def steps_per_epoch(self) -> int: ...

    def train_epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...

    def eval_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...


class TensorData:
    """CIFAR-10 (or its synthetic stand-in) held on the device.

    Every process draws the same global batch from :class:`TensorBatches`
    (crop, flip and cutout seeded per ``(seed, epoch, batch)``) and keeps its
    slice ``rank``: the global batches are exactly a single process's,
    whatever the number of processes.  Augmenting the whole batch everywhere
    costs a few tensor ops; it buys that equivalence.
    """

    def __init__(self, config: TrainConfig, context: DistributedContext, device: torch.device) -> None:
        image_set = synthetic_cifar(seed=config.seed) if config.dataset == "synthetic" else \
            load_cifar10(data_root=config.data_root)
        train_indices = first_per_class(image_set.train_labels, config.train_per_class)
        test_indices = first_per_class(image_set.test_labels, config.test_per_class)
        self.classes = image_set.classes
        self.share = config.batch_size // context.world_size
        self.rank = context.rank
        self.train = TensorBatches(image_set.train_images, image_set.train_labels, train_indices, config.batch_size,
                                   device, derive_seed(config.seed, "train"), augment=True, cutout=config.cutout)
        self.test = TensorBatches(image_set.test_images, image_set.test_labels,
                                  test_indices[context.rank::context.world_size], config.eval_batch_size, device,
                                  config.seed, augment=False, shuffle=False, drop_last=False)
        self.provenance = {**image_set.provenance(), "train_images": train_indices.numel(),
                           "test_images": test_indices.numel(), "train_per_class": config.train_per_class,
                           "test_per_class": config.test_per_class}

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train)

    def train_epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        part = slice(self.rank * self.share, (self.rank + 1) * self.share)
        for images, labels in self.train.epoch(epoch):
            yield images[part], labels[part]

    def eval_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.test.epoch(0)


def make_data(config: TrainConfig, context: DistributedContext, device: torch.device) -> TrainData:
    if config.dataset in TENSOR_DATASETS:
        return TensorData(config, context, device)
    return make_imagefolder_data(
        config.data_root, resolution=config.resolution, batch_size=config.batch_size // context.world_size,
        eval_batch_size=config.eval_batch_size, device=device, seed=config.seed, rank=context.rank,
        world_size=context.world_size, workers=config.workers, eval_resize=config.eval_resize,
        color_jitter=config.color_jitter, hue_jitter=config.hue_jitter,
        train_per_class=config.train_per_class, test_per_class=config.test_per_class)


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


@dataclass(frozen=True)
class Accelerations:
    """What actually runs: bf16, channels_last and compile are CUDA-only."""

    bf16: bool
    channels_last: bool
    compile: bool
    sync_batchnorm: bool

    @classmethod
    def resolve(cls, config: TrainConfig, device: torch.device, context: DistributedContext) -> "Accelerations":
        on_cuda = device.type == "cuda"
        asked = [name for name in ("bf16", "channels_last", "compile", "sync_batchnorm") if getattr(config, name)]
        if asked and not on_cuda:
            warnings.warn(f"{', '.join(asked)} apply on CUDA only; this CPU run uses plain float32", stacklevel=3)
        return cls(bf16=config.bf16 and on_cuda, channels_last=config.channels_last and on_cuda,
                   compile=config.compile and on_cuda, sync_batchnorm=config.sync_batchnorm and on_cuda
                   and context.enabled)

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images


# ---------------------------------------------------------------------------
# One epoch of training, and evaluation.

class PieceAveragedNormStatistics:
    """Batch-norm running statistics that treat the pieces of one step as
    parallel devices: ``running = (1 - m) running + m * mean over pieces of
    the piece statistic``, one update per step.

    Without this, accumulating over pieces would update the running
    statistics once per piece, weighting the last piece most.  With it,
    ``micro_batches = k`` on one process computes what DDP on k processes
    computes (each tracking its shard, averaged by :func:`average_buffers`):
    the same gradients and the same running statistics, up to rounding.
    """

    def __init__(self, model: nn.Module) -> None:
        self.norms = [module for module in model.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)
                      and module.track_running_stats and module.momentum is not None]
        self.momenta = [float(norm.momentum) for norm in self.norms]

    @contextlib.contextmanager
    def pieces(self) -> Iterator[None]:
        """Within: momentum 1, so after each piece a running buffer holds that piece's statistic."""
        for norm in self.norms:
            norm.momentum = 1.0
        try:
            yield
        finally:
            for norm, momentum in zip(self.norms, self.momenta):
                norm.momentum = momentum

    def start_step(self) -> None:
        self.before = [(norm.running_mean.clone(), norm.running_var.clone()) for norm in self.norms]
        self.sums = [(torch.zeros_like(mean), torch.zeros_like(var)) for mean, var in self.before]

    def after_piece(self) -> None:
        for norm, (mean_sum, var_sum) in zip(self.norms, self.sums):
            mean_sum += norm.running_mean
            var_sum += norm.running_var

    def end_step(self, pieces: int) -> None:
        for norm, momentum, (mean, var), (mean_sum, var_sum) in zip(self.norms, self.momenta, self.before, self.sums):
            norm.running_mean.copy_((1 - momentum) * mean + momentum * mean_sum / pieces)
            norm.running_var.copy_((1 - momentum) * var + momentum * var_sum / pieces)


def train_epoch(model: nn.Module, ddp_model: nn.Module, training_model: nn.Module,
                batches: Iterator[tuple[torch.Tensor, torch.Tensor]], optimizer: torch.optim.Optimizer,
                config: TrainConfig, accelerations: Accelerations, device: torch.device, steps: int,
                progress: bool) -> tuple[float, float, int]:
    """Train over ``batches``; returns this process's ``(loss_sum, correct, images)``.

    ``training_model`` is what runs forward (``ddp_model``, compiled or not);
    ``model`` the plain module whose parameters are clipped.  Each batch is
    split into ``micro_batches`` pieces whose gradients accumulate, scaled by
    1/pieces (DDP averages over processes only at the last piece): the step
    is the one DDP would take with one piece per device, see
    :class:`PieceAveragedNormStatistics`.  Sums stay on the device until the
    epoch ends: no per-step synchronisation.
    """
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    images_seen = 0
    pieces = config.micro_batches
    synchronising = isinstance(ddp_model, nn.parallel.DistributedDataParallel)
    norm_statistics = PieceAveragedNormStatistics(model) if pieces > 1 else None
    with norm_statistics.pieces() if norm_statistics else contextlib.nullcontext():
        for images, labels in tqdm(batches, total=steps, leave=False, disable=not progress):
            optimizer.zero_grad(set_to_none=True)
            if norm_statistics:
                norm_statistics.start_step()
            for index, (x, y) in enumerate(zip(images.chunk(pieces), labels.chunk(pieces))):
                last = index == pieces - 1
                with ddp_model.no_sync() if synchronising and not last else contextlib.nullcontext():
                    with accelerations.autocast(device):
                        logits, logits_aux = training_model(accelerations.inputs(x))
                        loss = training_loss(logits, logits_aux, y, config.auxiliary_weight, config.label_smoothing)
                    (loss / pieces).backward()
                if norm_statistics:
                    norm_statistics.after_piece()
                loss_sum += loss.detach().double() * y.numel()
                correct += (logits.detach().argmax(1) == y).sum()
                images_seen += y.numel()
            if norm_statistics:
                norm_statistics.end_step(pieces)
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
    return float(loss_sum), float(correct), images_seen


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterator[tuple[torch.Tensor, torch.Tensor]], accelerations: Accelerations,
             device: torch.device, top_k: int) -> tuple[float, float, float, int]:
    """This process's ``(loss_sum, top1_correct, topk_correct, images)`` on
    un-augmented images with batch norm in eval mode; plain cross-entropy."""
    model.eval()
    loss_sum, top1, topk, count = 0.0, 0.0, 0.0, 0
    for images, labels in batches:
        with accelerations.autocast(device):
            logits, _ = model(accelerations.inputs(images))
        logits = logits.float()
        loss_sum += float(F.cross_entropy(logits, labels, reduction="sum"))
        best = logits.topk(top_k, dim=1).indices
        top1 += float((best[:, 0] == labels).sum())
        topk += float((best == labels[:, None]).any(dim=1).sum())
        count += labels.numel()
    model.train()
    return loss_sum, top1, topk, count


# ---------------------------------------------------------------------------
# The run.

def _config_identity(config: TrainConfig, genotype: Genotype) -> dict:
    """What a checkpoint must agree with to be resumed: everything but where
    and how fast it runs; the genotype by value, not by how it was named."""
    exclude = {"device", "num_threads", "data_root", "workers", "eval_batch_size", "channels_last", "compile"}
    identity = {k: v for k, v in config.to_dict().items() if k not in exclude}
    identity["genotype"] = genotype.to_dict()
    return identity


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
    as an interruption would (for tests and time-boxed jobs).  As in the
    search loop, a second live run on the same directory is refused and a
    run that fails before its first record leaves no directory behind.
    """
    out_dir = Path(out_dir)
    genotype = resolve_genotype(config.genotype)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    context, device, joined = init_distributed(config.device)
    fresh = not out_dir.exists()
    try:
        with run_lock(out_dir) if context.is_main else contextlib.nullcontext():
            return _run(config, genotype, out_dir, context, device, stop_after_epochs, progress)
    except torch.cuda.OutOfMemoryError:
        share = config.batch_size // context.world_size
        raise GPUOutOfMemoryError(
            f"out of GPU memory at {share} images per device; set micro_batches={2 * config.micro_batches} "
            f"(same optimisation, less memory) or use more devices") from None
    finally:
        if context.is_main and fresh and out_dir.exists() and not (out_dir / RECORD_NAME).exists():
            shutil.rmtree(out_dir, ignore_errors=True)
        if joined:
            cleanup()


def _run(config: TrainConfig, genotype: Genotype, out_dir: Path, context: DistributedContext, device: torch.device,
         stop_after_epochs: Optional[int], progress: bool) -> TrainResult:
    if config.batch_size % (context.world_size * config.micro_batches):
        raise ConfigError(f"batch_size {config.batch_size} must split evenly into {context.world_size} processes "
                          f"x {config.micro_batches} micro-batches")
    progress = progress and context.is_main
    accelerations = Accelerations.resolve(config, device, context)
    torch.manual_seed(config.seed)

    check_resolution(config, genotype)
    data = make_data(config, context, device)
    model = build_network(config, genotype, data.num_classes).to(device)
    # Drop path draws from the process's generator: give each process its own
    # stream, so the shards of one batch do not share their masks.
    torch.manual_seed(derive_seed(config.seed, "train-rng", context.rank))
    if accelerations.sync_batchnorm:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if accelerations.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), config.learning_rate, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    steps_per_epoch = data.steps_per_epoch
    top_k = min(TOP_K, data.num_classes)
    size = model_size(config, genotype, data.num_classes)
    record: dict[str, Any] = {
        "format": RECORD_FORMAT, "kind": "train", "config": config.to_dict(), "seed": config.seed,
        "dataset": config.dataset, "genotype": genotype.to_dict(), "genotype_text": str(genotype),
        "genotype_source": config.genotype, "search": search_origin(config.genotype),
        **provenance(device, data.provenance),
        "world_size": context.world_size, "backend": context.backend,
        "accelerations": {"bf16": accelerations.bf16, "channels_last": accelerations.channels_last,
                          "compile": accelerations.compile, "sync_batchnorm": accelerations.sync_batchnorm},
        "resolution": config.resolution, "top_k": top_k, "steps_per_epoch": steps_per_epoch, **size,
        "deterministic": is_deterministic(device), "epochs": [], "time_s": 0.0, "completed": False,
        "final_test_top1": None, "final_test_top5": None, "final_test_loss": None,
    }
    checkpoint_path, record_path = out_dir / CHECKPOINT_NAME, out_dir / RECORD_NAME
    identity = _config_identity(config, genotype)
    start_epoch = 0
    if checkpoint_path.exists():
        state = load_checkpoint(checkpoint_path)
        if state.get("format") != RECORD_FORMAT or state.get("identity") != identity:
            raise CheckpointMismatchError(
                f"{checkpoint_path} was written by another configuration or record format; "
                f"choose another --out directory or delete the old run")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if len(state["rng"]) == context.world_size:
            restore_rng(state["rng"][context.rank])
        else:  # resumed on another number of devices: fresh, distinct streams
            torch.manual_seed(derive_seed(config.seed, "train-rng", context.rank, state["epoch"]))
        start_epoch = state["epoch"]
        record.update(state["record"])
        record["resumed"] = state["record"].get("resumed", 0) + 1

    ddp_model = wrap_ddp(model, context, device)
    training_model = torch.compile(ddp_model) if accelerations.compile else ddp_model

    def checkpoint(next_epoch: int) -> None:
        # Every process's generator state, so drop-path masks resume exactly.
        rng_states = _gather_objects(rng_state(), context)
        if not context.is_main:
            return
        kept = {key: record[key] for key in ("epochs", "time_s", "gpu_hours", "resumed") if key in record}
        state = {
            "format": RECORD_FORMAT, "identity": identity, "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "rng": rng_states, "epoch": next_epoch, "record": kept,
        }
        ensure_free_space(out_dir, state_bytes(state))
        save_checkpoint(checkpoint_path, state)
        write_json(record_path, record)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    epochs_this_call = 0
    epochs_bar = tqdm(range(start_epoch, config.epochs), desc=f"train {config.dataset}", disable=not progress,
                      initial=start_epoch, total=config.epochs)
    for epoch in epochs_bar:
        lr = learning_rate_at(config, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.drop_path_prob = drop_path_prob_at(config, epoch)

        train_start = time.perf_counter()
        loss_sum, correct, seen = train_epoch(model, ddp_model, training_model, data.train_epoch(epoch), optimizer,
                                              config, accelerations, device, steps_per_epoch, progress)
        loss_sum, correct, seen = all_reduce_sums([loss_sum, correct, seen], context, device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_s = time.perf_counter() - train_start
        average_buffers(model, context)  # first: a non-finite statistic then reaches every process alike
        if not math.isfinite(loss_sum) or not all_finite(model):
            message = (f"non-finite train loss or weights in epoch {epoch}; the checkpoint of the last finished "
                       f"epoch in {out_dir} is kept (lower the learning rate to continue)")
            if context.is_main:
                record["failure"] = message
                write_json(record_path, record)
            raise FloatingPointError(message)

        eval_start = time.perf_counter()
        test_loss, top1, topk, count = all_reduce_sums(
            evaluate(model, data.eval_batches(), accelerations, device, top_k), context, device)
        eval_s = time.perf_counter() - eval_start
        record["epochs"].append({
            "epoch": epoch, "train_loss": loss_sum / seen, "train_top1": correct / seen,
            "test_loss": test_loss / count, "test_top1": top1 / count, "test_top5": topk / count,
            "lr": lr, "drop_path_prob": model.drop_path_prob,
            "epoch_time_s": train_s + eval_s, "train_s": train_s, "eval_s": eval_s,
            "throughput_img_s": seen / train_s, "peak_mem_mib": peak_memory_mib(device),
        })
        record["time_s"] += train_s + eval_s
        record["gpu_hours"] = record["time_s"] * context.world_size / 3600 if device.type == "cuda" else None
        epochs_bar.set_postfix(test_top1=f"{top1 / count:.3f}", train_loss=f"{loss_sum / seen:.3f}")
        _finish(record, config)
        checkpoint(epoch + 1)
        epochs_this_call += 1
        if stop_after_epochs is not None and epochs_this_call >= stop_after_epochs and epoch + 1 < config.epochs:
            barrier(context)
            return TrainResult(out_dir, record, completed=False, rank=context.rank)
    _finish(record, config)
    if context.is_main:  # also when a finished run was called again: the record counts that call
        write_json(record_path, record)
    barrier(context)
    return TrainResult(out_dir, record, completed=record["completed"], rank=context.rank)


def _finish(record: dict, config: TrainConfig) -> None:
    """The headline numbers: the final epoch's, and only once every epoch ran."""
    record["completed"] = len(record["epochs"]) == config.epochs
    last = record["epochs"][-1] if record["completed"] else {}
    record["final_test_top1"] = last.get("test_top1")
    record["final_test_top5"] = last.get("test_top5")
    record["final_test_loss"] = last.get("test_loss")


def _gather_objects(value: Any, context: DistributedContext) -> list:
    """``value`` from every process, in rank order (a list of one for a single process)."""
    if not context.enabled:
        return [value]
    gathered: list = [None] * context.world_size
    torch.distributed.all_gather_object(gathered, value)
    return gathered

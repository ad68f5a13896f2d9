"""One epoch of training and one evaluation pass of the evaluation loop.

The step is DARTS' evaluation protocol (docs/PROTOCOL.md): cross-entropy plus
the auxiliary head's weighted loss, gradient-norm clip, SGD.  A batch may be
split into micro-batches whose gradients accumulate to the full batch's step.
"""
from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Iterator, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..config import TrainConfig
from .distributed import DistributedContext


def training_loss(logits: torch.Tensor, logits_aux: Optional[torch.Tensor], targets: torch.Tensor,
                  auxiliary_weight: float, label_smoothing: float) -> torch.Tensor:
    """``CE(logits) + auxiliary_weight * CE(logits_aux)``, both with the same
    label smoothing (DARTS smooths the auxiliary loss on ImageNet too)."""
    loss = F.cross_entropy(logits, targets, label_smoothing=label_smoothing)
    if logits_aux is not None:
        loss = loss + auxiliary_weight * F.cross_entropy(logits_aux, targets, label_smoothing=label_smoothing)
    return loss



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


@dataclass
class EpochSums:
    """This process's running sums over the steps of an epoch so far; kept on
    the device until the epoch ends (no per-step synchronisation)."""

    loss: torch.Tensor      # float64: sum of per-image training losses
    correct: torch.Tensor   # int64: top-1 hits
    images: int = 0
    steps: int = 0

    @classmethod
    def zeros(cls, device: torch.device) -> "EpochSums":
        return cls(torch.zeros((), dtype=torch.float64, device=device),
                   torch.zeros((), dtype=torch.int64, device=device))

    def state_dict(self) -> dict:
        return {"loss": self.loss.cpu(), "correct": self.correct.cpu(), "images": self.images, "steps": self.steps}

    @classmethod
    def from_state(cls, state: dict, device: torch.device) -> "EpochSums":
        return cls(state["loss"].to(device), state["correct"].to(device), state["images"], state["steps"])


def train_steps(model: nn.Module, ddp_model: nn.Module, training_model: nn.Module,
                batches: Iterator[tuple[torch.Tensor, torch.Tensor]], optimizer: torch.optim.Optimizer,
                config: TrainConfig, accelerations: Accelerations, device: torch.device,
                sums: EpochSums) -> Iterator[None]:
    """Train over ``batches`` (the rest of an epoch), adding to ``sums``; yields
    after each step, where the run driver may checkpoint or stop (loops/driver.py).

    ``training_model`` is what runs forward (``ddp_model``, compiled or not);
    ``model`` the plain module whose parameters are clipped.  Each batch is
    split into ``micro_batches`` pieces whose gradients accumulate, scaled by
    1/pieces (DDP averages over processes only at the last piece): the step
    is the one DDP would take with one piece per device, see
    :class:`PieceAveragedNormStatistics`.
    """
    model.train()
    pieces = config.micro_batches
    synchronising = isinstance(ddp_model, nn.parallel.DistributedDataParallel)
    norm_statistics = PieceAveragedNormStatistics(model) if pieces > 1 else None
    for images, labels in batches:
        optimizer.zero_grad(set_to_none=True)
        # The pieces' momentum holds within a step only: between steps (a checkpoint) the model is as built.
        with norm_statistics.pieces() if norm_statistics else contextlib.nullcontext():
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
                sums.loss += loss.detach().double() * y.numel()
                sums.correct += (logits.detach().argmax(1) == y).sum()
                sums.images += y.numel()
            if norm_statistics:
                norm_statistics.end_step(pieces)
        nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        sums.steps += 1
        yield


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



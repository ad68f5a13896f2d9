"""``torchrun`` and DistributedDataParallel plumbing for the training loop.

``torchrun --nproc-per-node N`` starts N copies of the same command and tells
each its place through environment variables (``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``).  One process drives one
device: ``cuda:LOCAL_RANK`` with NCCL on GPUs, the CPU with gloo otherwise
(which is how the kit tests multi-process training on a machine without a GPU).
Without those variables everything here is a no-op for a single process.
"""
from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import torch
import torch.distributed as dist
from torch import nn

from ..records.provenance import resolve_device


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in the job; a single process is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: Optional[str] = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only the main process writes records and checkpoints and prints."""
        return self.rank == 0


def _env_int(name: str) -> int:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        raise RuntimeError(f"WORLD_SIZE is set but {name} is missing or not an integer; start multi-process "
                           "runs with torchrun, which sets RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and "
                           "MASTER_PORT") from None


def init_distributed(device_setting: str) -> tuple[DistributedContext, torch.device, bool]:
    """The context and this process's device; joins the process group when
    ``torchrun`` started several processes.

    Returns ``(context, device, joined)``: ``joined`` is True when this call
    created the process group, so the caller knows to :func:`cleanup` it.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device(device_setting)
    if world_size <= 1:
        return DistributedContext(), device, False
    rank, local_rank = _env_int("RANK"), _env_int("LOCAL_RANK")
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(f"local rank {local_rank} has no GPU: {torch.cuda.device_count()} visible; "
                               "start at most one process per GPU (--nproc-per-node)")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        backend = "gloo"
    joined = not dist.is_initialized()
    if joined:
        dist.init_process_group(backend, rank=rank, world_size=world_size)
    return DistributedContext(rank, world_size, local_rank, dist.get_backend()), device, joined


def all_reduce_sums(values: Sequence[float], context: DistributedContext, device: torch.device) -> list[float]:
    """Element-wise sums of ``values`` over all processes (float64, so counts
    of images stay exact); the values themselves for a single process."""
    if not context.enabled:
        return [float(v) for v in values]
    totals = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(totals, op=dist.ReduceOp.SUM)
    return totals.tolist()


def gather_objects(value: Any, context: DistributedContext) -> list:
    """``value`` from every process, in rank order (a list of one for a single process)."""
    if not context.enabled:
        return [value]
    gathered: list = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def any_process(flag: bool, context: DistributedContext, device: torch.device) -> bool:
    """Whether ``flag`` is true on any process (the same answer everywhere)."""
    if not context.enabled:
        return flag
    value = torch.tensor([float(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def average_buffers(model: nn.Module, context: DistributedContext) -> None:
    """Replace each floating-point buffer (batch-norm running mean and
    variance) by its mean over the processes.

    DDP runs here without per-step buffer broadcasts: each process tracks the
    statistics of its own shard, and averaging them at the end of an epoch
    gives every process the same model for evaluation and the checkpoint,
    built from all the data rather than from process 0's shard alone.
    Integer buffers (``num_batches_tracked``) are equal everywhere already.
    """
    if not context.enabled:
        return
    for buffer in model.buffers():
        if buffer.is_floating_point():
            dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
            buffer.div_(context.world_size)


def wrap_ddp(model: nn.Module, context: DistributedContext, device: torch.device) -> nn.Module:
    """``model`` inside DistributedDataParallel, or itself for one process.

    DDP copies process 0's weights to the others at construction and averages
    gradients during ``backward``; see :func:`average_buffers` for why
    buffers are not broadcast at every step.
    """
    if not context.enabled:
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    # torch 2.14 renamed the switch (the old name warns); 2.4-2.13 know only the old one.
    ddp = nn.parallel.DistributedDataParallel
    no_buffer_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(ddp).parameters
                      else {"broadcast_buffers": False})
    return ddp(model, device_ids=device_ids, **no_buffer_sync)


def barrier(context: DistributedContext) -> None:
    if context.enabled:
        dist.barrier()


def cleanup() -> None:
    """Leave the process group (call only where :func:`init_distributed` joined it)."""
    if dist.is_initialized():
        dist.destroy_process_group()

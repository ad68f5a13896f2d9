"""One search over several processes, and micro-batches within one.

Every update rule (algorithms/rules.py) reaches the supernet only through
``SearchContext.forward`` and takes gradients of mean losses.  A
:class:`ShardedContext` overrides that one forward, so every rule, the
unrolled step and the finite difference of 2nd-order DARTS included, runs
unchanged:

* ``micro_batches = k``: the forward runs on k equal pieces of the batch
  and concatenates the logits, so batch norm normalises each piece with its
  own statistics, as k processes would, while the mean loss (and every
  gradient of it) is that of the whole batch; the running statistics take
  one update per forward from the mean of the pieces' statistics, as k
  processes' statistics averaged would (:class:`PieceNormStatistics`).
* ``world_size = N`` (torchrun): each process holds 1/N of every batch, and
  the tensors that carry gradients into w and α (the weights, α, a Gumbel
  sample of α) pass through :class:`GradientMean`, whose backward averages
  their gradients over the processes.  Each ``backward`` or
  ``autograd.grad`` therefore returns the gradient of the global mean loss,
  identical on every process, and identical optimizer steps keep w and α
  identical everywhere (docs/SCALING.md).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import torch
import torch.distributed as dist

from ..algorithms.base import Batch, SearchContext, StepStats
from ..space.supernet import ArchWeights
from .distributed import DistributedContext


class GradientMean(torch.autograd.Function):
    """Identity forward; backward averages the incoming gradients over all
    processes (one all-reduce of the flattened gradients per call)."""

    @staticmethod
    def forward(ctx: Any, world_size: int, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ctx.world_size = world_size
        return tuple(t.view_as(t) for t in tensors)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[Optional[torch.Tensor], ...]:
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= ctx.world_size
        pieces = flat.split([g.numel() for g in grads])
        return (None, *(piece.view(g.shape) for piece, g in zip(pieces, grads)))


def averaged(tensors: Mapping[str, torch.Tensor], world_size: int) -> dict[str, torch.Tensor]:
    """``tensors`` with those that carry gradients passed through :class:`GradientMean`."""
    names = [name for name, t in tensors.items() if t.requires_grad]
    if not names:
        return dict(tensors)
    outputs = GradientMean.apply(world_size, *(tensors[name] for name in names))
    return {**tensors, **dict(zip(names, outputs))}


@dataclass
class ShardedContext(SearchContext):
    """A :class:`SearchContext` whose forward splits the batch into
    ``micro_batches`` pieces and, over ``world_size`` processes, averages
    the gradients of everything it passes on."""

    micro_batches: int = 1
    world_size: int = 1

    def __post_init__(self) -> None:
        self.norm_statistics = PieceNormStatistics(self.model)

    def forward(self, x: torch.Tensor, arch: Optional[ArchWeights] = None,
                weights: Optional[Mapping[str, torch.Tensor]] = None) -> torch.Tensor:
        # Passes at other weights bring scratch buffers (algorithms/hypergradient.py): only
        # passes at the model's own weights in training mode move its running statistics.
        own_statistics = weights is None and self.model.training
        if self.world_size > 1:
            arch, weights = self._averaged_inputs(arch, weights)
        if self.micro_batches == 1:
            return super().forward(x, arch, weights)
        if not own_statistics:
            return torch.cat([super(ShardedContext, self).forward(piece, arch, weights)
                              for piece in x.chunk(self.micro_batches)])
        return self._forward_pieces(x, arch, weights)

    def _forward_pieces(self, x: torch.Tensor, arch: Optional[ArchWeights],
                        weights: Optional[Mapping[str, torch.Tensor]]) -> torch.Tensor:
        statistics, logits = self.norm_statistics, []
        statistics.start()
        for piece in x.chunk(self.micro_batches):
            statistics.before_piece()
            logits.append(super().forward(piece, arch, weights))
            statistics.after_piece()
        statistics.finish(self.micro_batches)
        return torch.cat(logits)

    def _averaged_inputs(self, arch: Optional[ArchWeights], weights: Optional[Mapping[str, torch.Tensor]]
                         ) -> tuple[Optional[ArchWeights], dict[str, torch.Tensor]]:
        given = dict(self.model.named_weights()) if weights is None else dict(weights)
        alpha_ids = {id(alpha) for alpha in self.alphas()}
        alphas = {name: p for name, p in self.model.named_parameters() if id(p) in alpha_ids}
        weights = {**averaged(given, self.world_size), **averaged(alphas, self.world_size)}
        if arch is not None:
            sampled = averaged({"normal": arch.normal, "reduce": arch.reduce}, self.world_size)
            arch = dataclasses.replace(arch, **sampled)
        return arch, weights


class PieceNormStatistics:
    """Batch-norm running statistics over the pieces of one forward, as
    parallel processes would track them: ``running = (1 - m) running + m *
    mean over pieces of the piece's statistic``, one update per forward.

    Each piece runs with momentum 1 on fresh buffer tensors (so its running
    buffer ends as its own statistic), and the result is a new tensor too:
    batch norm keeps its running buffers for the backward pass, which has
    not run yet, so they must not change in place.  (The training loop's
    ``PieceAveragedNormStatistics`` works in place, after each backward.)
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self.norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
                      and m.track_running_stats and m.momentum is not None]

    def start(self) -> None:
        self.before = [(n.running_mean, n.running_var, n.num_batches_tracked.clone(), n.momentum) for n in self.norms]
        self.sums = [(torch.zeros_like(n.running_mean), torch.zeros_like(n.running_var)) for n in self.norms]

    def before_piece(self) -> None:
        for norm, (mean, var, _, _) in zip(self.norms, self.before):
            norm.running_mean, norm.running_var, norm.momentum = mean.clone(), var.clone(), 1.0

    def after_piece(self) -> None:
        for norm, (mean_sum, var_sum) in zip(self.norms, self.sums):
            mean_sum += norm.running_mean
            var_sum += norm.running_var

    def finish(self, pieces: int) -> None:
        for norm, (mean, var, tracked, momentum), (mean_sum, var_sum) in zip(self.norms, self.before, self.sums):
            norm.momentum = momentum
            norm.running_mean = (1 - momentum) * mean + momentum * mean_sum / pieces
            norm.running_var = (1 - momentum) * var + momentum * var_sum / pieces
            norm.num_batches_tracked = tracked + 1


def make_context(config: Any, num_classes: int, device: torch.device, parallel: DistributedContext
                 ) -> SearchContext:
    """The search context: the plain one for one process without micro-batches
    (bit for bit the single-device search), else a :class:`ShardedContext`."""
    ctx = SearchContext.from_config(config, num_classes=num_classes, device=device)
    if config.micro_batches == 1 and not parallel.enabled:
        return ctx
    fields = {f.name: getattr(ctx, f.name) for f in dataclasses.fields(SearchContext)}
    return ShardedContext(**fields, micro_batches=config.micro_batches, world_size=parallel.world_size)


def shard(batch: Batch, parallel: DistributedContext) -> Batch:
    """This process's 1/N of every part of a paired batch (contiguous pieces in rank order)."""
    if not parallel.enabled:
        return batch
    parts = (batch.x_train, batch.y_train, batch.x_val, batch.y_val)
    return Batch(*(t.chunk(parallel.world_size)[parallel.rank] for t in parts))


def global_stats(stats: StepStats, parallel: DistributedContext, device: torch.device) -> StepStats:
    """The step's train loss and accuracy over the whole batch (this process's timings)."""
    if not parallel.enabled:
        return stats
    totals = torch.tensor([stats.train_loss * stats.n, stats.train_correct, stats.n], dtype=torch.float64,
                          device=device)
    dist.all_reduce(totals, op=dist.ReduceOp.SUM)
    loss_sum, correct, n = totals.tolist()
    return StepStats(loss_sum / n, int(round(correct)), int(round(n)), stats.alpha_s, stats.w_s)


def broadcast_state(module: torch.nn.Module, parallel: DistributedContext) -> None:
    """Process 0's parameters and buffers on every process (a fresh start's
    seeded initialisation is equal already; this makes it certain)."""
    if parallel.enabled:
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)

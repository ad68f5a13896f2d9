"""What every update rule shares: the context it acts on, and the passes.

A rule sees one :class:`SearchContext` (the supernet, both optimizers, the
loss) and one paired batch; it updates α and w and returns a
:class:`StepStats`.  The helpers here are the only places that run a
forward/backward pass, step the weights (with clipping on w, never on α) or
step α, so every rule counts its passes the same way.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..space.supernet import ArchWeights, Supernet

if TYPE_CHECKING:
    from ..config import SearchConfig


@dataclass
class SearchContext:
    model: Supernet
    w_optimizer: torch.optim.SGD
    alpha_optimizer: torch.optim.Optimizer
    grad_clip: float
    lr: float = 0.0                      # the current w learning rate (ξ of Eq. 6)
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy
    bf16: bool = False                   # bf16 autocast of every forward pass (off: see docs/PERFORMANCE.md)
    scheduler: Optional[torch.optim.lr_scheduler.LRScheduler] = None  # cosine schedule of the w learning rate
    layout: torch.memory_format = torch.contiguous_format              # memory format of the model and its inputs

    @classmethod
    def from_config(cls, config: "SearchConfig", num_classes: int = 10,
                    device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> "SearchContext":
        """The supernet, both optimizers and the w schedule of one search, as
        ``config`` describes them: SGD on w (momentum, weight decay, cosine from
        ``w_lr`` to ``w_lr_min`` over the epochs), Adam on α (betas, weight
        decay), in ``dtype`` on ``device``.  The one constructor used by the search loop, the benchmark and
        the gradient-error measurements."""
        layout = torch.channels_last if config.channels_last else torch.contiguous_format
        model = Supernet(config.C, config.layers, num_classes=num_classes).to(device=device, dtype=dtype)
        model = model.to(memory_format=layout)
        w_optimizer = torch.optim.SGD(model.weights(), config.w_lr, momentum=config.w_momentum,
                                      weight_decay=config.w_weight_decay)
        alpha_optimizer = torch.optim.Adam(model.alphas(), config.alpha_lr, betas=config.alpha_betas,
                                           weight_decay=config.alpha_weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(w_optimizer, config.epochs, eta_min=config.w_lr_min)
        return cls(model, w_optimizer, alpha_optimizer, config.grad_clip, lr=scheduler.get_last_lr()[0],
                   bf16=config.bf16, scheduler=scheduler, layout=layout)

    def forward(self, x: torch.Tensor, arch: Optional[ArchWeights] = None,
                weights: Optional[Mapping[str, torch.Tensor]] = None) -> torch.Tensor:
        """The supernet's logits (float32), at its own weights or at ``weights``
        (``functional_call``); the one place where autocast is applied."""
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            if weights is None:
                logits = self.model(x, arch)
            else:
                logits = functional_call(self.model, dict(weights), (x, arch))
        return logits.float() if self.bf16 else logits

    def weights(self) -> list[nn.Parameter]:
        return list(self.model.weights())

    def alphas(self) -> list[nn.Parameter]:
        return self.model.alphas()


@dataclass(frozen=True)
class Batch:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


@dataclass
class StepStats:
    """Train loss/accuracy of the pass that stepped w, and where time went."""

    train_loss: float
    train_correct: int
    n: int
    alpha_s: float
    w_s: float


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Timer:
    """Wall time of a block, synchronised on GPUs so kernels are counted."""

    def __init__(self, device: torch.device):
        self.device, self.seconds = device, 0.0

    def __enter__(self) -> "Timer":
        synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        synchronize(self.device)
        self.seconds += time.perf_counter() - self._start


def train_pass(ctx: SearchContext, x: torch.Tensor, y: torch.Tensor, arch: Optional[ArchWeights] = None,
               alphas_too: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward + backward filling ``.grad`` of w (and of α when ``alphas_too``)
    with ∇L(w, α) at one point."""
    ctx.w_optimizer.zero_grad(set_to_none=True)
    targets = ctx.weights()
    if alphas_too:
        ctx.alpha_optimizer.zero_grad(set_to_none=True)
        targets += ctx.alphas()
    logits = ctx.forward(x, arch)
    loss = ctx.loss_fn(logits, y)
    loss.backward(inputs=targets)
    return loss.detach(), logits.detach()


def alpha_gradient(ctx: SearchContext, x: torch.Tensor, y: torch.Tensor, arch: Optional[ArchWeights] = None,
                   ) -> list[torch.Tensor]:
    """∇α L(w, α) only: backpropagates through the network but computes no
    weight gradients, so it is cheaper than a full backward."""
    loss = ctx.loss_fn(ctx.forward(x, arch), y)
    return list(torch.autograd.grad(loss, ctx.alphas()))


def step_weights(ctx: SearchContext) -> None:
    """One SGD step on w, the gradient norm of w clipped (never α's, GUIDE §3.2)."""
    nn.utils.clip_grad_norm_(ctx.weights(), ctx.grad_clip)
    ctx.w_optimizer.step()


def step_alphas(ctx: SearchContext, gradients: Sequence[torch.Tensor]) -> None:
    """One Adam step on α along ``gradients`` (left in ``α.grad`` for inspection)."""
    for alpha, grad in zip(ctx.alphas(), gradients):
        alpha.grad = grad.detach().clone()
    ctx.alpha_optimizer.step()


def correct(logits: torch.Tensor, y: torch.Tensor) -> int:
    return int((logits.argmax(dim=1) == y).sum())


class UpdateRule:
    """One search algorithm: how α and w move on one paired batch.

    ``new_epoch`` lets a rule depend on time (τ annealing, the switch);
    ``eval_arch`` is the architecture the search-val accuracy is measured with.
    """

    name: str = ""
    #: forward+backward passes per step (GUIDE §2)
    passes: int = 0

    def new_epoch(self, epoch: int, epochs: int) -> None:
        """Called before each epoch; rules without a schedule ignore it."""

    def step(self, ctx: SearchContext, batch: Batch) -> StepStats:
        raise NotImplementedError

    def eval_arch(self, model: Supernet) -> Optional[ArchWeights]:
        return None  # softmax(α)

    def describe(self) -> dict:
        """Rule-specific values for the per-epoch record (e.g. τ)."""
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Rules without state (most) have nothing to restore."""

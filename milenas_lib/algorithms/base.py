"""What every update rule shares: the context it acts on, and the passes.

A rule sees one :class:`SearchContext` (the supernet, both optimizers, the
loss) and one paired batch; it updates α and w and returns a
:class:`StepStats`.  The helpers here are the only places that run a
forward/backward pass, step the weights (with clipping on w, never on α) or
step α, so every rule counts its passes the same way, and they time
themselves (α side or w side, into ``ctx.clock``), so a rule's ``step`` holds
its equation and nothing else.
"""
from __future__ import annotations

import functools
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence, TypeVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..config import SearchConfig
from ..space.supernet import ArchWeights, Supernet


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
    clock: "StepClock" = field(default_factory=lambda: StepClock())    # α-side and w-side seconds of the passes

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

    @property
    def device(self) -> torch.device:
        return self.model.alpha_normal.device


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


@dataclass
class StepClock:
    """Wall time spent on the α side and on the w side of the search since the
    last :meth:`take`, synchronised on GPUs so kernels are counted.  The pass
    helpers below measure themselves, so a rule's ``step`` holds only its
    equation; a measurement inside another counts once (the outer one)."""

    alpha_s: float = 0.0
    w_s: float = 0.0
    depth: int = 0

    @contextmanager
    def measure(self, side: str, device: torch.device) -> Iterator[None]:
        if self.depth:
            yield
            return
        synchronize(device)
        start = time.perf_counter()
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            synchronize(device)
            setattr(self, f"{side}_s", getattr(self, f"{side}_s") + time.perf_counter() - start)

    def take(self) -> tuple[float, float]:
        """``(alpha_s, w_s)`` since the last call, and start again from zero."""
        seconds = (self.alpha_s, self.w_s)
        self.alpha_s = self.w_s = 0.0
        return seconds


Helper = TypeVar("Helper", bound=Callable[..., Any])


def timed(side: str) -> Callable[[Helper], Helper]:
    """Count a pass helper's wall time on ``side`` (``"alpha"`` or ``"w"``) of ``ctx.clock``."""
    if side not in ("alpha", "w"):
        raise ValueError(f"side must be 'alpha' or 'w', got {side!r}")

    def decorate(helper: Helper) -> Helper:
        @functools.wraps(helper)
        def timed_helper(ctx: SearchContext, *args: Any, **kwargs: Any) -> Any:
            with ctx.clock.measure(side, ctx.device):
                return helper(ctx, *args, **kwargs)
        return timed_helper  # type: ignore[return-value]

    return decorate


@dataclass(frozen=True)
class TrainPass:
    """One forward+backward on a train batch: the loss and logits it saw and,
    when asked for, ∇α L_tr at the same point (w's gradients are in ``.grad``)."""

    loss: torch.Tensor
    logits: torch.Tensor
    y: torch.Tensor
    alpha_grad: Optional[list[torch.Tensor]] = None


@timed("w")
def train_pass(ctx: SearchContext, x: torch.Tensor, y: torch.Tensor, arch: Optional[ArchWeights] = None,
               alphas_too: bool = True) -> TrainPass:
    """Forward + backward filling ``.grad`` of w with ∇w L(w, α) and, when
    ``alphas_too``, returning ∇α L(w, α) at the same point (one pass)."""
    ctx.w_optimizer.zero_grad(set_to_none=True)
    targets = ctx.weights()
    if alphas_too:
        ctx.alpha_optimizer.zero_grad(set_to_none=True)
        targets += ctx.alphas()
    logits = ctx.forward(x, arch)
    loss = ctx.loss_fn(logits, y)
    loss.backward(inputs=targets)
    alpha_grad = [a.grad.detach().clone() for a in ctx.alphas()] if alphas_too else None
    return TrainPass(loss.detach(), logits.detach(), y, alpha_grad)


@timed("alpha")
def alpha_gradient(ctx: SearchContext, x: torch.Tensor, y: torch.Tensor, arch: Optional[ArchWeights] = None,
                   ) -> list[torch.Tensor]:
    """∇α L(w, α) only: backpropagates through the network but computes no
    weight gradients, so it is cheaper than a full backward."""
    loss = ctx.loss_fn(ctx.forward(x, arch), y)
    return list(torch.autograd.grad(loss, ctx.alphas()))


@timed("w")
def step_weights(ctx: SearchContext, zero_fill: bool = False) -> None:
    """One SGD step on w, the gradient norm of w clipped (never α's: docs/PROTOCOL.md).

    ``zero_fill`` gives every weight without a gradient a zero one, so SGD's
    momentum and weight decay still act on it (the Gumbel rules; GumbelArch)."""
    if zero_fill:
        for p in ctx.weights():
            if p.grad is None:
                p.grad = torch.zeros_like(p)
    nn.utils.clip_grad_norm_(ctx.weights(), ctx.grad_clip)
    ctx.w_optimizer.step()


@timed("alpha")
def step_alphas(ctx: SearchContext, gradients: Sequence[torch.Tensor]) -> None:
    """One Adam step on α along ``gradients`` (left in ``α.grad`` for inspection)."""
    for alpha, grad in zip(ctx.alphas(), gradients):
        alpha.grad = grad.detach().clone()
    ctx.alpha_optimizer.step()


def correct(logits: torch.Tensor, y: torch.Tensor) -> int:
    return int((logits.argmax(dim=1) == y).sum())


def step_stats(ctx: SearchContext, train: TrainPass) -> StepStats:
    """The step's report: ``train``'s loss and accuracy (the pass that moved w)
    and the α-side and w-side seconds the helpers measured since the last report."""
    alpha_s, w_s = ctx.clock.take()
    return StepStats(float(train.loss), correct(train.logits, train.y), len(train.y), alpha_s, w_s)


class UpdateRule:
    """One search algorithm: how α and w move on one paired batch.

    ``new_epoch`` lets a rule depend on time (τ annealing, the switch);
    ``eval_arch`` is the architecture the search-val accuracy is measured with.
    """

    name: str = ""
    #: forward+backward passes per step (docs/PROTOCOL.md, "Update rules")
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

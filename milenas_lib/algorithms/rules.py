"""The update rules of the paper, each a small strategy for one search loop.

=================  ==========================================  ======
rule               α-gradient                                  passes
=================  ==========================================  ======
single_level       ∇α L_tr(w, α)                    (Eq. 3)    1
darts_1st          ∇α L_val(w, α)                   (Eq. 1)    2
darts_2nd          ∇α L_val(w', α) − ξ HVP          (Eq. 6-7)  5
milenas            ∇α L_tr + λ ∇α L_val             (Eq. 5)    2 (3 in the authors' order)
switch             darts_2nd for K epochs, then milenas        5 → 2
gdas               darts_1st on hard Gumbel samples            2
milenas_gumbel     milenas on hard Gumbel samples              2
=================  ==========================================  ======

w always descends ``∇w L_tr`` (clipped, SGD with momentum and weight decay).
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

from ..config import SearchConfig
from ..space.supernet import ArchWeights, Supernet
from .base import (Batch, SearchContext, StepStats, Timer, UpdateRule, alpha_gradient, correct, step_alphas,
                   step_weights, train_pass)
from .hypergradient import darts_hypergradient
from .sampling import ArchSampler, GumbelArch, SoftmaxArch


def mixed_level_gradient(train_grad: list[torch.Tensor], val_grad: list[torch.Tensor], lam: float
                         ) -> list[torch.Tensor]:
    """Eq. 5's α direction ``∇α L_tr + λ ∇α L_val``: λ weighs the validation
    term, so λ = 0 is single-level and λ → ∞ approaches bilevel."""
    return [t + lam * v for t, v in zip(train_grad, val_grad)]


def _alpha_grads(ctx: SearchContext) -> list[torch.Tensor]:
    return [a.grad.detach().clone() for a in ctx.alphas()]


class SampledRule(UpdateRule):
    """A rule whose forward passes take their op mixture from a sampler."""

    def __init__(self, sampler: ArchSampler):
        self.sampler = sampler

    def new_epoch(self, epoch: int, epochs: int) -> None:
        self.sampler.new_epoch(epoch, epochs)

    def arch(self, ctx: SearchContext) -> Optional[ArchWeights]:
        return self.sampler.train_arch(ctx.model)

    def eval_arch(self, model: Supernet) -> Optional[ArchWeights]:
        return self.sampler.eval_arch(model)

    def describe(self) -> dict:
        return self.sampler.describe()

    def state_dict(self) -> dict:
        return {"sampler": self.sampler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.load_state_dict(state["sampler"])

    def _w_step(self, ctx: SearchContext, batch: Batch, timer: Timer) -> StepStats:
        """w ← w − η ∇w L_tr(w, α) on the train batch (one pass)."""
        with timer:
            loss, logits = train_pass(ctx, batch.x_train, batch.y_train, self.arch(ctx), alphas_too=False)
            step_weights(ctx)
        return StepStats(float(loss), correct(logits, batch.y_train), len(batch.y_train), 0.0, timer.seconds)


class SingleLevel(SampledRule):
    """Eq. 3: ``min_{w,α} L_tr``; one train pass gives both gradients."""

    name, passes = "single_level", 1

    def step(self, ctx: SearchContext, batch: Batch) -> StepStats:
        timer = Timer(batch.x_train.device)
        with timer:
            loss, logits = train_pass(ctx, batch.x_train, batch.y_train, self.arch(ctx))
            train_grad = _alpha_grads(ctx)
            step_weights(ctx)
            step_alphas(ctx, train_grad)
        return StepStats(float(loss), correct(logits, batch.y_train), len(batch.y_train), 0.0, timer.seconds)


class FirstOrderBilevel(SampledRule):
    """DARTS 1st order (Eq. 1 with w* ≈ w): α descends ``∇α L_val(w, α)``.

    ``w_first`` runs the w step before the α step, as GDAS does; DARTS steps α
    first.
    """

    name, passes = "darts_1st", 2

    def __init__(self, sampler: ArchSampler, w_first: bool = False, name: str = "darts_1st"):
        super().__init__(sampler)
        self.w_first, self.name = w_first, name

    def step(self, ctx: SearchContext, batch: Batch) -> StepStats:
        device = batch.x_train.device
        alpha_timer, w_timer = Timer(device), Timer(device)
        stats = self._w_step(ctx, batch, w_timer) if self.w_first else None
        with alpha_timer:
            step_alphas(ctx, alpha_gradient(ctx, batch.x_val, batch.y_val, self.arch(ctx)))
        stats = stats or self._w_step(ctx, batch, w_timer)
        stats.alpha_s = alpha_timer.seconds
        return stats


class SecondOrderDarts(SampledRule):
    """DARTS 2nd order (Eq. 6-7): α descends the finite-difference
    hypergradient of one unrolled step with ξ = the current w learning rate;
    then w takes its ordinary step.  5 passes."""

    name, passes = "darts_2nd", 5

    def step(self, ctx: SearchContext, batch: Batch) -> StepStats:
        alpha_timer, w_timer = Timer(batch.x_train.device), Timer(batch.x_train.device)
        with alpha_timer:
            hyper = darts_hypergradient(ctx, batch.x_train, batch.y_train, batch.x_val, batch.y_val, xi=ctx.lr)
            step_alphas(ctx, hyper.total)
        stats = self._w_step(ctx, batch, w_timer)
        stats.alpha_s = alpha_timer.seconds
        return stats


class MixedLevel(SampledRule):
    """MiLeNAS (Eq. 5): ``α ← α − η_α (∇α L_tr + λ ∇α L_val)``, ``w ← w − η_w ∇w L_tr``.

    ``simultaneous`` (default): one train backward gives ∇w L_tr and ∇α L_tr
    at the same point, one validation backward gives ∇α L_val only: 2 passes,
    exactly Eq. 5 with both variables updated from the same (w, α).
    ``alpha_then_w``: the authors' order: α steps on L_tr + λ L_val, then a
    separate pass computes ∇w L_tr at the new α: 3 passes.
    """

    passes = 2

    def __init__(self, sampler: ArchSampler, lam: float, order: str = "simultaneous", name: str = "milenas"):
        super().__init__(sampler)
        self.lam, self.order, self.name = lam, order, name
        self.passes = 2 if order == "simultaneous" else 3

    def step(self, ctx: SearchContext, batch: Batch) -> StepStats:
        device = batch.x_train.device
        alpha_timer, w_timer = Timer(device), Timer(device)
        if self.order == "simultaneous":
            with w_timer:
                loss, logits = train_pass(ctx, batch.x_train, batch.y_train, self.arch(ctx))
                train_grad = _alpha_grads(ctx)
            with alpha_timer:
                val_grad = alpha_gradient(ctx, batch.x_val, batch.y_val, self.arch(ctx))
            with w_timer:
                step_weights(ctx)
            with alpha_timer:
                step_alphas(ctx, mixed_level_gradient(train_grad, val_grad, self.lam))
            return StepStats(float(loss), correct(logits, batch.y_train), len(batch.y_train),
                             alpha_timer.seconds, w_timer.seconds)
        with alpha_timer:
            train_grad = alpha_gradient(ctx, batch.x_train, batch.y_train, self.arch(ctx))
            val_grad = alpha_gradient(ctx, batch.x_val, batch.y_val, self.arch(ctx))
            step_alphas(ctx, mixed_level_gradient(train_grad, val_grad, self.lam))
        stats = self._w_step(ctx, batch, w_timer)
        stats.alpha_s = alpha_timer.seconds
        return stats


class Switch(UpdateRule):
    """Bilevel (DARTS 2nd order) for the first K epochs, then MiLeNAS (Fig. 3a)."""

    name, passes = "switch", 5

    def __init__(self, before: UpdateRule, after: UpdateRule, switch_epoch: int):
        self.before, self.after, self.switch_epoch = before, after, switch_epoch
        self.active = before

    def new_epoch(self, epoch: int, epochs: int) -> None:
        self.active = self.before if epoch < self.switch_epoch else self.after
        self.passes = self.active.passes
        self.active.new_epoch(epoch, epochs)

    def step(self, ctx: SearchContext, batch: Batch) -> StepStats:
        return self.active.step(ctx, batch)

    def eval_arch(self, model: Supernet) -> Optional[ArchWeights]:
        return self.active.eval_arch(model)

    def describe(self) -> dict:
        return {"phase": self.active.name}


RuleFactory = Callable[[SearchConfig], UpdateRule]


def _gumbel(config: SearchConfig) -> GumbelArch:
    # The sampler's own stream, derived from the run seed, so that data order
    # and samples are independent and both restored on resume.
    return GumbelArch(config.tau_max, config.tau_min, seed=config.seed + 1_000_003)


RULES: dict[str, RuleFactory] = {
    "single_level": lambda c: SingleLevel(SoftmaxArch()),
    "darts_1st": lambda c: FirstOrderBilevel(SoftmaxArch()),
    "darts_2nd": lambda c: SecondOrderDarts(SoftmaxArch()),
    "milenas": lambda c: MixedLevel(SoftmaxArch(), c.lam, c.order),
    "switch": lambda c: Switch(SecondOrderDarts(SoftmaxArch()), MixedLevel(SoftmaxArch(), c.lam, c.order),
                               c.switch_epoch),
    "gdas": lambda c: FirstOrderBilevel(_gumbel(c), w_first=True, name="gdas"),
    "milenas_gumbel": lambda c: MixedLevel(_gumbel(c), c.lam, c.order, name="milenas_gumbel"),
}


def make_rule(config: SearchConfig) -> UpdateRule:
    """The update rule ``config.method`` names (configs validate the name)."""
    return RULES[config.method](config)

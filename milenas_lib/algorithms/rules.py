"""The update rules of the paper, each a small strategy for one search loop.

Each ``step`` is its equation, line by line; the pass helpers of
:mod:`.base` run the passes, clip w and measure the time.  Which rule a
method name builds, its α-gradient as text and its passes per step are
registered in :mod:`.methods`.  w always descends ``∇w L_tr(w, α)``
(clipped SGD with momentum and weight decay).
"""
from __future__ import annotations

from typing import Optional

import torch

from ..space.supernet import ArchWeights, Supernet
from .base import (Batch, SearchContext, StepStats, TrainPass, UpdateRule, alpha_gradient, step_alphas, step_stats,
                   step_weights, train_pass)
from .hypergradient import darts_hypergradient
from ..names import ORDERS, unknown_name_message
from .sampling import ArchSampler, SoftmaxArch


def mixed_level_gradient(train_grad: list[torch.Tensor], val_grad: list[torch.Tensor], lam: float
                         ) -> list[torch.Tensor]:
    """Eq. 5's α direction ``∇α L_tr + λ ∇α L_val``: λ weighs the validation
    term, so λ = 0 is single-level and λ → ∞ approaches bilevel."""
    return [t + lam * v for t, v in zip(train_grad, val_grad)]


class SampledRule(UpdateRule):
    """A rule whose forward passes take their op mixture from a sampler
    (softmax(α) of Eq. 8 unless told otherwise)."""

    def __init__(self, sampler: Optional[ArchSampler] = None):
        self.sampler = sampler if sampler is not None else SoftmaxArch()

    def new_epoch(self, epoch: int, epochs: int) -> None:
        self.sampler.new_epoch(epoch, epochs)

    def arch(self, ctx: SearchContext) -> Optional[ArchWeights]:
        return self.sampler.train_arch(ctx.model)

    def step_weights(self, ctx: SearchContext) -> None:
        """The w step; a Gumbel sampler asks for zero-filled gradients (see GumbelArch)."""
        step_weights(ctx, zero_fill=self.sampler.zero_fills_weight_grads)

    def descend_w(self, ctx: SearchContext, batch: Batch) -> TrainPass:
        """``w ← w − η_w ∇w L_tr(w, α)`` on the train batch (one pass)."""
        train = train_pass(ctx, batch.x_train, batch.y_train, self.arch(ctx), alphas_too=False)
        self.step_weights(ctx)
        return train

    def eval_arch(self, model: Supernet) -> Optional[ArchWeights]:
        return self.sampler.eval_arch(model)

    def describe(self) -> dict:
        return self.sampler.describe()

    def state_dict(self) -> dict:
        return {"sampler": self.sampler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.load_state_dict(state["sampler"])


class SingleLevel(SampledRule):
    """Eq. 3: ``min_{w,α} L_tr``; one train pass gives both gradients."""

    name, passes = "single_level", 1

    def step(self, ctx: SearchContext, batch: Batch) -> StepStats:
        train = train_pass(ctx, batch.x_train, batch.y_train, self.arch(ctx))  # ∇w L_tr, ∇α L_tr at (w, α)
        self.step_weights(ctx)                                                 # w ← w − η_w ∇w L_tr
        step_alphas(ctx, train.alpha_grad)                                     # α ← α − η_α ∇α L_tr
        return step_stats(ctx, train)


class FrozenArchitecture(SampledRule):
    """The control for Eq. 5 (§2.1) and GDAS (§3.3.1): α never moves; w descends ``∇w L_tr`` on the architecture α
    gives at its initialisation (softmax(α) within 0.1 % of uniform; with a
    Gumbel sampler, uniformly sampled paths).  What the searched methods reach
    beyond it is what their α optimizer did.  One pass."""

    passes = 1

    def __init__(self, sampler: Optional[ArchSampler] = None, name: str = "frozen_alpha"):
        super().__init__(sampler)
        self.name = name

    def step(self, ctx: SearchContext, batch: Batch) -> StepStats:
        return step_stats(ctx, self.descend_w(ctx, batch))  # w ← w − η_w ∇w L_tr; α stays


class FirstOrderBilevel(SampledRule):
    """DARTS 1st order (Eq. 1-2 with w*(α) ≈ w): α descends ``∇α L_val(w, α)``.

    ``w_first`` runs the w step before the α step, as GDAS does; DARTS steps α
    first.
    """

    name, passes = "darts_1st", 2

    def __init__(self, sampler: Optional[ArchSampler] = None, w_first: bool = False, name: str = "darts_1st"):
        super().__init__(sampler)
        self.w_first, self.name = w_first, name

    def step(self, ctx: SearchContext, batch: Batch) -> StepStats:
        train = self.descend_w(ctx, batch) if self.w_first else None
        val_grad = alpha_gradient(ctx, batch.x_val, batch.y_val, self.arch(ctx))  # ∇α L_val at (w, α)
        step_alphas(ctx, val_grad)                                                # α ← α − η_α ∇α L_val
        train = train or self.descend_w(ctx, batch)
        return step_stats(ctx, train)


class SecondOrderDarts(SampledRule):
    """DARTS 2nd order (Eq. 6-7): α descends the finite-difference
    hypergradient of one unrolled step with ξ = the current w learning rate;
    then w takes its ordinary step.  5 passes."""

    name, passes = "darts_2nd", 5

    def step(self, ctx: SearchContext, batch: Batch) -> StepStats:
        hyper = darts_hypergradient(ctx, batch.x_train, batch.y_train, batch.x_val, batch.y_val, xi=ctx.lr)
        step_alphas(ctx, hyper.total)                  # α ← α − η_α (g1 − ξ g2), Eq. 6-7
        return step_stats(ctx, self.descend_w(ctx, batch))


class MixedLevel(SampledRule):
    """MiLeNAS (Eq. 5): ``α ← α − η_α (∇α L_tr + λ ∇α L_val)``, ``w ← w − η_w ∇w L_tr``.

    Three orders of one step (docs/PROTOCOL.md, "Update order"):
    ``simultaneous`` (default): one train backward gives ∇w L_tr and ∇α L_tr
    at the same point, one validation backward gives ∇α L_val only: 2 passes,
    Eq. 5 with both variables updated from the same (w, α).
    ``alpha_then_w``: the authors' code: α steps on L_tr + λ L_val, then a
    separate pass computes ∇w L_tr at the new α: 3 passes.
    ``w_then_alpha``: Algorithm 1 and §2.1 literally: w steps first, then α
    descends Eq. 5's direction at the new w: 3 passes.
    """

    def __init__(self, lam: float, order: str = "simultaneous", sampler: Optional[ArchSampler] = None,
                 name: str = "milenas"):
        if order not in ORDERS:
            raise ValueError(unknown_name_message("order", order, ORDERS))
        super().__init__(sampler)
        self.lam, self.order, self.name = lam, order, name
        self.passes = 2 if order == "simultaneous" else 3

    def step(self, ctx: SearchContext, batch: Batch) -> StepStats:
        if self.order == "alpha_then_w":
            return self.step_alpha_then_w(ctx, batch)
        if self.order == "w_then_alpha":
            return self.step_w_then_alpha(ctx, batch)
        train = train_pass(ctx, batch.x_train, batch.y_train, self.arch(ctx))      # ∇w L_tr, ∇α L_tr at (w, α)
        val_grad = alpha_gradient(ctx, batch.x_val, batch.y_val, self.arch(ctx))  # ∇α L_val at (w, α)
        self.step_weights(ctx)                                                     # w ← w − η_w ∇w L_tr
        direction = mixed_level_gradient(train.alpha_grad, val_grad, self.lam)     # ∇α L_tr + λ ∇α L_val
        step_alphas(ctx, direction)                                                # α ← α − η_α · direction
        return step_stats(ctx, train)

    def step_alpha_then_w(self, ctx: SearchContext, batch: Batch) -> StepStats:
        """The authors' order: α first from two α-only passes, then w at the new α."""
        self.step_alphas_at_current_w(ctx, batch)
        return step_stats(ctx, self.descend_w(ctx, batch))                         # ∇w L_tr at the new α

    def step_w_then_alpha(self, ctx: SearchContext, batch: Batch) -> StepStats:
        """Algorithm 1: w first (∇w L_tr at (w, α)), then α at the new w."""
        train = self.descend_w(ctx, batch)                                         # w ← w − η_w ∇w L_tr(w, α)
        self.step_alphas_at_current_w(ctx, batch)                                  # α at (w_new, α)
        return step_stats(ctx, train)

    def step_alphas_at_current_w(self, ctx: SearchContext, batch: Batch) -> None:
        """``α ← α − η_α (∇α L_tr + λ ∇α L_val)`` from two α-only passes at the current w."""
        train_grad = alpha_gradient(ctx, batch.x_train, batch.y_train, self.arch(ctx))
        val_grad = alpha_gradient(ctx, batch.x_val, batch.y_val, self.arch(ctx))
        step_alphas(ctx, mixed_level_gradient(train_grad, val_grad, self.lam))


class Switch(UpdateRule):
    """Bilevel (DARTS 2nd order) before epoch ``switch_epoch``, MiLeNAS from
    it on (§3.2, Fig. 3a); each epoch's record names the rule it ran."""

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
        return {"phase": self.active.name, **self.active.describe()}

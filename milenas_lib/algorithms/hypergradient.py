"""Second-order DARTS (Eq. 6-7): the unrolled step, the finite-difference
Hessian-vector product, and the exact hypergradient it approximates.

Everything evaluates the supernet at *other* weights through
``torch.func.functional_call``, so no model is copied or rebuilt per step and
the real batch-norm running statistics are never touched by hypothetical
weights.  α is neither stepped by the unroll nor perturbed by the finite
difference, as in the DARTS paper (docs/PROTOCOL.md, "Where the kit differs").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch

from .base import SearchContext, timed

Weights = dict[str, torch.Tensor]


def loss_at(ctx: SearchContext, weights: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor
            ) -> torch.Tensor:
    """L(w, α) with the supernet's weights replaced by ``weights``; batch-norm
    buffers are scratch copies so the model's running statistics stay put."""
    scratch_buffers = {name: b.clone() for name, b in ctx.model.named_buffers()}
    return ctx.loss_fn(ctx.forward(x, weights={**weights, **scratch_buffers}), y)


def unrolled_weights(ctx: SearchContext, x: torch.Tensor, y: torch.Tensor, xi: float,
                     create_graph: bool = False) -> Weights:
    """``w' = w − ξ (∇w L_tr(w, α) + μ·m + wd·w)``: the SGD step the w
    optimizer would take (momentum buffer m, weight decay wd), without taking it.

    With ``create_graph`` the result stays a function of α (for the exact
    hypergradient); otherwise it is detached.
    """
    names, params = zip(*ctx.model.named_weights())
    loss = loss_at(ctx, dict(zip(names, params)), x, y) if create_graph else ctx.loss_fn(ctx.forward(x), y)
    grads = torch.autograd.grad(loss, params, create_graph=create_graph)
    group = ctx.w_optimizer.param_groups[0]
    momentum, weight_decay = group["momentum"], group["weight_decay"]
    unrolled = {}
    for name, p, g in zip(names, params, grads):
        buffer = ctx.w_optimizer.state.get(p, {}).get("momentum_buffer")
        direction = g + weight_decay * p
        if buffer is not None:
            direction = direction + momentum * buffer
        w = p - xi * direction
        unrolled[name] = w if create_graph else w.detach()
    return unrolled


def finite_difference_hvp(ctx: SearchContext, x: torch.Tensor, y: torch.Tensor, v: Mapping[str, torch.Tensor],
                          epsilon_scale: float = 0.01) -> list[torch.Tensor]:
    """``∇²_{α,w} L_tr(w, α) · v ≈ (∇α L_tr(w⁺, α) − ∇α L_tr(w⁻, α)) / 2ε`` with
    ``w± = w ± ε v`` and ``ε = 0.01 / ‖v‖`` (Eq. 7).  Two passes."""
    norm = torch.sqrt(sum((t.detach() ** 2).sum() for t in v.values()))
    epsilon = epsilon_scale / norm
    weights = {name: p.detach() for name, p in ctx.model.named_weights()}
    grads = []
    for sign in (1.0, -1.0):
        shifted = {name: w + sign * epsilon * v[name] for name, w in weights.items()}
        grads.append(torch.autograd.grad(loss_at(ctx, shifted, x, y), ctx.alphas()))
    return [(plus - minus) / (2 * epsilon) for plus, minus in zip(*grads)]


@dataclass(frozen=True)
class Hypergradient:
    """``∇α L_val(w'(α), α) = direct − ξ·second_order`` split in its two terms
    (g1 and g2 of Eq. 6), so their errors can be measured apart."""

    direct: list[torch.Tensor]        # g1 = ∇α L_val(w', α) at fixed w'
    second_order: list[torch.Tensor]  # g2 = ∇²_{α,w} L_tr(w, α) ∇w' L_val(w', α)
    xi: float

    @property
    def total(self) -> list[torch.Tensor]:
        return [d - self.xi * s for d, s in zip(self.direct, self.second_order)]


@timed("alpha")
def darts_hypergradient(ctx: SearchContext, x_train: torch.Tensor, y_train: torch.Tensor,
                        x_val: torch.Tensor, y_val: torch.Tensor, xi: float, epsilon_scale: float = 0.01
                        ) -> Hypergradient:
    """Second-order DARTS' approximation (Eq. 7): four passes.  ``epsilon_scale``
    is DARTS' 0.01; smaller values trade kink-crossing error for round-off."""
    unrolled = unrolled_weights(ctx, x_train, y_train, xi)
    for w in unrolled.values():
        w.requires_grad_(True)
    names, alphas = list(unrolled), ctx.alphas()
    val_loss = loss_at(ctx, unrolled, x_val, y_val)
    grads = torch.autograd.grad(val_loss, alphas + [unrolled[n] for n in names])
    # g1 = ∇α L_val(w', α) (one tensor per α: normal, reduce); v = ∇w' L_val(w', α).
    direct, v = list(grads[:len(alphas)]), dict(zip(names, grads[len(alphas):]))
    return Hypergradient(direct, finite_difference_hvp(ctx, x_train, y_train, v, epsilon_scale), xi)


def exact_hypergradient(ctx: SearchContext, x_train: torch.Tensor, y_train: torch.Tensor,
                        x_val: torch.Tensor, y_val: torch.Tensor, xi: float) -> Hypergradient:
    """The true gradient of ``L_val(w'(α), α)`` for the one-step unroll, by
    double backward through ``w'(α)``: what Eq. 7 estimates, with no
    finite-difference error.  Costly; for measurement, not for searching."""
    unrolled = unrolled_weights(ctx, x_train, y_train, xi, create_graph=True)
    val_loss = loss_at(ctx, unrolled, x_val, y_val)
    total = torch.autograd.grad(val_loss, ctx.alphas(), retain_graph=True)
    # g1: the partial derivative at fixed w' (w' detached from α).
    fixed = {name: w.detach().requires_grad_(True) for name, w in unrolled.items()}
    direct = torch.autograd.grad(loss_at(ctx, fixed, x_val, y_val), ctx.alphas())
    second_order = [(d - t) / xi for d, t in zip(direct, total)]
    return Hypergradient(list(direct), second_order, xi)


def gradient_agreement(estimate: list[torch.Tensor], reference: list[torch.Tensor]) -> dict[str, float]:
    """Cosine similarity and relative error ``‖est − ref‖ / ‖ref‖`` of two
    gradients given as lists of tensors."""
    est = torch.cat([t.flatten() for t in estimate]).double()
    ref = torch.cat([t.flatten() for t in reference]).double()
    return {
        "cosine": float(torch.nn.functional.cosine_similarity(est, ref, dim=0)),
        "relative_error": float((est - ref).norm() / ref.norm().clamp_min(1e-30)),
        "norm_ratio": float(est.norm() / ref.norm().clamp_min(1e-30)),
    }

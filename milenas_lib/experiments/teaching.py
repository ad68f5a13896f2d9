"""Notebook 9 (teaching): the search space, the relaxation (Eq. 8) and the rules, shown on small values."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Optional, Sequence

import pandas as pd
import torch
import torch.nn.functional as F

from ..config import search_config
from ..data.synthetic import synthetic_cifar
from ..registry import METHOD_REGISTRY, W_GRADIENT
from ..space.operations import CONV_OPS, PRIMITIVES
from ..space.supernet import MixedOp, Supernet

_COMPUTES = {"none": "zero: the edge is absent", "max_pool_3x3": "3x3 max pooling",
             "avg_pool_3x3": "3x3 average pooling", "skip_connect": "identity (reduction: factorized 1x1 convs)",
             "sep_conv_3x3": "depthwise-separable 3x3 conv, twice", "sep_conv_5x5": "depthwise-separable 5x5 conv, twice",
             "dil_conv_3x3": "dilated (2) separable 3x3 conv", "dil_conv_5x5": "dilated (2) separable 5x5 conv"}


def relaxation_demo(alpha: Sequence[float] = (0.0, 0.5, 0.2, 1.5, 2.0, 1.0, 0.3, 0.1), C: int = 4,
                    seed: int = 0) -> dict:
    """Eq. 8 on one edge: softmax(α) weights and the mixed output Σ_k p_k o_k(x),
    checked against the supernet's own ``MixedOp``."""
    torch.manual_seed(seed)
    alpha_t = torch.tensor(alpha, dtype=torch.float32)
    weights = torch.softmax(alpha_t, dim=0)
    edge = MixedOp(C, stride=1).eval()
    x = torch.randn(1, C, 8, 8)
    with torch.no_grad():
        outputs = [op(x) for op in edge.ops]
        by_hand = sum(w * o for w, o in zip(weights, outputs))
        mixed = edge(x, weights)
    table = pd.DataFrame({"operation": PRIMITIVES, "alpha": alpha_t.tolist(), "softmax weight p_k": weights.tolist(),
                          "mean |o_k(x)|": [float(o.abs().mean()) for o in outputs]})
    return {"table": table, "max_difference": float((by_hand - mixed).abs().max())}


def operations_table() -> pd.DataFrame:
    """The eight candidate operations, in α's order, with what each computes."""
    return pd.DataFrame([{"α index": i, "operation": op, "computes": _COMPUTES[op], "conv op (model size)": op in CONV_OPS}
                         for i, op in enumerate(PRIMITIVES)])


def rules_table() -> pd.DataFrame:
    """The update rules of the method registry: which gradient moves α, which moves w, and the passes per step."""
    return pd.DataFrame([{"method": name, "α descends": method.alpha_gradient, "formulation": method.equation,
                          "w descends": W_GRADIENT, "passes per step": method.passes_text}
                         for name, method in METHOD_REGISTRY.items()])


@contextmanager
def torch_threads(threads: Optional[int]) -> Iterator[None]:
    """Run the block on ``threads`` CPU threads (None: as it is), then restore the kernel's setting."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class TeachingLab:
    """A supernet small enough to step by hand, for the notebook cell where a student
    writes the update rule (Eq. 5) as a loop and changes it.

    3 cells of C = 4 channels on synthetic class-coloured images (16 x 16); each
    pair of ``batches`` is a train batch (for ``L_tr``) and a search-val batch
    (for ``L_val``).  ``gradients`` returns ∇α and ∇w of the loss on one batch,
    α flattened into one tensor so that Eq. 5's ``∇α L_tr + λ ∇α L_val`` is plain
    tensor arithmetic; ``step_alpha`` / ``step_w`` take a plain gradient step
    (learning rates ``alpha_lr``, ``w_lr``), so what moves is exactly what the
    cell wrote.

    Every step runs on ``threads`` CPU threads (default 1): a supernet this small is
    thousands of tiny ops, which more threads only slow down (notebooks/README.md,
    "Teaching"); the kernel's own setting is restored after each call."""

    def __init__(self, lam: float = 1.0, steps: int = 10, batch_size: int = 16, alpha_lr: float = 0.5,
                 w_lr: float = 0.05, seed: int = 0, threads: Optional[int] = 1):
        torch.manual_seed(seed)
        self.lam, self.alpha_lr, self.w_lr, self.threads = lam, alpha_lr, w_lr, threads
        self.model = Supernet(4, 3)
        images = synthetic_cifar(n_train=2 * steps * batch_size, n_test=1, image_size=16, seed=seed)
        x = images.train_images.float() / 255.0
        pairs = list(zip(x.split(batch_size), images.train_labels.split(batch_size)))
        self.batches = list(zip(pairs[0::2], pairs[1::2]))
        self.rows: list[dict] = []

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        images, labels = batch
        return F.cross_entropy(self.model(images), labels)

    def gradients(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(∇α L, ∇w L)`` of the loss on ``batch``: α's as one flat tensor, w's per weight tensor."""
        alphas, weights = self.model.alphas(), list(self.model.weights())
        with torch_threads(self.threads):
            grads = torch.autograd.grad(self.loss(batch), alphas + weights, allow_unused=True)
        alpha_grad = torch.cat([g.flatten() for g in grads[:len(alphas)]])
        return alpha_grad, [torch.zeros_like(w) if g is None else g for w, g in zip(weights, grads[len(alphas):])]

    @torch.no_grad()
    def step_alpha(self, direction: torch.Tensor) -> None:
        """α ← α − alpha_lr · direction (``direction`` flat, as :meth:`gradients` gives it)."""
        for alpha, part in zip(self.model.alphas(), direction.split([a.numel() for a in self.model.alphas()])):
            alpha -= self.alpha_lr * part.view_as(alpha)

    @torch.no_grad()
    def step_w(self, direction: Sequence[torch.Tensor]) -> None:
        """w ← w − w_lr · direction."""
        for weight, grad in zip(self.model.weights(), direction):
            weight -= self.w_lr * grad

    @torch.no_grad()
    def record(self, train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor]) -> None:
        """Note the losses after a step and how far softmax(α) moved from uniform."""
        spread = max(float(torch.softmax(a, dim=-1).max()) for a in self.model.alphas()) - 1 / len(PRIMITIVES)
        with torch_threads(self.threads):
            losses = float(self.loss(train)), float(self.loss(val))
        self.rows.append({"step": len(self.rows) + 1, "L_tr": losses[0], "L_val": losses[1],
                          "largest softmax(α) above 1/8": spread})

    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def supernet_summary(presets: Sequence[str] = ("paper", "smoke")) -> pd.DataFrame:
    """Size of the search supernet of each preset: weights w and architecture values α."""
    rows = []
    for preset in presets:
        config = search_config(preset)
        with torch.device("meta"):
            model = Supernet(config.C, config.layers)
        rows.append({"preset": preset, "C": config.C, "cells": config.layers,
                     "weights w": sum(p.numel() for p in model.weights()),
                     "α values": sum(a.numel() for a in model.alphas()), "batch": config.batch_size,
                     "epochs": config.epochs,
                     "search images per half": "25,000" if config.per_class is None else f"{10 * config.per_class}"})
    return pd.DataFrame(rows)

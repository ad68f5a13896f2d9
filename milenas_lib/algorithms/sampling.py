"""How a forward pass mixes the ops of each edge: softmax (Eq. 8) or a hard
Gumbel-softmax sample (GDAS).  The Gumbel sampling lives here and only here.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from ..names import GUMBEL_ESTIMATORS
from ..space.supernet import ArchWeights, Supernet


class SoftmaxArch:
    """DARTS relaxation: every op weighted by softmax(α)."""

    #: every op runs, so every weight gets a gradient; nothing to fill
    zero_fills_weight_grads = False

    def new_epoch(self, epoch: int, epochs: int) -> None:
        """The relaxation has no schedule."""

    def train_arch(self, model: Supernet) -> Optional[ArchWeights]:
        return None  # the supernet's own softmax(α)

    def eval_arch(self, model: Supernet) -> Optional[ArchWeights]:
        return None

    def describe(self) -> dict:
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Nothing random, nothing to restore."""


def gumbel_temperature(epoch: int, epochs: int, tau_max: float, tau_min: float) -> float:
    """τ falls linearly from ``tau_max`` at epoch 0 to ``tau_min`` at the last epoch."""
    if epochs <= 1:
        return tau_min
    return tau_max - (tau_max - tau_min) * epoch / (epochs - 1)


def hard_gumbel_softmax(alpha: torch.Tensor, tau: float, generator: torch.Generator
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """One op per edge: ``argmax(log softmax(α) + g) `` with Gumbel noise g,
    returned as a one-hot whose gradient is that of softmax((log p + g)/τ)
    (straight-through).  The noise is drawn on the CPU generator so a seed
    gives the same samples on any device."""
    uniform = torch.rand(alpha.shape, generator=generator, dtype=torch.float32)
    uniform = uniform.clamp(1e-10, 1.0 - 1e-7).to(device=alpha.device, dtype=alpha.dtype)
    gumbel = -torch.log(-torch.log(uniform))
    soft = F.softmax((F.log_softmax(alpha, dim=-1) + gumbel) / tau, dim=-1)
    index = soft.argmax(dim=-1)
    one_hot = torch.zeros_like(soft).scatter_(-1, index.unsqueeze(-1), 1.0)
    return one_hot - soft.detach() + soft, index


def argmax_arch(model: Supernet) -> ArchWeights:
    """The most likely op on every edge, no sampling (GDAS at evaluation)."""
    parts = []
    for alpha in model.alphas():
        index = alpha.detach().argmax(dim=-1)
        parts.append((torch.zeros_like(alpha).scatter_(-1, index.unsqueeze(-1), 1.0), index))
    (normal, normal_index), (reduce, reduce_index) = parts
    return ArchWeights(normal, reduce, normal_index, reduce_index)


class GumbelArch:
    """GDAS sampling: a fresh hard sample per cell type per forward pass.

    ``estimator`` says how the unsampled ops enter ∇α (``sampled_only``,
    ``sampled_scalar`` or ``straight_through``; space/supernet.py ArchWeights).

    ``zero_fills_weight_grads``: ops that were not sampled leave their weights
    without a gradient, and SGD skips a parameter whose ``.grad`` is None, so
    those weights would freeze (no momentum, no weight decay).  The authors
    ran PyTorch 1.2, whose ``zero_grad()`` left zero tensors, so momentum and
    decay acted on every weight at every step; the w step matches that by
    giving every weight without a gradient a zero one.
    """

    zero_fills_weight_grads = True

    def __init__(self, tau_max: float, tau_min: float, seed: int, estimator: str = GUMBEL_ESTIMATORS[0]):
        self.tau_max, self.tau_min, self.estimator = tau_max, tau_min, estimator
        self.tau = tau_max
        self.generator = torch.Generator().manual_seed(seed)

    def new_epoch(self, epoch: int, epochs: int) -> None:
        self.tau = gumbel_temperature(epoch, epochs, self.tau_max, self.tau_min)

    def train_arch(self, model: Supernet) -> ArchWeights:
        normal, normal_index = hard_gumbel_softmax(model.alpha_normal, self.tau, self.generator)
        reduce, reduce_index = hard_gumbel_softmax(model.alpha_reduce, self.tau, self.generator)
        return ArchWeights(normal, reduce, normal_index, reduce_index, self.estimator)

    def eval_arch(self, model: Supernet) -> ArchWeights:
        return argmax_arch(model)

    def describe(self) -> dict:
        return {"tau": self.tau, "gumbel_estimator": self.estimator}

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "tau": self.tau}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.tau = state["tau"]


ArchSampler = SoftmaxArch | GumbelArch

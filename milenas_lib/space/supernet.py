"""The DARTS supernet: every edge a mixture of the eight operations (Eq. 8).

The weights ``w`` and the architecture parameters ``α`` are kept apart:
``weights()`` yields every parameter but α, ``alphas()`` the two 14×8 tensors
(normal and reduce cell).  α are registered parameters, so they travel with
``state_dict()`` into every checkpoint.

How an edge mixes its operations is decided by an :class:`ArchWeights` value
that the update rule passes to ``forward``: the softmax of α (DARTS, MiLeNAS),
a hard Gumbel sample (GDAS), or the argmax (GDAS evaluation).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..config import GUMBEL_ESTIMATORS
from .genotype import NUM_NODES, Genotype, derive_genotype
from .operations import NONE_INDEX, POOL_OPS, PRIMITIVES, FactorizedReduce, ReLUConvBN, make_op

NUM_EDGES = sum(2 + node for node in range(NUM_NODES))  # 14 = 2 + 3 + 4 + 5


@dataclass(frozen=True)
class ArchWeights:
    """Per-edge mixing weights for one forward pass.

    ``normal``/``reduce`` are (14, 8) tensors.  When ``*_index`` is given (one
    sampled op per edge, GDAS), the weights are a straight-through one-hot and
    ``estimator`` says how the unsampled ops enter the gradient of α (their
    forward value is 0 in all three):

    * ``sampled_only`` (default): only the sampled op is computed and the
      other weights do not enter the graph (gradient 0 for them): the
      authors' Gumbel network and GDAS' DARTS-space one, which skip ops whose
      weight is below 1e-10.  One op per edge.
    * ``sampled_scalar``: only the sampled op is computed; every other weight
      is added to the node as a scalar, so its gradient is Σ ∂L/∂node (the
      GDAS form of NAS-Bench-201).  One op per edge.
    * ``straight_through``: every op is computed, so each weight's gradient
      is ⟨∂L/∂node, o_k(x)⟩, the full straight-through estimator.  All ops
      per edge, as costly as the softmax relaxation.
    """

    normal: torch.Tensor
    reduce: torch.Tensor
    normal_index: Optional[torch.Tensor] = None
    reduce_index: Optional[torch.Tensor] = None
    estimator: str = GUMBEL_ESTIMATORS[0]

    def __post_init__(self) -> None:
        if self.estimator not in GUMBEL_ESTIMATORS:
            raise ValueError(f"unknown Gumbel estimator {self.estimator!r}; valid Gumbel estimators are: "
                             f"{', '.join(GUMBEL_ESTIMATORS)}")

    def for_cell(self, reduction: bool) -> tuple[torch.Tensor, Optional[list[int]]]:
        """The cell's weights and, when only the sampled op is computed, its index per edge."""
        weights, index = (self.reduce, self.reduce_index) if reduction else (self.normal, self.normal_index)
        if index is None or self.estimator == "straight_through":
            return weights, None
        return weights, index.tolist()


class MixedOp(nn.Module):
    """One edge: ``Σ_k p_k o_k(x)`` over the candidate operations (Eq. 8)."""

    def __init__(self, C: int, stride: int):
        super().__init__()
        ops = []
        for name in PRIMITIVES:
            op = make_op(name, C, stride, affine=False)
            if name in POOL_OPS:  # pools have no learnable scale; DARTS normalises them
                op = nn.Sequential(op, nn.BatchNorm2d(C, affine=False))
            ops.append(op)
        self.ops = nn.ModuleList(ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor, index: Optional[int] = None,
                scalar_others: bool = False) -> torch.Tensor:
        if index is not None:
            # Hard sample: compute only the chosen op.  The other weights are 0
            # in value; with ``scalar_others`` they still carry a gradient
            # (``sampled_scalar``), without it none (``sampled_only``).
            out = weights[index] * self.ops[index](x)
            return out + (weights.sum() - weights[index]) if scalar_others else out
        # The `none` op outputs zeros, so its term is skipped: same value, and
        # α_none still gets its gradient through the softmax of the others.
        return sum(w * op(x) for k, (w, op) in enumerate(zip(weights, self.ops)) if k != NONE_INDEX)


class SearchCell(nn.Module):
    """Four intermediate nodes; node k sums the mixed edges from all earlier nodes."""

    def __init__(self, C_prev_prev: int, C_prev: int, C: int, reduction: bool, reduction_prev: bool):
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = (FactorizedReduce(C_prev_prev, C, affine=False) if reduction_prev
                            else ReLUConvBN(C_prev_prev, C, 1, 1, 0, affine=False))
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0, affine=False)
        self.edges = nn.ModuleList(
            MixedOp(C, stride=2 if reduction and source < 2 else 1)
            for node in range(NUM_NODES) for source in range(2 + node)
        )

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor,
                index: Optional[list[int]], scalar_others: bool = False) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        edge = 0
        for _ in range(NUM_NODES):
            node = 0
            for state in states:
                node = node + self.edges[edge](state, weights[edge], None if index is None else index[edge],
                                               scalar_others)
                edge += 1
            states.append(node)
        return torch.cat(states[2:], dim=1)


class Supernet(nn.Module):
    """The search network: ``layers`` cells, reductions at 1/3 and 2/3 depth."""

    def __init__(self, C: int = 16, layers: int = 8, num_classes: int = 10, stem_multiplier: int = 3):
        super().__init__()
        if C < 2 or C % 2 or layers < 3:
            raise ValueError(f"supernet needs an even C >= 2 and at least 3 layers, got C={C}, layers={layers}")
        self.C, self.layers, self.num_classes = C, layers, num_classes
        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(3, C_curr, 3, padding=1, bias=False), nn.BatchNorm2d(C_curr))
        C_prev_prev, C_prev, C_curr = C_curr, C_curr, C
        cells, reduction_prev = [], False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                C_curr *= 2
            cells.append(SearchCell(C_prev_prev, C_prev, C_curr, reduction, reduction_prev))
            reduction_prev = reduction
            C_prev_prev, C_prev = C_prev, NUM_NODES * C_curr
        self.cells = nn.ModuleList(cells)
        self.classifier = nn.Linear(C_prev, num_classes)
        # α: 1e-3 · N(0, 1), as DARTS initialises them (docs/PROTOCOL.md, "Search").
        self.alpha_normal = nn.Parameter(1e-3 * torch.randn(NUM_EDGES, len(PRIMITIVES)))
        self.alpha_reduce = nn.Parameter(1e-3 * torch.randn(NUM_EDGES, len(PRIMITIVES)))

    # -- parameter groups -------------------------------------------------
    def alphas(self) -> list[nn.Parameter]:
        return [self.alpha_normal, self.alpha_reduce]

    def weights(self) -> Iterator[nn.Parameter]:
        return (p for name, p in self.named_parameters() if not name.startswith("alpha_"))

    def named_weights(self) -> Iterator[tuple[str, nn.Parameter]]:
        return ((name, p) for name, p in self.named_parameters() if not name.startswith("alpha_"))

    def softmax_weights(self) -> ArchWeights:
        """The continuous relaxation of Eq. 8."""
        return ArchWeights(F.softmax(self.alpha_normal, dim=-1), F.softmax(self.alpha_reduce, dim=-1))

    # -- forward ----------------------------------------------------------
    def forward(self, x: torch.Tensor, arch: Optional[ArchWeights] = None) -> torch.Tensor:
        arch = arch if arch is not None else self.softmax_weights()
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            weights, index = arch.for_cell(cell.reduction)
            s0, s1 = s1, cell(s0, s1, weights, index, arch.estimator == "sampled_scalar")
        return self.classifier(F.adaptive_avg_pool2d(s1, 1).flatten(1))

    # -- discrete architecture -------------------------------------------
    def genotype(self) -> Genotype:
        return derive_genotype(self.alpha_normal, self.alpha_reduce)


def arch_entropy(alpha: torch.Tensor) -> float:
    """Mean entropy (nats) of softmax(α) over edges; falls as the search commits
    to ops, and a fast fall into skip connections warns of collapse."""
    probs = F.softmax(alpha.detach().float(), dim=-1)
    return float(-(probs * probs.clamp_min(1e-12).log()).sum(-1).mean())

"""The evaluation cell of DARTS (Liu et al., 2019) and its drop-path regulariser.

The cell is the discrete one a search derives: each intermediate node sums two
operations applied to earlier nodes, and the cell outputs the channel-wise
concatenation of the four intermediate nodes, so it emits ``4 * C`` channels.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..space.genotype import CELL_OUTPUTS, EDGES_PER_NODE, NUM_NODES, Edge
from ..space.operations import FactorizedReduce, ReLUConvBN, make_op


def drop_path(x: torch.Tensor, drop_prob: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero whole samples of ``x`` with probability ``drop_prob``, scaling the
    survivors by ``1 / (1 - drop_prob)`` so the expected value is unchanged.

    This is the per-sample path dropout of DARTS (after FractalNet/NASNet): one
    Bernoulli draw per sample, shared across channels and positions.  Unlike
    DARTS it does not modify ``x`` in place, so autograd may keep ``x``.
    """
    if not 0.0 <= drop_prob < 1.0:
        raise ValueError(f"drop_prob must lie in [0, 1), got {drop_prob}")
    if drop_prob == 0.0:
        return x
    keep_prob = 1.0 - drop_prob
    mask_shape = (x.size(0),) + (1,) * (x.dim() - 1)
    keep_mask = torch.empty(mask_shape, dtype=x.dtype, device=x.device).bernoulli_(keep_prob, generator=generator)
    return x * keep_mask.div_(keep_prob)


class Cell(nn.Module):
    """A DARTS evaluation cell built from one cell of a genotype.

    ``edges`` is ``genotype.normal`` or ``genotype.reduce``: eight ``(op, input)``
    pairs, two per intermediate node 2..5.  Inputs 0 and 1 are the outputs of
    the two previous cells (``C_prev_prev`` and ``C_prev`` channels); both are
    first mapped to ``C`` channels.  When the previous cell reduced the
    resolution, input 0 is one resolution larger and is halved by a
    ``FactorizedReduce``.  In a reduction cell the edges that leave inputs 0/1
    use stride 2.
    """

    multiplier: int = len(CELL_OUTPUTS)

    def __init__(self, edges: Sequence[Edge], C_prev_prev: int, C_prev: int, C: int,
                 reduction: bool, reduction_prev: bool):
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = (FactorizedReduce(C_prev_prev, C) if reduction_prev
                            else ReLUConvBN(C_prev_prev, C, 1, 1, 0))
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0)
        self.ops = nn.ModuleList(
            make_op(op, C, 2 if reduction and source < 2 else 1) for op, source in edges
        )
        self.sources: tuple[int, ...] = tuple(source for _, source in edges)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        """Drop path (DARTS) hits every op output except identity skips, and
        only in training with ``drop_prob > 0``."""
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        dropping = self.training and drop_prob > 0.0
        for node in range(NUM_NODES):
            node_sum = None
            for position in range(node * EDGES_PER_NODE, (node + 1) * EDGES_PER_NODE):
                op = self.ops[position]
                h = op(states[self.sources[position]])
                if dropping and not isinstance(op, nn.Identity):
                    h = drop_path(h, drop_prob)
                node_sum = h if node_sum is None else node_sum + h
            states.append(node_sum)
        return torch.cat([states[i] for i in CELL_OUTPUTS], dim=1)

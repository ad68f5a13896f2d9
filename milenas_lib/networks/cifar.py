"""The DARTS CIFAR-10 evaluation network (20 cells, C = 36; docs/PROTOCOL.md, "Evaluation")."""
from __future__ import annotations

import torch
from torch import nn

from ..space.genotype import Genotype
from .base import AuxiliaryHead, CellNetwork

STEM_MULTIPLIER = 3


class AuxiliaryHeadCIFAR(AuxiliaryHead):
    """DARTS ``AuxiliaryHeadCIFAR``: expects the 8x8 features of a 32x32 input
    (AvgPool 5 stride 3 -> 2x2, 2x2 conv -> 1x1)."""

    def __init__(self, C: int, num_classes: int):
        super().__init__(C, num_classes, pool_stride=3, normalize_last_conv=True)


class NetworkCIFAR(CellNetwork):
    """DARTS ``NetworkCIFAR``: a 3x3 conv stem to ``3 * C`` channels + BN, whose
    output feeds both inputs of the first cell, then the shared cell body."""

    def __init__(self, C: int = 36, num_classes: int = 10, layers: int = 20, auxiliary: bool = True, *,
                 genotype: Genotype | str):
        stem_width = STEM_MULTIPLIER * C
        super().__init__(genotype, C, num_classes, layers, auxiliary,
                         stem_channels=(stem_width, stem_width), stem_reduces=False,
                         auxiliary_head=AuxiliaryHeadCIFAR)
        self.stem = nn.Sequential(
            nn.Conv2d(3, stem_width, 3, padding=1, bias=False),
            nn.BatchNorm2d(stem_width),
        )

    def stem_outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.stem(x)
        return features, features

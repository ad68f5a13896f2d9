"""The DARTS ImageNet (mobile setting) evaluation network (14 cells, C = 48; docs/PROTOCOL.md, "Evaluation")."""
from __future__ import annotations

import torch
from torch import nn

from ..space.genotype import Genotype
from .base import AuxiliaryHead, CellNetwork


class AuxiliaryHeadImageNet(AuxiliaryHead):
    """DARTS ``AuxiliaryHeadImageNet``: expects the 7x7 features of a 224x224
    input (AvgPool 5 stride 2 -> 2x2, 2x2 conv -> 1x1).

    DARTS leaves out the BatchNorm after the 2x2 conv (a typo in its first
    implementation, kept "for consistency with the experiments in the paper");
    so does this head, so that ``params_with_aux`` matches DARTS.
    """

    def __init__(self, C: int, num_classes: int):
        super().__init__(C, num_classes, pool_stride=2, normalize_last_conv=False)


class NetworkImageNet(CellNetwork):
    """DARTS ``NetworkImageNet``: two stride-2 stems bring 224x224 down to 28x28.

    ``stem0`` (two stride-2 3x3 convs, to ``C // 2`` then ``C`` channels) feeds
    input 0 of the first cell and ``stem1`` (one more stride-2 conv) input 1,
    so the first cell sees ``reduction_prev=True``.  DARTS pools the last
    7x7 map with ``AvgPool2d(7)``; the adaptive pooling of the shared body
    equals it at 224x224 and also runs at reduced resolution (e.g. 32x32 or
    64x64 inputs for CPU tests; there the auxiliary head, which needs
    224x224, must be off or the model in eval mode).
    """

    def __init__(self, C: int = 48, num_classes: int = 1000, layers: int = 14, auxiliary: bool = True, *,
                 genotype: Genotype | str):
        super().__init__(genotype, C, num_classes, layers, auxiliary,
                         stem_channels=(C, C), stem_reduces=True,
                         auxiliary_head=AuxiliaryHeadImageNet)
        self.stem0 = nn.Sequential(
            nn.Conv2d(3, C // 2, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C // 2),
            nn.ReLU(inplace=False),
            nn.Conv2d(C // 2, C, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C),
        )
        self.stem1 = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C),
        )

    def stem_outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s0 = self.stem0(x)
        return s0, self.stem1(s0)

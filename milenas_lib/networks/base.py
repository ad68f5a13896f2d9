"""What the CIFAR and ImageNet evaluation networks of DARTS share.

Both stack ``layers`` cells after a stem, reduce the resolution (and double the
channels) at cells ``layers // 3`` and ``2 * layers // 3``, attach an
auxiliary classifier after cell ``2 * layers // 3`` and end with global average
pooling and a linear classifier.  Only the stem and the auxiliary head differ.
"""
from __future__ import annotations

import torch
from torch import nn

from ..space.genotype import Genotype, resolve_genotype
from .cell import Cell

AUXILIARY_POOL_KERNEL = 5


class AuxiliaryHead(nn.Module):
    """DARTS auxiliary classifier: ReLU, AvgPool 5, 1x1 conv to 128, BN, ReLU,
    2x2 conv to 768, [BN], ReLU, linear.

    DARTS sizes it so that pooling and the 2x2 conv leave a single pixel, which
    fixes the input resolution it accepts (8x8 features for CIFAR, 7x7 for
    ImageNet at 224x224).  Other sizes are refused with a clear message.
    Parameter counts leave this head out (DARTS convention).
    """

    def __init__(self, C: int, num_classes: int, pool_stride: int, normalize_last_conv: bool):
        super().__init__()
        self.pool_stride = pool_stride
        last_norm = [nn.BatchNorm2d(768)] if normalize_last_conv else []
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(AUXILIARY_POOL_KERNEL, stride=pool_stride, padding=0, count_include_pad=False),
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False),
            *last_norm,
            nn.ReLU(inplace=False),
        )
        self.classifier = nn.Linear(768, num_classes)

    def reaches_one_pixel(self, size: int) -> bool:
        """Whether a ``size``-wide input ends as one pixel after pool and 2x2 conv."""
        return size >= AUXILIARY_POOL_KERNEL and (size - AUXILIARY_POOL_KERNEL) // self.pool_stride + 1 == 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if not (self.reaches_one_pixel(height) and self.reaches_one_pixel(width)):
            raise ValueError(
                f"{type(self).__name__} gets {height}x{width} features, a size the DARTS head "
                "does not take (it needs the full training resolution); build the network "
                "with auxiliary=False to train at another resolution"
            )
        return self.classifier(torch.flatten(self.features(x), 1))


class CellNetwork(nn.Module):
    """The body of a DARTS evaluation network; subclasses supply the stem.

    Top-level submodule names follow DARTS (``stem``/``stem0``/``stem1``,
    ``cells``, ``auxiliary_head``, ``global_pooling``, ``classifier``).

    ``forward`` returns ``(logits, logits_aux)``; ``logits_aux`` is ``None``
    unless the model is training and was built with ``auxiliary=True``.  The
    training loop sets ``drop_path_prob`` (DARTS ramps it linearly per epoch).
    The final pooling is global and adaptive, as in DARTS for CIFAR; for
    ImageNet at 224x224 it equals DARTS's ``AvgPool2d(7)`` and also lets the
    network run on reduced inputs, e.g. for CPU tests.
    """

    def __init__(self, genotype: Genotype | str, C: int, num_classes: int, layers: int, auxiliary: bool,
                 stem_channels: tuple[int, int], stem_reduces: bool, auxiliary_head: type[AuxiliaryHead]):
        super().__init__()
        if layers < 1:
            raise ValueError(f"a network needs at least one cell, got layers={layers}")
        self.genotype = resolve_genotype(genotype)
        self.auxiliary = auxiliary
        self.drop_path_prob = 0.0
        self.auxiliary_index = 2 * layers // 3
        reduction_layers = {layers // 3, 2 * layers // 3}

        C_prev_prev, C_prev = stem_channels
        C_curr = C
        reduction_prev = stem_reduces
        cells = []
        for index in range(layers):
            reduction = index in reduction_layers
            if reduction:
                C_curr *= 2
            edges = self.genotype.reduce if reduction else self.genotype.normal
            cells.append(Cell(edges, C_prev_prev, C_prev, C_curr, reduction, reduction_prev))
            reduction_prev = reduction
            C_prev_prev, C_prev = C_prev, Cell.multiplier * C_curr
            if index == self.auxiliary_index:
                C_auxiliary = C_prev
        self.cells = nn.ModuleList(cells)
        self.auxiliary_head = auxiliary_head(C_auxiliary, num_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def stem_outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The two inputs of the first cell."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        s0, s1 = self.stem_outputs(x)
        logits_aux = None
        for index, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if index == self.auxiliary_index and self.auxiliary_head is not None and self.training:
                logits_aux = self.auxiliary_head(s1)
        logits = self.classifier(torch.flatten(self.global_pooling(s1), 1))
        return logits, logits_aux

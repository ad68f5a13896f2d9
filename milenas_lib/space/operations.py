"""The eight candidate operations of the DARTS search space (paper, Appendix A).

Every operation maps ``C`` channels to ``C`` channels; with ``stride=2`` it halves
the spatial size (used on the edges that leave the two input nodes of a
reduction cell).  ``OPS`` is the registry by name; ``PRIMITIVES`` fixes the
order in which the architecture parameters α index them (DARTS' order; docs/PROTOCOL.md).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..names import unknown_name_message

PRIMITIVES: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
#: Where ``none`` sits in α: its op outputs zeros, and derivation never picks it.
NONE_INDEX: int = PRIMITIVES.index("none")

#: Operations that hold convolution weights; their count per cell is the
#: model-size bucket of the paper (Fig. 6, §2.3; docs/PROTOCOL.md, "Where the kit differs").
CONV_OPS: frozenset[str] = frozenset(
    {"sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"}
)
POOL_OPS: frozenset[str] = frozenset({"max_pool_3x3", "avg_pool_3x3"})


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv -> BatchNorm, the preprocessing block of every cell."""

    def __init__(self, C_in: int, C_out: int, kernel_size: int, stride: int, padding: int, affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU -> depthwise dilated conv -> pointwise conv -> BatchNorm."""

    def __init__(self, C_in: int, C_out: int, kernel_size: int, stride: int, padding: int, dilation: int,
                 affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel_size, stride=stride, padding=padding, dilation=dilation,
                      groups=C_in, bias=False),
            nn.Conv2d(C_in, C_out, 1, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two stacked DilConv blocks with dilation 1, the stride on the first (DARTS)."""

    def __init__(self, C_in: int, C_out: int, kernel_size: int, stride: int, padding: int, affine: bool = True):
        super().__init__(
            DilConv(C_in, C_in, kernel_size, stride, padding, 1, affine),
            DilConv(C_in, C_out, kernel_size, 1, padding, 1, affine),
        )


class Zero(nn.Module):
    """The ``none`` operation: an all-zero output of the right shape."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


# oneDNN's backward of a stride-2 1x1 conv with fewer output channels than this
# aborts the process (double free or segfault) on the CPU with several threads
# and an odd batch, in either memory format (torch 2.14, oneDNN 3.12); such
# narrow convs appear in FactorizedReduce when the supernet's C is below 8.
ONEDNN_STRIDED_1X1_MIN_CHANNELS = 8


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset stride-2 1x1 convs, concatenated.

    Used as ``skip_connect`` on stride-2 edges and to align the cell input that
    comes from before a reduction cell.
    """

    def __init__(self, C_in: int, C_out: int, affine: bool = True):
        super().__init__()
        if C_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {C_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        # The second branch is shifted by one pixel so the two halves see
        # complementary positions; odd sizes are padded instead of cropped.
        shifted = nn.functional.pad(x[:, :, 1:, 1:], (0, 1, 0, 1)) if x.size(2) % 2 else x[:, :, 1:, 1:]
        if x.device.type == "cpu" and self.conv_1.out_channels < ONEDNN_STRIDED_1X1_MIN_CHANNELS:
            # The same maths by another kernel: a stride-2 1x1 conv reads only the even pixels.
            halves = [nn.functional.conv2d(part[:, :, ::2, ::2], conv.weight)
                      for part, conv in ((x, self.conv_1), (shifted, self.conv_2))]
        else:
            halves = [self.conv_1(x), self.conv_2(shifted)]
        return self.bn(torch.cat(halves, dim=1))


OpFactory = Callable[[int, int, bool], nn.Module]

#: name -> factory(C, stride, affine)
OPS: dict[str, OpFactory] = {
    "none": lambda C, stride, affine: Zero(stride),
    "max_pool_3x3": lambda C, stride, affine: nn.MaxPool2d(3, stride=stride, padding=1),
    "avg_pool_3x3": lambda C, stride, affine: nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False),
    "skip_connect": lambda C, stride, affine: nn.Identity() if stride == 1 else FactorizedReduce(C, C, affine),
    "sep_conv_3x3": lambda C, stride, affine: SepConv(C, C, 3, stride, 1, affine),
    "sep_conv_5x5": lambda C, stride, affine: SepConv(C, C, 5, stride, 2, affine),
    "dil_conv_3x3": lambda C, stride, affine: DilConv(C, C, 3, stride, 2, 2, affine),
    "dil_conv_5x5": lambda C, stride, affine: DilConv(C, C, 5, stride, 4, 2, affine),
}
assert tuple(OPS) == PRIMITIVES


def make_op(name: str, C: int, stride: int, affine: bool = True) -> nn.Module:
    """Build operation ``name``; an unknown name lists the valid ones."""
    try:
        factory = OPS[name]
    except KeyError:
        raise ValueError(unknown_name_message("operation", name, PRIMITIVES)) from None
    return factory(C, stride, affine)

"""Batch augmentation on whole tensors, on whatever device the images live.

Per-sample Python transforms (torchvision on PIL images) cost far more than a
small network's step on a GPU; here a batch is cropped, flipped and cut out
with a few tensor operations.  Random numbers always come from a CPU
``torch.Generator`` and are then moved to the images' device, so a given seed
gives the same augmentation on a CPU and on a GPU.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

CIFAR_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
CIFAR_STD: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)


def normalize(images_u8: torch.Tensor, mean: tuple[float, ...] = CIFAR_MEAN,
              std: tuple[float, ...] = CIFAR_STD) -> torch.Tensor:
    """uint8 ``N x 3 x H x W`` to float32 ``(x / 255 - mean) / std`` per channel
    (torchvision's ToTensor + Normalize); CIFAR-10's statistics unless told otherwise."""
    mean = torch.tensor(mean, device=images_u8.device).view(1, 3, 1, 1)
    std = torch.tensor(std, device=images_u8.device).view(1, 3, 1, 1)
    return (images_u8.float() / 255.0 - mean) / std


def random_crop_flip(x: torch.Tensor, padding: int = 4, *, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad by ``padding``, take a random ``H x W`` crop per image, mirror half of them.

    Same distribution as DARTS' ``RandomCrop(32, padding=4)`` followed by
    ``RandomHorizontalFlip()``.  Apply it to uint8 images before
    :func:`normalize`, as DARTS does, so padded pixels are black (0) rather
    than the normalised zero.  Crop and flip are one gather: each output
    pixel reads padded row ``dy + i`` and column ``dx + j`` (or ``dx + W-1-j``).
    """
    count, _, height, width = x.shape
    span = 2 * padding + 1
    row_offsets = torch.randint(span, (count,), generator=generator)
    col_offsets = torch.randint(span, (count,), generator=generator)
    flips = torch.rand(count, generator=generator) < 0.5
    columns = torch.arange(width)
    columns = torch.where(flips[:, None], width - 1 - columns, columns)  # count x W
    rows = row_offsets[:, None] + torch.arange(height)  # count x H
    columns = col_offsets[:, None] + columns
    padded = F.pad(x, (padding, padding, padding, padding))
    device = x.device
    batch = torch.arange(count, device=device)[:, None, None]
    # Advanced indices split by the channel slice put the indexed dims first: count x H x W x C.
    cropped = padded[batch, :, rows.to(device)[:, :, None], columns.to(device)[:, None, :]]
    return cropped.permute(0, 3, 1, 2).contiguous()


def cutout(x: torch.Tensor, length: int = 16, *, generator: torch.Generator) -> torch.Tensor:
    """Zero one ``length x length`` square per image, centred anywhere, clipped at the borders.

    DARTS' Cutout: the centre is uniform over all pixels, so squares near an
    edge are partly outside the image.  Applied after normalisation, so the
    square is the data set's mean colour.
    """
    count, _, height, width = x.shape
    centre_rows = torch.randint(height, (count, 1), generator=generator)
    centre_cols = torch.randint(width, (count, 1), generator=generator)
    half = length // 2
    row_inside = (torch.arange(height) >= centre_rows - half) & (torch.arange(height) < centre_rows + half)
    col_inside = (torch.arange(width) >= centre_cols - half) & (torch.arange(width) < centre_cols + half)
    square = (row_inside[:, :, None] & col_inside[:, None, :]).to(x.device)  # count x H x W
    return x.masked_fill(square[:, None], 0)

"""A tiny random stand-in for CIFAR-10, so unit tests never need the real data.

Each class gets its own mean colour and every image is that colour plus noise:
a tiny network can separate the classes, so tests that check "training makes
progress" can fail when learning is broken, yet run in seconds on a CPU.
"""
from __future__ import annotations

import torch

from ..config import imagefolder_source
from .cifar10 import ImageSet, load_cifar10
from .image_tree import load_image_tree

_NOISE_STD = 40.0  # in uint8 units: visible noise, yet class colours stay separable


def synthetic_cifar(
    n_train: int = 256,
    n_test: int = 128,
    num_classes: int = 10,
    image_size: int = 32,
    seed: int = 0,
) -> ImageSet:
    """Learnable random images (source ``"synthetic"``); for unit tests only, never for results."""
    if min(n_train, n_test, num_classes, image_size) < 1:
        raise ValueError("n_train, n_test, num_classes and image_size must all be positive")
    generator = torch.Generator().manual_seed(seed)
    class_colours = torch.rand(num_classes, 3, generator=generator) * 175.0 + 40.0

    def draw(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = (torch.arange(count) % num_classes)[torch.randperm(count, generator=generator)]
        noise = torch.randn(count, 3, image_size, image_size, generator=generator) * _NOISE_STD
        images = class_colours[labels][:, :, None, None] + noise
        return images.round().clamp(0, 255).to(torch.uint8), labels.to(torch.int64)

    train_images, train_labels = draw(n_train)
    test_images, test_labels = draw(n_test)
    return ImageSet(
        train_images=train_images,
        train_labels=train_labels,
        test_images=test_images,
        test_labels=test_labels,
        classes=tuple(f"class_{index}" for index in range(num_classes)),
        source="synthetic",
        source_detail={"seed": seed, "note": "random class-coloured noise for unit tests; not CIFAR-10"},
    )


def dataset_images(dataset: str, *, seed: int = 0, data_root: str | None = None) -> ImageSet:
    """The images a search config names: the synthetic stand-in (drawn from
    ``seed``) for ``"synthetic"``, an ImageFolder tree for
    ``"imagefolder:PATH[@RES]"`` (data/image_tree.py), else CIFAR-10 from
    ``data_root`` or the usual places."""
    folder = imagefolder_source(dataset)
    if folder is not None:
        return load_image_tree(*folder)
    if dataset == "synthetic":
        return synthetic_cifar(seed=seed)
    return load_cifar10(data_root=data_root)

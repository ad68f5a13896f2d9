"""Batches drawn from tensors already on the device, reproducible batch by batch.

The images are moved to the device once; each batch is an index gather plus
tensor augmentation, so no DataLoader workers or per-sample Python run.  The
shuffle of epoch ``e`` depends only on ``(seed, e)`` and the augmentation of
batch ``b`` only on ``(seed, e, b)``: a run resumed at batch ``b`` sees exactly
the data an uninterrupted run would have seen.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.nn.functional as F

from .augment import CIFAR_MEAN, CIFAR_STD, normalize, random_crop_flip
from .augment import cutout as apply_cutout
from .cifar10 import ImageSet
from .split import DataSizeError, search_split

Batch = tuple[torch.Tensor, torch.Tensor]
#: CIFAR-10's side and DARTS' crop padding at that side.
NATIVE_RESOLUTION, CROP_PADDING = 32, 4


def downsample(images_u8: torch.Tensor, resolution: int | None) -> torch.Tensor:
    """``images_u8`` (N, 3, S, S) shrunk to ``resolution`` by averaging S/resolution-square
    blocks, rounded back to uint8; unchanged when ``resolution`` is None or S."""
    side = images_u8.shape[-1]
    if resolution is None or resolution == side:
        return images_u8
    if resolution > side or side % resolution:
        raise ValueError(f"resolution {resolution} must divide the images' side {side}")
    factor = side // resolution
    return F.avg_pool2d(images_u8.float(), factor).round_().to(torch.uint8)


def derive_seed(*parts: int | str) -> int:
    """A 63-bit seed from a tuple such as ``(seed, "augment", epoch, batch)``.

    Hashing (rather than ``seed + epoch``) keeps the streams of neighbouring
    seeds, epochs and batches unrelated, and is the same in every process.
    """
    digest = hashlib.sha256(":".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class TensorBatches:
    """Batches of ``images_u8[indices]`` on ``device``: normalised floats and int64 labels."""

    def __init__(
        self,
        images_u8: torch.Tensor,
        labels: torch.Tensor,
        indices: torch.Tensor,
        batch_size: int,
        device: torch.device | str,
        seed: int,
        augment: bool,
        cutout: int = 0,
        shuffle: bool = True,
        drop_last: bool = True,
        crop_padding: int = 4,
        mean: tuple[float, ...] = CIFAR_MEAN,
        std: tuple[float, ...] = CIFAR_STD,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        indices = torch.as_tensor(indices, dtype=torch.int64)
        if indices.numel() and not 0 <= int(indices.min()) <= int(indices.max()) < images_u8.shape[0]:
            raise ValueError(f"indices must lie in [0, {images_u8.shape[0]})")
        if drop_last and indices.numel() < batch_size:
            raise DataSizeError(
                f"{indices.numel()} images give no full batch of {batch_size}; "
                "lower the batch size or use more images"
            )
        self.device = torch.device(device)
        # .to() is a no-op for tensors already there, so loaders can share one device copy.
        self.images = images_u8.to(self.device)
        self.labels = labels.to(self.device)
        self.indices = indices.to(self.device)
        self.batch_size = batch_size
        self.seed = seed
        self.augment = augment
        self.cutout = cutout
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.crop_padding = crop_padding
        self.mean, self.std = mean, std

    def __len__(self) -> int:
        """Batches per epoch."""
        full, rest = divmod(self.indices.numel(), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[Batch]:
        """Yield ``(x, y)`` for batches ``start_batch, ..., len(self) - 1`` of ``epoch``."""
        if not 0 <= start_batch <= len(self):
            raise ValueError(f"start_batch must lie in [0, {len(self)}], got {start_batch}")
        count = self.indices.numel()
        if self.shuffle:
            order = torch.randperm(count, generator=torch.Generator().manual_seed(derive_seed(self.seed, "shuffle", epoch)))
            order = self.indices[order.to(self.device)]
        else:
            order = self.indices
        for batch in range(start_batch, len(self)):
            chosen = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            yield self._make_batch(chosen, epoch, batch), self.labels[chosen]

    def _make_batch(self, chosen: torch.Tensor, epoch: int, batch: int) -> torch.Tensor:
        images = self.images[chosen]
        if not (self.augment or self.cutout):
            return normalize(images, self.mean, self.std)
        generator = torch.Generator().manual_seed(derive_seed(self.seed, "augment", epoch, batch))
        if self.augment:
            images = random_crop_flip(images, self.crop_padding, generator=generator)
        images = normalize(images, self.mean, self.std)
        if self.cutout:
            images = apply_cutout(images, self.cutout, generator=generator)
        return images


class PairedBatches:
    """The search loader: each step gets a search-train batch (w) and a search-val batch (α)."""

    def __init__(self, train: TensorBatches, val: TensorBatches) -> None:
        self.train = train
        self.val = val

    def __len__(self) -> int:
        return min(len(self.train), len(self.val))

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[torch.Tensor, ...]]:
        """Yield ``(x_train, y_train, x_val, y_val)``; stops with the shorter of the two halves."""
        if not 0 <= start_batch <= len(self):
            raise ValueError(f"start_batch must lie in [0, {len(self)}], got {start_batch}")
        for (x_train, y_train), (x_val, y_val) in zip(
            self.train.epoch(epoch, start_batch), self.val.epoch(epoch, start_batch)
        ):
            yield x_train, y_train, x_val, y_val


@dataclass(frozen=True, eq=False)
class SearchData:
    """Everything a search run reads: paired batches, un-augmented search-val batches, the split and its source."""

    paired: PairedBatches
    val_eval: TensorBatches
    split: tuple[torch.Tensor, torch.Tensor]
    provenance: dict[str, Any]


def make_search_data(
    image_set: ImageSet,
    batch_size: int,
    seed: int,
    device: torch.device | str,
    per_class: int | None = None,
    resolution: int | None = None,
    val_per_class: int | None = None,
    eval_batch_size: int | None = None,
) -> SearchData:
    """Split the training images and build the search loaders on ``device``.

    Both halves are augmented as in DARTS (the α step also sees cropped and
    flipped images); ``val_eval`` walks search-val un-augmented and in order,
    keeping the last partial batch, for the accuracy we report (in batches of
    ``eval_batch_size``, default ``batch_size``).  The two
    shuffled streams get different derived seeds so their crops are unrelated.
    CIFAR-10 (and its synthetic stand-in) is normalised with CIFAR-10's
    statistics, an image set that brings its own (an ImageFolder tree) with
    those of its search-train half.  ``resolution`` below the images' own size
    shrinks them once by area averaging (:func:`downsample`); the crop padding
    shrinks with them (4 px at 32).
    """
    train_idx, val_idx = search_split(image_set.train_labels, seed, per_class, val_per_class)
    mean, std, provenance = CIFAR_MEAN, CIFAR_STD, image_set.provenance()
    if image_set.statistics is not None:
        mean, std = image_set.statistics(train_idx, f"seed={seed},per_class={per_class}")
        provenance["normalization"] = {"mean": list(mean), "std": list(std), "from": "the search-train half"}
    provenance["halves"] = {"train": train_idx.numel(), "val": val_idx.numel()}
    images = downsample(image_set.train_images, resolution).to(device)  # one copy shared by the three loaders
    labels = image_set.train_labels.to(device)
    padding = CROP_PADDING * images.shape[-1] // NATIVE_RESOLUTION

    def batches(indices: torch.Tensor, stream: str, augment: bool, shuffle: bool = True,
                size: int = batch_size) -> TensorBatches:
        return TensorBatches(
            images, labels, indices, size, device, derive_seed(seed, stream),
            augment=augment, shuffle=shuffle, drop_last=shuffle, crop_padding=padding, mean=mean, std=std,
        )

    return SearchData(
        paired=PairedBatches(batches(train_idx, "search-train", True), batches(val_idx, "search-val", True)),
        val_eval=batches(val_idx, "search-val-eval", augment=False, shuffle=False,
                         size=eval_batch_size or batch_size),
        split=(train_idx, val_idx),
        provenance=provenance,
    )

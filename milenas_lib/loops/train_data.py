"""Data for the evaluation loop: both sources hand each process its part of every global batch."""
from __future__ import annotations

from itertools import islice
from typing import Any, Iterator, Protocol

import torch

from ..config import TENSOR_DATASETS, TrainConfig
from ..data import TensorBatches, dataset_images, derive_seed
from ..data.imagefolder import first_per_class, make_imagefolder_data
from .distributed import DistributedContext


class TrainData(Protocol):
    provenance: dict[str, Any]

    @property
    def num_classes(self) -> int: ...

    @property
    def steps_per_epoch(self) -> int: ...

    def train_epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...

    def eval_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...


class TensorData:
    """CIFAR-10 (or its synthetic stand-in) held on the device.

    Every process draws the same global batch from :class:`TensorBatches`
    (crop, flip and cutout seeded per ``(seed, epoch, batch)``) and keeps its
    slice ``rank``: the global batches are exactly a single process's,
    whatever the number of processes.  Augmenting the whole batch everywhere
    costs a few tensor ops; it buys that equivalence.
    """

    def __init__(self, config: TrainConfig, context: DistributedContext, device: torch.device) -> None:
        image_set = dataset_images(config.dataset, seed=config.seed, data_root=config.data_root)
        train_indices = first_per_class(image_set.train_labels, config.train_per_class)
        test_indices = first_per_class(image_set.test_labels, config.test_per_class)
        self.classes = image_set.classes
        self.share = config.batch_size // context.world_size
        self.rank = context.rank
        self.train = TensorBatches(image_set.train_images, image_set.train_labels, train_indices, config.batch_size,
                                   device, derive_seed(config.seed, "train"), augment=True, cutout=config.cutout)
        self.test = TensorBatches(image_set.test_images, image_set.test_labels,
                                  test_indices[context.rank::context.world_size], config.eval_batch_size, device,
                                  config.seed, augment=False, shuffle=False, drop_last=False)
        self.provenance = {**image_set.provenance(), "train_images": train_indices.numel(),
                           "test_images": test_indices.numel(), "train_per_class": config.train_per_class,
                           "test_per_class": config.test_per_class}

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train)

    def train_epoch(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        part = slice(self.rank * self.share, (self.rank + 1) * self.share)
        for images, labels in self.train.epoch(epoch, start_batch=start_batch):
            yield images[part], labels[part]

    def eval_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.test.epoch(0)


def make_data(config: TrainConfig, context: DistributedContext, device: torch.device) -> TrainData:
    if config.dataset in TENSOR_DATASETS:
        return TensorData(config, context, device)
    return make_imagefolder_data(
        config.data_root, resolution=config.resolution, batch_size=config.batch_size // context.world_size,
        eval_batch_size=config.eval_batch_size, device=device, seed=config.seed, rank=context.rank,
        world_size=context.world_size, workers=config.workers, eval_resize=config.eval_resize,
        color_jitter=config.color_jitter, hue_jitter=config.hue_jitter,
        train_per_class=config.train_per_class, test_per_class=config.test_per_class)


def epoch_batches(data: TrainData, epoch: int, start_batch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches ``start_batch, ...`` of ``epoch``, as an uninterrupted epoch reads them: tensor data
    starts there; an ImageFolder loader reads and drops the first ones (its worker seeds run on).
    None at all after the last (a checkpoint between an epoch's last step and its close): no
    loader is started only to be read through."""
    if start_batch >= data.steps_per_epoch:
        return iter(())
    if isinstance(data, TensorData):
        return data.train_epoch(epoch, start_batch)
    return islice(data.train_epoch(epoch), start_batch, None)

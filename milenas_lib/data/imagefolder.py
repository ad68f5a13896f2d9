"""ImageNet-style data for the transfer evaluation: an ``ImageFolder`` tree read from disk.

The kit never downloads ImageNet.  The user points ``data_root`` at a folder
in torchvision's ``ImageFolder`` layout::

    ROOT/train/<class>/<image>.JPEG
    ROOT/val/<class>/<image>.JPEG      (or ROOT/test/<class>/...)

Transforms follow DARTS' ``train_imagenet.py`` (docs/PROTOCOL.md): random-resized
crop, horizontal flip and colour jitter for training; resize to 256 and a
224 centre crop for evaluation.  ``resolution`` scales both (the evaluation
resize stays at 256/224 of it), so the same code runs at 32 px on a CPU, for
example on the CIFAR-10 JPEG archive extracted into this layout
(``tar xzf ../shared/datasets/cifar10-jpeg.tar.gz -C DIR`` gives ``train/`` and
``test/``).  Every record states which tree it read and whether its classes
are CIFAR-10's, so such a run can never pass for ImageNet.

Under ``torchrun`` each process reads a disjoint shard: a
``DistributedSampler`` (re-shuffled per epoch with ``set_epoch``) for
training, and every ``world_size``-th image for evaluation, without the
padding a sampler would add, so the summed counts are exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch.utils.data import DataLoader, DistributedSampler, Subset
from torchvision import transforms
from torchvision.datasets import ImageFolder

from .cifar10 import CIFAR10_CLASSES, DataNotFoundError
from .loaders import derive_seed
from .split import DataSizeError

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
#: Evaluation folders looked for, in order: ImageNet's ``val``, then ``test``
#: (the CIFAR-10 JPEG archive's name for its test images).
EVAL_SPLITS: tuple[str, ...] = ("val", "test")
IMAGENET_CLASS_COUNT = 1000
LAYOUT = "ROOT/train/<class>/*.JPEG and ROOT/val/<class>/*.JPEG (torchvision ImageFolder layout)"


class ImageFolderLayoutError(DataNotFoundError):
    """The data root is missing or not in ImageFolder layout; the message shows the layout expected."""


def default_eval_resize(resolution: int) -> int:
    """DARTS resizes to 256 before its 224 centre crop; keep that ratio at any resolution."""
    return round(resolution * 256 / 224)


def locate_splits(root: str | Path | None) -> tuple[Path, Path]:
    """``(train_dir, eval_dir)`` of an ImageFolder tree, or a clear error."""
    if root is None:
        raise ImageFolderLayoutError(
            f"the imagenet dataset reads an ImageFolder tree from --data-root; none was given. Expected {LAYOUT}. "
            "The kit never downloads ImageNet")
    root = Path(root).expanduser().resolve()
    if root.is_file() and root.name.endswith((".tar", ".tar.gz", ".tgz")):
        raise ImageFolderLayoutError(f"{root} is an archive; extract it (e.g. tar xzf {root} -C DIR) and pass "
                                     f"the folder as --data-root. Expected {LAYOUT}")
    if not root.is_dir():
        raise ImageFolderLayoutError(f"data root {root} does not exist; expected {LAYOUT}")
    train_dir = root / "train"
    eval_dir = next((root / name for name in EVAL_SPLITS if (root / name).is_dir()), None)
    if not train_dir.is_dir() or eval_dir is None:
        found = sorted(p.name for p in root.iterdir() if p.is_dir())
        raise ImageFolderLayoutError(f"{root} holds the folders {found or 'none'}; expected {LAYOUT}")
    return train_dir, eval_dir


def train_transform(resolution: int, color_jitter: float, hue_jitter: float) -> transforms.Compose:
    return transforms.Compose([
        transforms.RandomResizedCrop(resolution),
        transforms.RandomHorizontalFlip(),
        transforms.ColorJitter(brightness=color_jitter, contrast=color_jitter, saturation=color_jitter,
                               hue=hue_jitter),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def eval_transform(resolution: int, resize: int) -> transforms.Compose:
    return transforms.Compose([
        transforms.Resize(resize),
        transforms.CenterCrop(resolution),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def first_per_class(labels: Sequence[int] | torch.Tensor, per_class: int | None) -> torch.Tensor:
    """Indices of the first ``per_class`` items of each class in data-set order
    (all of them for ``None``), sorted; a class with fewer is an error."""
    labels = torch.as_tensor(labels, dtype=torch.int64).cpu()
    if per_class is None:
        return torch.arange(labels.numel())
    chosen = []
    for label in torch.unique(labels).tolist():
        members = torch.nonzero(labels == label).flatten()
        if members.numel() < per_class:
            raise DataSizeError(f"class {label} has {members.numel()} images, fewer than the {per_class} per class "
                             "asked for; lower train_per_class / test_per_class")
        chosen.append(members[:per_class])
    return torch.cat(chosen).sort().values


def describe_classes(classes: Sequence[str]) -> str:
    if tuple(classes) == CIFAR10_CLASSES:
        return "class folders are CIFAR-10's: this is CIFAR-10 in ImageFolder layout, not ImageNet"
    if len(classes) == IMAGENET_CLASS_COUNT:
        return f"{IMAGENET_CLASS_COUNT} class folders, as ImageNet-1k"
    return f"{len(classes)} class folders: not the {IMAGENET_CLASS_COUNT} classes of ImageNet-1k"


@dataclass(eq=False)
class ImageFolderData:
    """This process's training and evaluation batches from an ImageFolder tree, moved to ``device``."""

    train_loader: DataLoader
    eval_loader: DataLoader
    sampler: DistributedSampler
    loader_generator: torch.Generator
    device: torch.device
    seed: int
    rank: int
    classes: tuple[str, ...]
    train_images: int
    eval_images: int
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train_loader)

    def train_epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """This process's part of each global batch of ``epoch``.

        The shuffle depends on ``(seed, epoch)`` through ``set_epoch`` and the
        workers' augmentation seeds on ``(seed, epoch, rank)``, so a run
        resumed at an epoch boundary reads what an uninterrupted run would.
        """
        self.sampler.set_epoch(epoch)
        self.loader_generator.manual_seed(derive_seed(self.seed, "imagefolder-workers", epoch, self.rank))
        yield from self._to_device(self.train_loader)

    def eval_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        yield from self._to_device(self.eval_loader)

    def _to_device(self, loader: DataLoader) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for images, labels in loader:
            yield images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)


def make_imagefolder_data(
    root: str | Path | None,
    *,
    resolution: int,
    batch_size: int,
    eval_batch_size: int,
    device: torch.device,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
    workers: int = 4,
    eval_resize: int | None = None,
    color_jitter: float = 0.4,
    hue_jitter: float = 0.2,
    train_per_class: int | None = None,
    test_per_class: int | None = None,
) -> ImageFolderData:
    """Loaders for process ``rank`` of ``world_size``; ``batch_size`` is this process's share of the global batch."""
    train_dir, eval_dir = locate_splits(root)
    resize = eval_resize or default_eval_resize(resolution)
    try:
        train_set = ImageFolder(str(train_dir), transform=train_transform(resolution, color_jitter, hue_jitter))
        eval_set = ImageFolder(str(eval_dir), transform=eval_transform(resolution, resize))
    except FileNotFoundError as error:  # no class folders, or a class folder without images
        raise ImageFolderLayoutError(f"{error}; expected {LAYOUT}") from None
    if train_set.classes != eval_set.classes:
        missing = sorted(set(train_set.classes) ^ set(eval_set.classes))
        raise ImageFolderLayoutError(f"{train_dir} and {eval_dir} hold different class folders (first differences: "
                                     f"{missing[:5]}); both need the same <class> folders")
    train_subset = Subset(train_set, first_per_class(train_set.targets, train_per_class).tolist())
    eval_indices = first_per_class(eval_set.targets, test_per_class)
    eval_shard = Subset(eval_set, eval_indices[rank::world_size].tolist())
    if len(train_subset) < batch_size * world_size:
        raise DataSizeError(f"{len(train_subset)} training images give no full global batch of "
                         f"{batch_size * world_size}; lower the batch size or use more images")

    sampler = DistributedSampler(train_subset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed,
                                 drop_last=True)
    generator = torch.Generator()
    pin = device.type == "cuda"
    # Workers are not persistent: each epoch starts them from seeds derived
    # from (seed, epoch, rank), which is what makes resuming reproducible.
    train_loader = DataLoader(train_subset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                              pin_memory=pin, drop_last=True, generator=generator)
    eval_loader = DataLoader(eval_shard, batch_size=eval_batch_size, shuffle=False, num_workers=workers,
                             pin_memory=pin)
    classes = tuple(train_set.classes)
    provenance = {
        "source": "imagefolder",
        "detail": {
            "root": str(train_dir.parent), "train_dir": str(train_dir), "eval_dir": str(eval_dir),
            "eval_split": eval_dir.name, "classes": len(classes), "note": describe_classes(classes),
            "train_images_available": len(train_set), "eval_images_available": len(eval_set),
            "resolution": resolution, "eval_resize": resize,
        },
        "train_images": len(train_subset), "test_images": len(eval_indices),
        "train_per_class": train_per_class, "test_per_class": test_per_class,
    }
    return ImageFolderData(train_loader, eval_loader, sampler, generator, device, seed, rank, classes,
                           train_images=len(train_subset), eval_images=len(eval_indices), provenance=provenance)

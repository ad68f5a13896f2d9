"""A search on your own images: an ``ImageFolder`` tree as an :class:`ImageSet`.

``dataset="imagefolder:PATH"`` (or ``imagefolder:PATH@RES``) reads
``PATH/<class>/<image>`` in torchvision's ``ImageFolder`` layout (the same
layout as the ImageNet evaluation path, data/imagefolder.py, one level down:
no train/val folders, since the search halves the images itself), with any
number of classes and any image sizes.  Each image is resized (shorter side)
and centre-cropped to ``RES x RES`` (default 32, CIFAR-10's size) and held as
uint8, so the search's batches come from device tensors exactly as for
CIFAR-10; the decoded tensors are cached under a name that hashes the files'
paths, sizes and modification times with the resolution.  The search halves
them class-balanced (data/split.py) and normalises with the mean and
standard deviation of the search-train half (:func:`channel_statistics`),
also cached.  Bad trees are refused in one line: empty, a single class, an
unreadable image (named), a class too small for the two halves.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision import transforms
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

from .cifar10 import ImageSet, _write_cache, resolve_cache_dir
from .imagefolder import ImageFolderLayoutError, describe_classes
from .split import DataSizeError

SOURCE = "imagefolder"
_CACHE_FORMAT = 1
LAYOUT = "PATH/<class>/<image> (torchvision ImageFolder layout: one folder of images per class)"


class ImageTreeError(ValueError):
    """An ImageFolder tree the search cannot use (one class, an unreadable image); the message says why."""


def list_images(root: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """The class names and ``(file, class index)`` of every image under ``root``, or a one-line refusal."""
    if not root.is_dir():
        raise ImageFolderLayoutError(f"image folder {root} does not exist; expected {LAYOUT}")
    try:
        classes, class_to_idx = find_classes(str(root))
    except FileNotFoundError:
        raise ImageFolderLayoutError(f"{root} holds no class folders; expected {LAYOUT}") from None
    files = make_dataset(str(root), class_to_idx, extensions=IMG_EXTENSIONS, allow_empty=True)
    if not files:
        raise ImageFolderLayoutError(f"{root} holds no images ({', '.join(IMG_EXTENSIONS[:4])}, ...) in its class "
                                     f"folders; expected {LAYOUT}")
    if len(classes) < 2:
        hint = " (its folders look like a train/val split: point at one of them)" \
            if set(classes) <= {"train", "val", "test"} else ""
        raise ImageTreeError(f"{root} holds one class ({classes[0]!r}); a search needs at least 2 class "
                             f"folders{hint}")
    counts = np.bincount([label for _, label in files], minlength=len(classes))
    for name, count in zip(classes, counts):
        if count < 2:
            raise DataSizeError(f"class {name!r} in {root} has {count} image(s); each class needs at least 2 "
                                "(one for each search half): add images or remove the folder")
    return classes, files


def _fingerprint(files: list[tuple[str, int]], resolution: int) -> str:
    digest = hashlib.sha256(f"{_CACHE_FORMAT}:{resolution}".encode())
    for path, label in files:
        stat = os.stat(path)
        digest.update(f"{path}:{label}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def decode_images(files: list[tuple[str, int]], resolution: int) -> torch.Tensor:
    """uint8 ``N x 3 x RES x RES``: each image resized (shorter side) and centre-cropped."""
    resize = transforms.Compose([transforms.Resize(resolution), transforms.CenterCrop(resolution),
                                 transforms.PILToTensor()])
    images = torch.empty(len(files), 3, resolution, resolution, dtype=torch.uint8)
    for index, (path, _) in enumerate(files):
        try:
            with Image.open(path) as image:
                images[index] = resize(image.convert("RGB"))
        except (UnidentifiedImageError, OSError, ValueError) as error:
            raise ImageTreeError(f"cannot read image {path} ({type(error).__name__}); remove or replace the "
                                 "file") from None
    return images


def load_image_tree(path: str, resolution: int, cache_dir: Optional[str] = None) -> ImageSet:
    """The images of the tree at ``path`` as an :class:`ImageSet` (all of them
    as "train": the search splits them; no test images), decoded once and cached."""
    root = Path(path).expanduser().resolve()
    classes, files = list_images(root)
    cache = resolve_cache_dir(cache_dir) / "imagefolder" / f"{root.name}-{_fingerprint(files, resolution)}.npz"
    labels = torch.tensor([label for _, label in files], dtype=torch.int64)
    images = None
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as stored:
                images = torch.from_numpy(stored["images"])
        except (OSError, ValueError, KeyError):
            images = None  # unreadable: decode again and overwrite
    if images is None or images.shape != (len(files), 3, resolution, resolution):
        images = decode_images(files, resolution)
        _write_cache(cache, {"images": images})
    empty = torch.empty(0, 3, resolution, resolution, dtype=torch.uint8)
    return ImageSet(images, labels, empty, torch.empty(0, dtype=torch.int64), classes=tuple(classes),
                    statistics=functools.partial(channel_statistics, images, Path(f"{cache}.stats.json")),
                    source=SOURCE, source_detail={
                        "root": str(root), "classes": len(classes), "images": len(files),
                        "resolution": resolution, "resize": "shorter side to RES, centre crop RES x RES",
                        "cache": str(cache), "note": describe_classes(classes)})


def channel_statistics(images: torch.Tensor, stats_path: Path, train_idx: torch.Tensor, key: str
                       ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation (of pixel / 255) of
    ``images[train_idx]`` (the search-train half), cached in ``stats_path``
    under ``key`` (the split's seed and size)."""
    try:
        stored = json.loads(stats_path.read_text()) if stats_path.is_file() else {}
    except ValueError:
        stored = {}  # unreadable: compute again and overwrite
    if key not in stored:
        pixels = images[train_idx.cpu()].double().div_(255.0)
        mean = pixels.mean(dim=(0, 2, 3))
        std = pixels.std(dim=(0, 2, 3)).clamp_min(1e-3)  # a constant channel must not divide by zero
        stored[key] = {"mean": mean.tolist(), "std": std.tolist()}
        temporary = stats_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(stored))
        os.replace(temporary, stats_path)
    return tuple(stored[key]["mean"]), tuple(stored[key]["std"])

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
unreadable image (named), an image over :data:`MAX_IMAGE_PIXELS`, a class too
small for the two halves.  Hidden folders and files, and links that lead back
into the tree (a loop would relabel other classes' images), are left out.
The tree's content fingerprint enters the run identity
(``ImageSet.identity_source``), so a changed folder is another run.
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
from torchvision.datasets.folder import IMG_EXTENSIONS

from .cifar10 import ImageSet, _write_cache, resolve_cache_dir
from .imagefolder import ImageFolderLayoutError, describe_classes
from .split import DataSizeError

SOURCE = "imagefolder"
_CACHE_FORMAT = 2  # 2: 16-bit and palette images decoded by to_rgb, hidden files and looping links left out
#: The most pixels one image may have (a 10000 x 10000 photograph); Pillow's own guard raises a
#: traceback only at twice its 89 million and decodes anything smaller, however long it takes.
MAX_IMAGE_PIXELS = 100_000_000
LAYOUT = "PATH/<class>/<image> (torchvision ImageFolder layout: one folder of images per class)"


class ImageTreeError(ValueError):
    """An ImageFolder tree the search cannot use (one class, an unreadable image); the message says why."""


def _hidden(name: str) -> bool:
    """``.thumbnails/``, ``.DS_Store``, ``._photo.jpg`` (macOS metadata): never a class or an image."""
    return name.startswith(".")


def _links_back(target: str, tree: str, class_folder: Optional[str] = None) -> bool:
    """Whether a link to ``target`` leads back into the tree or above it, or above its class folder
    (which may itself be a link to elsewhere): following it would read other classes' images
    under this class's label, or loop."""
    above_class = class_folder is not None and os.path.commonpath([target, class_folder]) == target
    return above_class or os.path.commonpath([target, tree]) in (target, tree)


def _class_images(folder: Path, tree: str) -> list[str]:
    """The image files under one class folder, in ``sorted(os.walk)`` order (torchvision's).  A link
    to a folder is followed unless it leads back (:func:`_links_back`); no folder is read twice."""
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    class_folder = os.path.realpath(folder)
    waiting = [str(folder)]
    while waiting:
        current = waiting.pop()
        real = os.path.realpath(current)
        if real in seen:
            continue
        seen.add(real)
        with os.scandir(current) as entries:
            for entry in entries:
                if _hidden(entry.name):
                    continue
                if entry.is_dir():
                    if not (entry.is_symlink() and _links_back(os.path.realpath(entry.path), tree, class_folder)):
                        waiting.append(entry.path)
                elif entry.is_file() and entry.name.lower().endswith(IMG_EXTENSIONS):
                    found.append((current, entry.name))
    return [os.path.join(directory, name) for directory, name in sorted(found)]


def list_images(root: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """The class names and ``(file, class index)`` of every image under ``root``, or a one-line refusal.
    Hidden folders and files are left out, and so are links that lead back into the tree."""
    if not root.is_dir():
        raise ImageFolderLayoutError(f"image folder {root} does not exist; expected {LAYOUT}")
    tree = os.path.realpath(root)
    with os.scandir(root) as entries:
        classes = sorted(entry.name for entry in entries if entry.is_dir() and not _hidden(entry.name)
                         and not (entry.is_symlink() and _links_back(os.path.realpath(entry.path), tree)))
    if not classes:
        raise ImageFolderLayoutError(f"{root} holds no class folders; expected {LAYOUT}")
    files = [(path, label) for label, name in enumerate(classes) for path in _class_images(root / name, tree)]
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


def content_fingerprint(root: Path, classes: list[str], files: list[tuple[str, int]]) -> str:
    """16 hex digits of the tree's content as the search reads it: the classes, and each image's
    path under ``root``, class, size and modification time (a class added, an image replaced or
    touched changes it; moving the whole tree does not)."""
    digest = hashlib.sha256(json.dumps(classes).encode())
    for path, label in files:
        stat = os.stat(path)
        digest.update(f"{os.path.relpath(path, root)}:{label}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _fingerprint(files: list[tuple[str, int]], resolution: int) -> str:
    digest = hashlib.sha256(f"{_CACHE_FORMAT}:{resolution}".encode())
    for path, label in files:
        stat = os.stat(path)
        digest.update(f"{path}:{label}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB of any mode.  Pillow's own ``convert("RGB")`` clips 16-bit and 32-bit grey
    (``I;16``, ``I``) at 255, which saturates nearly every pixel; they are scaled from their bit
    depth instead.  Palette and grey images with transparency go through RGBA (their colours kept)."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        pixels = np.asarray(image, dtype=np.float64)
        full_scale = 65535.0 if image.mode != "F" else max(1.0, float(pixels.max()))
        grey = np.clip(np.rint(pixels * (255.0 / full_scale)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")  # uint8, 2-D: mode L
    if image.mode in ("P", "PA", "LA") or "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("RGB")


def _open_checked(path: str) -> Image.Image:
    """The image at ``path``, refused in one line when it has more pixels than :data:`MAX_IMAGE_PIXELS`
    (before its pixels are decoded: a small file may hold a huge image)."""
    try:
        image = Image.open(path)
    except Image.DecompressionBombError:
        image = None
    if image is None or image.width * image.height > MAX_IMAGE_PIXELS:
        size = "" if image is None else f" of {image.width} x {image.height} pixels"
        if image is not None:
            image.close()
        raise ImageTreeError(f"image {path}{size} is larger than the {MAX_IMAGE_PIXELS:,} pixels the kit decodes "
                             "(a guard against decompression bombs); shrink or remove the file")
    return image


def decode_images(files: list[tuple[str, int]], resolution: int) -> torch.Tensor:
    """uint8 ``N x 3 x RES x RES``: each image resized (shorter side) and centre-cropped."""
    resize = transforms.Compose([transforms.Resize(resolution), transforms.CenterCrop(resolution),
                                 transforms.PILToTensor()])
    images = torch.empty(len(files), 3, resolution, resolution, dtype=torch.uint8)
    for index, (path, _) in enumerate(files):
        try:
            with _open_checked(path) as image:
                images[index] = resize(to_rgb(image))
        except ImageTreeError:
            raise
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
                        "cache": str(cache), "note": describe_classes(classes),
                        "content": content_fingerprint(root, classes, files)})


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

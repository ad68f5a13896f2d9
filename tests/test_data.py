"""Tests of milenas_lib.data: split, augmentation, loaders and the CIFAR-10 readers.

Everything except the last test uses synthetic images or a tiny JPEG archive
built in tmp_path, so the file runs in seconds on a CPU.
"""
from __future__ import annotations

import io
import random
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from milenas_lib.data import (
    ARCHIVE_NAME,
    CIFAR10_CLASSES,
    CIFAR_MEAN,
    CIFAR_STD,
    ArchiveError,
    ChecksumError,
    DataNotFoundError,
    PairedBatches,
    TensorBatches,
    check_disjoint,
    cutout,
    file_sha256,
    load_cifar10,
    make_search_data,
    normalize,
    random_crop_flip,
    read_jpeg_archive,
    search_split,
    synthetic_cifar,
    verify_sha256,
)
from milenas_lib.data import cifar10

REAL_ARCHIVE = cifar10.REPO_ROOT.parent / "shared" / "datasets" / ARCHIVE_NAME
DATA_ENV_VARS = ("MILENAS_DATA_ROOT", "MILENAS_CIFAR10_ARCHIVE", "MILENAS_CACHE_DIR")


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- split


def shuffled_labels(per_class: int, num_classes: int = 10) -> torch.Tensor:
    return (torch.arange(per_class * num_classes) % num_classes)[torch.randperm(per_class * num_classes, generator=generator(1))]


def test_split_is_stratified_disjoint_and_complete() -> None:
    labels = shuffled_labels(per_class=100)
    train_idx, val_idx = search_split(labels, seed=0)
    assert torch.bincount(labels[train_idx]).tolist() == [50] * 10
    assert torch.bincount(labels[val_idx]).tolist() == [50] * 10
    assert not torch.isin(train_idx, val_idx).any()
    assert torch.equal(torch.cat([train_idx, val_idx]).sort().values, torch.arange(labels.numel()))


def test_split_of_class_grouped_labels_is_not_first_half() -> None:
    # The JPEG archive lists images class by class; the first half would hold five classes only.
    labels = torch.arange(10).repeat_interleave(20)
    train_idx, val_idx = search_split(labels, seed=3)
    assert torch.bincount(labels[train_idx], minlength=10).tolist() == [10] * 10
    assert torch.bincount(labels[val_idx], minlength=10).tolist() == [10] * 10


def test_split_per_class_limits_each_half() -> None:
    labels = shuffled_labels(per_class=100)
    train_idx, val_idx = search_split(labels, seed=0, per_class=7)
    assert torch.bincount(labels[train_idx]).tolist() == [7] * 10
    assert torch.bincount(labels[val_idx]).tolist() == [7] * 10
    assert not torch.isin(train_idx, val_idx).any()


def test_split_depends_on_seed_only() -> None:
    labels = shuffled_labels(per_class=100)
    first, second = search_split(labels, seed=5), search_split(labels, seed=5)
    other = search_split(labels, seed=6)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[0], other[0])


def test_split_rejects_per_class_beyond_half_a_class() -> None:
    with pytest.raises(ValueError, match="lower per_class to at most 50"):
        search_split(shuffled_labels(per_class=100), seed=0, per_class=51)


def test_check_disjoint_names_the_overlap() -> None:
    check_disjoint(torch.tensor([0, 2]), torch.tensor([1, 3]))
    with pytest.raises(ValueError, match=r"overlap in 1 places .*\[2\]"):
        check_disjoint(torch.tensor([0, 2]), torch.tensor([2, 3]))


# ---------------------------------------------------------------- augmentation


def distinct_images(count: int = 16, size: int = 32) -> torch.Tensor:
    """Pixels in 1..255 so the crop's zero padding can be told apart from content."""
    return torch.randint(1, 256, (count, 3, size, size), generator=generator(2), dtype=torch.uint8)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_crop_flip_keeps_shape_and_dtype(dtype: torch.dtype) -> None:
    images = distinct_images().to(dtype)
    out = random_crop_flip(images, generator=generator())
    assert out.shape == images.shape and out.dtype == dtype


def test_crop_without_padding_is_identity_or_exact_mirror() -> None:
    images = distinct_images(count=64)
    out = random_crop_flip(images, padding=0, generator=generator())
    same = (out == images).flatten(1).all(1)
    mirrored = (out == images.flip(-1)).flatten(1).all(1)
    assert (same | mirrored).all()
    assert same.any() and mirrored.any()


def shifted(image: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """``image`` moved by (rows, cols) with zeros filling the uncovered border."""
    size = image.shape[-1]
    out = torch.zeros_like(image)
    out[:, max(rows, 0) : size + min(rows, 0), max(cols, 0) : size + min(cols, 0)] = image[
        :, max(-rows, 0) : size + min(-rows, 0), max(-cols, 0) : size + min(-cols, 0)
    ]
    return out


def test_crop_shifts_content_by_at_most_the_padding() -> None:
    images = distinct_images()
    out = random_crop_flip(images, padding=4, generator=generator())
    shifts_seen = set()
    for original, cropped in zip(images, out):
        matches = [
            (rows, cols)
            for rows in range(-4, 5)
            for cols in range(-4, 5)
            for candidate in (original, original.flip(-1))
            if torch.equal(shifted(candidate, rows, cols), cropped)
        ]
        assert matches, "a crop is not a shift of at most 4 pixels of the image or its mirror"
        shifts_seen.update(matches)
    assert len(shifts_seen) > 1, "every image got the same shift: the crop is not random"


def test_augmentation_is_a_function_of_the_generator_seed() -> None:
    images = distinct_images()
    assert torch.equal(random_crop_flip(images, generator=generator(4)), random_crop_flip(images, generator=generator(4)))
    assert not torch.equal(random_crop_flip(images, generator=generator(4)), random_crop_flip(images, generator=generator(5)))


def test_cutout_zeroes_one_clipped_square_per_image() -> None:
    images = torch.ones(64, 3, 32, 32)
    out = cutout(images, length=16, generator=generator())
    zero = out == 0
    assert torch.equal(zero, zero[:, :1].expand_as(zero)), "the square must cover all channels"
    full_squares = 0
    for mask in zero[:, 0]:
        rows, cols = mask.any(1), mask.any(0)
        assert torch.equal(mask, rows[:, None] & cols[None, :]), "the zeroed region is not a rectangle"
        height, width = int(rows.sum()), int(cols.sum())
        assert 8 <= height <= 16 and 8 <= width <= 16  # centre inside the image, clipped at borders
        full_squares += height == width == 16
    assert full_squares > 0, "no square fell fully inside the image"
    assert torch.equal(out[~zero], images[~zero])


def test_normalize_matches_the_formula() -> None:
    images = distinct_images(count=4)
    expected = (images.numpy() / 255.0 - np.array(CIFAR_MEAN)[:, None, None]) / np.array(CIFAR_STD)[:, None, None]
    out = normalize(images)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- loaders


def batches_equal(first: list, second: list) -> bool:
    return len(first) == len(second) and all(
        all(torch.equal(a, b) for a, b in zip(left, right)) for left, right in zip(first, second)
    )


def test_resumed_epoch_equals_the_tail_of_a_full_epoch() -> None:
    data = synthetic_cifar(n_train=200)
    def loader() -> TensorBatches:
        return TensorBatches(data.train_images, data.train_labels, torch.arange(200), 16, "cpu", seed=9,
                             augment=True, cutout=16)
    full = list(loader().epoch(2))
    assert len(full) == len(loader()) == 12
    assert batches_equal(list(loader().epoch(2, start_batch=5)), full[5:])
    def label_order(batches: list) -> torch.Tensor:  # labels are not augmented, so they show the shuffle
        return torch.cat([y for _, y in batches])
    assert not torch.equal(label_order(list(loader().epoch(3))), label_order(full)), "epochs must be shuffled differently"


def test_loader_without_shuffle_keeps_order_and_the_last_batch() -> None:
    data = synthetic_cifar(n_train=50)
    indices = torch.arange(3, 50, 2)  # 24 images
    loader = TensorBatches(data.train_images, data.train_labels, indices, 10, "cpu", seed=0,
                           augment=False, shuffle=False, drop_last=False)
    batches = list(loader.epoch(0))
    assert len(loader) == len(batches) == 3 and batches[-1][0].shape[0] == 4
    assert torch.equal(torch.cat([y for _, y in batches]), data.train_labels[indices])
    assert torch.equal(batches[0][0], normalize(data.train_images[indices[:10]]))


def test_loader_rejects_a_subset_smaller_than_one_batch() -> None:
    data = synthetic_cifar(n_train=20)
    with pytest.raises(ValueError, match="no full batch"):
        TensorBatches(data.train_images, data.train_labels, torch.arange(5), 8, "cpu", seed=0, augment=False)


def test_search_data_pairs_the_two_halves_and_resumes() -> None:
    data = synthetic_cifar(n_train=400)
    search = make_search_data(data, batch_size=32, seed=1, device="cpu", per_class=15)
    train_idx, val_idx = search.split
    assert train_idx.numel() == val_idx.numel() == 150
    assert isinstance(search.paired, PairedBatches) and len(search.paired) == 4
    full = list(search.paired.epoch(0))
    assert all(len(step) == 4 and step[0].shape == (32, 3, 32, 32) for step in full)
    assert batches_equal(list(search.paired.epoch(0, start_batch=2)), full[2:])
    assert not torch.equal(full[0][0], full[0][2]), "train and val batches must differ"
    evaluated = list(search.val_eval.epoch(0))
    assert torch.equal(torch.cat([y for _, y in evaluated]), data.train_labels[val_idx])
    assert search.provenance == {"source": "synthetic", "detail": data.source_detail,
                                 "halves": {"train": 150, "val": 150}}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_batches_equal_cpu_batches() -> None:
    data = synthetic_cifar(n_train=128)
    def first_batch(device: str) -> tuple[torch.Tensor, torch.Tensor]:
        loader = TensorBatches(data.train_images, data.train_labels, torch.arange(128), 32, device, seed=2,
                               augment=True, cutout=16)
        return next(iter(loader.epoch(1)))
    cpu_x, cpu_y = first_batch("cpu")
    cuda_x, cuda_y = first_batch("cuda")
    assert torch.equal(cpu_y, cuda_y.cpu())
    torch.testing.assert_close(cpu_x, cuda_x.cpu())


def test_synthetic_classes_are_learnable() -> None:
    data = synthetic_cifar(seed=3)
    means = torch.stack([data.train_images[data.train_labels == c].float().mean((0, 2, 3)) for c in range(10)])
    colours = data.test_images.float().mean((2, 3))
    predicted = torch.cdist(colours, means).argmin(1)
    assert (predicted == data.test_labels).float().mean() > 0.5  # chance is 0.1


# ---------------------------------------------------------------- archive and resolution


def write_fake_archive(path: Path, train_per_class: int = 2, test_per_class: int = 1) -> dict[str, list[int]]:
    """A tar.gz in the real archive's layout, one flat colour per class; returns labels in sorted order."""
    members: list[tuple[str, bytes]] = []
    labels: dict[str, list[int]] = {"train": [], "test": []}
    for part, count in (("train", train_per_class), ("test", test_per_class)):
        for label, name in enumerate(CIFAR10_CLASSES):
            for number in range(count):
                buffer = io.BytesIO()
                Image.new("RGB", (32, 32), (label * 25, 100, 255 - label * 25)).save(buffer, "JPEG", quality=95)
                members.append((f"{part}/{name}/{number:04d}.jpg", buffer.getvalue()))
                labels[part].append(label)
    random.Random(0).shuffle(members)  # the reader must sort, not trust the tar order
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in members:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return labels


@pytest.fixture
def fake_archive(tmp_path: Path) -> Path:
    path = tmp_path / ARCHIVE_NAME
    write_fake_archive(path)
    return path


@pytest.fixture
def no_data_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in DATA_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def test_fake_archive_round_trip_uses_the_cache(fake_archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sha256 = file_sha256(fake_archive)
    first = read_jpeg_archive(fake_archive, expected_sha256=sha256, cache_dir=tmp_path / "cache")
    assert first.train_images.shape == (20, 3, 32, 32) and first.test_images.shape == (10, 3, 32, 32)
    assert first.train_images.dtype == torch.uint8
    assert first.train_labels.tolist() == [label for label in range(10) for _ in range(2)]
    assert first.test_labels.tolist() == list(range(10))
    red = first.train_images[first.train_labels == 4][:, 0].float()
    assert (red - 100).abs().max() <= 2  # class 4's red value, through JPEG
    cache_file = Path(first.source_detail["cache"])
    assert cache_file.is_file() and sha256 in cache_file.name
    assert first.provenance()["detail"]["sha256"] == sha256 and "differ" in first.source_detail["note"]

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("the second load decoded the archive instead of reading the cache")

    monkeypatch.setattr(cifar10, "decode_jpeg_archive", no_decoding)
    second = read_jpeg_archive(fake_archive, expected_sha256=sha256, cache_dir=tmp_path / "cache")
    assert torch.equal(second.train_images, first.train_images)
    assert torch.equal(second.test_labels, first.test_labels)


def test_checksum_mismatch_names_file_hashes_and_fix(fake_archive: Path, tmp_path: Path) -> None:
    actual = file_sha256(fake_archive)
    with pytest.raises(ChecksumError) as raised:
        read_jpeg_archive(fake_archive, expected_sha256="0" * 64, cache_dir=tmp_path / "cache")
    message = str(raised.value)
    assert str(fake_archive) in message and "0" * 64 in message and actual in message
    assert "copy it again" in message
    assert verify_sha256(fake_archive, actual) == actual


def test_truncated_archive_is_a_clear_error(fake_archive: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(fake_archive.read_bytes()[: fake_archive.stat().st_size // 2])
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        read_jpeg_archive(truncated, expected_sha256=file_sha256(fake_archive), cache_dir=tmp_path / "cache")
    with pytest.raises(ArchiveError, match="truncated or corrupt"):
        read_jpeg_archive(truncated, expected_sha256=file_sha256(truncated), cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_archive_in_another_layout_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "other.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("images/cat/0000.jpg")
        archive.addfile(info, io.BytesIO(b""))
    with pytest.raises(ArchiveError, match="train/<class>/NNNN.jpg"):
        read_jpeg_archive(path, expected_sha256=file_sha256(path), cache_dir=tmp_path / "cache")


def test_missing_data_lists_every_place_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_data_env: None) -> None:
    root, repo, work = tmp_path / "root", tmp_path / "a" / "repo", tmp_path / "b" / "work"
    for folder in (root, repo, work):
        folder.mkdir(parents=True)
    monkeypatch.setattr(cifar10, "REPO_ROOT", repo)
    monkeypatch.chdir(work)
    with pytest.raises(DataNotFoundError) as raised:
        load_cifar10(data_root=root)
    message = str(raised.value)
    assert isinstance(raised.value, FileNotFoundError)
    for place in (root / "cifar-10-batches-py", root / ARCHIVE_NAME,
                  tmp_path / "a" / "shared" / "datasets" / ARCHIVE_NAME,
                  tmp_path / "b" / "shared" / "datasets" / ARCHIVE_NAME):
        assert str(place) in message
    for fix in ("MILENAS_DATA_ROOT", "MILENAS_CIFAR10_ARCHIVE", "--download"):
        assert fix in message


def test_data_root_that_does_not_exist_is_a_clear_error(tmp_path: Path, no_data_env: None) -> None:
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_cifar10(data_root=tmp_path / "typo")


def test_archive_setting_that_does_not_exist_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_data_env: None
) -> None:
    monkeypatch.setenv("MILENAS_CIFAR10_ARCHIVE", str(tmp_path / "missing.tar.gz"))
    with pytest.raises(DataNotFoundError, match="MILENAS_CIFAR10_ARCHIVE"):
        load_cifar10()


def test_archive_is_found_through_env_and_data_root(
    fake_archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_data_env: None
) -> None:
    # load_cifar10 insists on the real checksum, so finding the fake archive shows up as a mismatch naming it.
    with pytest.raises(ChecksumError, match=str(fake_archive)):
        load_cifar10(data_root=tmp_path, cache_dir=tmp_path / "cache")
    monkeypatch.setenv("MILENAS_CIFAR10_ARCHIVE", str(fake_archive))
    with pytest.raises(ChecksumError, match=str(fake_archive)):
        load_cifar10(cache_dir=tmp_path / "cache")


def test_torchvision_folder_takes_precedence(tmp_path: Path, fake_archive: Path, no_data_env: None) -> None:
    (tmp_path / "cifar-10-batches-py").mkdir()  # empty: torchvision's md5 check must fail
    with pytest.raises(DataNotFoundError, match="incomplete or corrupted"):
        load_cifar10(data_root=tmp_path)


@pytest.mark.skipif(not REAL_ARCHIVE.is_file(), reason=f"real CIFAR-10 archive not at {REAL_ARCHIVE}")
def test_real_archive_loads_through_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slow the first time (decoding 60,000 JPEGs, about 5-8 s); later runs read the cache."""
    monkeypatch.delenv("MILENAS_DATA_ROOT", raising=False)
    started = time.perf_counter()
    images = load_cifar10(archive=REAL_ARCHIVE)
    print(f"real archive loaded in {time.perf_counter() - started:.1f} s")
    assert images.source == "cifar10-jpeg-archive"
    assert images.train_images.shape == (50000, 3, 32, 32) and images.test_images.shape == (10000, 3, 32, 32)
    assert images.train_images.dtype == images.test_images.dtype == torch.uint8
    assert torch.bincount(images.train_labels).tolist() == [5000] * 10
    assert torch.bincount(images.test_labels).tolist() == [1000] * 10
    assert images.classes == CIFAR10_CLASSES


def test_a_search_val_half_of_its_own_size_keeps_the_halves_apart():
    from milenas_lib.data.split import search_split

    labels = torch.arange(10).repeat_interleave(600)
    train, val = search_split(labels, seed=3, per_class=50, val_per_class=250)
    assert len(train) == 500 and len(val) == 2500 and not set(train.tolist()) & set(val.tolist())
    assert torch.equal(torch.bincount(labels[val]), torch.full((10,), 250))
    same_train, _ = search_split(labels, seed=3, per_class=50)
    assert torch.equal(train, same_train)  # the val count does not change which images train w
    with pytest.raises(ValueError, match="val_per_class to at most 300"):
        search_split(labels, seed=3, per_class=50, val_per_class=301)

"""A search on a generated ImageFolder tree: loading, resizing, the split and
its statistics, the record with a classifier sized to the classes, and the
one-line refusals of trees the search cannot use."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from milenas_lib.cli import main
from milenas_lib.config import ConfigError, SearchConfig, imagefolder_source
from milenas_lib.data import image_tree, make_search_data
from milenas_lib.records.io import load_checkpoint


def make_tree(root, classes: int, size: tuple[int, int], per_class: int, seed: int = 0):
    """``classes`` folders of ``per_class`` PNGs of ``size`` (width, height), each class its own mean colour."""
    rng = np.random.default_rng(seed)
    for index in range(classes):
        folder = root / f"kind{index}"
        folder.mkdir(parents=True)
        colour = rng.uniform(40, 215, 3)
        for n in range(per_class):
            pixels = np.clip(colour + rng.normal(0, 30, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{n}.png")
    return root


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MILENAS_CACHE_DIR", str(tmp_path / "cache"))


def run_cli(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


def test_the_dataset_names_a_folder_and_an_optional_resolution():
    assert imagefolder_source("imagefolder:/data/flowers") == ("/data/flowers", 32)
    assert imagefolder_source("imagefolder:/data/flowers@64") == ("/data/flowers", 64)
    assert imagefolder_source("cifar10") is None
    with pytest.raises(ConfigError, match="names no folder"):
        SearchConfig(dataset="imagefolder:")
    with pytest.raises(ConfigError, match="valid datasets are"):
        SearchConfig(dataset="imagenet")


def test_a_tree_of_40x30_images_is_resized_split_by_class_and_normalised_on_its_train_half(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "tree", classes=5, size=(40, 30), per_class=6)
    images = image_tree.load_image_tree(str(root), 32)
    assert images.train_images.shape == (30, 3, 32, 32) and images.classes == tuple(f"kind{i}" for i in range(5))
    assert images.provenance()["detail"]["resolution"] == 32
    data = make_search_data(images, batch_size=5, seed=0, device="cpu")
    train_idx, val_idx = data.split
    assert torch.bincount(images.train_labels[train_idx]).tolist() == [3] * 5  # class-balanced halves
    pixels = images.train_images[train_idx].double() / 255
    mean = data.provenance["normalization"]["mean"]
    assert mean == pytest.approx(pixels.mean(dim=(0, 2, 3)).tolist())
    batch = next(iter(data.val_eval.epoch(0)))[0]                      # un-augmented, so exactly normalised
    assert batch.shape == (5, 3, 32, 32)
    # Decoded once: a second load reads the cache.
    monkeypatch.setattr(image_tree, "decode_images", lambda *a: pytest.fail("decoded the tree again"))
    again = image_tree.load_image_tree(str(root), 32)
    assert torch.equal(again.train_images, images.train_images)


@pytest.mark.slow
def test_search_on_a_3_class_tree_writes_a_full_record_with_a_3_way_classifier(tmp_path, capsys):
    root = make_tree(tmp_path / "tree", classes=3, size=(24, 24), per_class=16)
    out = tmp_path / "run"
    assert run_cli(["search", "--method", "milenas", "--data", f"imagefolder:{root}", "--preset", "smoke",
                    "--device", "cpu", "--quiet", "--out", str(out)]) == 0
    record = json.loads((out / "record.json").read_text())
    assert record["completed"] and len(record["epochs"]) == 2 and record["num_classes"] == 3
    assert record["data_source"]["source"] == "imagefolder"
    assert record["data_source"]["detail"]["root"] == str(root)
    assert record["identity"]["settings"]["dataset"] == f"imagefolder:{root}"
    state = load_checkpoint(out / "checkpoint.pt")["state"]["model"]
    assert state["classifier.weight"].shape[0] == 3


def bad_trees(root):
    (root / "empty").mkdir()
    (root / "no_images" / "a").mkdir(parents=True)
    make_tree(root / "one_class", classes=1, size=(8, 8), per_class=4)
    make_tree(root / "unreadable", classes=2, size=(8, 8), per_class=20)
    (root / "unreadable" / "kind1" / "broken.png").write_bytes(b"not a png")
    make_tree(root / "tiny_class", classes=2, size=(8, 8), per_class=20)
    for extra in range(1, 20):
        (root / "tiny_class" / "kind1" / f"{extra}.png").unlink()
    make_tree(root / "small_classes", classes=2, size=(8, 8), per_class=10)  # the smoke preset takes 8 per half


@pytest.mark.parametrize("tree, message", [
    ("empty", "holds no class folders"),
    ("no_images", "holds no images"),
    ("one_class", "holds one class ('kind0'); a search needs at least 2"),
    ("unreadable", "cannot read image"),
    ("tiny_class", "class 'kind1'"),
    ("small_classes", "too few for 8 in each half"),
    ("missing", "does not exist"),
])
def test_each_bad_tree_gets_one_line_and_exit_status_2(tmp_path, capsys, tree, message):
    bad_trees(tmp_path)
    status = run_cli(["search", "--method", "milenas", "--data", f"imagefolder:{tmp_path / tree}", "--preset",
                      "smoke", "--device", "cpu", "--quiet", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and message in err and len(err.splitlines()) == 1, err
    if tree == "unreadable":
        assert "broken.png" in err
    assert not (tmp_path / "run" / "record.json").exists()


def test_a_batch_larger_than_the_train_half_is_refused_in_one_line(tmp_path, capsys):
    root = make_tree(tmp_path / "tree", classes=2, size=(8, 8), per_class=6)
    status = run_cli(["search", "--method", "milenas", "--data", f"imagefolder:{root}", "--preset", "smoke",
                      "--set", "per_class=null", "--batch-size", "32", "--device", "cpu", "--quiet",
                      "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "give no full batch of 32" in err and len(err.splitlines()) == 1

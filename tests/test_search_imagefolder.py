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
from milenas_lib.config import ConfigError, SearchConfig, imagefolder_source, search_config
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


@pytest.mark.parametrize("preset, resolution", [("smoke", 12), ("smoke", 64), ("medium", 20), ("medium", 32)])
def test_the_search_uses_the_resolution_of_the_folders_name(tmp_path, preset, resolution):
    """The preset's 32 (or the medium 16) px apply to CIFAR-10: @RES is what the search sees and records
    (it used to search at the preset's side, or crash where RES was no multiple of it)."""
    from milenas_lib.loops.searcher import Search

    root = make_tree(tmp_path / "tree", classes=2, size=(70, 50), per_class=8)
    config = search_config(preset, dataset=f"imagefolder:{root}@{resolution}", device="cpu", per_class=4,
                           batch_size=4, C=4, layers=3)
    search = Search(config)
    batch = next(iter(search.data.val_eval.epoch(0)))[0]
    assert batch.shape[-2:] == (resolution, resolution)
    assert search.record["config"]["resolution"] == resolution
    assert search.record["config"]["dataset"].endswith(f"@{resolution}")


def test_a_resolution_setting_that_contradicts_the_folders_name_is_refused_in_one_line(tmp_path, capsys):
    root = make_tree(tmp_path / "tree", classes=2, size=(8, 8), per_class=4)
    assert search_config("smoke", dataset=f"imagefolder:{root}@64", resolution=64).resolution == 64
    status = run_cli(["search", "--method", "milenas", "--data", f"imagefolder:{root}@64", "--preset", "smoke",
                      "--set", "resolution=16",
                      "--device", "cpu", "--quiet", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and f"imagefolder:{root}@16" in err, err
    assert not (tmp_path / "run").exists()


# --- trees that used to change the data silently -----------------------------------------------

def test_links_back_into_the_tree_and_hidden_entries_are_left_out(tmp_path):
    """``ln -s .. cat/loop`` read the whole tree again, dog images labelled cat (20 images became 820);
    a hidden ``.thumbnails/`` became a class, a hidden ``._0.png`` an image."""
    root = make_tree(tmp_path / "tree", classes=2, size=(8, 8), per_class=10)
    (root / "kind0" / "loop").symlink_to("..")
    (root / "kind0" / "self").symlink_to(".")
    (root / "kind1" / "sibling").symlink_to(root / "kind0")
    (root / "copy_of_kind0").symlink_to("kind0")
    make_tree(root / ".thumbnails", classes=1, size=(8, 8), per_class=3)
    (root / "kind1" / "._0.png").write_bytes(b"macOS metadata, not a png")
    outside = make_tree(tmp_path / "elsewhere", classes=1, size=(8, 8), per_class=4)
    (root / "kind1" / "more").symlink_to(outside / "kind0")  # a link out of the tree is followed
    classes, files = image_tree.list_images(root)
    assert classes == ["kind0", "kind1"]
    labels = [label for _, label in files]
    assert labels.count(0) == 10 and labels.count(1) == 14
    assert all("/kind0/" in path for path, label in files if label == 0)


def test_16_bit_palette_and_transparent_images_decode_to_their_colours(tmp_path):
    root = tmp_path / "tree"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    ramp = np.arange(64, dtype=np.uint16).reshape(8, 8) * 1024            # 0 .. 64512 of 65535
    Image.fromarray(ramp).save(root / "a" / "grey16.png")
    palette = Image.new("P", (8, 8))
    palette.putpalette([10, 200, 30] + [0, 0, 0] * 255)
    palette.save(root / "a" / "palette.png")
    Image.new("RGBA", (8, 8), (250, 5, 120, 255)).save(root / "b" / "rgba.png")
    Image.new("LA", (8, 8), (90, 255)).save(root / "b" / "grey_alpha.png")
    _, files = image_tree.list_images(root)
    images = image_tree.decode_images(files, 8)
    by_name = {path.rsplit("/", 1)[1]: image for (path, _), image in zip(files, images)}
    grey = by_name["grey16.png"][0].double()
    assert grey.flatten().tolist() == pytest.approx(np.rint(ramp.flatten() / 65535 * 255).tolist(), abs=1)
    assert (by_name["grey16.png"] == 255).double().mean() < 0.05      # was 99.4 % saturated
    assert by_name["palette.png"][:, 0, 0].tolist() == [10, 200, 30]
    assert by_name["rgba.png"][:, 0, 0].tolist() == [250, 5, 120]
    assert by_name["grey_alpha.png"][:, 0, 0].tolist() == [90, 90, 90]


def test_an_oversize_image_is_refused_in_one_line_before_decoding(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "tree", classes=2, size=(8, 8), per_class=2)
    Image.new("RGB", (40, 30)).save(root / "kind1" / "huge.png")
    monkeypatch.setattr(image_tree, "MAX_IMAGE_PIXELS", 1000)          # 40 x 30 = 1200
    _, files = image_tree.list_images(root)
    with pytest.raises(image_tree.ImageTreeError, match=r"huge.png of 40 x 30 pixels is larger than") as error:
        image_tree.decode_images(files, 8)
    assert "\n" not in str(error.value)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)                # Pillow's own guard: its error, one line
    with pytest.raises(image_tree.ImageTreeError, match="huge.png is larger than"):
        image_tree.decode_images(files, 8)


def test_a_changed_folder_is_another_run_not_a_resume(tmp_path, capsys):
    """The identity holds the folder's content: a class added (which used to be a ``size mismatch``
    traceback) or an image replaced (which used to be trained on silently) refuses the old checkpoint."""
    import os

    from milenas_lib.data.cifar10 import ImageSet

    root = make_tree(tmp_path / "tree", classes=2, size=(8, 8), per_class=4)
    first = image_tree.load_image_tree(str(root), 8)
    assert first.identity_source.startswith("imagefolder:") and first.identity_source != "imagefolder"
    again = image_tree.load_image_tree(str(root), 8)
    assert again.identity_source == first.identity_source
    Image.new("RGB", (8, 8), (1, 2, 3)).save(root / "kind0" / "0.png")  # replaced
    os.utime(root / "kind0" / "0.png", ns=(1, 1))
    assert image_tree.load_image_tree(str(root), 8).identity_source != first.identity_source
    cifar = ImageSet(first.train_images, first.train_labels, first.test_images, first.test_labels,
                     classes=first.classes, source="torchvision-cifar10")
    assert cifar.identity_source == "torchvision-cifar10"                 # CIFAR-10 identities unchanged
    out = tmp_path / "run"
    argv = ["search", "--method", "milenas", "--data", f"imagefolder:{root}@8", "--preset", "smoke", "--device", "cpu", "--quiet",
            "--set", "per_class=2", "--batch-size", "2", "--set", "C=4", "--set", "layers=3", "--epochs", "1",
            "--out", str(out)]
    assert run_cli(argv) == 0
    make_tree(tmp_path / "extra", classes=1, size=(8, 8), per_class=4)
    (tmp_path / "extra" / "kind0").rename(root / "kind9")                 # a class added
    capsys.readouterr()
    assert run_cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "data_source" in err, err

"""The evaluation loop: protocol pieces, records, resume, the ImageFolder path, tables and the CLI.

Everything runs on synthetic images or a tiny JPEG tree in tmp_path with
networks of a few thousand weights, so the file takes well under a minute
on a CPU.  The two-process DDP check is in test_distributed.py.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from milenas_lib.cli import main
from milenas_lib.config import ConfigError, TrainConfig, train_config
from milenas_lib.data.imagefolder import ImageFolderLayoutError, first_per_class, locate_splits
from milenas_lib.loops.distributed import DistributedContext
from milenas_lib.loops.train import drop_path_prob_at, learning_rate_at, run_training
from milenas_lib.loops.train_data import TensorData
from milenas_lib.loops.train_step import training_loss
from milenas_lib.networks import network_summary
from milenas_lib.paper.quoted import QUOTED_1, QUOTED_2
from milenas_lib.paper.tables import protocol_label, table1, table2
from milenas_lib.records.io import load_checkpoint
from milenas_lib.records.run_dir import CheckpointMismatchError
from milenas_lib.space.genotype import GENOTYPES

TINY = dict(dataset="synthetic", epochs=3, batch_size=16, C=4, layers=3, train_per_class=8, eval_batch_size=64,
            num_threads=1)
EPOCH_KEYS = {"epoch", "train_loss", "train_top1", "test_loss", "test_top1", "test_top5", "lr", "drop_path_prob",
              "epoch_time_s", "throughput_img_s"}


# --- presets -----------------------------------------------------------------

def test_paper_presets_state_the_protocols_of_guide_section_4():
    cifar = train_config("paper", dataset="cifar10")
    assert (cifar.epochs, cifar.batch_size, cifar.C, cifar.layers) == (600, 96, 36, 20)
    assert (cifar.learning_rate, cifar.momentum, cifar.weight_decay, cifar.lr_schedule, cifar.lr_min) == \
        (0.025, 0.9, 3e-4, "cosine", 0.0)
    assert (cifar.cutout, cifar.drop_path_prob, cifar.auxiliary, cifar.auxiliary_weight, cifar.grad_clip) == \
        (16, 0.2, True, 0.4, 5.0)
    assert cifar.label_smoothing == 0.0
    imagenet = train_config("paper", dataset="imagenet")
    assert (imagenet.epochs, imagenet.batch_size, imagenet.C, imagenet.layers, imagenet.resolution) == \
        (250, 128, 48, 14, 224)
    assert (imagenet.learning_rate, imagenet.weight_decay, imagenet.lr_schedule, imagenet.lr_decay) == \
        (0.1, 3e-5, "step", 0.97)
    assert (imagenet.label_smoothing, imagenet.drop_path_prob, imagenet.color_jitter, imagenet.auxiliary_weight) == \
        (0.1, 0.0, 0.4, 0.4)
    assert train_config("smoke", dataset="imagenet").lr_schedule == "step"  # smoke keeps the protocol's kind


@pytest.mark.parametrize("bad, message", [
    (dict(resolution=64), "native 32x32"),
    (dict(drop_path_prob=1.0), "drop_path_prob must lie in"),
    (dict(batch_size=10, micro_batches=4), "divisible by micro_batches"),
    (dict(compile=True), "drop-path ramp would recompile"),
    (dict(lr_schedule="linear"), "valid lr_schedules are: cosine, step"),
    (dict(epochs=2.5), "must be int"),
])
def test_bad_settings_are_refused_with_the_fix(bad, message):
    with pytest.raises(ConfigError, match=message):
        train_config("smoke", dataset="cifar10", **bad)


# --- the protocol, piece by piece ----------------------------------------------

def test_cosine_schedule_matches_torch_and_ends_near_zero():
    config = train_config("paper", dataset="cifar10", epochs=20)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs, eta_min=0.0)
    for epoch in range(config.epochs):
        assert learning_rate_at(config, epoch) == pytest.approx(scheduler.get_last_lr()[0], rel=1e-9, abs=1e-15)
        optimizer.step()
        scheduler.step()
    assert learning_rate_at(config, 0) == 0.025
    assert learning_rate_at(config, 10) == pytest.approx(0.0125)
    assert 0 < learning_rate_at(config, 19) < 0.025 * 0.01


def test_step_schedule_decays_by_097_per_epoch_as_step_lr():
    config = train_config("paper", dataset="imagenet")
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.97)
    for epoch in range(30):
        assert learning_rate_at(config, epoch) == pytest.approx(scheduler.get_last_lr()[0], rel=1e-9)
        optimizer.step()
        scheduler.step()
    assert learning_rate_at(config, 249) == pytest.approx(0.1 * 0.97 ** 249)
    every_two = config.override(lr_decay_epochs=2)
    assert [learning_rate_at(every_two, e) for e in range(4)] == pytest.approx([0.1, 0.1, 0.097, 0.097])


def test_drop_path_ramps_linearly_from_zero():
    config = train_config("paper", dataset="cifar10")
    assert drop_path_prob_at(config, 0) == 0.0
    assert drop_path_prob_at(config, 300) == pytest.approx(0.1)
    assert drop_path_prob_at(config, 599) == pytest.approx(0.2 * 599 / 600)
    assert drop_path_prob_at(train_config("paper", dataset="imagenet"), 100) == 0.0


def test_auxiliary_loss_is_added_with_its_weight():
    generator = torch.Generator().manual_seed(0)
    logits, aux = torch.randn(8, 10, generator=generator), torch.randn(8, 10, generator=generator)
    targets = torch.randint(10, (8,), generator=generator)
    expected = F.cross_entropy(logits, targets) + 0.4 * F.cross_entropy(aux, targets)
    assert training_loss(logits, aux, targets, 0.4, 0.0).item() == pytest.approx(expected.item(), rel=1e-6)
    assert training_loss(logits, None, targets, 0.4, 0.0).item() == pytest.approx(
        F.cross_entropy(logits, targets).item(), rel=1e-6)


def test_label_smoothing_mixes_the_target_with_the_uniform_distribution():
    generator = torch.Generator().manual_seed(1)
    logits, aux = torch.randn(6, 5, generator=generator), torch.randn(6, 5, generator=generator)
    targets = torch.randint(5, (6,), generator=generator)

    def smoothed(z: torch.Tensor) -> torch.Tensor:  # DARTS' CrossEntropyLabelSmooth, written out
        log_p = F.log_softmax(z, 1)
        soft = 0.9 * F.one_hot(targets, 5) + 0.1 / 5
        return -(soft * log_p).sum(1).mean()

    got = training_loss(logits, aux, targets, 0.4, 0.1)
    assert got.item() == pytest.approx((smoothed(logits) + 0.4 * smoothed(aux)).item(), rel=1e-6)


def test_training_batches_are_cut_out_and_test_batches_are_not():
    def zero_squares(config: TrainConfig) -> tuple[list[int], list[int]]:
        data = TensorData(config, DistributedContext(), torch.device("cpu"))
        x_train, _ = next(data.train_epoch(0))
        x_test, _ = next(data.eval_batches())
        def zeros(batch: torch.Tensor) -> list[int]:  # pixels zero in every channel
            return [int((image == 0).all(0).sum()) for image in batch]

        return zeros(x_train), zeros(x_test)

    train_zeros, test_zeros = zero_squares(TrainConfig(**{**TINY, "cutout": 16}))
    assert all(0 < count <= 16 * 16 for count in train_zeros)  # one square per image, clipped at the border
    assert sum(count == 256 for count in train_zeros) > 0
    assert not any(test_zeros)
    assert not any(zero_squares(TrainConfig(**{**TINY, "cutout": 0}))[0])


def test_per_class_subsets_take_the_first_images_of_each_class():
    labels = torch.tensor([0, 1, 0, 2, 1, 0, 2, 1, 2])
    assert first_per_class(labels, 2).tolist() == [0, 1, 2, 3, 4, 6]
    assert first_per_class(labels, None).tolist() == list(range(9))
    with pytest.raises(ValueError, match="fewer than the 4 per class"):
        first_per_class(labels, 4)


# --- the loop ------------------------------------------------------------------

def test_training_writes_a_complete_record_with_final_epoch_headline(tmp_path):
    result = run_training(TrainConfig(**TINY), tmp_path, progress=False)
    record = json.loads((tmp_path / "record.json").read_text())
    assert result.completed and record["completed"] and record["kind"] == "train"
    for key in ("seed", "git_commit", "config", "data_source", "epochs", "time_s", "params", "mult_adds",
                "final_test_top1", "final_test_top5", "genotype", "world_size"):
        assert key in record, key
    assert record["data_source"]["source"] == "synthetic" and record["data_source"]["test_images"] == 128
    assert [e["epoch"] for e in record["epochs"]] == [0, 1, 2]
    for epoch in record["epochs"]:
        assert EPOCH_KEYS <= set(epoch), EPOCH_KEYS - set(epoch)
        assert 0 <= epoch["test_top1"] <= epoch["test_top5"] <= 1 and 0 <= epoch["train_top1"] <= 1
        assert epoch["drop_path_prob"] == pytest.approx(0.2 * epoch["epoch"] / 3)
        assert epoch["lr"] == pytest.approx(learning_rate_at(TrainConfig(**TINY), epoch["epoch"]))
    last = record["epochs"][-1]
    assert (record["final_test_top1"], record["final_test_top5"]) == (last["test_top1"], last["test_top5"])
    assert record["epochs"][-1]["train_loss"] < record["epochs"][0]["train_loss"]
    assert record["accelerations"] == {"bf16": False, "channels_last": False, "compile": False,
                                       "sync_batchnorm": False}  # a CPU run is plain float32


def test_interrupted_training_resumes_bit_identical(tmp_path):
    config = TrainConfig(**TINY)  # drop path on: the generator state must resume too
    straight = run_training(config, tmp_path / "straight", progress=False)
    stopped = run_training(config, tmp_path / "resumed", stop_after_epochs=1, progress=False)
    assert not stopped.completed and stopped.record["final_test_top1"] is None
    resumed = run_training(config, tmp_path / "resumed", progress=False)
    assert resumed.completed and resumed.record["resumed"] == 1
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")["state"]
    b = load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["state"]
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name
    for x, y in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(x["momentum_buffer"], y["momentum_buffer"])
    for e1, e2 in zip(straight.record["epochs"], resumed.record["epochs"]):
        for key in ("train_loss", "test_loss", "test_top1", "test_top5", "lr", "drop_path_prob"):
            assert e1[key] == e2[key], key
    assert resumed.record["final_test_top1"] == straight.record["final_test_top1"]


def test_checkpoint_of_another_configuration_is_refused(tmp_path):
    run_training(TrainConfig(**TINY), tmp_path, stop_after_epochs=1, progress=False)
    with pytest.raises(CheckpointMismatchError, match=r"another configuration \(learning_rate: 0.025 -> 0.1\)"):
        run_training(TrainConfig(**{**TINY, "learning_rate": 0.1}), tmp_path, progress=False)
    # Settings that do not change the result may change on resume (e.g. micro_batches after running out of memory).
    resumed = run_training(TrainConfig(**{**TINY, "eval_batch_size": 32, "workers": 0}), tmp_path, progress=False)
    assert resumed.completed


# --- ImageFolder (ImageNet) ------------------------------------------------------

def make_image_tree(root: Path, eval_split: str = "val", classes: tuple[str, ...] = ("ant", "bee", "cat"),
                    train: int = 8, evaluate: int = 3) -> Path:
    """A few solid-colour-plus-noise JPEGs per class, ImageNet-style file names."""
    generator = torch.Generator().manual_seed(0)
    for split, count in (("train", train), (eval_split, evaluate)):
        for index, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True)
            colour = torch.tensor([80 * index + 40, 200 - 60 * index, 120]).view(3, 1, 1)
            for image_index in range(count):
                pixels = (colour + 30 * torch.randn(3, 40, 48, generator=generator)).clamp(0, 255).byte()
                Image.fromarray(pixels.permute(1, 2, 0).numpy()).save(folder / f"n{index:08d}_{image_index}.JPEG")
    return root


def test_imagenet_path_trains_end_to_end_on_an_image_folder_at_32px(tmp_path):
    root = make_image_tree(tmp_path / "tree")
    config = train_config("smoke", dataset="imagenet", data_root=str(root), epochs=2, batch_size=6, C=8, layers=3,
                          train_per_class=None, test_per_class=None, eval_batch_size=16, workers=0)
    result = run_training(config, tmp_path / "run", progress=False)
    record = result.record
    assert result.completed and record["dataset"] == "imagenet"
    source = record["data_source"]
    assert source["source"] == "imagefolder" and source["detail"]["eval_split"] == "val"
    assert (source["train_images"], source["test_images"], source["detail"]["classes"]) == (24, 9, 3)
    assert "not the 1000 classes" in source["detail"]["note"]
    assert record["top_k"] == 3 and record["final_test_top5"] == 1.0  # top-5 of 3 classes is certain
    assert record["steps_per_epoch"] == 4 and record["config"]["label_smoothing"] == 0.1
    assert record["epochs"][1]["lr"] == pytest.approx(config.learning_rate * 0.97)
    assert record["params"] > 0 and record["mult_adds"] > 0


def test_image_folder_falls_back_to_test_split_and_names_the_layout(tmp_path):
    train_dir, eval_dir = locate_splits(make_image_tree(tmp_path / "cifar_like", eval_split="test"))
    assert (train_dir.name, eval_dir.name) == ("train", "test")
    (tmp_path / "flat").mkdir()
    with pytest.raises(ImageFolderLayoutError, match=r"ROOT/train/<class>/\*\.JPEG and ROOT/val"):
        locate_splits(tmp_path / "flat")
    with pytest.raises(ImageFolderLayoutError, match="does not exist"):
        locate_splits(tmp_path / "missing")
    with pytest.raises(ImageFolderLayoutError, match="never downloads"):
        locate_splits(None)


def test_auxiliary_head_at_reduced_resolution_is_refused_before_any_work(tmp_path):
    config = train_config("smoke", dataset="imagenet", data_root=str(tmp_path / "absent"), auxiliary=True)
    with pytest.raises(ConfigError, match="auxiliary=False"):
        run_training(config, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


# --- tables --------------------------------------------------------------------

def fake_record(genotype: str, top1: float, seed: int, dataset: str = "cifar10", preset: str = "smoke") -> dict:
    config = train_config(preset, dataset=dataset, genotype=genotype, seed=seed)
    return {"kind": "train", "dataset": dataset, "completed": True, "config": config.to_dict(),
            "genotype": GENOTYPES[genotype].to_dict(), "final_test_top1": top1, "final_test_top5": 0.99,
            "params": 3_349_342, "mult_adds": 530_000_000, "search": None,
            "data_source": {"source": "cifar10-jpeg-archive", "train_images": 2500, "test_images": 1000}}


def test_table1_puts_our_final_epoch_mean_over_seeds_beside_quoted_rows(tmp_path):
    records = [fake_record("DARTS_V2", 0.97, 0), fake_record("DARTS_V2", 0.96, 1),
               fake_record("DARTS_V2", 0.972, 0, preset="paper")]
    frame = table1(records, csv_path=tmp_path / "table1.csv")
    quoted = frame[frame.source == QUOTED_1]
    assert len(quoted) == 15 and (quoted.protocol == "paper").all()
    assert quoted[quoted.architecture == "DARTS (second order)"].test_error.item() == 2.76
    ours = frame[frame.source == "ours"].set_index("protocol")
    reduced = ours.loc[[p for p in ours.index if p.startswith("reduced")][0]]
    assert reduced.n == 2 and reduced.test_error == pytest.approx(3.5)
    assert reduced.test_error_std == pytest.approx(math.sqrt(0.5))
    assert ours.loc["paper"].test_error == pytest.approx(2.8) and ours.loc["paper"].n == 1
    assert ours.loc["paper"].search_cost_gpu_days == 4 and "quoted" in ours.loc["paper"].note
    assert (tmp_path / "table1.csv").read_text().startswith("architecture,test_error")


@pytest.mark.slow
def test_table2_lists_imagenet_sizes_of_every_registered_genotype(tmp_path):
    frame = table2([fake_record("MILENAS_2_34", 0.75, 0, dataset="imagenet")], csv_path=tmp_path / "table2.csv")
    assert len(frame[frame.source == QUOTED_2]) == 13
    sizes = frame[frame.source == "ours (size only)"].set_index("architecture")
    assert set(sizes.index) == set(GENOTYPES)
    for name, genotype in GENOTYPES.items():
        summary = network_summary(genotype, "imagenet")
        assert sizes.loc[name].params_m == pytest.approx(summary["params"] / 1e6)
        assert sizes.loc[name].mult_adds_m == pytest.approx(summary["mult_adds"] / 1e6)
    assert sizes.loc["DARTS_V2"].params_m == pytest.approx(4.718752)
    ours = frame[frame.source == "ours"]
    assert ours.top1_error.item() == pytest.approx(25.0) and ours.protocol.item().startswith("reduced")


def test_protocol_label_names_what_differs_from_the_paper():
    assert protocol_label(fake_record("DARTS_V2", 0.9, 0, preset="paper")) == "paper"
    label = protocol_label(fake_record("DARTS_V2", 0.9, 0))
    assert label.startswith("reduced: 4 epochs, 8 cells, C=16") and "train_per_class" in label


# --- command line ----------------------------------------------------------------

def run_cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


def test_cli_trains_and_reports_the_data_source(tmp_path, capsys):
    argv = ["train", "--genotype", "DARTS_V2", "--dataset", "synthetic", "--quiet", "--epochs", "1",
            "--set", "C=4", "--set", "layers=3", "--set", "batch_size=32", "--set", "train_per_class=null",
            "--set", "test_per_class=null", "--out", str(tmp_path / "run")]
    assert run_cli(argv) == 0
    out = capsys.readouterr().out
    assert "data: synthetic (256 train / 128 test images)" in out and "final-epoch test top-1" in out
    assert json.loads((tmp_path / "run" / "record.json").read_text())["config"]["C"] == 4


@pytest.mark.parametrize("argv, message", [
    (["--genotype", "DARTS_V3"], "valid genotypes are: DARTS_V1, DARTS_V2"),
    (["--genotype", "DARTS_V2", "--dataset", "imagenet"], "ImageFolder tree from --data-root"),
    (["--genotype", "DARTS_V2", "--set", "C=3.5"], "setting 'C' must be int"),
    (["--genotype", "DARTS_V2", "--set", "colour=1"], "valid settings are"),
])
def test_cli_refuses_bad_train_input_with_one_line(tmp_path, capsys, argv, message):
    assert run_cli(["train", *argv, "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()

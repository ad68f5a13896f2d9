"""--tensorboard: each search's epochs as TensorBoard events, read back with TensorBoard's
own reader and compared with record.json (the source of truth)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from milenas_lib import experiments as ex
from milenas_lib.cli import main
from milenas_lib.loops.tensorboard import PIXELS_PER_CELL, alpha_heatmap, write_record_events

REPO = Path(__file__).resolve().parent.parent
TINY_SEARCH = {"dataset": "synthetic", "per_class": 2, "batch_size": 8, "C": 4, "layers": 3, "epochs": 2}
TINY_FLAGS = ["--data", "synthetic", "--set", "per_class=2", "--batch-size", "8", "--set", "C=4", "--set", "layers=3",
              "--epochs", "2", "--quiet"]


def read_events(folder: Path) -> EventAccumulator:
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events


def scalar(events: EventAccumulator, tag: str) -> tuple[list[int], list[float]]:
    """The steps and the values of one tag (pytest.approx takes flat lists only)."""
    written = events.Scalars(tag)
    return [e.step for e in written], [e.value for e in written]


def test_a_cli_search_writes_its_epochs_as_events(tmp_path):
    out, board = tmp_path / "run", tmp_path / "tb"
    assert main(["search", "--method", "milenas", "--out", str(out), "--tensorboard", str(board), *TINY_FLAGS]) == 0
    record = json.loads((out / "record.json").read_text())
    events = read_events(board / "run")
    epochs = record["epochs"]
    steps, values = scalar(events, "accuracy/search_val")
    assert steps == [e["epoch"] + 1 for e in epochs]
    assert values == pytest.approx([100 * e["val_acc"] for e in epochs], rel=1e-6)
    assert scalar(events, "accuracy/train_val_gap_pp")[1] == pytest.approx([100 * e["gap"] for e in epochs], abs=1e-5)
    assert scalar(events, "time/w_step_s")[1] == pytest.approx([e["w_step_s"] for e in epochs], rel=1e-6)
    images = events.Images("alpha/softmax_normal")
    assert [i.step for i in images] == [1, 2]
    assert (images[0].height, images[0].width) == (14 * PIXELS_PER_CELL, 8 * PIXELS_PER_CELL)
    assert "alpha/softmax_reduce" in events.Tags()["images"]


def test_tau_of_a_gumbel_run_and_no_epoch_twice_when_written_again(tmp_path):
    source = next(iter(sorted((REPO / "results" / "runs" / "medium" / "gdas").glob("*/record.json"))))
    record = json.loads(source.read_text())
    write_record_events(record, tmp_path / "gdas")
    write_record_events(record, tmp_path / "gdas")  # a resumed run rewrites its folder from its record
    events = read_events(tmp_path / "gdas")
    steps, taus = scalar(events, "schedule/tau")
    assert steps == [e["epoch"] + 1 for e in record["epochs"]]  # each epoch once
    assert taus == pytest.approx([e["tau"] for e in record["epochs"]], rel=1e-6)
    assert taus[0] > taus[-1]  # annealed


def test_the_heatmap_spans_the_weights_own_range():
    image = alpha_heatmap([[0.1, 0.3], [0.2, 0.1]])
    assert image.shape == (3, 2 * PIXELS_PER_CELL, 2 * PIXELS_PER_CELL) and image.dtype.name == "uint8"
    low, high = image[:, 0, 0], image[:, 0, PIXELS_PER_CELL]  # 0.1 and 0.3: the two ends of viridis
    assert tuple(low) != tuple(high) and (image[:, 0, 0] == image[:, -1, -1]).all()  # 0.1 twice, same colour


def test_without_tensorboard_installed_the_flag_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    assert main(["search", "--method", "milenas", "--out", str(tmp_path / "r"), "--tensorboard", str(tmp_path),
                 *TINY_FLAGS]) == 2
    err = capsys.readouterr().err
    assert "pip install -e '.[tensorboard]'" in err and "Traceback" not in err and not (tmp_path / "r").exists()


def test_a_notebook_writes_its_searches_events_under_the_cli_names(tmp_path, capsys):
    board = tmp_path / "tb"
    assert main(["search", "--method", "milenas", "--preset", "smoke", "--store", str(tmp_path), *TINY_FLAGS]) == 0
    nb = ex.open_notebook("01_search_walkthrough", {"search_overrides": TINY_SEARCH, "output_root": str(tmp_path),
                                                    "tensorboard": str(board), "reuse_only": True},
                          notebooks_dir=REPO / "notebooks")
    record = nb.search(["milenas_lam1"], seeds=[0])[0]
    folder = board / "milenas_lam1" / Path(record["run_dir"]).name
    assert len(scalar(read_events(folder), "accuracy/train")[0]) == len(record["epochs"])

"""The search loop: records, checkpoints, resume, and the CLI's refusals."""
from __future__ import annotations

import json
import warnings

import pytest
import torch

from milenas_lib.cli import main
from milenas_lib.config import SearchConfig
from milenas_lib.loops.search import param_range, run_search
from milenas_lib.records.run_dir import CheckpointMismatchError
from milenas_lib.records.io import load_checkpoint

TINY = dict(dataset="synthetic", C=4, layers=3, batch_size=8, per_class=4, epochs=2, num_threads=1)
EPOCH_KEYS = {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "gap", "alphas", "softmax", "genotype",
              "convs", "params", "skip_connects", "entropy", "w_lr", "alpha_lr", "alpha_step_s", "w_step_s",
              "eval_s", "peak_mem_mib", "load_1min"}


@pytest.mark.slow
@pytest.mark.parametrize("method", ["milenas", "darts_2nd", "gdas"])
def test_search_writes_a_complete_record(tmp_path, method):
    result = run_search(SearchConfig(method=method, **TINY), tmp_path, progress=False)
    record = json.loads((tmp_path / "record.json").read_text())
    assert result.completed and record["completed"]
    for key in ("seed", "git_commit", "genotype", "time_s", "buckets", "params", "config", "torch", "data_source"):
        assert key in record, key
    assert record["data_source"]["source"] == "synthetic"
    assert len(record["epochs"]) == 2
    for epoch in record["epochs"]:
        assert EPOCH_KEYS <= set(epoch), EPOCH_KEYS - set(epoch)
        assert epoch["load_1min"] >= 0  # how busy the machine was (Linux has a load average)
        assert epoch["gap"] == pytest.approx(epoch["train_acc"] - epoch["val_acc"])
        assert torch.tensor(epoch["softmax"]["normal"]).sum(-1).allclose(torch.ones(14))
    assert ("tau" in record["epochs"][-1]) == (method == "gdas")
    if method == "gdas":
        assert record["epochs"][-1]["tau"] == pytest.approx(SearchConfig().tau_min)
    best = max(e["val_acc"] for e in record["epochs"])
    assert max(b["val_acc"] for b in record["buckets"]["convs"].values()) == best
    assert max(b["val_acc"] for b in record["buckets"]["params"].values()) == best


@pytest.mark.slow
def test_interrupted_search_resumes_to_the_same_end(tmp_path):
    config = SearchConfig(method="milenas_gumbel", **TINY)
    straight = run_search(config, tmp_path / "straight", progress=False)
    # Stop mid-epoch (step 3 of 5), then twice more across the epoch boundary.
    assert not run_search(config, tmp_path / "resumed", stop_after_steps=3, progress=False).completed
    assert not run_search(config, tmp_path / "resumed", stop_after_steps=4, progress=False).completed
    resumed = run_search(config, tmp_path / "resumed", progress=False)
    assert resumed.completed and resumed.record["resumed"] == 2
    assert resumed.genotype == straight.genotype
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")["state"]["model"]
    b = load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["state"]["model"]
    for name in a:
        assert torch.equal(a[name], b[name]), name  # bit-identical on the CPU, α and w alike
    for e1, e2 in zip(straight.record["epochs"], resumed.record["epochs"]):
        assert e1["train_loss"] == e2["train_loss"] and e1["val_acc"] == e2["val_acc"]


def test_resuming_after_an_epochs_last_step_warns_about_nothing(tmp_path):
    """Resumed there, the process steps the schedule before any optimizer step:
    right here, so torch's warning about that order is not shown."""
    config = SearchConfig(method="milenas", **{**TINY, "per_class": 2})  # one step per epoch
    # Stopped after the second epoch's only step, as notebook 8 stops its measured search.
    assert not run_search(config, tmp_path, stop_after_steps=2, progress=False).completed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run_search(config, tmp_path, progress=False).completed


def test_checkpoint_of_another_configuration_is_refused(tmp_path):
    run_search(SearchConfig(method="milenas", **TINY), tmp_path, stop_after_steps=1, progress=False)
    with pytest.raises(CheckpointMismatchError, match=r"another configuration \(lam: 1.0 -> 0.1\)"):
        run_search(SearchConfig(method="milenas", lam=0.1, **TINY), tmp_path, progress=False)


def run_cli(argv: list[str]) -> int:
    """The exit status of ``python -m milenas_lib ARGV`` (argparse exits itself)."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


@pytest.mark.parametrize("bad, message", [
    (["--method", "enas"], "invalid choice"),
    (["--method", "milenas", "--lambda", "-1"], "λ (lam) must be a finite number >= 0"),
    (["--method", "milenas", "--lambda", "nan"], "λ (lam) must be a finite number >= 0"),
    (["--method", "milenas", "--lambda", "inf"], "λ (lam) must be a finite number >= 0"),
    (["--method", "milenas", "--epochs", "0"], "must be a positive integer"),
])
def test_cli_refuses_bad_search_input_before_work(tmp_path, capsys, bad, message):
    assert run_cli(["search", *bad, "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_param_ranges_are_half_a_million_wide():
    assert param_range(3_349_342) == "3.0-3.5M"
    assert param_range(3_874_222) == "3.5-4.0M"


def test_checkpoint_of_another_record_format_is_refused(tmp_path):
    from milenas_lib.records.io import load_checkpoint, save_checkpoint

    config = SearchConfig(method="milenas", **TINY)
    run_search(config, tmp_path, stop_after_steps=1, progress=False)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    save_checkpoint(tmp_path / "checkpoint.pt", {**state, "format": 0, "identity": {**state["identity"], "format": 0}})
    with pytest.raises(CheckpointMismatchError, match="record format"):
        run_search(config, tmp_path, progress=False)

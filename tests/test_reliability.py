"""Interrupted, concurrent and failing runs: nothing lost, nothing interleaved."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from milenas_lib.config import SearchConfig
from milenas_lib.loops.search import run_search
from milenas_lib.records.guard import DiskSpaceError, RunLockedError, run_lock
from milenas_lib.records.io import load_checkpoint

TINY = dict(dataset="synthetic", C=4, layers=3, batch_size=8, per_class=4, epochs=2, num_threads=1,
            checkpoint_every_steps=1)


def _search_in_subprocess(config: SearchConfig, out_dir) -> subprocess.Popen:
    code = ("import sys; from milenas_lib.config import SearchConfig; from milenas_lib.loops.search import "
            "run_search; run_search(SearchConfig(**eval(sys.argv[1])), sys.argv[2], progress=False)")
    return subprocess.Popen([sys.executable, "-c", code, repr(config.to_dict()), str(out_dir)],
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_search_killed_at_a_random_step_resumes_bit_identical(tmp_path):
    config = SearchConfig(method="milenas", **TINY)
    straight = run_search(config, tmp_path / "straight", progress=False)
    process = _search_in_subprocess(config, tmp_path / "killed")
    checkpoint = tmp_path / "killed" / "checkpoint.pt"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(random.Random(os.getpid()).uniform(0.0, 1.0))  # somewhere in the run, maybe mid-write
    process.send_signal(signal.SIGKILL)
    process.wait()
    # Whatever the moment, the files on disk are whole.
    load_checkpoint(checkpoint)
    json.loads((tmp_path / "killed" / "record.json").read_text())
    resumed = run_search(config, tmp_path / "killed", progress=False)
    assert resumed.completed and resumed.genotype == straight.genotype
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")["model"]
    b = load_checkpoint(checkpoint)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not list((tmp_path / "killed").glob(".*.tmp"))


def test_second_run_on_the_same_directory_is_refused(tmp_path):
    with run_lock(tmp_path):
        with pytest.raises(RunLockedError, match="another run is writing"):
            run_search(SearchConfig(method="milenas", **TINY), tmp_path, progress=False)
    assert not (tmp_path / "record.json").exists()


def test_lock_is_released_when_the_holder_dies(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from milenas_lib.records.guard import run_lock\n"
                               "with run_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)",
                               str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(RunLockedError):
        with run_lock(tmp_path):
            pass
    holder.kill()
    holder.wait()
    with run_lock(tmp_path):
        pass


def test_full_disk_is_refused_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    config = SearchConfig(method="milenas", **TINY)
    run_search(config, tmp_path, stop_after_steps=2, progress=False)
    before = load_checkpoint(tmp_path / "checkpoint.pt")
    import milenas_lib.records.guard as guard

    monkeypatch.setattr(guard.shutil, "disk_usage", lambda path: type("U", (), {"free": 1024})())
    with pytest.raises(DiskSpaceError, match="MiB free"):
        run_search(config, tmp_path, progress=False)
    after = load_checkpoint(tmp_path / "checkpoint.pt")
    assert after["batch"] == before["batch"] and after["epoch"] == before["epoch"]


def test_non_finite_loss_stops_with_the_step_named_and_keeps_the_checkpoint(tmp_path):
    config = SearchConfig(method="milenas", w_lr=1e12, w_lr_min=0.0, grad_clip=1e30, **TINY)
    with pytest.raises(FloatingPointError, match=r"non-finite train loss or weights at epoch \d+, step \d+"):
        run_search(config, tmp_path, progress=False)
    record = json.loads((tmp_path / "record.json").read_text())
    assert "non-finite" in record["failure"]
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())


def test_same_seed_same_record_on_the_cpu(tmp_path):
    config = SearchConfig(method="darts_1st", **TINY)
    run_search(config, tmp_path / "a", progress=False)
    run_search(config, tmp_path / "b", progress=False)
    first, second = (json.loads((tmp_path / run / "record.json").read_text()) for run in "ab")
    assert first["deterministic"] is True
    timing = {"alpha_step_s", "w_step_s", "eval_s", "peak_mem_mib"}
    for e1, e2 in zip(first["epochs"], second["epochs"]):
        assert {k: v for k, v in e1.items() if k not in timing} == {k: v for k, v in e2.items() if k not in timing}


def test_missing_data_and_missing_gpu_leave_nothing_behind(tmp_path, monkeypatch):
    from milenas_lib.data import DataNotFoundError

    monkeypatch.setenv("MILENAS_CIFAR10_ARCHIVE", str(tmp_path / "nowhere.tar.gz"))
    with pytest.raises(DataNotFoundError):
        run_search(SearchConfig(method="milenas", **{**TINY, "dataset": "cifar10"}), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU is visible; use --device cpu"):
            run_search(SearchConfig(method="milenas", device="cuda", **TINY), tmp_path / "gpu", progress=False)
        assert not (tmp_path / "gpu").exists()


def test_gpu_out_of_memory_suggests_a_batch_size(tmp_path, monkeypatch):
    import milenas_lib.loops.search as search

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(search, "make_search_data", out_of_memory)
    with pytest.raises(RuntimeError, match="out of GPU memory at batch size 8; try --batch-size 4"):
        run_search(SearchConfig(method="milenas", **TINY), tmp_path / "run", progress=False)


def test_training_killed_at_a_random_moment_resumes_bit_identical(tmp_path):
    from milenas_lib.config import TrainConfig
    from milenas_lib.loops.train import run_training

    config = TrainConfig(dataset="synthetic", epochs=3, batch_size=16, C=4, layers=3, train_per_class=8,
                         eval_batch_size=64, num_threads=1)
    straight = run_training(config, tmp_path / "straight", progress=False)
    code = ("import sys; from milenas_lib.config import TrainConfig; from milenas_lib.loops.train import "
            "run_training; run_training(TrainConfig(**eval(sys.argv[1])), sys.argv[2], progress=False)")
    process = subprocess.Popen([sys.executable, "-c", code, repr(config.to_dict()), str(tmp_path / "killed")],
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    checkpoint = tmp_path / "killed" / "checkpoint.pt"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(random.Random(os.getpid()).uniform(0.0, 0.5))
    process.send_signal(signal.SIGKILL)
    process.wait()
    load_checkpoint(checkpoint)
    resumed = run_training(config, tmp_path / "killed", progress=False)
    assert resumed.completed
    assert resumed.record["final_test_top1"] == straight.record["final_test_top1"]
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")["model"]
    b = load_checkpoint(checkpoint)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("call, bad, message", [
    ("resolve_seeds", "[0, 'x']", "seeds must be a list of integers"),
    ("resolve_seeds", "[]", "seeds is empty"),
    ("resolve_overrides", "[1, 2]", "overrides must be a mapping"),
])
def test_papermill_parameters_of_the_wrong_type_are_refused(call, bad, message):
    """Notebook parameters arrive from papermill as text; each is checked by the
    library before any work, with a message that shows the expected form."""
    from milenas_lib import experiments

    function = getattr(experiments, call)
    with pytest.raises(ValueError, match=message):
        function(bad, "smoke") if call == "resolve_seeds" else function(bad)


def test_a_search_override_of_the_wrong_type_is_refused():
    from milenas_lib.config import ConfigError, search_config

    with pytest.raises(ConfigError, match="setting 'epochs' must be int"):
        search_config("smoke", **{"epochs": "3"})

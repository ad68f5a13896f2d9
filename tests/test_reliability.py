"""Interrupted, concurrent, damaged and failing runs: nothing lost, nothing forged.

The kill tests run the command line in a forked child that SIGKILLs itself
right after its N-th ``os.replace`` (every file the kit commits goes through
one), for every N a short run makes, then run the same command again and
compare the whole record with an uninterrupted run's, timings and provenance
aside.  Forking keeps them fast: torch is imported once.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from milenas_lib.cli import main
from milenas_lib.config import SearchConfig, TrainConfig, result_settings, search_config
from milenas_lib.flags import key_value
from milenas_lib.loops.search import run_search
from milenas_lib.records.guard import DiskSpaceError, RunLockedError, run_lock
from milenas_lib.records.io import load_checkpoint
from milenas_lib.records.run_dir import NonFiniteError

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY = dict(dataset="synthetic", C=4, layers=3, batch_size=8, per_class=2, epochs=2, num_threads=1,
            checkpoint_every_steps=None, checkpoint_every_minutes=None)
SEARCH = ["search", "--method", "milenas", "--dataset", "synthetic", "--epochs", "2", "--batch-size", "8",
          "--num-threads", "1", "--set", "C=4", "--set", "layers=3", "--set", "per_class=2", "--quiet"]
TRAIN = ["train", "--genotype", "DARTS_V2", "--dataset", "synthetic", "--epochs", "2", "--num-threads", "1", "--quiet",
         "--set", "C=4", "--set", "layers=3", "--set", "batch_size=16", "--set", "train_per_class=4",
         "--set", "test_per_class=4", "--set", "eval_batch_size=64"]
NO_MID_EPOCH = ["--set", "checkpoint_every_steps=null", "--set", "checkpoint_every_minutes=null"]
PROVENANCE = {"git_commit", "milenas_lib", "python", "torch", "torchvision", "numpy", "device", "device_name",
              "platform", "created", "time_s", "gpu_hours", "resumed", "digest"}
TIMING = {"alpha_step_s", "w_step_s", "eval_s", "peak_mem_mib", "epoch_time_s", "train_s", "throughput_img_s", "load_1min"}


def read_record(out: Path) -> dict:
    return json.loads((out / "record.json").read_text())


def comparable(record: dict) -> dict:
    """The record without timings and provenance, and with only the settings that change the result."""
    kind = TrainConfig if record["kind"] == "train" else SearchConfig
    result = {k: v for k, v in record.items() if k not in PROVENANCE}
    result["config"] = {k: v for k, v in record["config"].items() if k in result_settings(kind())}
    result["epochs"] = [{k: v for k, v in epoch.items() if k not in TIMING} for epoch in record["epochs"]]
    return result


def run_killed_after(argv: list[str], commits: int) -> tuple[int, str]:
    """``python -m milenas_lib ARGV`` in a forked child that SIGKILLs itself right
    after its ``commits``-th ``os.replace`` (0: never).  Returns the wait status
    and, for a child that finished, "EXIT_CODE REPLACES"."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            count, real_replace = [0], os.replace

            def replace(*args, **kwargs):
                real_replace(*args, **kwargs)
                count[0] += 1
                if count[0] == commits:
                    os.kill(os.getpid(), signal.SIGKILL)

            os.replace = replace
            code = main(argv)
            os.write(write_end, f"{code} {count[0]}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read_end) as pipe:
        return status, pipe.read()


@pytest.fixture(scope="module")
def straight_search(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("straight") / "search"
    assert main([*SEARCH, *NO_MID_EPOCH, "--out", str(out)]) == 0
    return read_record(out)


def kill_after_every_commit(tmp_path: Path, argv_for, straight: dict) -> int:
    status, report = run_killed_after(argv_for(tmp_path / "counted"), 0)
    code, replaces = map(int, report.split())
    assert code == 0 and comparable(read_record(tmp_path / "counted")) == comparable(straight)
    for commit in range(1, replaces + 1):
        out = tmp_path / f"killed_after_{commit}"
        status, _ = run_killed_after(argv_for(out), commit)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, commit
        assert main(argv_for(out)) == 0, commit  # the same command
        assert comparable(read_record(out)) == comparable(straight), f"killed after commit {commit}"
        assert not list(out.glob(".*.tmp"))
    return replaces


# --- row 1: a kill after any file commit resumes to the uninterrupted record ------------

@pytest.mark.slow
def test_search_killed_after_every_file_commit_resumes_to_the_uninterrupted_record(tmp_path, straight_search):
    argv = lambda out: [*SEARCH, "--set", "checkpoint_every_steps=1", "--set", "checkpoint_every_minutes=null",
                        "--out", str(out)]
    replaces = kill_after_every_commit(tmp_path, argv, straight_search)
    assert replaces == 8  # 2 epochs x (a mid-epoch and an epoch-end checkpoint) x (checkpoint, record)


@pytest.mark.slow
def test_training_killed_after_every_file_commit_resumes_to_the_uninterrupted_record(tmp_path):
    assert main([*TRAIN, *NO_MID_EPOCH[2:], "--out", str(tmp_path / "straight")]) == 0
    straight = read_record(tmp_path / "straight")
    # A checkpoint after every step: the mid-epoch path too.
    argv = lambda out: [*TRAIN, "--set", "checkpoint_every_minutes=1e-9", "--out", str(out)]
    assert kill_after_every_commit(tmp_path, argv, straight) == 8


# --- row 2: each epoch keeps the α it ended with -------------------------------------

def test_each_epoch_records_its_own_alpha(straight_search):
    first, last = straight_search["epochs"]
    assert first["alphas"] != last["alphas"]
    for epoch in (first, last):
        softmax = torch.tensor(epoch["alphas"]["normal"]).softmax(-1)
        assert torch.allclose(softmax, torch.tensor(epoch["softmax"]["normal"]))


# --- interruptions ---------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_checkpoints_at_the_next_step_and_the_same_command_finishes(tmp_path, straight_search, signum):
    argv = [*SEARCH, *NO_MID_EPOCH, "--out", str(tmp_path / "run")]
    process = subprocess.Popen([sys.executable, "-m", "milenas_lib", *argv], cwd=REPO_ROOT, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)})
    deadline = time.time() + 120
    while not (tmp_path / "run" / ".lock").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the run has its handlers: it is loading data or stepping
    process.send_signal(signum)
    sent = time.time()
    _, stderr = process.communicate(timeout=120)
    assert time.time() - sent < 30  # the next step boundary, then one checkpoint
    assert process.returncode == 128 + signum
    assert re.fullmatch(r"interrupted at epoch 0 step \d+; run the same command to resume", stderr.strip()), stderr
    assert (tmp_path / "run" / "checkpoint.pt").exists()
    assert main(argv) == 0
    assert comparable(read_record(tmp_path / "run")) == comparable(straight_search)


def test_training_stops_at_the_next_step_on_sigterm_and_resumes_mid_epoch(tmp_path, monkeypatch):
    from milenas_lib.loops.train import run_training
    from milenas_lib.records.run_dir import RunInterrupted

    config = TrainConfig(dataset="synthetic", epochs=2, batch_size=16, C=4, layers=3, train_per_class=4,
                         test_per_class=4, eval_batch_size=64, num_threads=1, checkpoint_every_minutes=None)
    straight = run_training(config, tmp_path / "straight", progress=False)
    import milenas_lib.loops.train_step as train_step

    calls, loss = [], train_step.training_loss

    def signal_during_the_first_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return loss(*args, **kwargs)

    monkeypatch.setattr(train_step, "training_loss", signal_during_the_first_step)
    with pytest.raises(RunInterrupted, match="interrupted at epoch 0 step 1; run the same command to resume") as stop:
        run_training(config, tmp_path / "run", progress=False)
    assert stop.value.exit_code == 143
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["state"]["mid_epoch"] is not None
    resumed = run_training(config, tmp_path / "run", progress=False)
    assert comparable(resumed.record) == comparable(straight.record)


# --- row 4: races ----------------------------------------------------------------------

@pytest.mark.slow
def test_two_runs_started_together_on_a_new_out(tmp_path):
    argv = [sys.executable, "-m", "milenas_lib", *SEARCH, *NO_MID_EPOCH, "--out", str(tmp_path / "run")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    runs = [subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = sorted((run.wait(timeout=300), run.stderr.read()) for run in runs)
    assert [code for code, _ in results] == [0, 2], results
    assert "another run is writing into" in results[1][1]
    record = read_record(tmp_path / "run")
    assert record["completed"] and (tmp_path / "run" / "checkpoint.pt").exists()


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


# --- row 5: a finished result is never overwritten by another configuration --------------

def test_a_finished_search_without_its_checkpoint_refuses_another_configuration(tmp_path, straight_search):
    out = tmp_path / "run"
    out.mkdir()
    (out / "record.json").write_text(json.dumps(straight_search))
    with pytest.raises(Exception, match=r"another configuration \(lam: 1.0 -> 0.1\)"):
        run_search(SearchConfig(method="milenas", **{**TINY, "lam": 0.1}), out, progress=False)
    assert read_record(out) == straight_search
    again = run_search(SearchConfig(method="milenas", **TINY), out, progress=False)  # the same settings: done
    assert again.completed and again.record == straight_search and not (out / "checkpoint.pt").exists()


# --- clear one-line refusals at the command line -------------------------------------------

@pytest.mark.parametrize("damage, message", [
    ("out-is-a-file", "is a file, not a folder"),
    ("empty-checkpoint", "checkpoint.pt cannot be read (truncated or not a checkpoint)"),
    ("garbage-checkpoint", "checkpoint.pt cannot be read (truncated or not a checkpoint)"),
    ("empty-record", "record.json is not a record of this kit"),
])
def test_damaged_run_folders_exit_2_with_one_line_and_nothing_written(tmp_path, capsys, damage, message):
    out = tmp_path / "run"
    if damage == "out-is-a-file":
        out.write_text("x")
    else:
        out.mkdir()
        name = "record.json" if damage == "empty-record" else "checkpoint.pt"
        (out / name).write_bytes({"empty-checkpoint": b"", "garbage-checkpoint": b"PK\x03garbage",
                                  "empty-record": b"{}"}[damage])
    before = {p.name: p.read_bytes() for p in out.iterdir()} if out.is_dir() else out.read_bytes()
    assert main([*SEARCH, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".lock"} if out.is_dir() else out.read_bytes()
    assert after == before


# --- failures -------------------------------------------------------------------------------

def test_full_disk_is_refused_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    config = SearchConfig(method="milenas", **TINY)
    run_search(config, tmp_path, stop_after_steps=1, progress=False)
    before = load_checkpoint(tmp_path / "checkpoint.pt")["state"]
    import milenas_lib.records.guard as guard

    monkeypatch.setattr(guard.shutil, "disk_usage", lambda path: type("U", (), {"free": 1024})())
    with pytest.raises(DiskSpaceError, match="MiB free"):
        run_search(config, tmp_path, progress=False)
    after = load_checkpoint(tmp_path / "checkpoint.pt")["state"]
    assert after["batch"] == before["batch"] and after["epoch"] == before["epoch"]


@pytest.mark.parametrize("every_step", [True, False])
def test_non_finite_loss_names_the_step_and_tells_the_truth_about_the_checkpoint(tmp_path, every_step):
    config = SearchConfig(method="milenas", **{**TINY, "w_lr": 1e12, "w_lr_min": 0.0, "grad_clip": 1e30,
                                              "checkpoint_every_steps": 1 if every_step else None})
    with pytest.raises(NonFiniteError, match=r"non-finite train loss or weights at epoch \d+, step \d+") as error:
        run_search(config, tmp_path, progress=False)
    message = str(error.value)
    assert read_record(tmp_path)["failure"] == message
    if (tmp_path / "checkpoint.pt").exists():
        assert "checkpoint in" in message and "is kept" in message
        state = load_checkpoint(tmp_path / "checkpoint.pt")["state"]
        assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())
    else:
        assert "is kept" not in message and "no checkpoint had been written" in message
    # The advice is one the kit accepts: its --set flags make a valid configuration.
    flags = re.findall(r"--set (\w+=[0-9.e+-]+\d)", message)
    assert flags and search_config("smoke", **dict(key_value(flag) for flag in flags))
    assert "new --out" in message


@pytest.mark.slow
def test_same_seed_same_record_on_the_cpu(tmp_path, straight_search):
    config = SearchConfig(method="milenas", **TINY)
    again = run_search(config, tmp_path / "again", progress=False)
    assert again.record["deterministic"] is True
    assert comparable(read_record(tmp_path / "again")) == comparable(straight_search)


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
    import milenas_lib.loops.searcher as searcher

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(searcher, "make_search_data", out_of_memory)
    with pytest.raises(RuntimeError, match="out of GPU memory at batch size 8; try --batch-size 4"):
        run_search(SearchConfig(method="milenas", **TINY), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


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

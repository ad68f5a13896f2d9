"""The run directory on its own: lock before deciding, refusals, hostile files, temporary files, identity.

No training here: each test drives :class:`RunDir` (or the file helpers) directly,
so the file runs in seconds.  The loops' use of it is in test_reliability.py.
"""
from __future__ import annotations

import fcntl
import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from milenas_lib.config import SearchConfig, TrainConfig, protocol_settings, result_settings
from milenas_lib.records.guard import RunLockedError
from milenas_lib.records.identity import RECORD_FORMAT, identity_differences, run_identity
from milenas_lib.records.io import load_checkpoint, remove_stale_temporaries, write_json
from milenas_lib.records.trust import seal
from milenas_lib.records.run_dir import (
    CheckpointMismatchError,
    CorruptRunError,
    GPUOutOfMemoryError,
    OutDirError,
    RunDir,
    RunInterrupted,
)

IDENTITY = run_identity(SearchConfig(dataset="synthetic"), "synthetic")


def open_run(path: Path) -> RunDir:
    return RunDir(path, oom_advice="at batch size 8; try --batch-size 4")


def committed_run(path: Path, completed: bool = False) -> dict:
    record = {"format": RECORD_FORMAT, "kind": "search", "identity": IDENTITY, "epochs": [], "completed": completed}
    with open_run(path) as run:
        assert run.resume(IDENTITY) is None
        run.commit(record, {"weights": torch.arange(3.0), "rng": torch.get_rng_state(), "epoch": 1})
    return record


# --- identity --------------------------------------------------------------------

def test_roles_are_marked_once_and_numerics_change_the_identity():
    search = result_settings(SearchConfig())
    for runtime in ("device", "num_threads", "data_root", "checkpoint_every_steps", "checkpoint_every_minutes"):
        assert runtime not in search
    assert {"channels_last", "bf16", "lam", "seed"} <= set(search)
    train = result_settings(TrainConfig())
    for runtime in ("device", "workers", "eval_batch_size", "micro_batches", "sync_batchnorm", "data_root"):
        assert runtime not in train
    assert {"bf16", "channels_last", "compile", "genotype"} <= set(train)
    assert not {"seed", "genotype", "bf16", "channels_last"} & set(protocol_settings(TrainConfig()))
    assert run_identity(SearchConfig(channels_last=False), "synthetic") != run_identity(SearchConfig(), "synthetic")
    assert run_identity(SearchConfig(device="cpu", num_threads=3), "x") == run_identity(SearchConfig(), "x")


def test_identity_includes_the_data_source_and_the_record_format():
    official = run_identity(SearchConfig(), "torchvision-cifar10")
    jpeg = run_identity(SearchConfig(), "cifar10-jpeg-archive")
    assert official != jpeg
    assert identity_differences(official, jpeg) == ["data_source: 'torchvision-cifar10' -> 'cifar10-jpeg-archive'"]
    assert identity_differences({**official, "format": 1}, official) == [f"record format: 1 -> {RECORD_FORMAT}"]
    lam = run_identity(SearchConfig(lam=0.1), "torchvision-cifar10")
    assert identity_differences(official, lam) == ["lam: 1.0 -> 0.1"]


# --- lock first, clean up only what this process made -------------------------------

def test_a_refused_run_never_deletes_the_folder_another_run_holds(tmp_path, monkeypatch):
    """Both runs see a new --out: the other process takes the lock between this
    run's creating the folder and its locking; this run is refused and must
    leave the folder, and the other's lock, alone."""
    out = tmp_path / "new"
    holder: list[subprocess.Popen] = []
    real_flock = fcntl.flock

    def flock_after_the_other_run(handle, operation):
        if not holder:
            code = ("import sys, time; from pathlib import Path; from milenas_lib.records.guard import run_lock\n"
                    "with run_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)")
            holder.append(subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True))
            assert holder[0].stdout.readline().strip() == "held"
        return real_flock(handle, operation)

    monkeypatch.setattr(fcntl, "flock", flock_after_the_other_run)
    try:
        with pytest.raises(RunLockedError, match="another run is writing"):
            with open_run(out):
                pass
        monkeypatch.setattr(fcntl, "flock", real_flock)
        assert (out / ".lock").exists()
        with pytest.raises(RunLockedError):  # the holder still holds the very lock file in the folder
            with open_run(out):
                pass
    finally:
        for process in holder:
            process.kill()
            process.wait()


def test_a_failed_run_removes_only_the_folder_it_created(tmp_path):
    with pytest.raises(ValueError, match="boom"):
        with open_run(tmp_path / "new"):
            raise ValueError("boom")
    assert not (tmp_path / "new").exists()
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError):
        with open_run(tmp_path / "old"):
            raise ValueError("boom")
    assert (tmp_path / "old" / "notes.txt").read_text() == "mine"


def test_out_of_gpu_memory_is_translated_with_the_advice(tmp_path):
    with pytest.raises(GPUOutOfMemoryError, match="out of GPU memory at batch size 8; try --batch-size 4"):
        with open_run(tmp_path / "run"):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
    assert not (tmp_path / "run").exists()


# --- hostile and damaged files -------------------------------------------------------

class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_planted_checkpoint_cannot_run_code(tmp_path):
    marker = tmp_path / "code-ran"
    (tmp_path / "run").mkdir()
    with open(tmp_path / "run" / "checkpoint.pt", "wb") as handle:
        pickle.dump({"format": RECORD_FORMAT, "state": _Payload(marker)}, handle, protocol=2)
    with pytest.raises(Exception):
        load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    with pytest.raises(CorruptRunError, match="could run code"):
        with open_run(tmp_path / "run"):
            pass
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"garbage, not a checkpoint", "truncated"])
def test_damaged_checkpoint_is_refused_in_one_line_and_left_as_it_is(tmp_path, content):
    committed_run(tmp_path)
    path = tmp_path / "checkpoint.pt"
    if content == "truncated":
        content = path.read_bytes()[:200]
    path.write_bytes(content)
    with pytest.raises(CorruptRunError, match="cannot be read .*delete .*checkpoint.pt to start this run over"):
        with open_run(tmp_path):
            pass
    assert path.read_bytes() == content


@pytest.mark.parametrize("content", ["{}", '{"format": 2, "epochs": [', "\x00\x01garbage"])
def test_damaged_record_without_a_checkpoint_is_refused(tmp_path, content):
    (tmp_path / "record.json").write_text(content)
    with pytest.raises(CorruptRunError, match="not a record of this kit"):
        with open_run(tmp_path):
            pass
    assert (tmp_path / "record.json").read_text() == content


@pytest.mark.parametrize("damage", ["delete", "{}", "truncate"])
def test_the_record_is_rebuilt_from_the_checkpoint(tmp_path, damage):
    record = committed_run(tmp_path)
    path = tmp_path / "record.json"
    path.unlink() if damage == "delete" else path.write_text("{}" if damage == "{}" else path.read_text()[:30])
    with open_run(tmp_path) as run:
        resumed = run.resume(IDENTITY)
        run.publish(resumed["record"])
    assert json.loads(path.read_text()) == seal(record)  # the record, sealed with its digest (records/trust.py)


def test_an_out_that_is_a_file_or_not_writable_is_refused(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutDirError, match="is a file"):
        with open_run(tmp_path / "file"):
            pass
    with pytest.raises(OutDirError, match="lies under a file"):
        with open_run(tmp_path / "file" / "run"):
            pass
    assert (tmp_path / "file").read_text() == "x"
    import milenas_lib.records.run_dir as run_dir

    monkeypatch.setattr(run_dir.os, "access", lambda path, mode: False)  # root may write anywhere: simulate
    with pytest.raises(OutDirError, match="permission denied"):
        with open_run(tmp_path / "ro"):
            pass
    assert not (tmp_path / "ro").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_is_refused(tmp_path):
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    with pytest.raises(OutDirError, match="permission denied"):
        with open_run(tmp_path / "ro" / "run"):
            pass


def test_a_finished_record_of_another_configuration_is_refused_even_without_its_checkpoint(tmp_path):
    committed_run(tmp_path, completed=True)
    (tmp_path / "checkpoint.pt").unlink()
    other = run_identity(SearchConfig(dataset="synthetic", lam=0.1), "synthetic")
    with pytest.raises(CheckpointMismatchError, match=r"another configuration \(lam: 1.0 -> 0.1\)"):
        with open_run(tmp_path) as run:
            run.resume(other)
    with open_run(tmp_path) as run:
        finished = run.resume(IDENTITY)
    assert finished["record"]["completed"] and finished["state"] is None


# --- files -------------------------------------------------------------------------------

def test_temporary_clean_up_touches_only_the_kits_own_names(tmp_path):
    ours = tmp_path / ".record.json.0123456789ab.tmp"
    theirs = [tmp_path / ".notes.tmp", tmp_path / ".record.json.tmp", tmp_path / ".data.json.0123456789ab.tmp"]
    for path in [ours, *theirs]:
        path.write_text("x")
    with open_run(tmp_path):
        pass
    assert not ours.exists() and all(path.exists() for path in theirs)
    remove_stale_temporaries(tmp_path, ("data.json",))
    assert not theirs[2].exists()


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_records_follow_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        write_json(tmp_path / "record.json", {"a": 1})
    finally:
        os.umask(previous)
    assert (tmp_path / "record.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_signal_is_held_until_the_loop_asks(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    with open_run(tmp_path) as run:
        os.kill(os.getpid(), signal.SIGTERM)
        assert run.stop_requested
        error = run.interruption(3, 7)
    assert isinstance(error, RunInterrupted) and error.exit_code == 143
    assert str(error) == "interrupted at epoch 3 step 7; run the same command to resume"
    assert signal.getsignal(signal.SIGTERM) is before

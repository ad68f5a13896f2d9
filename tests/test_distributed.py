"""Two CPU processes under torchrun (gloo) against one process with the same global batch.

The comparison is exact by construction, not by luck:

* every process draws the same global batch (same shuffle, crops and
  cutout) and keeps its half, so the two runs see identical data;
* batch norm normalises per process in DDP (SyncBatchNorm needs a GPU), so
  the single-process reference runs ``micro_batches=2``: the same two halves,
  each normalised on its own, gradients averaged, and running statistics
  averaged over the halves as DDP's are averaged over processes;
* drop path is off: its masks come from per-process generators, which no
  single process reproduces.

Tolerances stated and checked: train losses and weights within 1e-6
relative / 1e-5 absolute (on this machine they are bit-identical),
batch-norm running statistics and test loss within 1e-4 relative, test
accuracy within one image.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from milenas_lib.config import train_config
from milenas_lib.loops.train import run_training
from milenas_lib.records.io import load_checkpoint

REPO_ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"C": 4, "layers": 3, "batch_size": 16, "epochs": 2, "drop_path_prob": 0.0, "eval_batch_size": 64,
            "train_per_class": None, "test_per_class": None, "num_threads": 1}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def torchrun_train(out: Path, processes: int) -> subprocess.CompletedProcess:
    """``python -m milenas_lib train ...`` under ``torchrun --nproc-per-node processes``, on 127.0.0.1 only."""
    settings = [arg for name, value in SETTINGS.items() for arg in ("--set", f"{name}={json.dumps(value)}")]
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", str(processes),
               "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
               "-m", "milenas_lib", "train", "--genotype", "DARTS_V2", "--dataset", "synthetic", "--quiet",
               *settings, "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    if Path("/sys/class/net/lo").exists():
        env["GLOO_SOCKET_IFNAME"] = "lo"  # keep gloo's traffic on the loopback interface
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="torch.distributed with gloo is needed")
def test_two_process_ddp_matches_one_process_with_the_same_global_batch(tmp_path):
    finished = torchrun_train(tmp_path / "ddp", processes=2)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert finished.stdout.count("record:") == 1  # only process 0 reports
    ddp = json.loads((tmp_path / "ddp" / "record.json").read_text())
    assert (ddp["world_size"], ddp["backend"], ddp["completed"]) == (2, "gloo", True)

    single = run_training(train_config("smoke", dataset="synthetic", **SETTINGS, micro_batches=2),
                          tmp_path / "single", progress=False).record
    assert single["world_size"] == 1
    for a, b in zip(ddp["epochs"], single["epochs"]):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-6)
        assert a["train_top1"] == b["train_top1"]
        assert a["test_loss"] == pytest.approx(b["test_loss"], rel=1e-4)
        assert abs(a["test_top1"] - b["test_top1"]) <= 1 / 128  # one test image

    weights_ddp = load_checkpoint(tmp_path / "ddp" / "checkpoint.pt")["state"]["model"]
    weights_single = load_checkpoint(tmp_path / "single" / "checkpoint.pt")["state"]["model"]
    assert weights_ddp.keys() == weights_single.keys()
    for name, value in weights_ddp.items():
        if "running" in name:
            torch.testing.assert_close(value, weights_single[name], rtol=1e-4, atol=1e-5, msg=name)
        elif value.is_floating_point():
            torch.testing.assert_close(value, weights_single[name], rtol=1e-6, atol=1e-5, msg=name)

"""One search over two CPU processes under torchrun (gloo) against one process
at the same global batch split into two micro-batches.

Both see the same data (every process draws the same global batch and keeps
its half), batch norm normalises the same halves, and the w and α gradients
are averaged over the halves in both (docs/SCALING.md), so the records agree
up to float round-off; the stated tolerance is 1e-3 relative per epoch on the
train loss, and α within 1e-5.  MiLeNAS runs 5 steps an epoch (its α agree
bit for bit here).  2nd-order DARTS runs one step an epoch (batch 40 = the
whole 40-image half): its finite difference divides the round-off of the two
runs' different summation orders by a small ε, and Adam's sign-like first
steps turn that into α differences that grow with every step (measured on an
AVX-512 CPU: 4e-4 after 10 steps, 1.6e-6 after 2), so only a short run can
be held to a tight tolerance.  A SIGKILL of one process ends the
run with its last checkpoint intact, which then resumes on another number of
processes.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from milenas_lib.config import search_config
from milenas_lib.loops.search import run_search

REPO_ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"per_class": 4, "C": 4, "layers": 4}
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="torch.distributed with gloo is needed")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def torchrun_search(method: str, out: Path, extra: dict | None = None, wait: bool = True):
    """``torchrun --nproc-per-node 2 -m milenas_lib search --method METHOD --preset smoke --device cpu``."""
    settings = {**SETTINGS, **(extra or {})}
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
               "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
               "-m", "milenas_lib", "search", "--method", method, "--preset", "smoke", "--device", "cpu",
               "--data", "synthetic", "--quiet", "--out", str(out),
               *[arg for name, value in settings.items() for arg in ("--set", f"{name}={json.dumps(value)}")]]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    if Path("/sys/class/net/lo").exists():
        env["GLOO_SOCKET_IFNAME"] = "lo"
    if not wait:
        return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)


#: Per method, over SETTINGS: 2nd-order DARTS takes one step an epoch (module docstring).
METHOD_SETTINGS = {"milenas": {}, "darts_2nd": {"batch_size": 40}}


def one_process(method: str, out: Path) -> dict:
    config = search_config("smoke", method=method, dataset="synthetic", device="cpu", micro_batches=2,
                           **{**SETTINGS, **METHOD_SETTINGS[method]})
    return run_search(config, out, progress=False).record


def assert_same_search(two: dict, one: dict) -> None:
    assert two["completed"] and one["completed"] and len(two["epochs"]) == len(one["epochs"]) == 2
    for a, b in zip(two["epochs"], one["epochs"]):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3)
        for kind in ("normal", "reduce"):
            assert torch.allclose(torch.tensor(a["alphas"][kind]), torch.tensor(b["alphas"][kind]), atol=1e-5)


@pytest.mark.parametrize("method", list(METHOD_SETTINGS))
def test_two_processes_search_as_one_process_with_two_micro_batches(tmp_path, method):
    finished = torchrun_search(method, tmp_path / "two", METHOD_SETTINGS[method])
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert finished.stdout.count("record:") == 1  # only process 0 reports
    two = json.loads((tmp_path / "two" / "record.json").read_text())
    assert two["world_size"] == 2
    assert_same_search(two, one_process(method, tmp_path / "one"))


def worker_pids(agent: int) -> dict[int, int]:
    """rank -> pid of the worker processes torchrun started."""
    children = Path(f"/proc/{agent}/task/{agent}/children").read_text().split()
    ranks = {}
    for pid in map(int, children):
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        rank = next((int(v.split(b"=")[1]) for v in environ if v.startswith(b"RANK=")), None)
        if rank is not None:
            ranks[rank] = pid
    return ranks


def test_a_sigkill_of_one_process_leaves_a_checkpoint_that_resumes_on_another_count(tmp_path):
    out = tmp_path / "two"
    job = torchrun_search("milenas", out, {"checkpoint_every_steps": 1}, wait=False)
    deadline = time.monotonic() + 600
    while not (out / "checkpoint.pt").exists():
        assert job.poll() is None and time.monotonic() < deadline, job.communicate()[1][-3000:]
        time.sleep(0.5)
    time.sleep(2)  # some steps later
    ranks = worker_pids(job.pid)
    assert set(ranks) == {0, 1}
    os.kill(ranks[1], signal.SIGKILL)
    _, stderr = job.communicate(timeout=300)
    assert job.returncode != 0
    record = json.loads((out / "record.json").read_text())
    assert not record["completed"]
    resumed = one_process("milenas", out)  # one process, two micro-batches: the same search
    assert resumed["resumed"] == 1
    assert_same_search(resumed, one_process("milenas", tmp_path / "one"))

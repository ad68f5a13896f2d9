"""bench as a user runs it: a line per method as it goes, and Ctrl-C stops it cleanly
(its worker process ended, no traceback, no leaked-semaphore warning)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from milenas_lib import bench

REPO = Path(__file__).resolve().parent.parent


def test_bench_says_each_method_as_it_goes(monkeypatch):
    timing = {"median_ms": 12.5, "passes": 2, "images_per_s": 1.0, "peak_mem_mib": 1.0}
    monkeypatch.setattr(bench, "_in_subprocess", lambda target, *args: dict(timing, network="cifar10", batch=96))
    lines: list[str] = []
    bench.run_bench("cpu", "smoke", ["milenas"], steps=1, log=lines.append)
    cases = len(bench._cases(["milenas", "darts_2nd"]))
    assert lines[0] == f"bench [1/{cases + 1}] milenas (simultaneous): 1 steps ..."
    assert f"bench [1/{cases + 1}] milenas (simultaneous): 12.5 ms/step" in lines
    assert lines[-1].startswith(f"bench [{cases + 1}/{cases + 1}] evaluation")


def test_an_error_in_the_worker_is_raised_here():
    with pytest.raises(ValueError, match="unknown size"):
        bench._in_subprocess(bench.run_bench, "cpu", "huge")


@pytest.mark.slow
def test_ctrl_c_stops_bench_and_its_worker_cleanly():
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "milenas_lib", "bench", "--size", "smoke", "--methods",
                                "darts_2nd", "--steps", "100000"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr.readline().startswith("bench [1/")  # the worker is starting
    time.sleep(2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err and "leaked" not in err, err

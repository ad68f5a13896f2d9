"""The sweep driver (reproduce, plan, the notebooks' runs) ends every expected failure in one line.

Read-only folders, a Ray address with no cluster, a run locked by another
process, a run that goes non-finite, a worker that keeps dying, Ctrl-C and
SIGTERM: each names what happened, what is on disk and what to do, without a
traceback (docs/RELIABILITY.md).
"""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import milenas_lib
from milenas_lib import executor
from milenas_lib.config import search_config
from milenas_lib.executor import ExecutorError, Run, execute

#: The checkout whose milenas_lib the tests import; subprocesses run the same code.
REPO_ROOT = Path(milenas_lib.__file__).resolve().parents[1]
TINY = dict(dataset="synthetic", C=4, layers=3, batch_size=8, per_class=2, epochs=1, num_threads=1,
            checkpoint_every_steps=None, checkpoint_every_minutes=None)


def read_only(*args, **kwargs):
    raise OSError(errno.EROFS, "Read-only file system", str(args[0]) if args else None)


# --- read-only folders -------------------------------------------------------------------

def test_a_read_only_run_folder_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    """A read-only mount raises OSError(EROFS), not PermissionError."""
    from milenas_lib.cli import main

    monkeypatch.setattr(Path, "mkdir", read_only)
    out = tmp_path / "ro" / "run"
    assert main(["search", "--method", "milenas", "--dataset", "synthetic", "--epochs", "1", "--quiet",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(out) in err and "read-only file system" in err


def test_a_read_only_results_folder_is_one_line_from_a_notebook(tmp_path, monkeypatch):
    import pandas as pd

    from milenas_lib.experiments.outputs import NotebookOutputs

    outputs = NotebookOutputs("02_train_val_gap", "smoke", tmp_path)
    monkeypatch.setattr(pd.DataFrame, "to_csv", read_only)
    with pytest.raises(OSError, match=r"cannot write into .*02_train_val_gap \(read-only file system\); pass "
                                      r"output_root=") as error:
        outputs.save_table(pd.DataFrame({"a": [1]}), "t", "a table")
    assert len(error.value._render_traceback_()) == 1  # what Jupyter shows instead of a traceback


# --- Ray ---------------------------------------------------------------------------------

def test_a_ray_address_with_nothing_behind_it_fails_within_the_timeout(monkeypatch):
    pytest.importorskip("ray")
    from milenas_lib.executor import ClusterUnavailableError, connect_ray

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    for address in ("127.0.0.1:1", "ray://127.0.0.1:1"):
        start = time.monotonic()
        with pytest.raises(ClusterUnavailableError, match=f"--address {address}") as error:
            connect_ray(address, num_cpus=1, num_gpus=0, timeout_s=2)
        assert time.monotonic() - start < 10 and "\n" not in str(error.value)


@pytest.mark.slow
def test_reproduce_with_a_ray_address_and_no_cluster_ends_within_60_s(tmp_path):
    pytest.importorskip("ray")
    command = [sys.executable, "-m", "milenas_lib.reproduce", "--only", "01", "--backend", "ray", "--address",
               "127.0.0.1:1", "--output-root", str(tmp_path), "--param", "search_overrides=" + json.dumps(TINY)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    # Python and torch start-up, timed by a command that fails at once (seconds on an idle machine;
    # much more on one shared with a sweep): the kit's own wait must stay within 60 s of the start.
    start = time.monotonic()
    subprocess.run([*command[:3], "--only", "99"], cwd=REPO_ROOT, env=env, capture_output=True, timeout=300)
    startup = time.monotonic() - start
    start = time.monotonic()
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stderr.strip().splitlines() if line.startswith("reproduce: error")]
    assert time.monotonic() - start - startup < 55 and done.returncode == 2, done.stderr[-2000:]
    assert len(lines) == 1 and "--address 127.0.0.1:1" in lines[0] and "Traceback" not in done.stderr


# --- a run another process holds ------------------------------------------------------------

def write_record(out_dir: str) -> None:
    """A stand-in run: under the folder's lock, a sealed finished record (unless one is there)."""
    from milenas_lib.records.guard import run_lock
    from milenas_lib.records.io import write_json
    from milenas_lib.records.trust import seal

    with run_lock(Path(out_dir)):
        if not (Path(out_dir) / "record.json").exists():
            write_json(Path(out_dir) / "record.json", seal({"completed": True, "epochs": [0], "by": os.getpid()}))


def test_a_run_locked_by_another_process_is_waited_for_with_a_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(executor.runs, "LOCK_POLL_S", 0.2)
    folder = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from milenas_lib.records.guard import run_lock\n"
                               "with run_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(3)",
                               str(folder)], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert holder.stdout.readline().strip() == "held"
    report = execute([Run(folder, f"{__name__}:write_record", {"out_dir": str(folder)}, label="held run",
                          device="cpu")], workers=1, progress=False)
    holder.wait()
    assert len(report.ran) == 1 and executor.stored_record(folder) is not None
    err = capsys.readouterr().err
    assert err.count("waiting: another process is writing") == 1 and str(folder) in err


# --- a run that goes non-finite ----------------------------------------------------------------

def test_a_non_finite_run_names_the_run_its_folder_and_the_notebook_parameter(tmp_path):
    from milenas_lib.experiments.store import search_runs
    from milenas_lib.reproduce import failure_line

    overrides = {**TINY, "w_lr": 1e12, "w_lr_min": 0.0, "grad_clip": 1e30}
    with pytest.raises(FloatingPointError) as error:
        search_runs(["milenas_lam1"], [0], "smoke", output_root=tmp_path, overrides=overrides, device="cpu",
                    workers=1, progress=False, verbose=False)
    message = str(error.value)
    folder = next((tmp_path / "results" / "runs" / "smoke" / "milenas_lam1").iterdir())
    assert "search milenas_lam1 seed 0" in message and str(folder) in message
    assert "search_overrides" in message and "--set" not in message and "--out" not in message
    assert len(error.value._render_traceback_()) == 1
    # reproduce: the same, with the --param that sets it; still no --set or --out
    run = Run.search(search_config("smoke", **overrides), folder, "search milenas_lam1 seed 0")
    raw = FloatingPointError("non-finite train loss or weights at epoch 0, step 1; no checkpoint had been written "
                             "yet; lower the learning rates, e.g. --set w_lr=0.0125 --set alpha_lr=0.00015, and "
                             "run into a new --out directory")
    raw.failed_run = run
    line = failure_line(raw, {})
    assert "--param 'search_overrides=" in line and '"w_lr": 0.0125' in line and str(folder) in line
    assert "--set" not in line and "--out" not in line and "\n" not in line


# --- a worker that keeps dying -------------------------------------------------------------------

def die(out_dir: str) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
def test_a_run_whose_worker_keeps_dying_says_what_is_on_disk(tmp_path):
    runs = [Run(tmp_path / name, f"{__name__}:die", {"out_dir": str(tmp_path / name)}, label=name, device="cpu")
            for name in ("a", "b")]
    with pytest.raises(ExecutorError, match="worker died 2 times") as error:
        execute(runs, workers=2, retries=1, progress=False, poll_s=0.2)
    assert "no checkpoint had been written" in str(error.value) and "is kept" not in str(error.value)


# --- Ctrl-C and SIGTERM -----------------------------------------------------------------------------

def interrupt(out_dir: str) -> None:
    raise KeyboardInterrupt


def test_ctrl_c_says_what_was_saved_and_the_command_that_resumes(tmp_path, monkeypatch, capsys):
    from milenas_lib import reproduce

    with pytest.raises(executor.ExecutionInterrupted, match=r"interrupted: 0 run\(s\) finished.*stopped run: no "
                                                            r"checkpoint yet"):
        execute([Run(tmp_path / "x", f"{__name__}:interrupt", {"out_dir": "x"}, label="stopped run", device="cpu")],
                workers=1, progress=False)

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(reproduce, "run", stopped)
    before = signal.getsignal(signal.SIGTERM)
    assert reproduce.main(["--only", "01", "--output-root", str(tmp_path)]) == 130
    assert signal.getsignal(signal.SIGTERM) is before  # the caller's handler is back
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "run the same command to resume: python -m milenas_lib.reproduce --only 01 --output-root" in err


def finish_slowly(out_dir: str) -> None:
    time.sleep(1.5)


@pytest.mark.slow
def test_a_worker_whose_driver_is_gone_exits_without_a_traceback(tmp_path, capfd):
    """After SIGTERM (or Ctrl-C) the driver stops listening; the worker's reply finds a broken pipe."""
    import multiprocessing

    from milenas_lib.executor.local import _worker

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_worker, args=({}, None, child))
    process.start()
    child.close()
    parent.send(Run(tmp_path, f"{__name__}:finish_slowly", {"out_dir": str(tmp_path)}, device="cpu"))
    parent.close()  # the driver is gone
    process.join(60)
    assert "Traceback" not in capfd.readouterr().err


def hold_sigterm(out_dir: str) -> None:
    """A run whose next step is minutes away (the paper preset on a CPU): it holds SIGTERM, as a run
    does until its next step, and keeps working."""
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / "pid").write_text(str(os.getpid()))
    time.sleep(600)


#: A driver as ``reproduce`` is one: SIGTERM becomes KeyboardInterrupt, two workers run ``hold_sigterm``.
HOLDING_DRIVER = """
import signal, sys
from pathlib import Path
from milenas_lib import reproduce
from milenas_lib.executor import Run, execute
signal.signal(signal.SIGTERM, reproduce._stop_on_sigterm)
root = Path(sys.argv[1])
execute([Run(root / n, "test_driver_failures:hold_sigterm", {"out_dir": str(root / n)}, label=n, device="cpu")
         for n in "ab"], workers=2, progress=False, poll_s=0.2)
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie no one reaped has ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


def start_holding_driver(tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(Path(__file__).parent)]),
           "OMP_NUM_THREADS": "1"}
    driver = subprocess.Popen([sys.executable, "-c", HOLDING_DRIVER, str(tmp_path)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    pid_files = [tmp_path / name / "pid" for name in "ab"]
    deadline = time.monotonic() + 240
    while not all(f.exists() and f.read_text() for f in pid_files):
        assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()[1][-2000:]
        time.sleep(0.2)
    return driver, [int(f.read_text()) for f in pid_files]


def ended_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not any(alive(pid) for pid in pids)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_one_sigterm_to_the_driver_ends_every_worker_within_seconds(tmp_path, stop):
    """``timeout`` sends one SIGTERM: the driver asks each worker once, and kills those that have not
    stopped after STOP_WAIT_S; a driver killed outright leaves workers that end themselves as soon."""
    from milenas_lib.executor.local import STOP_WAIT_S

    driver, workers = start_holding_driver(tmp_path)
    try:
        driver.send_signal(stop)
        driver.wait(timeout=STOP_WAIT_S + 20)
        assert ended_within(workers, STOP_WAIT_S + 20), "a worker kept running after its driver was stopped"
    finally:
        for pid in [driver.pid, *workers]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

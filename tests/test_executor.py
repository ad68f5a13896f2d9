"""The executor: parallel runs give the serial path's records; dead workers
are retried and resume; one run per folder; the Ray backend and its errors."""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from milenas_lib import executor
from milenas_lib.config import search_config
from milenas_lib.executor import ClusterUnavailableError, Run, execute
from milenas_lib.loops.search import run_search
from milenas_lib.records.trust import seal

# Two steps per epoch, a checkpoint after every step: a killed run has a
# mid-epoch checkpoint to resume from.
TINY = dict(dataset="synthetic", C=4, layers=3, batch_size=8, per_class=2, epochs=2, num_threads=1,
            checkpoint_every_steps=1)
SWEEP = [("milenas", 0), ("milenas", 1), ("darts_1st", 0), ("single_level", 0)]
PROVENANCE = {"git_commit", "milenas_lib", "python", "torch", "torchvision", "numpy", "device", "device_name",
              "platform", "created", "time_s", "gpu_hours", "resumed", "digest"}
TIMING = {"alpha_step_s", "w_step_s", "eval_s", "peak_mem_mib", "load_1min"}


def sweep_runs(root: Path) -> list[Run]:
    return [Run.search(search_config("smoke", method=method, seed=seed, **TINY), root / f"{method}_seed{seed}")
            for method, seed in SWEEP]


def comparable(folder: Path) -> dict:
    """A stored record without timings and provenance."""
    record = json.loads((Path(folder) / "record.json").read_text())
    result = {k: v for k, v in record.items() if k not in PROVENANCE}
    result["epochs"] = [{k: v for k, v in epoch.items() if k not in TIMING} for epoch in record["epochs"]]
    return result


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> dict[str, dict]:
    """The sweep run one after another in this process: the reference."""
    root = tmp_path_factory.mktemp("serial")
    for run in sweep_runs(root):
        run_search(run.kwargs["config"], run.folder, progress=False)
    return {run.folder.name: comparable(run.folder) for run in sweep_runs(root)}


@pytest.mark.slow
def test_local_backend_two_workers_gives_the_serial_records(serial, tmp_path):
    runs = sweep_runs(tmp_path)
    report = execute(runs + runs[:1], workers=2, progress=False)  # a run listed twice is run once
    assert report.workers == 2 and len(report.ran) == 4 and report.retried == 0
    for run in runs:
        assert comparable(run.folder) == serial[run.folder.name]
    again = execute(runs, workers=2, progress=False)  # everything is in the store now
    assert not again.ran and len(again.stored) == 4


def test_queue_keeps_one_run_per_folder_longest_first_and_takes_more(tmp_path):
    first = Run(tmp_path / "a", "m:f", label="first")
    runs = [first, Run(tmp_path / "b", "m:f", estimate_s=5.0), Run(tmp_path / "x" / ".." / "a", "m:g", label="second")]
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "record.json").write_text(json.dumps(seal({"completed": True, "epochs": [0]})))
    later = [Run(tmp_path / "d", "m:f", estimate_s=1.0), Run(tmp_path / "b", "m:g")]
    queue = executor.RunQueue(runs + [Run(tmp_path / "c", "m:f")], more=lambda: later)
    assert [run.folder.name for run in queue.waiting] == ["b", "a"]  # the longest estimate first
    assert queue.waiting[1].label == "first" and [run.folder.name for run in queue.stored] == ["c"]
    assert queue.pop().folder.name == "b"
    assert [run.folder.name for run in queue.refill()] == ["d"]  # b was seen already
    assert [run.folder.name for run in queue.waiting] == ["d", "a"] and not queue.refill()


def test_slots_pin_runs_to_gpus_and_split_cores(monkeypatch):
    gpu_runs = [Run(Path("a"), "m:f", device="auto"), Run(Path("b"), "m:f", device="cuda")]
    monkeypatch.setattr(executor.runs, "_gpu_ids", lambda: ["3", "5"])
    envs = executor.slots(gpu_runs, per_gpu=2)
    assert [env["CUDA_VISIBLE_DEVICES"] for env in envs] == ["3", "5", "3", "5"]  # spread over the devices
    assert len(executor.slots(gpu_runs, workers=3, per_gpu=2)) == 3
    assert len(executor.slots(gpu_runs)) == 2 * executor.DEFAULT_PER_GPU
    monkeypatch.setattr(executor.runs, "cpu_cores", lambda: 8)
    cpu_runs = [Run(Path("a"), "m:f", device="cpu", threads=2)]
    envs = executor.slots(cpu_runs)
    assert len(envs) == 4 and envs[0]["OMP_NUM_THREADS"] == "2" and "CUDA_VISIBLE_DEVICES" not in envs[0]
    with pytest.raises(ValueError, match="workers"):
        executor.slots(cpu_runs, workers=0)


def die_once(out_dir: str, marker: str) -> None:
    """A run whose first worker is SIGKILLed; the retry completes it."""
    if not Path(marker).exists():
        Path(marker).write_text("killed once")
        os.kill(os.getpid(), signal.SIGKILL)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / "record.json").write_text(json.dumps(seal({"completed": True, "epochs": [0]})))


def fail(out_dir: str) -> None:
    raise ValueError(f"bad setting for {out_dir}")


@pytest.mark.slow
def test_local_backend_retries_a_killed_worker_and_raises_run_errors(tmp_path):
    (tmp_path / "spared").write_text("")

    def run(name: str, marker: str) -> Run:
        return Run(tmp_path / name, f"{__name__}:die_once", {"out_dir": str(tmp_path / name), "marker": marker},
                   label=name, device="cpu")

    report = execute([run("killed", str(tmp_path / "marker")), run("other", str(tmp_path / "spared"))], workers=2,
                     progress=False)
    assert report.retried == 1 and report.workers == 2
    assert executor.stored_record(tmp_path / "killed") is not None and (tmp_path / "marker").exists()
    bad = Run(tmp_path / "bad", f"{__name__}:fail", {"out_dir": "x"}, device="cpu")
    with pytest.raises(ValueError, match="bad setting"):  # the run's own exception, raised here
        execute([bad, run("third", str(tmp_path / "spared"))], workers=2, progress=False)


def test_one_worker_runs_in_this_process(tmp_path, monkeypatch):
    monkeypatch.setattr(executor.local, "_worker", None)  # no worker process may be started
    runs = [Run(tmp_path / name, f"{__name__}:die_once", {"out_dir": str(tmp_path / name), "marker": __file__},
                device="cpu") for name in ("a", "b")]
    assert len(execute(runs, workers=1, progress=False).ran) == 2
    assert all(executor.stored_record(tmp_path / name) for name in ("a", "b"))


def after(out_dir: str, source: str) -> None:
    """A run that needs another's finished record (as a training needs its search)."""
    record = executor.stored_record(source)
    assert record is not None, f"started before {source} finished"
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / "record.json").write_text(json.dumps(seal({"completed": True, "epochs": [0], "from": source})))


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_runs_that_become_ready_join_the_queue(tmp_path, workers):
    def make(name: str) -> Run:
        return Run(tmp_path / name, f"{__name__}:die_once", {"out_dir": str(tmp_path / name), "marker": __file__},
                   label=name, device="cpu")

    dependent = Run(tmp_path / "dependent", f"{__name__}:after",
                    {"out_dir": str(tmp_path / "dependent"), "source": str(tmp_path / "source")}, device="cpu")
    asked = []

    def more() -> list[Run]:
        asked.append(1)
        return [dependent] if executor.stored_record(tmp_path / "source") else []

    report = execute([make("other"), make("source")], workers=workers, progress=False, more=more, poll_s=0.1)
    assert {run.folder.name for run in report.ran} == {"other", "source", "dependent"} and len(asked) == 3
    assert json.loads((tmp_path / "dependent" / "record.json").read_text())["from"] == str(tmp_path / "source")


def worker_facts(out_dir: str) -> None:
    """A run that notes its worker process and how that process would start its own
    subprocesses (e.g. data-loader workers)."""
    import multiprocessing

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / "record.json").write_text(json.dumps(seal({
        "completed": True, "epochs": [0], "pid": os.getpid(), "start_method": multiprocessing.get_start_method()})))


@pytest.mark.slow
def test_workers_are_kept_for_the_next_run_and_start_subprocesses_as_the_driver(tmp_path):
    """Two workers run four runs (no torch import and data read per run); spawned
    workers would spawn their data-loader workers too, each importing torch again
    every epoch (a 4x slower smoke ImageNet training)."""
    import multiprocessing

    runs = [Run(tmp_path / name, f"{__name__}:worker_facts", {"out_dir": str(tmp_path / name)}, device="cpu")
            for name in "abcd"]
    execute(runs, workers=2, progress=False, poll_s=0.1)
    facts = [executor.stored_record(run.folder) for run in runs]
    assert len({fact["pid"] for fact in facts}) <= 2 and os.getpid() not in {fact["pid"] for fact in facts}
    assert {fact["start_method"] for fact in facts} == {multiprocessing.get_start_method()}


def test_unknown_backend_and_address_without_ray_backend_are_refused(tmp_path):
    with pytest.raises(ValueError, match="backend"):
        execute([], backend="dask")
    with pytest.raises(ValueError, match="backend='ray'"):
        execute([], address="auto")


@pytest.fixture()
def ray_env(monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


def test_ray_address_without_a_cluster_is_one_line_naming_address(ray_env):
    import ray

    if ray.is_initialized():
        pytest.skip("Ray already runs in this process")
    with pytest.raises(ClusterUnavailableError, match="--address auto") as error:
        executor.connect_ray("auto", num_cpus=1, num_gpus=0)
    assert "\n" not in str(error.value)


def _worker_pids(label: str) -> list[int]:
    """Ray names a worker process after the task it runs: ``ray::milenas <label>``."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").strip()
            except OSError:
                continue
            if command == f"ray::milenas {label}".encode():
                pids.append(int(entry))
    return pids


def start_local_ray(ray, attempts: int = 3) -> None:
    """A local instance with 2 CPUs.  Ray gives its node 30 s to register, which a
    machine loaded by other jobs can miss: then start it again."""
    for attempt in range(attempts):
        try:
            ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20, log_to_driver=False)
            return
        except Exception as error:  # noqa: BLE001 - Ray raises a bare Exception on a start-up timeout
            ray.shutdown()
            if "timed out during startup" not in str(error) or attempt == attempts - 1:
                raise


@pytest.mark.slow
def test_ray_backend_survives_a_killed_worker_with_the_serial_records(serial, tmp_path, ray_env):
    """A local Ray instance (2 CPUs): one worker is SIGKILLed once its run has a
    checkpoint; Ray retries the task, which resumes from that checkpoint.  One
    run is handed over while the others run (``more``)."""
    import ray

    runs = sweep_runs(tmp_path)
    killed: list[str] = []
    done = threading.Event()

    def kill_one_mid_run() -> None:
        while not done.is_set() and not killed:
            for run in runs:
                if (run.folder / "checkpoint.pt").exists() and executor.stored_record(run.folder) is None:
                    for pid in _worker_pids(run.label):
                        os.kill(pid, signal.SIGKILL)
                        killed.append(run.folder.name)
                    if killed:
                        return
            time.sleep(0.05)

    start_local_ray(ray)
    killer = threading.Thread(target=kill_one_mid_run, daemon=True)
    try:
        killer.start()
        # The last run joins while the others run, as a training joins once its search is done.
        report = execute(runs[:3], backend="ray", progress=False, poll_s=0.2, more=lambda: runs[3:])
    finally:
        done.set()
        killer.join()
        ray.shutdown()
    assert len(report.ran) == 4 and killed, "no worker was killed mid-run"
    resumed = json.loads((tmp_path / killed[0] / "record.json").read_text())
    assert resumed.get("resumed", 0) >= 1  # resumed from its checkpoint, not started over
    for run in runs:
        assert comparable(run.folder) == serial[run.folder.name]


# -- the plan ---------------------------------------------------------------------

PLAN_OVERRIDES = {"dataset": "synthetic", "per_class": 4, "epochs": 3}


def test_plan_lists_each_needed_run_once_with_its_status_and_cost(tmp_path, monkeypatch):
    from milenas_lib import costs
    from milenas_lib.experiments.plan import format_plan, make_plan

    monkeypatch.setenv("MILENAS_CACHE_DIR", str(tmp_path / "cache"))  # no calibration file
    options = dict(parameters={"search_overrides": PLAN_OVERRIDES}, output_root=str(tmp_path), device_type="cpu")
    plan = make_plan("smoke", ["02", "06"], **options)
    searches = [n for n in plan.needs if n.kind == "search"]
    assert len(searches) == 5  # Fig. 2's five settings, one seed; 06's MiLeNAS λ=1 search is the same run
    shared = next(n for n in searches if "milenas_lam1" in n.description)
    assert shared.notebooks == ["02_train_val_gap", "06_cifar10_evaluation"]
    assert shared.steps == 3 * (4 * 10 // 8)  # epochs x (search-train half / batch)
    # Its steps, an evaluation of the 40-image search-val half (5 batches) after each of 3 epochs, its start.
    smoke = costs.PERFORMANCE_MD["smoke"]
    evaluations = 3 * 5 * costs.EVAL_SHARE * smoke["single_level"]
    assert shared.seconds == pytest.approx(shared.steps * smoke["milenas (simultaneous)"] + evaluations
                                           + costs.RUN_OVERHEAD_S)
    waiting = [n for n in plan.needs if n.status == "waits for its searches"]
    assert len(waiting) == 1 and waiting[0].run is None  # the searched cell is known after its searches
    assert {n.description.split()[1] for n in plan.needs if n.kind == "train" and n.run} == {"DARTS_V2", "MILENAS_2_34"}

    # A finished run (sealed, of the identity its folder is named for) counts as stored; the rest is the cost.
    from milenas_lib.records.identity import run_identity

    single = next(n for n in searches if "single_level" in n.description)
    single.folder.mkdir(parents=True)
    (single.folder / "record.json").write_text(json.dumps(seal({
        "completed": True, "epochs": [0, 1, 2], "identity": run_identity(single.config, "synthetic"),
        "time_s": 3 * single.seconds})))
    plan = make_plan("smoke", ["02", "06"], **options)
    assert sum(n.status == "stored" for n in plan.needs) == 1
    text = format_plan(plan, workers=2)
    assert "docs/PERFORMANCE.md" in text and f"total: {len(plan.needs)} runs, 1 in the store" in text
    assert "(3.00x)" in text and "the 1 stored runs" in text and "took" in text  # what it took beside the estimate
    assert "wall clock" in text and "2 worker(s)" in text

    # A calibration file written by `bench` replaces the documented figures.
    report = {"device": "cpu", "size": "smoke", "results": [{"label": label, "median_ms": 2000.0}
                                                           for label in costs.PERFORMANCE_MD["smoke"]], "eval": []}
    path = costs.save_calibration(report)
    plan = make_plan("smoke", ["02"], **options)
    assert str(path) in format_plan(plan)
    assert all(n.seconds == pytest.approx(2.0 * (n.steps + 3 * 5 * costs.EVAL_SHARE) + costs.RUN_OVERHEAD_S)
               for n in plan.needs)


def test_wall_clock_and_gpu_sharing():
    from milenas_lib import costs

    runs = [5.0, 3.0, 3.0, 1.0]
    assert costs.wall_clock(runs, 1) == sum(runs) and costs.wall_clock(runs, 4) == max(runs)
    assert costs.wall_clock(runs, 2) == 6.0
    assert costs.sharing_speedup(1) == 1.0 and costs.sharing_speedup(4) == 3.0
    wall, how = costs.estimate_wall([3.0] * 4, "cuda", None, 4, 1)
    assert wall == pytest.approx(3.0 * 4 / 3.0) and "x3.00" in how  # four side by side, 3x the throughput


def test_plan_command_prints_the_list_and_refuses_unknown_notebooks(tmp_path, capsys, monkeypatch):
    from milenas_lib.cli import main

    monkeypatch.setenv("MILENAS_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["plan", "--notebooks", "04", "--output-root", str(tmp_path), "--device", "cpu", "--workers", "2",
                 "--param", json.dumps(PLAN_OVERRIDES).join(["search_overrides=", ""])]) == 0
    out = capsys.readouterr().out
    assert "search gdas seed 0" in out and "search milenas_gumbel seed 0" in out and "total: 2 runs" in out
    assert main(["plan", "--notebooks", "77", "--output-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no notebook matches" in err and len(err.strip().splitlines()) == 1


def test_a_search_is_costed_from_the_nearest_measured_supernet_and_its_pixels():
    from milenas_lib import costs
    from milenas_lib.config import search_config

    times = costs.StepTimes("cpu", {size: dict(figures) for size, figures in costs.PERFORMANCE_MD.items()},
                            {"cifar10": 1.0, "imagenet": 1.0}, "test")
    medium = search_config("medium", method="milenas")
    assert [costs.nearest_size(search_config(p)) for p in ("smoke", "medium", "paper")] == ["smoke", "medium", "paper"]
    assert costs.search_step_seconds(medium, times) == costs.PERFORMANCE_MD["medium"]["milenas (simultaneous)"]
    # Twice the pixels per side is 4x the arithmetic of the nearest measured size.
    doubled = medium.override(resolution=32)
    assert costs.search_step_seconds(doubled, times) == pytest.approx(4 * costs.search_step_seconds(medium, times))
    # The medium sweep's search: 8 epochs of 20 steps, 20 evaluation batches after each, one start.
    single = costs.PERFORMANCE_MD["medium"]["single_level"]
    expected = 160 * costs.PERFORMANCE_MD["medium"]["milenas (simultaneous)"] + 8 * 20 * costs.EVAL_SHARE * single
    assert costs.search_seconds(medium, times) == pytest.approx(expected + costs.RUN_OVERHEAD_S)


SCRIPT_WITHOUT_MAIN_GUARD = """
import sys
from pathlib import Path
from milenas_lib.config import search_config
from milenas_lib.executor import Run, execute
runs = [Run.search(search_config("smoke", method="milenas", seed=seed, dataset="synthetic", epochs=1),
                   Path(sys.argv[1]) / f"seed{seed}") for seed in (0, 1)]
execute(runs, workers=2, progress=False)
"""


@pytest.mark.slow
def test_a_script_that_starts_workers_outside_a_main_guard_gets_one_line(tmp_path):
    """Spawned workers re-import the script; Python refuses, and the kit says how to fix the script."""
    import subprocess
    import sys

    script = tmp_path / "sweep.py"
    script.write_text(SCRIPT_WITHOUT_MAIN_GUARD)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "runs")], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode != 0
    assert "could not start a worker process" in done.stderr and '__name__ == "__main__"' in done.stderr
    assert not list((tmp_path / "runs").glob("*/record.json"))

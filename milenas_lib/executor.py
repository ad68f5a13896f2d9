"""Run many searches and trainings at once: worker processes on this machine
(backend ``local``) or Ray tasks on a cluster (backend ``ray``).

The runs are independent and each writes only its own folder of the run
store, which also holds its checkpoint; so a run that dies (a killed worker,
a lost node) is simply started again and resumes where its last checkpoint
left it.  The result is the same record an uninterrupted run in one process
writes (bit-identical on the CPU, timings and provenance aside): every run
seeds itself from its config, and its thread count is fixed.

Never two workers on one folder: the list is deduplicated by folder (the first
run listed for a folder wins), and the run lock inside ``run_search`` /
``run_training`` still refuses a second live writer from anywhere else.

``local``: one fresh process per run (spawned, so no CUDA or thread state is
inherited), at most ``workers`` at a time: on the CPU ``cores // threads``
(one thread per run), on GPUs ``per_gpu`` runs per device, each process pinned
to its device with ``CUDA_VISIBLE_DEVICES``.  ``ray``: one Ray Core task per
run with ``num_cpus`` = threads and ``num_gpus`` = 1/per_gpu, ``max_retries``
for dead workers; ``address`` joins an existing cluster (``ray start --head``;
docs/SCALING.md), otherwise a local Ray instance is started and stopped.

This module imports neither torch nor Ray at the top: a spawned worker sets
its thread count and device pinning before torch is loaded.
"""
from __future__ import annotations

import importlib
import json
import os
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

BACKENDS: tuple[str, ...] = ("local", "ray")
#: Runs side by side on one GPU.  Measured with the authors' code on an H200:
#: four MiLeNAS searches on one GPU give 3.0x the throughput of one
#: (docs/SCALING.md), because one search leaves the GPU mostly idle.
DEFAULT_PER_GPU = 4
#: How often a dead worker's run is started again (it resumes from its checkpoint).
DEFAULT_RETRIES = 3
RECORD_NAME = "record.json"
#: How long a retried Ray task waits for the lock of a worker lost with its node.
LOCK_WAIT_S = 300.0


class ExecutorError(RuntimeError):
    """A run could not be executed; the message names the run and the cause."""


class ClusterUnavailableError(ExecutorError):
    """``--address`` names no reachable Ray cluster (or Ray is not installed)."""


@dataclass(frozen=True)
class Run:
    """One run of the store: ``target(**kwargs)`` writes ``folder``.

    ``target`` is ``"package.module:function"`` (imported in the worker, so a
    Ray node needs only the kit installed); ``epochs`` is what the folder's
    ``record.json`` counts up to (one progress tick per epoch).
    """

    folder: Path
    target: str
    kwargs: dict = field(default_factory=dict, hash=False, compare=False)
    label: str = ""
    epochs: int = 1
    device: str = "auto"      # "cpu", "cuda" or "auto" (a GPU when the worker has one)
    threads: int = 1          # CPU threads of the run

    @classmethod
    def search(cls, config: Any, folder: Path | str, label: str = "") -> "Run":
        """A ``loops.search.run_search`` of ``config`` into ``folder``."""
        return cls(Path(folder), "milenas_lib.loops.search:run_search",
                   {"config": config, "out_dir": str(folder), "progress": False},
                   label or f"search {config.method} seed {config.seed}", config.epochs, config.device,
                   config.num_threads or 1)

    @classmethod
    def training(cls, config: Any, folder: Path | str, label: str = "") -> "Run":
        """A ``loops.train.run_training`` of ``config`` into ``folder`` (one process)."""
        return cls(Path(folder), "milenas_lib.loops.train:run_training",
                   {"config": config, "out_dir": str(folder), "progress": False},
                   label or f"train {config.genotype} seed {config.seed}", config.epochs, config.device,
                   config.num_threads or 1)


@dataclass
class Report:
    """What :func:`execute` did: runs executed, runs found complete, retries after dead workers."""

    ran: list[Run]
    stored: list[Run]
    retried: int
    wall_s: float
    workers: int
    backend: str


def stored_record(folder: Path | str) -> Optional[dict]:
    """The folder's record when its run is complete, else None."""
    path = Path(folder) / RECORD_NAME
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None  # being replaced this instant: not complete yet as far as we know
    return record if record.get("completed") else None


def unique_runs(runs: Sequence[Run]) -> list[Run]:
    """One run per folder (the first listed), in order."""
    seen: dict[Path, Run] = {}
    for run in runs:
        seen.setdefault(Path(run.folder).resolve(), run)
    return list(seen.values())


def _gpu_ids() -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` entries."""
    import torch

    if not torch.cuda.is_available():
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [part.strip() for part in visible.split(",") if part.strip()] if visible else []
    return ids[:torch.cuda.device_count()] or [str(i) for i in range(torch.cuda.device_count())]


def cpu_cores() -> int:
    """The cores this process may use (its CPU affinity)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def slots(runs: Sequence[Run], workers: Optional[int] = None, per_gpu: Optional[int] = None) -> list[dict]:
    """The environment of each local worker slot: on GPUs ``per_gpu`` slots per
    device, spread over the devices (``CUDA_VISIBLE_DEVICES``); on the CPU
    ``cores // threads`` slots.  ``workers`` caps the count."""
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers}")
    if per_gpu is not None and per_gpu < 1:
        raise ValueError(f"per_gpu must be a positive integer, got {per_gpu}")
    threads = max((run.threads for run in runs), default=1)
    cpu_env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    gpus = _gpu_ids() if any(run.device != "cpu" for run in runs) else []
    if gpus:
        envs = [{**cpu_env, "CUDA_VISIBLE_DEVICES": gpu} for _ in range(per_gpu or DEFAULT_PER_GPU) for gpu in gpus]
    else:
        envs = [cpu_env] * max(1, cpu_cores() // threads)
    return envs[:workers] if workers else envs


def _execute(run: Run, progress: Optional[bool] = None) -> str:
    """Run one run in this process with its thread count; returns its folder.
    ``progress`` replaces the run's own bars setting (where it has one)."""
    import torch

    torch.set_num_threads(run.threads)
    module, name = run.target.split(":")
    kwargs = run.kwargs if progress is None or "progress" not in run.kwargs else {**run.kwargs, "progress": progress}
    getattr(importlib.import_module(module), name)(**kwargs)
    return str(run.folder)


def _execute_on_node(run: Run, lock_wait_s: float) -> str:
    """A Ray task: :func:`_execute`, waiting while the run folder is locked.  A
    worker on a node that died can hold its lock until the shared file system
    notices (an NFSv4 lease: about 90 s); the retry then waits instead of failing."""
    from .records.guard import RunLockedError

    deadline = time.monotonic() + lock_wait_s
    while True:
        try:
            return _execute(run)
        except RunLockedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(5)


def _run_here(pending: list[Run], progress: Progress, show: bool) -> int:
    """One slot: the runs one after another in this process (the serial path;
    no start-up cost), with the run's own progress bars; torch's thread count
    is put back afterwards."""
    import torch

    threads = torch.get_num_threads()
    try:
        for run in pending:
            start = time.perf_counter()
            _execute(run, show)
            progress.finish(run, time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return 0


def _stop_with_parent() -> None:
    """Linux: SIGTERM this worker when the driver dies, even by SIGKILL (the run
    then stops at its next step and resumes next time), rather than leaving it
    running unseen, holding its run lock."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the worker finishes its run on its own


def _child(run: Run, env: dict, connection) -> None:
    """A local worker process: pin, run, send ("ok", None) or ("error", exception)."""
    os.environ.update(env)
    _stop_with_parent()
    try:
        _execute(run)
    except BaseException as error:  # noqa: BLE001 - everything goes back to the parent
        if hasattr(error, "add_note"):  # Python 3.11+: the traceback from the worker travels with the error
            error.add_note(f"in the worker of {run.label!r}:\n" + "".join(traceback.format_tb(error.__traceback__)))
        try:
            connection.send(("error", error))
        except Exception:  # an exception that does not pickle: send its text
            connection.send(("error", ExecutorError("".join(traceback.format_exception_only(error)).strip())))
        raise SystemExit(1)
    connection.send(("ok", None))


class Progress:
    """One overall bar and one bar per running run (tqdm.auto: terminal or JupyterLab),
    the latter advanced by the epochs the run's ``record.json`` lists."""

    def __init__(self, total: int, done: int, enabled: bool, backend: str, workers: int) -> None:
        from tqdm.auto import tqdm

        self._tqdm, self.enabled = tqdm, enabled
        self.overall = tqdm(total=total, initial=done, desc=f"runs ({backend}, {workers} workers)", position=0,
                            disable=not enabled, unit="run")
        self.bars: dict[Path, Any] = {}
        self._seen: dict[Path, float] = {}
        self._lines: dict[Path, int] = {}  # the terminal line of each running run's bar

    def start(self, run: Run) -> None:
        taken = set(self._lines.values())
        self._lines[run.folder] = line = next(i for i in range(1, len(taken) + 2) if i not in taken)
        self.bars[run.folder] = self._tqdm(total=run.epochs, desc=run.label, leave=False, unit="epoch",
                                           position=line, disable=not self.enabled)

    def poll(self) -> None:
        for folder, bar in self.bars.items():
            path = Path(folder) / RECORD_NAME
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            if self._seen.get(folder) == mtime:
                continue
            self._seen[folder] = mtime
            try:
                epochs = len(json.loads(path.read_text()).get("epochs", []))
            except (OSError, json.JSONDecodeError):
                continue
            bar.update(max(0, min(epochs, bar.total) - bar.n))

    def finish(self, run: Run, seconds: float) -> None:
        bar = self.bars.pop(run.folder, None)
        self._lines.pop(run.folder, None)
        if bar is not None:
            bar.close()
        self.overall.update(1)
        if self.enabled:
            self._tqdm.write(f"done   {run.label}: {seconds:.0f} s -> {run.folder}")

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.overall.close()


def _reply(receiver) -> Optional[tuple]:
    """The worker's reply, or None when it died without one (killed)."""
    try:
        return receiver.recv() if receiver.poll() else None
    except EOFError:
        return None
    finally:
        receiver.close()


def _run_local(pending: list[Run], envs: list[dict], retries: int, progress: Progress, poll_s: float) -> int:
    """At most ``len(envs)`` fresh worker processes at a time; a worker that dies
    without a reply (killed) is started again up to ``retries`` times."""
    import multiprocessing
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")
    queue, free = deque(pending), list(range(len(envs)))
    running: dict[int, tuple[Any, Run, Any, float]] = {}
    attempts: dict[Path, int] = {}
    retried = 0
    try:
        while queue or running:
            while queue and free:
                slot, run = free.pop(0), queue.popleft()
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(target=_child, args=(run, envs[slot], sender), name=f"run {run.label}")
                process.start()
                sender.close()
                running[slot] = (process, run, receiver, time.perf_counter())
                progress.start(run)
            wait([process.sentinel for process, _, _, _ in running.values()], timeout=poll_s)
            progress.poll()
            for slot, (process, run, receiver, started) in list(running.items()):
                if process.is_alive():
                    continue
                process.join()
                reply = _reply(receiver)
                del running[slot]
                free.append(slot)
                if reply is not None and reply[0] == "ok":
                    progress.finish(run, time.perf_counter() - started)
                elif reply is not None:
                    raise reply[1]
                else:
                    attempts[run.folder] = attempts.get(run.folder, 0) + 1
                    if attempts[run.folder] > retries:
                        raise ExecutorError(f"{run.label}: its worker died {attempts[run.folder]} times (exit code "
                                            f"{process.exitcode}); its checkpoint in {run.folder} is kept")
                    retried += 1
                    queue.appendleft(run)  # resumes from its checkpoint
    finally:
        for process, _, _, _ in running.values():  # on an error or Ctrl-C: the others resume next time
            process.terminate()
            process.join()
    return retried


def _ray():
    try:
        import ray
    except ImportError:
        raise ClusterUnavailableError("backend 'ray' needs Ray: pip install -e '.[cluster]'") from None
    return ray


def connect_ray(address: Optional[str], num_cpus: int, num_gpus: int) -> bool:
    """Join the cluster at ``address``, else start a local instance; returns
    whether this call started Ray (and so should stop it)."""
    ray = _ray()
    if ray.is_initialized():
        return False
    if address:
        try:
            ray.init(address=address, log_to_driver=False)
        except ConnectionError as error:
            first = (str(error).strip().splitlines() or [""])[0]
            raise ClusterUnavailableError(
                f"no Ray cluster at --address {address} ({first[:120]}); start one with `ray start --head` "
                "and pass its address, or leave --address out for a local Ray instance") from None
        return True
    ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, object_store_memory=100 * 2**20,
             log_to_driver=False)
    return True


def _run_ray(pending: list[Run], address: Optional[str], workers: int, gpus: int, per_gpu: int, retries: int,
             progress: Progress, poll_s: float) -> int:
    ray = _ray()
    started = connect_ray(address, num_cpus=workers * max(r.threads for r in pending), num_gpus=gpus)
    try:
        use_gpu = ray.cluster_resources().get("GPU", 0) > 0 and any(run.device != "cpu" for run in pending)
        task = ray.remote(_execute_on_node)
        refs = {}
        for run in pending:
            ref = task.options(num_cpus=run.threads, num_gpus=1 / per_gpu if use_gpu else 0, max_retries=retries,
                               retry_exceptions=False, name=f"milenas {run.label}").remote(run, LOCK_WAIT_S)
            refs[ref] = (run, time.perf_counter())
            progress.start(run)
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=poll_s)
            progress.poll()
            for ref in ready:
                run, started_at = refs.pop(ref)
                try:
                    ray.get(ref)
                except ray.exceptions.RayTaskError as error:
                    raise error.as_instanceof_cause() from None
                except ray.exceptions.RayError as error:  # workers or nodes lost more often than retried
                    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
                    raise ExecutorError(f"{run.label}: {first[:200]} (after {retries} retries); its checkpoint in "
                                        f"{run.folder} is kept") from None
                progress.finish(run, time.perf_counter() - started_at)
    finally:
        for ref in refs:  # on an error or Ctrl-C: the others resume next time
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()
    return 0  # Ray retries dead workers itself


def execute(runs: Sequence[Run], *, backend: str = "local", workers: Optional[int] = None,
            per_gpu: Optional[int] = None, address: Optional[str] = None, retries: int = DEFAULT_RETRIES,
            progress: bool = True, poll_s: float = 1.0) -> Report:
    """Execute every run of ``runs`` whose folder holds no complete record.

    ``backend`` "local" (worker processes here) or "ray" (Ray tasks; ``address``
    joins a running cluster, e.g. "auto" or "ray://head:10001").  ``workers``
    caps the runs at a time (default: all cores, one thread per run; on GPUs
    ``per_gpu`` per device, default :data:`DEFAULT_PER_GPU`).  An exception
    raised inside a run stops the others (they resume next time) and is
    raised here; a worker that dies is retried ``retries`` times.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid backends are: {', '.join(BACKENDS)}")
    if address and backend != "ray":
        raise ValueError(f"address {address!r} needs backend='ray'")
    start = time.perf_counter()
    runs = unique_runs(runs)
    complete = [stored_record(run.folder) is not None for run in runs]
    stored = [run for run, done in zip(runs, complete) if done]
    pending = [run for run, done in zip(runs, complete) if not done]
    envs = slots(pending, workers, per_gpu) if pending else [{}]
    gpus = len({env.get("CUDA_VISIBLE_DEVICES") for env in envs} - {None})
    count = min(len(envs), len(pending)) or 1
    bars = Progress(len(runs), len(stored), progress and bool(pending), backend, count)
    try:
        if not pending:
            retried = 0
        elif backend == "local" and count == 1:
            retried = _run_here(pending, bars, progress)
        elif backend == "local":
            retried = _run_local(pending, envs, retries, bars, poll_s)
        else:
            retried = _run_ray(pending, address, len(envs), gpus, per_gpu or DEFAULT_PER_GPU, retries, bars, poll_s)
    finally:
        bars.close()
    return Report(pending, stored, retried, time.perf_counter() - start, count, backend)

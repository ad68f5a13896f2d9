"""The runs an executor executes: what a run is, which are still to do (in
which order), how many run at a time, and running one in this process."""
from __future__ import annotations

import importlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from ..records.errors import OneLine
from ..records.trust import CHECKPOINT_NAME, RECORD_NAME, resolved, settle, stored_record

BACKENDS: tuple[str, ...] = ("local", "ray")
#: Runs side by side on one GPU.  Measured with the authors' code on an H200:
#: four MiLeNAS searches on one GPU give 3.0x the throughput of one
#: (docs/SCALING.md), because one search leaves the GPU mostly idle.
DEFAULT_PER_GPU = 4
#: How often a dead worker's run is started again (it resumes from its checkpoint).
DEFAULT_RETRIES = 3
#: How often a run whose folder another process is writing checks whether it is free.
LOCK_POLL_S = 5.0


class ExecutorError(OneLine, RuntimeError):
    """A run could not be executed; the message names the run and the cause."""


class ClusterUnavailableError(ExecutorError):
    """``--address`` names no reachable Ray cluster (or Ray is not installed)."""


class ExecutionInterrupted(ExecutorError):
    """Ctrl-C (or SIGTERM) stopped the runs; the message says what was saved."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def blame(error: BaseException, run: "Run") -> BaseException:
    """``error`` with the run that raised it attached (``error.failed_run``), for a message naming it."""
    try:
        error.failed_run = run  # type: ignore[attr-defined]
    except AttributeError:
        pass
    return error


def interrupted(queue: "RunQueue", exit_code: int) -> ExecutionInterrupted:
    """What an interruption leaves: the runs finished, and for each run in flight what is on disk."""
    started = list(queue.started.values())
    done = [run for run in started if stored_record(run.folder) is not None]
    stopped = [run for run in started if run not in done]
    parts = [f"interrupted: {len(done) + len(queue.stored)} run(s) finished and stored"]
    parts += [f"{run.label or run.folder}: " + ("checkpoint kept" if (Path(run.folder) / CHECKPOINT_NAME).exists()
                                                 else "no checkpoint yet, starts over") for run in stopped]
    if queue.waiting:
        parts.append(f"{len(queue.waiting)} not started")
    return ExecutionInterrupted("; ".join(parts), exit_code)


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
    #: Estimated seconds (the cost plan's); only orders the queue: the longest start first.
    estimate_s: float = field(default=0.0, compare=False)

    @classmethod
    def search(cls, config: Any, folder: Path | str, label: str = "") -> "Run":
        """A ``loops.search.run_search`` of ``config`` into ``folder``."""
        return cls._of_config("milenas_lib.loops.search:run_search", config, folder,
                              label or f"search {config.method} seed {config.seed}")

    @classmethod
    def training(cls, config: Any, folder: Path | str, label: str = "") -> "Run":
        """A ``loops.train.run_training`` of ``config`` into ``folder`` (one process)."""
        return cls._of_config("milenas_lib.loops.train:run_training", config, folder,
                              label or f"train {config.genotype} seed {config.seed}")

    @classmethod
    def _of_config(cls, target: str, config: Any, folder: Path | str, label: str) -> "Run":
        """Both loops take ``(config, out_dir, progress)`` and count ``config.epochs``."""
        return cls(Path(folder), target, {"config": config, "out_dir": str(folder), "progress": False},
                   label, config.epochs, config.device, config.num_threads or 1)


@dataclass
class Report:
    """What :func:`execute` did: runs executed, runs found complete, retries after dead workers."""

    ran: list[Run]
    stored: list[Run]
    retried: int
    wall_s: float
    workers: int
    backend: str


def on_disk(folder: Path | str) -> str:
    """What a run folder holds that the run can go on from, in words (for a message)."""
    folder = Path(folder)
    if (folder / CHECKPOINT_NAME).exists():
        return f"its checkpoint {folder / CHECKPOINT_NAME} is kept: the same command resumes from it"
    return f"no checkpoint had been written in {folder}: the same command starts it over"


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


def execute_one(run: Run, progress: Optional[bool] = None, lock_wait_s: Optional[float] = None) -> str:
    """Run one run in this process with its thread count; returns its folder.
    ``progress`` replaces the run's own bars setting (where it has one).
    While another process writes the run's folder (a second ``reproduce`` on
    the same store), this waits for it, saying so once, up to ``lock_wait_s``
    (None: as long as it takes); the run then finds the other's record or
    resumes its checkpoint."""
    import torch

    from ..records.guard import RunLockedError

    torch.set_num_threads(run.threads)
    module, name = run.target.split(":")
    kwargs = run.kwargs if progress is None or "progress" not in run.kwargs else {**run.kwargs, "progress": progress}
    target = getattr(importlib.import_module(module), name)
    deadline = None if lock_wait_s is None else time.monotonic() + lock_wait_s
    said = False
    while True:
        settle(run.folder, log=lambda line: print(line, file=sys.stderr, flush=True))
        try:
            target(**kwargs)
            return str(run.folder)
        except RunLockedError:
            if deadline is not None and time.monotonic() > deadline:
                raise
            if not said:
                print(f"waiting: another process is writing {run.folder} ({run.label or 'a run'}); this run goes on "
                      "when it is done", file=sys.stderr, flush=True)
                said = True
            time.sleep(LOCK_POLL_S)


class RunQueue:
    """The runs still to start, the longest estimate first (ties keep the order
    given: list scheduling, longest first, keeps the last worker from finishing
    long after the others).  One run per folder; a folder with a complete
    record is counted as stored, not run.

    ``more()``, when given, is asked after every finished run for runs that have
    become ready since (a training whose cell a finished search chose); runs
    already seen are ignored.
    """

    def __init__(self, runs: Sequence[Run], more: Optional[Callable[[], Sequence[Run]]] = None,
                 log: Optional[Callable[[str], None]] = print) -> None:
        self._waiting: list[Run] = []
        self._seen: set[Path] = set()
        self._more, self._log = more, log
        self.stored: list[Run] = []
        self.started: dict[Path, Run] = {}  # every run started at least once, in order
        self.add(runs)

    def add(self, runs: Sequence[Run]) -> list[Run]:
        """Queue the runs not seen before and not stored; returns them.  A
        damaged folder is settled first (records/trust.py: rebuilt from its
        checkpoint, or set aside to be trained again, saying which)."""
        added = []
        for run in runs:
            key = resolved(run.folder)
            if key in self._seen:
                continue
            self._seen.add(key)
            settle(run.folder, log=self._log)
            (added if stored_record(run.folder) is None else self.stored).append(run)
        self._waiting = sorted(self._waiting + added, key=lambda run: -run.estimate_s)
        return added

    def refill(self) -> list[Run]:
        """The runs ``more()`` adds (none without ``more``)."""
        return self.add(self._more()) if self._more else []

    def pop(self) -> Run:
        run = self._waiting.pop(0)
        self.started.setdefault(resolved(run.folder), run)
        return run

    def again(self, run: Run) -> None:
        """A run whose worker died: first in line (it resumes from its checkpoint)."""
        self._waiting.insert(0, run)

    @property
    def waiting(self) -> list[Run]:
        return list(self._waiting)

    def __len__(self) -> int:
        return len(self._waiting)

"""Run many searches and trainings at once: worker processes on this machine
(backend ``local``) or Ray tasks on a cluster (backend ``ray``).

The runs are independent and each writes only its own folder of the run
store, which also holds its checkpoint; so a run that dies (a killed worker,
a lost node) is simply started again and resumes where its last checkpoint
left it.  The result is the same record an uninterrupted run in one process
writes (bit-identical on the CPU, timings and provenance aside): every run
seeds itself from its config, and its thread count is fixed.

Never two workers on one folder: the queue holds one run per folder (the first
listed wins), and the run lock inside ``run_search`` / ``run_training`` still
refuses a second live writer from anywhere else.  The longest runs (by the
cost plan's estimate) start first, and runs that become ready while others
run (``more``) join the queue: a training waiting for the search that chooses
its cell starts as soon as that search is done.

``local``: ``workers`` worker processes (spawned, so no CUDA or thread state
is inherited from the driver), each running one run at a time and kept for
the next: on the CPU ``cores // threads`` (one thread per run), on GPUs
``per_gpu`` per device, each pinned to its device with
``CUDA_VISIBLE_DEVICES``; one worker runs them here, one after another.  ``ray``: one Ray Core task per run with ``num_cpus`` = threads
and ``num_gpus`` = 1/per_gpu, ``max_retries`` for dead workers; ``address``
joins an existing cluster (``ray start --head``; docs/SCALING.md), otherwise a
local Ray instance is started and stopped.

This package imports neither torch nor Ray at the top: a spawned worker sets
its thread count and device pinning before torch is loaded.
"""
from __future__ import annotations

import time
from typing import Callable, Optional, Sequence

from ..names import unknown_name_message
from .bars import Progress
from .cluster import connect_ray, run_on_ray
from .local import run_here, run_in_workers
from .runs import (BACKENDS, DEFAULT_PER_GPU, DEFAULT_RETRIES, ClusterUnavailableError, ExecutionInterrupted,
                   ExecutorError, Report, Run, RunQueue, cpu_cores, interrupted, slots, stored_record)

__all__ = ["BACKENDS", "DEFAULT_PER_GPU", "DEFAULT_RETRIES", "ClusterUnavailableError", "ExecutionInterrupted",
           "ExecutorError", "Report", "Run", "RunQueue", "connect_ray", "cpu_cores", "execute", "slots",
           "stored_record"]


def execute(runs: Sequence[Run], *, backend: str = "local", workers: Optional[int] = None,
            per_gpu: Optional[int] = None, address: Optional[str] = None, retries: int = DEFAULT_RETRIES,
            progress: bool = True, poll_s: float = 1.0, more: Optional[Callable[[], Sequence[Run]]] = None) -> Report:
    """Execute every run of ``runs`` whose folder holds no complete record.

    ``backend`` "local" (worker processes here) or "ray" (Ray tasks; ``address``
    joins a running cluster, e.g. "auto" or "ray://head:10001").  ``workers``
    caps the runs at a time (default: all cores, one thread per run; on GPUs
    ``per_gpu`` per device, default :data:`DEFAULT_PER_GPU`).  ``more()`` is
    asked after each finished run for runs that became ready (see
    :class:`RunQueue`).  An exception raised inside a run stops the others
    (they resume next time) and is raised here; a worker that dies is retried
    ``retries`` times.  A run's error carries the run (``error.failed_run``);
    Ctrl-C or a run's own interruption becomes :class:`ExecutionInterrupted`,
    saying what was saved.  Damaged folders are rebuilt from their checkpoint
    or set aside first, each named (records/trust.py :func:`settle`).
    """
    if backend not in BACKENDS:
        raise ValueError(unknown_name_message("backend", backend, BACKENDS))
    if address and backend != "ray":
        raise ValueError(f"address {address!r} needs backend='ray'")
    start = time.perf_counter()
    queue = RunQueue(runs, more)
    pending = queue.waiting
    envs = slots(pending, workers, per_gpu) if pending else [{}]
    gpus = len({env.get("CUDA_VISIBLE_DEVICES") for env in envs} - {None})
    # Runs still to come (``more``) may use the slots the first ones leave free.
    count = (len(envs) if more else min(len(envs), len(pending))) or 1
    bars = Progress(len(pending) + len(queue.stored), len(queue.stored), progress and bool(pending), backend, count)
    try:
        if not pending:
            retried = 0
        elif backend == "local" and count == 1:
            retried = run_here(queue, bars, progress)
        elif backend == "local":
            retried = run_in_workers(queue, envs[:count], retries, bars, poll_s)
        else:
            threads = max(run.threads for run in pending)
            retried = run_on_ray(queue, address, count * threads, gpus, per_gpu or DEFAULT_PER_GPU, retries, bars,
                                 poll_s)
    except BaseException as error:
        from ..records.run_dir import RunInterrupted  # torch: only now

        if isinstance(error, KeyboardInterrupt):
            raise interrupted(queue, 130) from None
        if isinstance(error, RunInterrupted):
            raise interrupted(queue, error.exit_code) from None
        raise
    finally:
        bars.close()
    return Report(list(queue.started.values()), queue.stored, retried, time.perf_counter() - start, count, backend)

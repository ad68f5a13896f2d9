"""Backend ``local``: the runs in this process one after another, or in fresh
worker processes (spawned: no CUDA or thread state is inherited), a few at a time."""
from __future__ import annotations

import os
import time
import traceback
from typing import Any, Optional

from .bars import Progress
from .runs import ExecutorError, Run, RunQueue, execute_one


def run_here(queue: RunQueue, progress: Progress, show: bool) -> int:
    """One slot: the runs one after another in this process (the serial path;
    no start-up cost), with the run's own progress bars; torch's thread count
    is put back afterwards."""
    import torch

    threads = torch.get_num_threads()
    try:
        while queue:
            run = queue.pop()
            start = time.perf_counter()
            execute_one(run, show)
            progress.finish(run, time.perf_counter() - start)
            progress.grow(queue.refill())
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


def _child(run: Run, env: dict, start_method: Optional[str], connection) -> None:
    """A local worker process: pin, run, send ("ok", None) or ("error", exception)."""
    import multiprocessing

    os.environ.update(env)
    _stop_with_parent()
    # A spawned process spawns its own children too; the run's data-loader workers
    # would then import torch afresh every epoch (5 s each here).  They start as
    # they would in the driver (on Linux by default: fork).
    multiprocessing.set_start_method(start_method, force=True)
    try:
        execute_one(run)
    except BaseException as error:  # noqa: BLE001 - everything goes back to the parent
        if hasattr(error, "add_note"):  # Python 3.11+: the traceback from the worker travels with the error
            error.add_note(f"in the worker of {run.label!r}:\n" + "".join(traceback.format_tb(error.__traceback__)))
        try:
            connection.send(("error", error))
        except Exception:  # an exception that does not pickle: send its text
            connection.send(("error", ExecutorError("".join(traceback.format_exception_only(error)).strip())))
        raise SystemExit(1)
    connection.send(("ok", None))


def _reply(receiver) -> Any:
    """The worker's reply, or None when it died without one (killed)."""
    try:
        return receiver.recv() if receiver.poll() else None
    except EOFError:
        return None
    finally:
        receiver.close()


def run_in_workers(queue: RunQueue, envs: list[dict], retries: int, progress: Progress, poll_s: float) -> int:
    """At most ``len(envs)`` fresh worker processes at a time; a worker that dies
    without a reply (killed) is started again up to ``retries`` times.  Returns
    the number of restarts."""
    import multiprocessing
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")
    start_method = multiprocessing.get_start_method(allow_none=True)  # None: the platform's default
    free = list(range(len(envs)))
    running: dict[int, tuple[Any, Run, Any, float]] = {}
    attempts: dict[str, int] = {}
    retried = 0
    try:
        while queue or running:
            while queue and free:
                slot, run = free.pop(0), queue.pop()
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(target=_child, args=(run, envs[slot], start_method, sender),
                                          name=f"run {run.label}")
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
                    progress.grow(queue.refill())
                elif reply is not None:
                    raise reply[1]
                else:
                    attempts[str(run.folder)] = attempts.get(str(run.folder), 0) + 1
                    if attempts[str(run.folder)] > retries:
                        raise ExecutorError(f"{run.label}: its worker died {attempts[str(run.folder)]} times (exit "
                                            f"code {process.exitcode}); its checkpoint in {run.folder} is kept")
                    retried += 1
                    queue.again(run)  # resumes from its checkpoint
    finally:
        for process, _, _, _ in running.values():  # on an error or Ctrl-C: the others resume next time
            process.terminate()
            process.join()
    return retried

"""Backend ``local``: the runs in this process one after another, or in a few
worker processes (spawned: no CUDA or thread state is inherited from the
driver), each running its runs one after another."""
from __future__ import annotations

import os
import threading
import time
import traceback
from typing import Any, Optional

from .bars import Progress
from .runs import ExecutorError, Run, RunQueue, blame, execute_one, on_disk

#: How long a stopped worker may take to reach its next step and write its checkpoint; then it is
#: killed (its last checkpoint is kept: every write is atomic).  A scheduler's or ``timeout``'s
#: SIGTERM must end the whole sweep within seconds, even where one step or the evaluation pass at
#: the end of an epoch takes minutes (the paper preset on a CPU).
STOP_WAIT_S = 10.0


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
            try:
                execute_one(run, show)
            except Exception as error:
                raise blame(error, run)
            progress.finish(run, time.perf_counter() - start)
            progress.grow(queue.refill())
    finally:
        torch.set_num_threads(threads)
    return 0


def _stop_with_parent() -> None:
    """Linux: SIGTERM this worker when the driver dies, even by SIGKILL (the run
    then stops at its next step and resumes next time), rather than leaving it
    running unseen, holding its run lock.  No driver is left to kill it when
    its next step is minutes away, so a watchdog ends it :data:`STOP_WAIT_S`
    after the driver is gone (on any platform)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the watchdog alone
    threading.Thread(target=_end_when_orphaned, args=(os.getppid(),), name="driver watchdog", daemon=True).start()


def _end_when_orphaned(driver_pid: int, poll_s: float = 1.0) -> None:
    while os.getppid() == driver_pid:
        time.sleep(poll_s)
    time.sleep(STOP_WAIT_S)  # the run's own SIGTERM handling checkpoints at its next step meanwhile
    os._exit(143)  # still running: its last checkpoint is kept, the same command resumes it


def _worker(env: dict, start_method: Optional[str], connection) -> None:
    """A local worker process: pinned once, then the runs it is sent one after
    another, like the serial path (``None`` ends it).  Replies ("ok", None) or
    ("error", exception); after an error it ends."""
    import multiprocessing

    os.environ.update(env)
    # Its own process group: a Ctrl-C in the terminal reaches the driver only,
    # which then stops each worker with one SIGTERM (a second signal would stop
    # a run before its checkpoint).
    os.setpgrp()
    _stop_with_parent()
    # A spawned process spawns its own children too; the run's data-loader workers
    # would then import torch afresh every epoch (5 s each here).  They start as
    # they would in the driver (on Linux by default: fork).
    multiprocessing.set_start_method(start_method, force=True)
    try:
        while (run := connection.recv()) is not None:
            try:
                execute_one(run)
            except BaseException as error:  # noqa: BLE001 - everything goes back to the parent
                if hasattr(error, "add_note"):  # Python 3.11+: the worker's traceback travels with the error
                    error.add_note(f"in the worker of {run.label!r}:\n"
                                   + "".join(traceback.format_tb(error.__traceback__)))
                _send(connection, ("error", error))
                raise SystemExit(1)
            connection.send(("ok", None))
    except (BrokenPipeError, EOFError, ConnectionResetError, KeyboardInterrupt):
        raise SystemExit(1)  # the driver is gone or stopping us: its run keeps its last checkpoint


def _send(connection, message: tuple) -> None:
    try:
        connection.send(message)
    except (BrokenPipeError, ConnectionResetError):
        raise
    except Exception:  # an exception that does not pickle: send its text
        error = message[1]
        connection.send(("error", ExecutorError("".join(traceback.format_exception_only(error)).strip())))


class _Slot:
    """One worker process (started when first needed, again after it died) and its current run."""

    def __init__(self, context, env: dict, start_method: Optional[str]) -> None:
        self.context, self.env, self.start_method = context, env, start_method
        self.process, self.connection = None, None
        self.run: Optional[Run] = None
        self.started = 0.0

    def send(self, run: Run) -> None:
        if self.process is None:
            self.connection, child_end = self.context.Pipe()
            process = self.context.Process(target=_worker, args=(self.env, self.start_method, child_end),
                                           name="milenas run worker")
            try:
                process.start()
            except RuntimeError as error:  # spawn refuses while the main module is still being imported
                self.connection.close()
                self.connection = None
                raise ExecutorError(f"could not start a worker process ({str(error).strip().splitlines()[0]}); "
                                    "a script that starts runs must do so under "
                                    "`if __name__ == \"__main__\":`") from None
            finally:
                child_end.close()
            self.process = process
        self.connection.send(run)
        self.run, self.started = run, time.perf_counter()

    def reply(self) -> Any:
        """The reply to the current run; None when the worker died without one (then it is gone)."""
        try:
            if self.connection.poll():
                return self.connection.recv()
        except (EOFError, OSError):
            pass
        if self.process.is_alive():
            return "running"
        self.close()
        return None

    def ask_to_end(self, stop: bool = False) -> None:
        """``stop``: one SIGTERM (the run checkpoints at its next step and stops); else: no more runs."""
        if self.process is None:
            return
        if stop:
            self.process.terminate()
        else:
            try:
                self.connection.send(None)
            except OSError:
                pass

    def close(self, deadline: Optional[float] = None) -> None:
        """Wait for the worker to end, until ``deadline`` (``time.monotonic()``; None: as long as it takes),
        then kill it."""
        if self.process is None:
            return
        self.process.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()
        self.process, self.connection = None, None


def _end_workers(slots: list[_Slot], stop: bool) -> None:
    """Every worker asked at once, then waited for together: a stop ends them all within :data:`STOP_WAIT_S`."""
    for slot in slots:
        slot.ask_to_end(stop)
    deadline = time.monotonic() + STOP_WAIT_S if stop else None
    for slot in slots:
        slot.close(deadline)


def run_in_workers(queue: RunQueue, envs: list[dict], retries: int, progress: Progress, poll_s: float) -> int:
    """``len(envs)`` worker processes, each running one run at a time and kept for
    the next (no torch import, no data set read again per run); a worker that
    dies without a reply (killed) is replaced and its run started again, up to
    ``retries`` times, resuming from its checkpoint.  Returns the restarts."""
    import multiprocessing
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")
    start_method = multiprocessing.get_start_method(allow_none=True)  # None: the platform's default
    slots = [_Slot(context, env, start_method) for env in envs]
    attempts: dict[str, int] = {}
    retried = 0
    failed = True
    try:
        while queue or any(slot.run for slot in slots):
            for slot in slots:
                if slot.run is None and queue:
                    slot.send(queue.pop())
                    progress.start(slot.run)
            busy = [slot for slot in slots if slot.run]
            wait([s.connection for s in busy] + [s.process.sentinel for s in busy], timeout=poll_s)
            progress.poll()
            for slot in busy:
                reply = slot.reply()
                if reply == "running":
                    continue
                run, slot.run = slot.run, None
                if reply is not None and reply[0] == "ok":
                    progress.finish(run, time.perf_counter() - slot.started)
                    progress.grow(queue.refill())
                elif reply is not None:
                    raise blame(reply[1], run)
                else:
                    attempts[str(run.folder)] = attempts.get(str(run.folder), 0) + 1
                    if attempts[str(run.folder)] > retries:
                        raise ExecutorError(f"{run.label}: its worker died {attempts[str(run.folder)]} times "
                                            f"(killed, e.g. out of memory); {on_disk(run.folder)}")
                    retried += 1
                    queue.again(run)  # resumes from its checkpoint
        failed = False
    finally:
        _end_workers(slots, stop=failed)  # on an error or Ctrl-C the runs in flight stop; they resume next time
    return retried

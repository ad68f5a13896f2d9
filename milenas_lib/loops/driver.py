"""The run driver: one loop, the search's or the evaluation training's, inside its run folder.

:func:`drive` does for :class:`~.searcher.Search` and :class:`~.train.Training`
alike what makes a loop a run that survives interruptions (the folder itself,
its lock, resume and refusals, is records/run_dir.py's):

* resume the checkpoint the folder holds, or publish the finished record it
  holds instead of running again;
* iterate the loop's events (loops/events.py) and, between them, commit a
  checkpoint at each epoch's end and every few steps or minutes within one;
* on SIGINT or SIGTERM, commit at the next step boundary and raise
  :class:`~milenas_lib.records.run_dir.RunInterrupted`; after a number of
  steps or epochs of this call, commit and return as an interruption would;
* draw an epochs bar with a steps bar inside, and write a divergence
  (:class:`~.events.Diverged`) into the record's failure note.

Under ``torchrun`` every process drives its own loop and decides every pause
the same way (the flags are all-reduced); only process 0 writes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Protocol, TypeVar

import torch
import torch.distributed as dist

from ..progress import tqdm
from ..records.io import json_ready
from ..records.run_dir import RunDir
from .distributed import DistributedContext, any_process, barrier
from .events import Diverged, EpochEnd, LoopEvent, StepEnd


class Loop(Protocol):
    """What the driver needs of a loop (:class:`~.searcher.Search`, :class:`~.train.Training`)."""

    identity: dict               # what a checkpoint in the folder must match to be resumed
    record: dict                 # the run's record so far; each checkpoint carries it
    parallel: DistributedContext
    device: torch.device
    epoch: int                   # the epoch the next event belongs to

    def restore(self, record: dict, state: dict) -> None:
        """Continue from a checkpoint's record and state."""
        ...

    def events(self) -> Iterator[LoopEvent]:
        """Each remaining step's end and epoch's close, until the run is complete."""
        ...

    def state_dict(self) -> Optional[dict]:
        """The checkpoint's state (every process takes part; process 0's is written)."""
        ...


@dataclass(frozen=True)
class Cadence:
    """When the driver commits or returns besides each epoch's end (where it always commits)."""

    every_steps: Optional[int] = None        # within an epoch, after every N-th step
    every_minutes: Optional[float] = None    # within an epoch, N minutes after the last commit
    stop_after_steps: Optional[int] = None   # return after N steps of this call, checkpoint written
    stop_after_epochs: Optional[int] = None  # return after N epochs of this call, checkpoint written


@dataclass(frozen=True)
class Progress:
    """The bars of a run: ``label`` names the epochs bar, ``postfix(entry)`` sums up each closed epoch beside it."""

    label: str
    epochs: int
    postfix: Callable[[dict], str]


@dataclass(frozen=True)
class Outcome:
    """What a drive returns: the record as written (JSON values), and whether the run is complete."""

    record: dict
    completed: bool


AnyLoop = TypeVar("AnyLoop", bound=Loop)


def drive(loop: AnyLoop, run: RunDir, cadence: Cadence, progress: Optional[Progress] = None,
          observe: Optional[Callable[[AnyLoop, Any], None]] = None) -> Outcome:
    """Resume or start ``loop`` in ``run`` and drive it until it completes, stops or is interrupted.

    ``progress=None`` draws no bars (processes other than 0 draw none);
    ``observe(loop, event)`` sees the live loop after each of its events.
    """
    barrier(loop.parallel)  # every process has read the folder (RunDir's opening) before process 0 writes into it
    resumed = run.resume(loop.identity)
    if resumed is not None and resumed["record"].get("completed"):
        run.publish(resumed["record"])  # a kill may have come between the last checkpoint and its record
        # A barrier here too, as on every way out that returns: under torchrun no process returns before
        # process 0 has written the folder, so whatever a rank does next (read record.json, start the next
        # run, end the job) finds the record this call returns.  Every process takes this branch: all read
        # the same folder, and the barrier above keeps process 0's writes after everyone's reading.
        barrier(loop.parallel)
        return Outcome(resumed["record"], completed=True)
    if resumed is not None:
        loop.restore(resumed["record"], resumed["state"])
    bars = _Bars(progress, loop.epoch)
    try:
        return _run(loop, run, cadence, bars, observe)
    except Diverged as error:
        raise run.fail(loop.record, error.what, error.advice) from None
    finally:
        bars.close()


def _run(loop: AnyLoop, run: RunDir, cadence: Cadence, bars: "_Bars",
         observe: Optional[Callable[[AnyLoop, Any], None]]) -> Outcome:
    """The events of this call, with the commits, stops and interruptions between them."""
    steps = epochs = 0
    for event in loop.events():
        if observe is not None:
            observe(loop, event)
        bars.update(event)
        if isinstance(event, EpochEnd):
            epochs += 1
            _commit(loop, run)
            if event.completed:
                break
            if any_process(run.stop_requested, loop.parallel, loop.device):
                raise run.interruption(event.epoch + 1, 0)
            if cadence.stop_after_epochs is not None and epochs >= cadence.stop_after_epochs:
                return _outcome(loop, completed=False)
            continue
        steps += 1
        stop = cadence.stop_after_steps is not None and steps >= cadence.stop_after_steps
        interrupted, due = _pause_flags(loop, run, cadence, event)
        if stop or interrupted or due:
            # Also after an epoch's last step, before its close: the close evaluates, which can take
            # minutes (ImageNet's 50,000 test images), and a resume closes the epoch first.
            _commit(loop, run)
            if stop:
                return _outcome(loop, completed=False)
            if interrupted:
                raise run.interruption(event.epoch, event.step + 1)
    return _outcome(loop, completed=loop.record["completed"])


def _outcome(loop: Loop, completed: bool) -> Outcome:
    barrier(loop.parallel)  # no process returns before process 0's last write (see drive)
    return Outcome(json_ready(loop.record), completed)


def _pause_flags(loop: Loop, run: RunDir, cadence: Cadence, event: StepEnd) -> tuple[bool, bool]:
    """``(interrupted, checkpoint due)`` after a step, the same on every process: a signal to any
    process stops all; process 0's clock decides a timed checkpoint (only process 0 commits, so
    only its clock restarts at each commit).  None is due after an epoch's last step: the epoch's
    close commits next."""
    every, done = cadence.every_steps, event.step + 1
    due = not event.last_of_epoch and (
        bool(every and done % every == 0)
        or (loop.parallel.is_main and run.checkpoint_due(cadence.every_minutes)))
    if not loop.parallel.enabled:
        return run.stop_requested, due
    flags = torch.tensor([float(run.stop_requested), float(due)], device=loop.device)
    dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    return bool(flags[0]), bool(flags[1])


def _commit(loop: Loop, run: RunDir) -> None:
    """A checkpoint: every process builds its part of the state (collectives), process 0 writes it."""
    state = loop.state_dict()  # first: it may still add to the record (time, a divergence check)
    run.commit(loop.record, state)


class _Bars:
    """An epochs bar and, within it, a steps bar (none without :class:`Progress`)."""

    def __init__(self, progress: Optional[Progress], first_epoch: int) -> None:
        self.postfix = progress.postfix if progress is not None else None
        self.epochs = None if progress is None else tqdm(total=progress.epochs, initial=first_epoch,
                                                         desc=progress.label)
        self.steps: Optional[Any] = None

    def update(self, event: LoopEvent) -> None:
        if self.epochs is None or self.postfix is None:
            return
        if isinstance(event, StepEnd):
            if self.steps is None:
                self.steps = tqdm(total=event.steps_per_epoch, initial=event.step, leave=False)
            self.steps.update(1)
            return
        self._close_steps()
        self.epochs.update(1)
        self.epochs.set_postfix_str(self.postfix(event.entry))

    def _close_steps(self) -> None:
        if self.steps is not None:
            self.steps.close()
            self.steps = None

    def close(self) -> None:
        self._close_steps()
        if self.epochs is not None:
            self.epochs.close()

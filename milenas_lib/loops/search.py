"""The search as a run: :class:`~.searcher.Search` inside a run folder.

``run_search(config, out_dir)`` searches, or resumes the search whose
checkpoint ``out_dir`` holds; under ``torchrun --nproc-per-node N`` every
process runs it and process 0 writes the folder.  The search itself (state,
steps, record) is :class:`~.searcher.Search`; this layer adds the folder
(records/run_dir.py: lock, resume, refusals), checkpoints at each epoch end
and every few steps or minutes within one, SIGINT/SIGTERM handling (all
processes stop at the same step boundary, checkpoint written) and progress
bars.  ``record.json`` is the search's record, re-written with each checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.distributed as dist

from ..config import SearchConfig
from ..progress import tqdm
from ..records.io import json_ready
from ..records.provenance import resolve_device
from ..records.run_dir import RunDir
from ..space.genotype import Genotype
from .distributed import any_process, barrier, cleanup, init_distributed
from .search_record import param_range, update_buckets
from .searcher import EpochEvent, Event, Search, SearchDiverged, StepEvent, search_val_metrics

__all__ = ["SearchResult", "run_search", "search_val_metrics", "param_range", "update_buckets"]

#: Called after every event of a search run (a measurement, a live plot): ``observe(search, event)``.
Observer = Callable[[Search, Event], None]


@dataclass
class SearchResult:
    out_dir: Path
    record: dict
    completed: bool

    @property
    def genotype(self) -> Genotype:
        return Genotype.from_dict(self.record["genotype"])


def run_search(config: SearchConfig, out_dir: Path | str, *, stop_after_steps: Optional[int] = None,
               progress: bool = True, observe: Optional[Observer] = None) -> SearchResult:
    """Search (or resume) into ``out_dir``; returns the record.

    ``stop_after_steps`` stops after that many steps of this call, with a
    checkpoint written, as an interruption would (for tests and time-boxed
    jobs); the next call resumes.  A second run on the same directory while
    this one lives is refused; SIGINT or SIGTERM checkpoint at the next step
    and raise :class:`RunInterrupted`.  ``observe`` sees the live search
    after each of its events.
    """
    resolve_device(config.device)  # a missing GPU is refused before anything is written
    half = max(config.batch_size // 2, 1)
    advice = (f"at batch size {config.batch_size}; try --batch-size {half} (the learning rates were tuned for "
              f"{config.batch_size}, so compare such runs with care), or spread the batch over more devices "
              "with torchrun (docs/SCALING.md)")
    parallel, device, joined = init_distributed(config.device)
    try:
        with RunDir(out_dir, oom_advice=advice, writer=parallel.is_main) as run:
            barrier(parallel)  # every process has read the folder before process 0 writes it
            search = Search(config, parallel=parallel, device=device)
            try:
                return _drive(search, run, stop_after_steps, progress and parallel.is_main, observe)
            except SearchDiverged as error:
                raise run.fail(search.record, error.what, error.advice) from None
    finally:
        if joined:
            cleanup()


def _drive(search: Search, run: RunDir, stop_after_steps: Optional[int], progress: bool,
           observe: Optional[Observer]) -> SearchResult:
    resumed = run.resume(search.identity)
    if resumed is not None and resumed["record"].get("completed"):
        run.publish(resumed["record"])  # a kill may have come between the last checkpoint and its record
        return SearchResult(run.path, resumed["record"], completed=True)
    if resumed is not None:
        search.restore(resumed["record"], resumed["state"])
    bars = _Bars(search, progress)
    steps_this_call = 0
    for event in search.events():
        if observe is not None:
            observe(search, event)
        bars.update(event)
        if isinstance(event, EpochEvent):
            _commit(search, run)
            if not event.completed and any_process(run.stop_requested, search.parallel, search.device):
                raise run.interruption(search.epoch, 0)
            continue
        steps_this_call += 1
        stop = stop_after_steps is not None and steps_this_call >= stop_after_steps
        interrupted, due = _pause_flags(search, run, event)
        if stop or interrupted or due:
            _commit(search, run)
            if stop:
                barrier(search.parallel)
                return SearchResult(run.path, json_ready(search.record), completed=False)
            if interrupted:
                raise run.interruption(search.epoch, search.batch)
    bars.close()
    barrier(search.parallel)
    return SearchResult(run.path, json_ready(search.record), completed=True)


def _pause_flags(search: Search, run: RunDir, event: StepEvent) -> tuple[bool, bool]:
    """``(interrupted, checkpoint due)`` after a step, the same on every process:
    a signal to any process stops all; process 0's clock decides a timed checkpoint."""
    config, done = search.config, event.step + 1
    every = config.checkpoint_every_steps
    due = not event.last_of_epoch and (
        bool(every and done % every == 0)
        or (search.parallel.is_main and run.checkpoint_due(config.checkpoint_every_minutes)))
    if not search.parallel.enabled:
        return run.stop_requested, due
    flags = torch.tensor([float(run.stop_requested), float(due)], device=search.device)
    dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    return bool(flags[0]), bool(flags[1])


def _commit(search: Search, run: RunDir) -> None:
    """A checkpoint of the search (every process takes part in the state's
    batch-norm averaging; process 0 writes)."""
    state = search.state_dict()
    run.commit(search.record, state)


def epoch_postfix(entry: dict) -> str:
    """An epoch's figures beside its bar, as the figures and tables give them: accuracy in %, the gap in points."""
    return f"search-val acc {100 * entry['val_acc']:.1f} %, train-val gap {100 * entry['gap']:+.1f} pp"


class _Bars:
    """An epochs bar and, within it, a steps bar (process 0 only)."""

    def __init__(self, search: Search, enabled: bool) -> None:
        self.search, self.enabled = search, enabled
        config = search.config
        self.epochs = tqdm(total=config.epochs, initial=search.epoch, desc=f"search {config.method}",
                           disable=not enabled)
        self.steps = None

    def update(self, event: Event) -> None:
        if isinstance(event, StepEvent):
            if self.steps is None:
                self.steps = tqdm(total=event.steps_per_epoch, initial=event.step, leave=False,
                                  disable=not self.enabled)
            self.steps.update(1)
            return
        if self.steps is not None:
            self.steps.close()
            self.steps = None
        entry = event.entry
        self.epochs.update(1)
        self.epochs.set_postfix_str(epoch_postfix(entry))

    def close(self) -> None:
        if self.steps is not None:
            self.steps.close()
        self.epochs.close()

"""The search as a run: :class:`~.searcher.Search` inside a run folder.

``run_search(config, out_dir)`` searches, or resumes the search whose
checkpoint ``out_dir`` holds; under ``torchrun --nproc-per-node N`` every
process runs it and process 0 writes the folder.  The search itself (state,
steps, record) is :class:`~.searcher.Search`; the run around it (resume,
checkpoints at each epoch end and every few steps or minutes within one,
SIGINT/SIGTERM at the next step boundary, progress bars) is the run driver's
(loops/driver.py), the same as the training's; the folder (lock, refusals) is
records/run_dir.py's.  ``record.json`` is the search's record, re-written with
each checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ..config import SearchConfig
from ..records.provenance import resolve_device
from ..records.run_dir import RunDir
from ..space.genotype import Genotype
from .distributed import cleanup, init_distributed
from .driver import Cadence, Progress, drive
from .search_record import param_range, update_buckets
from .searcher import Event, Search, search_val_metrics

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
            search = Search(config, parallel=parallel, device=device)
            cadence = Cadence(every_steps=config.checkpoint_every_steps,
                              every_minutes=config.checkpoint_every_minutes, stop_after_steps=stop_after_steps)
            bars = Progress(f"search {config.method}", config.epochs, epoch_postfix)
            outcome = drive(search, run, cadence, bars if progress and parallel.is_main else None, observe)
            return SearchResult(run.path, outcome.record, outcome.completed)
    finally:
        if joined:
            cleanup()


def epoch_postfix(entry: dict) -> str:
    """An epoch's figures beside its bar, as the figures and tables give them: accuracy in %, the gap in points."""
    return f"search-val acc {100 * entry['val_acc']:.1f} %, train-val gap {100 * entry['gap']:+.1f} pp"

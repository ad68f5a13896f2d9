"""What a loop tells the run driver (loops/driver.py): a step ended, an epoch closed, the state diverged.

The search (loops/searcher.py) and the evaluation training (loops/train.py)
speak the same words, so one driver runs both: it checkpoints, pauses and
stops between a :class:`StepEnd` and the next step, commits at each
:class:`EpochEnd`, and notes :class:`Diverged` in the run's record.  The
search's events add what a notebook reads of a search step (its losses,
timings) to these; the training's are these as they are (its sums stay on
the device until the epoch closes, so a step reports only where it stood).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..records.run_dir import NonFiniteError


@dataclass(frozen=True)
class StepEnd:
    """A step ended, over the whole batch (all processes)."""

    epoch: int
    step: int                  # index within the epoch
    steps_per_epoch: int

    @property
    def last_of_epoch(self) -> bool:
        return self.step + 1 == self.steps_per_epoch


@dataclass(frozen=True)
class EpochEnd:
    """An epoch closed: its record entry, and whether the run completed with it."""

    epoch: int
    entry: dict
    completed: bool


LoopEvent = Union[StepEnd, EpochEnd]


class Diverged(NonFiniteError):
    """The loss or the state became non-finite; ``what`` and ``advice`` say where and what to change
    (the driver writes both into the record's failure note)."""

    def __init__(self, what: str, advice: str) -> None:
        super().__init__(f"{what}; {advice}")
        self.what, self.advice = what, advice

"""The run driver (loops/driver.py) drives the search and the evaluation training alike.

Each test runs once per loop, through its public entry point (``run_search``,
``run_training``), and checks one thing a run folder promises: a signal keeps
a checkpoint that resumes to the uninterrupted record, within an epoch and
between an epoch's last step and its close; stop-after returns with a
checkpoint that resumes the same way; a finished run is published again, not
rerun; a divergence is noted in the record and the last good checkpoint kept.
Should the two loops drift apart again, one of the pair fails.
"""
from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

from milenas_lib.config import SearchConfig, TrainConfig
from milenas_lib.loops.events import EpochEnd, StepEnd
from milenas_lib.loops.search import run_search
from milenas_lib.loops.searcher import Search
from milenas_lib.loops.train import Training, run_training
from milenas_lib.records.io import load_checkpoint
from milenas_lib.records.run_dir import NonFiniteError, RunDir, RunInterrupted

#: What differs between two runs of one loop: when and where it ran, how long it took, how often it resumed.
VARYING = {"git_commit", "milenas_lib", "python", "torch", "torchvision", "numpy", "device", "device_name",
           "platform", "created", "time_s", "gpu_hours", "resumed", "digest", "alpha_step_s", "w_step_s", "eval_s",
           "peak_mem_mib", "epoch_time_s", "train_s", "throughput_img_s", "load_1min"}


@dataclass(frozen=True)
class Kind:
    """One of the driven loops: its class, a tiny configuration of two epochs, its entry point, and the
    entry point's stop-after argument past the first epoch given the steps per epoch (the search stops
    after steps, one into the second epoch; the training after epochs)."""

    name: str
    loop: type
    config: Any
    run: Callable[..., Any]
    stop_after: Callable[[int], dict]

    def __call__(self, out: Path, **options: Any) -> Any:
        return self.run(self.config, out, progress=False, **options)


KINDS = [
    Kind("search", Search, SearchConfig(method="milenas", dataset="synthetic", C=4, layers=3, batch_size=8,
                                        per_class=2, epochs=2, num_threads=1, checkpoint_every_steps=None,
                                        checkpoint_every_minutes=None),
         run_search, lambda steps_per_epoch: {"stop_after_steps": steps_per_epoch + 1}),
    Kind("training", Training, TrainConfig(dataset="synthetic", C=4, layers=3, batch_size=16, train_per_class=4,
                                           test_per_class=4, eval_batch_size=64, epochs=2, num_threads=1,
                                           checkpoint_every_minutes=None),
         run_training, lambda steps_per_epoch: {"stop_after_epochs": 1}),
]


def comparable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def read_record(out: Path) -> dict:
    return json.loads((out / "record.json").read_text())


@pytest.fixture(scope="module", params=KINDS, ids=lambda kind: kind.name)
def kind(request) -> Kind:
    return request.param


@pytest.fixture(scope="module")
def straight(kind: Kind, tmp_path_factory) -> dict:
    """The uninterrupted run's record."""
    result = kind(tmp_path_factory.mktemp(kind.name) / "straight")
    assert result.completed and result.record["epochs"] and not result.record.get("resumed")
    return result.record


def after_step(monkeypatch, kind: Kind, number: int, act: Callable[[Any, StepEnd], None]) -> None:
    """``act(loop, event)`` on the loop's ``number``-th step event of this call (1-based), before the driver sees it."""
    events = kind.loop.events

    def acting(loop):
        steps = 0
        for event in events(loop):
            if isinstance(event, StepEnd):
                steps += 1
                if steps == number:
                    act(loop, event)
            yield event

    monkeypatch.setattr(kind.loop, "events", acting)


def sigterm(loop: Any, event: StepEnd) -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # the run folder's handler only raises its flag


@pytest.mark.parametrize("where", ["within an epoch", "after an epoch's last step"])
def test_a_signal_keeps_a_checkpoint_that_resumes_to_the_uninterrupted_record(kind, straight, tmp_path,
                                                                              monkeypatch, where):
    steps_per_epoch = straight["steps_per_epoch"]
    assert steps_per_epoch >= 2
    step = 1 if where == "within an epoch" else steps_per_epoch
    with monkeypatch.context() as patch:
        after_step(patch, kind, step, sigterm)
        with pytest.raises(RunInterrupted, match=f"interrupted at epoch 0 step {step}; run the same command") as stop:
            kind(tmp_path)
    assert stop.value.exit_code == 128 + signal.SIGTERM
    checkpoint = load_checkpoint(tmp_path / "checkpoint.pt")
    assert not checkpoint["record"]["epochs"] and comparable(read_record(tmp_path)) == comparable(checkpoint["record"])
    resumed = kind(tmp_path)
    assert resumed.completed and resumed.record["resumed"] == 1
    assert comparable(resumed.record) == comparable(read_record(tmp_path)) == comparable(straight)


def test_stop_after_returns_with_a_checkpoint_that_resumes_to_the_uninterrupted_record(kind, straight, tmp_path):
    stopped = kind(tmp_path, **kind.stop_after(straight["steps_per_epoch"]))
    assert not stopped.completed and len(stopped.record["epochs"]) == 1
    assert comparable(load_checkpoint(tmp_path / "checkpoint.pt")["record"]) == comparable(stopped.record)
    resumed = kind(tmp_path)
    assert resumed.completed and resumed.record["resumed"] == 1
    assert comparable(resumed.record) == comparable(straight)


def test_timed_checkpoints_come_after_every_step_but_an_epochs_last(kind, straight, tmp_path, monkeypatch):
    """Due at every step (a clock of 1e-9 minutes), a checkpoint follows each step but the epoch's last,
    whose close commits instead: one commit per step in all."""
    commits, commit = [], RunDir.commit
    monkeypatch.setattr(RunDir, "commit", lambda run, *args: commits.append(1) or commit(run, *args))
    result = kind.run(kind.config.override(checkpoint_every_minutes=1e-9), tmp_path, progress=False)
    assert len(commits) == straight["steps_per_epoch"] * len(straight["epochs"])
    assert comparable(result.record)["epochs"] == comparable(straight)["epochs"]  # its config names the cadence


def test_a_finished_run_is_published_again_not_rerun(kind, tmp_path, monkeypatch):
    finished = kind(tmp_path)
    (tmp_path / "record.json").unlink()  # as a kill between the last checkpoint and its record leaves it

    def never(loop):
        raise AssertionError(f"the finished {kind.name} ran again")

    monkeypatch.setattr(kind.loop, "events", never)
    again = kind(tmp_path)
    assert again.completed and again.record == finished.record
    published = {key: value for key, value in read_record(tmp_path).items() if key != "digest"}
    assert published == json.loads(json.dumps(finished.record))


def test_a_divergence_is_noted_and_the_last_good_checkpoint_kept(kind, straight, tmp_path, monkeypatch):
    def poison(loop: Any, event: StepEnd) -> None:
        with torch.no_grad():
            next(loop.model.parameters()).fill_(float("nan"))

    after_step(monkeypatch, kind, straight["steps_per_epoch"] + 1, poison)  # the second epoch's first step
    with pytest.raises(NonFiniteError, match="non-finite train loss or weights") as error:
        kind(tmp_path)
    message = str(error.value)
    assert read_record(tmp_path)["failure"] == message and "last good checkpoint" in message
    checkpoint = load_checkpoint(tmp_path / "checkpoint.pt")
    assert [entry["epoch"] for entry in checkpoint["record"]["epochs"]] == [0]
    weights = checkpoint["state"]["model"].values()
    assert all(torch.isfinite(t).all() for t in weights if t.is_floating_point())


def test_both_loops_speak_the_drivers_events(kind, tmp_path, monkeypatch):
    """Each step's end, then its epoch's close, in order (the search's events add figures to these)."""
    seen: list = []
    events = kind.loop.events

    def recording(loop):
        for event in events(loop):
            seen.append(event)
            yield event

    monkeypatch.setattr(kind.loop, "events", recording)
    kind(tmp_path)
    steps = [event for event in seen if isinstance(event, StepEnd)]
    closes = [event for event in seen if isinstance(event, EpochEnd)]
    assert len(seen) == len(steps) + len(closes) and [event.epoch for event in closes] == [0, 1]
    assert [event.completed for event in closes] == [False, True]
    per_epoch = steps[0].steps_per_epoch
    assert [(event.epoch, event.step) for event in steps] == [(e, s) for e in range(2) for s in range(per_epoch)]
    assert [type(event) for event in seen].index(type(closes[0])) == per_epoch  # the close after the last step

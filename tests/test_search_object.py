"""The search as an object: stepping, events, the record they build, and the
micro-batched forward that stands in for several processes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from milenas_lib.config import SearchConfig
from milenas_lib.loops.distributed import DistributedContext
from milenas_lib.loops.search import run_search
from milenas_lib.loops.search_parallel import ShardedContext, make_context
from milenas_lib.loops.searcher import EpochEvent, Search, SearchFinished, StepEvent

TINY = dict(dataset="synthetic", C=4, layers=3, batch_size=8, per_class=4, epochs=2, num_threads=1, device="cpu")
#: What differs between two runs of one search: wall-clock timings and when/where it ran.
TIMING = {"time_s", "gpu_hours", "alpha_step_s", "w_step_s", "eval_s", "peak_mem_mib", "created", "resumed", "load_1min"}


def without_timings(value):
    """``value`` without wall times, and without the file's digest (records/trust.py seals what it writes)."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMING and k != "digest"}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def test_a_search_steps_one_at_a_time_with_alpha_readable_between_steps():
    search = Search(SearchConfig(method="milenas", alpha_lr=0.05, **TINY))
    before = search.alphas
    first = search.step()
    assert isinstance(first, StepEvent) and (first.epoch, first.step) == (0, 0) and first.epoch_end is None
    assert first.train_loss > 0 and 0 <= first.train_acc <= 1
    after = search.alphas
    assert not torch.equal(before["normal"], after["normal"])      # α moved with the step
    assert torch.equal(after["normal"], search.model.alpha_normal.detach())
    steps = [search.step() for _ in range(search.steps_per_epoch - 1)]
    assert isinstance(steps[-1].epoch_end, EpochEvent)             # the epoch's last step closes it
    assert len(search.record["epochs"]) == 1 and search.epoch == 1


def test_epochs_yield_each_epoch_and_the_search_then_refuses_more_steps():
    search = Search(SearchConfig(method="darts_1st", **TINY))
    seen = [(event.epoch, event.completed, len(search.record["epochs"])) for event in search.epochs()]
    assert seen == [(0, False, 1), (1, True, 2)]
    assert search.finished and search.record["completed"]
    assert str(search.genotype()) == search.record["epochs"][-1]["genotype_text"]
    with pytest.raises(SearchFinished):
        search.step()


@pytest.mark.slow  # a rerun or a collection: `make test`, not the edit loop
def test_a_search_driven_by_hand_writes_the_record_run_search_writes(tmp_path):
    config = SearchConfig(method="milenas", **TINY)
    search = Search(config)
    events = list(search.events())
    assert sum(isinstance(e, StepEvent) for e in events) == 2 * search.steps_per_epoch
    assert [e.epoch for e in events if isinstance(e, EpochEvent)] == [0, 1]
    stored = run_search(config, tmp_path, progress=False).record
    assert without_timings(json.loads(json.dumps(search.record, default=str))) == without_timings(
        json.loads((tmp_path / "record.json").read_text())) == without_timings(stored)


def test_run_search_shows_the_live_search_to_an_observer(tmp_path):
    seen = []
    run_search(SearchConfig(method="single_level", **TINY), tmp_path, progress=False,
               observe=lambda search, event: seen.append((type(event).__name__, search.epoch)))
    assert seen[0] == ("StepEvent", 0) and seen[-1] == ("EpochEvent", 2)


def test_micro_batches_normalise_each_piece_and_average_the_running_statistics():
    config = SearchConfig(method="milenas", micro_batches=2, channels_last=False, **TINY)
    torch.manual_seed(0)
    ctx = make_context(config, 10, torch.device("cpu"), DistributedContext())
    assert isinstance(ctx, ShardedContext)
    torch.manual_seed(0)
    plain = make_context(SearchConfig(method="milenas", channels_last=False, **TINY), 10, torch.device("cpu"),
                         DistributedContext())
    assert not isinstance(plain, ShardedContext)
    x = torch.randn(8, 3, 32, 32)
    reference = [m for m in plain.model.modules() if isinstance(m, torch.nn.BatchNorm2d)][0]
    start = reference.running_mean.clone()
    pieces = [plain.forward(x[:4])]
    first_piece = reference.running_mean.clone()
    pieces.append(plain.forward(x[4:]))
    logits = ctx.forward(x)
    assert torch.allclose(logits, torch.cat(pieces), atol=1e-5)   # each piece normalised on its own
    # Running statistics: one update from the mean of the pieces' statistics (as 2 processes averaged).
    momentum = reference.momentum
    stat_a = (first_piece - (1 - momentum) * start) / momentum
    stat_b = (reference.running_mean - (1 - momentum) * first_piece) / momentum
    sharded = [m for m in ctx.model.modules() if isinstance(m, torch.nn.BatchNorm2d)][0]
    expected = (1 - momentum) * start + momentum * (stat_a + stat_b) / 2
    assert torch.allclose(sharded.running_mean, expected, atol=1e-5)
    assert int(sharded.num_batches_tracked) == 1


def test_micro_batches_must_divide_the_batch():
    with pytest.raises(ValueError, match="divisible by micro_batches"):
        SearchConfig(method="milenas", micro_batches=3, **TINY)


def test_the_live_explorer_and_the_gradient_measurement_watch_no_checkpoint():
    """They drive a live Search (or run_search's observer), never a stop-reload-resume through the disk."""
    root = Path(__file__).resolve().parents[1] / "milenas_lib"
    for module in ("explorers/live.py", "experiments/gradient_error.py"):
        text = (root / module).read_text()
        for forbidden in ("checkpoint", "stop_after_steps", "load_checkpoint", "tempfile"):
            assert forbidden not in text, (module, forbidden)
    assert "Search(" in (root / "explorers/live.py").read_text()
    assert "observe=" in (root / "experiments/gradient_error.py").read_text()


def test_a_step_interrupted_by_ctrl_c_replays_its_batch_and_the_search_goes_on(monkeypatch):
    """A KeyboardInterrupt inside the update rule (Ctrl-C in a notebook) drew a batch it never counted;
    continuing used to run the epoch's stream dry (RuntimeError: generator raised StopIteration)."""
    search = Search(SearchConfig(method="milenas", **TINY))
    search.step()
    position = (search.epoch, search.batch)
    step = search.rule.step

    def interrupted(*args, **kwargs):
        monkeypatch.setattr(search.rule, "step", step)
        raise KeyboardInterrupt

    monkeypatch.setattr(search.rule, "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        search.step()
    assert (search.epoch, search.batch) == position
    events = list(search.events())
    assert search.finished and len(search.record["epochs"]) == TINY["epochs"]
    assert sum(isinstance(event, StepEvent) for event in events) == 2 * search.steps_per_epoch - 1

"""A search you can iterate: :class:`Search` owns one architecture search.

It holds the supernet, both optimizers, the w schedule, the update rule, the
data and the position in them, and advances one step at a time, reporting
what happened as events::

    search = Search(search_config("smoke", method="milenas", dataset="synthetic"))
    event = search.step()               # one step: losses, timings (StepEvent)
    search.alphas["normal"]             # α and search.model readable at any moment
    for epoch in search.epochs():       # the rest, epoch by epoch (EpochEvent)
        print(epoch.entry["val_acc"], epoch.genotype)

``search.record`` is the record built from those events, the same one
``run_search`` (loops/search.py) writes; the run driver (loops/driver.py)
adds only the run folder, checkpoints (:meth:`Search.state_dict`), signals
and resume.  Under ``torchrun`` each process holds a :class:`Search` over its
share of every batch (loops/search_parallel.py).
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, replace
from typing import Iterator, Optional, Union

import torch

from ..algorithms.base import Batch
from ..algorithms.methods import make_rule
from ..config import ConfigError, SearchConfig
from ..data import DataSizeError, dataset_images, make_search_data
from ..networks import cifar_params
from ..records.identity import run_identity
from ..records.provenance import load_1min, peak_memory_mib, provenance, resolve_device
from ..records.state import all_finite, is_deterministic, restore_rng, rng_state
from ..space.genotype import Genotype
from ..space.supernet import Supernet
from .distributed import DistributedContext, all_reduce_sums, average_buffers
from .events import Diverged, EpochEnd, StepEnd
from .search_parallel import broadcast_state, global_stats, make_context, shard
from .search_record import RunningSums, close_epoch, epoch_entry, new_record, note_fingerprint


@dataclass(frozen=True)
class EpochEvent(EpochEnd):
    """An epoch closed: its record entry (losses, accuracies, α, genotype, timings)."""

    @property
    def genotype(self) -> Genotype:
        return Genotype.from_dict(self.entry["genotype"])


@dataclass(frozen=True)
class StepEvent(StepEnd):
    """One step of the update rule, over the whole batch (all processes): where, and its figures."""

    train_loss: float
    train_acc: float
    alpha_s: float
    w_s: float
    epoch_end: Optional[EpochEvent] = None  # set by Search.step when the step closed its epoch

    def __str__(self) -> str:
        closed = f"; epoch {self.epoch_end.epoch} closed" if self.epoch_end is not None else ""
        return (f"epoch {self.epoch} step {self.step + 1}/{self.steps_per_epoch}: train loss {self.train_loss:.4f}, "
                f"accuracy {self.train_acc:.3f} ({self.alpha_s + self.w_s:.2f} s){closed}")


Event = Union[StepEvent, EpochEvent]


class SearchFinished(RuntimeError):
    """``step`` or ``advance`` was called on a search that ran all its epochs."""


@torch.no_grad()
def search_val_metrics(model: Supernet, batches, arch, layout: torch.memory_format = torch.contiguous_format,
             parallel: DistributedContext = DistributedContext()) -> tuple[float, float]:
    """Mean loss and accuracy on un-augmented images, batch norm in eval mode;
    over several processes each takes every N-th batch and the sums are added."""
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    for index, (x, y) in enumerate(batches.epoch(0)):
        if index % parallel.world_size != parallel.rank:
            continue
        logits = model(x.contiguous(memory_format=layout), arch)
        loss_sum += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        n += len(y)
    model.train()
    if parallel.enabled:
        loss_sum, correct, n = all_reduce_sums([loss_sum, correct, n], parallel, model.alpha_normal.device)
    return loss_sum / max(n, 1), correct / max(n, 1)


class Search:
    """One search's state and its next step (see the module docstring).

    ``parallel`` and ``device`` are this process's place under ``torchrun``
    (loops/distributed.py); a single process needs neither.
    """

    def __init__(self, config: SearchConfig, *, parallel: DistributedContext = DistributedContext(),
                 device: Optional[torch.device] = None) -> None:
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        self.config, self.parallel = config, parallel
        self.device = device if device is not None else resolve_device(config.device)
        torch.manual_seed(config.seed)
        self.images = dataset_images(config.dataset, seed=config.seed, data_root=config.data_root)
        self.data = make_search_data(self.images, config.batch_size, config.seed, self.device,
                                     per_class=config.per_class, resolution=config.resolution,
                                     val_per_class=config.val_per_class, eval_batch_size=config.eval_batch_size)
        self.ctx = make_context(config, len(self.images.classes), self.device, parallel)
        self.rule = make_rule(config)
        self.steps_per_epoch = len(self.data.paired)
        self._check_sizes()
        broadcast_state(self.model, parallel)
        self.identity = run_identity(config, self.images.identity_source)
        self.record = new_record(config, self.identity, self._run_facts(), self.model)
        self.epoch, self.batch, self.running = 0, 0, RunningSums()
        self._batches: Optional[Iterator] = None
        self._mark: Optional[float] = None
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self.model.train()

    def _check_sizes(self) -> None:
        config, world = self.config, self.parallel.world_size
        if self.steps_per_epoch == 0:
            raise DataSizeError(f"batch_size {config.batch_size} is larger than the search-train half "
                                f"({len(self.data.split[0])} images); lower --batch-size or use more data")
        if config.batch_size % (world * config.micro_batches):
            raise ConfigError(f"batch_size {config.batch_size} must split evenly into {world} process(es) x "
                              f"{config.micro_batches} micro-batches; change --batch-size or micro_batches")

    def _run_facts(self) -> dict:
        return {**provenance(self.device, self.data.provenance),
                "num_classes": len(self.images.classes), "steps_per_epoch": self.steps_per_epoch,
                "passes_per_step": self.rule.passes, "world_size": self.parallel.world_size,
                "deterministic": is_deterministic(self.device)}

    # -- what a notebook reads ------------------------------------------------

    @property
    def model(self) -> Supernet:
        return self.ctx.model

    @property
    def alphas(self) -> dict[str, torch.Tensor]:
        """α now (detached copies): ``{"normal": 14x8, "reduce": 14x8}``."""
        return {"normal": self.model.alpha_normal.detach().clone(),
                "reduce": self.model.alpha_reduce.detach().clone()}

    def genotype(self) -> Genotype:
        """The genotype α derives now."""
        return self.model.genotype()

    @property
    def finished(self) -> bool:
        return self.epoch >= self.config.epochs

    # -- moving on ----------------------------------------------------------------

    def advance(self) -> Event:
        """The next thing that happens: one step (:class:`StepEvent`) or, after
        the epoch's last step, the epoch's close (:class:`EpochEvent`)."""
        if self.finished:
            raise SearchFinished(f"the search ran all its {self.config.epochs} epochs")
        if self._batches is None:
            self._begin_epoch()
        if self.batch == self.steps_per_epoch:
            return self._end_epoch()
        return self._train_step()

    def step(self) -> StepEvent:
        """One step; when it is its epoch's last, the epoch is closed too (``.epoch_end``)."""
        if self.batch == self.steps_per_epoch and not self.finished:
            self.advance()  # resumed after an epoch's last step: close that epoch first
        event = self.advance()
        assert isinstance(event, StepEvent)
        if self.batch == self.steps_per_epoch:
            event = replace(event, epoch_end=self.advance())
        return event

    def events(self) -> Iterator[Event]:
        """Every step and every epoch's close until the search is done."""
        while not self.finished:
            yield self.advance()

    def epochs(self) -> Iterator[EpochEvent]:
        """Each remaining epoch's close."""
        for event in self.events():
            if isinstance(event, EpochEvent):
                yield event

    def _begin_epoch(self) -> None:
        self.rule.new_epoch(self.epoch, self.config.epochs)
        self.ctx.lr = self.ctx.scheduler.get_last_lr()[0]
        self._batches = iter(self.data.paired.epoch(self.epoch, start_batch=self.batch))
        self._mark = time.perf_counter()

    def _train_step(self) -> StepEvent:
        assert self._batches is not None
        x_tr, y_tr, x_val, y_val = next(self._batches)
        layout = self.ctx.layout
        batch = Batch(x_tr.contiguous(memory_format=layout), y_tr, x_val.contiguous(memory_format=layout), y_val)
        try:
            stats = global_stats(self.rule.step(self.ctx, shard(batch, self.parallel)), self.parallel,
                                 self.device)
        except BaseException:
            # Ctrl-C in a notebook (KeyboardInterrupt) or any error mid-step: the batch was drawn but
            # not counted, so the next step would draw one too many and the epoch's stream would run
            # dry (StopIteration).  Rewind it: the next step replays this batch (on the weights and α
            # this step may already have changed in part; a checkpoint resume is exact).
            self._batches = iter(self.data.paired.epoch(self.epoch, start_batch=self.batch))
            raise
        if not math.isfinite(stats.train_loss) or not all_finite(self.model):
            # The state is already stepped with it: a checkpoint on disk is the last good one.
            config = self.config
            raise Diverged(f"non-finite train loss or weights at epoch {self.epoch}, step {self.batch}",
                           f"lower the learning rates, e.g. --set w_lr={config.w_lr / 2:g} --set "
                           f"alpha_lr={config.alpha_lr / 2:g}, and run into a new --out directory")
        self.running.add(stats.train_loss * stats.n, stats.train_correct, stats.n, stats.alpha_s, stats.w_s)
        note_fingerprint(self.record, self.epoch, self.batch, stats.train_loss)
        self.batch += 1
        return StepEvent(self.epoch, self.batch - 1, self.steps_per_epoch, stats.train_loss,
                         stats.train_correct / stats.n, stats.alpha_s, stats.w_s)

    def _end_epoch(self) -> EpochEvent:
        ctx, running = self.ctx, self.running
        lrs = {"w_lr": ctx.lr, "alpha_lr": ctx.alpha_optimizer.param_groups[0]["lr"]}
        with warnings.catch_warnings():
            # Resumed after the epoch's last step, this process has made no optimizer
            # step yet, which torch takes for a mistake; the schedule is the same.
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
            ctx.scheduler.step()
        average_buffers(self.model, self.parallel)
        eval_start = time.perf_counter()
        val = search_val_metrics(self.model, self.data.val_eval, self.rule.eval_arch(self.model), ctx.layout, self.parallel)
        eval_s = time.perf_counter() - eval_start
        genotype = self.model.genotype()
        params = cifar_params(genotype)
        entry = epoch_entry(self.epoch, running, val, self.model, genotype, params, {
            **lrs, **self.rule.describe(), "alpha_step_s": running.alpha_s, "w_step_s": running.w_s,
            "eval_s": eval_s, "peak_mem_mib": peak_memory_mib(self.device), "load_1min": load_1min()})
        self.account_time()
        close_epoch(self.record, entry, genotype, params, self.config.epochs, self.device)
        self.epoch, self.batch, self.running, self._batches = self.epoch + 1, 0, RunningSums(), None
        return EpochEvent(entry["epoch"], entry, self.record["completed"])

    def account_time(self) -> None:
        """Add the time since the epoch began (or since the last call) to ``record["time_s"]``."""
        if self._mark is not None:
            now = time.perf_counter()
            self.record["time_s"] += now - self._mark
            self._mark = now

    # -- checkpoints ----------------------------------------------------------------

    def state_dict(self) -> dict:
        """Everything a resume needs besides the record (the same on every
        process: batch-norm statistics are averaged over them first)."""
        self.account_time()
        average_buffers(self.model, self.parallel)
        ctx = self.ctx
        return {"model": self.model.state_dict(), "w_optimizer": ctx.w_optimizer.state_dict(),
                "alpha_optimizer": ctx.alpha_optimizer.state_dict(), "scheduler": ctx.scheduler.state_dict(),
                "rule": self.rule.state_dict(), "rng": rng_state(), "epoch": self.epoch, "batch": self.batch,
                "running": self.running.state_dict()}

    def restore(self, record: dict, state: dict) -> None:
        """Continue from a checkpoint's ``record`` and ``state``."""
        ctx = self.ctx
        self.model.load_state_dict(state["model"])
        ctx.w_optimizer.load_state_dict(state["w_optimizer"])
        ctx.alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        ctx.scheduler.load_state_dict(state["scheduler"])
        self.rule.load_state_dict(state["rule"])
        restore_rng(state["rng"])
        self.epoch, self.batch = state["epoch"], state["batch"]
        self.running = RunningSums.from_state(state["running"])
        self.record = record
        record["resumed"] = record.get("resumed", 0) + 1
        record["world_size"] = self.parallel.world_size
        self._batches, self._mark = None, None

"""One search loop for every update rule.

``run_search(config, out_dir)`` searches, or resumes the search whose
checkpoint ``out_dir`` holds.  Each epoch appends to ``record.json``: train
and search-val loss/accuracy, their gap, α and softmax(α), the derived
genotype with its conv counts and evaluation-network size, collapse signs
(skip count, entropy), learning rates, τ, time split into α-step, w-step and
evaluation, and peak memory; plus the model-size buckets (Fig. 6).
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F

from ..algorithms.base import Batch, SearchContext
from ..algorithms.methods import make_rule
from ..config import SearchConfig
from ..data import dataset_images, make_search_data
from ..networks import cifar_params
from ..progress import tqdm
from ..records.identity import RECORD_FORMAT, run_identity
from ..records.io import json_ready
from ..records.provenance import peak_memory_mib, provenance, resolve_device
from ..records.run_dir import RunDir
from ..records.state import all_finite, is_deterministic, restore_rng, rng_state
from ..space.genotype import Genotype
from ..space.supernet import Supernet, arch_entropy

PARAM_BUCKET_WIDTH = 500_000


@dataclass
class SearchResult:
    out_dir: Path
    record: dict
    completed: bool

    @property
    def genotype(self) -> Genotype:
        return Genotype.from_dict(self.record["genotype"])


@torch.no_grad()
def evaluate(model: Supernet, batches, arch, layout: torch.memory_format = torch.contiguous_format
             ) -> tuple[float, float]:
    """Mean loss and accuracy on un-augmented images, batch norm in eval mode."""
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    for x, y in batches.epoch(0):
        logits = model(x.contiguous(memory_format=layout), arch)
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        n += len(y)
    model.train()
    return loss_sum / max(n, 1), correct / max(n, 1)


def param_range(params: int) -> str:
    low = params // PARAM_BUCKET_WIDTH * PARAM_BUCKET_WIDTH
    return f"{low / 1e6:.1f}-{(low + PARAM_BUCKET_WIDTH) / 1e6:.1f}M"


def update_buckets(buckets: dict, epoch: int, val_acc: float, genotype: Genotype, params: int) -> None:
    """Best search-val accuracy per conv-count bucket ``(n, r)`` and per
    parameter range, with the epoch and genotype that reached it (Fig. 6)."""
    n, r = genotype.conv_counts
    entry = {"val_acc": val_acc, "epoch": epoch, "genotype": genotype.to_dict(), "convs": [n, r], "params": params}
    for table, key in (("convs", f"{n},{r}"), ("params", param_range(params))):
        best = buckets[table].get(key)
        if best is None or val_acc > best["val_acc"]:
            buckets[table][key] = entry


def run_search(config: SearchConfig, out_dir: Path | str, *, stop_after_steps: Optional[int] = None,
               progress: bool = True) -> SearchResult:
    """Search (or resume) into ``out_dir``; returns the record.

    ``stop_after_steps`` stops after that many steps of this call, with a
    checkpoint written, as an interruption would (for tests and time-boxed
    jobs); the next call resumes.  A second run on the same directory while
    this one lives is refused; SIGINT or SIGTERM checkpoint at the next step
    and raise :class:`RunInterrupted`.
    """
    resolve_device(config.device)  # a missing GPU is refused before anything is written
    half = max(config.batch_size // 2, 1)
    advice = (f"at batch size {config.batch_size}; try --batch-size {half} (the learning rates were tuned for "
              f"{config.batch_size}, so compare such runs with care)")
    with RunDir(out_dir, oom_advice=advice) as run:
        return _search(config, run, stop_after_steps, progress)


def _search(config: SearchConfig, run: RunDir, stop_after_steps: Optional[int], progress: bool) -> SearchResult:
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)

    image_set = dataset_images(config.dataset, seed=config.seed, data_root=config.data_root)
    data = make_search_data(image_set, config.batch_size, config.seed, device, per_class=config.per_class,
                            resolution=config.resolution)
    ctx = SearchContext.from_config(config, num_classes=len(image_set.classes), device=device)
    model, w_optimizer, alpha_optimizer, scheduler, layout = (
        ctx.model, ctx.w_optimizer, ctx.alpha_optimizer, ctx.scheduler, ctx.layout)
    rule = make_rule(config)

    steps_per_epoch = len(data.paired)
    if steps_per_epoch == 0:
        raise ValueError(f"batch_size {config.batch_size} is larger than the search-train half "
                         f"({len(data.split[0])} images); lower --batch-size or use more data")
    identity = run_identity(config, image_set.source)
    resumed = run.resume(identity)
    if resumed is not None and resumed["record"].get("completed"):
        run.publish(resumed["record"])  # a kill may have come between the last checkpoint and its record
        return SearchResult(run.path, resumed["record"], completed=True)

    start_epoch, start_batch = 0, 0
    running = {"loss": 0.0, "correct": 0, "n": 0, "alpha_s": 0.0, "w_s": 0.0}
    if resumed is None:
        record = {
            "format": RECORD_FORMAT, "kind": "search", "identity": identity, "config": config.to_dict(),
            "seed": config.seed, "method": config.method, "lam": config.lam, "order": config.order,
            **provenance(device, image_set.provenance()),
            "steps_per_epoch": steps_per_epoch, "passes_per_step": rule.passes,
            "switch_at": config.switch_at,  # switch: the resolved first MiLeNAS epoch (config has the fraction)
            "supernet_weights": sum(p.numel() for p in model.weights()),
            "epochs": [], "buckets": {"convs": {}, "params": {}},
            "genotype": model.genotype().to_dict(), "time_s": 0.0, "completed": False,
            "deterministic": is_deterministic(device),
        }
    else:
        record, state = resumed["record"], resumed["state"]
        model.load_state_dict(state["model"])
        w_optimizer.load_state_dict(state["w_optimizer"])
        alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        rule.load_state_dict(state["rule"])
        restore_rng(state["rng"])
        start_epoch, start_batch, running = state["epoch"], state["batch"], state["running"]
        record["resumed"] = record.get("resumed", 0) + 1

    def checkpoint(epoch: int, batch: int) -> None:
        run.commit(record, {
            "model": model.state_dict(), "w_optimizer": w_optimizer.state_dict(),
            "alpha_optimizer": alpha_optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "rule": rule.state_dict(), "rng": rng_state(), "epoch": epoch, "batch": batch, "running": dict(running),
        })

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model.train()
    steps_this_call = 0
    epochs_bar = tqdm(range(start_epoch, config.epochs), desc=f"search {config.method}", disable=not progress,
                      initial=start_epoch, total=config.epochs)
    for epoch in epochs_bar:
        rule.new_epoch(epoch, config.epochs)
        ctx.lr = scheduler.get_last_lr()[0]
        epoch_start = time.perf_counter()
        batches = data.paired.epoch(epoch, start_batch=start_batch)
        for batch_index, (x_tr, y_tr, x_val, y_val) in enumerate(
                tqdm(batches, total=steps_per_epoch - start_batch, leave=False, disable=not progress),
                start=start_batch):
            batch = Batch(x_tr.contiguous(memory_format=layout), y_tr, x_val.contiguous(memory_format=layout), y_val)
            stats = rule.step(ctx, batch)
            if not math.isfinite(stats.train_loss) or not all_finite(model):
                # The state is already stepped with it: the checkpoint on disk is the last good one.
                raise run.fail(record, f"non-finite train loss or weights at epoch {epoch}, step {batch_index}",
                               f"lower the learning rates, e.g. --set w_lr={config.w_lr / 2:g} --set "
                               f"alpha_lr={config.alpha_lr / 2:g}, and run into a new --out directory")
            running["loss"] += stats.train_loss * stats.n
            running["correct"] += stats.train_correct
            running["n"] += stats.n
            running["alpha_s"] += stats.alpha_s
            running["w_s"] += stats.w_s
            steps_this_call += 1
            done = batch_index + 1
            stop = stop_after_steps is not None and steps_this_call >= stop_after_steps
            every = config.checkpoint_every_steps
            if stop or run.stop_requested or done < steps_per_epoch and (
                    every and done % every == 0 or run.checkpoint_due(config.checkpoint_every_minutes)):
                record["time_s"] += time.perf_counter() - epoch_start
                epoch_start = time.perf_counter()
                checkpoint(epoch, done)
                if stop:
                    return SearchResult(run.path, json_ready(record), completed=False)
                if run.stop_requested:
                    raise run.interruption(epoch, done)
        start_batch = 0
        lrs = {"w_lr": ctx.lr, "alpha_lr": alpha_optimizer.param_groups[0]["lr"]}
        with warnings.catch_warnings():
            # Resumed after the epoch's last step, this process has made no optimizer
            # step yet, which torch takes for a mistake; the schedule is the same.
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
            scheduler.step()

        eval_start = time.perf_counter()
        val_loss, val_acc = evaluate(model, data.val_eval, rule.eval_arch(model), layout)
        eval_s = time.perf_counter() - eval_start
        genotype = model.genotype()
        params = cifar_params(genotype)
        train_loss = running["loss"] / running["n"]
        train_acc = running["correct"] / running["n"]
        record["epochs"].append(json_ready({  # a snapshot: α keeps moving after this epoch
            "epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
            "val_loss": val_loss, "val_acc": val_acc, "gap": train_acc - val_acc,
            "alphas": {"normal": model.alpha_normal, "reduce": model.alpha_reduce},
            "softmax": {"normal": F.softmax(model.alpha_normal.detach(), -1),
                        "reduce": F.softmax(model.alpha_reduce.detach(), -1)},
            "genotype": genotype.to_dict(), "genotype_text": str(genotype),
            "convs": list(genotype.conv_counts), "params": params,
            "skip_connects": genotype.count("skip_connect"),
            "entropy": {"normal": arch_entropy(model.alpha_normal), "reduce": arch_entropy(model.alpha_reduce)},
            **lrs, **rule.describe(),
            "alpha_step_s": running["alpha_s"], "w_step_s": running["w_s"], "eval_s": eval_s,
            "peak_mem_mib": peak_memory_mib(device),
        }))
        update_buckets(record["buckets"], epoch, val_acc, genotype, params)
        record["genotype"] = genotype.to_dict()
        record["params"] = params
        record["time_s"] += time.perf_counter() - epoch_start
        record["gpu_hours"] = record["time_s"] / 3600 if device.type == "cuda" else None
        running = {"loss": 0.0, "correct": 0, "n": 0, "alpha_s": 0.0, "w_s": 0.0}
        epochs_bar.set_postfix(val_acc=f"{val_acc:.3f}", gap=f"{train_acc - val_acc:+.3f}")
        record["completed"] = epoch + 1 == config.epochs
        checkpoint(epoch + 1, 0)
        if run.stop_requested and not record["completed"]:
            raise run.interruption(epoch + 1, 0)
    return SearchResult(run.path, json_ready(record), completed=True)

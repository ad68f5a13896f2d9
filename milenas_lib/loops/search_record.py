"""The search record, built from the events of a :class:`~.searcher.Search`.

A fresh record states the run (identity, config, provenance, sizes); each
epoch event appends one entry: train and search-val loss/accuracy, their gap,
α and softmax(α), the derived genotype with its conv counts and
evaluation-network size, collapse signs (skip count, entropy), learning
rates, τ, time split into α-step, w-step and evaluation, and peak memory;
and the model-size buckets (Fig. 6) keep the best epoch per conv count and
per parameter range.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..records.identity import RECORD_FORMAT
from ..records.io import json_ready
from ..space.genotype import Genotype
from ..space.supernet import Supernet, arch_entropy

PARAM_BUCKET_WIDTH = 500_000
#: The search's first steps whose train losses every record keeps: a fingerprint that another
#: float path reproduces to a measured tolerance (verify.py; docs/RELIABILITY.md).
FINGERPRINT_STEPS = 5


@dataclass
class RunningSums:
    """The current epoch's train sums over every process (what its entry averages)."""

    loss: float = 0.0
    correct: int = 0
    n: int = 0
    alpha_s: float = 0.0
    w_s: float = 0.0

    def add(self, loss_sum: float, correct: int, n: int, alpha_s: float, w_s: float) -> None:
        self.loss += loss_sum
        self.correct += correct
        self.n += n
        self.alpha_s += alpha_s
        self.w_s += w_s

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "RunningSums":
        return cls(**state)


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


def new_record(config: Any, identity: dict, run_facts: dict, model: Supernet) -> dict:
    """The record of a search before its first epoch; ``run_facts`` holds
    provenance, steps per epoch, passes per step and the like."""
    return {
        "format": RECORD_FORMAT, "kind": "search", "identity": identity, "config": config.to_dict(),
        "seed": config.seed, "method": config.method, "lam": config.lam, "order": config.order,
        **run_facts,
        "switch_at": config.switch_at,  # switch: the resolved first MiLeNAS epoch (config has the fraction)
        "supernet_weights": sum(p.numel() for p in model.weights()),
        "epochs": [], "buckets": {"convs": {}, "params": {}},
        "genotype": model.genotype().to_dict(), "time_s": 0.0, "completed": False,
        "fingerprint": {"train_loss": []},
    }


def note_fingerprint(record: dict, epoch: int, step: int, train_loss: float) -> None:
    """Keep the train loss of the search's first :data:`FINGERPRINT_STEPS` steps."""
    if epoch == 0 and step < FINGERPRINT_STEPS:
        record["fingerprint"]["train_loss"].append(train_loss)


def epoch_entry(epoch: int, running: RunningSums, val: tuple[float, float], model: Supernet, genotype: Genotype,
                params: int, extra: dict) -> dict:
    """One epoch's entry: a snapshot, since α keeps moving after the epoch."""
    train_loss, train_acc = running.loss / running.n, running.correct / running.n
    val_loss, val_acc = val
    alphas = {"normal": model.alpha_normal, "reduce": model.alpha_reduce}
    return json_ready({
        "epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
        "val_loss": val_loss, "val_acc": val_acc, "gap": train_acc - val_acc,
        "alphas": alphas,
        "softmax": {name: F.softmax(alpha.detach(), -1) for name, alpha in alphas.items()},
        "genotype": genotype.to_dict(), "genotype_text": str(genotype),
        "convs": list(genotype.conv_counts), "params": params,
        "skip_connects": genotype.count("skip_connect"),
        "entropy": {name: arch_entropy(alpha) for name, alpha in alphas.items()},
        **extra,
    })


def close_epoch(record: dict, entry: dict, genotype: Genotype, params: int, epochs: int,
                device: torch.device) -> None:
    """Append ``entry`` and update the buckets and the run-level fields."""
    record["epochs"].append(entry)
    update_buckets(record["buckets"], entry["epoch"], entry["val_acc"], genotype, params)
    record["genotype"] = genotype.to_dict()
    record["params"] = params
    record["gpu_hours"] = record["time_s"] / 3600 if device.type == "cuda" else None
    record["completed"] = entry["epoch"] + 1 == epochs

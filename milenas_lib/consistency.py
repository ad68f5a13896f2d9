"""What a record must say about itself: cheap checks that need no rerun.

A careless or hand edit of a committed record usually breaks a relation
between its numbers: the gap is train minus val accuracy, the run-level
genotype and parameter count are the last epoch's, the model-size buckets
(Fig. 6) are a function of the epochs, and a training's headline test
accuracy is its last epoch's.  ``verify`` checks these before it reruns
anything, and refuses a record whose numbers are missing rather than
"matching" on nothing.
"""
from __future__ import annotations

import math
from typing import Any

from .space.genotype import Genotype

#: Per-epoch numbers a search record cannot lack (what the figures and claims draw).
SEARCH_EPOCH_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "gap", "alphas", "softmax", "genotype",
                     "params", "entropy")
TRAIN_EPOCH_KEYS = ("train_loss", "train_top1", "test_loss", "test_top1")
_GAP_ATOL = 1e-9


def _epochs_problem(record: dict) -> list[str]:
    epochs = record.get("epochs")
    if not isinstance(epochs, list) or not epochs or not all(isinstance(e, dict) for e in epochs):
        return ["the record holds no per-epoch results"]
    needed = SEARCH_EPOCH_KEYS if record.get("kind") == "search" else TRAIN_EPOCH_KEYS
    for k, entry in enumerate(epochs):
        missing = [key for key in needed if key not in entry]
        if missing:
            return [f"epoch {k + 1} lacks {', '.join(missing)}"]
        if entry.get("epoch") != k:
            return [f"epoch {k + 1} is numbered {entry.get('epoch')!r}"]
    return []


def _search_problems(record: dict) -> list[str]:
    from .loops.search_record import update_buckets  # the one definition of the buckets

    problems = []
    if not isinstance(record.get("steps_per_epoch"), int):
        problems.append("the record does not say its steps_per_epoch")
    epochs = record["epochs"]
    for k, entry in enumerate(epochs):
        gap, train, val = entry["gap"], entry["train_acc"], entry["val_acc"]
        if not all(isinstance(v, (int, float)) for v in (gap, train, val)) or \
                not math.isclose(gap, train - val, abs_tol=_GAP_ATOL):
            problems.append(f"epoch {k + 1}: gap {gap!r} is not train_acc - val_acc ({train!r} - {val!r})")
    last = epochs[-1]
    if record.get("genotype") != last["genotype"]:
        problems.append("the run's genotype is not its last epoch's")
    if record.get("params") != last["params"]:
        problems.append(f"the run's params {record.get('params')!r} are not its last epoch's {last['params']!r}")
    buckets: dict[str, Any] = {"convs": {}, "params": {}}
    try:
        for entry in epochs:
            update_buckets(buckets, entry["epoch"], entry["val_acc"], Genotype.from_dict(entry["genotype"]),
                           entry["params"])
    except (KeyError, TypeError, ValueError) as error:
        return problems + [f"an epoch's genotype does not load ({error})"]
    if record.get("buckets") != buckets:
        problems.append("the model-size buckets are not the ones its epochs give")
    return problems


def _train_problems(record: dict, epochs_run: int) -> list[str]:
    if not record.get("completed"):
        return []
    last = record["epochs"][-1]
    return [f"{key} {record.get(key)!r} is not the last epoch's {last.get(field)!r}"
            for key, field in (("final_test_top1", "test_top1"), ("final_test_top5", "test_top5"),
                               ("final_test_loss", "test_loss")) if record.get(key) != last.get(field)]


def consistency_problems(record: Any) -> list[str]:
    """What in ``record`` contradicts itself or is missing (empty: consistent)."""
    if not isinstance(record, dict) or record.get("kind") not in ("search", "train") \
            or not isinstance(record.get("config"), dict):
        return ["not a search or training record of this kit (no 'kind'/'config')"]
    problems = _epochs_problem(record)
    if problems:
        return problems
    if record["kind"] == "search":
        return _search_problems(record)
    return _train_problems(record, len(record["epochs"]))

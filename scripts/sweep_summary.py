"""One markdown row per setting of a preset's run store: what its searches reached, mean ± SD over seeds.

    python scripts/sweep_summary.py --preset long

Per setting, over its finished seeds, each run's value being its mean over the last 3 epochs
(as notebook 10 reads them) or its last epoch (α): train and search-val accuracy, their gap, the
fall of the mean entropy of softmax(α) from ln 8 (the gate of docs/PROTOCOL.md, "Gates"), the same
fall among the seven ops other than *none* (softmax renormalised without it: the choice a derived
cell makes, since derivation leaves *none* out), *none*'s mean weight in the normal cell, and the
run's wall clock (``time_s``).  Every number comes from the committed records.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys

import numpy as np

from milenas_lib.experiments.store import load_records
from milenas_lib.paper.claims import LAST_EPOCHS
from milenas_lib.paper.settings import claim_settings

OPS = 8


def entropy_fall(alphas: dict, without_none: bool = False) -> float:
    """Percent fall of the mean entropy of softmax(α) over both cells' edges from its uniform value."""
    logits = np.concatenate([np.asarray(alphas[cell], dtype=float) for cell in ("normal", "reduce")])
    if without_none:
        logits = logits[:, 1:]
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    entropy = float(-(weights * np.log(weights)).sum(axis=1).mean())
    return 100 * (1 - entropy / math.log(logits.shape[1]))


def none_weight(alphas: dict) -> float:
    logits = np.asarray(alphas["normal"], dtype=float)
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return float((weights[:, 0] / weights.sum(axis=1)).mean())


def run_values(record: dict) -> dict[str, float]:
    last = record["epochs"][-LAST_EPOCHS:]
    alphas = record["epochs"][-1]["alphas"]
    train, val = (100 * statistics.mean(e[key] for e in last) for key in ("train_acc", "val_acc"))
    return {"train": train, "val": val, "gap": train - val, "fall": entropy_fall(alphas),
            "fall7": entropy_fall(alphas, without_none=True), "none": none_weight(alphas),
            "time": record["time_s"]}


def cell(values: list[float], digits: int = 1) -> str:
    if len(values) < 2:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="long")
    args = parser.parse_args(argv)
    by_setting: dict[str, list[dict]] = {}
    labels: dict[str, str] = {}
    for record in load_records(args.preset):
        by_setting.setdefault(record["setting"], []).append(run_values(record))
        labels[record["setting"]] = record["label"]
    print("| setting | n | train acc (%) | search-val acc (%) | gap (pp) | α entropy fall (%) "
          "| fall without *none* (%) | *none*'s weight, normal cell | wall clock per run (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    order = claim_settings(order_check=False, controls=True)  # the claims' order, then any other setting
    for setting, runs in sorted(by_setting.items(), key=lambda item: (item[0] not in order, order.index(item[0]) if item[0] in order else 0, item[0])):
        column = {key: [run[key] for run in runs] for key in runs[0]}
        print(f"| {labels[setting]} | {len(runs)} | {cell(column['train'])} | {cell(column['val'])} "
              f"| {cell(column['gap'])} | {cell(column['fall'])} | {cell(column['fall7'])} "
              f"| {cell(column['none'], 2)} | {min(column['time']):,.0f}-{max(column['time']):,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

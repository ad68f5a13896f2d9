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
import pandas as pd

from milenas_lib.experiments.store import load_records
from milenas_lib.paper.claims import LAST_EPOCHS, final_values
from milenas_lib.paper.frames import last_epochs_mean, records_frame
from milenas_lib.paper.settings import claim_settings


def _softmax(logits: np.ndarray) -> np.ndarray:
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


def entropy_fall(alphas: dict, without_none: bool = False) -> float:
    """Percent fall of the mean entropy of softmax(α) over both cells' edges from its uniform value
    (the gate's fall is notebook 10's, from the recorded entropy; this one can leave *none* out)."""
    logits = np.concatenate([np.asarray(alphas[cell], dtype=float) for cell in ("normal", "reduce")])
    if without_none:
        logits = logits[:, 1:]
    weights = _softmax(logits)
    entropy = float(-(weights * np.log(weights)).sum(axis=1).mean())
    return 100 * (1 - entropy / math.log(logits.shape[1]))


def none_weight(alphas: dict) -> float:
    """*none*'s mean softmax weight over the normal cell's edges."""
    return float(_softmax(np.asarray(alphas["normal"], dtype=float))[:, 0].mean())


def cell(values: list[float], digits: int = 1) -> str:
    if len(values) < 2:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def run_table(records: list[dict]) -> pd.DataFrame:
    """One row per run: notebook 10's last-epochs means and gate values, train accuracy likewise,
    and the α measures that leave *none* out, from the last epoch's α."""
    frame = records_frame(records)
    runs = final_values(frame).merge(last_epochs_mean(frame, ["train_acc"], LAST_EPOCHS), on=["setting", "seed"])
    extra = [{"setting": r["setting"], "seed": r["seed"], "label": r["label"], "time_s": r["time_s"],
              "fall7": entropy_fall(r["epochs"][-1]["alphas"], without_none=True),
              "none": none_weight(r["epochs"][-1]["alphas"])} for r in records]
    return runs.merge(pd.DataFrame(extra), on=["setting", "seed"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="long")
    args = parser.parse_args(argv)
    runs = run_table(load_records(args.preset))
    print("| setting | n | train acc (%) | search-val acc (%) | gap (pp) | α entropy fall (%) "
          "| fall without *none* (%) | *none*'s weight, normal cell | wall clock per run (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    order = claim_settings(order_check=False, controls=True)  # the claims' order, then any other setting
    rank = {key: index for index, key in enumerate(order)}
    for setting in sorted(set(runs["setting"]), key=lambda key: (rank.get(key, len(order)), key)):
        rows = runs[runs["setting"] == setting]
        column = {key: list(rows[key]) for key in rows}
        print(f"| {column['label'][0]} | {len(rows)} | {cell(column['train_acc'])} | {cell(column['val_acc'])} "
              f"| {cell(column['gap'])} | {cell([100 * f for f in column['entropy_fall']])} "
              f"| {cell(column['fall7'])} | {cell(column['none'], 2)} "
              f"| {min(column['time_s']):,.0f}-{max(column['time_s']):,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

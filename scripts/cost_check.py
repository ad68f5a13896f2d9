"""How well ``plan`` predicts a sweep's search epochs, epoch by epoch, split by how busy the machine was.

    python scripts/cost_check.py --preset long [--epochs-log results/long/epochs_load.tsv] [--quiet 2.5]

For every finished search of the preset's run store made on this CPU's vector capability, each epoch's measured time (its α steps, w steps
and search-val evaluation: ``alpha_step_s + w_step_s + eval_s``) is set beside what ``plan`` predicts
for that epoch on this machine (``milenas_lib.costs``: the calibration file ``python -m milenas_lib
bench --size <preset>`` wrote here, else the documented figures).  An epoch counts as *quiet* when the
machine's 1-minute load average at its end was at most ``--quiet`` (default: 2.5, i.e. the sweep's two
workers and nothing else on a 2-core machine).  The load comes from the epoch itself (``load_1min``,
in records written since epochs carry it) or from ``--epochs-log``, a tab-separated log of
``utc, setting, folder, epoch, load1, ...`` lines written beside a sweep whose records predate it.

Prints, per setting, the median ratio measured / predicted over quiet epochs and over all epochs, and
the whole store's total.  Epoch times are wall clock: a ratio near 1 on quiet epochs says the plan's
step figures fit this machine; the ratio on busy epochs says what the load cost.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import statistics
import sys
from pathlib import Path

import torch

from milenas_lib import costs
from milenas_lib.config import SearchConfig
from milenas_lib.experiments.store import load_records
from milenas_lib.records.float_path import float_path


def epoch_loads(log: Path | None) -> dict[tuple[str, int], float]:
    """(run folder name, 0-based epoch) -> load average, from a sweep's side log; each run's first
    line is dropped (the logger saw that run already under way, not its epoch's end)."""
    if log is None:
        return {}
    loads, seen = {}, set()
    with open(log, newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["folder"] not in seen:
                seen.add(row["folder"])
                continue
            loads[(row["folder"], int(row["epoch"]) - 1)] = float(row["load1"])
    return loads


def predicted_epoch_s(config: SearchConfig, times: costs.StepTimes) -> float:
    """``plan``'s cost of one epoch: its steps and one evaluation of the search-val half."""
    run = costs.search_seconds(config, times) - costs.RUN_OVERHEAD_S
    return run / config.epochs


def config_of(record: dict) -> SearchConfig:
    names = {field.name for field in dataclasses.fields(SearchConfig)}
    return SearchConfig(**{key: value for key, value in record["config"].items() if key in names})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="long")
    parser.add_argument("--epochs-log", type=Path, default=None)
    parser.add_argument("--quiet", type=float, default=2.5, help="the highest load average of a quiet epoch")
    args = parser.parse_args(argv)
    times = costs.StepTimes.load("cpu")
    loads = epoch_loads(args.epochs_log)
    here = float_path(torch.device("cpu"))
    rows: dict[str, list[tuple[float, float | None]]] = {}
    records = load_records(args.preset)
    other = [r for r in records if (r.get("float_path") or {}).get("capability") != here["capability"]]
    for record in (r for r in records if r not in other):
        predicted = predicted_epoch_s(config_of(record), times)
        folder = Path(record["run_dir"]).name
        for index, epoch in enumerate(record["epochs"]):
            measured = epoch["alpha_step_s"] + epoch["w_step_s"] + epoch["eval_s"]
            load = epoch.get("load_1min", loads.get((folder, index)))
            rows.setdefault(record["setting"], []).append((measured / predicted, load))
    print(f"per-step figures: {times.source}")
    print(f"this machine: {here['cpu']}, {here['capability']}; {len(other)} record(s) from another CPU left out")
    print(f"{'setting':16s} {'quiet epochs':>12s} {'median ratio':>12s} {'all epochs':>10s} {'median ratio':>12s}")
    every = [ratio for pairs in rows.values() for ratio, _ in pairs]
    quiet_all = [ratio for pairs in rows.values() for ratio, load in pairs if load is not None and load <= args.quiet]
    for setting, pairs in rows.items():
        quiet = [ratio for ratio, load in pairs if load is not None and load <= args.quiet]
        middle = f"{statistics.median(quiet):12.2f}" if quiet else f"{'-':>12s}"
        print(f"{setting:16s} {len(quiet):12d} {middle} {len(pairs):10d} {statistics.median(r for r, _ in pairs):12.2f}")
    if every:
        middle = f"{statistics.median(quiet_all):12.2f}" if quiet_all else f"{'-':>12s}"
        print(f"{'all':16s} {len(quiet_all):12d} {middle} {len(every):10d} {statistics.median(every):12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

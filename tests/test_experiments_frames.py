"""Tidy frames and their reductions: records → rows, mean ± std over seeds, smoothing, last epoch, buckets."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from milenas_lib.paper import frames
from milenas_lib.space.genotype import GENOTYPES

GENOTYPE = GENOTYPES["DARTS_V2"].to_dict()


def search_record(setting: str, seed: int, val_accs: list[float], train_acc: float = 0.5, time_s: float = 10.0,
                  method: str = "milenas") -> dict:
    """A search record as loops.search writes it, with only what the frames read."""
    epochs = [{"epoch": i, "train_acc": train_acc, "val_acc": v, "gap": train_acc - v, "train_loss": 1.0,
               "val_loss": 2.0, "convs": [3, 1], "params": 2_500_000, "skip_connects": 2,
               "entropy": {"normal": 2.0, "reduce": 1.9}, "w_lr": 0.02, "alpha_step_s": 1.0, "w_step_s": 2.0,
               "eval_s": 0.5, "genotype_text": "g"} for i, v in enumerate(val_accs)]
    buckets = {"convs": {"3,1": {"val_acc": max(val_accs), "epoch": 0, "genotype": GENOTYPE, "convs": [3, 1],
                                 "params": 2_500_000}},
               "params": {"2.5-3.0M": {"val_acc": max(val_accs), "epoch": 0, "genotype": GENOTYPE, "convs": [3, 1],
                                       "params": 2_500_000}}}
    return {"setting": setting, "label": setting, "method": method, "lam": 1.0, "seed": seed, "epochs": epochs,
            "buckets": buckets, "genotype": GENOTYPE, "time_s": time_s, "steps_per_epoch": 4, "passes_per_step": 2}


def test_records_frame_has_one_row_per_epoch_in_percent_and_counts_completed_epochs():
    table = frames.records_frame([search_record("milenas_lam1", 0, [0.1, 0.25])])
    assert list(table["epoch"]) == [1, 2]
    assert table["val_acc"].tolist() == pytest.approx([10.0, 25.0])
    assert table["gap"].tolist() == pytest.approx([40.0, 25.0])
    assert table["params_M"].tolist() == [2.5, 2.5]


def test_mean_std_per_group_in_first_seen_order_with_zero_std_for_one_run():
    table = pd.DataFrame({"setting": ["b", "b", "a"], "epoch": [1, 1, 1], "gap": [1.0, 3.0, 5.0]})
    summary = frames.mean_std(table, "gap")
    assert list(summary["setting"]) == ["b", "a"]
    assert summary["mean"].tolist() == [2.0, 5.0]
    assert summary["std"].tolist() == pytest.approx([math.sqrt(2), 0.0])
    assert summary["n"].tolist() == [2, 1] and set(summary["value"]) == {"gap"}


def test_smooth_is_a_trailing_mean_within_each_run_only():
    table = pd.DataFrame({"setting": ["a"] * 3 + ["b"] * 3, "seed": 0, "epoch": [1, 2, 3] * 2,
                          "gap": [0.0, 2.0, 4.0, 100.0, 100.0, 100.0]})
    smoothed = frames.smooth(table, "gap", window=2)
    assert smoothed[smoothed.setting == "a"]["gap"].tolist() == [0.0, 1.0, 3.0]   # the first epoch is not shifted
    assert smoothed[smoothed.setting == "b"]["gap"].tolist() == [100.0] * 3        # no leak from run a
    assert frames.smooth(table, "gap", window=1)["gap"].tolist() == table["gap"].tolist()
    assert table["gap"].tolist()[1] == 2.0                                        # a copy: the input is unchanged


def test_final_epoch_takes_each_runs_own_last_epoch():
    table = pd.DataFrame({"setting": ["a", "a", "a", "b"], "seed": [0, 0, 1, 0], "epoch": [1, 2, 1, 5],
                          "val_acc": [1, 2, 3, 4]})
    assert sorted(frames.final_epoch(table)["val_acc"]) == [2, 3, 4]


def test_curves_stack_smoothed_mean_std_of_each_value():
    records = [search_record("s", seed, [0.1, 0.3 + seed / 10]) for seed in (0, 1)]
    curves = frames.curves(frames.records_frame(records), ["val_acc", "gap"], window=2)
    assert set(curves["value"]) == {"val_acc", "gap"}
    last = curves[(curves["value"] == "val_acc") & (curves["epoch"] == 2)].iloc[0]
    # seed 0: mean(10, 30) = 20; seed 1: mean(10, 40) = 25 -> 22.5 over seeds
    assert last["mean"] == pytest.approx(22.5) and last["n"] == 2


@pytest.mark.parametrize("values, expected", [([30.0], "30.00"), ([30.0, 32.0], "31.00 ± 1.41")])
def test_final_table_writes_mean_and_std_only_with_several_seeds(values, expected):
    records = [search_record("milenas_lam1", seed, [0.0, v / 100]) for seed, v in enumerate(values)]
    table = frames.final_table(frames.records_frame(records), ["val_acc"])
    assert table.loc[0, "val_acc"] == expected and table.loc[0, "n"] == len(values)
    assert table.loc[0, "setting"] == "MiLeNAS λ = 1"


def test_search_time_frame_splits_the_time_and_time_ratio_compares_means():
    records = [search_record("darts_2nd", 0, [0.1, 0.2], time_s=40.0), search_record("milenas_lam1", 0, [0.1], time_s=10.0)]
    times = frames.search_time_frame(records)
    slow = times.iloc[0]
    assert (slow["alpha_step_s"], slow["w_step_s"], slow["eval_s"], slow["other_s"]) == (2.0, 4.0, 1.0, 33.0)
    assert slow["steps"] == 8 and slow["s_per_step"] == pytest.approx(6.0 / 8)
    assert frames.time_ratio(times) == pytest.approx(4.0)
    assert frames.time_ratio(times, slow="gdas") is None


def test_best_run_and_best_per_bucket_pick_the_highest_accuracy():
    records = [search_record("a", 0, [0.9, 0.2]), search_record("a", 1, [0.1, 0.3]), search_record("b", 0, [0.5])]
    assert frames.best_run(records[:2])["seed"] == 1  # the last epoch decides, not the best epoch
    assert frames.best_run(records)["setting"] == "b"
    best = frames.best_per_bucket(frames.bucket_frame(records), "convs")
    assert best.set_index("setting")["val_acc"].to_dict() == pytest.approx({"a": 90.0, "b": 50.0})


def test_switch_epoch_reads_the_switch_runs_config():
    record = {**search_record("switch", 0, [0.1], method="switch"), "config": {"switch_epoch": 35}}
    assert frames.switch_epoch([search_record("a", 0, [0.1]), record]) == 35
    assert frames.switch_epoch([search_record("a", 0, [0.1])]) is None

"""Claim 4's evidence: the interleaved step benchmark, and the sweep's whole-run ratio reported beside it."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from milenas_lib.bench import SPEEDUP_PAIR, interleaved_speedup
from milenas_lib.paper.claims import CLAIMS, UNMEASURABLE, measure
from milenas_lib.paper.claims_report import mean_concurrency, sweep_speed


def test_the_benchmark_alternates_who_goes_first_and_feeds_claim_four():
    report = interleaved_speedup("smoke", repeats=2, warmup=0)
    assert [p["first"] for p in report["pairs"]] == [SPEEDUP_PAIR[0], SPEEDUP_PAIR[1]]
    assert all(p[key] > 0 and p["wall_s"][key] > 0 for p in report["pairs"] for key in SPEEDUP_PAIR)
    assert report["loadavg"] and report["cpu_capability"] and report["threads"] == 1
    row = measure(pd.DataFrame(), next(c for c in CLAIMS if c.part == "4"), report)
    assert row["n"] == 2 and row["verdict"] != UNMEASURABLE


def test_concurrency_counts_how_many_searches_overlapped():
    records = [{"created": "2026-01-01T00:00:00+00:00", "time_s": 100.0},
               {"created": "2026-01-01T00:00:50+00:00", "time_s": 100.0}]
    # Each run shares half of its time with the other: 1.5 searches at once on average.
    assert mean_concurrency(records) == pytest.approx(1.5)
    assert mean_concurrency(records[:1]) == pytest.approx(1.0)


def test_the_sweep_ratio_is_paired_by_seed_and_says_it_includes_evaluation():
    times = pd.DataFrame([{"setting": s, "seed": seed, "time_s": t} for s, ts in
                          {"darts_2nd": [200, 300, 400], "milenas_lam1": [100, 100, 200]}.items()
                          for seed, t in enumerate(ts)])
    records = [{"created": "2026-01-01T00:00:00+00:00", "time_s": 10.0}]
    sweep = sweep_speed(times, records)
    assert sweep["ratio"] == pytest.approx(math.exp((math.log(2) + math.log(3) + math.log(2)) / 3))
    assert [p["value"] for p in sweep["per_seed"]] == pytest.approx([2, 3, 2])
    assert "includes evaluation; machine load 1.0" in sweep["note"]
    assert "the records hold no load average" in sweep["note"] and sweep["mean_load_1min"] is None
    # Records whose epochs carry the machine's load average say it (epochs without one are left out).
    records[0]["epochs"] = [{"load_1min": 2.0}, {"load_1min": 3.0}, {"val_acc": 0.5}]
    sweep = sweep_speed(times, records)
    assert sweep["mean_load_1min"] == pytest.approx(2.5) and "load average 2.5 over their epochs" in sweep["note"]

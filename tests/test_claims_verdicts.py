"""The claims' verdicts follow from paired effects and their 95 % intervals, on hand-made runs."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from milenas_lib.experiments.claims import (CLAIMS, HOLDS, REVERSED, UNRESOLVED, Comparison, claim_verdict,
                                            claims_table, evaluate_claims, markdown_table, measure,
                                            order_sensitivity, t_quantile)


def finals(values: dict[str, list[float]], column: str = "val_acc") -> pd.DataFrame:
    return pd.DataFrame([{"setting": key, "seed": seed, column: v}
                         for key, per_seed in values.items() for seed, v in enumerate(per_seed)])


ABOVE = Comparison("9", "9", "§0", "a above b", "val_acc", ("milenas_lam1",), "darts_2nd")


def test_t_quantiles_match_the_tables():
    assert t_quantile(2) == pytest.approx(4.303, abs=1e-3)
    assert t_quantile(30) == pytest.approx(2.042, abs=2e-3)  # the expansion beyond the table
    assert t_quantile(10_000) == pytest.approx(1.960, abs=1e-3)


def test_a_clear_paired_effect_holds_and_its_interval_is_the_t_interval():
    row = measure(finals({"milenas_lam1": [50, 52, 54], "darts_2nd": [45, 46.5, 49.5]}), ABOVE)
    d = [5, 5.5, 4.5]
    mean, std = sum(d) / 3, pd.Series(d).std()
    assert (row["mean"], row["n"]) == (pytest.approx(mean), 3)
    assert row["ci_low"] == pytest.approx(mean - 4.303 * std / math.sqrt(3), abs=1e-3)
    assert row["verdict"] == HOLDS


def test_pairing_by_seed_resolves_what_seed_noise_would_hide():
    # Seeds differ by 10 pp, the effect is a steady +1 pp: paired, it holds.
    row = measure(finals({"milenas_lam1": [41, 51, 61], "darts_2nd": [40, 50, 60.2]}), ABOVE)
    assert row["verdict"] == HOLDS


def test_an_interval_over_zero_is_not_resolved_and_a_clear_opposite_is_reversed():
    assert measure(finals({"milenas_lam1": [50, 45, 52], "darts_2nd": [48, 48, 48]}), ABOVE)["verdict"] == UNRESOLVED
    assert measure(finals({"milenas_lam1": [40, 41, 42], "darts_2nd": [48, 49, 50]}), ABOVE)["verdict"] == REVERSED


def test_one_seed_is_never_a_verdict():
    assert measure(finals({"milenas_lam1": [60], "darts_2nd": [40]}), ABOVE)["verdict"].startswith(UNRESOLVED)


def test_close_needs_the_whole_interval_inside_the_margin():
    close = Comparison("9", "9", "§0", "close", "val_acc", ("milenas_lam999",), "darts_2nd", "close", 2.0)
    assert measure(finals({"milenas_lam999": [50.5, 50, 50.2], "darts_2nd": [50, 49.8, 50.1]}), close)["verdict"] == HOLDS
    assert measure(finals({"milenas_lam999": [60, 61, 62], "darts_2nd": [50, 50, 50]}), close)["verdict"] == REVERSED
    assert measure(finals({"milenas_lam999": [50, 53, 47], "darts_2nd": [50, 50, 50]}), close)["verdict"] == UNRESOLVED


def test_the_speed_claim_compares_the_ratio_with_three():
    speed = next(c for c in CLAIMS if c.part == "4")
    fast = finals({"darts_2nd": [330, 340, 350], "milenas_lam1": [100, 100, 100]}, "time_s")
    slow = finals({"darts_2nd": [250, 260, 255], "milenas_lam1": [100, 100, 100]}, "time_s")
    assert measure(fast, speed)["verdict"] == HOLDS
    assert measure(slow, speed)["verdict"] == REVERSED


def test_single_level_lowest_is_judged_against_the_lowest_other_setting_per_seed():
    lowest = next(c for c in CLAIMS if c.part == "2c")
    values = {"single_level": [30, 31, 32], "milenas_lam0.1": [50, 50, 50], "milenas_lam1": [50, 50, 50],
              "milenas_lam999": [50, 50, 50], "darts_2nd": [35, 36, 37]}
    assert measure(finals(values), lowest)["mean"] == pytest.approx(5.0)
    values["darts_2nd"] = [29, 30, 31]
    assert measure(finals(values), lowest)["verdict"] == REVERSED


def test_a_claim_holds_only_when_every_part_holds():
    assert claim_verdict([HOLDS, HOLDS]) == HOLDS
    assert claim_verdict([HOLDS, UNRESOLVED]) == UNRESOLVED
    assert claim_verdict([HOLDS, UNRESOLVED, REVERSED]) == REVERSED


def test_every_claim_gets_a_row_and_the_table_renders_as_markdown():
    keys = ["single_level", "milenas_lam0.1", "milenas_lam1", "milenas_lam999", "darts_2nd", "switch", "gdas",
            "milenas_gumbel"]
    rows = [{"setting": k, "seed": s, "gap": 10 - i + s, "val_acc": 40 + i + s, "time_s": 100.0 * (i + 1)}
            for i, k in enumerate(keys) for s in range(3)]
    claims = evaluate_claims(pd.DataFrame(rows))
    assert list(claims["part"]) == [c.part for c in CLAIMS]
    assert set(claims["n"]) == {3}
    text = markdown_table(claims_table(claims, "medium"))
    assert text.count("\n") == len(CLAIMS) + 1 and "| 1a |" in text


def test_order_sensitivity_reevaluates_the_parts_with_the_replaced_setting():
    values = {"milenas_lam1": [50, 51, 52], "milenas_lam1_w_first": [40, 41, 42], "darts_2nd": [45, 46, 47]}
    table = order_sensitivity(finals(values), {"milenas_lam1": "milenas_lam1_w_first"}, [ABOVE])
    assert list(table["verdict"]) == [HOLDS] and list(table["its verdict"]) == [REVERSED]
    assert not table["same verdict"].any()

"""The claims' verdicts follow from gated, paired effects and their Holm-adjusted intervals, on hand-made runs."""
from __future__ import annotations

import math
import random

import pandas as pd
import pytest

from milenas_lib.paper.claims import (CLAIMS, HOLDS, LAST_EPOCHS, REVERSED, UNMEASURABLE, UNRESOLVED, WEAKER,
                                            Comparison, claim_verdict, close_margin, control_checks, evaluate_claims, final_values,
                                            measure, order_sensitivity)
from milenas_lib.paper.claims_report import claims_report, claims_table, markdown_table
from milenas_lib.paper.stats import Sample, holm, t_cdf, t_quantile

#: Gate values of a run that trained and moved α (chance 10 %).
MEASURABLE = {"final_val_acc": 50.0, "chance_acc": 10.0, "entropy_fall": 0.2}


def finals(values: dict[str, list[float]], column: str = "val_acc", **gates) -> pd.DataFrame:
    return pd.DataFrame([{"setting": key, "seed": seed, column: v, **MEASURABLE, **gates.get(key, {})}
                         for key, per_seed in values.items() for seed, v in enumerate(per_seed)])


ABOVE = Comparison("9", "9", "§0", "a above b", "val_acc", "milenas_lam1", "darts_2nd")
SPEED = next(c for c in CLAIMS if c.part == "4")


def benchmark(darts: list[float], milenas: list[float]) -> dict:
    return {"pairs": [{"darts_2nd": d, "milenas_lam1": m} for d, m in zip(darts, milenas)]}


# -- the t distribution and Holm ----------------------------------------------------------------------

@pytest.mark.parametrize("t", [-7.0, -1.3, 0.0, 0.4, 2.5, 30.0])
def test_t_cdf_matches_the_closed_forms_of_one_and_two_degrees_of_freedom(t):
    assert t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-10)  # Cauchy
    assert t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-10)


@pytest.mark.parametrize("df, p", [(1, 0.975), (2, 0.999), (3, 0.99821), (7, 0.9), (50, 0.975)])
def test_t_quantile_inverts_the_cdf(df, p):
    assert t_cdf(t_quantile(df, p), df) == pytest.approx(p, abs=1e-9)


def test_t_quantiles_match_the_printed_tables():
    assert t_quantile(2) == pytest.approx(4.303, abs=1e-3)
    assert t_quantile(30) == pytest.approx(2.042, abs=1e-3)
    assert t_quantile(10_000) == pytest.approx(1.960, abs=1e-3)


def test_holm_on_a_hand_computed_example():
    # Sorted: 0.005 (level 0.05/4), 0.01 (0.05/3), 0.03 (0.05/2: not rejected, the step-down stops), 0.04.
    tests = holm([0.01, 0.04, 0.03, 0.005])
    assert [t["rank"] for t in tests] == [2, 4, 3, 1]
    assert [t["level"] for t in tests] == pytest.approx([0.05 / 3, 0.05, 0.05 / 2, 0.05 / 4])
    assert [t["p_adjusted"] for t in tests] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [t["rejected"] for t in tests] == [True, False, False, True]  # 0.04 < 0.05, yet after a failure


def test_the_adjusted_interval_uses_the_holm_level_of_its_rank():
    other = Comparison("9", "8", "§0", "c above b", "val_acc", "switch", "darts_2nd")
    values = {"milenas_lam1": [50, 52, 54], "darts_2nd": [45, 46.5, 49.5], "switch": [46, 47, 49]}
    claims = evaluate_claims(finals(values), [ABOVE, other]).set_index("part")
    first = claims["holm_rank"].idxmin()
    assert claims.loc[first, "holm_level"] == pytest.approx(0.05 / 2)
    d = Sample.of([5, 5.5, 4.5]) if first == "9" else Sample.of([1, 0.5, -0.5])
    q = t_quantile(2, 1 - 0.025 / 2)
    assert claims.loc[first, "ci_low_holm"] == pytest.approx(d.mean - q * d.std / math.sqrt(3))
    assert claims.loc[first, "ci_low"] == pytest.approx(d.mean - t_quantile(2) * d.std / math.sqrt(3))


def test_a_part_clear_on_its_own_is_not_resolved_after_the_correction():
    # Alone, +1 with a small spread holds at 95 %; in a family of 14 its interval covers 0.
    values = {"milenas_lam1": [51, 51.9, 51.1], "darts_2nd": [50, 50, 50]}
    assert measure(finals(values), ABOVE)["verdict"] == HOLDS
    many = [Comparison("9", f"9{i}", "§0", "", "val_acc", "milenas_lam1", "darts_2nd") for i in range(14)]
    assert set(evaluate_claims(finals(values), many)["verdict"]) == {UNRESOLVED}


# -- verdict words ------------------------------------------------------------------------------------

def test_a_clear_paired_effect_holds_with_per_seed_values():
    row = measure(finals({"milenas_lam1": [50, 52, 54], "darts_2nd": [45, 46.5, 49.5]}), ABOVE)
    assert row["verdict"] == HOLDS and row["n"] == 3
    assert row["per_seed"] == [{"seed": 0, "value": 5}, {"seed": 1, "value": 5.5}, {"seed": 2, "value": 4.5}]


def test_pairing_by_seed_resolves_what_seed_noise_would_hide():
    assert measure(finals({"milenas_lam1": [41, 51, 61], "darts_2nd": [40, 50, 60.2]}), ABOVE)["verdict"] == HOLDS


def test_an_interval_over_zero_is_not_resolved_and_a_clear_opposite_is_reversed():
    assert measure(finals({"milenas_lam1": [50, 45, 52], "darts_2nd": [48, 48, 48]}), ABOVE)["verdict"] == UNRESOLVED
    assert measure(finals({"milenas_lam1": [40, 41, 42], "darts_2nd": [48, 49, 50]}), ABOVE)["verdict"] == REVERSED


def test_one_seed_is_never_a_verdict():
    row = measure(finals({"milenas_lam1": [60], "darts_2nd": [40]}), ABOVE)
    assert row["verdict"] == UNRESOLVED and "n = 1" in row["reason"]


def test_the_speed_up_holds_above_three_is_weaker_between_one_and_three_and_reversed_below_one():
    assert measure(finals({}), SPEED, benchmark([3.4, 3.5, 3.6, 3.5], [1, 1, 1, 1]))["verdict"] == HOLDS
    weaker = measure(finals({}), SPEED, benchmark([2.2, 2.3, 2.25, 2.2], [1, 1, 1, 1]))
    assert weaker["verdict"] == WEAKER and weaker["mean"] == pytest.approx(2.237, abs=1e-3)
    assert measure(finals({}), SPEED, benchmark([0.5, 0.6, 0.55], [1, 1, 1]))["verdict"] == REVERSED
    # faster for sure, but the interval still covers 3: the size is not resolved, not "weaker"
    assert measure(finals({}), SPEED, benchmark([2.4, 3.1, 2.6, 3.0], [1, 1, 1, 1]))["verdict"] == UNRESOLVED


def test_the_speed_up_is_never_reversed_when_milenas_is_faster_in_every_pair():
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(2, 8)
        milenas = [rng.uniform(0.1, 5) for _ in range(n)]
        darts = [m * rng.uniform(1.0001, 6) for m in milenas]
        assert measure(finals({}), SPEED, benchmark(darts, milenas))["verdict"] != REVERSED


def test_without_a_benchmark_the_speed_up_is_not_measurable():
    row = measure(finals({"darts_2nd": [300, 310], "milenas_lam1": [100, 100]}, "time_s"), SPEED)
    assert row["verdict"] == UNMEASURABLE and "bench_speedup" in row["reason"]


def test_close_is_judged_against_a_margin_from_bilevel_seed_spread():
    close = next(c for c in CLAIMS if c.part == "2d")
    bilevel = [50, 51, 52]
    assert close_margin(finals({"darts_2nd": bilevel})) == pytest.approx(math.sqrt(2) * 1.0)
    near = {"milenas_lam999": [50.05, 51, 51.95], "darts_2nd": bilevel}
    assert measure(finals(near), close)["verdict"] == HOLDS
    far = {"milenas_lam999": [60, 61.1, 62], "darts_2nd": bilevel}
    assert measure(finals(far), close)["verdict"] == REVERSED
    assert measure(finals({"milenas_lam999": [50, 54, 47], "darts_2nd": bilevel}), close)["verdict"] == UNRESOLVED


# -- gates --------------------------------------------------------------------------------------------

def test_a_run_at_chance_is_not_measurable_and_names_the_gate_and_setting():
    row = measure(finals({"milenas_gumbel": [15, 16, 17], "gdas": [10, 11, 12]},
                         gdas={"final_val_acc": 11.0}), next(c for c in CLAIMS if c.part == "5"))
    assert row["verdict"] == UNMEASURABLE and row["reason"] == "gdas: val accuracy 11 % < 20 %"


def test_alpha_that_did_not_move_is_not_measurable_unless_frozen_by_design():
    values = {"milenas_lam1": [50, 52, 54], "darts_2nd": [45, 46.5, 49.5]}
    row = measure(finals(values, darts_2nd={"entropy_fall": 0.003}), ABOVE)
    assert row["verdict"] == UNMEASURABLE
    assert row["reason"] == "darts_2nd: α entropy fell 0.3 % < 5 % of ln 8"
    control = Comparison("9", "9", "§0", "", "val_acc", "milenas_lam1", "frozen_alpha")
    values = {"milenas_lam1": [50, 52, 54], "frozen_alpha": [45, 46.5, 49.5]}
    assert measure(finals(values, frozen_alpha={"entropy_fall": 0.0}), control)["verdict"] == HOLDS


def test_one_failing_seed_fails_the_part_and_is_counted():
    values = {"milenas_lam1": [50, 52, 54], "darts_2nd": [45, 46.5, 49.5]}
    frame = finals(values)
    frame.loc[(frame["setting"] == "darts_2nd") & (frame["seed"] == 1), "entropy_fall"] = 0.01
    assert measure(frame, ABOVE)["reason"] == "darts_2nd: α entropy fell 1 % < 5 % of ln 8 (1 of 3 seeds)"


def test_unmeasurable_parts_stay_out_of_the_holm_family():
    other = Comparison("9", "8", "§0", "", "val_acc", "switch", "darts_2nd")
    values = {"milenas_lam1": [50, 52, 54], "darts_2nd": [45, 46.5, 49.5], "switch": [46, 47, 49]}
    claims = evaluate_claims(finals(values, switch={"final_val_acc": 12.0}), [ABOVE, other]).set_index("part")
    assert claims.loc["8", "verdict"] == UNMEASURABLE and not claims.loc["8", "in family"]
    assert claims.loc["9", "holm_level"] == pytest.approx(0.05)  # a family of one


# -- parts and claims ---------------------------------------------------------------------------------

def test_single_level_lowest_is_one_comparison_per_other_setting():
    parts = [c for c in CLAIMS if c.part.startswith("2c")]
    assert {c.higher for c in parts} == {"milenas_lam0.1", "milenas_lam1", "milenas_lam999", "darts_2nd"}
    assert {c.lower for c in parts} == {"single_level"}
    values = {"single_level": [30, 31, 32], "milenas_lam0.1": [50, 50, 50], "milenas_lam1": [50, 51, 50],
              "milenas_lam999": [50, 50, 51], "darts_2nd": [29, 30, 31.5]}
    verdicts = {c.part: measure(finals(values), c)["verdict"] for c in parts}
    assert verdicts == {"2c-i": HOLDS, "2c-ii": HOLDS, "2c-iii": HOLDS, "2c-iv": REVERSED}


def test_a_claims_verdict_says_how_its_parts_combine():
    assert claim_verdict([HOLDS] * 4) == "holds: all 4 parts hold"
    assert claim_verdict([HOLDS, UNRESOLVED, HOLDS, UNRESOLVED]) == \
        "not resolved at this scale: 2 of 4 parts hold, 2 not resolved"
    assert claim_verdict([HOLDS, UNMEASURABLE, REVERSED]).startswith(REVERSED + ": 1 of 3 parts hold")
    assert claim_verdict([HOLDS, UNMEASURABLE]).startswith(UNMEASURABLE)
    assert claim_verdict([WEAKER]) == "weaker than claimed (one part)"


def test_the_metric_is_the_mean_of_the_last_epochs_and_the_gates_read_the_last_one():
    epochs = 6
    rows = [{"setting": "darts_2nd", "seed": 0, "epoch": e, "val_acc": 10.0 * e, "gap": 1.0, "num_classes": 10,
             "entropy_normal": math.log(8) * 0.9, "entropy_reduce": math.log(8) * 0.8} for e in range(1, epochs + 1)]
    final = final_values(pd.DataFrame(rows)).iloc[0]
    assert final["val_acc"] == pytest.approx(10.0 * sum(range(epochs - LAST_EPOCHS + 1, epochs + 1)) / LAST_EPOCHS)
    assert final["final_val_acc"] == 60.0 and final["chance_acc"] == 10.0
    assert final["entropy_fall"] == pytest.approx(0.15)


def test_every_claim_gets_a_row_and_the_report_has_a_claims_table_above_the_parts():
    keys = ["single_level", "milenas_lam0.1", "milenas_lam1", "milenas_lam999", "darts_2nd", "switch", "gdas",
            "milenas_gumbel"]
    rows = [{"setting": k, "seed": s, "gap": 10 - i + s, "val_acc": 40 + i + s, **MEASURABLE}
            for i, k in enumerate(keys) for s in range(3)]
    claims = evaluate_claims(pd.DataFrame(rows), speed=benchmark([3, 3.1, 2.9], [1, 1, 1]))
    assert list(claims["part"]) == [c.part for c in CLAIMS]
    assert set(claims.loc[claims["part"] != "4", "n"]) == {3}
    text = markdown_table(claims_table(claims, "medium"))
    assert text.count("\n") == len(CLAIMS) + 1 and "| 1a |" in text
    claims.loc[claims["part"] == "4", ["p", "p_holm"]] = 0.0  # a tail too far out to compute is a bound
    assert "| < 1e-6 (< 1e-6) |" in markdown_table(claims_table(claims, "medium"))
    report = claims_report(claims, pd.DataFrame(), {"what": "test"}, "medium")
    assert report.index("## Claims") < report.index("## Parts") and "last 3 epochs" in report


def test_order_sensitivity_reevaluates_the_parts_with_the_replaced_setting():
    values = {"milenas_lam1": [50, 51, 52], "milenas_lam1_w_first": [40, 41, 42], "darts_2nd": [45, 46, 47]}
    table = order_sensitivity(finals(values), {"milenas_lam1": "milenas_lam1_w_first"}, [ABOVE, SPEED])
    assert list(table["verdict"]) == [HOLDS] and list(table["its verdict"]) == [REVERSED]
    assert not table["same verdict"].any()


def test_a_search_is_compared_with_its_frozen_control_only_where_both_ran():
    values = {"milenas_lam1": [50, 52, 54], "frozen_alpha": [45, 46.5, 49.5], "gdas": [30, 31, 32]}
    table = control_checks(finals(values, frozen_alpha={"entropy_fall": 0.0}))
    assert list(table["part"]) == ["C1"] and list(table["verdict"]) == [HOLDS]
    assert control_checks(finals({"milenas_lam1": [50, 52]})).empty

"""The two sweep-reading scripts: the α measures of sweep_summary.py and the load log of cost_check.py."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_entropy_fall_is_zero_at_uniform_and_can_leave_the_none_op_out():
    summary = _script("sweep_summary")
    uniform = {"normal": [[0.0] * 8] * 14, "reduce": [[0.0] * 8] * 14}
    assert summary.entropy_fall(uniform) == pytest.approx(0.0, abs=1e-9)
    assert summary.none_weight(uniform) == pytest.approx(1 / 8)
    # All of the move on *none*: the entropy falls, among the other seven nothing moved.
    on_none = {cell: [[5.0] + [0.0] * 7] * 14 for cell in ("normal", "reduce")}
    assert summary.entropy_fall(on_none) > 50
    assert summary.entropy_fall(on_none, without_none=True) == pytest.approx(0.0, abs=1e-9)
    assert summary.none_weight(on_none) == pytest.approx(math.exp(5) / (math.exp(5) + 7))


def test_the_load_log_drops_each_runs_first_line_and_counts_epochs_from_zero(tmp_path):
    cost_check = _script("cost_check")
    log = tmp_path / "epochs.tsv"
    log.write_text("utc\tsetting\tfolder\tepoch\tload1\tload5\trunning\n"
                   "t\tgdas\tseed1-a\t75\t4.0\t3.0\t7/1\n"    # seen mid-run: not this epoch's end
                   "t\tgdas\tseed1-a\t76\t2.5\t3.0\t7/1\n"
                   "t\tswitch\tseed1-b\t9\t9.0\t3.0\t7/1\n")
    assert cost_check.epoch_loads(log) == {("seed1-a", 75): 2.5}
    assert cost_check.epoch_loads(None) == {}

"""Your runs in the notebooks: ``search --store`` writes into the notebooks' run store,
``load_records`` reads any store or folder back, and a record's setting comes from its
method, λ and order, so explorers and plots take records read straight from disk."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from milenas_lib import experiments as ex
from milenas_lib.cli import main
from milenas_lib.paper import settings

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "results" / "runs" / "medium"
TINY_SEARCH = {"dataset": "synthetic", "per_class": 2, "batch_size": 8, "C": 4, "layers": 3, "epochs": 2}
TINY_FLAGS = ["--data", "synthetic", "--set", "per_class=2", "--batch-size", "8", "--set", "C=4", "--set", "layers=3",
              "--epochs", "2", "--quiet"]


@pytest.mark.parametrize("method, lam, order, key", [
    ("milenas", 1.0, "simultaneous", "milenas_lam1"),
    ("milenas", 1.0, "w_then_alpha", "milenas_lam1_w_first"),
    ("milenas", 0.5, "simultaneous", "milenas_lam0.5"),
    ("milenas", 0.5, "alpha_then_w", "milenas_lam0.5_alpha_then_w"),
    ("darts_2nd", 1.0, "simultaneous", "darts_2nd"),
    ("milenas_gumbel", 1.0, "simultaneous", "milenas_gumbel"),
])
def test_a_setting_follows_from_method_lambda_and_order_and_its_key_leads_back(method, lam, order, key):
    derived = settings.setting_for(method, lam, order)
    assert derived.key == key and derived.method == method and derived.order == order
    assert settings.setting(key) == derived  # a derived key is understood, not only registered ones
    assert settings.record_setting({"method": method, "config": {"lam": lam, "order": order}}) == derived


def test_a_key_naming_no_setting_is_still_an_error():
    for key in ("milenas", "darts_2nd_lam3", "nonsense_lam1"):
        with pytest.raises(KeyError, match="unknown setting"):
            settings.setting(key)


def _raw_committed_records() -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(COMMITTED.glob("*/*/record.json"))]


def test_method_explorer_takes_records_read_straight_from_disk():
    raw = _raw_committed_records()
    assert raw and all("setting" not in record for record in raw)
    from milenas_lib.explorers import method_explorer

    explorer = method_explorer(raw)
    frame = ex.records_frame(raw)
    assert {"milenas_lam1", "milenas_lam1_w_first", "darts_2nd", "gdas"} <= set(frame["setting"])
    assert explorer is not None


def test_load_records_reads_a_preset_store_and_any_folder_alike():
    by_preset = ex.load_records("medium")
    assert len(by_preset) == len(_raw_committed_records())
    assert {r["preset"] for r in by_preset} == {"medium"}
    one = next(iter(sorted(COMMITTED.glob("darts_2nd/*/record.json"))))
    assert [r["setting"] for r in ex.load_records(one)] == ["darts_2nd"]
    assert [r["setting"] for r in ex.load_records(one.parent)] == ["darts_2nd"]
    frame = ex.records_frame(by_preset)
    assert set(frame["label"]) >= {settings.SETTINGS["milenas_lam1"].label}


def test_load_records_leaves_out_an_untrusted_record(tmp_path):
    source = next(iter(sorted(COMMITTED.glob("gdas/*/record.json"))))
    folder = tmp_path / "medium" / "gdas" / source.parent.name
    folder.mkdir(parents=True)
    record = json.loads(source.read_text())
    record["epochs"][-1]["val_acc"] = 0.99  # a hand-edited accuracy
    (folder / "record.json").write_text(json.dumps(record))
    with pytest.raises(FileNotFoundError, match="no finished search record"), pytest.warns(UserWarning, match="gdas"):
        ex.load_records(tmp_path)


def test_store_and_out_together_are_refused(tmp_path, capsys):
    assert main(["search", "--method", "milenas", "--store", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "drop --out" in capsys.readouterr().err


@pytest.mark.slow
def test_a_cli_search_with_store_is_the_run_a_notebook_reads_back(tmp_path, capsys):
    assert main(["search", "--method", "milenas", "--preset", "smoke", "--store", str(tmp_path), *TINY_FLAGS]) == 0
    folder = Path(capsys.readouterr().out.split("record: ")[1].split()[0]).parent
    # the notebooks' call with the same settings reads it back; reuse_only: it would refuse to train
    records = ex.search_runs(["milenas_lam1"], [0], "smoke", output_root=tmp_path, overrides=TINY_SEARCH,
                             reuse_only=True, verbose=False, progress=False)
    assert Path(records[0]["run_dir"]) == folder
    assert [r["run_dir"] for r in ex.load_records("smoke", output_root=tmp_path)] == [str(folder)]

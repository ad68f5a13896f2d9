"""Tables 1-2 rows by source, and what a notebook writes: tables with provenance inferred from
search or training records, figures, and the manifest the index is built from."""
from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from milenas_lib.config import search_config, train_config  # noqa: E402
from milenas_lib.experiments import outputs  # noqa: E402
from milenas_lib.paper import labels, tables  # noqa: E402
from milenas_lib.paper.quoted import PAPER_TABLE1, PAPER_TABLE2  # noqa: E402
from milenas_lib.space.genotype import GENOTYPES  # noqa: E402


def train_record(top1: float, seed: int, name: str = "DARTS_V2", search: dict | None = None,
                 completed: bool = True) -> dict:
    return {"kind": "train", "dataset": "cifar10", "completed": completed, "name": name, "seed": seed,
            "config": train_config("paper", genotype="DARTS_V2", seed=seed).to_dict(),
            "genotype": GENOTYPES["DARTS_V2"].to_dict(), "final_test_top1": top1, "final_test_top5": 0.99,
            "params": 3_300_000, "mult_adds": 500_000_000, "search": search,
            "data_source": {"source": "cifar10-jpeg-archive", "train_images": 50000, "test_images": 10000}}


def search_record(setting: str, seed: int) -> dict:
    return {"kind": "search", "setting": setting, "method": "milenas", "lam": 1.0, "seed": seed,
            "config": search_config("smoke").to_dict(), "data_source": {"source": "synthetic"}, "time_s": 1.0}


@pytest.fixture(scope="module")
def table2():
    # One registered cell is enough for the size rows (each costs a full ImageNet-size network).
    record = {**train_record(0.7, 0), "dataset": "imagenet", "config": train_config("smoke", "imagenet").to_dict()}
    return tables.table2([record], genotypes={"DARTS_V2": GENOTYPES["DARTS_V2"]})


@pytest.mark.parametrize("source, count, empty_column", [
    ("quoted", len(PAPER_TABLE2), "top5_error_std"), ("sizes", 1, "top1_error"), ("ours", 1, "top1_error_std")])
def test_table_rows_select_one_source_and_drop_its_empty_columns(table2, source, count, empty_column):
    rows = tables.table_rows(table2, source)
    assert len(rows) == count and empty_column in table2.columns and empty_column not in rows.columns
    assert "architecture" in rows.columns


def test_table_rows_refuse_an_unknown_source():
    with pytest.raises(ValueError, match="unknown source 'mine'; valid sources are: ours, sizes, quoted"):
        tables.table_rows(tables.table1([]), "mine")


def test_table1_uses_only_finished_runs_and_names_a_searched_cell_with_its_cost():
    search = {"method": "milenas", "lam": 1.0, "gpu_hours": 12.0, "device_name": "gpu", "time_s": 43200}
    table = tables.table1([train_record(0.97, 0, search=search), train_record(0.95, 1, search=search),
                           train_record(0.10, 2, search=search, completed=False)])
    ours = tables.table_rows(table, "ours")
    assert len(table) == len(PAPER_TABLE1) + 1 and len(ours) == 1
    row = ours.iloc[0]
    assert row["architecture"] == "searched (milenas, λ=1)" and row["search_cost_gpu_days"] == 0.5
    assert row["n"] == 2 and row["test_error"] == pytest.approx(4.0) and row["protocol"] == "paper"


@pytest.mark.parametrize("records, data_source, n, configs", [
    ([search_record("gdas", 0), search_record("gdas", 1)], "synthetic stand-in (NOT CIFAR-10), 8 img/class per half",
     "n = 2 seeds per setting", "search_configs"),
    ([train_record(0.9, 0), train_record(0.9, 1)], "cifar10-jpeg-archive (50000 train / 10000 test images)",
     "n = 2 seeds per network", "train_configs"),
    ([], labels.NO_RUNS, None, "search_configs"),
], ids=["search", "training", "none"])
def test_a_saved_table_infers_source_n_and_provenance_from_its_records(tmp_path, records, data_source, n, configs):
    saved = outputs.NotebookOutputs("06_x", "smoke", tmp_path).save_table(pd.DataFrame({"a": [1]}), "t", "a table",
                                                                           records)
    meta = json.loads(saved[1].read_text())
    assert (meta["data_source"], meta["n"]) == (data_source, n)
    assert configs in meta["provenance"] and meta["provenance"]["seeds"] == sorted({r["seed"] for r in records})
    manifest = json.loads((tmp_path / "results" / "smoke" / "06_x" / "manifest.json").read_text())
    assert [a["name"] for a in manifest["artifacts"]] == ["t"]


def test_saved_figures_and_tables_are_listed_once_each_and_echo_nothing(tmp_path):
    out = outputs.NotebookOutputs("01_x", "smoke", tmp_path)
    fig = plt.figure()
    for _ in range(2):  # saving again replaces the entry
        saved = out.save_figure(fig, "f", "a figure", data_source="quoted")
    out.save_table(pd.DataFrame({"a": [1]}), "t", "a table", paper_table=True)
    plt.close(fig)
    assert [p.name for p in saved] == ["f.png", "f.pdf"] and all(p.exists() for p in saved)
    assert saved._ipython_display_() is None  # a figure cell shows the figure, not a list of paths
    manifest = json.loads((tmp_path / "results" / "smoke" / "01_x" / "manifest.json").read_text())
    assert [(a["kind"], a["name"]) for a in manifest["artifacts"]] == [("figure", "f"), ("table", "t")]
    assert manifest["artifacts"][1]["paths"][0] == "results/smoke/tables/t.csv"


def test_figure_detail_describes_search_and_training_runs():
    assert labels.figure_detail([search_record("gdas", 0)], "smoke").startswith("preset smoke: C=4, 5 cells")
    assert "600 epochs, 20 cells, C=36" in labels.figure_detail([train_record(0.9, 0)], "paper")
    assert labels.figure_detail([], "paper") == "preset paper · no runs"

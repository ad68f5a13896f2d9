"""The run store: with reuse_only nothing is dispatched and every missing run is named; folder names
follow the run identity.  (Dispatching missing runs through the executor: tests/test_executor.py.)"""
from __future__ import annotations

import json

import pytest

from milenas_lib.experiments import store
from milenas_lib.records.trust import seal


def job(folder, log: list) -> store.RunJob:
    def run():
        log.append(folder.name)
        return {"time_s": 1.0, "ran": folder.name}
    return store.RunJob(folder, folder.name, run)


def finished(folder, completed: bool = True):
    folder.mkdir(parents=True)
    # Sealed as the run directory writes it: an unsealed record without a checkpoint is not believed.
    (folder / "record.json").write_text(json.dumps(seal({"completed": completed, "time_s": 2.0,
                                                          "stored": folder.name})))


def test_reuse_only_runs_nothing_and_lists_every_missing_run(tmp_path):
    finished(tmp_path / "a")
    log: list = []
    with pytest.raises(FileNotFoundError, match="2 search run") as error:
        store.run_missing([job(tmp_path / n, log) for n in "abc"], "search", reuse_only=True)
    assert log == [] and str(tmp_path / "b") in str(error.value) and str(tmp_path / "c") in str(error.value)


def test_run_folders_differ_exactly_when_the_result_would(tmp_path):
    base = store.make_search_config("milenas_lam1", 0, "smoke")
    same = store.make_search_config("milenas_lam1", 0, "smoke", device="cpu", overrides={"num_threads": 2})
    other = store.make_search_config("milenas_lam1", 0, "smoke", overrides={"epochs": 3})
    folder = store.run_dir("milenas_lam1", base, "smoke", tmp_path)
    assert folder.parent == tmp_path / "smoke" / "milenas_lam1" and folder.name.startswith("seed0-")
    assert store.config_hash(same) == store.config_hash(base) != store.config_hash(other)
    assert (base.method, base.lam) == ("milenas", 1.0)

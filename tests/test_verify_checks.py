"""What verify checks beyond a same-machine rerun: a record's own consistency, the run-level numbers the
figures draw, and a rerun on another float path (fingerprint, spread)."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from milenas_lib.cli import main
from milenas_lib.config import TrainConfig, search_config
from milenas_lib.consistency import consistency_problems
from milenas_lib.loops.search import run_search
from milenas_lib.loops.search_record import FINGERPRINT_STEPS
from milenas_lib.loops.train import run_training
from milenas_lib.records.float_path import exact_rerun_hint, float_path, path_differences
from milenas_lib.verify import FINGERPRINT_RTOL, verify

TINY = dict(dataset="synthetic", epochs=2, batch_size=8, per_class=4)  # 5 steps an epoch
#: A CPU capability other than this machine's (on an AVX-512 CPU, AVX512 is not "another" path).
ANOTHER_CAPABILITY = "AVX2" if torch.backends.cpu.get_cpu_capability() != "AVX2" else "AVX512"


@pytest.fixture(scope="module")
def search_record(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("run")
    run_search(search_config("smoke", method="milenas", **TINY), folder, progress=False)
    return json.loads((folder / "record.json").read_text())


def write(folder: Path, record: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "record.json").write_text(json.dumps(record))
    return folder / "record.json"


def test_records_state_their_float_path_and_fingerprint(search_record):
    path = search_record["float_path"]
    assert path["kind"] == "cpu" and path["capability"] and path["threads"] == 1 and path["onednn"]
    assert not path_differences(path, float_path(torch.device("cpu")))
    assert len(search_record["fingerprint"]["train_loss"]) == FINGERPRINT_STEPS
    assert path_differences(None, path) == ["the record does not say its float path"]


@pytest.mark.parametrize("forge", [
    lambda r: r["genotype"]["normal"].__setitem__(0, ["skip_connect", 0]),
    lambda r: r["buckets"]["convs"].clear(),
    lambda r: r.__setitem__("params", r["params"] + 1),
    lambda r: r["epochs"][0].__setitem__("val_acc", r["epochs"][0]["val_acc"] + 0.01),
    lambda r: r["epochs"][-1].__setitem__("genotype", r["epochs"][0]["genotype"] | {"normal": []}),
])
def test_a_forged_drawn_number_is_caught_without_a_rerun(search_record, forge):
    forged = copy.deepcopy(search_record)
    forge(forged)
    assert consistency_problems(forged)


def test_the_true_record_is_consistent_and_an_emptied_one_is_refused(search_record, tmp_path, capsys):
    assert consistency_problems(search_record) == []
    emptied = dict(search_record, epochs=[])
    assert main(["verify", str(write(tmp_path / "empty", emptied))]) == 1
    assert "no per-epoch results" in capsys.readouterr().out
    stripped = copy.deepcopy(search_record)
    del stripped["epochs"][0]["val_acc"]
    assert "lacks val_acc" in "".join(consistency_problems(stripped))


def test_bad_files_are_one_line_errors(tmp_path, capsys):
    (tmp_path / "text.json").write_text("not json")
    os.mkfifo(tmp_path / "fifo.json")
    assert main(["verify", str(tmp_path / "text.json")]) == 2
    assert main(["verify", str(tmp_path / "fifo.json")]) == 2
    err = capsys.readouterr().err
    assert "not JSON" in err and "not a regular file" in err and "Traceback" not in err


@pytest.mark.slow
def test_an_untouched_training_record_verifies_and_a_forged_test_accuracy_does_not(tmp_path):
    config = TrainConfig(dataset="synthetic", epochs=1, batch_size=16, C=4, layers=3, train_per_class=8,
                         eval_batch_size=64, num_threads=1)
    record = run_training(config, tmp_path / "train", progress=False).record
    result = verify(tmp_path / "train" / "record.json")
    assert result.matches, result.summary()
    forged = dict(record, final_test_top1=1.0)
    assert not verify(write(tmp_path / "forged", forged)).matches


@pytest.mark.slow
def test_a_record_from_another_float_path_is_checked_by_fingerprint(search_record, tmp_path):
    """The record claims another float path: the rerun is not compared bit for bit but by fingerprint;
    a forged fingerprint is caught."""
    other = copy.deepcopy(search_record)
    other["float_path"]["capability"] = ANOTHER_CAPABILITY
    result = verify(write(tmp_path / "other", other))
    assert result.matches and "float path differs" in result.summary(), result.summary()
    other["epochs"][1]["train_loss"] += 1e-3            # now bits differ: the fingerprint decides
    other["fingerprint"]["train_loss"][1] *= 1 + 2 * FINGERPRINT_RTOL[1]
    result = verify(write(tmp_path / "forged", other))
    assert not result.matches and "fingerprint" in result.summary()


CHILD = """
import sys
from milenas_lib.config import search_config
from milenas_lib.loops.search import run_search
run_search(search_config("smoke", method="gdas", dataset="synthetic", epochs=1, batch_size=8, per_class=None),
           sys.argv[1], progress=False)
"""


@pytest.mark.slow
def test_a_record_made_under_another_capability_verifies_by_fingerprint(tmp_path):
    """A record made in a process forced to ATEN_CPU_CAPABILITY=default, verified in this one."""
    folder = tmp_path / "default"
    subprocess.run([sys.executable, "-c", CHILD, str(folder)], check=True,
                   env={**os.environ, "ATEN_CPU_CAPABILITY": "default"})
    record = json.loads((folder / "record.json").read_text())
    assert record["float_path"]["capability"] == "DEFAULT"
    result = verify(folder)
    assert result.matches, result.summary()
    assert "float path differs" in result.summary() or os.environ.get("ATEN_CPU_CAPABILITY") == "default"


@pytest.mark.slow
def test_a_record_without_fingerprint_on_another_float_path_is_judged_by_the_seeds_spread(search_record, tmp_path):
    """An older record (no fingerprint) from another float path: only the spread of the other committed seeds of
    its setting can speak; a final accuracy far outside it is caught, and with no seeds beside it nothing passes."""
    setting = tmp_path / "store" / "milenas"
    record = copy.deepcopy(search_record)
    record["float_path"]["capability"] = ANOTHER_CAPABILITY
    record["fingerprint"] = {"train_loss": []}
    record["epochs"][0]["train_loss"] += 1e-3  # bits differ from the rerun: the exact comparison fails
    final = record["epochs"][-1]["val_acc"]
    path = write(setting / "seed0-x", record)
    assert not verify(path).matches  # no seeds beside it: nothing to compare
    for seed, shift in ((1, 0.01), (2, -0.01)):
        sibling = copy.deepcopy(search_record)
        sibling["identity"]["settings"]["seed"] = seed
        sibling["epochs"][-1]["val_acc"] = final + shift
        write(setting / f"seed{seed}-x", sibling)
    assert verify(path).matches, verify(path).summary()
    for seed in (1, 2):
        far = json.loads((setting / f"seed{seed}-x" / "record.json").read_text())
        far["epochs"][-1]["val_acc"] = min(1.0, final + 0.5)
        write(setting / f"seed{seed}-x", far)
    result = verify(path)
    assert not result.matches and "outside" in result.summary()


def test_the_exact_rerun_hint_names_a_narrower_path_only():
    """An AVX2 record on a wider CPU: all three libraries forced to AVX2; the record's own forcing wins;
    nothing to suggest on a wider record, a GPU record or other library versions."""
    here = float_path(torch.device("cpu"))
    avx2 = dict(here, capability="AVX2", forced={})
    hint = exact_rerun_hint(avx2, dict(here, capability="AVX512", forced={}))
    assert hint == "ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2"
    forced = dict(here, capability="DEFAULT", forced={"ATEN_CPU_CAPABILITY": "default"})
    assert exact_rerun_hint(forced, dict(here, capability="AVX2", forced={})) == "ATEN_CPU_CAPABILITY=default"
    assert exact_rerun_hint(dict(here, capability="AVX512", forced={}), dict(here, capability="AVX2")) is None
    assert exact_rerun_hint(dict(avx2, onednn="0.0"), here) is None
    assert exact_rerun_hint({"kind": "cuda"}, here) is None
    already = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
    assert exact_rerun_hint(avx2, dict(here, forced=already)) is None  # this run already took that path

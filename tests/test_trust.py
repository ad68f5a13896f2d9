"""The run store believes only records that prove themselves (records/trust.py, docs/RELIABILITY.md).

Each attack of docs/RELIABILITY.md's "run store" table is played against a
real (tiny) search in a store folder: a forged accuracy beside the checkpoint
and without it, a record in another run's folder, valid JSON that is not a
record, a truncated record.  None of them may reach a figure: the store
rebuilds the record from the checkpoint or trains the run again, and `plan`
names what is wrong.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from milenas_lib.experiments.plan import format_plan, make_plan
from milenas_lib.experiments.store import search_runs

TINY = dict(dataset="synthetic", C=4, layers=3, batch_size=8, per_class=2, epochs=1, num_threads=1,
            checkpoint_every_steps=None, checkpoint_every_minutes=None)


def store_search(root: Path, overrides: dict = TINY, verbose: bool = False, setting: str = "milenas_lam1") -> dict:
    """The notebook's way to a search: ``setting`` seed 0 through the run store under ``root``."""
    return search_runs([setting], [0], "smoke", output_root=root, overrides=overrides, device="cpu",
                       workers=1, progress=False, verbose=verbose)[0]


#: Runs whose records are moved into the λ = 1, 1-epoch run's folder.
OTHERS = {"lam0.1": ("milenas_lam0.1", TINY), "2 epochs": ("milenas_lam1", {**TINY, "epochs": 2})}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("store")
    for setting, overrides in OTHERS.values():
        store_search(root, overrides, setting=setting)
    return root, store_search(root)


@pytest.fixture()
def store(reference, tmp_path) -> tuple[Path, Path, dict]:
    """A copy of the reference store: (output root, the run's folder, its record)."""
    root, record = reference
    shutil.copytree(root, tmp_path / "root")
    folder = tmp_path / "root" / Path(record["run_dir"]).relative_to(root)
    return tmp_path / "root", folder, json.loads((folder / "record.json").read_text())


def forge_val_acc(folder: Path, value: float = 0.999) -> None:
    path = folder / "record.json"
    record = json.loads(path.read_text())
    record["epochs"][-1]["val_acc"] = value
    path.write_text(json.dumps(record, indent=1))


def plan_status(root: Path) -> tuple[str, str]:
    plan = make_plan("smoke", ["01"], parameters={"search_overrides": TINY}, output_root=str(root), device_type="cpu")
    return plan.needs[0].status, format_plan(plan)


# --- a forged accuracy ----------------------------------------------------------------

def test_a_forged_val_acc_beside_its_checkpoint_is_rebuilt_never_drawn(store, capsys):
    root, folder, record = store
    true_acc = record["epochs"][-1]["val_acc"]
    assert true_acc != 0.999
    forge_val_acc(folder)
    status, text = plan_status(root)
    assert status == "rebuildable" and "val_acc: 0.999 in record.json" in text
    capsys.readouterr()
    again = store_search(root, verbose=True)
    assert again["epochs"][-1]["val_acc"] == true_acc
    assert "rebuilt" in capsys.readouterr().out
    assert json.loads((folder / "record.json").read_text())["epochs"][-1]["val_acc"] == true_acc


def test_a_forged_val_acc_without_its_checkpoint_is_set_aside_and_trained_again(store, capsys):
    root, folder, record = store
    (folder / "checkpoint.pt").unlink()
    forge_val_acc(folder)
    status, text = plan_status(root)
    assert status == "damaged" and "does not match its digest" in text
    capsys.readouterr()
    again = store_search(root, verbose=True)
    assert again["epochs"][-1]["val_acc"] == record["epochs"][-1]["val_acc"]  # trained again, same seed
    assert "the run is trained again" in capsys.readouterr().out
    aside = list(folder.glob("damaged-*/record.json"))
    assert len(aside) == 1 and json.loads(aside[0].read_text())["epochs"][-1]["val_acc"] == 0.999


def test_an_untouched_record_without_its_checkpoint_is_read_as_today(store):
    """What the kit publishes without checkpoints (records committed to the repository) passes as it is."""
    root, folder, record = store
    (folder / "checkpoint.pt").unlink()
    assert plan_status(root)[0] == "stored"
    assert store_search(root)["epochs"] == record["epochs"]
    assert not list(folder.glob("damaged-*"))


# --- a record in the wrong folder --------------------------------------------------------

@pytest.mark.parametrize("other", list(OTHERS))
def test_a_record_moved_into_another_runs_folder_is_refused(store, other):
    """The λ = 0.1 (or the 2-epoch) run's untouched record moved into the λ = 1, 1-epoch folder,
    whose checkpoint was deleted: its digest holds, its identity is not the folder's."""
    root, folder, record = store
    setting, overrides = OTHERS[other]
    moved = store_search(root, overrides, setting=setting)
    (folder / "checkpoint.pt").unlink()
    shutil.copy(Path(moved["run_dir"]) / "record.json", folder / "record.json")
    status, text = plan_status(root)
    assert status == "damaged" and "another configuration" in text
    again = store_search(root)
    assert again["identity"] == record["identity"]
    assert [e["val_acc"] for e in again["epochs"]] == [e["val_acc"] for e in record["epochs"]]  # trained again


def test_a_checkpoint_of_another_run_is_not_believed_either(store, tmp_path):
    from milenas_lib.records.trust import examine

    root, folder, record = store
    other = tmp_path / "other" / "seed0-00000000"  # a store folder named for another identity
    shutil.copytree(folder, other)
    state = examine(other)
    assert state.status == "damaged" and state.reason.startswith("checkpoint.pt is a run of another configuration")


# --- not a record, truncated -----------------------------------------------------------------

@pytest.mark.parametrize("content", ["[1]", "null", '{"completed": true}', '{"format": 2, "epochs": ['])
def test_a_record_that_is_not_one_beside_an_intact_checkpoint_is_rebuilt(store, content):
    root, folder, record = store
    (folder / "record.json").write_text(content)
    status, text = plan_status(root)
    assert status == "rebuildable" and "rebuild" in text  # not "missing", not a crash
    again = store_search(root)
    assert again["epochs"] == record["epochs"]
    assert json.loads((folder / "record.json").read_text()) == record


def test_a_record_that_is_not_one_without_a_checkpoint_is_damaged_not_a_crash(store):
    root, folder, _ = store
    (folder / "checkpoint.pt").unlink()
    for content in ("[1]", "null", '{"completed": true}'):
        (folder / "record.json").write_text(content)
        assert plan_status(root)[0] == "damaged"


# --- the digest ----------------------------------------------------------------------------

def test_the_digest_is_of_the_content_not_of_its_layout():
    from milenas_lib.records import trust
    from milenas_lib.records.trust import record_digest, seal

    record = {"b": [1, 2.5, None], "a": {"y": "λ", "x": 1e-08}, "completed": True}
    shuffled = json.loads(json.dumps(dict(reversed(list(record.items()))), indent=4, ensure_ascii=False))
    assert record_digest(record) == record_digest(shuffled) == record_digest(seal(record))
    # The canonical form is fixed (sorted keys, no spaces, ASCII, shortest floats): the same on every machine.
    assert trust.canonical_json(record) == '{"a":{"x":1e-08,"y":"\\u03bb"},"b":[1,2.5,null],"completed":true}'
    for edit in ({"b": [1, 2.5000001, None]}, {"completed": False}, {"extra": 0}):
        assert record_digest({**record, **edit}) != record_digest(record)
    assert trust.digest_problem(seal(record)) is None
    assert "no digest" in trust.digest_problem(record)
    assert "does not match" in trust.digest_problem({**seal(record), "completed": False})


# --- symbolic-link loops ---------------------------------------------------------------------

def test_a_symlink_loop_in_the_store_is_one_line_from_plan(tmp_path, capsys, monkeypatch):
    from milenas_lib.cli import main

    monkeypatch.setenv("MILENAS_CACHE_DIR", str(tmp_path / "cache"))
    setting = tmp_path / "results" / "runs" / "smoke" / "milenas_lam1"
    setting.parent.mkdir(parents=True)
    os.symlink(setting.name, setting)  # milenas_lam1 -> milenas_lam1
    code = main(["plan", "--notebooks", "01", "--output-root", str(tmp_path), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "symbolic-link loop" in err and "milenas_lam1" in err


# --- files that are not records ---------------------------------------------------------------

def examined_within(folder: Path, seconds: float = 30.0):
    """``examine(folder)``, failing (not hanging the suite) when it blocks, as reading a FIFO does."""
    import threading

    from milenas_lib.records.trust import examine

    result: list = []
    reader = threading.Thread(target=lambda: result.append(examine(folder)), daemon=True)
    reader.start()
    reader.join(seconds)
    assert result, f"examine({folder}) blocked"
    return result[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.parametrize("name", ["record.json", "checkpoint.pt"])
def test_a_fifo_in_place_of_a_record_or_checkpoint_is_damaged_not_a_hang(tmp_path, name):
    from milenas_lib.records.run_dir import CorruptRunError, RunDir

    folder = tmp_path / "seed0-00000000"
    folder.mkdir()
    os.mkfifo(folder / name)
    state = examined_within(folder)
    assert state.status == "damaged" and "is a FIFO" in state.line and "\n" not in state.line
    with pytest.raises(CorruptRunError, match="is a FIFO") as error:  # search --out DIR
        with RunDir(folder, oom_advice=""):
            pass
    assert "\n" not in str(error.value)


def test_a_record_larger_than_the_limit_is_refused_unread(tmp_path, monkeypatch):
    from milenas_lib.records import io

    folder = tmp_path / "seed0-00000000"
    folder.mkdir()
    with open(folder / "record.json", "wb") as handle:  # sparse: no disk used
        handle.truncate(io.MAX_RECORD_BYTES + 1)
    monkeypatch.setattr(json, "loads", lambda *a, **k: pytest.fail("a record over the limit was read"))
    state = examined_within(folder)
    assert state.status == "damaged" and "more than the 64 MiB a record may have" in state.line
    with pytest.raises(io.NotARecordFileError, match="more than the 64 MiB"):
        io.read_json(folder / "record.json")

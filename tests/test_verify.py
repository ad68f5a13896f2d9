"""`verify` reruns a record from scratch: a true record matches exactly, an edited one names its first difference."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from milenas_lib.cli import main
from milenas_lib.config import search_config
from milenas_lib.loops.search import run_search
from milenas_lib.records.float_path import exact_rerun_hint
from milenas_lib.records.provenance import REPO_ROOT
from milenas_lib.verify import compare_epochs, verify

TINY = dict(dataset="synthetic", epochs=2, batch_size=8, per_class=4)  # 5 steps an epoch


@pytest.fixture(scope="module")
def record_path(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    run_search(search_config("smoke", method="milenas", **TINY), folder, progress=False)
    return folder / "record.json"


@pytest.mark.slow  # a rerun or a collection: `make test`, not the edit loop
def test_a_record_rerun_from_scratch_matches_every_number(record_path):
    result = verify(record_path)  # every epoch by default
    assert result.matches and result.compared > 500, result.summary()


@pytest.mark.slow  # a rerun or a collection: `make test`, not the edit loop
def test_one_edited_number_is_the_first_difference(record_path, tmp_path, capsys):
    record = json.loads(record_path.read_text())
    record["epochs"][1]["alphas"]["normal"][3][4] += 1e-7
    forged = tmp_path / "record.json"
    forged.write_text(json.dumps(record))
    assert main(["verify", str(forged), "--epochs", "2"]) == 1
    assert "epoch 2.alphas.normal[3][4]" in capsys.readouterr().out
    assert main(["verify", str(forged), "--epochs", "1"]) == 0  # epoch 1 is untouched


def test_timings_are_not_compared_and_bad_input_is_one_line(record_path, tmp_path, capsys):
    record = json.loads(record_path.read_text())
    epochs = [dict(e, alpha_step_s=99.0, eval_s=99.0) for e in record["epochs"]]
    assert compare_epochs(record["epochs"], epochs, 2)[1] is None
    (tmp_path / "list.json").write_text("[1]")
    assert main(["verify", str(tmp_path / "list.json")]) == 2
    assert main(["verify", str(record_path), "--epochs", "3"]) == 2
    assert capsys.readouterr().err.count("error:") == 2


#: A committed record of the long preset (every such record keeps a float path and a fingerprint).
COMMITTED = sorted((REPO_ROOT / "results" / "runs" / "long" / "single_level").glob("seed0-*/record.json"))


@pytest.mark.slow
def test_a_committed_record_reproduces_its_first_epoch_on_any_float_path():
    """Exact on the record's float path; by fingerprint elsewhere (e.g. ATEN_CPU_CAPABILITY=default or an
    AVX-512 machine): the check made is named either way."""
    assert COMMITTED, "the committed long records (results/runs/long/) are missing from this checkout"
    result = verify(COMMITTED[0], epochs=1)
    assert result.matches, result.summary()
    assert result.check in ("exact", "another float path") and "float path" in result.summary()


@pytest.mark.slow
@pytest.mark.skipif("avx2" not in Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else True,
                    reason="forcing AVX2 needs a Linux CPU with AVX2")
def test_a_committed_avx2_record_reproduces_exactly_under_the_forcing_verify_suggests():
    """The committed long records were made on an AVX2 CPU: with ATen, oneDNN and MKL forced to AVX2
    (the hint verify prints on a wider CPU) the rerun is bit-equal here too (docs/RELIABILITY.md)."""
    record = json.loads(COMMITTED[0].read_text())
    assert record["float_path"]["capability"] == "AVX2"
    prefix = exact_rerun_hint(record["float_path"], dict(record["float_path"], capability="AVX512"))
    env = {**os.environ, **dict(pair.split("=") for pair in prefix.split())}
    done = subprocess.run([sys.executable, "-m", "milenas_lib", "verify", str(COMMITTED[0]), "--epochs", "1"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "reproduced exactly" in done.stdout, done.stdout + done.stderr

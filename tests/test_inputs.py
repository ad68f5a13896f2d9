"""Bad input is refused before any work: exit status 2, one line on stderr that
says what to do, no traceback and no run directory left behind.

CLI rows run ``python -m milenas_lib`` in a subprocess on the synthetic data
set, so the exit status and stderr are what a user sees; each takes seconds.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from milenas_lib.config import ConfigError, search_config, train_config
from milenas_lib.data import CIFAR10_CLASSES, file_sha256, read_jpeg_archive
from milenas_lib.data import cifar10
from milenas_lib.space.genotype import GENOTYPES
from milenas_lib.space.operations import FactorizedReduce

# Most rows run the command line in a subprocess (a torch import of ~4 s each): part of
# `make test`, left out of the `make test-fast` edit loop.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
REAL_ARCHIVE = cifar10.REPO_ROOT.parent / "shared" / "datasets" / cifar10.ARCHIVE_NAME
SEARCH = ["search", "--method", "darts_1st", "--dataset", "synthetic", "--quiet"]
TRAIN = ["train", "--dataset", "synthetic", "--quiet", "--set", "train_per_class=4", "--set", "test_per_class=2",
         "--batch-size", "8", "--set", "C=4", "--set", "layers=3", "--no-auxiliary"]
needs_real_archive = pytest.mark.skipif(not REAL_ARCHIVE.is_file(), reason=f"no CIFAR-10 archive at {REAL_ARCHIVE}")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MILENAS_")}
    return subprocess.run([sys.executable, "-m", "milenas_lib", *args], capture_output=True, text=True, cwd=REPO,
                          env={**clean, "OMP_NUM_THREADS": "1", **(env or {})}, timeout=300)


def assert_refused(result: subprocess.CompletedProcess, out: Path, *fragments: str) -> None:
    stderr = result.stderr.strip()
    assert result.returncode == 2, (result.returncode, stderr[-2000:])
    assert "Traceback" not in stderr and len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith("error: ")
    for fragment in fragments:
        assert fragment in stderr, stderr
    assert not out.exists(), f"{out} was left behind"


# ---------------------------------------------------------------- genotype files

@pytest.mark.parametrize("cells", [{"normal": 3, "reduce": 4}, {"normal": list(range(8)), "reduce": list(range(8))}])
def test_genotype_file_whose_cells_are_numbers_is_refused(tmp_path: Path, cells: dict) -> None:
    genotype = tmp_path / "numbers.json"
    genotype.write_text(json.dumps(cells))
    out = tmp_path / "run"
    assert_refused(run_cli(*TRAIN, "--genotype", str(genotype), "--out", str(out)), out, "list of [op, input] pairs")


def test_genotype_file_of_binary_garbage_is_refused(tmp_path: Path) -> None:
    genotype = tmp_path / "garbage.json"
    genotype.write_bytes(bytes(range(256)) * 4)
    out = tmp_path / "run"
    assert_refused(run_cli(*TRAIN, "--genotype", str(genotype), "--out", str(out)), out, "not valid JSON text")


@pytest.mark.parametrize("state, fragment", [
    ({"completed": False, "epochs": [{}], "config": {"epochs": 2}}, "unfinished (1 of 2 epochs)"),
    ({"completed": False, "failure": "non-finite train loss at epoch 0", "epochs": []}, "failed search"),
])
def test_failed_or_unfinished_search_record_is_no_genotype(tmp_path: Path, state: dict, fragment: str) -> None:
    record = tmp_path / "search" / "record.json"
    record.parent.mkdir()
    record.write_text(json.dumps({"kind": "search", "genotype": GENOTYPES["DARTS_V2"].to_dict(), **state}))
    out = tmp_path / "run"
    assert_refused(run_cli(*TRAIN, "--genotype", str(record), "--out", str(out)), out, fragment, str(record))


# ---------------------------------------------------------------- settings

@pytest.mark.parametrize("command", ["search", "train"])
def test_seed_beyond_64_bits_is_refused(tmp_path: Path, command: str) -> None:
    out = tmp_path / "run"
    argv = SEARCH if command == "search" else [*TRAIN, "--genotype", "DARTS_V2"]
    assert_refused(run_cli(*argv, "--seed", str(2**70), "--out", str(out)), out, "seed must fit in 64 bits")


@pytest.mark.parametrize("setting, fragment", [
    ("alpha_betas=[0.5, 1.0]", "alpha_betas"), ("alpha_betas=[-0.1, 0.999]", "alpha_betas"),
    ("w_momentum=-0.9", "w_momentum must be >= 0"), ("w_weight_decay=NaN", "w_weight_decay must be a finite"),
    ("alpha_weight_decay=-1", "alpha_weight_decay must be >= 0"),
])
def test_search_optimizer_settings_out_of_range_are_refused(setting: str, fragment: str) -> None:
    key, _, value = setting.partition("=")
    with pytest.raises(ConfigError, match=fragment):
        search_config("smoke", **{key: json.loads(value)})


@pytest.mark.parametrize("key, value, fragment", [
    ("momentum", -0.5, "momentum must be >= 0"), ("weight_decay", float("nan"), "weight_decay must be a finite"),
    ("auxiliary_weight", float("nan"), "auxiliary_weight must be a finite"),
    ("auxiliary_weight", -0.4, "auxiliary_weight must be >= 0"),
])
def test_train_settings_out_of_range_are_refused(key: str, value: float, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        train_config("smoke", **{key: value})


def test_nan_setting_from_the_command_line_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert_refused(run_cli(*SEARCH, "--set", "w_weight_decay=NaN", "--out", str(out)), out, "w_weight_decay")


# ---------------------------------------------------------------- data sizes

def test_search_batch_larger_than_the_data_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"  # smoke: 8 per class and half, so 80 images per half
    assert_refused(run_cli(*SEARCH, "--batch-size", "512", "--out", str(out)), out, "no full batch of 512")


def test_search_per_class_larger_than_a_class_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"  # synthetic: about 25 images per class, 12 per half
    assert_refused(run_cli(*SEARCH, "--set", "per_class=100", "--out", str(out)), out, "lower per_class")


def test_train_batch_larger_than_the_data_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert_refused(run_cli(*TRAIN, "--genotype", "DARTS_V2", "--batch-size", "512", "--out", str(out)), out,
                   "no full batch of 512")


def test_train_per_class_larger_than_a_class_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert_refused(run_cli(*TRAIN, "--genotype", "DARTS_V2", "--set", "train_per_class=1000", "--out", str(out)),
                   out, "fewer than the 1000 per class")


# ---------------------------------------------------------------- data sources

@needs_real_archive
def test_empty_data_root_fails_instead_of_reading_another_copy(tmp_path: Path) -> None:
    root, out = tmp_path / "empty", tmp_path / "run"
    root.mkdir()
    assert_refused(run_cli("search", "--method", "darts_1st", "--quiet", "--data-root", str(root), "--out", str(out)),
                   out, "holds neither", str(REAL_ARCHIVE))


@needs_real_archive
def test_cache_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "run"
    cache.write_text("not a folder")
    result = run_cli("search", "--method", "darts_1st", "--quiet", "--out", str(out),
                     env={"MILENAS_CACHE_DIR": str(cache)})
    assert_refused(result, out, f"cache folder {cache}", "MILENAS_CACHE_DIR")


def tiny_archive(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for part in ("train", "test"):
            for index, name in enumerate(CIFAR10_CLASSES):
                payload = io.BytesIO()
                Image.new("RGB", (32, 32), (index * 20, 0, 0)).save(payload, format="JPEG")
                info = tarfile.TarInfo(f"{part}/{name}/0000.jpg")
                info.size = payload.tell()
                payload.seek(0)
                archive.addfile(info, payload)
    return path


def test_cache_whose_arrays_disagree_is_named_and_rebuilt(tmp_path: Path) -> None:
    archive, cache = tiny_archive(tmp_path / "tiny.tar.gz"), tmp_path / "cache"
    expected = read_jpeg_archive(archive, expected_sha256=file_sha256(archive), cache_dir=cache)
    (cache_file,) = cache.glob("*.npz")
    arrays = dict(np.load(cache_file))
    arrays["train_labels"] = arrays["train_labels"][:3]  # 10 images, 3 labels
    with open(cache_file, "wb") as handle:
        np.savez(handle, **arrays)
    with pytest.warns(UserWarning, match=f"inconsistent cache {cache_file}.*decoding the archive again"):
        rebuilt = read_jpeg_archive(archive, expected_sha256=file_sha256(archive), cache_dir=cache)
    assert torch.equal(rebuilt.train_labels, expected.train_labels)
    assert torch.equal(rebuilt.train_images, expected.train_images)
    assert len(np.load(cache_file)["train_labels"]) == 10  # the cache was rewritten


# ---------------------------------------------------------------- narrow supernets

CRASH_PROBE = textwrap.dedent("""
    import torch
    from milenas_lib.space.operations import FactorizedReduce
    torch.set_num_threads(2)
    for C in (2, 4, 8):  # a supernet with C=2 or 4 has these reductions; 1-4 output channels per branch
        reduce = FactorizedReduce(C, C).to(memory_format=torch.channels_last)
        for batch in (3, 5):  # odd batches with several threads broke oneDNN's narrow stride-2 1x1 convs
            for size in (32, 16, 8):
                x = torch.randn(batch, C, size, size).contiguous(memory_format=torch.channels_last)
                reduce(x.requires_grad_()).sum().backward()
    print("ok")
""")


def test_narrow_reductions_in_channels_last_do_not_crash() -> None:
    """Run in a subprocess: the old failure was a native abort (double free,
    segfault) that would kill pytest.  Supernets with C=2 and C=4 crashed."""
    result = subprocess.run([sys.executable, "-c", CRASH_PROBE], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "OMP_NUM_THREADS": "2"}, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", (result.returncode, result.stderr[-2000:])


@pytest.mark.parametrize("size", [8, 9])
def test_narrow_factorized_reduce_computes_the_strided_conv(size: int) -> None:
    torch.manual_seed(0)
    reduce = FactorizedReduce(4, 4).eval()  # 2 output channels per branch: the fallback path
    x = torch.randn(3, 4, size, size)
    relu = torch.relu(x)
    shifted = torch.nn.functional.pad(relu[:, :, 1:, 1:], (0, 1, 0, 1)) if size % 2 else relu[:, :, 1:, 1:]
    expected = reduce.bn(torch.cat([torch.nn.functional.conv2d(relu, reduce.conv_1.weight, stride=2),
                                    torch.nn.functional.conv2d(shifted, reduce.conv_2.weight, stride=2)], dim=1))
    torch.testing.assert_close(reduce(x), expected)

"""--download: the official CIFAR-10 through torchvision, md5-checked, into the data root.

The network is a local stand-in: a tiny ``cifar-10-python.tar.gz`` in torchvision's
layout, served by ``http.server`` on 127.0.0.1, with torchvision's URL and md5 sums
patched to it.  Nothing here reaches the internet.
"""
from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import pickle
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from milenas_lib.data import (
    DataNotFoundError,
    DownloadError,
    default_download_root,
    download_cifar10,
    load_cifar10,
)

IMAGES_PER_BATCH = 3
BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


def _md5(payload: bytes) -> str:
    return hashlib.md5(payload).hexdigest()


def _batch(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return pickle.dumps({"data": rng.integers(0, 256, (IMAGES_PER_BATCH, 3072), dtype=np.uint8),
                         "labels": [int(v) for v in rng.integers(0, 10, IMAGES_PER_BATCH)]})


@pytest.fixture
def fake_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A local http server with a fake cifar-10-python.tar.gz; torchvision's CIFAR10 points at it."""
    from torchvision.datasets import CIFAR10

    files = {name: _batch(seed) for seed, name in enumerate([*BATCHES, "test_batch"])}
    files["batches.meta"] = pickle.dumps({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog",
                                                          "frog", "horse", "ship", "truck"]})
    served = tmp_path / "served"
    served.mkdir()
    with tarfile.open(served / "cifar-10-python.tar.gz", "w:gz") as archive:
        for name, payload in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/cifar-10-python.tar.gz"
    monkeypatch.setattr(CIFAR10, "url", url)
    monkeypatch.setattr(CIFAR10, "tgz_md5", _md5((served / "cifar-10-python.tar.gz").read_bytes()))
    monkeypatch.setattr(CIFAR10, "train_list", [[name, _md5(files[name])] for name in BATCHES])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", _md5(files["test_batch"])]])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": _md5(files["batches.meta"])})
    for name in ("MILENAS_DATA_ROOT", "MILENAS_CIFAR10_ARCHIVE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MILENAS_CACHE_DIR", str(tmp_path / "cache"))
    yield server
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []
    delay_s = 0.0  # a slow network, so that processes that start at once also download at once

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        time.sleep(self.delay_s)
        super().do_GET()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        _QuietHandler.requests.append(f"{self.command} {self.path}")


def test_download_fetches_checks_and_the_loader_reads_it(fake_server, tmp_path: Path) -> None:
    root = download_cifar10(tmp_path / "data")
    assert (root / "cifar-10-batches-py" / "test_batch").is_file()
    images = load_cifar10(data_root=root)
    assert images.source == "torchvision-cifar10"
    assert images.train_images.shape == (5 * IMAGES_PER_BATCH, 3, 32, 32)
    assert images.test_images.shape == (IMAGES_PER_BATCH, 3, 32, 32)


def test_a_complete_copy_is_not_fetched_again(fake_server, tmp_path: Path) -> None:
    _QuietHandler.requests.clear()
    download_cifar10(tmp_path / "data")
    assert _QuietHandler.requests  # the first call fetched
    _QuietHandler.requests.clear()
    download_cifar10(tmp_path / "data")
    assert _QuietHandler.requests == []


#: A child process that downloads into argv[1] from the fake server (torchvision's CIFAR10 patched as in the parent).
DOWNLOADER = """
import json, sys
from torchvision.datasets import CIFAR10
for name, value in json.loads(sys.argv[2]).items():
    setattr(CIFAR10, name, value)
from milenas_lib.data import download_cifar10
print(download_cifar10(sys.argv[1]))
"""


@pytest.mark.slow
def test_processes_that_download_at_once_fetch_once(fake_server, tmp_path: Path) -> None:
    """Every rank under torchrun calls --download: one fetches, the others wait and find the copy."""
    from torchvision.datasets import CIFAR10

    patched = json.dumps({name: getattr(CIFAR10, name) for name in ("url", "tgz_md5", "train_list", "test_list",
                                                                      "meta")})

    def download(folder: Path, processes: int) -> list[str]:
        _QuietHandler.requests.clear()
        children = [subprocess.Popen([sys.executable, "-c", DOWNLOADER, str(folder), patched],
                                     stdout=subprocess.PIPE, text=True) for _ in range(processes)]
        outputs = [child.communicate(timeout=300)[0].strip() for child in children]
        assert all(child.returncode == 0 for child in children)
        assert set(outputs) == {str(folder.resolve())}
        return list(_QuietHandler.requests)

    _QuietHandler.delay_s = 4.0
    try:
        alone = download(tmp_path / "alone", 1)  # what one download asks of the server
        assert alone and download(tmp_path / "together", 3) == alone
    finally:
        _QuietHandler.delay_s = 0.0


def test_without_a_data_root_the_download_lands_where_the_loader_looks(fake_server, tmp_path: Path) -> None:
    root = download_cifar10()
    assert root == default_download_root().resolve() and root.is_relative_to(tmp_path / "cache")
    assert load_cifar10().source == "torchvision-cifar10"


def test_a_checksum_mismatch_is_a_download_error_naming_the_fix(fake_server, tmp_path: Path, monkeypatch) -> None:
    from torchvision.datasets import CIFAR10

    monkeypatch.setattr(CIFAR10, "tgz_md5", "0" * 32)
    with pytest.raises(DownloadError) as raised:
        download_cifar10(tmp_path / "data")
    message = str(raised.value)
    assert isinstance(raised.value, DataNotFoundError) and "could not download" in message
    assert "MILENAS_CIFAR10_ARCHIVE" in message and "cifar10-jpeg.tar.gz" in message


def test_no_network_is_a_download_error(fake_server, tmp_path: Path, monkeypatch) -> None:
    from torchvision.datasets import CIFAR10

    monkeypatch.setattr(CIFAR10, "url", "http://127.0.0.1:1/cifar-10-python.tar.gz")  # nothing listens there
    with pytest.raises(DownloadError, match="127.0.0.1:1"):
        download_cifar10(tmp_path / "data")


def test_search_download_fetches_first_and_searches_on_that_copy(fake_server, tmp_path: Path, monkeypatch) -> None:
    from milenas_lib.cli import main
    from milenas_lib.loops import search

    seen = []

    def fake_run_search(config, out, progress=True, **options):
        seen.append(config.data_root)
        raise SystemExit(0)

    monkeypatch.setattr(search, "run_search", fake_run_search)
    with pytest.raises(SystemExit):
        main(["search", "--method", "milenas", "--download", "--data-root", str(tmp_path / "data"),
              "--out", str(tmp_path / "run")])
    assert seen == [str((tmp_path / "data").resolve())]
    assert (tmp_path / "data" / "cifar-10-batches-py" / "data_batch_5").is_file()


def test_download_is_refused_for_other_data(capsys) -> None:
    from milenas_lib.cli import main

    assert main(["search", "--method", "milenas", "--download", "--data", "synthetic"]) == 2
    assert "--download fetches CIFAR-10 only" in capsys.readouterr().err


def test_the_not_found_message_names_the_real_flag(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as raised:
        load_cifar10(data_root=tmp_path / "typo")
    assert "--download" in str(raised.value) and "download=True" not in str(raised.value)


def test_reproduce_prints_a_multi_line_error_whole(monkeypatch, capsys) -> None:
    from milenas_lib import reproduce

    def no_data(*args, **kwargs):
        raise DataNotFoundError("CIFAR-10 not found. Looked at:\n  - /nowhere (JPEG archive)\n"
                                "Fix it in one of three ways:\n  3. pass --download")

    monkeypatch.setattr(reproduce, "run", no_data)
    assert reproduce.main(["--only", "01"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reproduce: error: CIFAR-10 not found. Looked at:")
    assert "/nowhere (JPEG archive)" in err and "3. pass --download" in err


def test_reproduce_download_runs_before_anything_and_every_run_inherits_the_root(fake_server, tmp_path, monkeypatch):
    from milenas_lib import reproduce

    seen = []
    monkeypatch.setattr(reproduce, "run", lambda *a, **k: seen.append(reproduce.os.environ["MILENAS_DATA_ROOT"]))
    monkeypatch.setenv("MILENAS_DATA_ROOT", "")  # restored after the test: main sets it for the runs
    assert reproduce.main(["--only", "01", "--download", "--param", f"data_root={tmp_path / 'data'}"]) == 0
    assert seen == [str((tmp_path / "data").resolve())]
    assert (tmp_path / "data" / "cifar-10-batches-py" / "test_batch").is_file()


def test_make_reproduce_download_passes_the_flag() -> None:
    repo = Path(__file__).resolve().parent.parent
    venv = Path(sys.executable).resolve().parent.parent
    for value, expected in (("1", True), ("0", False)):
        dry = subprocess.run(["make", "-n", "reproduce", f"DOWNLOAD={value}", f"VENV={venv}", f"STAMP={__file__}"],
                             cwd=repo, capture_output=True, text=True, timeout=60)
        command = [line for line in dry.stdout.splitlines() if "milenas_lib reproduce" in line]
        assert len(command) == 1 and ("--download" in command[0]) == expected, dry.stdout + dry.stderr

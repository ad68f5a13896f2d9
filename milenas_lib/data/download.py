"""Official CIFAR-10 from its publisher, through torchvision, checksum-checked.

``--download`` on ``search`` and ``reproduce`` (``make reproduce DOWNLOAD=1``)
calls :func:`download_cifar10` before any work starts: torchvision fetches
``cifar-10-python.tar.gz`` from the University of Toronto, checks its md5 and the
md5 of every batch file, and unpacks ``cifar-10-batches-py`` into the data root.
Without a data root the data lands in :func:`default_download_root`, which
:func:`milenas_lib.data.load_cifar10` also searches, so later runs find it
without any flag.  A copy that is already complete is not fetched again.
"""
from __future__ import annotations

import os
import urllib.error
from pathlib import Path

from .cifar10 import ARCHIVE_NAME, TORCHVISION_FOLDER, DataNotFoundError, default_download_root


class DownloadError(DataNotFoundError):
    """The official CIFAR-10 could not be fetched or failed its checksum; the message says what to do."""


def download_cifar10(data_root: str | os.PathLike[str] | None = None) -> Path:
    """Fetch the official CIFAR-10 into ``data_root`` (default: ``MILENAS_DATA_ROOT``,
    else :func:`default_download_root`) unless a complete copy is there; returns the
    folder that now holds ``cifar-10-batches-py``.

    Processes that ask at once (every rank under ``torchrun``, two notebooks) take turns on
    a lock file in that folder: the first fetches, the others find a complete copy and only
    check it."""
    from filelock import FileLock
    from torchvision.datasets import CIFAR10

    chosen = data_root or os.environ.get("MILENAS_DATA_ROOT") or default_download_root()
    root = Path(chosen).expanduser().resolve()
    blocker = next((part for part in (root, *root.parents) if part.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise DownloadError(f"cannot download CIFAR-10 into {root}: {blocker} is a file; pass --data-root with a "
                            "folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
        # Fetches and checks the archive's md5, unpacks it, then checks every batch file's md5;
        # a complete copy is only checked.  The test split is the smaller one to read back.
        with FileLock(str(root / ".download.lock")):
            CIFAR10(str(root), train=False, download=True)
    except (urllib.error.URLError, OSError, RuntimeError) as error:
        reason = getattr(error, "reason", None) or error
        raise DownloadError(
            f"could not download CIFAR-10 from {CIFAR10.url} into {root} ({type(error).__name__}: {reason}); "
            f"check the internet connection and run the command again (a partial download is fetched anew), "
            f"or use the offline JPEG archive: set MILENAS_CIFAR10_ARCHIVE to {ARCHIVE_NAME} or put it in the "
            "data root") from None
    if not (root / TORCHVISION_FOLDER).is_dir():  # torchvision's own checks passed, so this is a layout change
        raise DownloadError(f"the download into {root} did not create {TORCHVISION_FOLDER}; delete {root} and "
                            "try again")
    return root

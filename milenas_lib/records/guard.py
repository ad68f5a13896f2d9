"""Guards around a run directory: one writer at a time, and room on disk.

The lock is an ``flock`` on ``<run>/.lock``: the kernel drops it when the
process dies (even by SIGKILL), so a crashed run never leaves a stale lock,
while a second live run on the same directory is refused at once.
"""
from __future__ import annotations

import fcntl
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

import torch

from .errors import OneLine

LOCK_NAME = ".lock"


class RunLockedError(OneLine, RuntimeError):
    """Another live process is writing into this run directory."""


class DiskSpaceError(OneLine, OSError):
    """Not enough free disk space to write a checkpoint safely."""


def acquire_lock(folder: Path) -> IO[str]:
    """An open handle on ``folder/.lock`` holding its ``flock`` (close it to release).

    The folder must exist.  After locking, the handle must still be the file
    at ``.lock``: a run that removed its own new folder on failure may have
    unlinked the file this process locked, which then guards nothing.
    """
    for _ in range(3):
        handle = open(folder / LOCK_NAME, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RunLockedError(f"another run is writing into {folder}; wait for it to finish or choose "
                                 f"another --out directory") from None
        try:
            if os.stat(folder / LOCK_NAME).st_ino == os.fstat(handle.fileno()).st_ino:
                handle.truncate(0)
                handle.write(str(os.getpid()))
                handle.flush()
                return handle
        except FileNotFoundError:
            pass
        handle.close()
        folder.mkdir(exist_ok=True)
    raise RunLockedError(f"{folder} is being created and removed by another run; try again")


@contextmanager
def run_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock for the block (the folder is created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = acquire_lock(folder)
    try:
        yield
    finally:
        handle.close()


def state_bytes(state: object) -> int:
    """Bytes of the tensors in a (nested) checkpoint state."""
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, dict):
        return sum(state_bytes(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return sum(state_bytes(v) for v in state)
    return 0


def ensure_free_space(directory: Path, needed_bytes: int) -> None:
    """Refuse to start a write that could not finish: the atomic write holds the
    old and the new file at once, so twice the size (plus slack) must be free."""
    free = shutil.disk_usage(directory).free
    required = 2 * needed_bytes + 16 * 2**20
    if free < required:
        raise DiskSpaceError(f"only {free / 2**20:.0f} MiB free in {directory}, a checkpoint needs about "
                             f"{required / 2**20:.0f} MiB; free some space or choose another --out directory "
                             f"(the last checkpoint there is kept)")

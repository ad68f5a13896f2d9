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
from typing import Iterator

import torch


class RunLockedError(RuntimeError):
    """Another live process is writing into this run directory."""


class DiskSpaceError(OSError):
    """Not enough free disk space to write a checkpoint safely."""


@contextmanager
def run_lock(out_dir: Path) -> Iterator[None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    handle = open(out_dir / ".lock", "w")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(f"another run is writing into {out_dir}; wait for it to finish or choose "
                                 f"another --out directory") from None
        handle.write(str(os.getpid()))
        handle.flush()
        # Temporary files of a writer killed mid-write: never the real file, safe to drop.
        for stale in out_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        yield
    finally:
        handle.close()  # releases the lock


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

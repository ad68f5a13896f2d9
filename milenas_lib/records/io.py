"""Files that are either whole or absent: write to a temporary file in the
same folder, fsync, then rename over the target (atomic on POSIX), so a run
killed mid-write never leaves a truncated record or checkpoint.

Temporary files are named ``.<target>.<random>.tmp`` and created with the
process's umask (a record is as readable as any file the user writes, not
0600); :func:`remove_stale_temporaries` removes only such names.  Checkpoints
are loaded with ``torch.load(weights_only=True)``: they hold only tensors,
numbers, strings, lists and dicts, so a planted ``checkpoint.pt`` cannot
run code.
"""
from __future__ import annotations

import json
import math
import numbers
import os
import secrets
import stat
import sys
from pathlib import Path
from typing import IO, Any, Callable, Optional

from .errors import OneLine


def _temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def remove_stale_temporaries(folder: Path, names: tuple[str, ...]) -> None:
    """Drop the temporary files a writer killed mid-write left for ``names``
    (never the real files, never anybody else's files)."""
    for name in names:
        for stale in folder.glob(f".{name}.*.tmp"):
            if len(stale.name) == len(f".{name}..tmp") + 12:  # our 12 hex digits
                stale.unlink(missing_ok=True)


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666 & ~umask
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def json_ready(value: Any) -> Any:
    """Plain JSON values: tensors become lists (a snapshot, not a live view),
    tuples lists, non-finite floats null, subclasses of str and numbers their
    base type (what ``torch.load(weights_only=True)`` accepts)."""
    torch = sys.modules.get("torch")  # not imported: no value is a tensor (readers of records need no torch)
    if torch is not None and isinstance(value, torch.Tensor):
        return json_ready(value.detach().cpu().tolist())
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # a plain str: torch.__version__ is a subclass
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    text = json.dumps(json_ready(data), indent=1, allow_nan=False) + "\n"
    _atomic_write(path, lambda handle: handle.write(text.encode()))


#: The largest JSON file the kit reads (a paper-preset search record is under 1 MiB); a larger one
#: is refused without being read.
MAX_RECORD_BYTES = 64 * 2**20


class NotARecordFileError(OneLine, ValueError):
    """A record or checkpoint path that is no regular file (a FIFO, a device), or a record too large to be one."""


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _open_regular(path: Path, max_bytes: Optional[int]) -> IO[bytes]:
    """``path`` opened for reading, when it is a regular file (of at most ``max_bytes``).  Opened
    without blocking first, so a FIFO is refused instead of waiting forever for a writer."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARecordFileError(f"{path} is {_kind(info.st_mode)}, not a file the kit wrote; remove it")
        if max_bytes is not None and info.st_size > max_bytes:
            raise NotARecordFileError(f"{path} holds {info.st_size:,} bytes, more than the {max_bytes // 2**20} MiB "
                                      "a record may have; it is not one of this kit's")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_json(path: Path) -> Any:
    """A JSON file the kit wrote: only a regular file of at most :data:`MAX_RECORD_BYTES` is read
    (:class:`NotARecordFileError` otherwise)."""
    with _open_regular(Path(path), MAX_RECORD_BYTES) as handle:
        return json.loads(handle.read(MAX_RECORD_BYTES + 1).decode())


def save_checkpoint(path: Path, state: dict) -> None:
    import torch

    _atomic_write(path, lambda handle: torch.save(state, handle))


def load_checkpoint(path: Path, mmap: bool = False) -> dict:
    """A checkpoint's state; raises on anything but tensors, numbers, strings, lists and dicts, and
    (:class:`NotARecordFileError`) on a path that is no regular file."""
    import torch

    _open_regular(Path(path), None).close()
    return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)

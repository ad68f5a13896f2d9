"""Files that are either whole or absent: write to a temporary file in the
same folder, fsync, then rename over the target (atomic on POSIX), so a run
killed mid-write never leaves a truncated record or checkpoint."""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, IO

import torch


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_ready(value: Any) -> Any:
    """Plain JSON: tensors become lists, non-finite floats become null."""
    if isinstance(value, torch.Tensor):
        return _json_ready(value.detach().cpu().tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    text = json.dumps(_json_ready(data), indent=1, allow_nan=False) + "\n"
    _atomic_write(path, lambda handle: handle.write(text.encode()))


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def save_checkpoint(path: Path, state: dict) -> None:
    _atomic_write(path, lambda handle: torch.save(state, handle))


def load_checkpoint(path: Path) -> dict:
    # weights_only=False: the checkpoint holds RNG states and plain dicts we wrote ourselves.
    return torch.load(path, map_location="cpu", weights_only=False)

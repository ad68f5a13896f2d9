"""Where a result came from: code version, libraries, machine, data."""
from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import torch

import milenas_lib

from .float_path import float_path

REPO_ROOT = Path(milenas_lib.__file__).resolve().parent.parent


def git_commit() -> Optional[str]:
    """The commit of the kit's checkout, with ``+dirty`` when files differ from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def peak_memory_mib(device: torch.device) -> float:
    """CUDA allocator peak on a GPU, the process's peak RSS on the CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def load_1min() -> Optional[float]:
    """The machine's 1-minute load average (runnable processes, this run's included), recorded
    with each epoch so that its timings say how busy the machine was; None where the OS has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # Windows
        return None


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def provenance(device: torch.device, data_source: Optional[dict] = None) -> dict:
    import numpy
    import torchvision

    return {
        "git_commit": git_commit(),
        "milenas_lib": milenas_lib.__version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "device": str(device),
        "device_name": device_description(device),
        "float_path": float_path(device),
        "platform": platform.platform(),
        "data_source": data_source,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


class DeviceUnavailableError(RuntimeError):
    """The requested device does not exist on this machine."""


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError("--device cuda was asked for but no CUDA GPU is visible; "
                           "use --device cpu (or auto) on this machine")
    return torch.device(name)

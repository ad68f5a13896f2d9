"""Which floating-point path a run took: what decides its round-off, kept in every record.

A search is chaotic: a 1e-7 relative difference in its first step grows to
percent-level differences within an epoch.  On the CPU the round-off depends
on the instruction set torch's kernels dispatch to
(``torch.backends.cpu.get_cpu_capability()``, forced by ``ATEN_CPU_CAPABILITY``),
on oneDNN's and MKL's own dispatch (``ONEDNN_MAX_CPU_ISA``, ``MKL_CBWR``,
``MKL_ENABLE_INSTRUCTIONS``; forcing all three to a narrower machine's set
reproduces its records bit for bit, see ``exact_rerun_hint``), on their versions and on the thread count; on a
GPU, on the device, CUDA, cuDNN and the determinism settings.  Two runs of
the same config agree bit for bit only when all of these agree, so a record
states them (``float_path``) and ``verify`` compares exactly only on the same
path (docs/RELIABILITY.md, "Verifying on another machine").
"""
from __future__ import annotations

import os
import platform
import re
from functools import lru_cache
from typing import Any, Optional

import torch

#: Environment variables that change which kernels (and so which round-off) the CPU libraries use.
FORCING_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_CBWR",
                     "MKL_ENABLE_INSTRUCTIONS", "MKL_DEBUG_CPU_TYPE")
#: AVX2 as torch's, oneDNN's and MKL's forcing variables each name it.
_AVX2_EVERYWHERE = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
#: The CPU flags that decide which vector kernels can run.
_VECTOR_FLAG = re.compile(r"^(avx\w*|amx\w*|fma\w*|f16c|sse4_[12]|ssse3)$")
#: The parts of a float path that must agree for bit-equal results (the rest describes the machine).
_DECISIVE_CPU = ("capability", "forced", "torch", "onednn", "blas", "threads")
_DECISIVE_CUDA = ("device_name", "capability", "torch", "cuda", "cudnn", "deterministic", "cudnn_deterministic",
                  "cudnn_benchmark", "tf32_matmul", "tf32_cudnn")


@lru_cache(maxsize=1)
def _cpu_info() -> tuple[str, tuple[str, ...]]:
    """The CPU's model name and its vector-instruction flags (Linux; elsewhere platform's name, no flags)."""
    model, flags = platform.processor() or platform.machine(), ()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            text = info.read(1 << 20)
    except OSError:
        return model, flags
    name = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flag_line = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    if name:
        model = name.group(1).strip()
    if flag_line:
        flags = tuple(sorted(f for f in flag_line.group(1).split() if _VECTOR_FLAG.match(f)))
    return model, flags


@lru_cache(maxsize=1)
def _library_versions() -> dict[str, Optional[str]]:
    """oneDNN's version and the BLAS torch was built with, read from torch's build description."""
    shown = torch.__config__.show()
    onednn = re.search(r"MKL-DNN v([\w.]+)", shown)
    mkl = re.search(r"Math Kernel Library Version ([\w.]+)", shown)
    blas = re.search(r"BLAS_INFO=(\w+)", shown)
    return {"onednn": onednn.group(1) if onednn else None,
            "blas": f"{blas.group(1) if blas else 'unknown'}" + (f" {mkl.group(1)}" if mkl else "")}


def float_path(device: torch.device) -> dict[str, Any]:
    """What decides this process's round-off on ``device`` (call after the thread count is set)."""
    if device.type == "cuda":
        return {
            "kind": "cuda", "device_name": torch.cuda.get_device_name(device),
            "capability": ".".join(map(str, torch.cuda.get_device_capability(device))),
            "torch": torch.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            "deterministic": torch.are_deterministic_algorithms_enabled(),
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        }
    model, flags = _cpu_info()
    return {
        "kind": "cpu", "cpu": model, "machine": platform.machine(), "flags": list(flags),
        "capability": torch.backends.cpu.get_cpu_capability(),
        "forced": {name: os.environ[name] for name in FORCING_VARIABLES if name in os.environ},
        "torch": torch.__version__, **_library_versions(), "threads": torch.get_num_threads(),
    }


def path_differences(recorded: Optional[dict], current: dict) -> list[str]:
    """``name: recorded -> current`` for each decisive part of two float paths that differs;
    ``["the record does not say its float path"]`` for a record made before records said it."""
    if not isinstance(recorded, dict):
        return ["the record does not say its float path"]
    if recorded.get("kind") != current.get("kind"):
        return [f"device kind: {recorded.get('kind')!r} -> {current.get('kind')!r}"]
    decisive = _DECISIVE_CUDA if current.get("kind") == "cuda" else _DECISIVE_CPU
    return [f"{name}: {recorded.get(name)!r} -> {current.get(name)!r}"
            for name in decisive if recorded.get(name) != current.get(name)]


def describe(path: Optional[dict]) -> str:
    """One line: ``AVX2 on AMD EPYC, oneDNN 3.12.0, mkl 2024.2, 1 thread(s)`` (or the GPU's)."""
    if not isinstance(path, dict):
        return "float path not recorded"
    if path.get("kind") == "cuda":
        return f"{path.get('device_name')}, CUDA {path.get('cuda')}, cuDNN {path.get('cudnn')}"
    forced = "".join(f", {k}={v}" for k, v in (path.get("forced") or {}).items())
    return (f"{path.get('capability')} on {path.get('cpu')}, oneDNN {path.get('onednn')}, {path.get('blas')}, "
            f"{path.get('threads')} thread(s){forced}")


def exact_rerun_hint(recorded: Optional[dict], current: dict) -> Optional[str]:
    """The environment that makes this CPU take a record's narrower float path, as a shell prefix
    (``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2``), or None.

    Measured: an AVX2 EPYC's records reproduce bit for bit on an AVX-512 EPYC under all three
    (ATen's alone, or with MKL's, still differs from the third step on: oneDNN's convolutions
    dispatch on their own).  Only a narrower set can be forced, and only with the same libraries."""
    if not isinstance(recorded, dict) or recorded.get("kind") != "cpu" or current.get("kind") != "cpu":
        return None
    if any(recorded.get(name) != current.get(name) for name in ("torch", "onednn", "blas", "threads")):
        return None
    settings = dict(_AVX2_EVERYWHERE) if recorded.get("capability") == "AVX2" else {}
    settings.update(recorded.get("forced") or {})  # what the record's own run forced comes first
    if not settings or settings == (current.get("forced") or {}):
        return None
    return " ".join(f"{name}={value}" for name, value in settings.items())

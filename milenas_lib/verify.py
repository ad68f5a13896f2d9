"""``python -m milenas_lib verify RECORD [--epochs K]``: rerun a record from scratch and compare.

A committed number is believed because anyone can make it again: the record's
own config and seed are rerun in a temporary folder for the first ``K``
epochs, and every per-epoch number the record holds (losses, accuracies, gap,
α and softmax(α), genotype, entropy, learning rates, τ, test accuracy) is
compared with the rerun's.  Wall times and memory are not compared.  On the
CPU the kit is deterministic, so the comparison is exact; on a GPU,
cuDNN's and atomics' round-off make it approximate (``GPU_RTOL``).
"""
from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from .config import ConfigError, SearchConfig, TrainConfig
from .names import RECORD_NAME
from .records.io import read_json

#: Per-epoch fields that measure the machine, not the result.
NOT_COMPARED = frozenset({"alpha_step_s", "w_step_s", "eval_s", "peak_mem_mib", "time_s", "train_s", "epoch_s"})
#: Relative tolerance of a comparison on a GPU (exact on the CPU).
GPU_RTOL = 1e-3


class VerifyError(ValueError):
    """A record that cannot be verified (not a finished search or training record, too few epochs)."""


@dataclass(frozen=True)
class Verification:
    record: Path
    epochs: int
    compared: int                    # numbers compared
    difference: Optional[str]        # the first one that differs, or None
    tolerance: float

    @property
    def matches(self) -> bool:
        return self.difference is None

    def summary(self) -> str:
        how = "exactly" if self.tolerance == 0 else f"within relative {self.tolerance:g}"
        if self.matches:
            return (f"match: epochs 1-{self.epochs} of {self.record} reproduced {how} "
                    f"({self.compared:,} numbers compared)")
        return f"differs: {self.difference} (first difference; {self.record}, compared {how})"


def _config(record: dict, device: str, data_root: Optional[str] = None) -> SearchConfig | TrainConfig:
    kind = record.get("kind")
    if kind not in ("search", "train") or not isinstance(record.get("config"), dict):
        raise VerifyError("not a search or training record of this kit (no 'kind'/'config'); "
                          "pass the record.json of a run folder")
    base = SearchConfig() if kind == "search" else TrainConfig()
    settings = {k: v for k, v in record["config"].items() if k not in ("device", "data_root")}
    try:
        return base.override(**settings, device=device, data_root=data_root)
    except ConfigError as error:
        raise VerifyError(f"the record's config does not load in this kit: {error}") from None


def rerun(record: dict, epochs: int, folder: Path, device: str = "cpu", data_root: Optional[str] = None) -> dict:
    """The record's run, from scratch in ``folder``, for its first ``epochs`` epochs."""
    config = _config(record, device, data_root)
    if isinstance(config, TrainConfig):
        from .loops.train import run_training

        return run_training(config, folder, stop_after_epochs=epochs, progress=False).record
    from .loops.search import run_search

    # Stop after the last step of epoch K, then resume for that epoch's evaluation (and one step more,
    # which the record does not show): the rerun's epochs are the uninterrupted run's (tests/test_search.py).
    run_search(config, folder, stop_after_steps=epochs * record["steps_per_epoch"], progress=False)
    return run_search(config, folder, stop_after_steps=1, progress=False).record


def _numbers(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key in sorted(value):
            if key not in NOT_COMPARED:
                yield from _numbers(value[key], f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{path}[{i}]")
    else:
        yield path, value


def _same(a: Any, b: Any, rtol: float) -> bool:
    if isinstance(a, float) and isinstance(b, (int, float)) and rtol:
        return math.isclose(a, b, rel_tol=rtol, abs_tol=rtol * 1e-3)
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def compare_epochs(recorded: list[dict], rerun_epochs: list[dict], epochs: int, rtol: float = 0.0
                   ) -> tuple[int, Optional[str]]:
    """``(numbers compared, first difference or None)`` over the first ``epochs`` epochs."""
    compared = 0
    for k in range(epochs):
        if k >= len(rerun_epochs):
            return compared, f"epoch {k + 1}: the rerun has no such epoch"
        old = dict(_numbers(recorded[k], f"epoch {k + 1}"))
        new = dict(_numbers(rerun_epochs[k], f"epoch {k + 1}"))
        for path in old:
            compared += 1
            if path not in new or not _same(old[path], new[path], rtol):
                return compared, f"{path}: recorded {old[path]!r}, rerun {new.get(path, '(missing)')!r}"
    return compared, None


def verify(path: str | Path, epochs: int = 1, device: str = "cpu", data_root: Optional[str] = None) -> Verification:
    """Rerun the record at ``path`` (a record.json or its run folder) for ``epochs`` epochs and compare."""
    path = Path(path)
    path = path / RECORD_NAME if path.is_dir() else path
    if not path.is_file():
        raise VerifyError(f"{path} is not a file; pass a run's record.json or its folder")
    record = read_json(path)
    if not isinstance(record, dict) or not record.get("epochs"):
        raise VerifyError(f"{path} holds no per-epoch results to verify")
    if not 1 <= epochs <= len(record["epochs"]):
        raise VerifyError(f"--epochs must lie in 1..{len(record['epochs'])} (the epochs {path} holds), got {epochs}")
    with tempfile.TemporaryDirectory(prefix="milenas-verify-") as folder:
        again = rerun(record, epochs, Path(folder) / "run", device, data_root)
    rtol = 0.0 if device == "cpu" else GPU_RTOL
    sources = [(r.get("data_source") or {}).get("source") for r in (record, again)]
    if sources[0] != sources[1]:
        return Verification(path, epochs, 0, f"data source: recorded {sources[0]!r}, this machine's {sources[1]!r} "
                            "(pass --data-root to the data the record names)", rtol)
    compared, difference = compare_epochs(record["epochs"], again["epochs"], epochs, rtol)
    return Verification(path, epochs, compared, difference, rtol)

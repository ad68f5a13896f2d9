"""``python -m milenas_lib verify RECORD [--epochs K]``: is this record what its config and seed give?

Three checks, strongest first; the output says which were made and what each proves
(docs/RELIABILITY.md, "Verifying on another machine"):

1. **Consistency** (no rerun): the record's numbers agree with each other
   (gap = train − val accuracy, the run's genotype, parameters and buckets are
   its epochs', the headline test accuracy is the last epoch's) and none that
   the figures draw is missing.
2. **Exact rerun** on the record's own float path (records/float_path.py): the
   config and seed are rerun from scratch for the first ``K`` epochs (default:
   all) and every number is compared exactly: every per-epoch number of either
   record, the fingerprint, and, over all epochs, the genotype, buckets,
   parameter counts and final test accuracies.  Wall times and memory are not
   compared.  On a GPU, cuDNN's and atomics' round-off make it approximate
   (``GPU_RTOL``).
3. **On another float path** bit equality is not expected (a search is
   chaotic).  What round-off cannot change is checked instead: the
   fingerprint (the first steps' train losses) agrees to ``FINGERPRINT_RTOL``,
   a tolerance measured across the float paths one machine can force
   (``scripts/measure_float_paths.py``), and, when every epoch is rerun, the
   rerun's final search-val accuracy lies within the spread of the committed
   seeds of the same setting.
"""
from __future__ import annotations

import json
import math
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import torch

from .config import ConfigError, SearchConfig, TrainConfig
from .consistency import consistency_problems
from .names import RECORD_NAME
from .records.float_path import describe, exact_rerun_hint, float_path, path_differences
from .records.io import read_json

#: Fields that measure the machine or the wall clock, not the result.
NOT_COMPARED = frozenset({"alpha_step_s", "w_step_s", "eval_s", "peak_mem_mib", "time_s", "train_s", "epoch_s",
                          "epoch_time_s", "throughput_img_s", "load_1min"})
#: Run-level fields the figures and tables draw (compared when every epoch is rerun).
DRAWN = ("genotype", "buckets", "params", "supernet_weights", "fingerprint", "final_test_top1", "final_test_top5",
         "final_test_loss", "params_with_aux", "mult_adds")
#: Relative tolerance of a comparison on a GPU (exact on the CPU's own float path).
GPU_RTOL = 1e-3
#: The fingerprint's relative tolerance on another float path, step by step: 10x the largest
#: difference measured up to that step between forced CPU capabilities over the long preset's
#: rules (docs/RELIABILITY.md; 2nd-order DARTS' finite difference and Adam's first, sign-like α
#: steps make the differences grow from 1e-7 at step 1 to 2e-2 at step 5).
FINGERPRINT_RTOL = (2e-4, 2e-3, 2e-2, 2e-2, 2e-1)
#: On another float path the rerun's final search-val accuracy must lie within this many
#: standard deviations of the committed seeds' mean (the larger of their SD and one reading's
#: binomial standard error).
SPREAD_SDS = 3.0
#: Records larger than this are refused without reading them whole.
MAX_RECORD_BYTES = 64 * 2**20


class VerifyError(ValueError):
    """A record that cannot be verified (not a finished search or training record, too few epochs)."""


@dataclass(frozen=True)
class Verification:
    record: Path
    epochs: int
    compared: int                    # numbers compared
    difference: Optional[str]        # the first one that differs (or contradicts), or None
    tolerance: float
    check: str = "exact"             # exact | consistency | another float path
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def matches(self) -> bool:
        return self.difference is None

    def summary(self) -> str:
        lines = list(self.notes)
        if self.check == "consistency":
            lines.append(f"inconsistent: {self.difference} ({self.record}; found without a rerun)")
        elif self.check == "exact":
            how = "exactly" if self.tolerance == 0 else f"within relative {self.tolerance:g}"
            lines.append(f"match: epochs 1-{self.epochs} of {self.record} reproduced {how} "
                         f"({self.compared:,} numbers compared)" if self.matches else
                         f"differs: {self.difference} (first difference; {self.record}, compared {how})")
        else:
            lines.append(f"consistent: {self.record} agrees with its rerun on another float path "
                         "(the checks above; bit equality is not expected there)" if self.matches else
                         f"differs: {self.difference} ({self.record}, on another float path)")
        return "\n".join(lines)


def _config(record: dict, device: str, data_root: Optional[str] = None) -> SearchConfig | TrainConfig:
    base = SearchConfig() if record["kind"] == "search" else TrainConfig()
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


def compare(old_value: Any, new_value: Any, where: str, rtol: float = 0.0) -> tuple[int, Optional[str]]:
    """``(numbers compared, first difference or None)`` of two values, every leaf of either side."""
    old, new = dict(_numbers(old_value, where)), dict(_numbers(new_value, where))
    compared = 0
    for path in sorted(old.keys() | new.keys()):
        compared += 1
        if path not in old or path not in new or not _same(old[path], new[path], rtol):
            return compared, f"{path}: recorded {old.get(path, '(missing)')!r}, rerun {new.get(path, '(missing)')!r}"
    return compared, None


def compare_epochs(recorded: list[dict], rerun_epochs: list[dict], epochs: int, rtol: float = 0.0
                   ) -> tuple[int, Optional[str]]:
    """``(numbers compared, first difference or None)`` over the first ``epochs`` epochs."""
    compared = 0
    for k in range(epochs):
        if k >= len(rerun_epochs):
            return compared, f"epoch {k + 1}: the rerun has no such epoch"
        count, difference = compare(recorded[k], rerun_epochs[k], f"epoch {k + 1}", rtol)
        compared += count
        if difference:
            return compared, difference
    return compared, None


def compare_runs(record: dict, again: dict, epochs: int, rtol: float) -> tuple[int, Optional[str]]:
    """Every epoch's numbers, then, over the whole run, the run-level fields the figures draw."""
    compared, difference = compare_epochs(record["epochs"], again["epochs"], epochs, rtol)
    if difference or epochs < len(record["epochs"]):
        return compared, difference
    for key in DRAWN:
        if key in record or key in again:
            count, difference = compare(record.get(key), again.get(key), key, rtol)
            compared += count
            if difference:
                return compared, difference
    return compared, None


def load_record(path: str | Path) -> tuple[Path, dict]:
    """The record at ``path`` (a record.json or its run folder): a regular file of JSON, not too large."""
    path = Path(path)
    path = path / RECORD_NAME if path.is_dir() else path
    if not path.is_file():
        raise VerifyError(f"{path} is not a regular file; pass a run's record.json or its folder")
    if path.stat().st_size > MAX_RECORD_BYTES:
        raise VerifyError(f"{path} is {path.stat().st_size / 2**20:.0f} MiB, more than any record of this kit "
                          f"({MAX_RECORD_BYTES // 2**20} MiB); not read")
    try:
        return path, read_json(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise VerifyError(f"{path} is not JSON ({error}); pass a run's record.json") from None


def fingerprint_check(record: dict, again: dict) -> tuple[Optional[str], str]:
    """``(difference or None, what was checked)`` of the first steps' train losses, each to its step's
    tolerance (:data:`FINGERPRINT_RTOL`)."""
    old = (record.get("fingerprint") or {}).get("train_loss") or []
    new = (again.get("fingerprint") or {}).get("train_loss") or []
    if not old:
        return "the record keeps no fingerprint (made before records kept one): nothing on another float " \
               "path can tell a true record from an edited one; verify it where its float path is", ""
    if len(new) < len(old) or len(old) > len(FINGERPRINT_RTOL):
        return f"fingerprint: recorded {len(old)} steps' losses, the rerun gives {len(new)}", ""
    differences = [abs(a - b) / max(abs(a), 1e-12) for a, b in zip(old, new)]
    shown = " ".join(f"{d:.0e}" for d in differences)
    tolerances = " ".join(f"{t:g}" for t in FINGERPRINT_RTOL[:len(old)])
    if any(d > t for d, t in zip(differences, FINGERPRINT_RTOL)):
        return (f"fingerprint: the first {len(old)} steps' train losses differ by {shown} relative (tolerances "
                f"{tolerances}): recorded {old}, rerun {new[:len(old)]}"), ""
    return None, (f"fingerprint: the first {len(old)} steps' train losses agree to {shown} relative (tolerances "
                  f"{tolerances}): same config, seed, data and initial weights")


def committed_spread(path: Path, record: dict) -> list[float]:
    """Final search-val accuracies of the other seeds of ``record``'s setting stored beside it
    (run-store layout ``<setting>/seed<S>-<hash>/record.json``)."""
    settings = {k: v for k, v in ((record.get("identity") or {}).get("settings") or {}).items() if k != "seed"}
    values = []
    for sibling in sorted(path.parent.parent.glob(f"*/{RECORD_NAME}")):
        if sibling.resolve() == path.resolve() or not sibling.is_file():
            continue
        try:
            other = read_json(sibling)
        except (OSError, ValueError):
            continue
        other_settings = {k: v for k, v in ((other.get("identity") or {}).get("settings") or {}).items()
                          if k != "seed"}
        if other_settings == settings and other.get("completed") and other.get("epochs"):
            values.append(other["epochs"][-1]["val_acc"])
    return values


def spread_check(path: Path, record: dict, again: dict) -> tuple[Optional[str], str]:
    """Is the rerun's final search-val accuracy within the committed seeds' spread?"""
    others = committed_spread(path, record)
    if len(others) < 2:
        return None, f"spread: not checked ({len(others)} other committed seed(s) of this setting beside it)"
    final = again["epochs"][-1]["val_acc"]
    mean, sd = statistics.fmean(others), statistics.stdev(others)
    images = ((again.get("data_source") or {}).get("halves") or {}).get("val") or 0
    binomial = math.sqrt(mean * (1 - mean) / images) if images else 0.0
    width = SPREAD_SDS * max(sd, binomial)
    within = abs(final - mean) <= width
    text = (f"spread: the rerun's final search-val accuracy {100 * final:.2f} % lies "
            f"{'within' if within else 'outside'} {100 * mean:.2f} ± {100 * width:.2f} % "
            f"({SPREAD_SDS:g} x max(SD, binomial SE) of {len(others)} other committed seeds)")
    return (None if within else text), text


def verify(path: str | Path, epochs: Optional[int] = None, device: str = "cpu",
           data_root: Optional[str] = None) -> Verification:
    """Check the record at ``path``: consistency, then a rerun of ``epochs`` epochs (default all),
    compared exactly on its own float path and by fingerprint and spread on another."""
    path, record = load_record(path)
    if not isinstance(record, dict) or record.get("kind") not in ("search", "train") \
            or not isinstance(record.get("config"), dict):
        raise VerifyError(f"{path} is not a search or training record of this kit (no 'kind'/'config'); "
                          "pass the record.json of a run folder")
    problems = consistency_problems(record)
    if problems:
        return Verification(path, 0, 0, "; ".join(problems[:3]), 0.0, "consistency")
    total = len(record["epochs"])
    epochs = total if epochs is None else epochs
    if not 1 <= epochs <= total:
        raise VerifyError(f"--epochs must lie in 1..{total} (the epochs {path} holds), got {epochs}")
    with tempfile.TemporaryDirectory(prefix="milenas-verify-") as folder:
        again = rerun(record, epochs, Path(folder) / "run", device, data_root)
    sources = [(r.get("data_source") or {}).get("source") for r in (record, again)]
    if sources[0] != sources[1]:
        return Verification(path, epochs, 0, f"data source: recorded {sources[0]!r}, this machine's {sources[1]!r} "
                            "(pass --data-root to the data the record names)", 0.0)
    here = again.get("float_path") or float_path(torch.device(device))
    differences = path_differences(record.get("float_path"), here)
    if not differences:
        rtol = 0.0 if device == "cpu" else GPU_RTOL
        compared, difference = compare_runs(record, again, epochs, rtol)
        note = f"float path: the record's ({describe(here)}): compared exactly"
        return Verification(path, epochs, compared, difference, rtol, "exact", (note,))
    return _another_path(path, record, again, epochs, differences, here)


def _another_path(path: Path, record: dict, again: dict, epochs: int, differences: list[str],
                  here: dict) -> Verification:
    notes = [f"float path differs from the record's ({'; '.join(differences)}); this machine: {describe(here)}"]
    exact_count, exact_difference = compare_runs(record, again, epochs, 0.0)
    if exact_difference is None:
        notes.append("all the same, every number agrees exactly")
        return Verification(path, epochs, exact_count, None, 0.0, "exact", tuple(notes))
    hint = exact_rerun_hint(record.get("float_path"), here)
    if hint:
        notes.append(f"for an exact comparison on this machine, rerun as: {hint} python -m milenas_lib verify {path}")
    kept = len((record.get("fingerprint") or {}).get("train_loss") or [])
    difference, text = fingerprint_check(record, again)
    notes += [text] if text else []
    whole = epochs == len(record["epochs"]) and record["kind"] == "search"
    if not kept:  # an older record: the spread alone can speak
        notes.append(f"fingerprint: none kept ({difference})")
        difference = None if whole else ("nothing to compare: the record keeps no fingerprint; rerun every epoch "
                                         "(leave out --epochs) for the spread check")
    if difference is None and whole:
        difference, text = spread_check(path, record, again)
        notes.append(text)
        if difference is None and not kept and len(committed_spread(path, record)) < 2:
            difference = "nothing to compare: no fingerprint, and fewer than 2 other committed seeds beside it"
    elif difference is None:
        notes.append(f"spread: not checked (rerun {epochs} of {len(record['epochs'])} epochs; "
                     "the default reruns all)" if record["kind"] == "search" else
                     "spread: not checked (training records)")
    return Verification(path, epochs, kept, difference, FINGERPRINT_RTOL[0], "another float path", tuple(notes))

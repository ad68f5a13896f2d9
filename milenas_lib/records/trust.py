"""Whether a run folder's record may be believed: the one check every reader of the run store uses.

A ``record.json`` is a view; it is trusted only when it proves itself:

* with a ``checkpoint.pt`` beside it, the record must equal the record kept
  inside the checkpoint (which the kit writes first, and which carries the
  run's identity);
* without one, the record must carry a digest of its own content
  (:func:`record_digest`: SHA-256 of its canonical JSON, the digest field
  left out), written by the run directory whenever it writes the record;
* either way, the identity must be the one the folder is named for: a run
  store folder ends in ``seed<S>-<hash>``, the :func:`.identity.identity_hash`
  of the run identity without its data source.

Nothing else in a folder is believed: a hand-edited accuracy, a record moved
into another folder, a record without its checkpoint from an older kit or
another machine that lost its digest, or valid JSON that is not a record, are
each ``damaged``.  :func:`settle` then rebuilds the record from a complete
checkpoint, or sets the damaged files aside so that the run is trained again,
and says which.  A digest is not a signature: anyone can recompute it
(docs/RELIABILITY.md says what it protects against and what not).

No torch at import: the executor's driver and ``plan`` use this module; a
checkpoint is opened (memory-mapped) only when a folder holds one.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from ..names import RECORD_NAME
from .errors import OneLine
from .identity import identity_differences, identity_hash
from .io import NotARecordFileError, load_checkpoint, read_json

CHECKPOINT_NAME = "checkpoint.pt"
DIGEST_KEY = "digest"
STORED, MISSING, PARTIAL, FAILED, DAMAGED, REBUILDABLE = (
    "stored", "missing", "partial", "failed", "damaged", "rebuildable")
#: A run-store folder name ends with the seed and the identity hash (experiments/store.py run_dir).
_FOLDER_HASH = re.compile(r"seed-?\d+-([0-9a-f]{8})$")


class RunStoreError(OneLine, ValueError):
    """The run store itself cannot be read (a symbolic-link loop); the message names the folder."""


# -- the digest ------------------------------------------------------------------

def canonical_json(value: Any) -> str:
    """The one text of a JSON value: keys sorted, no spaces, ASCII only, floats
    as Python's shortest round-trip form (the same on every machine)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def record_digest(record: dict) -> str:
    """``sha256:<hex>`` of the record's canonical JSON without its digest field.
    The record goes through JSON first, so it is the digest of what the file holds."""
    body = json.loads(json.dumps({k: v for k, v in record.items() if k != DIGEST_KEY}, allow_nan=False))
    return "sha256:" + hashlib.sha256(canonical_json(body).encode()).hexdigest()


def seal(record: dict) -> dict:
    """``record`` with its digest (a stale digest is replaced)."""
    body = {k: v for k, v in record.items() if k != DIGEST_KEY}
    return {**body, DIGEST_KEY: record_digest(body)}


def unsealed(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != DIGEST_KEY}


def digest_problem(record: dict) -> Optional[str]:
    """Why ``record``'s digest does not vouch for it, or None when it does."""
    stored = record.get(DIGEST_KEY)
    if stored is None:
        return "carries no digest (written by hand or by an older kit)"
    try:
        matches = stored == record_digest(record)
    except ValueError:  # NaN or infinity: never written by the kit
        matches = False
    return None if matches else "does not match its digest (edited or cut short after it was written)"


# -- what a folder holds -------------------------------------------------------------

@dataclass(frozen=True)
class RunState:
    """What a run folder holds, as far as it can be trusted.

    ``record`` is the trusted finished record (status ``stored``) or, for
    ``rebuildable``, the one inside the checkpoint.  ``reason`` says, in one
    line, what is wrong with a ``damaged``, ``rebuildable`` or ``failed`` run.
    """

    folder: Path
    status: str
    record: Optional[dict] = None
    reason: str = ""
    epochs: int = 0
    sealed: bool = True          # record.json carries a valid digest (stored runs)
    damaged_files: tuple[str, ...] = ()

    @property
    def line(self) -> str:
        """One line for the user: the folder, what is wrong and what the kit does about it."""
        action = {REBUILDABLE: "reproduce and the notebooks rebuild it from checkpoint.pt",
                  DAMAGED: "reproduce and the notebooks set it aside and train the run again",
                  FAILED: "running it again repeats the failure unless its settings change"}.get(self.status, "")
        return f"{self.status} {self.folder}: {self.reason}" + (f"; {action}" if action else "")


def _exists(path: Path) -> bool:
    """``path.exists()``, but a symbolic-link loop is an error naming it (pathlib would say "absent")."""
    try:
        os.stat(path)
        return True
    except FileNotFoundError:
        return False
    except NotADirectoryError:
        return False
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise RunStoreError(f"{path} is a symbolic-link loop in the run store; remove that link "
                                f"(ls -l {path.parent}) and run again") from None
        raise


def resolved(path: Path | str) -> Path:
    """``Path(path).resolve()``, with a symbolic-link loop reported in one line naming it."""
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError) as error:  # RuntimeError: Python < 3.13; OSError(ELOOP) after
        if isinstance(error, OSError) and error.errno != errno.ELOOP:
            raise
        raise RunStoreError(f"{path} lies on a symbolic-link loop in the run store; remove the looping link "
                            f"and run again") from None


def _folder_hash(folder: Path) -> Optional[str]:
    match = _FOLDER_HASH.search(folder.name)
    return match.group(1) if match else None


def _identity_problem(stored: Any, folder: Path, expected: Optional[dict]) -> Optional[str]:
    """Why ``stored`` (a record's or checkpoint's identity) is not the run ``folder`` is for."""
    if not isinstance(stored, dict):
        return "holds no run identity"
    bare = {**stored, "data_source": None}  # folders are named before the data are loaded
    if expected is not None:
        differences = identity_differences(bare, {**expected, "data_source": None})
        return f"is a run of another configuration ({'; '.join(differences)})" if differences else None
    wanted = _folder_hash(folder)
    if wanted is not None and identity_hash(bare) != wanted:
        return (f"is a run of another configuration than its folder is named for (its identity hashes to "
                f"{identity_hash(bare)}, the folder to {wanted})")
    return None


def first_difference(a: Any, b: Any, path: str = "") -> Optional[str]:
    """``where: a != b`` for the first place two JSON values differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                return f"{path}{'.' if path else ''}{key}: {'absent' if key not in a else 'present'} in record.json"
            found = first_difference(a[key], b[key], f"{path}{'.' if path else ''}{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} entries in record.json, {len(b)} in the checkpoint"
        return next((d for d in (first_difference(x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(a, b))) if d),
                    None)
    if a != b:
        return f"{path}: {str(a)[:40]} in record.json, {str(b)[:40]} in the checkpoint"
    return None


def _read_record(path: Path) -> tuple[Any, Optional[str]]:
    """The parsed ``record.json`` and None, or None and why it cannot be read."""
    if not _exists(path):
        return None, "is missing"
    try:
        return read_json(path), None
    except NotARecordFileError as error:  # a FIFO would hang the reader, a huge file fill its memory
        return None, str(error).removeprefix(f"{path} ")
    except (ValueError, UnicodeDecodeError):
        return None, "is not valid JSON (truncated or garbage)"
    except OSError as error:
        return None, f"cannot be read ({error.strerror or error})"


def _read_checkpoint(path: Path) -> tuple[Optional[dict], Optional[str]]:
    """The checkpoint (memory-mapped: its tensors are not read) and None, or None and why it cannot be used."""
    try:
        state = load_checkpoint(path, mmap=True)
    except NotARecordFileError as error:
        return None, f"checkpoint.pt {str(error).removeprefix(f'{path} ')}"
    except Exception as error:  # torch raises many types for a bad file; all mean the same here
        return None, ("checkpoint.pt holds objects that could run code" if "global" in str(error).lower()
                      else "checkpoint.pt cannot be read (truncated or not a checkpoint)")
    if not isinstance(state, dict) or not {"format", "identity", "record", "state"} <= set(state) \
            or not isinstance(state["record"], dict):
        return None, "checkpoint.pt was written by another record format"
    return state, None


def examine(folder: Path | str, identity: Optional[dict] = None) -> RunState:
    """What ``folder`` holds, trusting only what proves itself (see the module docstring).

    ``identity``: the run identity the folder is for (its data source is
    ignored); without it, the hash in the folder's name is checked.
    """
    folder = Path(folder)
    record_path, checkpoint_path = folder / RECORD_NAME, folder / CHECKPOINT_NAME
    if not _exists(folder) or not (_exists(checkpoint_path) or _exists(record_path)):
        return RunState(folder, MISSING)
    record, unreadable = _read_record(record_path)
    if _exists(checkpoint_path):
        return _with_checkpoint(folder, checkpoint_path, record, unreadable, identity)
    if unreadable:
        return RunState(folder, DAMAGED, reason=f"record.json {unreadable}; no checkpoint to rebuild it from",
                        damaged_files=(RECORD_NAME,))
    if not isinstance(record, dict):
        return RunState(folder, DAMAGED, reason=f"record.json is not a record ({str(record)[:40]}); no checkpoint "
                        "to rebuild it from", damaged_files=(RECORD_NAME,))
    if not record.get("completed"):
        if record.get("failure"):
            return RunState(folder, FAILED, reason=str(record["failure"]), epochs=len(record.get("epochs") or []))
        return RunState(folder, MISSING)  # an unfinished record without its checkpoint starts over
    problem = digest_problem(record)
    if problem is None:
        problem = _identity_problem(record.get("identity"), folder, identity) if "identity" in record or \
            _folder_hash(folder) or identity else None
    if problem:
        return RunState(folder, DAMAGED, reason=f"record.json {problem}; no checkpoint to check it against",
                        damaged_files=(RECORD_NAME,))
    return RunState(folder, STORED, record=record, epochs=len(record.get("epochs") or []))


def _with_checkpoint(folder: Path, checkpoint_path: Path, record: Any, unreadable: Optional[str],
                     identity: Optional[dict]) -> RunState:
    checkpoint, problem = _read_checkpoint(checkpoint_path)
    if problem is None:
        problem = _identity_problem(checkpoint["identity"], folder, identity)
        problem = problem and f"checkpoint.pt {problem}"
    if problem:
        return RunState(folder, DAMAGED, reason=problem, damaged_files=(CHECKPOINT_NAME, RECORD_NAME))
    inside = checkpoint["record"]
    if not inside.get("completed"):
        if isinstance(record, dict) and record.get("failure"):
            return RunState(folder, FAILED, reason=str(record["failure"]), epochs=len(inside.get("epochs") or []))
        return RunState(folder, PARTIAL, epochs=len(inside.get("epochs") or []))
    if unreadable:
        reason = f"record.json {unreadable}"
    elif not isinstance(record, dict):
        reason = f"record.json is not a record ({str(record)[:40]})"
    else:
        difference = first_difference(unsealed(record), inside)
        if difference is None:
            return RunState(folder, STORED, record=record, epochs=len(inside.get("epochs") or []),
                            sealed=digest_problem(record) is None)
        reason = f"record.json differs from its checkpoint ({difference})"
    return RunState(folder, REBUILDABLE, record=inside, reason=reason, epochs=len(inside.get("epochs") or []))


def stored_record(folder: Path | str, identity: Optional[dict] = None) -> Optional[dict]:
    """The folder's finished record when it proves itself (:func:`examine`), else None."""
    state = examine(folder, identity)
    return state.record if state.status == STORED else None


# -- repairing ---------------------------------------------------------------------

def settle(folder: Path | str, *, set_aside: bool = True, log: Optional[Callable[[str], None]] = print) -> RunState:
    """Make ``folder`` hold only what can be trusted, under its run lock, and say what was done:
    a record that is damaged beside a complete checkpoint is rebuilt from it;
    a trusted record without a valid digest is sealed; with ``set_aside``,
    damaged files are moved to ``damaged-<time>/`` in the folder, so the run
    is trained again.  A folder another process is writing is left alone.
    Returns the state afterwards."""
    state = examine(folder)
    repair = state.status == REBUILDABLE or (state.status == STORED and not state.sealed) or (
        state.status == DAMAGED and set_aside)
    if not repair:
        return state
    from .guard import RunLockedError, acquire_lock
    from .io import write_json

    try:
        lock = acquire_lock(state.folder)
    except (RunLockedError, OSError):
        return state  # being written (or not writable): its runner decides
    try:
        state = examine(folder)  # again, under the lock
        if state.status in (REBUILDABLE, STORED) and state.record is not None and not (
                state.status == STORED and state.sealed):
            write_json(state.folder / RECORD_NAME, seal(unsealed(state.record)))
            if log and state.status == REBUILDABLE:
                log(f"rebuilt {state.folder / RECORD_NAME} from its checkpoint ({state.reason})")
        elif state.status == DAMAGED and set_aside:
            aside = state.folder / time.strftime("damaged-%Y%m%dT%H%M%S")
            aside.mkdir(exist_ok=True)
            for name in state.damaged_files:
                if _exists(state.folder / name):
                    os.replace(state.folder / name, aside / name)
            if log:
                log(f"damaged {state.folder}: {state.reason}; moved to {aside.name}/, the run is trained again")
    finally:
        lock.close()
    return examine(folder)

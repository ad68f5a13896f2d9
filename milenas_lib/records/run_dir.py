"""One run directory, the same for the search and the training loop.

A run folder holds ``checkpoint.pt``, ``record.json`` and ``.lock``.  The
checkpoint is the single source of truth: it carries the whole record next
to the loop's state, and ``record.json`` is a view re-written from it after
each checkpoint, sealed with a digest of its content (records/trust.py: what
lets a record that outlives its checkpoint be checked).  A process killed after any file commit therefore resumes,
with the same command, to the record an uninterrupted run writes.

:class:`RunDir` does, in this order: refuse an ``--out`` that is a file or
not writable; create the folder (remembering whether this process did) and
take its lock; only then read what the folder holds and decide between a
fresh start, a resume, and a finished run.  On failure it removes only what
this process created, and only if it never wrote a record.  While it is
open, SIGINT and SIGTERM only raise a flag that the loop checks at its next
step boundary (:meth:`RunDir.interruption`).
"""
from __future__ import annotations

import errno
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Optional

import torch

from ..names import RECORD_NAME
from .errors import OneLine
from .guard import LOCK_NAME, acquire_lock, ensure_free_space, state_bytes
from .identity import RECORD_FORMAT, identity_differences
from .io import (NotARecordFileError, json_ready, load_checkpoint, read_json, remove_stale_temporaries, save_checkpoint,
                 write_json)
from .trust import CHECKPOINT_NAME, RECORD_NAME, digest_problem, seal

CHECKPOINT_NAME = "checkpoint.pt"
#: What an OSError's errno says about a folder that cannot be written, and the fix.
_NOT_WRITABLE = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                 errno.EROFS: "read-only file system", errno.ELOOP: "a symbolic-link loop"}


class OutDirError(OneLine, ValueError):
    """``--out`` cannot hold a run: it is a file, or not writable."""


class CorruptRunError(OneLine, ValueError):
    """``checkpoint.pt`` or ``record.json`` cannot be read as this kit's."""


class CheckpointMismatchError(OneLine, RuntimeError):
    """The folder holds a run of another configuration, data source or record format."""


class GPUOutOfMemoryError(OneLine, RuntimeError):
    """The run did not fit in GPU memory; the message says what to change."""


class NonFiniteError(OneLine, FloatingPointError):
    """The loss or the state became NaN or infinite; the run stopped."""


class RunInterrupted(Exception):
    """SIGINT or SIGTERM stopped the run at a step boundary, checkpoint written."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum  # what a shell reports for a process the signal ended: 130, 143


class RunDir:
    """Lock, resume, commit and fail for one run folder (use as a context manager).

    ``writer=False`` (processes other than rank 0 under torchrun) reads the
    folder but neither locks nor writes it.  ``oom_advice`` ends the message
    of :class:`GPUOutOfMemoryError` when CUDA runs out of memory inside.
    """

    def __init__(self, out_dir: Path | str, *, oom_advice: str, writer: bool = True) -> None:
        self.path = Path(out_dir)
        self.checkpoint_path, self.record_path = self.path / CHECKPOINT_NAME, self.path / RECORD_NAME
        self.oom_advice, self.writer = oom_advice, writer
        self.identity: Optional[dict] = None
        self.has_checkpoint = False
        self._created = self._wrote = False
        self._lock = None
        self._stored_checkpoint: Optional[dict] = None
        self._stored_record: Optional[dict] = None
        self._signal: Optional[int] = None
        self._previous_handlers: dict[int, Any] = {}
        self._last_commit = time.monotonic()

    # -- opening: out folder, lock, what the folder holds ---------------------

    def __enter__(self) -> "RunDir":
        try:
            if self.writer:
                self._create_and_lock()
            if self.checkpoint_path.exists():
                self._stored_checkpoint = self._read_checkpoint()
                self.has_checkpoint = True
            elif self.record_path.exists():
                self._stored_record = self._read_record()
        except BaseException as error:
            self.__exit__(type(error), error, error.__traceback__)
            raise
        self._catch_signals()
        return self

    def _create_and_lock(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise OutDirError(f"--out {self.path} is a file, not a folder; choose another --out directory")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.path.mkdir()
                self._created = True
            except FileExistsError:
                if not self.path.is_dir():
                    raise OutDirError(f"--out {self.path} is a file, not a folder; choose another --out "
                                      "directory") from None
            self._lock = acquire_lock(self.path)
            if not os.access(self.path, os.W_OK):
                raise PermissionError(errno.EACCES, "permission denied", str(self.path))
        except (FileExistsError, NotADirectoryError):
            raise OutDirError(f"--out {self.path} lies under a file, not a folder; choose another --out "
                              "directory") from None
        except OSError as error:  # PermissionError, or EROFS from a read-only mount
            if error.errno not in _NOT_WRITABLE:
                raise
            raise OutDirError(f"cannot write into --out {self.path} ({_NOT_WRITABLE[error.errno]}); choose a "
                              "writable --out directory (reproduce and the notebooks: --output-root / "
                              "output_root)") from None
        remove_stale_temporaries(self.path, (CHECKPOINT_NAME, RECORD_NAME))

    def _read_checkpoint(self) -> dict:
        fix = f"delete {self.checkpoint_path} to start this run over, or choose another --out directory"
        try:
            state = load_checkpoint(self.checkpoint_path)
        except NotARecordFileError as error:
            raise CorruptRunError(f"{error}; {fix}") from None
        except Exception as error:  # torch raises many types for a bad file; all mean the same here
            # The weights-only unpickler names the callable a planted pickle would have run.
            reason = "it holds objects that could run code" if "global" in str(error).lower() \
                else "truncated or not a checkpoint"
            raise CorruptRunError(f"{self.checkpoint_path} cannot be read ({reason}); {fix}") from None
        if not isinstance(state, dict) or not {"format", "identity", "record", "state"} <= set(state):
            found = state.get("format") if isinstance(state, dict) else None
            raise CheckpointMismatchError(
                f"{self.checkpoint_path} was written by another record format ({found!r}, this kit writes "
                f"{RECORD_FORMAT}); {fix}")
        return state

    def _read_record(self) -> dict:
        try:
            record = read_json(self.record_path)
        except NotARecordFileError as error:  # a FIFO would hang here, a huge file fill the memory
            raise CorruptRunError(f"{error}; delete it or choose another --out directory") from None
        except (ValueError, UnicodeDecodeError):
            record = None
        if not isinstance(record, dict) or "identity" not in record and "format" not in record:
            raise CorruptRunError(f"{self.record_path} is not a record of this kit (truncated or foreign); "
                                  f"delete it or choose another --out directory")
        problem = digest_problem(record) if record.get("completed") else None
        if problem:  # a finished record with nothing to vouch for it but itself (docs/RELIABILITY.md)
            raise CorruptRunError(f"{self.record_path} {problem}, and there is no checkpoint to check it against; "
                                  "delete it to run again, or choose another --out directory")
        return record

    # -- deciding: fresh, resume, finished -------------------------------------

    def resume(self, identity: dict) -> Optional[dict]:
        """What to continue from, for a run of ``identity``: ``None`` for a
        fresh start, else ``{"record": ..., "state": ...}`` (``state`` is None
        for a finished run whose checkpoint was deleted).  A folder holding a
        run of another identity is refused, naming the settings that differ."""
        self.identity = identity
        if self._stored_checkpoint is not None:
            self._check_identity(self._stored_checkpoint["identity"], self.checkpoint_path)
            return {"record": self._stored_checkpoint["record"], "state": self._stored_checkpoint["state"]}
        record = self._stored_record
        if record is None or not record.get("completed"):
            return None  # nothing to resume: an unfinished record without a checkpoint is started over
        self._check_identity(record.get("identity", {"format": record.get("format")}), self.record_path)
        return {"record": record, "state": None}

    def _check_identity(self, stored: Any, where: Path) -> None:
        assert self.identity is not None
        differences = identity_differences(stored, self.identity)
        if differences:
            raise CheckpointMismatchError(
                f"{where} belongs to a run of another configuration ({'; '.join(differences)}); run the same "
                f"settings to resume it, or choose another --out directory")

    # -- writing -----------------------------------------------------------------

    def commit(self, record: dict, state: Optional[dict]) -> None:
        """Write the checkpoint (record inside), then ``record.json`` from it
        (``state`` may be None where this process does not write)."""
        if not self.writer:
            return
        checkpoint = {"format": RECORD_FORMAT, "identity": self.identity, "record": json_ready(record),
                      "state": state}
        ensure_free_space(self.path, state_bytes(state))
        save_checkpoint(self.checkpoint_path, checkpoint)
        self._wrote = self.has_checkpoint = True
        write_json(self.record_path, seal(checkpoint["record"]))
        self._last_commit = time.monotonic()

    def publish(self, record: dict) -> None:
        """Re-write ``record.json`` from ``record`` where it differs (a kill may
        have come between the checkpoint and its record)."""
        if not self.writer:
            return
        view = seal(json_ready(record))
        try:
            if read_json(self.record_path) == view:
                return
        except (OSError, ValueError):
            pass
        write_json(self.record_path, view)
        self._wrote = True

    def fail(self, record: dict, what: str, advice: str) -> NonFiniteError:
        """Note a non-finite failure in ``record.json`` (the checkpoint, the
        last good state, stays as it is) and return the error to raise."""
        kept = (f"the last good checkpoint in {self.path} is kept, but resuming it repeats the failure"
                if self.has_checkpoint else "no checkpoint had been written yet")
        message = f"{what}; {kept}; {advice}"
        if self.writer:
            write_json(self.record_path, seal(json_ready({**record, "failure": message})))
            self._wrote = True
        return NonFiniteError(message)

    # -- interruptions and cadence -------------------------------------------

    def _catch_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.signal(signum, self._on_signal)
            self._previous_handlers[signum] = signal.SIG_DFL if previous is None else previous  # None: set in C

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._signal is not None:  # a second signal: stop now, the old way
            signal.signal(signum, self._previous_handlers.get(signum, signal.SIG_DFL))
            os.kill(os.getpid(), signum)
            return
        self._signal = signum

    @property
    def stop_requested(self) -> bool:
        return self._signal is not None

    def interruption(self, epoch: int, step: int) -> RunInterrupted:
        """The error to raise once the loop has committed its state at ``(epoch, step)``."""
        signum = self._signal or signal.SIGINT
        return RunInterrupted(f"interrupted at epoch {epoch} step {step}; run the same command to resume", signum)

    def checkpoint_due(self, every_minutes: Optional[float]) -> bool:
        """Whether ``every_minutes`` have passed since the last checkpoint (or the start)."""
        return every_minutes is not None and time.monotonic() - self._last_commit >= 60 * every_minutes

    # -- closing -----------------------------------------------------------------

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        if self._lock is not None:
            if exc_type is not None and self._created and not self._wrote:
                # Ours alone: the folder this process made, its lock, no record.
                (self.path / LOCK_NAME).unlink(missing_ok=True)
                remove_stale_temporaries(self.path, (CHECKPOINT_NAME, RECORD_NAME))
                try:
                    self.path.rmdir()
                except OSError:
                    pass  # someone else put a file there: leave it
            self._lock.close()
        if exc_type is not None and issubclass(exc_type, torch.cuda.OutOfMemoryError):
            raise GPUOutOfMemoryError(f"out of GPU memory {self.oom_advice}") from None

"""The executor's progress: one overall bar and one bar per running run, each
advanced by the epochs its ``record.json`` lists (terminal, JupyterLab, or
plain text under papermill: :mod:`milenas_lib.progress`)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from ..progress import tqdm
from .runs import RECORD_NAME, Run


class Progress:
    def __init__(self, total: int, done: int, enabled: bool, backend: str, workers: int) -> None:
        self.enabled = enabled
        self.overall = tqdm(total=total, initial=done, desc=f"runs ({backend}, {workers} workers)", position=0,
                            disable=not enabled, unit="run")
        self.bars: dict[Path, Any] = {}
        self._seen: dict[Path, float] = {}
        self._lines: dict[Path, int] = {}  # the terminal line of each running run's bar

    def grow(self, runs: Sequence[Run]) -> None:
        """Runs that joined the queue while it ran."""
        if runs:
            self.overall.total += len(runs)
            self.overall.refresh()

    def start(self, run: Run) -> None:
        taken = set(self._lines.values())
        self._lines[run.folder] = line = next(i for i in range(1, len(taken) + 2) if i not in taken)
        self.bars[run.folder] = tqdm(total=run.epochs, desc=run.label, leave=False, unit="epoch", position=line,
                                     disable=not self.enabled)

    def poll(self) -> None:
        for folder, bar in self.bars.items():
            path = Path(folder) / RECORD_NAME
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            if self._seen.get(folder) == mtime:
                continue
            self._seen[folder] = mtime
            try:
                epochs = len(json.loads(path.read_text()).get("epochs", []))
            except (OSError, json.JSONDecodeError):
                continue
            bar.update(max(0, min(epochs, bar.total) - bar.n))

    def finish(self, run: Run, seconds: float) -> None:
        bar = self.bars.pop(run.folder, None)
        self._lines.pop(run.folder, None)
        if bar is not None:
            bar.close()
        self.overall.update(1)
        if self.enabled:
            self.overall.write(f"done   {run.label}: {seconds:.0f} s -> {run.folder}")

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.overall.close()

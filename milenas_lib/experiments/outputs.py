"""What a notebook writes: figures, tables with their provenance, and the manifest the index is built from.

Every table gets a ``<name>.meta.json`` beside it with its provenance (code
version, libraries, machine, data source, configs, seeds, the runs it was
computed from); every figure and table is listed in
``results/<notebook>/manifest.json``, from which the runner builds the index
``results/README.md``.  Data source, n and provenance are inferred from the
records a figure or table was made from, search or training alike (the words
come from :mod:`.labels`).
"""
from __future__ import annotations

import errno
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import pandas as pd

from ..paper.labels import is_training, n_label, source_label
from ..paper.settings import record_key_and_label
from ..records.errors import OneLine
from ..records.io import write_json
from ..records.provenance import provenance, resolve_device
from .params import figures_dir, resolve_root, results_dir


# ---------------------------------------------------------------------------
# Provenance: where a table's numbers come from, run by run.

def _seeds(records: Sequence[dict]) -> list[int]:
    return sorted({r["seed"] for r in records})


_RUN_KEYS = {"search": ("setting", "method", "lam", "seed", "run_dir", "git_commit", "created", "device_name",
                        "data_source", "time_s"),
             "train": ("name", "seed", "run_dir", "git_commit", "created", "device_name", "data_source", "time_s",
                       "genotype_text", "search")}


def records_provenance(records: Sequence[dict], device: str = "auto") -> dict:
    """Provenance of a table computed from search or training records: this
    process's (code, libraries, machine) plus each run's own (its commit, data, time)."""
    kind = "train" if is_training(records) else "search"
    runs = [{key: r.get(key) for key in _RUN_KEYS[kind]} for r in records]
    configs: dict[str, dict] = {}
    for r in records:
        group = r.get("name", "?") if kind == "train" else record_key_and_label(r)[0]
        configs.setdefault(group, {k: v for k, v in r["config"].items() if k != "seed"})
    data = records[0].get("data_source") if records else None
    return {**provenance(resolve_device(device), data), "seeds": _seeds(records),
            f"{kind}_configs": configs, "runs": runs}


# ---------------------------------------------------------------------------
# A notebook's outputs.

class SavedPaths(list):
    """The files written; shows nothing as a cell's last value (a figure cell shows the figure only)."""

    def _ipython_display_(self) -> None:
        pass


class OutputsNotWritable(OneLine, OSError):
    """The results or figures folder cannot be written (read-only mount, permissions)."""


@contextmanager
def writable(folder: Path) -> Iterator[None]:
    """Writes into ``folder``; a folder that cannot be written is one line naming it and the fix."""
    try:
        yield
    except OSError as error:
        if error.errno not in (errno.EROFS, errno.EACCES, errno.EPERM) or isinstance(error, OutputsNotWritable):
            raise
        raise OutputsNotWritable(f"cannot write into {folder} ({os.strerror(error.errno).lower()}); pass "
                                 "output_root=<a writable folder> to the notebook (reproduce: --output-root DIR)"
                                 ) from None


class NotebookOutputs:
    """Saves a notebook's figures (PNG + PDF in ``figures/<preset>/``), tables (CSV
    with a ``.meta.json`` provenance file in ``results/<preset>/<notebook>/`` or
    ``results/<preset>/tables/``) and reports (Markdown + JSON in ``results/<preset>/``),
    and lists each in ``results/<preset>/<notebook>/manifest.json``.

    The manifest is replaced when the first figure or table is saved, not when
    the notebook starts: a notebook that fails before writing anything leaves
    the last good run's manifest (and so the index) as it was."""

    def __init__(self, notebook: str, preset: str, output_root: Optional[str | Path] = None,
                 parameters: Optional[dict] = None, device: str = "auto"):
        self.notebook, self.preset, self.device = notebook, preset, device
        self.root = resolve_root(output_root)
        self.results = results_dir(self.root, preset) / notebook
        self.figures = figures_dir(self.root, preset)
        self.tables = results_dir(self.root, preset) / "tables"
        self.manifest_path = self.results / "manifest.json"
        self.manifest = {"notebook": notebook, "preset": preset, "parameters": parameters or {},
                         "started": time.strftime("%Y-%m-%d %H:%M:%S"), "artifacts": []}

    def _register(self, kind: str, name: str, paths: list[Path], caption: str, data_source: str,
                  n: Optional[str]) -> None:
        entries = [a for a in self.manifest["artifacts"] if a["name"] != name or a["kind"] != kind]
        entries.append({"kind": kind, "name": name, "paths": [str(p.relative_to(self.root)) for p in paths],
                        "caption": caption, "data_source": data_source, "n": n, "preset": self.preset,
                        "notebook": self.notebook})
        self.manifest["artifacts"] = entries
        with writable(self.results):
            write_json(self.manifest_path, self.manifest)

    @staticmethod
    def _describe(records: Optional[Sequence[dict]], data_source: Optional[str], n: Optional[str]
                  ) -> tuple[str, Optional[str]]:
        if records is None:
            return data_source or "none (no data)", n
        return data_source or source_label(records), n or (n_label(records) if records else None)

    def save_figure(self, fig, name: str, caption: str, records: Optional[Sequence[dict]] = None,
                    data_source: Optional[str] = None, n: Optional[str] = None, dpi: int = 200) -> SavedPaths:
        """``figures/<name>.png`` and ``.pdf``; data source and n come from
        ``records`` unless given."""
        paths = [self.figures / f"{name}.png", self.figures / f"{name}.pdf"]
        with writable(self.figures):
            self.figures.mkdir(parents=True, exist_ok=True)
            fig.savefig(paths[0], dpi=dpi, bbox_inches="tight")
            fig.savefig(paths[1], bbox_inches="tight")
        self._register("figure", name, paths, caption, *self._describe(records, data_source, n))
        return SavedPaths(paths)

    def save_table(self, frame: pd.DataFrame, name: str, caption: str, records: Optional[Sequence[dict]] = None,
                   data_source: Optional[str] = None, n: Optional[str] = None, paper_table: bool = False,
                   **meta: Any) -> SavedPaths:
        """``<name>.csv`` (in ``results/tables/`` for the paper's tables, else in
        ``results/<notebook>/``) and ``<name>.meta.json`` with its provenance
        (that of ``records``, search or training, when given)."""
        data_source, n = self._describe(records, data_source, n)
        provenance_info = records_provenance(records or [], self.device)
        folder = self.tables if paper_table else self.results
        path, meta_path = folder / f"{name}.csv", folder / f"{name}.meta.json"
        with writable(folder):
            folder.mkdir(parents=True, exist_ok=True)
            frame.to_csv(path, index=False)
            write_json(meta_path, {"table": name, "caption": caption, "notebook": self.notebook,
                                   "preset": self.preset, "data_source": data_source, "n": n,
                                   "columns": list(frame.columns), "provenance": provenance_info, **meta})
        self._register("table", name, [path, meta_path], caption, data_source, n)
        return SavedPaths([path, meta_path])

    def save_report(self, name: str, markdown: str, data: dict, caption: str,
                    records: Optional[Sequence[dict]] = None) -> SavedPaths:
        """``results/<preset>/<name>.md`` (for readers) and ``<name>.json`` (``data`` with the
        provenance of ``records``): a notebook's answer, beside its tables."""
        folder = self.results.parent
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / f"{name}.md", folder / f"{name}.json"]
        paths[0].write_text(markdown)
        write_json(paths[1], {**data, "notebook": self.notebook, "preset": self.preset,
                              "provenance": records_provenance(records or [], self.device)})
        self._register("report", name, paths, caption, *self._describe(records, None, None))
        return SavedPaths(paths)

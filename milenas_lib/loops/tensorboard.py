"""TensorBoard event files of search runs, written from their record (the source of truth).

``python -m milenas_lib search --tensorboard DIR`` (and the notebooks' ``tensorboard``
parameter) write, per run, into ``DIR/<run name>/``: every epoch's curves (train and
search-val accuracy in %, the gap in points, losses, learning rates, τ of the Gumbel
methods, α entropy, the derived cell's conv count and size), the seconds of the α step,
the w step and the evaluation, and softmax(α) of the normal and the reduction cell as
heatmap images (rows: the 14 edges, columns: the 8 operations).  Everything comes from
the record's epoch entries, live through :class:`TensorBoardWriter` (the ``observe`` hook
of :func:`milenas_lib.loops.search.run_search`) or afterwards through
:func:`write_record_events`; a resumed run's folder is rewritten from its record, so
no epoch appears twice.  Needs the optional extra: ``pip install -e '.[tensorboard]'``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..space.operations import PRIMITIVES
from .searcher import EpochEvent, Event, Search

#: (tag, entry key, scale): the epoch curves, as the figures give them (accuracy in %, gap in points).
CURVES = (("accuracy/train", "train_acc", 100.0), ("accuracy/search_val", "val_acc", 100.0),
          ("accuracy/train_val_gap_pp", "gap", 100.0), ("loss/train", "train_loss", 1.0),
          ("loss/search_val", "val_loss", 1.0), ("schedule/w_lr", "w_lr", 1.0), ("schedule/alpha_lr", "alpha_lr", 1.0),
          ("schedule/tau", "tau", 1.0), ("time/alpha_step_s", "alpha_step_s", 1.0), ("time/w_step_s", "w_step_s", 1.0),
          ("time/eval_s", "eval_s", 1.0), ("cell/params_M", "params", 1e-6), ("cell/skip_connects", "skip_connects", 1.0))
PIXELS_PER_CELL = 12  # a 14 x 8 heatmap drawn 168 x 96 px: readable without zoom


class TensorBoardUnavailable(ImportError):
    """The ``tensorboard`` package is missing; the message says how to install it."""


def summary_writer_class() -> Any:
    """torch's SummaryWriter, or a one-line error when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise TensorBoardUnavailable("--tensorboard needs the tensorboard package: pip install -e '.[tensorboard]' "
                                     f"(or pip install tensorboard); {error}") from None
    return SummaryWriter


def alpha_heatmap(weights: Any) -> np.ndarray:
    """softmax(α) of one cell type (edges x operations) as a 3 x H x W uint8 viridis image,
    scaled to its own range so a short search's small moves show."""
    from matplotlib import colormaps

    values = np.asarray(weights, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    rgb = colormaps["viridis"](scaled)[..., :3]
    big = np.kron(rgb, np.ones((PIXELS_PER_CELL, PIXELS_PER_CELL, 1)))
    return (255 * big).round().astype(np.uint8).transpose(2, 0, 1)


def write_epoch(writer: Any, entry: dict) -> None:
    """One epoch entry of a search record as scalars and α heatmaps at step ``epoch + 1``."""
    step = int(entry["epoch"]) + 1
    for tag, key, scale in CURVES:
        value = entry.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            writer.add_scalar(tag, scale * value, step)
    for cell, entropy in (entry.get("entropy") or {}).items():
        writer.add_scalar(f"alpha/entropy_{cell}", entropy, step)
    for index, cell in enumerate(("normal", "reduce")):
        writer.add_scalar(f"cell/convs_{cell}", entry["convs"][index], step)
    for cell, weights in (entry.get("softmax") or {}).items():
        writer.add_image(f"alpha/softmax_{cell}", alpha_heatmap(weights), step)


def _fresh(folder: Path) -> Any:
    """A writer into ``folder`` after removing the event files an earlier (interrupted) call left."""
    for old in folder.glob("events.out.tfevents.*"):
        old.unlink()
    return summary_writer_class()(log_dir=str(folder))


def write_record_events(record: dict, folder: str | Path) -> Path:
    """Every epoch of a search ``record`` into ``folder`` (rewritten whole); returns the folder."""
    folder = Path(folder)
    writer = _fresh(folder)
    try:
        writer.add_text("run", _run_text(record), 0)
        for entry in record.get("epochs") or []:
            write_epoch(writer, entry)
    finally:
        writer.close()
    return folder


def _run_text(record: dict) -> str:
    config = record.get("config") or {}
    return (f"method {record.get('method')}, λ {record.get('lam')}, order {record.get('order')}, seed "
            f"{record.get('seed')}; C={config.get('C')}, {config.get('layers')} cells, batch "
            f"{config.get('batch_size')}, {config.get('epochs')} epochs; operations: {', '.join(PRIMITIVES)}")


class TensorBoardWriter:
    """``observe`` hook of ``run_search``: each closed epoch into ``folder`` as it happens
    (the epochs a resumed run had already done are written first, from its record)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.writer: Optional[Any] = None
        summary_writer_class()  # a missing package fails before the search starts, not at its first epoch

    def __call__(self, search: Search, event: Event) -> None:
        if not isinstance(event, EpochEvent) or not search.parallel.is_main:
            return
        if self.writer is None:
            self.writer = _fresh(self.folder)
            self.writer.add_text("run", _run_text(search.record), 0)
            for entry in search.record["epochs"]:
                if entry["epoch"] < event.epoch:  # done before this call (a resumed run)
                    write_epoch(self.writer, entry)
        write_epoch(self.writer, event.entry)
        self.writer.flush()

    def close(self, record: Optional[dict] = None) -> None:
        """Close the files; ``record``: the run's record, written whole when no epoch closed in
        this call (a run that was already finished is read back, not run)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        elif record is not None and record.get("epochs"):
            write_record_events(record, self.folder)

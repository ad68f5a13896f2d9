"""Where numbers come from, in words: the data, sizes and n of the runs a figure or table was made from.

Figure titles (:func:`figure_detail`), the index's data-source and n columns
(:func:`source_label`, :func:`n_label`) and the tables' data column
(:func:`train_data_label`) all describe records the same way, search or
training alike; nothing here reads or writes a file.
"""
from __future__ import annotations

from typing import Optional, Sequence

import pandas as pd

from .settings import record_key_and_label

_SOURCE_NAMES = {"torchvision-cifar10": "CIFAR-10", "cifar10-jpeg-archive": "CIFAR-10 (JPEG copy)",
                 "synthetic": "synthetic stand-in (NOT CIFAR-10)"}
NO_RUNS = "no runs (quoted values and sizes only)"


def is_training(records: Sequence[dict]) -> bool:
    return bool(records) and records[0].get("kind") == "train"


def data_label(record: dict) -> str:
    """A short data description of a search, e.g. 'CIFAR-10 (JPEG copy), 8 img/class per half'."""
    source = (record.get("data_source") or {}).get("source", "unknown data")
    name = _SOURCE_NAMES.get(source, source)
    per_class = record["config"].get("per_class")
    return f"{name}, {per_class} img/class per half" if per_class else f"{name}, 25k/25k split"


def train_data_label(record: dict) -> str:
    """The data a training record used, e.g. 'cifar10-jpeg-archive (500 train / 500 test images)'."""
    source = record.get("data_source") or {}
    detail = source.get("detail") or {}
    text = f"{source.get('source', 'unknown')} ({source.get('train_images', '?')} train / " \
           f"{source.get('test_images', '?')} test images)"
    return f"{text}; {detail['note']}" if source.get("source") == "imagefolder" and detail.get("note") else text


def setup_label(record: dict, preset: Optional[str] = None) -> str:
    """'preset smoke: C=4, 5 cells, batch 8, 2 epochs, 32 px' from a search record's config."""
    c = record["config"]
    preset = preset or record.get("preset", "?")
    return (f"preset {preset}: C={c['C']}, {c['layers']} cells, batch {c['batch_size']}, {c['epochs']} epochs, "
            f"{c.get('resolution', 32)} px")


def n_label(records: Sequence[dict]) -> str:
    """'n = 2 seeds per setting' (search) or '... per network' (training)."""
    groups = pd.Series([r.get("name") if is_training(records) else record_key_and_label(r)[0]
                        for r in records]).value_counts()
    if groups.empty:
        return "n = 0"
    low, high = int(groups.min()), int(groups.max())
    per = "network" if is_training(records) else "setting"
    return f"n = {low} seed{'s' if low > 1 else ''} per {per}" if low == high else f"n = {low}-{high} seeds"


def figure_detail(records: Sequence[dict], preset: Optional[str] = None) -> str:
    """The second title line of a figure: preset and sizes, data, n."""
    if not records:
        return f"preset {preset} · no runs" if preset else ""
    if is_training(records):
        c = records[0]["config"]
        return (f"preset {preset or records[0].get('preset', '?')}: {c['epochs']} epochs, {c['layers']} cells, "
                f"C={c['C']}, {c['resolution']} px · {train_data_label(records[0])} · {n_label(records)}")
    return f"{setup_label(records[0], preset)} · {data_label(records[0])} · {n_label(records)}"


def source_label(records: Sequence[dict]) -> str:
    """The data source of figures and tables made from ``records`` (search or training)."""
    if not records:
        return NO_RUNS
    return train_data_label(records[0]) if is_training(records) else data_label(records[0])

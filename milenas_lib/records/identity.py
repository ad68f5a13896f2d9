"""A run's identity: what a result depends on, defined once.

Two runs with equal identities compute the same result (bit for bit on the
CPU): the record format, the kind of run, the data source (official CIFAR-10,
the JPEG copy, synthetic images or an ImageFolder tree) and every setting the
config marks as changing the result (``config.setting``; device, threads,
paths, checkpoint cadence and micro-batches are not).  A training run's
genotype enters by value, not by the name or file it was given as.

The search and training loops store the identity in each checkpoint and
record and refuse to resume, or to overwrite a finished record, under another
one; the run store names its folders by :func:`identity_hash`.  No torch here:
importing this module is cheap.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Optional

from ..config import TrainConfig, result_settings

#: Version of the checkpoint and record layout; a change refuses older run folders.
RECORD_FORMAT = 2


def run_identity(config: Any, data_source: Optional[str], genotype: Optional[dict] = None) -> dict[str, Any]:
    """The identity of a search (``SearchConfig``) or training (``TrainConfig``) run.

    ``data_source`` is ``ImageSet.source`` (or the ImageFolder data's), e.g.
    ``"torchvision-cifar10"``, ``"cifar10-jpeg-archive"``, ``"synthetic"``;
    ``genotype`` is the resolved genotype's ``to_dict()`` for a training run.
    """
    settings = result_settings(config)
    if genotype is not None:
        settings["genotype"] = genotype
    kind = "train" if isinstance(config, TrainConfig) else "search"
    return {"format": RECORD_FORMAT, "kind": kind, "data_source": data_source, "settings": settings}


def identity_hash(identity: dict[str, Any]) -> str:
    """Eight hex digits naming an identity (for run-store folder names)."""
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def identity_differences(stored: Any, wanted: dict[str, Any]) -> list[str]:
    """``name: stored -> wanted`` for each part of two identities that differs
    (settings one by one), for a refusal that names what to change."""
    if not isinstance(stored, dict):
        return [f"identity: {stored!r} -> {wanted!r}"]
    if stored.get("format") != wanted.get("format"):
        return [f"record format: {stored.get('format')!r} -> {wanted.get('format')!r}"]
    changes = []
    for key in sorted(set(stored) | set(wanted)):
        old, new = stored.get(key), wanted.get(key)
        if key == "settings" and isinstance(old, dict) and isinstance(new, dict):
            changes += [_change(name, old.get(name), new.get(name)) for name in sorted(set(old) | set(new))
                        if old.get(name) != new.get(name)]
        elif old != new:
            changes.append(f"{'record format' if key == 'format' else key}: {old!r} -> {new!r}")
    return changes


def _change(name: str, old: Any, new: Any) -> str:
    if isinstance(old, dict) or isinstance(new, dict):  # a genotype: too long to print
        return f"{name} differs"
    return f"{name}: {old!r} -> {new!r}"

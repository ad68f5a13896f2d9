"""The names of choices that several layers share, in one leaf module.

It imports nothing (no torch, nothing of this kit), so ``config``, the
method registry, the update rules and the supernet can all read these tuples
without importing one another.  Each tuple lists its default first; adding a
value here is all the configuration needs to accept it (the code that acts
on the value lives with that code).
"""
from __future__ import annotations

from typing import Any, Sequence

#: MiLeNAS' ways to order one step (docs/PROTOCOL.md, "Update order"): both gradients at one
#: point (2 passes, the default), the authors' code (α first, 3 passes), Algorithm 1 (w first, 3 passes).
ORDERS: tuple[str, ...] = ("simultaneous", "alpha_then_w", "w_then_alpha")
#: How a hard Gumbel sample passes gradients to α (space/supernet.py
#: ArchWeights; docs/PROTOCOL.md), the default first.
GUMBEL_ESTIMATORS: tuple[str, ...] = ("sampled_only", "sampled_scalar", "straight_through")
#: Where a run may go: ``auto`` is CUDA when present.
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
#: The file a run folder keeps its record in (records/run_dir.py writes it).
RECORD_NAME = "record.json"


def unknown_name_message(kind: str, name: object, known: object) -> str:
    """The one wording for every unknown-name error: what was asked, what exists."""
    return f"unknown {kind} {name!r}; valid {kind}s are: {', '.join(map(str, known))}"


def check_choice(value: Any, name: str, valid: Sequence[Any], error: type[Exception] = ValueError) -> Any:
    """``value`` if it is one of ``valid``, else ``error`` in one line listing them: the kit's one
    choice check (config fields raise ConfigError, notebook parameters ParameterError)."""
    if value not in valid:
        raise error(unknown_name_message(name, value, valid))
    return value

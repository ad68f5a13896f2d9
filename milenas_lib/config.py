"""Typed, frozen configurations with named presets and checked overrides.

``search_config("paper", method="milenas", lam=1.0)`` gives the paper's search
protocol (GUIDE §1); ``"smoke"`` a CPU-minutes version of the same code path.
Overrides may not change a field's type (an int stays an int, a float accepts
an int) and unknown fields are refused with the list of valid ones.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, fields
from typing import Any, Optional

METHODS: tuple[str, ...] = (
    "single_level", "darts_1st", "darts_2nd", "milenas", "switch", "gdas", "milenas_gumbel",
)
ORDERS: tuple[str, ...] = ("simultaneous", "alpha_then_w")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
DATASETS: tuple[str, ...] = ("cifar10", "synthetic")


class ConfigError(ValueError):
    """A setting that cannot work; the message names it and the fix."""


def _choice(field_name: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ConfigError(f"unknown {field_name} {value!r}; valid {field_name}s are: {', '.join(valid)}")


def _positive(obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if value is not None and not value > 0:
            raise ConfigError(f"{name} must be positive, got {value!r}")


class FrozenConfig:
    """Shared behaviour of the frozen configs: typed overrides and plain dicts."""

    def override(self, **changes: Any):
        """A copy with ``changes`` applied; unknown names and type changes are refused."""
        hints = typing.get_type_hints(type(self))
        valid = {f.name for f in fields(self)}  # type: ignore[arg-type]
        for name, value in changes.items():
            if name not in valid:
                raise ConfigError(f"unknown setting {name!r}; valid settings are: {', '.join(sorted(valid))}")
            changes[name] = _coerce(name, value, hints[name])
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """Accept ``value`` for a field typed ``hint`` or explain why not."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        if not isinstance(value, (tuple, list)) or len(value) != len(args):
            raise ConfigError(f"setting {name!r} needs a tuple of {len(args)} values, got {value!r}")
        return tuple(_coerce(name, v, a) for v, a in zip(value, args))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (type(value) is not hint):
        raise ConfigError(f"setting {name!r} must be {hint.__name__}, got {type(value).__name__} {value!r}")
    return value


@dataclass(frozen=True)
class SearchConfig(FrozenConfig):
    """Everything that defines one architecture search (GUIDE §1-2)."""

    method: str = "milenas"
    lam: float = 1.0                    # λ of Eq. 5, on the validation term
    order: str = "simultaneous"         # MiLeNAS: 2 passes, or the authors' 3
    switch_epoch: int = 35              # `switch`: DARTS-2nd before, MiLeNAS after
    epochs: int = 50
    batch_size: int = 64
    C: int = 16
    layers: int = 8
    # w: SGD, cosine from w_lr to w_lr_min, gradient-norm clip on w only.
    w_lr: float = 0.025
    w_lr_min: float = 0.001
    w_momentum: float = 0.9
    w_weight_decay: float = 3e-4
    grad_clip: float = 5.0
    # α: Adam.
    alpha_lr: float = 3e-4
    alpha_betas: tuple[float, float] = (0.5, 0.999)
    alpha_weight_decay: float = 1e-3
    # Gumbel rules: τ from tau_max down to tau_min, reached at the last epoch.
    tau_max: float = 10.0
    tau_min: float = 0.1
    # Data: per_class limits each search half to that many images of each class.
    dataset: str = "cifar10"
    per_class: Optional[int] = None
    data_root: Optional[str] = None
    seed: int = 0
    device: str = "auto"
    num_threads: Optional[int] = None   # CPU threads; None keeps torch's choice
    checkpoint_every_steps: Optional[int] = None  # also always at each epoch end

    def __post_init__(self) -> None:
        _choice("method", self.method, METHODS)
        _choice("order", self.order, ORDERS)
        _choice("device", self.device, DEVICES)
        _choice("dataset", self.dataset, DATASETS)
        if not math.isfinite(self.lam) or self.lam < 0:
            raise ConfigError(f"λ (lam) must be a finite number >= 0, got {self.lam!r}")
        _positive(self, "epochs", "batch_size", "C", "layers", "w_lr", "alpha_lr", "grad_clip",
                  "tau_max", "tau_min", "per_class", "num_threads", "checkpoint_every_steps")
        if self.C % 2:
            raise ConfigError(f"C must be even (reduction cells halve channels in two), got {self.C}")
        if self.layers < 3:
            raise ConfigError(f"layers must be at least 3 (two reduction cells and a normal one), got {self.layers}")
        if self.w_lr_min < 0 or self.w_lr_min > self.w_lr:
            raise ConfigError(f"w_lr_min must lie in [0, w_lr={self.w_lr}], got {self.w_lr_min}")
        if self.tau_min > self.tau_max:
            raise ConfigError(f"tau_min ({self.tau_min}) must not exceed tau_max ({self.tau_max})")
        if self.method == "switch" and not 0 < self.switch_epoch < self.epochs:
            raise ConfigError(f"switch_epoch must lie in 1..epochs-1 = 1..{self.epochs - 1}, got {self.switch_epoch}")


def _paper_search(method: str) -> dict[str, Any]:
    # GDAS and MiLeNAS (Gumbel) follow the GDAS protocol (GUIDE §1).
    if method in ("gdas", "milenas_gumbel"):
        return {"batch_size": 128, "epochs": 250}
    return {}


SEARCH_PRESETS: dict[str, dict[str, Any]] = {
    # The paper: C=16, 8 cells, batch 64, 50 epochs, full 25k/25k split.
    "paper": {},
    # CPU minutes: a narrow, shallow supernet on a class-balanced CIFAR-10
    # subset; sized by measurement (docs/PERFORMANCE.md), same code path.
    "smoke": {"epochs": 2, "batch_size": 16, "C": 4, "layers": 5, "per_class": 16,
              "switch_epoch": 1, "num_threads": 1, "checkpoint_every_steps": 5},
}


def search_config(preset: str = "paper", **overrides: Any) -> SearchConfig:
    """The named preset for ``overrides['method']`` with ``overrides`` applied."""
    _choice("preset", preset, tuple(SEARCH_PRESETS))
    method = overrides.get("method", SearchConfig.method)
    base = SearchConfig(method=method) if method in METHODS else SearchConfig()
    settings = {**(_paper_search(method) if preset == "paper" else {}), **SEARCH_PRESETS[preset], **overrides}
    return base.override(**settings)

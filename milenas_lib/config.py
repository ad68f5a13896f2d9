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
    # NHWC tensors: oneDNN's depthwise and 1x1 convs run 2-3x faster on the CPU
    # in this layout (docs/PERFORMANCE.md); same maths, float round-off aside.
    channels_last: bool = True
    # bf16 autocast: off, because the eager supernet ran slower in bf16 than in
    # fp32 on an H200 (many tiny ops; issue 6's measurements).
    bf16: bool = False
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
    "smoke": {"epochs": 2, "batch_size": 8, "C": 4, "layers": 5, "per_class": 8,
              "switch_epoch": 1, "num_threads": 1, "checkpoint_every_steps": 5},
}


def search_config(preset: str = "paper", **overrides: Any) -> SearchConfig:
    """The named preset for ``overrides['method']`` with ``overrides`` applied."""
    _choice("preset", preset, tuple(SEARCH_PRESETS))
    method = overrides.get("method", SearchConfig.method)
    base = SearchConfig(method=method) if method in METHODS else SearchConfig()
    settings = {**(_paper_search(method) if preset == "paper" else {}), **SEARCH_PRESETS[preset], **overrides}
    return base.override(**settings)


# ---------------------------------------------------------------------------
# Evaluation: training a genotype's network from scratch (GUIDE §4).

TRAIN_DATASETS: tuple[str, ...] = ("cifar10", "imagenet", "synthetic")
LR_SCHEDULES: tuple[str, ...] = ("cosine", "step")
#: Data held as uint8 tensors at CIFAR-10's own 32x32 (the ImageFolder path rescales).
TENSOR_DATASETS: tuple[str, ...] = ("cifar10", "synthetic")


@dataclass(frozen=True)
class TrainConfig(FrozenConfig):
    """Everything that defines one evaluation run (GUIDE §4).

    The defaults are the paper's CIFAR-10 protocol; ``train_config("paper",
    dataset="imagenet")`` gives the ImageNet transfer protocol.  Batch sizes
    are global: under ``torchrun`` each of N processes takes ``1/N`` of every
    batch, so a run means the same optimisation on any number of devices.
    """

    genotype: str = "DARTS_V2"          # registered name, genotype JSON (inline or file), or a search record
    dataset: str = "cifar10"
    epochs: int = 600
    batch_size: int = 96                # global, over all processes
    micro_batches: int = 1              # per process: accumulate gradients over this many pieces (memory)
    C: int = 36
    layers: int = 20
    auxiliary: bool = True
    auxiliary_weight: float = 0.4
    # SGD with gradient-norm clip; the learning rate follows lr_schedule per epoch.
    learning_rate: float = 0.025        # GUIDE §4 and DARTS; the paper's §3.3 text says 0.03
    lr_schedule: str = "cosine"         # cosine: to lr_min over the epochs; step: ×lr_decay every lr_decay_epochs
    lr_min: float = 0.0
    lr_decay: float = 0.97
    lr_decay_epochs: int = 1
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    drop_path_prob: float = 0.2         # reached at the last epoch: drop_path_prob * epoch / epochs
    label_smoothing: float = 0.0
    cutout: int = 16                    # square side on CIFAR-10 tensors; 0 = off
    # ImageFolder (ImageNet) data: random-resized crop to `resolution`, flip,
    # colour jitter; evaluation resizes to eval_resize (None: resolution * 256/224)
    # and centre-crops `resolution`.
    resolution: int = 32
    eval_resize: Optional[int] = None
    color_jitter: float = 0.4           # brightness, contrast and saturation
    hue_jitter: float = 0.2             # DARTS' train_imagenet.py value; the GUIDE gives only 0.4
    workers: int = 4                    # DataLoader processes per training process (ImageFolder only)
    train_per_class: Optional[int] = None  # first N training images of each class; None = all
    test_per_class: Optional[int] = None   # first N test (val) images of each class; None = all
    eval_batch_size: int = 256
    data_root: Optional[str] = None
    seed: int = 0
    device: str = "auto"
    num_threads: Optional[int] = None
    # Accelerations, used on CUDA only (the CPU always runs plain float32).
    # Off by default: none has been measured on this network yet.
    bf16: bool = False                  # bf16 autocast for forward and loss
    channels_last: bool = False
    compile: bool = False               # torch.compile of the (DDP-wrapped) model
    sync_batchnorm: bool = False        # under DDP on CUDA: batch-norm statistics over the global batch

    def __post_init__(self) -> None:
        _choice("dataset", self.dataset, TRAIN_DATASETS)
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _choice("device", self.device, DEVICES)
        _positive(self, "epochs", "batch_size", "micro_batches", "C", "layers", "learning_rate", "grad_clip",
                  "lr_decay", "lr_decay_epochs", "resolution", "eval_resize", "train_per_class", "test_per_class",
                  "eval_batch_size", "num_threads")
        if self.C % 2:
            raise ConfigError(f"C must be even (the ImageNet stem starts with C/2 channels), got {self.C}")
        if self.layers < 3:
            raise ConfigError(f"layers must be at least 3 (two reduction cells and a normal one), got {self.layers}")
        if self.batch_size % self.micro_batches:
            raise ConfigError(f"batch_size {self.batch_size} must be divisible by micro_batches {self.micro_batches}")
        if not 0 <= self.lr_min <= self.learning_rate:
            raise ConfigError(f"lr_min must lie in [0, learning_rate={self.learning_rate}], got {self.lr_min}")
        if self.lr_decay > 1:
            raise ConfigError(f"lr_decay is a factor per step and must lie in (0, 1], got {self.lr_decay}")
        for name in ("drop_path_prob", "label_smoothing"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name} must lie in [0, 1), got {getattr(self, name)}")
        for name in ("auxiliary_weight", "momentum", "weight_decay", "cutout", "color_jitter", "workers"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.hue_jitter <= 0.5:
            raise ConfigError(f"hue_jitter must lie in [0, 0.5], got {self.hue_jitter}")
        if self.dataset in TENSOR_DATASETS and self.resolution != 32:
            raise ConfigError(f"{self.dataset} trains at its native 32x32 (resolution=32), got {self.resolution}; "
                              "for another resolution use dataset 'imagenet' on an ImageFolder tree")
        if self.compile and self.drop_path_prob > 0:
            # The ramp changes a Python float every epoch; torch.compile would
            # recompile each time and fall back to eager after a few epochs.
            raise ConfigError("compile=True needs drop_path_prob=0 (the drop-path ramp would recompile the "
                              "model every epoch); turn one of them off")


_IMAGENET_PAPER: dict[str, Any] = {
    "epochs": 250, "batch_size": 128, "C": 48, "layers": 14, "learning_rate": 0.1, "lr_schedule": "step",
    "lr_decay": 0.97, "lr_decay_epochs": 1, "weight_decay": 3e-5, "drop_path_prob": 0.0,
    "label_smoothing": 0.1, "cutout": 0, "resolution": 224,
}

#: preset -> dataset -> settings; "synthetic" (a test stand-in) uses the CIFAR-10 entries.
TRAIN_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # The paper's protocols (GUIDE §4): the TrainConfig defaults for CIFAR-10.
    "paper": {"cifar10": {}, "imagenet": _IMAGENET_PAPER},
    # CPU minutes with the same code path (auxiliary head, cutout, drop path,
    # cosine; or label smoothing, ×0.97, jitter): a narrow, shallow network
    # on a class-balanced subset (2,000 CIFAR-10 training images), evaluated
    # on 1,000 test images; about 4 minutes on one core.
    "smoke": {
        "cifar10": {"epochs": 4, "batch_size": 64, "C": 16, "layers": 8, "learning_rate": 0.05,
                    "train_per_class": 200, "test_per_class": 100, "eval_batch_size": 250, "num_threads": 1},
        # A plumbing check, not an accuracy claim: at 32 px the ImageNet stem
        # leaves 4x4 features.  Learning rate scaled with the batch (0.1 x 32/128).
        "imagenet": {**_IMAGENET_PAPER, "epochs": 2, "batch_size": 32, "learning_rate": 0.025, "C": 16, "layers": 5,
                     "auxiliary": False, "resolution": 32, "train_per_class": 64, "test_per_class": 20,
                     "eval_batch_size": 100, "workers": 1, "num_threads": 1},
    },
}


def train_config(preset: str = "paper", dataset: str = "cifar10", **overrides: Any) -> TrainConfig:
    """The named preset for ``dataset`` with ``overrides`` applied."""
    _choice("preset", preset, tuple(TRAIN_PRESETS))
    _choice("dataset", dataset, TRAIN_DATASETS)
    protocol = "imagenet" if dataset == "imagenet" else "cifar10"
    return TrainConfig(dataset=dataset).override(**{**TRAIN_PRESETS[preset][protocol], **overrides})

"""Typed, frozen configurations with named presets and checked overrides.

``search_config("paper", method="milenas", lam=1.0)`` gives the paper's search
protocol (docs/PROTOCOL.md, "Search"); ``"smoke"`` a CPU-minutes version of the same code path.
Overrides may not change a field's type (an int stays an int, a float accepts
an int) and unknown fields are refused with the list of valid ones.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Optional

from .names import DEVICES, GUMBEL_ESTIMATORS, ORDERS, check_choice, unknown_name_message
from .presets import PRESETS
from .registry import method_names

#: Every registered search method (registry.py), in registration order.
METHODS: tuple[str, ...] = method_names()
DATASETS: tuple[str, ...] = ("cifar10", "synthetic")
#: A search on the user's own images: ``imagefolder:PATH`` (resized to 32x32) or ``imagefolder:PATH@RES``.
IMAGEFOLDER_PREFIX = "imagefolder:"
DEFAULT_FOLDER_RESOLUTION = 32
#: Search image sides: CIFAR-10's 32 px, or 32 px shrunk 2x or 4x by area averaging.
SEARCH_RESOLUTIONS: tuple[int, ...] = (32, 16, 8)


class ConfigError(ValueError):
    """A setting that cannot work; the message names it and the fix."""


def imagefolder_source(dataset: str) -> Optional[tuple[str, int]]:
    """``(path, resolution)`` of an ``imagefolder:PATH[@RES]`` dataset, None for a named one.

    The resolution is part of the dataset's name, so it enters the run's
    identity with it (a field of its own would change every stored run's identity)."""
    if not dataset.startswith(IMAGEFOLDER_PREFIX):
        return None
    path, resolution = dataset[len(IMAGEFOLDER_PREFIX):], DEFAULT_FOLDER_RESOLUTION
    head, at, tail = path.rpartition("@")
    if at and tail.isdigit():
        path, resolution = head, int(tail)
    if not path:
        raise ConfigError(f"dataset {dataset!r} names no folder; write imagefolder:PATH or imagefolder:PATH@RES "
                          "(PATH/<class>/<image> files, RES the side in pixels, default 32)")
    if not 8 <= resolution <= 1024:
        raise ConfigError(f"dataset {dataset!r}: the resolution must lie in 8..1024 pixels, got {resolution}")
    return path, resolution


def _choice(field_name: str, value: str, valid: tuple[str, ...]) -> None:
    check_choice(value, field_name, valid, ConfigError)


def setting(default: Any, *, result: bool = True, protocol: bool = True, added: bool = False) -> Any:
    """A config field with its role marked once, as field metadata.

    ``result=False``: the setting changes only where, how fast or in how much
    memory a run goes, never a bit of its result (device, threads, paths,
    checkpoint cadence, micro-batches); a run may resume with another value.
    ``protocol=False``: the setting changes result bits but not which
    experiment it is (seed, genotype, numerics such as bf16 or channels_last).
    ``added=True``: a setting added after runs were stored; at its default it
    is left out of the run identity, so those runs keep their identity (and
    their run-store folder).
    The run identity (records/identity.py) and the tables' protocol label read
    these roles; nothing else lists settings by hand.
    """
    return field(default=default, metadata={"result": result, "protocol": protocol and result, "added": added})


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def result_settings(config: Any) -> dict[str, Any]:
    """Every setting that changes a run's result (all but ``result=False`` ones, and ``added`` ones
    at their default), JSON-ready."""
    return {f.name: _plain(getattr(config, f.name)) for f in fields(config) if f.metadata.get("result", True)
            and not (f.metadata.get("added") and getattr(config, f.name) == f.default)}


def protocol_settings(config: Any) -> dict[str, Any]:
    """The settings that define the experiment (the paper's protocol), JSON-ready."""
    return {f.name: _plain(getattr(config, f.name)) for f in fields(config) if f.metadata.get("protocol", True)}


def _positive(obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if value is not None and not value > 0:
            raise ConfigError(f"{name} must be positive, got {value!r}")


def _finite_and_seed(obj: Any) -> None:
    """A NaN or infinite number would train silently into NaN, and torch's
    generators take a 64-bit seed: refuse both by name before any work."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        if any(isinstance(v, float) and not math.isfinite(v) for v in (value if isinstance(value, tuple) else (value,))):
            raise ConfigError(f"{f.name} must be a finite number, got {value!r}")
    if not -2**63 <= obj.seed < 2**64:
        raise ConfigError(f"seed must fit in 64 bits (an integer in [-2**63, 2**64)), got {obj.seed}")


def _at_least_zero(obj: Any, *names: str) -> None:
    for name in names:
        if getattr(obj, name) < 0:
            raise ConfigError(f"{name} must be >= 0, got {getattr(obj, name)}")


class FrozenConfig:
    """Shared behaviour of the frozen configs: typed overrides and plain dicts."""

    def override(self, **changes: Any):
        """A copy with ``changes`` applied; unknown names and type changes are refused."""
        hints = typing.get_type_hints(type(self))
        valid = {f.name for f in fields(self)}  # type: ignore[arg-type]
        for name, value in changes.items():
            if name not in valid:
                raise ConfigError(unknown_name_message("setting", name, sorted(valid)))
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
    """Everything that defines one architecture search (docs/PROTOCOL.md, "Search")."""

    method: str = "milenas"
    lam: float = 1.0                    # λ of Eq. 5, on the validation term
    order: str = "simultaneous"         # MiLeNAS: 2 passes, or the authors' 3
    # `switch`: DARTS-2nd for this share of the epochs, then MiLeNAS (35 of the
    # paper's 50, §3.2); rounded half up, so 50, 200, 10, 2 epochs switch at 35, 140, 7, 1.
    switch_fraction: float = 0.7
    switch_epoch: Optional[int] = None  # an absolute first MiLeNAS epoch instead of the fraction
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
    # How unsampled ops enter ∇α (docs/PROTOCOL.md): sampled_only (the authors'
    # and GDAS' network), sampled_scalar (GDAS' NAS-Bench-201 form), both one op
    # per edge, or straight_through (all ops).
    gumbel_estimator: str = GUMBEL_ESTIMATORS[0]
    # Data: "cifar10", "synthetic" or "imagefolder:PATH[@RES]" (your own images,
    # resized to RES x RES, default 32); per_class limits each search half to
    # that many images of each class; resolution < 32 shrinks CIFAR-10's images
    # by area averaging (the medium preset's 16 px); an image folder's is the RES of
    # its name, any side from 8 to 1024 (this field then follows it).
    dataset: str = "cifar10"
    per_class: Optional[int] = None
    # Search-val images per class when they should differ from search-train's (None: per_class):
    # a small train half that single-level can overfit beside a val half large enough to
    # resolve 1 pp (the long preset).
    val_per_class: Optional[int] = setting(None, added=True)
    # Batch of the per-epoch search-val evaluation (None: batch_size); batch norm is in eval
    # mode there, so only the speed and the round-off change.
    eval_batch_size: Optional[int] = setting(None, protocol=False, added=True)
    resolution: int = 32
    data_root: Optional[str] = setting(None, result=False)
    seed: int = setting(0, protocol=False)
    device: str = setting("auto", result=False)
    num_threads: Optional[int] = setting(None, result=False)  # CPU threads; None keeps torch's choice
    # Per process: the forward runs on this many pieces of the batch, so batch
    # norm sees the samples that as many processes would (docs/SCALING.md).
    micro_batches: int = setting(1, result=False)
    # NHWC tensors: oneDNN's depthwise and 1x1 convs run 2-3x faster on the CPU
    # in this layout (docs/PERFORMANCE.md); same maths, float round-off aside.
    channels_last: bool = setting(True, protocol=False)
    # bf16 autocast: off, because the eager supernet ran slower in bf16 than in
    # fp32 on an H200 (many tiny ops; docs/PERFORMANCE.md).
    bf16: bool = setting(False, protocol=False)
    # Checkpoints: at each epoch end, and within an epoch every N steps and/or
    # every M minutes (so a scheduler's kill loses minutes, not an epoch).
    checkpoint_every_steps: Optional[int] = setting(None, result=False)
    checkpoint_every_minutes: Optional[float] = setting(10.0, result=False)

    def __post_init__(self) -> None:
        _choice("method", self.method, METHODS)
        _choice("order", self.order, ORDERS)
        _choice("gumbel_estimator", self.gumbel_estimator, GUMBEL_ESTIMATORS)
        _choice("device", self.device, DEVICES)
        if imagefolder_source(self.dataset) is None:
            _choice("dataset", self.dataset, DATASETS + (IMAGEFOLDER_PREFIX + "PATH",))
        if not math.isfinite(self.lam) or self.lam < 0:
            raise ConfigError(f"λ (lam) must be a finite number >= 0, got {self.lam!r}")
        _positive(self, "epochs", "batch_size", "C", "layers", "w_lr", "alpha_lr", "grad_clip", "micro_batches",
                  "tau_max", "tau_min", "per_class", "val_per_class", "eval_batch_size", "num_threads", "checkpoint_every_steps",
                  "checkpoint_every_minutes", "switch_epoch")
        _finite_and_seed(self)
        _at_least_zero(self, "w_momentum", "w_weight_decay", "alpha_weight_decay")
        if not all(0 <= beta < 1 for beta in self.alpha_betas):
            raise ConfigError(f"alpha_betas are Adam's decay rates and must lie in [0, 1), got {self.alpha_betas}")
        if self.batch_size % self.micro_batches:
            raise ConfigError(f"batch_size {self.batch_size} must be divisible by micro_batches {self.micro_batches}")
        if self.C % 2:
            raise ConfigError(f"C must be even (reduction cells halve channels in two), got {self.C}")
        if self.layers < 3:
            raise ConfigError(f"layers must be at least 3 (two reduction cells and a normal one), got {self.layers}")
        folder = imagefolder_source(self.dataset)
        if folder is not None:
            # An image folder is decoded at the @RES of its name: that is the side the search uses, and
            # the record's resolution says so (the preset's 32 or 16 px apply to CIFAR-10 only).
            object.__setattr__(self, "resolution", folder[1])
        elif self.resolution not in SEARCH_RESOLUTIONS:
            raise ConfigError(f"resolution must be one of {', '.join(map(str, SEARCH_RESOLUTIONS))} (a divisor of "
                              f"CIFAR-10's 32 px, by area averaging), got {self.resolution}")
        if self.w_lr_min < 0 or self.w_lr_min > self.w_lr:
            raise ConfigError(f"w_lr_min must lie in [0, w_lr={self.w_lr}], got {self.w_lr_min}")
        if self.tau_min > self.tau_max:
            raise ConfigError(f"tau_min ({self.tau_min}) must not exceed tau_max ({self.tau_max})")
        if not 0 < self.switch_fraction < 1:
            raise ConfigError(f"switch_fraction must lie strictly between 0 and 1, got {self.switch_fraction}")
        if self.method == "switch" and self.epochs < 2:
            raise ConfigError(f"switch runs two phases and needs at least 2 epochs, got epochs={self.epochs}")
        if self.method == "switch" and not 0 < self.switch_at < self.epochs:  # type: ignore[operator]
            given = (f"switch_epoch {self.switch_epoch}" if self.switch_epoch is not None
                     else f"switch_fraction {self.switch_fraction} of {self.epochs} epochs (epoch {self.switch_at})")
            raise ConfigError(f"the switch epoch must lie in 1..epochs-1 = 1..{self.epochs - 1} so both phases run, "
                              f"got {given}")

    @property
    def switch_at(self) -> Optional[int]:
        """The first MiLeNAS epoch of ``switch`` (None for other methods):
        ``switch_epoch`` when given, else ``switch_fraction`` of the epochs
        rounded half up (0.7: 50 → 35, 200 → 140, 10 → 7, the smoke preset's 2 → 1)."""
        if self.method != "switch":
            return None
        if self.switch_epoch is not None:
            return self.switch_epoch
        return math.floor(self.switch_fraction * self.epochs + 0.5)


def search_config(preset: str = "paper", **overrides: Any) -> SearchConfig:
    """The named preset (presets.py) for ``overrides['method']`` with ``overrides`` applied."""
    _choice("preset", preset, tuple(PRESETS))
    method = overrides.get("method", SearchConfig.method)
    base = SearchConfig(method=method) if method in METHODS else SearchConfig()
    settings = {**PRESETS[preset].search_settings(method), **overrides}
    folder = imagefolder_source(str(settings.get("dataset", "")))
    if folder is not None and "resolution" in overrides and overrides["resolution"] != folder[1]:
        raise ConfigError(f"an image folder is searched at the resolution its name gives (@{folder[1]}), not at "
                          f"resolution={overrides['resolution']}; write dataset imagefolder:{folder[0]}"
                          f"@{overrides['resolution']}")
    return base.override(**settings)


# ---------------------------------------------------------------------------
# Evaluation: training a genotype's network from scratch (docs/PROTOCOL.md, "Evaluation").

TRAIN_DATASETS: tuple[str, ...] = ("cifar10", "imagenet", "synthetic")
LR_SCHEDULES: tuple[str, ...] = ("cosine", "step")
#: Data held as uint8 tensors at CIFAR-10's own 32x32 (the ImageFolder path rescales).
TENSOR_DATASETS: tuple[str, ...] = ("cifar10", "synthetic")


@dataclass(frozen=True)
class TrainConfig(FrozenConfig):
    """Everything that defines one evaluation run (docs/PROTOCOL.md, "Evaluation").

    The defaults are the paper's CIFAR-10 protocol; ``train_config("paper",
    dataset="imagenet")`` gives the ImageNet transfer protocol.  Batch sizes
    are global: under ``torchrun`` each of N processes takes ``1/N`` of every
    batch, so a run means the same optimisation on any number of devices.
    """

    # A registered name, genotype JSON (inline or file), or a search record.
    genotype: str = setting("DARTS_V2", protocol=False)
    dataset: str = "cifar10"
    epochs: int = 600
    batch_size: int = 96                # global, over all processes
    micro_batches: int = setting(1, result=False)  # per process: accumulate gradients over pieces (memory)
    C: int = 36
    layers: int = 20
    auxiliary: bool = True
    auxiliary_weight: float = 0.4
    # SGD with gradient-norm clip; the learning rate follows lr_schedule per epoch.
    learning_rate: float = 0.025        # DARTS' value (docs/PROTOCOL.md); the paper's §3.3 text says 0.03
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
    hue_jitter: float = 0.2             # DARTS' train_imagenet.py value (brightness etc. 0.4; docs/PROTOCOL.md)
    workers: int = setting(4, result=False)  # DataLoader processes per training process (ImageFolder only)
    train_per_class: Optional[int] = None  # first N training images of each class; None = all
    test_per_class: Optional[int] = None   # first N test (val) images of each class; None = all
    eval_batch_size: int = setting(256, result=False)
    data_root: Optional[str] = setting(None, result=False)
    seed: int = setting(0, protocol=False)
    device: str = setting("auto", result=False)
    num_threads: Optional[int] = setting(None, result=False)
    checkpoint_every_minutes: Optional[float] = setting(10.0, result=False)  # within an epoch; also at each end
    # Accelerations, used on CUDA only (the CPU always runs plain float32).
    # Off by default: none has been measured on this network yet.
    bf16: bool = setting(False, protocol=False)  # bf16 autocast for forward and loss
    channels_last: bool = setting(False, protocol=False)
    compile: bool = setting(False, protocol=False)  # torch.compile of the (DDP-wrapped) model
    # Under DDP on CUDA: batch-norm statistics over the global batch.
    sync_batchnorm: bool = setting(False, result=False)

    def __post_init__(self) -> None:
        _choice("dataset", self.dataset, TRAIN_DATASETS)
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _choice("device", self.device, DEVICES)
        _positive(self, "epochs", "batch_size", "micro_batches", "C", "layers", "learning_rate", "grad_clip",
                  "lr_decay", "lr_decay_epochs", "resolution", "eval_resize", "train_per_class", "test_per_class",
                  "eval_batch_size", "num_threads", "checkpoint_every_minutes")
        _finite_and_seed(self)
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


def train_config(preset: str = "paper", dataset: str = "cifar10", **overrides: Any) -> TrainConfig:
    """The named preset (presets.py) for ``dataset`` with ``overrides`` applied; "synthetic"
    (a test stand-in) takes the CIFAR-10 protocol.  A search preset has no trainings and says so."""
    _choice("preset", preset, tuple(PRESETS))
    _choice("dataset", dataset, TRAIN_DATASETS)
    settings = PRESETS[preset].training_settings("imagenet" if dataset == "imagenet" else "cifar10")
    if settings is None:
        with_trainings = ", ".join(name for name, p in PRESETS.items() if p.trainings is not None)
        raise ConfigError(f"preset {preset!r} is a search preset and defines no trainings (docs/PROTOCOL.md, "
                          f"\"Presets\"); train with one of: {with_trainings}")
    return TrainConfig(dataset=dataset).override(**{**settings, **overrides})

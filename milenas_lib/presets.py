"""The named presets: one typed, frozen :class:`Preset` per name, holding everything the name means.

A preset is the same code at another size (docs/PROTOCOL.md, "Presets"): the search settings
(and a method's own protocol within it), the trainings per dataset (or none: a search preset
says so instead of borrowing another's), the notebooks' seeds and defaults, and the genotypes
its tables train.  ``milenas_lib.config`` builds configs from it; the CLI, the notebooks and
the plan read it; nothing else tests a preset's name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Optional

from .registry import get_method, method_names


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType({key: _frozen(value) if isinstance(value, Mapping) else value
                             for key, value in mapping.items()})


@dataclass(frozen=True)
class Preset:
    """What one preset name means, everywhere the kit reads it."""

    name: str
    #: One line for ``--help`` and the docs.
    summary: str
    #: SearchConfig fields over its defaults (the defaults are the paper's protocol).
    search: Mapping[str, Any]
    #: Seeds a notebook uses when its ``seeds`` parameter is None.
    seeds: tuple[int, ...]
    #: A method's own settings over ``search`` (method -> fields).
    method_search: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Take each method's paper protocol from the registry (GDAS' batch 128, 250 epochs, §3.3.1).
    registry_protocols: bool = False
    #: TrainConfig fields per protocol (``cifar10``, ``imagenet``); None: a search preset, no trainings.
    trainings: Optional[Mapping[str, Mapping[str, Any]]] = None
    #: What the notebooks train by default over ``trainings`` (their ``train_overrides=None``).
    notebook_trainings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Registered cells Table 1 (CIFAR-10) and Table 2 (ImageNet) train besides the searched one.
    table1_genotypes: tuple[str, ...] = ()
    table2_genotypes: tuple[str, ...] = ()
    #: Without an ImageNet folder, notebook 7 trains on CIFAR-10 JPEGs in ImageFolder layout
    #: (a plumbing stand-in) rather than leaving Table 2 to the quoted rows.
    imagenet_stand_in: bool = True
    #: Fig. 2's moving average (epochs) and notebook 8's measured states (start and end included).
    smoothing_window: int = 1
    trajectory_points: int = 3
    #: Notebook 10's defaults: re-judge the claims with Algorithm 1's order; run the α-frozen controls.
    claims_order_check: bool = True
    claims_controls: bool = False

    def __post_init__(self) -> None:
        for name in ("search", "method_search", "notebook_trainings"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        if self.trainings is not None:
            object.__setattr__(self, "trainings", _frozen(self.trainings))

    def method_protocol(self, method: str) -> dict[str, Any]:
        """``method``'s own settings on this preset (empty for most pairs); unknown methods have none."""
        if method not in method_names():
            return {}
        if self.registry_protocols:
            return dict(get_method(method).paper_overrides)
        return dict(self.method_search.get(method, {}))

    def search_settings(self, method: str) -> dict[str, Any]:
        """The SearchConfig fields this preset sets for ``method``."""
        return {**self.search, **self.method_protocol(method)}

    def training_settings(self, protocol: str) -> Optional[dict[str, Any]]:
        """The TrainConfig fields of ``protocol`` (``cifar10`` or ``imagenet``); None on a search preset."""
        return None if self.trainings is None else dict(self.trainings[protocol])

    def notebook_training(self, dataset: str) -> dict[str, Any]:
        """The notebooks' default training overrides for ``dataset``."""
        return dict(self.notebook_trainings.get(dataset, {}))


_IMAGENET_PAPER: dict[str, Any] = {
    "epochs": 250, "batch_size": 128, "C": 48, "layers": 14, "learning_rate": 0.1, "lr_schedule": "step",
    "lr_decay": 0.97, "lr_decay_epochs": 1, "weight_decay": 3e-5, "drop_path_prob": 0.0,
    "label_smoothing": 0.1, "cutout": 0, "resolution": 224,
}
_PAPER_TABLE1 = ("DARTS_V2", "MILENAS_2_34", "MILENAS_2_80", "MILENAS_2_50", "MILENAS_2_76")
_SMOKE_TABLES = ("DARTS_V2", "MILENAS_2_34")
#: On ``long`` the Gumbel rules run 5x the epochs: a path drawn anew each step needs thousands of steps.
_GUMBEL_LONG = {"epochs": 80, "alpha_lr": 6e-3}

PAPER = Preset(
    "paper", "the paper's protocols (GPU): C=16, 8 cells, batch 64, 50 epochs, the full 25k/25k split",
    search={}, seeds=(0, 1, 2, 3), registry_protocols=True,
    # The paper's evaluation protocols (docs/PROTOCOL.md, "Evaluation"): the TrainConfig defaults for CIFAR-10.
    trainings={"cifar10": {}, "imagenet": _IMAGENET_PAPER},
    table1_genotypes=_PAPER_TABLE1, table2_genotypes=("DARTS_V2", "MILENAS_2_34", "MILENAS_2_50"),
    imagenet_stand_in=False, smoothing_window=5,
    trajectory_points=11)  # every 5 epochs of the 50

SMOKE = Preset(
    "smoke", "CPU minutes, the same code path: a narrow, shallow supernet on a class-balanced subset",
    # Sized by measurement (docs/PERFORMANCE.md).  `switch` keeps its fraction: 0.7 x 2 epochs rounds
    # to 1, so epoch 0 runs DARTS-2nd and epoch 1 MiLeNAS (both phases).
    search={"epochs": 2, "batch_size": 8, "C": 4, "layers": 5, "per_class": 8, "num_threads": 1,
            "checkpoint_every_steps": 5},
    seeds=(0,),
    trainings={
        # Auxiliary head, cutout, drop path, cosine: a narrow network on 2,000 CIFAR-10 training
        # images, evaluated on 1,000 test images; about 4 minutes on one core.
        "cifar10": {"epochs": 4, "batch_size": 64, "C": 16, "layers": 8, "learning_rate": 0.05,
                    "train_per_class": 200, "test_per_class": 100, "eval_batch_size": 250, "num_threads": 1},
        # A plumbing check, not an accuracy claim: at 32 px the ImageNet stem leaves 4x4 features.
        # Learning rate scaled with the batch (0.1 x 32/128).
        "imagenet": {**_IMAGENET_PAPER, "epochs": 2, "batch_size": 32, "learning_rate": 0.025, "C": 16,
                     "layers": 5, "auxiliary": False, "resolution": 32, "train_per_class": 64,
                     "test_per_class": 20, "eval_batch_size": 100, "workers": 1, "num_threads": 1},
    },
    # The notebooks keep the network and shrink the data so Table 1's three networks fit in about
    # 2 minutes, with batch 16 so that 2 epochs are 62 steps (batch 64 leaves the networks at chance;
    # measured: 9 % -> 18 % test accuracy at the same cost).
    notebook_trainings={"cifar10": {"epochs": 2, "train_per_class": 50, "test_per_class": 50, "batch_size": 16}},
    table1_genotypes=_SMOKE_TABLES, table2_genotypes=_SMOKE_TABLES,
    trajectory_points=3)  # every epoch of the 2

MEDIUM = Preset(
    "medium", "one machine's CPU, a search preset: real CIFAR-10 at 16 px, C=8, 5 cells, 160 steps",
    # Real CIFAR-10 at 16 px (area-averaged), C=8, 5 cells, the paper's batch of 64 for every method,
    # 128 images per class per half (20 steps per epoch), 8 epochs.  With 160 steps instead of the
    # paper's 19,500, α's Adam rate is 10x the paper's (3e-3) so that α moves as far as it would in
    # about 1,600 paper steps; every method gets the same.  Sized by measurement so that the claims'
    # sweep (8 settings x 3 seeds) costs about 3 CPU-core-hours here.
    search={"epochs": 8, "batch_size": 64, "C": 8, "layers": 5, "per_class": 128, "resolution": 16,
            "alpha_lr": 3e-3, "num_threads": 1, "checkpoint_every_minutes": 2.0},
    seeds=(0, 1, 2),
    trajectory_points=5)  # every 2 epochs of the 8

LONG = Preset(
    "long", "one machine's CPU, a search preset long enough that α moves: 496 steps (Gumbel: 2,480)",
    # The medium supernet (C=8, 5 cells, 16 px) at batch 16, on a 500-image search-train half and a
    # 2,500-image search-val half (resolves about 1 pp); 16 epochs (496 steps) for the softmax rules,
    # 80 (2,480 steps) for the Gumbel rules, which train one sampled path per step.  α's Adam rate is
    # set so that rate x steps, the farthest Adam can move an α, equals the paper's protocol:
    # 3e-4 x 19,500 steps = 5.9 = 1.2e-2 x 496 (Gumbel: 3e-4 x 48,750 = 14.6 = 6e-3 x 2,480).
    # Measured: at medium's 3e-3, 186 steps left softmax(α)'s entropy within 0.4 % of uniform.
    search={"epochs": 16, "batch_size": 16, "C": 8, "layers": 5, "per_class": 50, "val_per_class": 250,
            "eval_batch_size": 250, "resolution": 16, "alpha_lr": 1.2e-2, "num_threads": 1,
            "checkpoint_every_minutes": 2.0},
    method_search={"gdas": _GUMBEL_LONG, "milenas_gumbel": _GUMBEL_LONG, "frozen_gumbel": _GUMBEL_LONG},
    seeds=(0, 1, 2, 3),
    trajectory_points=5,  # every 4 epochs of the 16
    # Its sweep spends the order check's time on the controls (docs/PROTOCOL.md, "Presets").
    claims_order_check=False, claims_controls=True)

#: Every preset by name, in the order the docs list them.
PRESETS: Mapping[str, Preset] = MappingProxyType({p.name: p for p in (PAPER, SMOKE, MEDIUM, LONG)})

"""Model-size figures in the DARTS convention (GUIDE §4).

* Parameters: every weight except the auxiliary head's (DARTS
  ``count_parameters_in_MB`` leaves out names containing "auxiliary").
* Mult-adds: convolution and linear layers only, batch 1, model in eval mode
  (so the auxiliary head does not run); pooling, BN, ReLU and additions are
  free.  A conv costs output elements x (in_channels / groups) x kernel area,
  so depthwise convs cost one kernel per output element.

The parameter counts reproduce DARTS exactly (DARTS_V2: 3,349,342 on
CIFAR-10, 4,718,752 on ImageNet).  The DARTS paper's 574M mult-adds for
DARTS_V2 on ImageNet is not reproduced by this convention, which gives 530M;
adding BN, ReLU and pooling reaches only about 541M.  DARTS never published its
counter, and others got the same shortfall (quark0/darts issue #46: 523M with
conv + linear, 545M with a counter that also counts BN and activations).

The summaries build the networks on the ``meta`` device: shapes propagate
without allocating or computing anything, which keeps the counts cheap enough
for the search loop to call every epoch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from ..space.genotype import Genotype
from ..space.operations import unknown_name_message
from .base import AuxiliaryHead, CellNetwork
from .cifar import NetworkCIFAR
from .imagenet import NetworkImageNet

CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


@dataclass(frozen=True)
class EvaluationSetting:
    """A network family and the size at which the paper reports it."""

    network: type[CellNetwork]
    C: int
    layers: int
    num_classes: int
    resolution: int


#: The evaluation networks of the paper (GUIDE §4).
EVALUATION_SETTINGS: dict[str, EvaluationSetting] = {
    "cifar10": EvaluationSetting(NetworkCIFAR, C=36, layers=20, num_classes=10, resolution=32),
    "imagenet": EvaluationSetting(NetworkImageNet, C=48, layers=14, num_classes=1000, resolution=224),
}


def count_params(model: nn.Module, include_aux: bool = False) -> int:
    """Number of parameters, without the auxiliary head unless ``include_aux``."""
    excluded = set()
    if not include_aux:
        excluded = {id(p) for m in model.modules() if isinstance(m, AuxiliaryHead) for p in m.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in excluded)


def count_mult_adds(model: nn.Module, input_size: tuple[int, ...]) -> int:
    """Mult-adds of conv and linear layers for one input of shape ``input_size``
    (without the batch dimension, e.g. ``(3, 224, 224)``), counted by forward
    hooks in eval mode.  The model's training flag is restored afterwards."""
    total = 0

    def count_conv(module: nn.Conv1d | nn.Conv2d | nn.Conv3d, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)

    def count_linear(module: nn.Linear, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        rows = output.numel() // module.out_features
        total += rows * module.in_features * module.out_features

    hooks = []
    for module in model.modules():
        if isinstance(module, CONV_TYPES):
            hooks.append(module.register_forward_hook(count_conv))
        elif isinstance(module, nn.Linear):
            hooks.append(module.register_forward_hook(count_linear))
    reference = next(model.parameters(), None)
    device = reference.device if reference is not None else torch.device("cpu")
    dtype = reference.dtype if reference is not None else torch.get_default_dtype()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_size), device=device, dtype=dtype))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return total


def _setting(dataset: str) -> EvaluationSetting:
    try:
        return EVALUATION_SETTINGS[dataset]
    except KeyError:
        raise ValueError(unknown_name_message("dataset", dataset, EVALUATION_SETTINGS)) from None


def network_summary(genotype: Genotype, dataset: str) -> dict[str, int]:
    """``{"params", "params_with_aux", "mult_adds"}`` of the paper's evaluation
    network for ``dataset`` ('cifar10': C=36, 20 cells, 32x32; 'imagenet':
    C=48, 14 cells, 224x224)."""
    setting = _setting(dataset)
    with torch.device("meta"):
        model = setting.network(setting.C, setting.num_classes, setting.layers, auxiliary=True, genotype=genotype)
    return {
        "params": count_params(model),
        "params_with_aux": count_params(model, include_aux=True),
        "mult_adds": count_mult_adds(model, (3, setting.resolution, setting.resolution)),
    }


def genotype_info(genotype: Genotype) -> dict:
    """A genotype with its text form, model-size bucket and both network summaries."""
    return {
        "genotype": genotype.to_dict(),
        "text": str(genotype),
        "convs": list(genotype.conv_counts),
        "cifar10": network_summary(genotype, "cifar10"),
        "imagenet": network_summary(genotype, "imagenet"),
    }


@lru_cache(maxsize=None)
def cifar_params(genotype: Genotype, C: int = 36, layers: int = 20) -> int:
    """Parameters (DARTS convention) of the CIFAR-10 network of ``genotype``;
    built on the meta device and cached, since the search loop asks every epoch."""
    with torch.device("meta"):
        model = NetworkCIFAR(C, 10, layers, auxiliary=False, genotype=genotype)
    return count_params(model)

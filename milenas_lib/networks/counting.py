"""Model-size figures in the DARTS convention (docs/PROTOCOL.md, "Evaluation").

* Parameters: every weight except the auxiliary head's (DARTS
  ``count_parameters_in_MB`` leaves out names containing "auxiliary").
* Mult-adds (convention ``conv_linear``, the default): convolution and linear
  layers only, batch 1, model in eval mode (so the auxiliary head does not
  run); pooling, BN, ReLU and additions are free.  A conv costs output
  elements x (in_channels / groups) x kernel area, so depthwise convs cost one
  kernel per output element.
* Convention ``all_layers`` adds one mult-add per output element of every
  BN, ReLU and node addition, the kernel area per output element of every
  pooling, and one per input element of the global pooling.

The parameter counts reproduce DARTS exactly (DARTS_V2: 3,349,342 on
CIFAR-10, 4,718,752 on ImageNet).  The DARTS paper's 574M mult-adds for
DARTS_V2 on ImageNet is reproduced by neither convention: ``conv_linear``
gives 529.9M, ``all_layers`` 542.3M, and no choice of layers, input size or
auxiliary head that was tried reaches 574M (docs/PROTOCOL.md).  DARTS never
published its counter, and others got the same shortfall (quark0/darts issue
#46: 523M with conv + linear, 545M with a counter that also counts BN and
activations).

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
from ..names import unknown_name_message
from .base import AuxiliaryHead, CellNetwork
from .cell import Cell
from .cifar import NetworkCIFAR
from .imagenet import NetworkImageNet

CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
POOL_TYPES = (nn.MaxPool2d, nn.AvgPool2d)
#: What a mult-add count includes; the first is the default (DARTS' convention; docs/PROTOCOL.md).
MULT_ADD_CONVENTIONS: tuple[str, ...] = ("conv_linear", "all_layers")


@dataclass(frozen=True)
class EvaluationSetting:
    """A network family and the size at which the paper reports it."""

    network: type[CellNetwork]
    C: int
    layers: int
    num_classes: int
    resolution: int


#: The evaluation networks of the paper (§3.3, Appendix B.1.1; docs/PROTOCOL.md, "Evaluation").
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


def count_mult_adds(model: nn.Module, input_size: tuple[int, ...], convention: str = "conv_linear") -> int:
    """Mult-adds for one input of shape ``input_size`` (without the batch
    dimension, e.g. ``(3, 224, 224)``), counted by forward hooks in eval mode:
    conv and linear layers (``conv_linear``), or also BN, ReLU, pooling and the
    cells' node additions (``all_layers``).  The model's training flag is
    restored afterwards."""
    if convention not in MULT_ADD_CONVENTIONS:
        raise ValueError(unknown_name_message("mult-add convention", convention, MULT_ADD_CONVENTIONS))
    total = 0

    def count_conv(module: nn.Conv1d | nn.Conv2d | nn.Conv3d, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)

    def count_linear(module: nn.Linear, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        rows = output.numel() // module.out_features
        total += rows * module.in_features * module.out_features

    def count_elements(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total  # BN, ReLU, and a cell's four node sums (one addition per element)
        total += output.numel()

    def count_pool(module: nn.MaxPool2d | nn.AvgPool2d, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        kernel = module.kernel_size
        total += output.numel() * (kernel * kernel if isinstance(kernel, int) else math.prod(kernel))

    def count_global_pool(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        total += inputs[0].numel()

    hooks = []
    for module in model.modules():
        if isinstance(module, CONV_TYPES):
            hooks.append(module.register_forward_hook(count_conv))
        elif isinstance(module, nn.Linear):
            hooks.append(module.register_forward_hook(count_linear))
        elif convention == "all_layers":
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, Cell)):
                hooks.append(module.register_forward_hook(count_elements))
            elif isinstance(module, POOL_TYPES):
                hooks.append(module.register_forward_hook(count_pool))
            elif isinstance(module, nn.AdaptiveAvgPool2d):
                hooks.append(module.register_forward_hook(count_global_pool))
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


#: How ``network_summary`` counts mult-adds (docs/PROTOCOL.md, "Mult-adds").
MULT_ADDS_CONVENTION = ("conv_linear: convolutions and the classifier (linear layer) only, batch 1, eval mode "
                        "without the auxiliary head, at 32x32 (cifar10) and 224x224 (imagenet)")


def genotype_info(genotype: Genotype) -> dict:
    """A genotype with its text form, model-size bucket and both network summaries."""
    return {
        "genotype": genotype.to_dict(),
        "mult_adds_convention": MULT_ADDS_CONVENTION,
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

"""Evaluation networks of the DARTS space (CIFAR-10 and ImageNet) and their size.

``NetworkCIFAR``/``NetworkImageNet`` build the discrete networks a genotype
describes; ``counting`` gives parameters and mult-adds in the DARTS convention.
"""
from .base import AuxiliaryHead, CellNetwork
from .cell import Cell, drop_path
from .cifar import AuxiliaryHeadCIFAR, NetworkCIFAR
from .counting import (
    EVALUATION_SETTINGS,
    cifar_params,
    count_mult_adds,
    count_params,
    genotype_info,
    network_summary,
)
from .imagenet import AuxiliaryHeadImageNet, NetworkImageNet

__all__ = [
    "AuxiliaryHead",
    "AuxiliaryHeadCIFAR",
    "AuxiliaryHeadImageNet",
    "Cell",
    "CellNetwork",
    "EVALUATION_SETTINGS",
    "NetworkCIFAR",
    "NetworkImageNet",
    "cifar_params",
    "count_mult_adds",
    "count_params",
    "drop_path",
    "genotype_info",
    "network_summary",
]

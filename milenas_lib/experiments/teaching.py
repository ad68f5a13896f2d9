"""Notebook 9 (teaching): the search space, the relaxation (Eq. 8) and the rules, shown on small values."""
from __future__ import annotations

import inspect
from typing import Sequence

import pandas as pd
import torch

from ..algorithms.methods import make_rule
from ..config import SearchConfig, search_config
from ..registry import METHOD_REGISTRY, W_GRADIENT
from ..space.operations import CONV_OPS, PRIMITIVES
from ..space.supernet import MixedOp, Supernet

_COMPUTES = {"none": "zero: the edge is absent", "max_pool_3x3": "3x3 max pooling",
             "avg_pool_3x3": "3x3 average pooling", "skip_connect": "identity (reduction: factorized 1x1 convs)",
             "sep_conv_3x3": "depthwise-separable 3x3 conv, twice", "sep_conv_5x5": "depthwise-separable 5x5 conv, twice",
             "dil_conv_3x3": "dilated (2) separable 3x3 conv", "dil_conv_5x5": "dilated (2) separable 5x5 conv"}


def relaxation_demo(alpha: Sequence[float] = (0.0, 0.5, 0.2, 1.5, 2.0, 1.0, 0.3, 0.1), C: int = 4,
                    seed: int = 0) -> dict:
    """Eq. 8 on one edge: softmax(α) weights and the mixed output Σ_k p_k o_k(x),
    checked against the supernet's own ``MixedOp``."""
    torch.manual_seed(seed)
    alpha_t = torch.tensor(alpha, dtype=torch.float32)
    weights = torch.softmax(alpha_t, dim=0)
    edge = MixedOp(C, stride=1).eval()
    x = torch.randn(1, C, 8, 8)
    with torch.no_grad():
        outputs = [op(x) for op in edge.ops]
        by_hand = sum(w * o for w, o in zip(weights, outputs))
        mixed = edge(x, weights)
    table = pd.DataFrame({"operation": PRIMITIVES, "alpha": alpha_t.tolist(), "softmax weight p_k": weights.tolist(),
                          "mean |o_k(x)|": [float(o.abs().mean()) for o in outputs]})
    return {"table": table, "max_difference": float((by_hand - mixed).abs().max())}


def operations_table() -> pd.DataFrame:
    """The eight candidate operations, in α's order, with what each computes."""
    return pd.DataFrame([{"α index": i, "operation": op, "computes": _COMPUTES[op], "conv op (model size)": op in CONV_OPS}
                         for i, op in enumerate(PRIMITIVES)])


def rules_table() -> pd.DataFrame:
    """The update rules of the method registry: which gradient moves α, which moves w, and the passes per step."""
    return pd.DataFrame([{"method": name, "α descends": method.alpha_gradient, "formulation": method.equation,
                          "w descends": W_GRADIENT, "passes per step": method.passes_text}
                         for name, method in METHOD_REGISTRY.items()])


def rule_source(method: str) -> str:
    """The source of a rule's ``step``: the equation as code (for reading in a notebook)."""
    return inspect.getsource(type(make_rule(SearchConfig(method=method))).step)


def supernet_summary(presets: Sequence[str] = ("paper", "smoke")) -> pd.DataFrame:
    """Size of the search supernet of each preset: weights w and architecture values α."""
    rows = []
    for preset in presets:
        config = search_config(preset)
        with torch.device("meta"):
            model = Supernet(config.C, config.layers)
        rows.append({"preset": preset, "C": config.C, "cells": config.layers,
                     "weights w": sum(p.numel() for p in model.weights()),
                     "α values": sum(a.numel() for a in model.alphas()), "batch": config.batch_size,
                     "epochs": config.epochs,
                     "search images per half": "25,000" if config.per_class is None else f"{10 * config.per_class}"})
    return pd.DataFrame(rows)

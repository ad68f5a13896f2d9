"""Update rules of the paper behind one interface (``step``, ``new_epoch``),
and the builders of the registered search methods (their names and facts:
:mod:`milenas_lib.registry`)."""
from __future__ import annotations

from .base import Batch, SearchContext, StepClock, StepStats, TrainPass, UpdateRule
from .hypergradient import darts_hypergradient, exact_hypergradient, gradient_agreement
from .methods import builds, make_rule
from .rules import mixed_level_gradient
from .sampling import GumbelArch, SoftmaxArch, gumbel_temperature, hard_gumbel_softmax

__all__ = ["Batch", "GumbelArch", "SearchContext", "SoftmaxArch", "StepClock", "StepStats", "TrainPass",
           "UpdateRule", "builds", "darts_hypergradient", "exact_hypergradient", "gradient_agreement",
           "gumbel_temperature", "hard_gumbel_softmax", "make_rule", "mixed_level_gradient"]

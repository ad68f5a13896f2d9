"""Update rules of the paper behind one interface (``step``, ``new_epoch``)."""
from .base import Batch, SearchContext, StepStats, UpdateRule
from .hypergradient import darts_hypergradient, exact_hypergradient, gradient_agreement
from .rules import RULES, make_rule, mixed_level_gradient
from .sampling import GumbelArch, SoftmaxArch, gumbel_temperature, hard_gumbel_softmax

__all__ = ["Batch", "GumbelArch", "RULES", "SearchContext", "SoftmaxArch", "StepStats", "UpdateRule",
           "darts_hypergradient", "exact_hypergradient", "gradient_agreement", "gumbel_temperature",
           "hard_gumbel_softmax", "make_rule", "mixed_level_gradient"]

"""Update rules of the paper behind one interface (``step``, ``new_epoch``),
and the registry of search methods that names them.

The names below load on first use (PEP 562), so that
``milenas_lib.config`` can read the torch-free registry in
:mod:`.methods` without importing torch.
"""
from __future__ import annotations

from ..lazy import lazy_exports

#: public name -> the module of this package that defines it
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("Batch", "SearchContext", "StepClock", "StepStats", "TrainPass", "UpdateRule"), "base"),
    **dict.fromkeys(("darts_hypergradient", "exact_hypergradient", "gradient_agreement"), "hypergradient"),
    **dict.fromkeys(("METHOD_REGISTRY", "Method", "UnknownMethodError", "get_method", "make_rule", "method_names",
                     "register_method"), "methods"),
    **dict.fromkeys(("mixed_level_gradient",), "rules"),
    **dict.fromkeys(("GumbelArch", "SoftmaxArch", "gumbel_temperature", "hard_gumbel_softmax"), "sampling"),
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

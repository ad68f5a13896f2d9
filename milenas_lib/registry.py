"""The registry of search methods: each method's name and the facts the kit reads about it.

Registering a method declares its name, whether it takes λ and an order, its
protocol on the ``paper`` preset, a display label, and its formula (the
α-gradient, where the paper states it, forward+backward passes per step).
``METHODS`` in :mod:`milenas_lib.config`, the CLI's choices, the benchmark,
notebook labels and the tests all read this table (timm's habit); the code
that runs a method is its builder in :mod:`milenas_lib.algorithms.methods`.
Adding a rule is therefore one :func:`register_method` call here and one
``@builds(name)`` builder there (a test fails when either is missing)::

    register_method("milenas", label="MiLeNAS", alpha_gradient="∇α L_tr + λ·∇α L_val", ...)

This module imports neither torch nor the rules, so ``config`` reads it
without importing the algorithms.  w always descends ``∇w L_tr(w, α)``
(:data:`W_GRADIENT`); only α's direction differs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Optional

from .names import unknown_name_message

#: The direction w descends in every rule (clipped SGD with momentum and weight decay).
W_GRADIENT = "∇w L_tr(w, α)"


class UnknownMethodError(ValueError):
    """A method name that is not registered; the message lists the valid ones."""


@dataclass(frozen=True)
class Method:
    """What the kit knows about one search method besides its code."""

    name: str
    label: str                                   # legend/table label, without λ
    alpha_gradient: str                          # the direction α descends
    equation: str                                # where the paper states it
    passes: int                                  # forward+backward passes per step, default settings
    passes_note: str = ""                        # how other settings change the count
    takes_lambda: bool = False                   # λ of Eq. 5 changes what it does
    has_order: bool = False                      # the ORDERS change its step
    phases: tuple[str, ...] = ()                 # methods it runs one after another
    moves_alpha: bool = True                     # False for the controls, whose α stays where it started
    paper_overrides: Mapping[str, Any] = field(default_factory=dict)  # the ``paper`` preset's protocol

    def __post_init__(self) -> None:
        missing = [name for name in ("name", "label", "alpha_gradient", "equation") if not getattr(self, name)]
        if missing:
            raise ValueError(f"method {self.name!r} must declare {', '.join(missing)}")
        if not isinstance(self.passes, int) or self.passes < 1:
            raise ValueError(f"method {self.name!r}: passes must be a positive int, got {self.passes!r}")
        unknown_phases = [p for p in self.phases if p not in _REGISTRY]
        if unknown_phases:
            raise ValueError(f"method {self.name!r}: phases {unknown_phases} are not registered (register them first)")
        object.__setattr__(self, "paper_overrides", MappingProxyType(dict(self.paper_overrides)))

    def label_for(self, lam: Optional[float] = None) -> str:
        """The label with λ for methods that take it, e.g. ``MiLeNAS λ = 0.1``."""
        if not self.takes_lambda or lam is None:
            return self.label
        if not math.isfinite(lam):
            raise ValueError(f"λ must be finite, got {lam!r}")
        return f"{self.label} λ = {lam:g}"

    @property
    def passes_text(self) -> str:
        """Passes per step as a table cell, e.g. ``2 (3 in the alpha_then_w order)``."""
        return f"{self.passes} ({self.passes_note})" if self.passes_note else str(self.passes)


_REGISTRY: dict[str, Method] = {}
#: name -> :class:`Method`, in registration order (read-only view).
METHOD_REGISTRY: Mapping[str, Method] = MappingProxyType(_REGISTRY)


def register_method(name: str, **facts: Any) -> Method:
    """Register ``name`` with the facts of :class:`Method`; a name may be registered once."""
    if name in _REGISTRY:
        raise ValueError(f"method {name!r} is registered twice")
    _REGISTRY[name] = Method(name=name, **facts)
    return _REGISTRY[name]


def method_names(*, takes_lambda: Optional[bool] = None, has_order: Optional[bool] = None) -> tuple[str, ...]:
    """The registered methods in registration order, all or those with the given flags."""
    return tuple(m.name for m in _REGISTRY.values()
                 if takes_lambda in (None, m.takes_lambda) and has_order in (None, m.has_order))


def get_method(name: str) -> Method:
    """The registered method ``name``; an unknown name fails listing the valid ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownMethodError(unknown_name_message("method", name, _REGISTRY)) from None


# ---------------------------------------------------------------------------
# The paper's methods (their builders: milenas_lib/algorithms/methods.py).

#: GDAS' search protocol, which MiLeNAS (Gumbel) follows too (§3.3.1).
GDAS_PROTOCOL: Mapping[str, Any] = MappingProxyType({"batch_size": 128, "epochs": 250})

register_method("single_level", label="single-level (λ = 0)", alpha_gradient="∇α L_tr(w, α)",
                equation="Eq. 3 (§2.1)", passes=1, passes_note="one train pass gives ∇w L_tr and ∇α L_tr")
register_method("darts_1st", label="1st-order DARTS", alpha_gradient="∇α L_val(w, α)",
                equation="Eq. 1-2 with w*(α) ≈ w", passes=2)
register_method("darts_2nd", label="bilevel (2nd-order DARTS)",
                alpha_gradient="∇α L_val(w', α) − ξ·(∇α L_tr(w⁺, α) − ∇α L_tr(w⁻, α)) / 2ε",
                equation="Eq. 6-7 (§2.2), one unrolled step", passes=5,
                passes_note="unroll, val at w', two finite-difference passes, w step")
register_method("milenas", label="MiLeNAS", alpha_gradient="∇α L_tr(w, α) + λ·∇α L_val(w, α)",
                equation="Eq. 4-5 (§2.1)", passes=2, passes_note="3 in the alpha_then_w and w_then_alpha orders",
                takes_lambda=True, has_order=True)
register_method("switch", label="bilevel, then MiLeNAS",
                alpha_gradient="darts_2nd's ∇α before the switch epoch, milenas' ∇α from it on",
                equation="§3.2 and Fig. 3a (35 of 50 epochs bilevel)", passes=5,
                passes_note="then MiLeNAS' 2 after the switch", takes_lambda=True, has_order=True,
                phases=("darts_2nd", "milenas"))
register_method("gdas", label="GDAS (bilevel, Gumbel)", alpha_gradient="∇α L_val(w, α) on hard Gumbel samples",
                equation="§3.3.1 (GDAS: Eq. 1-2 with Gumbel-softmax sampling)", passes=2,
                paper_overrides=GDAS_PROTOCOL)
register_method("milenas_gumbel", label="MiLeNAS (Gumbel)",
                alpha_gradient="∇α L_tr(w, α) + λ·∇α L_val(w, α) on hard Gumbel samples",
                equation="Eq. 5 with GDAS sampling (§3.3.1)", passes=2,
                passes_note="3 in the alpha_then_w and w_then_alpha orders", takes_lambda=True, has_order=True,
                paper_overrides=GDAS_PROTOCOL)


# ---------------------------------------------------------------------------
# Controls (not in the paper): α frozen at its initialisation, w trained as in every rule.

register_method("frozen_alpha", label="control: α frozen",
                alpha_gradient="none (∇α unused): α stays at its initialisation, softmax within 0.1 % of uniform",
                equation="control for Eq. 5 (§2.1): the same w step, no α step", passes=1,
                moves_alpha=False)
register_method("frozen_gumbel", label="control: α frozen, Gumbel",
                alpha_gradient="none (∇α unused): paths sampled from the frozen, near-uniform α",
                equation="control for §3.3.1: GDAS sampling, no α step", passes=1, paper_overrides=GDAS_PROTOCOL,
                moves_alpha=False)

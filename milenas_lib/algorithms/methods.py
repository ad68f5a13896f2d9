"""The registry of search methods: one registration per update rule.

Registering a method declares everything the rest of the kit reads about it:
its name, whether it takes λ and an order, its protocol on the ``paper``
preset, a display label, and its formula (the α-gradient, where the paper
states it, forward+backward passes per step).  ``METHODS`` in
:mod:`milenas_lib.config`, the CLI's choices, the benchmark, notebook labels
and the tests all read this table, so adding a rule is one
:func:`register_method` next to a builder (timm's habit)::

    @register_method("milenas", label="MiLeNAS", ...)
    def milenas(config):
        ...  # return the UpdateRule

This module imports nothing from torch, so ``import milenas_lib.config`` stays
light: each builder imports its rule classes when it runs.  w always descends
``∇w L_tr(w, α)`` (:data:`W_GRADIENT`); only α's direction differs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

if TYPE_CHECKING:
    from ..config import SearchConfig
    from .base import UpdateRule

    Builder = Callable[[SearchConfig], UpdateRule]

#: The direction w descends in every rule (clipped SGD with momentum and weight decay).
W_GRADIENT = "∇w L_tr(w, α)"
#: MiLeNAS' ways to order one step (docs/PROTOCOL.md, "Update order"): both gradients at one
#: point (2 passes, the default), the authors' code (α first, 3 passes), Algorithm 1 (w first, 3 passes).
ORDERS: tuple[str, ...] = ("simultaneous", "alpha_then_w", "w_then_alpha")


class UnknownMethodError(ValueError):
    """A method name that is not registered; the message lists the valid ones."""


@dataclass(frozen=True)
class Method:
    """What the kit knows about one search method besides its code."""

    name: str
    build: "Builder" = field(repr=False)
    label: str                                   # legend/table label, without λ
    alpha_gradient: str                          # the direction α descends
    equation: str                                # where the paper states it
    passes: int                                  # forward+backward passes per step, default settings
    passes_note: str = ""                        # how other settings change the count
    takes_lambda: bool = False                   # λ of Eq. 5 changes what it does
    has_order: bool = False                      # the ORDERS change its step
    phases: tuple[str, ...] = ()                 # methods it runs one after another
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


def register_method(name: str, **declared: Any) -> Callable[["Builder"], "Builder"]:
    """Register the decorated builder ``config -> UpdateRule`` under ``name``
    with the facts of :class:`Method`; a name may be registered once."""

    def register(build: "Builder") -> "Builder":
        if name in _REGISTRY:
            raise ValueError(f"method {name!r} is registered twice")
        _REGISTRY[name] = Method(name=name, build=build, **declared)
        return build

    return register


def method_names(*, takes_lambda: Optional[bool] = None, has_order: Optional[bool] = None) -> tuple[str, ...]:
    """The registered methods in registration order, all or those with the given flags."""
    return tuple(m.name for m in _REGISTRY.values()
                 if takes_lambda in (None, m.takes_lambda) and has_order in (None, m.has_order))


def get_method(name: str) -> Method:
    """The registered method ``name``; an unknown name fails listing the valid ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownMethodError(f"unknown method {name!r}; valid methods are: {', '.join(_REGISTRY)}") from None


def make_rule(config: "SearchConfig") -> "UpdateRule":
    """The update rule ``config.method`` names, built from ``config``."""
    return get_method(config.method).build(config)


# ---------------------------------------------------------------------------
# The paper's methods.  Builders import their rules when called (torch-free registry).

@register_method("single_level", label="single-level (λ = 0)", alpha_gradient="∇α L_tr(w, α)",
                 equation="Eq. 3 (§2.1)", passes=1,
                 passes_note="one train pass gives ∇w L_tr and ∇α L_tr")
def single_level(config: "SearchConfig") -> "UpdateRule":
    from .rules import SingleLevel
    return SingleLevel()


@register_method("darts_1st", label="1st-order DARTS", alpha_gradient="∇α L_val(w, α)",
                 equation="Eq. 1-2 with w*(α) ≈ w", passes=2)
def darts_1st(config: "SearchConfig") -> "UpdateRule":
    from .rules import FirstOrderBilevel
    return FirstOrderBilevel()


@register_method("darts_2nd", label="bilevel (2nd-order DARTS)",
                 alpha_gradient="∇α L_val(w', α) − ξ·(∇α L_tr(w⁺, α) − ∇α L_tr(w⁻, α)) / 2ε",
                 equation="Eq. 6-7 (§2.2), one unrolled step", passes=5,
                 passes_note="unroll, val at w', two finite-difference passes, w step")
def darts_2nd(config: "SearchConfig") -> "UpdateRule":
    from .rules import SecondOrderDarts
    return SecondOrderDarts()


@register_method("milenas", label="MiLeNAS", alpha_gradient="∇α L_tr(w, α) + λ·∇α L_val(w, α)",
                 equation="Eq. 4-5 (§2.1)", passes=2, passes_note="3 in the alpha_then_w and w_then_alpha orders",
                 takes_lambda=True, has_order=True)
def milenas(config: "SearchConfig") -> "UpdateRule":
    from .rules import MixedLevel
    return MixedLevel(config.lam, config.order)


@register_method("switch", label="bilevel, then MiLeNAS",
                 alpha_gradient="darts_2nd's ∇α before the switch epoch, milenas' ∇α from it on",
                 equation="§3.2 and Fig. 3a (35 of 50 epochs bilevel)", passes=5,
                 passes_note="then MiLeNAS' 2 after the switch", takes_lambda=True, has_order=True,
                 phases=("darts_2nd", "milenas"))
def switch(config: "SearchConfig") -> "UpdateRule":
    from .rules import Switch
    return Switch(darts_2nd(config), milenas(config), config.switch_at)


def _gumbel_sampler(config: "SearchConfig"):
    from .sampling import GumbelArch
    # The sampler's own stream, derived from the run seed, so that data order
    # and samples are independent and both restored on resume.
    return GumbelArch(config.tau_max, config.tau_min, seed=config.seed + 1_000_003,
                      estimator=config.gumbel_estimator)


#: GDAS' search protocol, which MiLeNAS (Gumbel) follows too (§3.3.1).
GDAS_PROTOCOL: Mapping[str, Any] = MappingProxyType({"batch_size": 128, "epochs": 250})


@register_method("gdas", label="GDAS (bilevel, Gumbel)", alpha_gradient="∇α L_val(w, α) on hard Gumbel samples",
                 equation="§3.3.1 (GDAS: Eq. 1-2 with Gumbel-softmax sampling)", passes=2,
                 paper_overrides=GDAS_PROTOCOL)
def gdas(config: "SearchConfig") -> "UpdateRule":
    from .rules import FirstOrderBilevel
    return FirstOrderBilevel(_gumbel_sampler(config), w_first=True, name="gdas")


@register_method("milenas_gumbel", label="MiLeNAS (Gumbel)",
                 alpha_gradient="∇α L_tr(w, α) + λ·∇α L_val(w, α) on hard Gumbel samples",
                 equation="Eq. 5 with GDAS sampling (§3.3.1)", passes=2,
                 passes_note="3 in the alpha_then_w and w_then_alpha orders", takes_lambda=True, has_order=True,
                 paper_overrides=GDAS_PROTOCOL)
def milenas_gumbel(config: "SearchConfig") -> "UpdateRule":
    from .rules import MixedLevel
    return MixedLevel(config.lam, config.order, _gumbel_sampler(config), name="milenas_gumbel")

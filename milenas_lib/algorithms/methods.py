"""The builder of each registered search method: ``config -> UpdateRule``.

A method's name and facts are registered in :mod:`milenas_lib.registry`
(torch-free, read by ``config``, the CLI, tables and labels); its builder is
here, one ``@builds(name)`` function per method, next to the rules it
builds.  :func:`make_rule` is what the search loop calls.
"""
from __future__ import annotations

from typing import Callable

from ..config import SearchConfig
from ..registry import METHOD_REGISTRY, get_method
from .base import UpdateRule
from .rules import FirstOrderBilevel, FrozenArchitecture, MixedLevel, SecondOrderDarts, SingleLevel, Switch
from .sampling import GumbelArch

Builder = Callable[[SearchConfig], UpdateRule]
_BUILDERS: dict[str, Builder] = {}


def builds(name: str) -> Callable[[Builder], Builder]:
    """Mark the decorated function as the builder of the registered method ``name`` (once)."""
    get_method(name)  # an unregistered name fails listing the registered ones

    def register(build: Builder) -> Builder:
        if name in _BUILDERS:
            raise ValueError(f"method {name!r} has two builders")
        _BUILDERS[name] = build
        return build

    return register


def make_rule(config: SearchConfig) -> UpdateRule:
    """The update rule ``config.method`` names, built from ``config``."""
    method = get_method(config.method)
    if method.name not in _BUILDERS:
        raise ValueError(f"method {method.name!r} is registered but has no @builds builder in "
                         f"milenas_lib/algorithms/methods.py")
    return _BUILDERS[method.name](config)


def unbuilt_methods() -> list[str]:
    """Registered methods without a builder (a test keeps this empty)."""
    return [name for name in METHOD_REGISTRY if name not in _BUILDERS]


# ---------------------------------------------------------------------------
# The paper's methods (their facts: milenas_lib/registry.py).

@builds("single_level")
def single_level(config: SearchConfig) -> UpdateRule:
    return SingleLevel()


@builds("darts_1st")
def darts_1st(config: SearchConfig) -> UpdateRule:
    return FirstOrderBilevel()


@builds("darts_2nd")
def darts_2nd(config: SearchConfig) -> UpdateRule:
    return SecondOrderDarts()


@builds("milenas")
def milenas(config: SearchConfig) -> UpdateRule:
    return MixedLevel(config.lam, config.order)


@builds("switch")
def switch(config: SearchConfig) -> UpdateRule:
    return Switch(darts_2nd(config), milenas(config), config.switch_at)


def _gumbel_sampler(config: SearchConfig) -> GumbelArch:
    # The sampler's own stream, derived from the run seed, so that data order
    # and samples are independent and both restored on resume.
    return GumbelArch(config.tau_max, config.tau_min, seed=config.seed + 1_000_003,
                      estimator=config.gumbel_estimator)


@builds("gdas")
def gdas(config: SearchConfig) -> UpdateRule:
    return FirstOrderBilevel(_gumbel_sampler(config), w_first=True, name="gdas")


@builds("milenas_gumbel")
def milenas_gumbel(config: SearchConfig) -> UpdateRule:
    return MixedLevel(config.lam, config.order, _gumbel_sampler(config), name="milenas_gumbel")


# ---------------------------------------------------------------------------
# Controls: the same search with α frozen (did the α optimizer matter?).

@builds("frozen_alpha")
def frozen_alpha(config: SearchConfig) -> UpdateRule:
    return FrozenArchitecture()


@builds("frozen_gumbel")
def frozen_gumbel(config: SearchConfig) -> UpdateRule:
    return FrozenArchitecture(_gumbel_sampler(config), name="frozen_gumbel")

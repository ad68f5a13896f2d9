"""Package attributes that load their module on first use (PEP 562).

A package whose ``__init__`` re-exports names from heavy modules (torch,
pandas) would import all of them with the package; ``lazy_exports`` lets the
light parts (the method registry that ``config`` reads, the settings that
``plots`` reads) be imported alone while ``from package import name`` keeps
working for every exported name.
"""
from __future__ import annotations

import sys
from importlib import import_module
from typing import Any, Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package``, where ``exports``
    maps each public name to the submodule (relative to ``package``) defining it::

        __getattr__, __dir__, __all__ = lazy_exports(__name__, {"make_rule": "methods"})
    """
    names = sorted(exports)

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{exports[name]}", package), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return names

    return __getattr__, __dir__, names

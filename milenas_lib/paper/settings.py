"""The paper's search settings: the curves of its figures (method, λ, legend label, colour).

A :class:`Setting` names one configuration of a search method (which method
and λ, as config overrides) and how its curve is drawn.  What a method is
(its name, whether it takes λ, its label) comes from the method registry
(:mod:`milenas_lib.algorithms.methods`); this module adds only the figures'
choices: which λ, which colour.  The settings of each figure follow the
paper's §3.2 (Fig. 2, Fig. 3) and §3.3.1 (Fig. 5).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from ..names import ORDERS
from ..registry import get_method, method_names


@dataclass(frozen=True)
class Setting:
    """One curve of a figure: a file-safe key, a legend label, config overrides."""

    key: str
    label: str
    overrides: dict = field(default_factory=dict)
    color: str = "black"
    marker: str = "o"
    linestyle: str = "-"

    @property
    def method(self) -> str:
        return self.overrides["method"]

    @property
    def order(self) -> str:
        return self.overrides.get("order", ORDERS[0])


def make_setting(key: str, method: str, lam: Optional[float] = None, color: str = "black", marker: str = "o",
                 linestyle: str = "-") -> Setting:
    """A setting of a registered ``method``; λ only for methods that take it (the registry says which)."""
    spec = get_method(method)
    if spec.takes_lambda:
        lam = 1.0 if lam is None else float(lam)
    elif lam is not None:
        raise ValueError(f"method {method!r} takes no λ, got lam={lam!r}")
    overrides = {"method": method, **({"lam": lam} if lam is not None else {})}
    return Setting(key, spec.label_for(lam), overrides, color, marker, linestyle)


# Okabe-Ito colours (colour-blind safe) plus distinct markers and dashes, so
# curves stay apart in grey-scale print.
SETTINGS: dict[str, Setting] = {s.key: s for s in (
    make_setting("single_level", "single_level", None, "#D55E00", "v", "-"),
    make_setting("milenas_lam0.1", "milenas", 0.1, "#E69F00", "s", "--"),
    make_setting("milenas_lam1", "milenas", 1.0, "#009E73", "o", "-"),
    make_setting("milenas_lam999", "milenas", 999.0, "#56B4E9", "D", "-."),
    make_setting("darts_2nd", "darts_2nd", None, "#0072B2", "^", ":"),
    make_setting("switch", "switch", 1.0, "#CC79A7", "P", "--"),
    make_setting("darts_1st", "darts_1st", None, "#999999", "x", ":"),
    make_setting("gdas", "gdas", None, "#0072B2", "^", ":"),
    make_setting("milenas_gumbel", "milenas_gumbel", 1.0, "#009E73", "o", "-"),
    # Controls: α frozen (softmax mixing, and Gumbel sampling from the frozen α).
    make_setting("frozen_alpha", "frozen_alpha", None, "#000000", "*", (0, (3, 1, 1, 1))),
    make_setting("frozen_gumbel", "frozen_gumbel", None, "#000000", "*", (0, (3, 1, 1, 1))),
)}
# MiLeNAS λ = 1 stepped in Algorithm 1's order (w first, then α at the new w): does a
# claim depend on the order (docs/PROTOCOL.md, "Update order")?
SETTINGS["milenas_lam1_w_first"] = Setting(
    "milenas_lam1_w_first", SETTINGS["milenas_lam1"].label + ", w first",
    {**SETTINGS["milenas_lam1"].overrides, "order": "w_then_alpha"}, "#009E73", "o", (0, (1, 1)))

#: The settings of each figure: Fig. 2 (the gap), Fig. 3 (accuracy and time, with
#: the bilevel → MiLeNAS switch) and Fig. 5 (the Gumbel variants).
FIG2_SETTINGS = ["single_level", "milenas_lam0.1", "milenas_lam1", "milenas_lam999", "darts_2nd"]
FIG3_SETTINGS = FIG2_SETTINGS + ["switch"]
FIG5_SETTINGS = ["gdas", "milenas_gumbel"]
#: Notebook 10: every setting a claim of §3 compares, and the update-order check.
CLAIM_SETTINGS = FIG3_SETTINGS + FIG5_SETTINGS
ORDER_CHECK_SETTING = "milenas_lam1_w_first"
#: The controls: each family's search with α frozen (softmax mixing; Gumbel sampling).
CONTROL_SETTINGS = ["frozen_alpha", "frozen_gumbel"]


def claim_settings(order_check: bool = True, controls: bool = False) -> list[str]:
    """The settings of the claims, with MiLeNAS λ = 1 in Algorithm 1's order when ``order_check``
    and the α-frozen controls when ``controls``."""
    return CLAIM_SETTINGS + ([ORDER_CHECK_SETTING] if order_check else []) + (CONTROL_SETTINGS if controls else [])


def setting(key: str | Setting) -> Setting:
    """A registered setting, or one :func:`setting_for` derived (its key says method, λ and order)."""
    if isinstance(key, Setting):
        return key
    if key in SETTINGS:
        return SETTINGS[key]
    derived = _parse_derived_key(key)
    if derived is None:
        raise KeyError(f"unknown setting {key!r}; known settings are: {', '.join(SETTINGS)}, or "
                       "<method>[_lam<λ>][_<order>] for any other")
    return derived


def _parse_derived_key(key: str) -> Optional[Setting]:
    """The setting a key of :func:`setting_for`'s form names, or None."""
    for method in sorted(method_names(), key=len, reverse=True):  # milenas_gumbel before milenas
        match = re.fullmatch(re.escape(method) + r"(?:_lam([0-9.eE+-]+))?(?:_(" + "|".join(ORDERS) + r"))?", key)
        if match is None:
            continue
        spec = get_method(method)
        if (match.group(1) is not None) != spec.takes_lambda or (match.group(2) and not spec.has_order):
            return None
        try:
            lam = float(match.group(1)) if match.group(1) is not None else 1.0
        except ValueError:
            return None
        derived = setting_for(method, lam, match.group(2) or ORDERS[0])
        return derived if derived.key == key else None
    return None


def label(key: str) -> str:
    """The legend label of a setting key (the key itself when it names no setting)."""
    try:
        return setting(key).label
    except KeyError:
        return key


def milenas_setting(lam: float) -> Setting:
    """The MiLeNAS setting for ``lam`` (a registered one when it exists)."""
    return setting_for("milenas", lam)


def setting_for(method: str, lam: Optional[float] = 1.0, order: Optional[str] = None) -> Setting:
    """The registered setting of ``method`` (at ``lam`` where the method takes λ, in
    ``order`` where its order matters; default: the config's), or a new one for a
    combination no figure uses, keyed ``<method>[_lam<λ>][_<order>]``."""
    spec = get_method(method)
    lam = (1.0 if lam is None else float(lam)) if spec.takes_lambda else None
    order = (order or ORDERS[0]) if spec.has_order else ORDERS[0]
    for registered in SETTINGS.values():
        if registered.method == method and registered.overrides.get("lam") == lam and registered.order == order:
            return registered
    key = method + (f"_lam{lam:g}" if lam is not None else "") + (f"_{order}" if order != ORDERS[0] else "")
    derived = make_setting(key, method, lam, "#009E73", "o", "-")
    if order == ORDERS[0]:
        return derived
    return Setting(key, f"{derived.label}, {order.replace('_', ' ')}", {**derived.overrides, "order": order},
                   derived.color, derived.marker, (0, (1, 1)))


def record_setting(record: Mapping[str, Any]) -> Setting:
    """The setting of a search record, derived from its method, λ and order (the record's
    own top-level fields, else its config): a record read from disk needs no store."""
    config = record.get("config") or {}
    method = record.get("method") or config["method"]
    return setting_for(method, record.get("lam", config.get("lam")), record.get("order", config.get("order")))


def record_key_and_label(record: Mapping[str, Any]) -> tuple[str, str]:
    """A record's setting key and legend label: the ones it carries (the run store adds the
    same ones :func:`record_setting` derives), else derived from its method, λ and order."""
    if record.get("setting"):
        return record["setting"], record.get("label") or label(record["setting"])
    derived = record_setting(record)
    return derived.key, derived.label

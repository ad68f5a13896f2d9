"""The paper's search settings: the curves of its figures (method, λ, legend label, colour).

A :class:`Setting` names one configuration of a search method (which method
and λ, as config overrides) and how its curve is drawn.  What a method is
(its name, whether it takes λ, its label) comes from the method registry
(:mod:`milenas_lib.algorithms.methods`); this module adds only the figures'
choices: which λ, which colour.  The settings of each figure follow the
paper's §3.2 (Fig. 2, Fig. 3) and §3.3.1 (Fig. 5).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..registry import get_method


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
    if isinstance(key, Setting):
        return key
    if key not in SETTINGS:
        raise KeyError(f"unknown setting {key!r}; known settings are: {', '.join(SETTINGS)}")
    return SETTINGS[key]


def label(key: str) -> str:
    """The legend label of a setting key (the key itself when it is not registered)."""
    return SETTINGS[key].label if key in SETTINGS else key


def milenas_setting(lam: float) -> Setting:
    """The MiLeNAS setting for ``lam`` (a registered one when it exists)."""
    return setting_for("milenas", lam)


def setting_for(method: str, lam: float = 1.0) -> Setting:
    """The registered setting of ``method`` (at ``lam`` where the method takes λ),
    or a new one for a λ no figure uses."""
    spec = get_method(method)
    for registered in SETTINGS.values():
        if registered.method == method and registered.overrides.get("lam") == (float(lam) if spec.takes_lambda else None):
            return registered
    return make_setting(f"{method}_lam{lam:g}" if spec.takes_lambda else method, method,
                        lam if spec.takes_lambda else None, "#009E73", "o", "-")

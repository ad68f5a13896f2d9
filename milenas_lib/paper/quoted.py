"""Every number quoted from the paper.

The quoted values are drawn beside ours in the figures and tables and always
marked as quoted; nothing here is computed (the figures' claims are checked
against our runs in :mod:`.figure_checks`, and judged with intervals in
:mod:`.claims`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

#: Fig. 5 (§3.4): search-val accuracy (%) after 250 epochs, and the evaluated CIFAR-10 test error (%).
PAPER_FIG5 = {"gdas": 65.79, "milenas_gumbel": 69.56}
PAPER_FIG5_ERRORS = {"gdas": 2.82, "milenas_gumbel": 2.57}
#: Table 1's MiLeNAS rows: (genotype, params M, test error %): Fig. 6's points are these architectures.
PAPER_MILENAS_ARCHS = [("MILENAS_2_76", 2.09, 2.76), ("MILENAS_2_50", 2.86, 2.50),
                       ("MILENAS_2_80", 2.87, 2.80), ("MILENAS_2_34", 3.87, 2.34)]
#: Fig. 6: the parameter range (M) where the evaluated accuracy peaks.
PAPER_BEST_RANGE_M = (3.5, 4.5)
#: Fig. 3b: MiLeNAS searches more than this many times faster than 2nd-order DARTS.
PAPER_SPEEDUP = 3.0

QUOTED_1, QUOTED_2 = "quoted (paper Table 1)", "quoted (paper Table 2)"


@dataclass(frozen=True)
class Quoted:
    """One row as printed in the paper (errors in %, params in millions)."""

    architecture: str
    error: Optional[float]
    error_std: Optional[float]
    params_m: Optional[float]
    search_cost: Optional[float]
    method: str
    note: str = ""
    top5: Optional[float] = None
    mult_adds_m: Optional[float] = None


#: Table 1 of the paper, CIFAR-10 test error (%).
PAPER_TABLE1: tuple[Quoted, ...] = (
    Quoted("DenseNet-BC", 3.46, None, 25.6, None, "manual"),
    Quoted("NASNet-A + cutout", 2.65, None, 3.3, 2000, "RL"),
    Quoted("BlockQNN", 3.54, None, 39.8, 96, "RL"),
    Quoted("AmoebaNet-B + cutout", 2.55, 0.05, 2.8, 3150, "evolution"),
    Quoted("Hierarchical evolution", 3.75, 0.12, 15.7, 300, "evolution"),
    Quoted("PNAS", 3.41, 0.09, 3.2, 225, "SMBO"),
    Quoted("ENAS + cutout", 2.89, None, 4.6, 0.5, "RL"),
    Quoted("DARTS (second order)", 2.76, 0.09, 3.3, 4, "gradient-based"),
    Quoted("SNAS (moderate)", 2.85, 0.02, 2.8, 1.5, "gradient-based"),
    Quoted("SNAS (aggressive)", 3.10, 0.04, 2.3, 1.5, "gradient-based"),
    Quoted("GDAS", 2.82, None, 2.5, 0.17, "gradient-based"),
    Quoted("MiLeNAS", 2.51, 0.11, 3.87, 0.3, "gradient-based", "best: 2.34"),
    Quoted("MiLeNAS", 2.80, 0.04, 2.87, 0.3, "gradient-based", "best: 2.72"),
    Quoted("MiLeNAS", 2.50, None, 2.86, 0.3, "gradient-based"),
    Quoted("MiLeNAS", 2.76, None, 2.09, 0.3, "gradient-based"),
)

#: Table 2 of the paper, ImageNet top-1 / top-5 error (%), mult-adds in millions.
PAPER_TABLE2: tuple[Quoted, ...] = (
    Quoted("Inception-v1", 30.2, None, 6.6, None, "manual", top5=10.1, mult_adds_m=1448),
    Quoted("MobileNet", 29.4, None, 4.2, None, "manual", top5=10.5, mult_adds_m=569),
    Quoted("ShuffleNet", 26.3, None, 5.0, None, "manual", "params printed as ~5", mult_adds_m=524),
    Quoted("NASNet-A", 26.0, None, 5.3, 2000, "RL", top5=8.4, mult_adds_m=564),
    Quoted("AmoebaNet-A", 25.5, None, 5.1, 3150, "evolution", top5=8.0, mult_adds_m=555),
    Quoted("AmoebaNet-C", 24.3, None, 6.4, 3150, "evolution", top5=7.6, mult_adds_m=570),
    Quoted("PNAS", 25.8, None, 5.1, 225, "SMBO", "search cost printed as ~225", top5=8.1, mult_adds_m=588),
    Quoted("DARTS", 26.7, None, 4.7, 1, "gradient-based", top5=8.7, mult_adds_m=574),
    Quoted("SNAS", 27.3, None, 4.2, 1.5, "gradient-based", top5=9.2, mult_adds_m=522),
    Quoted("GDAS", 27.5, None, 4.4, 0.17, "gradient-based", top5=9.1, mult_adds_m=497),
    Quoted("GDAS", 26.0, None, 5.3, 0.21, "gradient-based", top5=8.5, mult_adds_m=581),
    Quoted("MiLeNAS", 25.4, None, 4.9, 0.3, "gradient-based", top5=7.9, mult_adds_m=570),
    Quoted("MiLeNAS", 24.7, None, 5.3, 0.3, "gradient-based", top5=7.6, mult_adds_m=584),
)

#: Search cost (GPU-days) and method the paper gives for the registered
#: genotypes it evaluated (Table 1); used for our rows of those genotypes.
GENOTYPE_SEARCH: dict[str, tuple[Optional[float], str]] = {
    "DARTS_V1": (None, "gradient-based"),
    "DARTS_V2": (4, "gradient-based"),
    "MILENAS_2_34": (0.3, "gradient-based"),
    "MILENAS_2_50": (0.3, "gradient-based"),
    "MILENAS_2_80": (0.3, "gradient-based"),
    "MILENAS_2_76": (0.3, "gradient-based"),
    "MILENAS_GUMBEL": (None, "gradient-based"),
}

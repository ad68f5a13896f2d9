"""Every number quoted from the paper, and its claims checked on our runs.

The quoted values are drawn beside ours in the figures and tables and always
marked as quoted; nothing here is computed.  The claim checks read tidy frames
(:mod:`.frames`) and say, per claim, whether it holds on these runs, with the
evidence and the number of seeds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pandas as pd

from .frames import final_epoch, time_ratio
from .settings import label

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


# ---------------------------------------------------------------------------
# The paper's claims, checked on our numbers.

def _claim(claim: str, holds: Optional[bool], evidence: str, n: int) -> dict:
    verdict = "n/a" if holds is None else ("yes" if holds else "no")
    return {"paper's claim": claim, "holds here": verdict, "evidence (ours)": evidence, "n seeds": n}


def _final(epochs: pd.DataFrame, value: str) -> tuple[dict, dict, int]:
    """Last-epoch mean and std of ``value`` per setting, and the fewest seeds of any setting."""
    if epochs.empty:
        return {}, {}, 0
    final = final_epoch(epochs).groupby("setting", sort=False)[value].agg(["mean", "std", "count"])
    n = int(final["count"].min()) if len(final) else 0
    return final["mean"].to_dict(), final["std"].fillna(0.0).to_dict(), n


def fig2_claims(epochs: pd.DataFrame) -> pd.DataFrame:
    """Fig. 2's ordering claims (§3.2) on the final-epoch gap (mean over seeds)."""
    gap, _, n = _final(epochs, "gap")
    rows = []
    if gap:
        largest, smallest = max(gap, key=gap.get), min(gap, key=gap.get)
        listing = ", ".join(f"{label(k)}: {v:+.1f}" for k, v in gap.items())
        rows.append(_claim("single-level has the largest train-val gap", largest == "single_level",
                           f"largest: {label(largest)} (gaps in pp: {listing})", n))
        rows.append(_claim("bilevel (2nd-order DARTS) has the smallest gap", smallest == "darts_2nd",
                           f"smallest: {label(smallest)}", n))
    lams = [k for k in ("milenas_lam0.1", "milenas_lam1", "milenas_lam999") if k in gap]
    if len(lams) == 3:
        ordered = gap[lams[0]] >= gap[lams[1]] >= gap[lams[2]]
        rows.append(_claim("MiLeNAS gap shrinks as λ grows (0.1 > 1 > 999)", ordered,
                           " ≥ ".join(f"{gap[k]:+.1f}" for k in lams) + " pp", n))
    return pd.DataFrame(rows)


def fig3_claims(epochs: pd.DataFrame, times: pd.DataFrame) -> pd.DataFrame:
    """Fig. 3's claims (§3.2) on the final search-val accuracy and the search time."""
    acc, std, n = _final(epochs, "val_acc")
    rows = []
    if acc:
        lowest = min(acc, key=acc.get)
        rows.append(_claim("single-level reaches the lowest search-val accuracy", lowest == "single_level",
                           f"lowest: {label(lowest)} ({acc[lowest]:.1f}%)", n))
    if "darts_2nd" in acc:
        for key in ("milenas_lam1", "milenas_lam0.1"):
            if key in acc:
                rows.append(_claim(f"{label(key)} above bilevel", acc[key] > acc["darts_2nd"],
                                   f"{acc[key]:.1f}% vs {acc['darts_2nd']:.1f}%", n))
        if "milenas_lam999" in acc:
            spread = max(std.get("milenas_lam999", 0), std.get("darts_2nd", 0), 1.0)
            close = abs(acc["milenas_lam999"] - acc["darts_2nd"]) <= spread
            rows.append(_claim("MiLeNAS λ = 999 close to bilevel", close,
                               f"{acc['milenas_lam999']:.1f}% vs {acc['darts_2nd']:.1f}% "
                               f"(close: within max(std, 1 pp) = {spread:.1f} pp)", n))
        if "switch" in acc:
            rows.append(_claim("switching to MiLeNAS beats staying bilevel", acc["switch"] > acc["darts_2nd"],
                               f"{acc['switch']:.1f}% vs {acc['darts_2nd']:.1f}%", n))
    ratio = time_ratio(times)
    if ratio is not None:
        rows.append(_claim(f"MiLeNAS more than {PAPER_SPEEDUP:g}x faster than 2nd-order DARTS", ratio > PAPER_SPEEDUP,
                           f"2nd-order DARTS / MiLeNAS λ = 1 search time: {ratio:.2f}x", n))
    return pd.DataFrame(rows)


def fig5_claims(epochs: pd.DataFrame) -> pd.DataFrame:
    """Fig. 5's claim (§3.4): MiLeNAS (Gumbel) above GDAS in search-val accuracy."""
    acc, _, n = _final(epochs, "val_acc")
    if not {"gdas", "milenas_gumbel"} <= set(acc):
        return pd.DataFrame()
    return pd.DataFrame([_claim("MiLeNAS (Gumbel) reaches a higher search-val accuracy than GDAS "
                                f"(paper: {PAPER_FIG5['milenas_gumbel']}% vs {PAPER_FIG5['gdas']}%)",
                                acc["milenas_gumbel"] > acc["gdas"],
                                f"{acc['milenas_gumbel']:.1f}% vs {acc['gdas']:.1f}%", n)])

"""Each figure's claims checked on our runs: Fig. 2's gap ordering, Fig. 3's accuracy and speed, Fig. 5's Gumbel pair.

The checks read tidy frames (:mod:`.frames`) and say, per claim, whether it
holds on these runs at the last epoch (mean over seeds), with the evidence and
the number of seeds: a quick reading beside each figure (notebooks 2-4).
Notebook 10 judges the same claims with paired intervals (:mod:`.claims`).
"""
from __future__ import annotations

from typing import Optional

import pandas as pd

from .frames import final_epoch, time_ratio
from .quoted import PAPER_FIG5, PAPER_SPEEDUP
from .settings import label


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

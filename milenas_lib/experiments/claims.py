"""The paper's claims as measured effects with confidence intervals, and a verdict computed from them.

Each claim of §3 is split into comparisons between two settings' last-epoch
values.  Settings share their seeds (seed ``s`` gives every setting the same
data split and the same initial supernet), so a comparison is paired by seed:
``d_s = value(higher, s) - value(lower, s)``; its mean, standard deviation and
95 % Student-t interval over the seeds are the measured effect.  The verdict
follows from the interval alone:

* ``holds``: the interval lies on the side the paper states (above 0; for a
  speed-up, above the paper's factor; for "close", inside ± the stated margin);
* ``reversed``: it lies wholly on the other side (or wholly outside the margin);
* ``not resolved at this scale``: it covers the boundary.

A claim of several parts holds when every part holds, is reversed when any
part is reversed, and is not resolved otherwise.  Nothing here is written by
hand: change the runs and the verdicts change with them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Iterable, Mapping, Optional, Sequence

import pandas as pd

from .frames import final_epoch
from .outputs import figure_detail
from .settings import label

HOLDS, REVERSED, UNRESOLVED = "holds", "reversed", "not resolved at this scale"
#: Student-t 97.5 % quantiles for 1-10 degrees of freedom (two-sided 95 % interval).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)
#: "λ = 999 close to bilevel": the largest difference in search-val accuracy (pp) called close.
CLOSE_MARGIN_PP = 2.0
#: Fig. 3b: MiLeNAS searches more than this many times faster than 2nd-order DARTS.
SPEEDUP = 3.0


def t_quantile(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom (Cornish-Fisher beyond 10)."""
    if df < 1:
        return math.nan
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


@dataclass(frozen=True)
class Comparison:
    """One testable part of a claim: ``higher`` above ``lower`` in ``value``.

    ``higher`` may be several settings: their per-seed minimum ("the lowest of
    the others").  ``kind``: ``greater`` (d > 0), ``ratio`` (value(higher) /
    value(lower) > ``threshold``) or ``close`` (|d| < ``threshold``)."""

    claim: str
    part: str
    section: str
    words: str
    value: str
    higher: tuple[str, ...]
    lower: str
    kind: str = "greater"
    threshold: float = 0.0

    @property
    def statement(self) -> str:
        high = label(self.higher[0]) if len(self.higher) == 1 else "every other setting"
        what = {"gap": "train-val gap (pp)", "val_acc": "search-val accuracy (%)", "time_s": "search time"}[self.value]
        if self.kind == "ratio":
            return f"{what}: {high} / {label(self.lower)} > {self.threshold:g}"
        if self.kind == "close":
            return f"{what}: |{high} - {label(self.lower)}| < {self.threshold:g}"
        return f"{what}: {high} > {label(self.lower)}"


_GAP_ORDER = ("single_level", "milenas_lam0.1", "milenas_lam1", "milenas_lam999", "darts_2nd")
_FIG2 = "at the end of the search the train-val gap orders single-level > MiLeNAS (λ = 0.1, 1, 999) > bilevel"
_FIG3 = ("search-val accuracy: MiLeNAS λ = 1 and λ = 0.1 above bilevel; single-level lowest; "
         "λ = 999 close to bilevel")

#: The paper's claims 1-5 (§3.2, §3.4), part by part.
CLAIMS: tuple[Comparison, ...] = (
    *(Comparison("1", f"1{'abcd'[i]}", "Fig. 2 (§3.2)", _FIG2, "gap", (high,), low)
      for i, (high, low) in enumerate(zip(_GAP_ORDER, _GAP_ORDER[1:]))),
    Comparison("2", "2a", "Fig. 3a (§3.2)", _FIG3, "val_acc", ("milenas_lam1",), "darts_2nd"),
    Comparison("2", "2b", "Fig. 3a (§3.2)", _FIG3, "val_acc", ("milenas_lam0.1",), "darts_2nd"),
    Comparison("2", "2c", "Fig. 3a (§3.2)", _FIG3, "val_acc", _GAP_ORDER[1:], "single_level"),
    Comparison("2", "2d", "Fig. 3a (§3.2)", _FIG3, "val_acc", ("milenas_lam999",), "darts_2nd", "close",
               CLOSE_MARGIN_PP),
    Comparison("3", "3", "Fig. 3a (§3.2)", "the bilevel → MiLeNAS switch ends above pure bilevel", "val_acc",
               ("switch",), "darts_2nd"),
    Comparison("4", "4", "Fig. 3b (§3.2)", "MiLeNAS search is over 3× faster than 2nd-order DARTS", "time_s",
               ("darts_2nd",), "milenas_lam1", "ratio", SPEEDUP),
    Comparison("5", "5", "Fig. 5 (§3.4)", "MiLeNAS (Gumbel) reaches higher search-val accuracy than GDAS",
               "val_acc", ("milenas_gumbel",), "gdas"),
)


def final_values(epochs: pd.DataFrame, times: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """One row per run (setting, seed): last-epoch ``gap`` and ``val_acc`` and, from ``times``, ``time_s``."""
    final = final_epoch(epochs)[["setting", "seed", "gap", "val_acc"]]
    if times is not None and not times.empty:
        final = final.merge(times[["setting", "seed", "time_s"]], on=["setting", "seed"], how="outer")
    return final.reset_index(drop=True)


def _per_seed(finals: pd.DataFrame, comparison: Comparison) -> pd.Series:
    table = finals.pivot_table(index="seed", columns="setting", values=comparison.value)
    needed = [*comparison.higher, comparison.lower]
    if any(key not in table for key in needed):
        return pd.Series(dtype=float)
    table = table[needed].dropna()
    high = table[list(comparison.higher)].min(axis=1)
    if comparison.kind == "ratio":
        return high / table[comparison.lower]
    return high - table[comparison.lower]


def _verdict(low: float, high: float, comparison: Comparison) -> str:
    if comparison.kind == "close":
        if -comparison.threshold < low and high < comparison.threshold:
            return HOLDS
        return REVERSED if low > comparison.threshold or high < -comparison.threshold else UNRESOLVED
    boundary = comparison.threshold
    return HOLDS if low > boundary else REVERSED if high < boundary else UNRESOLVED


def measure(finals: pd.DataFrame, comparison: Comparison) -> dict:
    """The comparison's effect over the seeds both sides ran: mean, std, 95 % t interval, n, verdict."""
    d = _per_seed(finals, comparison)
    n = len(d)
    row = {"claim": comparison.claim, "part": comparison.part, "section": comparison.section,
           "paper's words": comparison.words, "comparison": comparison.statement, "n": n}
    if n < 2:
        return {**row, "mean": math.nan, "std": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                "verdict": f"{UNRESOLVED} (n = {n} < 2)"}
    mean, std = float(d.mean()), float(d.std(ddof=1))
    half = t_quantile(n - 1) * std / math.sqrt(n)
    low, high = mean - half, mean + half
    return {**row, "mean": mean, "std": std, "ci_low": low, "ci_high": high,
            "verdict": _verdict(low, high, comparison)}


def claim_verdict(verdicts: Sequence[str]) -> str:
    """All parts hold: holds; any reversed: reversed; otherwise not resolved."""
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    return REVERSED if REVERSED in verdicts else UNRESOLVED


def evaluate_claims(finals: pd.DataFrame, claims: Iterable[Comparison] = CLAIMS) -> pd.DataFrame:
    """One row per part, with the verdict of its whole claim in ``claim verdict``."""
    frame = pd.DataFrame([measure(finals, c) for c in claims])
    if frame.empty:
        return frame
    frame["claim verdict"] = frame.groupby("claim")["verdict"].transform(lambda v: claim_verdict(list(v)))
    return frame


def substituted(claims: Iterable[Comparison], replacements: Mapping[str, str]) -> list[Comparison]:
    """The claims that involve a replaced setting, with the replacement in its place (e.g. MiLeNAS λ = 1
    in another update order)."""
    out = []
    for c in claims:
        if c.lower in replacements or any(h in replacements for h in c.higher):
            out.append(replace(c, higher=tuple(replacements.get(h, h) for h in c.higher),
                               lower=replacements.get(c.lower, c.lower)))
    return out


def order_sensitivity(finals: pd.DataFrame, replacements: Mapping[str, str],
                      claims: Iterable[Comparison] = CLAIMS) -> pd.DataFrame:
    """Each part that involves a replaced setting: its verdict as run, and with the replacement."""
    claims = list(claims)
    if not set(replacements.values()) <= set(finals["setting"]):
        return pd.DataFrame()  # the replacement was not run
    original = {c.part: c for c in claims}
    rows = []
    for swapped in substituted(claims, replacements):
        before, after = measure(finals, original[swapped.part]), measure(finals, swapped)
        rows.append({"part": swapped.part, "comparison": before["comparison"], "verdict": before["verdict"],
                     "with the replacement": after["comparison"], "its verdict": after["verdict"],
                     "same verdict": before["verdict"] == after["verdict"]})
    return pd.DataFrame(rows)


def _effect_text(row: pd.Series) -> str:
    if row["n"] < 2:
        return "n/a"
    if "/" in row["comparison"]:  # a ratio
        return f"{row['mean']:.2f}× ± {row['std']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
    return f"{row['mean']:+.2f} ± {row['std']:.2f} [{row['ci_low']:+.2f}, {row['ci_high']:+.2f}]"


def claims_table(claims: pd.DataFrame, preset: str) -> pd.DataFrame:
    """The reader's table: claim, paper's words, measured effect ± std [95 % CI], n, preset, verdict;
    a claim's words and overall verdict are shown on its first part's row only."""
    first = ~claims["claim"].duplicated()
    return pd.DataFrame({
        "claim": claims["part"], "paper": claims["section"].where(first, ""),
        "paper's words": claims["paper's words"].where(first, ""),
        "measured": claims["comparison"], "effect ± std [95% CI]": claims.apply(_effect_text, axis=1),
        "n": claims["n"], "preset": preset, "verdict": claims["verdict"],
        "claim verdict": claims["claim verdict"].where(first, ""),
    })


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (no extra dependency)."""
    cells = [[str(v).replace("|", "\\|") for v in row] for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


def claims_context(records: Sequence[dict], preset: str) -> dict[str, str]:
    """What the claims were measured on, for the report's head: preset and sizes, data, n, device,
    the searches' summed run time and the wall time from the first run's start to the last one's end."""
    if not records:
        return {"runs": "none"}
    starts = [datetime.fromisoformat(r["created"]).timestamp() for r in records if r.get("created")]
    ends = [datetime.fromisoformat(r["created"]).timestamp() + r["time_s"] for r in records if r.get("created")]
    wall = (max(ends) - min(starts)) / 3600 if starts else math.nan
    first = records[0]
    return {
        "what": figure_detail(records, preset),
        "resolution": f"{first['config'].get('resolution', 32)} px",
        "device": f"{first.get('device_name', '?')}, torch {first.get('torch', '?')}, one thread per run",
        "runs": f"{len(records)} searches, run {min(r['created'] for r in records)[:10]} "
                f"to {max(r['created'] for r in records)[:10]}",
        "search time": f"{sum(r['time_s'] for r in records) / 3600:.2f} CPU-core-hours in all; "
                       f"{wall:.2f} h wall clock from the first run's start to the last one's end",
    }


def claims_report(table: pd.DataFrame, order: pd.DataFrame, context: Mapping[str, str]) -> str:
    """``claims.md``: what was run (preset, data, device, n, wall time), the claims table, whether the update
    order matters, and how each verdict was computed."""
    lines = ["# The paper's claims, measured", ""]
    lines += [f"- **{key}**: {value}" for key, value in context.items()]
    lines += ["", markdown_table(table), ""]
    if not order.empty:
        lines += ["## Does the update order matter?", "",
                  "Each part that involves MiLeNAS λ = 1 (default order `simultaneous`), re-evaluated with "
                  "MiLeNAS λ = 1 in Algorithm 1's order (`w_then_alpha`: w first, then α at the new w), "
                  "same seeds (docs/PROTOCOL.md, \"Update order\"):", "", markdown_table(order), ""]
    lines += ["## How a verdict is computed", "",
              "Per seed, the difference between the two settings' last-epoch values (settings share their seeds: "
              "the same data split and initial supernet), then the mean, standard deviation and 95 % Student-t "
              "interval over the seeds. *holds*: the interval lies on the paper's side of the line (0; 3× for "
              f"the speed-up; inside ±{CLOSE_MARGIN_PP:g} pp for \"close\"); *reversed*: wholly on the other side; "
              "*not resolved at this scale*: it covers the line. A claim holds when all its parts hold. "
              "Computed by `milenas_lib/experiments/claims.py` from the committed records; "
              "`notebooks/10_claims` regenerates this file.", ""]
    return "\n".join(lines)

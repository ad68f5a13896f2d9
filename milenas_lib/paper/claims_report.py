"""What the claims report says: the step benchmark's pairs, the sweep's whole-run time beside it, the
claims table and ``claims.md`` (the verdicts themselves are computed in :mod:`.claims`; the benchmark's
file is read by :mod:`.speed_benchmark`)."""
from __future__ import annotations

import math
from datetime import datetime
from typing import Mapping, Optional, Sequence

import pandas as pd

from .claims import (ALPHA_MOVED_FRACTION, CONTROL_SETTINGS, LAST_EPOCHS, TRAINED_OVER_CHANCE, VERDICTS,
                     claim_verdict)
from .labels import figure_detail
from .stats import ALPHA, Sample

def mean_concurrency(records: Sequence[dict]) -> float:
    """How many searches ran at once, on average over each search's run time (1: each ran alone).  The
    records hold start and duration, not the machine's load, so this is the load the sweep itself made."""
    spans = [(datetime.fromisoformat(r["created"]).timestamp(), r["time_s"]) for r in records
             if r.get("created") and r.get("time_s")]
    if not spans:
        return math.nan
    shared = 0.0
    for start, length in spans:
        end = start + length
        shared += sum(max(0.0, min(end, s + d) - max(start, s)) for s, d in spans) / length
    return shared / len(spans)


def mean_load(records: Sequence[dict]) -> Optional[float]:
    """The machine's 1-minute load average at the end of each epoch, averaged over the records'
    epochs that hold one (records written since epochs carry ``load_1min``); None if none does."""
    loads = [e["load_1min"] for r in records for e in r.get("epochs") or []
             if isinstance(e, dict) and isinstance(e.get("load_1min"), (int, float))]
    return sum(loads) / len(loads) if loads else None


def sweep_speed(times: pd.DataFrame, records: Sequence[dict], slow: str = "darts_2nd",
                fast: str = "milenas_lam1") -> Optional[dict]:
    """The sweep's whole-run time ratio ``slow / fast`` paired by seed, with its raw 95 % interval: beside the
    step benchmark, never instead of it (it includes evaluation and the machine's load of the moment)."""
    if times is None or times.empty or not {slow, fast} <= set(times["setting"]):
        return None
    table = times.pivot_table(index="seed", columns="setting", values="time_s")[[slow, fast]].dropna()
    sample = Sample.of([math.log(r) for r in table[slow] / table[fast]])
    low, high = sample.interval(ALPHA)
    load, machine = mean_concurrency(records), mean_load(records)
    measured = ("the records hold no load average" if machine is None else
                f"the machine's 1-minute load average {machine:.1f} over their epochs")
    return {"comparison": f"whole search run: {slow} / {fast}", "n": sample.n, "ratio": math.exp(sample.mean),
            "ci_low": math.exp(low) if sample.n > 1 else math.nan,
            "ci_high": math.exp(high) if sample.n > 1 else math.nan,
            "per_seed": [{"seed": int(s), "value": float(v)} for s, v in (table[slow] / table[fast]).items()],
            "mean_concurrent_searches": load, "mean_load_1min": machine,
            "note": f"includes evaluation; machine load {load:.1f} searches at once on average ({measured})"}


def _effect_text(row: Mapping, low: str = "ci_low", high: str = "ci_high") -> str:
    if row["n"] < 2 or not math.isfinite(row[low]):
        return "n/a"
    if row["kind"] == "ratio":
        return f"{row['mean']:.2f}× [{row[low]:.2f}, {row[high]:.2f}]"
    return f"{row['mean']:+.2f} [{row[low]:+.2f}, {row[high]:+.2f}]"


def verdict_text(row: Mapping) -> str:
    """A part's verdict with its reason, e.g. "not measurable at this scale (gdas: val accuracy 11 % < 20 %)"."""
    return f"{row['verdict']} ({row['reason']})" if row.get("reason") else row["verdict"]


def claims_summary(claims: pd.DataFrame) -> pd.DataFrame:
    """One row per claim: its section, the paper's words, its verdict and how its parts combine."""
    first = claims.drop_duplicates("claim")
    return pd.DataFrame({"claim": first["claim"], "paper": first["section"], "paper's words": first["paper's words"],
                         "parts": [", ".join(claims.loc[claims["claim"] == c, "part"]) for c in first["claim"]],
                         "verdict": first["claim verdict"]})


def _p_text(p: float) -> str:
    """A p-value as the table prints it: below 1e-6 as a bound (digits beyond say nothing a reader
    can use, and a tail that underflows to 0 would read as certainty)."""
    return "< 1e-6" if p < 1e-6 else f"{p:.3g}"


def claims_table(claims: pd.DataFrame, preset: str) -> pd.DataFrame:
    """The parts table: measured comparison, mean [raw 95 % CI], mean [Holm-adjusted CI], std, n, per-seed
    values, p-values, preset and the verdict with its reason."""
    def seeds(row) -> str:
        return ", ".join(f"{p['value']:.2f}" for p in row["per_seed"])
    return pd.DataFrame({
        "part": claims["part"], "measured": claims["comparison"],
        "mean [95% CI]": claims.apply(_effect_text, axis=1),
        "mean [Holm CI]": claims.apply(lambda r: _effect_text(r, "ci_low_holm", "ci_high_holm"), axis=1),
        "std": claims["std"].map(lambda v: f"{v:.2f}" if math.isfinite(v) else "n/a"),
        "n": claims["n"], "per seed": claims.apply(seeds, axis=1),
        "p (Holm)": claims.apply(lambda r: f"{_p_text(r['p'])} ({_p_text(r['p_holm'])})" if math.isfinite(r["p_holm"])
                                 else (_p_text(r["p"]) if math.isfinite(r["p"]) else "n/a"), axis=1),
        "preset": preset, "verdict": claims.apply(verdict_text, axis=1),
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


def _speed_lines(speed: Optional[Mapping], sweep: Optional[Mapping]) -> list[str]:
    lines = ["## Claim 4: the speed-up", ""]
    if speed:
        lines.append(f"Part 4 is judged on the same-run, interleaved step benchmark (`scripts/bench_speedup.py`): "
                     f"{speed.get('what', '')}; {len(speed.get('pairs', []))} alternating pairs; CPU "
                     f"{speed.get('cpu', '?')}; load average at the start {speed.get('loadavg', '?')}.")
    else:
        lines.append("No step benchmark for this preset: run `scripts/bench_speedup.py --preset <preset>`.")
    if sweep:
        lines += ["", f"Beside it, not judged: the sweep's {sweep['comparison']} = {sweep['ratio']:.2f}× "
                      f"[{sweep['ci_low']:.2f}, {sweep['ci_high']:.2f}] (raw 95 %, n = {sweep['n']}); "
                      f"{sweep['note']}."]
    return lines + [""]


def _method_lines(margin: float) -> list[str]:
    margin_text = f"{margin:.2f} pp here" if math.isfinite(margin) else "not computable here"
    return [
        "## How a verdict is computed", "",
        f"A run's metric is its mean over the last {LAST_EPOCHS} epochs (train-val gap, search-val accuracy). "
        "Per seed, the difference between the two settings' metrics (settings share their seeds: the same "
        "data split and initial supernet); for the speed-up, the log of the time ratio per interleaved pair.",
        "",
        f"**Gates** (docs/PROTOCOL.md, \"Gates\"): every run a part compares must have trained (final search-val "
        f"accuracy ≥ {TRAINED_OVER_CHANCE:g} × chance) and moved α (mean entropy of softmax(α) over the edges "
        f"fallen by ≥ {100 * ALPHA_MOVED_FRACTION:g} % of ln 8; {', '.join(CONTROL_SETTINGS)} are exempt, "
        "their α is frozen by design); otherwise the part is *not measurable at this scale*, naming the gate.",
        "",
        "**Holm**: the family is every part of claims 1-5 that passed the gates with n ≥ 2. The part with the "
        f"k-th smallest paired-t p-value (of m) is judged on its 1 − {ALPHA:g}/(m − k + 1) t interval, "
        "step-down (once one part is not rejected, no later one is). Both intervals are in the table and in "
        "claims.json. The update-order check below is exploratory: raw 95 % intervals, not corrected.",
        "",
        "**Verdicts**: *holds*: the interval lies on the paper's side (above 0; above 3× for the speed-up; "
        "inside ± the margin for \"close\"); *weaker than claimed*: a speed-up above 1× but not above 3×; "
        "*reversed*: wholly on the other side (a ratio wholly below 1×; wholly outside the margin); *not "
        "resolved at this scale*: it covers the line. A claim holds when all its parts hold; otherwise any "
        "reversed part makes it reversed, then weaker, then not measurable, then not resolved.",
        "",
        f"**\"Close\"** (2d): the margin is √2 × the seed-to-seed standard deviation of bilevel's metric "
        f"({margin_text}): the spread of the difference between two bilevel runs that differ only in their "
        "seed. The paper gives no number for \"similar\".",
        "",
        "Computed by `milenas_lib/paper/claims.py` from the committed records; `notebooks/10_claims` "
        "regenerates this file.", ""]


def claims_report(claims: pd.DataFrame, order: pd.DataFrame, context: Mapping[str, str], preset: str,
                  speed: Optional[Mapping] = None, sweep: Optional[Mapping] = None,
                  controls: Optional[pd.DataFrame] = None) -> str:
    """``claims.md``: what was run, the table of claims (one row per claim), the parts table, the speed-up's
    benchmark and the sweep's ratio beside it, whether the update order matters, and how verdicts are made."""
    lines = ["# The paper's claims, measured", ""]
    lines += [f"- **{key}**: {value}" for key, value in context.items()]
    lines += ["", "## Claims", "", markdown_table(claims_summary(claims)), "",
              "## Parts", "", markdown_table(claims_table(claims, preset)), ""]
    lines += _speed_lines(speed, sweep)
    if not order.empty:
        lines += ["## Does the update order matter? (exploratory)", "",
                  "Each part that involves MiLeNAS λ = 1 (default order `simultaneous`), re-evaluated with "
                  "MiLeNAS λ = 1 in Algorithm 1's order (`w_then_alpha`: w first, then α at the new w), "
                  "same seeds (docs/PROTOCOL.md, \"Update order\"); raw 95 % intervals, gates applied:", "",
                  markdown_table(order), ""]
    if controls is not None and not controls.empty:
        lines += ["## Does the search beat α frozen? (controls, exploratory)", "",
                  "Each search against its control with α never stepped (`frozen_alpha`: softmax mixing; "
                  "`frozen_gumbel`: Gumbel sampling from the frozen, near-uniform α), same seeds; raw 95 % "
                  "intervals, outside the Holm family. Where a search does not beat its control, its claims "
                  "are about how w was trained, not about the architecture search.", "",
                  markdown_table(claims_table(controls, preset)), ""]
    margins = claims.loc[claims["kind"] == "close", "margin"]
    return "\n".join(lines + _method_lines(float(margins.iloc[0]) if len(margins) else math.nan))


__all__ = ["VERDICTS", "claim_verdict", "claims_context", "claims_report", "claims_summary", "claims_table",
           "markdown_table", "mean_concurrency", "sweep_speed", "verdict_text"]

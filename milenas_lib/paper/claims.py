"""The paper's claims as measured effects with confidence intervals, and a verdict computed from them.

Each claim of §3 is split into parts, each one comparison between two settings.
Settings share their seeds (seed ``s`` gives every setting the same data split
and the same initial supernet), so a part is paired by seed:
``d_s = metric(higher, s) - metric(lower, s)`` (for a speed-up, the log of the
ratio), where a run's metric is its mean over the last :data:`LAST_EPOCHS`
epochs.  Then, in this order (docs/PROTOCOL.md, "Gates" and "Claims"):

1. **gates**: every run a part compares must be measurable: its supernet
   trained (final search-val accuracy at least :data:`TRAINED_OVER_CHANCE` ×
   chance) and its α moved (the mean entropy of softmax(α) over the edges fell
   by at least :data:`ALPHA_MOVED_FRACTION` of its start, ln 8; control settings
   with α frozen are exempt).  A part whose runs fail gets *not measurable at
   this scale*, naming the gate and the setting;
2. **Holm**: the parts that passed form one family; each gets the paired t
   p-value of "a verdict other than not resolved", and the part with the k-th
   smallest p-value is judged on its ``1 - 0.05 / (m - k + 1)`` interval,
   step-down (:func:`.stats.holm`).  The raw 95 % interval is kept beside it;
3. **verdict** from the adjusted interval: *holds* (the paper's side of the
   line: above 0; above the stated factor for a speed-up; inside the margin for
   "close"), *weaker than claimed* (a speed-up whose interval lies above 1 and
   below the factor), *reversed* (wholly on the other side), *not resolved at
   this scale* (the interval covers the line: 0, or 1 or the factor).

Nothing here is written by hand: change the runs and the verdicts change with them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Optional, Sequence

import pandas as pd

from ..space.operations import PRIMITIVES
from .frames import final_epoch, last_epochs_mean
from .quoted import PAPER_SPEEDUP
from .settings import CONTROL_SETTINGS, label  # the controls' α is frozen by design: exempt from gate (b)
from .stats import ALPHA, Sample, holm

HOLDS, WEAKER, REVERSED = "holds", "weaker than claimed", "reversed"
UNRESOLVED, UNMEASURABLE = "not resolved at this scale", "not measurable at this scale"
#: The verdict words, from the strongest support of the paper to the least information.
VERDICTS = (HOLDS, WEAKER, REVERSED, UNRESOLVED, UNMEASURABLE)

#: A run's metric is its mean over this many last epochs: one epoch's value moves by a few points from
#: batch to batch at small scales, and the paper's own curves are smoothed.
LAST_EPOCHS = 3
#: Gate (a): the supernet trained when its final search-val accuracy is at least this multiple of chance.
TRAINED_OVER_CHANCE = 2.0
#: Gate (b): α moved when the mean entropy of softmax(α) over the edges fell by at least this fraction of its
#: start value ln(8) (uniform over the 8 operations).  The medium sweep's runs fell by 0.05-0.5 %.
ALPHA_MOVED_FRACTION = 0.05
#: ln(8): the entropy of softmax(α) at initialisation (α ≈ 0: uniform over the operations).
UNIFORM_ENTROPY = math.log(len(PRIMITIVES))
#: Where the speed part's samples come from: the same-run interleaved step benchmark.
BENCHMARK = "benchmark"


@dataclass(frozen=True)
class Comparison:
    """One testable part of a claim: ``higher`` above ``lower`` in ``value``.

    ``kind``: ``greater`` (d > 0), ``ratio`` (value(higher) / value(lower) above ``size``, the paper's factor)
    or ``close`` (|d| inside a margin measured from the runs, :func:`close_margin`).  ``source``: ``runs`` (the
    search records) or :data:`BENCHMARK` (the interleaved step benchmark)."""

    claim: str
    part: str
    section: str
    words: str
    value: str
    higher: str
    lower: str
    kind: str = "greater"
    size: float = 1.0
    source: str = "runs"

    @property
    def statement(self) -> str:
        what = {"gap": "train-val gap (pp)", "val_acc": "search-val accuracy (%)", "time_s": "search time",
                "step_s": "search step time"}[self.value]
        high, low = label(self.higher), label(self.lower)
        if self.kind == "ratio":
            return f"{what}: {high} / {low} > {self.size:g}"
        if self.kind == "close":
            return f"{what}: |{high} - {low}| < margin"
        return f"{what}: {high} > {low}"

    @property
    def settings(self) -> tuple[str, str]:
        return self.higher, self.lower


_GAP_ORDER = ("single_level", "milenas_lam0.1", "milenas_lam1", "milenas_lam999", "darts_2nd")
_FIG2 = "at the end of the search the train-val gap orders single-level > MiLeNAS (λ = 0.1, 1, 999) > bilevel"
_FIG3 = ("search-val accuracy: MiLeNAS λ = 1 and λ = 0.1 above bilevel; single-level lowest; "
         "λ = 999 close to bilevel")
_ROMAN = ("i", "ii", "iii", "iv", "v", "vi")

#: The paper's claims 1-5 (§3.2, §3.4), part by part; "single-level lowest" is one part per other setting.
CLAIMS: tuple[Comparison, ...] = (
    *(Comparison("1", f"1{'abcd'[i]}", "Fig. 2 (§3.2)", _FIG2, "gap", high, low)
      for i, (high, low) in enumerate(zip(_GAP_ORDER, _GAP_ORDER[1:]))),
    Comparison("2", "2a", "Fig. 3a (§3.2)", _FIG3, "val_acc", "milenas_lam1", "darts_2nd"),
    Comparison("2", "2b", "Fig. 3a (§3.2)", _FIG3, "val_acc", "milenas_lam0.1", "darts_2nd"),
    *(Comparison("2", f"2c-{_ROMAN[i]}", "Fig. 3a (§3.2)", _FIG3, "val_acc", other, "single_level")
      for i, other in enumerate(_GAP_ORDER[1:])),
    Comparison("2", "2d", "Fig. 3a (§3.2)", _FIG3, "val_acc", "milenas_lam999", "darts_2nd", "close"),
    Comparison("3", "3", "Fig. 3a (§3.2)", "the bilevel → MiLeNAS switch ends above pure bilevel", "val_acc",
               "switch", "darts_2nd"),
    Comparison("4", "4", "Fig. 3b (§3.2)", "MiLeNAS search is over 3× faster than 2nd-order DARTS", "step_s",
               "darts_2nd", "milenas_lam1", "ratio", PAPER_SPEEDUP, BENCHMARK),
    Comparison("5", "5", "Fig. 5 (§3.4)", "MiLeNAS (Gumbel) reaches higher search-val accuracy than GDAS",
               "val_acc", "milenas_gumbel", "gdas"),
)


#: Does the search beat its α-frozen control?  Exploratory parts (raw 95 % intervals, outside the Holm family),
#: judged where the controls ran: if a search does not beat frozen α, its claims are about how w was trained.
CONTROL_PARTS: tuple[Comparison, ...] = (
    *(Comparison("C", f"C{i + 1}", "control", "the search beats α frozen", "val_acc", key, control)
      for i, (key, control) in enumerate((("milenas_lam1", "frozen_alpha"), ("darts_2nd", "frozen_alpha"),
                                           ("milenas_gumbel", "frozen_gumbel"), ("gdas", "frozen_gumbel")))),
)


def final_values(epochs: pd.DataFrame, times: Optional[pd.DataFrame] = None,
                 last_epochs: int = LAST_EPOCHS) -> pd.DataFrame:
    """One row per run (setting, seed): ``gap`` and ``val_acc`` averaged over the last ``last_epochs`` epochs,
    what the gates check (``final_val_acc``, ``chance_acc`` in %, ``entropy_fall`` as a fraction of ln 8)
    and, from ``times``, ``time_s``."""
    final = final_epoch(epochs).copy()
    final["final_val_acc"] = final["val_acc"]
    final["chance_acc"] = 100.0 / final["num_classes"] if "num_classes" in final else math.nan
    entropy = (final["entropy_normal"] + final["entropy_reduce"]) / 2  # each is the mean over its 14 edges
    final["entropy_fall"] = (UNIFORM_ENTROPY - entropy) / UNIFORM_ENTROPY
    gates = final[["setting", "seed", "final_val_acc", "chance_acc", "entropy_fall"]]
    out = last_epochs_mean(epochs, ["gap", "val_acc"], last_epochs).merge(gates, on=["setting", "seed"])
    if times is not None and not times.empty:
        out = out.merge(times[["setting", "seed", "time_s"]], on=["setting", "seed"], how="outer")
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------
# Gates

def _gate_failures(runs: pd.DataFrame, key: str) -> list[str]:
    """Why the runs of setting ``key`` are not measurable (empty: they are)."""
    if not {"final_val_acc", "chance_acc", "entropy_fall"} <= set(runs):
        return [f"{key}: gate values missing from the runs"]
    failures = []
    trained = runs["final_val_acc"] >= TRAINED_OVER_CHANCE * runs["chance_acc"]
    if not trained.all():
        worst = runs.loc[~trained, "final_val_acc"].min()
        need = TRAINED_OVER_CHANCE * runs["chance_acc"].max()
        failures.append(f"{key}: val accuracy {worst:.0f} % < {need:.0f} %"
                        + (f" ({int((~trained).sum())} of {len(runs)} seeds)" if trained.any() else ""))
    if key not in CONTROL_SETTINGS:
        moved = runs["entropy_fall"] >= ALPHA_MOVED_FRACTION
        if not moved.all():
            least = runs.loc[~moved, "entropy_fall"].min()
            failures.append(f"{key}: α entropy fell {100 * least:.2g} % < {100 * ALPHA_MOVED_FRACTION:g} % of ln 8"
                            + (f" ({int((~moved).sum())} of {len(runs)} seeds)" if moved.any() else ""))
    return failures


def gate_failures(finals: pd.DataFrame, comparison: Comparison, seeds: Sequence[int]) -> list[str]:
    """Every gate a run of ``comparison`` fails, among ``seeds`` (the runs it pairs); the speed benchmark
    times steps on random tensors, so nothing there must have trained."""
    if comparison.source == BENCHMARK:
        return []
    failures = []
    for key in comparison.settings:
        runs = finals[(finals["setting"] == key) & finals["seed"].isin(seeds)]
        failures += _gate_failures(runs, key)
    return failures


# ---------------------------------------------------------------------------
# Measuring a part

def close_margin(finals: pd.DataFrame, reference: str = "darts_2nd", value: str = "val_acc") -> float:
    """The margin of "close to bilevel": √2 × the seed-to-seed standard deviation of ``reference``'s metric,
    i.e. the spread of the difference between two ``reference`` runs that differ only in their seed
    (NaN below 2 seeds)."""
    if not {"setting", value} <= set(finals):
        return math.nan
    runs = finals.loc[finals["setting"] == reference, value].dropna()
    return math.sqrt(2.0) * float(runs.std()) if len(runs) > 1 else math.nan


def paired_samples(finals: pd.DataFrame, comparison: Comparison, speed: Optional[Mapping] = None) -> pd.Series:
    """The part's per-seed samples (per interleaved pair for the benchmark): differences, or log ratios."""
    if comparison.source == BENCHMARK:
        pairs = [p for p in (speed or {}).get("pairs", []) if comparison.higher in p and comparison.lower in p]
        return pd.Series([math.log(p[comparison.higher] / p[comparison.lower]) for p in pairs], dtype=float)
    if comparison.value not in finals:
        return pd.Series(dtype=float)
    table = finals.pivot_table(index="seed", columns="setting", values=comparison.value)
    if any(key not in table for key in comparison.settings):
        return pd.Series(dtype=float)
    table = table[list(comparison.settings)].dropna()
    high, low = table[comparison.higher], table[comparison.lower]
    return (high / low).map(math.log) if comparison.kind == "ratio" else high - low


def _p_value(sample: Sample, comparison: Comparison, margin: float) -> float:
    """The smallest level at which the interval gives a verdict other than *not resolved*: the two-sided
    paired t p-value against 0 (log 1 for a ratio); for "close", against the margin (inside it, or outside)."""
    if comparison.kind != "close":
        return sample.p_two_sided(0.0)
    if not math.isfinite(margin) or sample.n < 2:
        return math.nan
    inside = 2.0 * max(sample.p_above(-margin), 1.0 - sample.p_above(margin))
    outside = 2.0 * min(sample.p_above(margin), 1.0 - sample.p_above(-margin))
    return min(1.0, inside, outside)


def _natural(comparison: Comparison, x: float) -> float:
    """A sample statistic in the part's own units (a ratio's log back to ×)."""
    return math.exp(x) if comparison.kind == "ratio" and math.isfinite(x) else x


def _measured(finals: pd.DataFrame, comparison: Comparison, speed: Optional[Mapping],
              margin: float) -> tuple[dict, Sample]:
    """The part before judgement: per-seed values, mean, std, raw 95 % t interval and p-value; ``verdict`` is
    already set when no interval can decide (a gate failed, too few seeds, no benchmark, no margin)."""
    samples = paired_samples(finals, comparison, speed)
    sample = Sample.of(list(samples))
    low, high = sample.interval(ALPHA)
    per_seed = [{"seed": int(s), "value": _natural(comparison, float(v))} for s, v in samples.items()]
    natural = pd.Series([p["value"] for p in per_seed], dtype=float)
    row = {"claim": comparison.claim, "part": comparison.part, "section": comparison.section,
           "paper's words": comparison.words, "comparison": comparison.statement, "kind": comparison.kind,
           "value": comparison.value, "source": comparison.source, "n": sample.n, "per_seed": per_seed,
           "mean": _natural(comparison, sample.mean),
           "std": float(natural.std()) if comparison.kind == "ratio" and sample.n > 1 else sample.std,
           "ci_low": _natural(comparison, low), "ci_high": _natural(comparison, high),
           "margin": margin if comparison.kind == "close" else math.nan,
           "p": _p_value(sample, comparison, margin), "verdict": None, "reason": ""}
    failures = gate_failures(finals, comparison, [p["seed"] for p in per_seed])
    if comparison.source == BENCHMARK and sample.n == 0:
        row.update(verdict=UNMEASURABLE, reason="no same-run step benchmark: run scripts/bench_speedup.py")
    elif failures:
        row.update(verdict=UNMEASURABLE, reason="; ".join(failures))
    elif sample.n < 2:
        row.update(verdict=UNRESOLVED, reason=f"n = {sample.n} < 2")
    elif comparison.kind == "close" and not math.isfinite(margin):
        row.update(verdict=UNRESOLVED, reason="no margin: the bilevel setting needs 2 seeds")
    return row, sample


def verdict_of(low: float, high: float, comparison: Comparison, margin: float = math.nan) -> str:
    """The verdict an interval ``[low, high]`` (in the part's own units) gives."""
    if comparison.kind == "close":
        if -margin < low and high < margin:
            return HOLDS
        return REVERSED if low > margin or high < -margin else UNRESOLVED
    if comparison.kind == "ratio":
        if low > comparison.size:
            return HOLDS
        # Weaker only when the interval also excludes the claimed size; one that covers it is unresolved.
        return WEAKER if 1.0 < low and high < comparison.size else REVERSED if high < 1.0 else UNRESOLVED
    return HOLDS if low > 0 else REVERSED if high < 0 else UNRESOLVED


def _judge(measured: Sequence[tuple[Comparison, dict, Sample]], adjust: bool) -> pd.DataFrame:
    """Verdicts of measured parts: those still open form the family; with ``adjust`` each is judged on its
    Holm interval (:func:`.stats.holm`), else on its raw 95 % interval."""
    family = [i for i, (_, row, _) in enumerate(measured) if row["verdict"] is None]
    tests = holm([measured[i][1]["p"] for i in family]) if adjust else \
        [{"rank": None, "level": ALPHA, "p_adjusted": measured[i][1]["p"], "rejected": measured[i][1]["p"] < ALPHA}
         for i in family]
    rows = []
    for i, (comparison, row, sample) in enumerate(measured):
        row = {**row, "in family": i in family, "holm_rank": None, "holm_level": math.nan, "p_holm": math.nan,
               "ci_low_holm": math.nan, "ci_high_holm": math.nan}
        if i in family:
            test = tests[family.index(i)]
            low, high = (_natural(comparison, x) for x in sample.interval(test["level"]))
            verdict = verdict_of(low, high, comparison, row["margin"]) if test["rejected"] else UNRESOLVED
            row.update(holm_rank=test["rank"], holm_level=test["level"], p_holm=test["p_adjusted"],
                       ci_low_holm=low, ci_high_holm=high, verdict=verdict)
        rows.append(row)
    return pd.DataFrame(rows)


def measure(finals: pd.DataFrame, comparison: Comparison, speed: Optional[Mapping] = None,
            margin: Optional[float] = None) -> dict:
    """One part judged alone, on its raw 95 % interval (a family of one)."""
    margin = close_margin(finals) if margin is None else margin
    return _judge([(comparison, *_measured(finals, comparison, speed, margin))], adjust=False).iloc[0].to_dict()


#: How a count of parts with each verdict reads in a claim's verdict ("2 of 4 parts hold, 2 not resolved").
_COUNTED = {HOLDS: "hold", WEAKER: "weaker than claimed", REVERSED: "reversed", UNRESOLVED: "not resolved",
            UNMEASURABLE: "not measurable"}


def claim_verdict(verdicts: Sequence[str]) -> str:
    """A claim's verdict and how its parts combine, e.g. "holds: all 4 parts hold" or "not resolved at this
    scale: 2 of 4 parts hold, 2 not resolved".  All hold: holds; else any reversed: reversed; else any weaker:
    weaker than claimed; else any not measurable: not measurable; else not resolved."""
    n = len(verdicts)
    if not n:
        return f"{UNMEASURABLE}: no parts"
    counts = {word: list(verdicts).count(word) for word in VERDICTS if word in verdicts}
    word = HOLDS if counts.get(HOLDS) == n else next(w for w in (REVERSED, WEAKER, UNMEASURABLE, UNRESOLVED)
                                                      if w in counts)
    if n == 1:
        return f"{word} (one part)"
    if len(counts) == 1:
        return f"{word}: all {n} parts {_COUNTED[word]}"
    listed = [f"{count} {_COUNTED[w]}" for w, count in counts.items()]
    listed[0] = f"{listed[0].split(' ', 1)[0]} of {n} parts {listed[0].split(' ', 1)[1]}"
    return f"{word}: " + ", ".join(listed)


def evaluate_claims(finals: pd.DataFrame, claims: Iterable[Comparison] = CLAIMS,
                    speed: Optional[Mapping] = None, adjust: bool = True) -> pd.DataFrame:
    """One row per part: per-seed values, raw 95 % and Holm-adjusted intervals, p-values, verdict and reason,
    and the verdict of its whole claim with how its parts combine (``claim verdict``)."""
    margin = close_margin(finals)
    measured = [(c, *_measured(finals, c, speed, margin)) for c in claims]
    frame = _judge(measured, adjust)
    if frame.empty:
        return frame
    frame["claim verdict"] = frame.groupby("claim")["verdict"].transform(lambda v: claim_verdict(list(v)))
    return frame


def substituted(claims: Iterable[Comparison], replacements: Mapping[str, str]) -> list[Comparison]:
    """The claims judged from the runs that involve a replaced setting, with the replacement in its place
    (e.g. MiLeNAS λ = 1 in another update order); the step benchmark times the default order only."""
    return [replace(c, higher=replacements.get(c.higher, c.higher), lower=replacements.get(c.lower, c.lower))
            for c in claims if c.source != BENCHMARK and (c.lower in replacements or c.higher in replacements)]


def order_sensitivity(finals: pd.DataFrame, replacements: Mapping[str, str],
                      claims: Iterable[Comparison] = CLAIMS) -> pd.DataFrame:
    """Each part that involves a replaced setting: its verdict as run, and with the replacement; exploratory,
    so each on its raw 95 % interval (no Holm correction), gates applied."""
    claims = list(claims)
    if not set(replacements.values()) <= set(finals["setting"]):
        return pd.DataFrame()  # the replacement was not run
    swapped = substituted(claims, replacements)
    original = {c.part: c for c in claims}
    before = evaluate_claims(finals, [original[c.part] for c in swapped], adjust=False)
    after = evaluate_claims(finals, swapped, adjust=False)
    rows = []
    for (_, b), (_, a) in zip(before.iterrows(), after.iterrows()):
        rows.append({"part": b["part"], "comparison": b["comparison"], "verdict": _with_reason(b),
                     "with the replacement": a["comparison"], "its verdict": _with_reason(a),
                     "same verdict": b["verdict"] == a["verdict"]})
    return pd.DataFrame(rows)


def _with_reason(row: Mapping) -> str:
    return f"{row['verdict']} ({row['reason']})" if row.get("reason") else row["verdict"]


def control_checks(finals: pd.DataFrame, parts: Iterable[Comparison] = CONTROL_PARTS) -> pd.DataFrame:
    """Each search against its α-frozen control, where both ran: exploratory, raw 95 % intervals, gates applied
    (the control is exempt from the α gate)."""
    ran = set(finals["setting"]) if "setting" in finals else set()
    chosen = [c for c in parts if set(c.settings) <= ran]
    return evaluate_claims(finals, chosen, adjust=False) if chosen else pd.DataFrame()

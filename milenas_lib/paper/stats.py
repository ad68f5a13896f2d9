"""Small-sample statistics for the claims: Student's t distribution, paired t intervals and Holm's correction.

The kit does not depend on scipy, so the t distribution is computed here from
the regularised incomplete beta function (continued fraction, as in Numerical
Recipes §6.4): ``P(|T| > t) = I_x(df/2, 1/2)`` with ``x = df / (df + t²)``.
Quantiles come from bisection on that CDF, so any level works (Holm needs
levels such as 0.05 / 14, which no printed table has).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

#: The family-wise error rate of the claims' intervals.
ALPHA = 0.05


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for numerator in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                          -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function ``I_x(a, b)``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):  # the fraction converges fast here; use the symmetry otherwise
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """``P(T <= t)`` for Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(df: float, probability: float = 0.975) -> float:
    """The ``probability`` quantile of Student's t (default: the 97.5 % point of a two-sided 95 % interval)."""
    if df < 1 or not 0.0 < probability < 1.0:
        return math.nan
    if probability < 0.5:
        return -t_quantile(df, 1.0 - probability)
    high = 1.0
    while t_cdf(high, df) < probability:
        high *= 2.0
    low = 0.0
    for _ in range(200):
        middle = (low + high) / 2.0
        low, high = (middle, high) if t_cdf(middle, df) < probability else (low, middle)
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2.0


@dataclass(frozen=True)
class Sample:
    """Paired per-seed values: their mean, standard deviation and the standard error of the mean."""

    n: int
    mean: float
    std: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Sample":
        values = [float(v) for v in values]
        n = len(values)
        mean = sum(values) / n if n else math.nan
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else math.nan
        return cls(n, mean, std)

    @property
    def se(self) -> float:
        return self.std / math.sqrt(self.n) if self.n > 1 else math.nan

    def interval(self, alpha: float = ALPHA) -> tuple[float, float]:
        """The two-sided ``1 - alpha`` Student-t interval of the mean."""
        if self.n < 2:
            return math.nan, math.nan
        half = t_quantile(self.n - 1, 1.0 - alpha / 2.0) * self.se
        return self.mean - half, self.mean + half

    def p_two_sided(self, boundary: float = 0.0) -> float:
        """The two-sided p-value of the paired t statistic ``(mean - boundary) / se``: below ``alpha`` exactly
        when the ``1 - alpha`` interval excludes ``boundary``."""
        if self.n < 2:
            return math.nan
        if self.se == 0.0:
            return 1.0 if self.mean == boundary else 0.0
        return 2.0 * (1.0 - t_cdf(abs(self.mean - boundary) / self.se, self.n - 1))

    def p_above(self, boundary: float) -> float:
        """One-sided p-value for "the mean lies above ``boundary``"."""
        if self.se == 0.0:
            return 0.0 if self.mean > boundary else 1.0
        return 1.0 - t_cdf((self.mean - boundary) / self.se, self.n - 1)


def holm(p_values: Sequence[float], alpha: float = ALPHA) -> list[dict]:
    """Bonferroni-Holm over a family of ``m`` p-values: the k-th smallest is tested at ``alpha / (m - k + 1)``,
    step-down (once one is not rejected, no larger one is).  Per input, in input order: ``rank`` (1 = smallest
    p), ``level`` (its test level, and ``1 - level`` is the confidence of its adjusted interval),
    ``p_adjusted`` (``max_{j <= k} (m - j + 1) p_(j)``, capped at 1) and ``rejected``."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out: list[dict] = [{} for _ in range(m)]
    running, still_rejecting = 0.0, True
    for rank, index in enumerate(order, start=1):
        level = alpha / (m - rank + 1)
        running = max(running, min(1.0, (m - rank + 1) * p_values[index]))
        still_rejecting = still_rejecting and p_values[index] < level
        out[index] = {"rank": rank, "level": level, "p_adjusted": running, "rejected": still_rejecting}
    return out

"""The statistics of a campaign report, from sufficient statistics (counts, means, variances)
that the store computes set-based; SciPy supplies the distributions.

- Conversion uplift (treated vs holdout): absolute difference p1 - p0 with a Wald interval
  on the unpooled standard error sqrt(p1(1-p1)/n1 + p0(1-p0)/n0); relative uplift p1/p0 - 1
  with the Wald interval of log(p1/p0) (se sqrt((1-p1)/x1 + (1-p0)/x0), x = conversions),
  exponentiated; the pooled two-proportion z-test (p = (x1+x0)/(n1+n0)).
- Revenue per recipient (zeros included): difference of means with Welch's t-test, the
  Welch-Satterthwaite degrees of freedom and the t interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class ProportionTest:
    n1: int
    x1: int
    n0: int
    x0: int
    p1: float
    p0: float
    #: p1 - p0 and its Wald (unpooled) interval.
    difference: float | None
    difference_low: float | None
    difference_high: float | None
    #: p1 / p0 - 1 and its interval (Wald on the log ratio); None when p0 or p1 is 0.
    relative: float | None
    relative_low: float | None
    relative_high: float | None
    #: Pooled two-proportion z statistic and its two-sided p-value.
    z: float | None
    p_value: float | None


@dataclass(frozen=True)
class MeanTest:
    n1: int
    mean1: float
    var1: float
    n0: int
    mean0: float
    var0: float
    difference: float | None
    low: float | None
    high: float | None
    t: float | None
    df: float | None
    p_value: float | None


def _critical(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def two_proportions(
    x1: int, n1: int, x0: int, n0: int, confidence: float = CONFIDENCE
) -> ProportionTest:
    """Treated ``x1`` of ``n1`` converted, holdout ``x0`` of ``n0``."""
    p1 = x1 / n1 if n1 else 0.0
    p0 = x0 / n0 if n0 else 0.0
    if not n1 or not n0:
        return ProportionTest(n1, x1, n0, x0, p1, p0, None, None, None, None, None, None, None,
                              None)  # fmt: skip
    z_crit = _critical(confidence)
    difference = p1 - p0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    low, high = difference - z_crit * se, difference + z_crit * se
    relative = relative_low = relative_high = None
    if x1 and x0:
        relative = p1 / p0 - 1
        se_log = math.sqrt((1 - p1) / x1 + (1 - p0) / x0)
        log_ratio = math.log(p1 / p0)
        relative_low = math.exp(log_ratio - z_crit * se_log) - 1
        relative_high = math.exp(log_ratio + z_crit * se_log) - 1
    pooled = (x1 + x0) / (n1 + n0)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    z = p_value = None
    if se_pooled > 0:
        z = difference / se_pooled
        p_value = float(2 * stats.norm.sf(abs(z)))
    return ProportionTest(n1, x1, n0, x0, p1, p0, difference, low, high, relative, relative_low,
                          relative_high, z, p_value)  # fmt: skip


def welch(
    n1: int,
    mean1: float,
    var1: float,
    n0: int,
    mean0: float,
    var0: float,
    confidence: float = CONFIDENCE,
) -> MeanTest:
    """Difference of means ``mean1 - mean0`` with Welch's t-test; ``var`` are sample
    variances (ddof 1)."""
    empty = MeanTest(n1, mean1, var1, n0, mean0, var0, None, None, None, None, None, None)
    if n1 < 2 or n0 < 2:
        return empty
    difference = mean1 - mean0
    a, b = var1 / n1, var0 / n0
    se = math.sqrt(a + b)
    if se == 0:
        return MeanTest(n1, mean1, var1, n0, mean0, var0, difference, difference, difference,
                        None, None, None)  # fmt: skip
    df = (a + b) ** 2 / (a**2 / (n1 - 1) + b**2 / (n0 - 1))
    t = difference / se
    p_value = float(2 * stats.t.sf(abs(t), df))
    t_crit = float(stats.t.ppf(0.5 + confidence / 2, df))
    return MeanTest(n1, mean1, var1, n0, mean0, var0, difference, difference - t_crit * se,
                    difference + t_crit * se, t, df, p_value)  # fmt: skip

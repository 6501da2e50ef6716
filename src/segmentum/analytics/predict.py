"""Per-customer predictions, vectorised over arrays (one call per Arrow batch, no per-customer
loop): P(alive), expected purchases in a horizon, expected spend per purchase, and CLV.

Formulas (time in the model's period, days or weeks):

- P(alive | x, t_x, T) = 1 / (1 + [x > 0] · a/(b + x − 1) · ((α + T)/(α + t_x))^(r + x))
- E[Y(t) | x, t_x, T] = (a + b + x − 1)/(a − 1) · [1 − ((α + T)/(α + T + t))^(r + x) ·
  ₂F₁(r + x, b + x; a + b + x − 1; t/(α + T + t))] / (1 + [x > 0] · a/(b + x − 1) ·
  ((α + T)/(α + t_x))^(r + x))   (Fader, Hardie & Lee 2005, eq. 10; scipy.special.hyp2f1)
- E[M | x, m] = (q − 1)/(p·x + q − 1) · v·p/(q − 1) + p·x/(p·x + q − 1) · m (Gamma-Gamma;
  the population mean v·p/(q − 1) for x = 0)
- CLV over H days at the annual discount rate R: the horizon is cut into 30-day steps (the
  last may be shorter); each step's expected purchases E(end) − E(start) are valued at E[M]
  and discounted by (1 + R)^(end/365).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from scipy.special import hyp2f1

from segmentum.analytics.fit import BgNbdParams, GammaGammaParams

Array = npt.NDArray[np.float64]
STEP_DAYS = 30
PREDICTION_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("p_alive", pa.float64()),
        ("expected_purchases", pa.float64()),
        ("expected_aov", pa.float64()),
        ("clv", pa.float64()),
    ]
)


def _floats(values: npt.ArrayLike) -> Array:
    return np.asarray(values, dtype=np.float64)


def _death_odds(params: BgNbdParams, x: Array, t_x: Array, t: Array) -> Array:
    """[x > 0] · a/(b + x − 1) · ((α + T)/(α + t_x))^(r + x), computed in logs."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_odds = (
            np.log(a)
            - np.log(np.where(repeat, b + x - 1, 1.0))
            + (r + x) * (np.log(alpha + t) - np.log(alpha + t_x))
        )
    odds: Array = np.where(repeat, np.exp(log_odds), 0.0)
    return odds


def p_alive(params: BgNbdParams, x: npt.ArrayLike, t_x: npt.ArrayLike, t: npt.ArrayLike) -> Array:
    odds = _death_odds(params, _floats(x), _floats(t_x), _floats(t))
    result: Array = 1.0 / (1.0 + odds)
    return result


def expected_purchases(
    params: BgNbdParams,
    horizon: float,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    t: npt.ArrayLike,
) -> Array:
    """Expected purchases in the next ``horizon`` periods (0 for a horizon of 0)."""
    x, t_x, t = _floats(x), _floats(t_x), _floats(t)
    if horizon <= 0:
        return np.zeros_like(x)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    ratio = (alpha + t) / (alpha + t + horizon)
    z = horizon / (alpha + t + horizon)
    hyper = hyp2f1(r + x, b + x, a + b + x - 1, z)
    head = (a + b + x - 1) / (a - 1)
    body = head * (1.0 - np.power(ratio, r + x) * hyper)
    result: Array = body / (1.0 + _death_odds(params, x, t_x, t))
    return result


def expected_aov(params: GammaGammaParams, x: npt.ArrayLike, m: npt.ArrayLike) -> Array:
    """Expected spend per purchase (the population mean for customers without repeats)."""
    p, q, v = params.p, params.q, params.v
    x, m = _floats(x), _floats(m)
    population = v * p / (q - 1)
    weight = p * x / (p * x + q - 1)
    result: Array = np.where(x > 0, (1 - weight) * population + weight * m, population)
    return result


def steps(horizon_days: int) -> list[int]:
    """The ends of the 30-day steps of the horizon, in days (the last one is the horizon)."""
    return [min(STEP_DAYS * k, horizon_days) for k in range(1, math.ceil(horizon_days / 30) + 1)]


def clv(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    period_days: int,
    horizon_days: int,
    discount_rate: float,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    t: npt.ArrayLike,
    m: npt.ArrayLike,
) -> tuple[Array, Array, Array]:
    """(expected purchases over the horizon, expected spend per purchase, CLV)."""
    x, t_x, t, m = _floats(x), _floats(t_x), _floats(t), _floats(m)
    aov = expected_aov(gamma_gamma, x, m)
    value = np.zeros_like(x)
    previous = np.zeros_like(x)
    for end in steps(horizon_days):
        current = expected_purchases(bgnbd, end / period_days, x, t_x, t)
        value += (current - previous) / (1.0 + discount_rate) ** (end / 365.0)
        previous = current
    return previous, aov, aov * value


def predict_batch(
    batch: pa.RecordBatch,
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    period_days: int,
    horizon_days: int,
    discount_rate: float,
) -> pa.RecordBatch:
    """Predictions for one batch of the summary (customer_id, frequency, recency, T,
    monetary), as a batch of ``PREDICTION_SCHEMA``."""

    def column(name: str) -> Array:
        values: Array = np.asarray(
            batch.column(name).to_numpy(zero_copy_only=False), dtype=np.float64
        )
        return values

    x, t_x, t, m = column("frequency"), column("recency"), column("T"), column("monetary")
    alive = p_alive(bgnbd, x, t_x, t)
    purchases, aov, value = clv(
        bgnbd, gamma_gamma, period_days, horizon_days, discount_rate, x, t_x, t, m
    )
    return pa.RecordBatch.from_arrays(
        [
            batch.column("customer_id").cast(pa.string()),
            pa.array(alive, type=pa.float64()),
            pa.array(purchases, type=pa.float64()),
            pa.array(aov, type=pa.float64()),
            pa.array(value, type=pa.float64()),
        ],
        schema=PREDICTION_SCHEMA,
    )

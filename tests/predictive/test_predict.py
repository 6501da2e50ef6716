"""Predictions equal lifetimes' for the same parameters (BG/NBD P(alive), expected purchases,
Gamma-Gamma expected spend, CLV's undiscounted limit) and are computed per Arrow batch."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from segmentum.analytics.fit import BgNbdParams, GammaGammaParams
from segmentum.analytics.predict import (
    PREDICTION_SCHEMA,
    clv,
    expected_aov,
    expected_purchases,
    p_alive,
    predict_batch,
    steps,
)

BG = BgNbdParams(r=0.24, alpha=4.41, a=0.79, b=2.43)
GG = GammaGammaParams(p=6.25, q=3.74, v=15.44)
X = np.array([0, 1, 2, 5, 10, 0, 3, 30], dtype=float)
TX = np.array([0, 5, 30.5, 20, 38, 0, 2, 38.9], dtype=float)
T = np.array([39, 39, 38.9, 30, 38, 1, 39, 39], dtype=float)
M = np.array([0, 10, 25.5, 40, 35, 0, 12, 30], dtype=float)


@pytest.fixture(scope="module")
def lifetimes_models() -> tuple[object, object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lifetimes = pytest.importorskip("lifetimes")
    bgf = lifetimes.BetaGeoFitter()
    bgf.params_ = pd.Series({"r": BG.r, "alpha": BG.alpha, "a": BG.a, "b": BG.b})
    ggf = lifetimes.GammaGammaFitter()
    ggf.params_ = pd.Series({"p": GG.p, "q": GG.q, "v": GG.v})
    return bgf, ggf


def test_p_alive_and_expected_purchases_equal_lifetimes(
    lifetimes_models: tuple[object, object],
) -> None:
    bgf, _ = lifetimes_models
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alive = np.asarray(bgf.conditional_probability_alive(X, TX, T))  # type: ignore[attr-defined]
        bought = np.asarray(
            bgf.conditional_expected_number_of_purchases_up_to_time(52, X, TX, T)  # type: ignore[attr-defined]
        )
    np.testing.assert_allclose(p_alive(BG, X, TX, T), alive, rtol=1e-10)
    np.testing.assert_allclose(expected_purchases(BG, 52, X, TX, T), bought, rtol=1e-8)
    assert p_alive(BG, [0], [0], [39])[0] == 1.0  # no repeats: alive by the model's definition


def test_expected_aov_equals_lifetimes(lifetimes_models: tuple[object, object]) -> None:
    _, ggf = lifetimes_models
    repeat = X > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = np.asarray(
            ggf.conditional_expected_average_profit(  # type: ignore[attr-defined]
                pd.Series(X[repeat]), pd.Series(M[repeat])
            )
        )
    got = expected_aov(GG, X, M)
    np.testing.assert_allclose(got[repeat], expected, rtol=1e-12)
    assert got[~repeat] == pytest.approx(GG.v * GG.p / (GG.q - 1))


def test_clv_without_discount_is_aov_times_purchases() -> None:
    purchases, aov, value = clv(BG, GG, 7, 365, 0.0, X, TX, T, M)
    np.testing.assert_allclose(purchases, expected_purchases(BG, 365 / 7, X, TX, T))
    np.testing.assert_allclose(value, aov * purchases, rtol=1e-12)
    _, _, discounted = clv(BG, GG, 7, 365, 0.1, X, TX, T, M)
    assert np.all(discounted < value)
    assert np.all(discounted > value / 1.1)
    assert steps(65) == [30, 60, 65]
    assert steps(0) == []


def test_predict_batch_shape() -> None:
    batch = pa.RecordBatch.from_pydict(
        {
            "customer_id": ["a", "b"],
            "frequency": pa.array([0, 3], pa.int64()),
            "recency": pa.array([0, 20], pa.int64()),
            "T": pa.array([10, 30], pa.int64()),
            "monetary": [0.0, 12.5],
        }
    )
    out = predict_batch(batch, BG, GG, 7, 365, 0.1)
    assert out.schema == PREDICTION_SCHEMA
    rows = out.to_pylist()
    assert [row["customer_id"] for row in rows] == ["a", "b"]
    assert rows[0]["p_alive"] == 1.0
    assert 0 < rows[1]["p_alive"] < 1
    assert rows[1]["clv"] > 0

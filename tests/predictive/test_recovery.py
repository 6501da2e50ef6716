"""Parameter recovery: data simulated from BG/NBD and Gamma-Gamma with the CDNOW parameters
(Fader, Hardie & Lee 2005) fit back within stated tolerances.

Tolerances: every estimate within 3 of its own standard errors of the truth, and within a
relative error of 10 % (r, α), 25 % (a, b) and 15 % (p, q, v) — a, b and the Gamma-Gamma
parameters are the weakly identified ones (large, correlated standard errors in the papers).
"""

from __future__ import annotations

import numpy as np
import pytest

from segmentum.analytics.fit import (
    BgNbdParams,
    FitError,
    GammaGammaParams,
    bgnbd_log_likelihood,
    fit_bgnbd,
    fit_gamma_gamma,
)
from tests.predictive.conftest import simulate_bgnbd, simulate_gamma_gamma

BGNBD = {"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43}
GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}
BGNBD_TOLERANCE = {"r": 0.10, "alpha": 0.10, "a": 0.25, "b": 0.25}
GG_TOLERANCE = {"p": 0.15, "q": 0.15, "v": 0.15}


def test_bgnbd_recovers_cdnow_parameters() -> None:
    rng = np.random.default_rng(2005)
    n = 20_000
    age = rng.uniform(27.0, 39.0, n)  # weeks, as the CDNOW cohort (first purchases in Q1 1997)
    x, t_x = simulate_bgnbd(rng, n, **BGNBD, t=age)
    fitted = fit_bgnbd(x, t_x, age)
    assert fitted.customers == n
    for name, truth in BGNBD.items():
        value, se = getattr(fitted.params, name), getattr(fitted.se, name)
        assert np.isfinite(se)
        assert se > 0
        assert abs(value - truth) <= 3 * se, (name, value, se)
        assert abs(value - truth) / truth <= BGNBD_TOLERANCE[name], (name, value)
    at_truth = float(bgnbd_log_likelihood(BgNbdParams(**BGNBD), x, t_x, age).sum())
    assert fitted.log_likelihood >= at_truth


def test_bgnbd_weights_equal_repeated_rows() -> None:
    rng = np.random.default_rng(7)
    age = np.round(rng.uniform(27.0, 39.0, 3000))
    x, t_x = simulate_bgnbd(rng, 3000, **BGNBD, t=age)
    t_x = np.floor(t_x)
    rows = np.stack([x, t_x, age], axis=1)
    unique, counts = np.unique(rows, axis=0, return_counts=True)
    whole = fit_bgnbd(x, t_x, age)
    grouped = fit_bgnbd(unique[:, 0], unique[:, 1], unique[:, 2], counts)
    assert grouped.customers == whole.customers
    assert grouped.log_likelihood == pytest.approx(whole.log_likelihood, rel=1e-9)
    for name in BGNBD:
        assert getattr(grouped.params, name) == pytest.approx(getattr(whole.params, name), rel=1e-4)


def test_gamma_gamma_recovers_cdnow_parameters() -> None:
    rng = np.random.default_rng(1997)
    n = 10_000
    x = 1.0 + rng.poisson(2.0, n)
    m = simulate_gamma_gamma(rng, x, **GAMMA_GAMMA)
    fitted = fit_gamma_gamma(x, m)
    assert fitted.customers == n
    for name, truth in GAMMA_GAMMA.items():
        value, se = getattr(fitted.params, name), getattr(fitted.se, name)
        assert np.isfinite(se)
        assert se > 0
        assert abs(value - truth) <= 3 * se, (name, value, se)
        assert abs(value - truth) / truth <= GG_TOLERANCE[name], (name, value)
    assert fitted.as_dict()["p"] == {"value": fitted.params.p, "se": fitted.se.p}


def test_gamma_gamma_leaves_out_customers_without_repeats() -> None:
    rng = np.random.default_rng(3)
    x = 1.0 + rng.poisson(2.0, 2000)
    m = simulate_gamma_gamma(rng, x, **GAMMA_GAMMA)
    with_zeros = fit_gamma_gamma(
        np.concatenate([x, np.zeros(50)]), np.concatenate([m, np.zeros(50)])
    )
    assert with_zeros.customers == 2000
    assert with_zeros.params == fit_gamma_gamma(x, m).params


def test_fits_refuse_data_without_repeats() -> None:
    with pytest.raises(FitError):
        fit_bgnbd([0, 0, 0], [0, 0, 0], [5, 6, 7])
    with pytest.raises(FitError):
        fit_gamma_gamma([0, 0], [0.0, 0.0])
    with pytest.raises(FitError):
        fit_bgnbd([1, 2], [5, 3], [4, 6])  # recency beyond T
    assert GammaGammaParams(1, 2, 3).q == 2

"""Fixtures of the predictive tests: the compiler's in-memory DuckDB tables, the lifetimes
oracle (imported with its pandas-3 deprecation warning silenced) and simulated BTYD data."""

from __future__ import annotations

import warnings
from types import ModuleType

import numpy as np
import numpy.typing as npt
import pytest

from tests.compiler.conftest import catalog, make_tables, settings

__all__ = ["catalog", "lifetimes_utils", "make_tables", "settings"]

Array = npt.NDArray[np.float64]


@pytest.fixture(scope="session")
def lifetimes_utils() -> ModuleType:
    """``lifetimes.utils`` (lifetimes 0.11.3 sets a pandas option deprecated in pandas 3)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("lifetimes.utils")


def simulate_bgnbd(
    rng: np.random.Generator, n: int, r: float, alpha: float, a: float, b: float, t: Array
) -> tuple[Array, Array]:
    """(x, t_x) of ``n`` customers observed for ``t`` after their first purchase: Poisson
    purchases at λ ~ Gamma(r, rate α); after each repeat purchase, death with p ~ Beta(a, b)."""
    rate = rng.gamma(r, 1.0 / alpha, n)
    death = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    now = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1.0 / rate[idx])
        bought = now[idx] <= t[idx]
        buyers = idx[bought]
        x[buyers] += 1
        t_x[buyers] = now[buyers]
        dies = rng.random(buyers.size) < death[buyers]
        active[idx[~bought]] = False
        active[buyers[dies]] = False
    return x, t_x


def simulate_gamma_gamma(rng: np.random.Generator, x: Array, p: float, q: float, v: float) -> Array:
    """Mean spend of ``x`` transactions: z ~ Gamma(p, rate ν), ν ~ Gamma(q, rate v)."""
    nu = rng.gamma(q, 1.0 / v, x.size)
    totals = rng.gamma(p * x, 1.0 / nu)  # sum of x Gamma(p, ν) spends
    mean: Array = totals / x
    return mean

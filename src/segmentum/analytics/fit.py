"""Maximum-likelihood fits of the BG/NBD and Gamma-Gamma models (SciPy).

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): purchases follow a
Poisson process with rate λ ~ Gamma(r, α); after each repeat purchase a customer drops out
with probability p ~ Beta(a, b). Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV";
Fader & Hardie's note on the model): the spend of one transaction is Gamma(p, ν) with
ν ~ Gamma(q, v), independent of the purchase process; fitted on customers with repeats.

Both closed-form log-likelihoods are maximised over the logarithms of the parameters with
L-BFGS-B. Standard errors come from the inverse of the numerically differentiated Hessian of
the negative log-likelihood in log space, mapped to the natural parameters by the delta method
(at the optimum this equals inverting the Hessian in the natural parameters). The BG/NBD
likelihood depends on a customer only through (x, t_x, T), so it is summed over the distinct
triples with their counts as weights: a million customers are a few thousand rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize
from scipy.special import gammaln

Array = npt.NDArray[np.float64]
Objective = Callable[[Array], float]


class FitError(ValueError):
    """The data cannot support a fit (too few customers, no repeats, no convergence)."""


@dataclass(frozen=True)
class Estimate:
    value: float
    se: float

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "se": self.se}


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float


@dataclass(frozen=True)
class BgNbdFit:
    params: BgNbdParams
    se: BgNbdParams
    log_likelihood: float
    customers: int

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            name: Estimate(getattr(self.params, name), getattr(self.se, name)).as_dict()
            for name in ("r", "alpha", "a", "b")
        }
        out["log_likelihood"] = self.log_likelihood
        return out


@dataclass(frozen=True)
class GammaGammaFit:
    params: GammaGammaParams
    se: GammaGammaParams
    log_likelihood: float
    customers: int

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            name: Estimate(getattr(self.params, name), getattr(self.se, name)).as_dict()
            for name in ("p", "q", "v")
        }
        out["log_likelihood"] = self.log_likelihood
        return out


def _floats(values: npt.ArrayLike) -> Array:
    return np.asarray(values, dtype=np.float64)


def bgnbd_log_likelihood(
    params: BgNbdParams, x: npt.ArrayLike, t_x: npt.ArrayLike, t: npt.ArrayLike
) -> Array:
    """Per-customer BG/NBD log-likelihood of (frequency x, recency t_x, age T)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, t = _floats(x), _floats(t_x), _floats(t)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + t)
    repeat = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            repeat,
            np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    result: Array = a1 + a2 + np.logaddexp(a3, a4)
    return result


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, x: npt.ArrayLike, m: npt.ArrayLike
) -> Array:
    """Per-customer Gamma-Gamma log-likelihood of the mean spend ``m`` over ``x`` (> 0)
    transactions."""
    p, q, v = params.p, params.q, params.v
    x, m = _floats(x), _floats(m)
    px = p * x
    result: Array = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + v)
    )
    return result


def _hessian(objective: Objective, at: Array, step: float = 1e-4) -> Array:
    """Central-difference Hessian of ``objective`` at ``at``."""
    k = at.size
    hessian = np.zeros((k, k))
    eye = np.eye(k) * step
    for i in range(k):
        for j in range(i, k):
            value = (
                objective(at + eye[i] + eye[j])
                - objective(at + eye[i] - eye[j])
                - objective(at - eye[i] + eye[j])
                + objective(at - eye[i] - eye[j])
            ) / (4 * step * step)
            hessian[i, j] = hessian[j, i] = value
    return hessian


def _maximise(objective: Objective, start: Array) -> tuple[Array, Array, float]:
    """Minimise the negative log-likelihood over log-parameters; returns the parameters,
    their standard errors and the maximised log-likelihood."""
    result = optimize.minimize(
        objective,
        start,
        method="L-BFGS-B",
        options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-8},
    )
    if not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
        raise FitError(f"the likelihood did not converge: {result.message}")
    at = np.asarray(result.x, dtype=np.float64)
    params = np.exp(at)
    hessian = _hessian(objective, at)
    try:
        covariance = np.linalg.inv(hessian)
        variances = np.diag(covariance)
    except np.linalg.LinAlgError:
        variances = np.full(at.size, np.nan)
    se = params * np.sqrt(np.where(variances > 0, variances, np.nan))
    return params, se, -float(result.fun)


def fit_bgnbd(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> BgNbdFit:
    """Fit BG/NBD to per-customer (or per distinct summary, with ``weights``) data."""
    x, t_x, t = _floats(frequency), _floats(recency), _floats(age)
    w = np.ones_like(x) if weights is None else _floats(weights)
    customers = int(w.sum())
    if customers < 2 or not np.any((x > 0) & (w > 0)):
        raise FitError("BG/NBD needs customers with repeat purchases")
    if np.any(t_x > t) or np.any(x < 0) or np.any(t_x < 0):
        raise FitError("BG/NBD needs 0 <= recency <= T for every customer")
    scale = float(np.average(t, weights=w))

    def objective(logs: Array) -> float:
        r, alpha, a, b = np.exp(logs)
        ll = bgnbd_log_likelihood(BgNbdParams(r, alpha, a, b), x, t_x, t)
        total = float(np.dot(w, ll))
        return -total if np.isfinite(total) else 1e300

    start = np.log(np.array([1.0, scale, 1.0, 1.0]))
    params, se, ll = _maximise(objective, start)
    return BgNbdFit(BgNbdParams(*params), BgNbdParams(*se), ll, customers)


def fit_gamma_gamma(frequency: npt.ArrayLike, monetary: npt.ArrayLike) -> GammaGammaFit:
    """Fit Gamma-Gamma on customers with frequency > 0 and positive mean spend (others are
    left out, as the model requires)."""
    x, m = _floats(frequency), _floats(monetary)
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    if x.size < 2:
        raise FitError("Gamma-Gamma needs customers with repeat purchases and positive spend")
    mean = float(np.mean(m))

    def objective(logs: Array) -> float:
        p, q, v = np.exp(logs)
        total = float(np.sum(gamma_gamma_log_likelihood(GammaGammaParams(p, q, v), x, m)))
        return -total if np.isfinite(total) else 1e300

    start = np.log(np.array([1.0, 2.0, mean]))
    params, se, ll = _maximise(objective, start)
    return GammaGammaFit(GammaGammaParams(*params), GammaGammaParams(*se), ll, int(x.size))

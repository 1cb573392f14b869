"""Small exact tail probabilities (stdlib only) turned into z-equivalents.

For rates over few observations (e.g. 3 errors out of 20 calls) the normal approximation is
badly wrong in the tail; the binomial upper tail gives the honest "how surprising" figure.
"""

from __future__ import annotations

import math
from statistics import NormalDist

_NORMAL = NormalDist()


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    p = min(max(p, 1e-12), 1 - 1e-12)
    log_p, log_q = math.log(p), math.log1p(-p)
    lg_n = math.lgamma(n + 1)
    total = 0.0
    for j in range(k, n + 1):
        term = math.exp(lg_n - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * log_p + (n - j) * log_q)
        total += term
        if j > n * p and term < total * 1e-12:
            break
    return min(1.0, total)


def poisson_sf(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam)."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    log_lam = math.log(lam)
    total, j = 0.0, k
    while True:
        term = math.exp(j * log_lam - lam - math.lgamma(j + 1))
        total += term
        if (j > lam and term < total * 1e-12) or j > k + 10_000:
            break
        j += 1
    return min(1.0, total)


def poisson_z(count: float, lam: float) -> float:
    """z-equivalent of counting at least ``count`` when the mean is ``lam`` (0 if not above)."""
    k = round(count)
    if k <= lam:
        return 0.0
    return z_from_tail(poisson_sf(k, lam))


def z_from_tail(p_value: float) -> float:
    """The standard-normal z whose upper tail is ``p_value`` (capped at ±37)."""
    p = min(max(p_value, 1e-300), 1.0 - 1e-16)
    return max(-37.0, min(37.0, -_NORMAL.inv_cdf(p)))


def binomial_z(successes: float, n: float, p: float) -> float:
    """z-equivalent of seeing at least ``successes`` of ``n`` when the rate is ``p``."""
    k, trials = round(successes), round(n)
    if trials <= 0:
        return 0.0
    if k <= trials * p:
        return 0.0
    return z_from_tail(binomial_sf(k, trials, p))

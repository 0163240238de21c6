"""Exact (Clopper–Pearson) one-sided upper confidence bounds for an error rate.

A measured false match rate of k in n is an estimate; what a centre can promise is the rate
that, at the chosen confidence, the data do not rule out: the largest p with
P(X ≤ k | n, p) ≥ 1 − confidence, X ~ Binomial(n, p). For k = 0 that is 1 − (1 − c)^(1/n),
about 3/n at 95 % (the rule of three).
"""

from __future__ import annotations

import math


def _log_binom_cdf(k: int, n: int, p: float) -> float:
    """log P(X ≤ k) for X ~ Binomial(n, p), summed in log space (no under/overflow)."""
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 0.0 if k >= n else -math.inf
    lp, lq = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp
             + (n - i) * lq for i in range(k + 1)]
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms))


def fmr_upper_bound(false_matches: int, pairs: int, confidence: float = 0.95) -> float:
    """The one-sided Clopper–Pearson upper bound of a rate seen *false_matches* times in
    *pairs* trials."""
    if pairs <= 0:
        raise ValueError("no pairs")
    if not 0 <= false_matches <= pairs:
        raise ValueError(f"{false_matches} false matches out of {pairs} pairs")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    if false_matches == pairs:
        return 1.0
    alpha = 1.0 - confidence
    if false_matches == 0:
        return -math.expm1(math.log(alpha) / pairs)
    target = math.log(alpha)
    low, high = false_matches / pairs, 1.0
    for _ in range(200):  # the CDF falls as p grows: bisect where it crosses alpha
        mid = (low + high) / 2.0
        if _log_binom_cdf(false_matches, pairs, mid) > target:
            low = mid
        else:
            high = mid
        if high - low <= 1e-15 * max(high, 1e-300):
            break
    return high


def pairs_needed(target: float, false_matches: int = 0, confidence: float = 0.95) -> int:
    """The fewest pairs for which *false_matches* false matches still bound the rate at or
    below *target* (for none: about 3/target at 95 %)."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be in (0, 1), not {target}")
    low = max(1, false_matches)
    high = low
    while fmr_upper_bound(false_matches, high, confidence) > target:
        high *= 2
    while low < high:
        mid = (low + high) // 2
        if fmr_upper_bound(false_matches, mid, confidence) > target:
            low = mid + 1
        else:
            high = mid
    return low


def max_false_matches(pairs: int, target: float, confidence: float = 0.95) -> int:
    """The most false matches out of *pairs* whose upper bound still meets *target*; −1 when
    even none does (too few pairs)."""
    if fmr_upper_bound(0, pairs, confidence) > target:
        return -1
    low, high = 0, min(pairs, max(1, math.ceil(target * pairs)))
    while low < high:  # the bound grows with k: the largest k with bound ≤ target
        mid = (low + high + 1) // 2
        if fmr_upper_bound(mid, pairs, confidence) <= target:
            low = mid
        else:
            high = mid - 1
    return low

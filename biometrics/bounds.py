"""Confidence bounds on error rates, and the threshold whose false match rate is *proven* low.

An FMR measured on N impostor pairs is an estimate: 0 false matches in 1 000 pairs does not
mean the rate is 0, only that it is probably below 3/1000 (the rule of three). A threshold is
set so that the *upper 95 % confidence bound* of its FMR meets the target, not the point
estimate, so that a small or unlucky calibration set cannot promise more than it measured.

The bound is Clopper–Pearson's exact one-sided bound: the largest rate p for which seeing at
most k errors in n trials still has probability at least 1 − confidence,

    P(X ≤ k | n, p) = 1 − confidence,   X ~ Binomial(n, p),

solved by bisection on the binomial distribution function itself (computed from log-gamma
terms, summed in log space, so n in the millions is exact to double precision). With k = 0 it
is 1 − (1 − confidence)^(1/n) ≈ 3/n at 95 %, the rule of three. It is conservative: its
coverage is at least the confidence for every p. The same bound serves any binomial rate
(FNMR, failure to acquire).

Scores here are distances (a pair is accepted when its distance is at or below the
threshold), as everywhere in ``biometrics``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .errors import BiometricsError

DEFAULT_CONFIDENCE = 0.95


class TooFewPairs(BiometricsError):
    """Not enough impostor pairs to prove the target false match rate at this confidence."""

    key = "face.too_few_pairs"


def _log_binomial_coefficients(k: int, n: int) -> NDArray[np.float64]:
    """log C(n, i) for i = 0 … k, each from log-gamma directly (no accumulated rounding)."""
    i = np.arange(k + 1, dtype=np.float64)
    lgamma = np.vectorize(math.lgamma, otypes=[np.float64])
    return math.lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0)


def _log_cdf(log_coef: NDArray[np.float64], n: int, p: float) -> float:
    """log P(X ≤ k | n, p), k = len(log_coef) − 1."""
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return -math.inf if len(log_coef) <= n else 0.0
    i = np.arange(len(log_coef), dtype=np.float64)
    terms = log_coef + i * math.log(p) + (n - i) * math.log1p(-p)
    top = float(terms.max())
    return top + math.log(float(np.exp(terms - top).sum()))


def binomial_upper_bound(errors: int, trials: int,
                         confidence: float = DEFAULT_CONFIDENCE) -> float:
    """One-sided exact (Clopper–Pearson) upper confidence bound of a rate seen as
    *errors* in *trials*."""
    if trials <= 0:
        raise ValueError(f"need at least one trial, not {trials}")
    if not 0 <= errors <= trials:
        raise ValueError(f"errors must be in [0, {trials}], not {errors}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    if errors == trials:
        return 1.0
    alpha = 1.0 - confidence
    if errors == 0:  # closed form: (1 − p)^n = α
        return -math.expm1(math.log(alpha) / trials)
    log_alpha = math.log(alpha)
    log_coef = _log_binomial_coefficients(errors, trials)
    lo, hi = errors / trials, 1.0  # the CDF falls from ≥ ½-ish at k/n to 0 at 1
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if _log_cdf(log_coef, trials, mid) > log_alpha:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * hi:
            break
    return hi


def fmr_upper_bound(false_matches: int, pairs: int,
                    confidence: float = DEFAULT_CONFIDENCE) -> float:
    """Upper *confidence* bound of the false match rate: *false_matches* of *pairs* impostor
    pairs accepted."""
    return binomial_upper_bound(false_matches, pairs, confidence)


def min_pairs(target: float, confidence: float = DEFAULT_CONFIDENCE) -> int:
    """The fewest impostor pairs that can prove FMR ≤ *target*: with 0 false matches among
    them the bound just meets the target (≈ 3/target at 95 %)."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be in (0, 1), not {target}")
    n = math.ceil(math.log(1.0 - confidence) / math.log1p(-target))
    while fmr_upper_bound(0, n, confidence) > target:  # guard the float rounding of ceil
        n += 1
    return n


@dataclass(frozen=True, slots=True)
class BoundedThreshold:
    """A threshold and what the impostor pairs say about it."""

    threshold: float
    """Accept at or below this distance."""
    false_matches: int
    """Impostor pairs at or below the threshold."""
    pairs: int
    fmr: float
    """The point estimate, false_matches / pairs."""
    fmr_upper: float
    """Its upper confidence bound: at most the target."""
    target: float
    confidence: float

    def to_dict(self) -> dict[str, float | int]:
        return {"threshold": self.threshold, "false_matches": self.false_matches,
                "pairs": self.pairs, "fmr": self.fmr, "fmr_upper": self.fmr_upper,
                "target": self.target, "confidence": self.confidence}


def max_false_matches(pairs: int, target: float,
                      confidence: float = DEFAULT_CONFIDENCE) -> int:
    """The most false matches among *pairs* whose bound still meets *target*; −1 if even
    none would not (too few pairs)."""
    if fmr_upper_bound(0, pairs, confidence) > target:
        return -1
    lo, hi = 0, min(pairs, math.ceil(target * pairs))  # bound(k) > k/n, so k* < target·n
    while lo < hi:  # the bound grows with k: the largest k with bound(k) ≤ target
        mid = (lo + hi + 1) // 2
        if fmr_upper_bound(mid, pairs, confidence) <= target:
            lo = mid
        else:
            hi = mid - 1
    return lo


def allowed_false_matches(pairs: int, target: float,
                          confidence: float = DEFAULT_CONFIDENCE) -> int:
    """The most false matches among *pairs* whose upper bound still meets *target*; −1 when
    even none does. The same number as :func:`max_false_matches`, in one pass.

    The bound of k is at or below the target exactly when P(X ≤ k | n, target) ≤ 1 −
    confidence (the distribution function falls as the rate grows), so the answer is the last
    k whose cumulative binomial probability at the target is still at most α: one cumulative
    sum of the probabilities (in log space) instead of a bisection per k. That matters here:
    50 million pairs allow k in the millions at ten times the target.
    """
    if pairs <= 0:
        return -1
    log_alpha = math.log(1.0 - confidence)
    lp, lq = math.log(target), math.log1p(-target)
    log_first = pairs * lq  # P(X = 0)
    if log_first > log_alpha:
        return -1
    # The CDF reaches α well before the mean plus a few standard deviations.
    limit = min(pairs, int(pairs * target + 10.0 * math.sqrt(pairs * target + 1.0) + 10.0))
    i = np.arange(limit, dtype=np.float64)
    # log P(X = i+1) − log P(X = i) = log((n − i)/(i + 1)) + log(p/q)
    steps = np.log((pairs - i) / (i + 1.0)) + (lp - lq)
    log_pmf = np.concatenate([[log_first], log_first + np.cumsum(steps)])
    log_cdf = np.logaddexp.accumulate(log_pmf)
    below = np.flatnonzero(log_cdf <= log_alpha)
    return int(below[-1]) if len(below) else -1


def threshold_for_fmr_bound(impostor_scores: Sequence[float] | NDArray[np.floating],
                            target: float,
                            confidence: float = DEFAULT_CONFIDENCE) -> BoundedThreshold:
    """The largest distance threshold whose FMR upper bound on these impostor distances is at
    most *target*. Impostor pairs with an infinite distance (no face in one picture) count as
    pairs, correctly rejected. Raises :class:`TooFewPairs` (with ``needed``) when no threshold
    can meet the target on so few pairs."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be in (0, 1), not {target}")
    scores = np.sort(np.asarray(impostor_scores, dtype=np.float64))
    if np.isnan(scores).any():
        raise ValueError("impostor distances must not be NaN")
    n = len(scores)
    needed = min_pairs(target, confidence)
    k = max_false_matches(n, target, confidence) if n else -1
    if k < 0:
        raise TooFewPairs(f"{n} impostor pairs cannot show FMR ≤ {target:g} at "
                          f"{confidence:.0%} confidence: at least {needed} are needed",
                          pairs=n, needed=needed, target=target)
    if k >= n or not math.isfinite(scores[k]):
        # Every finite distance may be accepted and still meet the target.
        finite = scores[np.isfinite(scores)]
        threshold = float(finite.max()) if len(finite) else 0.0
    else:
        # Just below the (k+1)-th smallest distance: ties there are all rejected.
        threshold = float(np.nextafter(scores[k], -np.inf))
    accepted = int(np.searchsorted(scores, threshold, side="right"))
    return BoundedThreshold(threshold, accepted, n, accepted / n,
                            fmr_upper_bound(accepted, n, confidence), target, confidence)

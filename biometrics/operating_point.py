"""The one rule that turns impostor distances and a target FMR into an operating point.

Every calibration uses it — the shipped default (East Asian faces, ``bench/face_population``),
a photo folder (``face calibrate FOLDER``) and a centre's or district's own check-ins
(``face calibrate --population``) — so that the same data always gives the same point:

- ``threshold``: the largest distance whose FMR has a one-sided Clopper–Pearson upper bound
  (95 % by default, :mod:`.bounds`) at or below the target; with too few impostor pairs even
  none accepted cannot prove it, and :class:`~.bounds.TooFewPairs` says how many are needed.
- ``review_low`` = ``threshold``: below it the desk admits, because the target FMR is the rate
  of impostors admitted without a second look.
- ``review_high``: the distance at the *point-estimate* FMR of min(10 × target, 1e-2); from
  there on, NO_MATCH. Between the two, REVIEW by the invigilator.

Measured on held-out halves of the East Asian people, this band sent 29 % of genuine
candidates to REVIEW with impostor auto-ADMIT 0.078 %; the earlier rule (target/10 … target×10)
sent 51 % (README, "What the face check can and cannot do").

The impostor distances may be all of them or only the smallest (a population's impostor pairs
grow with the square of the people and only a tail is kept): *pairs* is then the count of all
of them, and :func:`distances_needed` says how many of the smallest the rule reads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .bounds import DEFAULT_CONFIDENCE, TooFewPairs, allowed_false_matches, min_pairs
from .config import OperatingPoint

REVIEW_FMR_CAP = 1e-2
"""The REVIEW band never reaches past the point-estimate FMR 1e-2 (1 impostor pair in 100)."""

Distances = Sequence[float] | NDArray[np.floating]


def review_fmr(target_fmr: float) -> float:
    """The FMR whose point-estimate distance closes the REVIEW band."""
    return min(10.0 * target_fmr, REVIEW_FMR_CAP)


def distances_needed(pairs: int, target_fmr: float,
                     confidence: float = DEFAULT_CONFIDENCE) -> int:
    """How many of the smallest impostor distances :func:`operating_point_for` reads (one
    more than the false matches either edge may accept, and one to spare)."""
    allowed = max(allowed_false_matches(pairs, target_fmr, confidence),
                  math.floor(review_fmr(target_fmr) * pairs + 1e-9))
    return max(1, allowed + 2)


def _sorted(impostor: Distances, pairs: int | None) -> tuple[NDArray[np.float64], int]:
    scores = np.sort(np.asarray(impostor, dtype=np.float64))
    if np.isnan(scores).any():
        raise ValueError("impostor distances must not be NaN")
    n = len(scores) if pairs is None else pairs
    if n < len(scores):
        raise ValueError(f"{len(scores)} distances cannot come from {n} pairs")
    return scores, n


def _at_index(scores: NDArray[np.float64], pairs: int, k: int, *, none_finite: float) -> float:
    """The largest threshold accepting at most *k* of the pairs: just below the (k+1)-th
    smallest distance (ties there are all rejected), or every finite distance when the
    (k+1)-th is infinite (no face) or does not exist."""
    if k < len(scores):
        if math.isfinite(scores[k]):
            return float(np.nextafter(scores[k], -np.inf))
    elif len(scores) < pairs:
        raise ValueError(f"the kept distances ({len(scores)}) are fewer than {k + 1}")
    finite = scores[np.isfinite(scores)]
    return float(finite.max()) if len(finite) else none_finite


def require_pairs(pairs: int, target_fmr: float,
                  confidence: float = DEFAULT_CONFIDENCE) -> int:
    """The most false matches *pairs* impostor pairs may hold with the FMR bound still at
    *target_fmr*; raises :class:`~.bounds.TooFewPairs` (with ``needed``) when even none would
    not prove it. Known before any distance is computed: a caller can refuse early."""
    k = allowed_false_matches(pairs, target_fmr, confidence)
    if k < 0:
        needed = min_pairs(target_fmr, confidence)
        raise TooFewPairs(f"{pairs} impostor pairs cannot show FMR ≤ {target_fmr:g} at "
                          f"{confidence:.0%} confidence: at least {needed} are needed",
                          pairs=pairs, needed=needed, target=target_fmr)
    return k


def bound_threshold(impostor: Distances, target_fmr: float, *, pairs: int | None = None,
                    confidence: float = DEFAULT_CONFIDENCE) -> float:
    """The largest distance threshold whose FMR upper bound meets *target_fmr* (the same as
    :func:`.bounds.threshold_for_fmr_bound`, on a kept tail too). Raises
    :class:`~.bounds.TooFewPairs` when no threshold can."""
    if not 0.0 < target_fmr < 1.0:
        raise ValueError(f"target must be in (0, 1), not {target_fmr}")
    scores, n = _sorted(impostor, pairs)
    return _at_index(scores, n, require_pairs(n, target_fmr, confidence), none_finite=0.0)


def point_estimate_threshold(impostor: Distances, fmr: float, *,
                             pairs: int | None = None) -> float:
    """The largest threshold whose measured FMR does not exceed *fmr* (as
    :func:`.calibration.threshold_at_fmr`: k = ⌊fmr·N⌋ false matches at most)."""
    scores, n = _sorted(impostor, pairs)
    if not n:
        raise ValueError("no impostor pairs")
    return _at_index(scores, n, math.floor(fmr * n + 1e-9), none_finite=2.0)


def operating_point_for(impostor: Distances, target_fmr: float, *, source: str,
                        pairs: int | None = None,
                        confidence: float = DEFAULT_CONFIDENCE) -> OperatingPoint:
    """The operating point of these impostor distances for *target_fmr* (module docstring).

    *impostor*: every impostor distance (infinite where a picture had no face: a pair, rightly
    rejected), or the smallest of them with *pairs* the count of all. Raises
    :class:`~.bounds.TooFewPairs` when the pairs cannot prove the target, ``ValueError`` when
    a kept tail is too short (see :func:`distances_needed`)."""
    scores, n = _sorted(impostor, pairs)
    threshold = bound_threshold(scores, target_fmr, pairs=n, confidence=confidence)
    high = max(threshold, point_estimate_threshold(scores, review_fmr(target_fmr), pairs=n))
    # Not rounded: rounding up by even 1e-4 can step over the next impostor distance.
    return OperatingPoint(threshold=threshold, review_low=threshold, review_high=high,
                          target_fmr=target_fmr, source=source)

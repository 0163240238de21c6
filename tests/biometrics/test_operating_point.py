"""The one operating-point rule (threshold by the FMR bound, REVIEW up to the point-estimate FMR
of min(10 × target, 1e-2)) on a hand-computed example, on a kept tail, and in the population
calibration that uses it. Pure numbers: no photos, no store."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biometrics.bounds import TooFewPairs, threshold_for_fmr_bound
from biometrics.calibration import PairScores, threshold_at_fmr
from biometrics.operating_point import distances_needed, operating_point_for, review_fmr
from biometrics.population import ImpostorTail, calibrate_population

# 10 000 impostor distances 0.0001, 0.0002, …, 1.0000 (in a shuffled order): the i-th smallest
# is (i + 1) / 10 000, so each count of accepted pairs is a distance one can read off.
N = 10_000
DISTANCES = np.arange(1, N + 1) / N
SHUFFLED = np.random.default_rng(14).permutation(DISTANCES)


def _below(x: float) -> float:
    return float(np.nextafter(x, -np.inf))


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X ≤ k), X ~ Binomial(n, p), summed term by term (no underflow at these sizes)."""
    return sum(math.comb(n, i) * p**i * (1 - p)**(n - i) for i in range(k + 1))


def test_the_hand_computed_example() -> None:
    # By hand: 4 false matches in 10 000 pairs still prove FMR ≤ 1e-3 at 95 % (seeing at most
    # 4 is ≤ 5 % likely at a true rate of 1e-3), 5 do not. So the threshold sits just below the
    # fifth smallest distance, 0.0005 (the point estimate would allow 10: below 0.0011). The
    # REVIEW band closes at the point-estimate FMR of min(10 × 1e-3, 1e-2) = 1e-2: 100 pairs,
    # just below the 101st distance, 0.0101.
    assert _binom_cdf(4, N, 1e-3) <= 0.05 < _binom_cdf(5, N, 1e-3)
    p = operating_point_for(SHUFFLED, 1e-3, source="by hand")
    assert p.threshold == _below(0.0005)
    assert p.review_low == p.threshold
    assert p.review_high == _below(0.0101)
    assert (p.target_fmr, p.source) == (1e-3, "by hand")
    assert _below(0.0005) != threshold_at_fmr(PairScores(np.zeros(1), DISTANCES), 1e-3)


def test_it_is_the_rule_the_shipped_default_was_computed_with() -> None:
    # bench/face_population.py (issue 14, "threshold .. FMR×10"): bound threshold, REVIEW up
    # to the point-estimate distance at FMR 1e-2 — on its own functions, the same numbers.
    p = operating_point_for(SHUFFLED, 1e-3, source="x")
    assert p.threshold == threshold_for_fmr_bound(SHUFFLED, 1e-3).threshold
    assert p.review_high == threshold_at_fmr(PairScores(np.zeros(1), DISTANCES), 1e-2)


def test_the_band_never_reaches_past_fmr_one_in_a_hundred() -> None:
    assert review_fmr(1e-4) == pytest.approx(1e-3) and review_fmr(2e-3) == 1e-2
    p = operating_point_for(DISTANCES, 2e-3, source="x")
    assert p.review_high == _below(0.0101)  # not 0.0201 (ten times the target)
    # With the target at or above 1e-2 the point-estimate edge is at or below the bound's
    # threshold: no REVIEW band, the threshold decides.
    wide = operating_point_for(DISTANCES, 5e-2, source="x")
    assert wide.review_low == wide.threshold == wide.review_high


def test_a_kept_tail_gives_the_same_point_or_says_it_is_too_short() -> None:
    need = distances_needed(N, 1e-3)
    assert need == 102  # the review edge reads the 101st smallest distance
    full = operating_point_for(SHUFFLED, 1e-3, source="x")
    assert operating_point_for(DISTANCES[:need], 1e-3, pairs=N, source="x") == full
    with pytest.raises(ValueError):
        operating_point_for(DISTANCES[:100], 1e-3, pairs=N, source="x")


def test_pictures_without_a_face_are_pairs_rightly_rejected() -> None:
    # Half the pairs have no distance (no face in one picture): they still count, so the
    # bound and the FMR are over all 10 000.
    d = np.concatenate([DISTANCES[:5000], np.full(5000, np.inf)])
    assert operating_point_for(d, 1e-3, source="x") == operating_point_for(
        DISTANCES, 1e-3, source="x")


def test_too_few_pairs_are_refused_with_the_number_needed() -> None:
    with pytest.raises(TooFewPairs) as caught:
        operating_point_for(DISTANCES[:2994], 1e-3, source="x")
    assert caught.value.context["needed"] == 2995
    assert caught.value.context["pairs"] == 2994


def test_the_population_calibration_uses_the_same_rule() -> None:
    # Before: REVIEW from the bound-threshold at 1e-4 (too few pairs for it here: mirrored
    # below the threshold) to the bound-threshold at 1e-2. Now the shipped default's band.
    tail = ImpostorTail(N, DISTANCES[:distances_needed(N, 1e-2)], complete=False)
    genuine = np.linspace(0.0, 0.02, 40)
    result = calibrate_population(tail, genuine, target_fmr=1e-3, source="centre")
    assert result.point == operating_point_for(DISTANCES, 1e-3, source="centre")
    assert result.point.review_low == result.point.threshold == _below(0.0005)
    assert result.point.review_high == _below(0.0101)
    assert (result.fmr.errors, result.fmr.pairs) == (4, N)
    assert result.fnmr.errors == int((genuine > result.point.threshold).sum())

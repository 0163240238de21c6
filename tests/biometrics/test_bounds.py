"""The FMR bound and the threshold it sets, checked against a direct binomial computation."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from biometrics.bounds import (
    TooFewPairs,
    binomial_upper_bound,
    fmr_upper_bound,
    max_false_matches,
    min_pairs,
    threshold_for_fmr_bound,
)
from examdesk.i18n import Catalog


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X ≤ k), X ~ Binomial(n, p), summed exactly in rationals (math.comb, no log-gamma)."""
    q = Fraction(p)
    return float(sum(math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(k + 1)))


@pytest.mark.parametrize(("k", "n"), [(0, 1), (0, 10), (1, 10), (3, 20), (7, 50), (49, 50),
                                      (10, 300), (0, 300), (150, 300)])
@pytest.mark.parametrize("confidence", [0.95, 0.99, 0.8])
def test_bound_solves_the_binomial_equation(k: int, n: int, confidence: float) -> None:
    # The definition: the bound is the rate at which seeing at most k errors has probability
    # exactly 1 − confidence; any higher rate makes it rarer (it is the largest such rate).
    p = binomial_upper_bound(k, n, confidence)
    assert binomial_cdf(k, n, p) == pytest.approx(1 - confidence, rel=1e-9)
    assert binomial_cdf(k, n, p * (1 + 1e-6)) < 1 - confidence
    assert binomial_cdf(k, n, p * (1 - 1e-6)) > 1 - confidence
    assert k / n < p < 1.0


def test_published_values_and_the_rule_of_three() -> None:
    # One-sided 95 % = the upper end of the two-sided 90 % Clopper–Pearson interval.
    assert binomial_upper_bound(1, 10) == pytest.approx(0.39416, abs=1e-5)
    assert binomial_upper_bound(0, 10) == pytest.approx(1 - 0.05 ** 0.1, rel=1e-12)
    assert fmr_upper_bound(0, 3000) == pytest.approx(3 / 3000, rel=0.01)
    assert binomial_upper_bound(5, 5) == 1.0


def test_large_counts_match_a_normal_approximation() -> None:
    # 260 871 impostor pairs (the East Asian set): where the normal approximation is good the
    # exact bound must agree with it, and must never be below the point estimate.
    n, k = 260_871, 15_700
    p = k / n
    normal = p + 1.6448536 * math.sqrt(p * (1 - p) / n)
    assert fmr_upper_bound(k, n) == pytest.approx(normal, rel=2e-3)
    assert fmr_upper_bound(130, n) > 130 / n


def test_bound_grows_with_errors_and_shrinks_with_trials() -> None:
    bounds = [fmr_upper_bound(k, 10_000) for k in range(0, 30)]
    assert all(a < b for a, b in itertools.pairwise(bounds))
    assert fmr_upper_bound(5, 1000) > fmr_upper_bound(50, 10_000) > fmr_upper_bound(500, 100_000)


@pytest.mark.parametrize(("k", "n", "confidence"), [(-1, 10, 0.95), (11, 10, 0.95),
                                                    (0, 0, 0.95), (1, 10, 1.0), (1, 10, 0.0)])
def test_bad_arguments_are_refused(k: int, n: int, confidence: float) -> None:
    with pytest.raises(ValueError):
        binomial_upper_bound(k, n, confidence)


def test_min_pairs_is_the_fewest_that_can_prove_the_target() -> None:
    for target in (1e-2, 1e-3, 2e-3, 1e-4):
        n = min_pairs(target)
        assert fmr_upper_bound(0, n) <= target < fmr_upper_bound(0, n - 1)
    assert min_pairs(1e-3) == 2995  # ≈ 3/target, the rule of three


def test_threshold_meets_the_target_on_its_bound() -> None:
    rng = np.random.default_rng(14)
    impostors = rng.uniform(0.0, 1.0, 50_000)
    result = threshold_for_fmr_bound(impostors, 2e-3)
    accepted = int((impostors <= result.threshold).sum())
    assert accepted == result.false_matches
    assert result.fmr_upper <= 2e-3
    # The largest such threshold: accepting the next impostor pair breaks the bound.
    next_pair = np.sort(impostors)[accepted]
    assert fmr_upper_bound(int((impostors <= next_pair).sum()), len(impostors)) > 2e-3
    assert accepted == max_false_matches(len(impostors), 2e-3)
    # The point estimate alone would have accepted more (the bound costs genuine matches).
    assert accepted < 2e-3 * len(impostors)


def test_ties_at_the_threshold_are_all_rejected() -> None:
    # Distances repeat (the same photo pair seen twice, rounding): a tie straddling the
    # allowed count must not slip extra pairs under the threshold.
    k = max_false_matches(10_000, 1e-3)
    impostors = np.concatenate([np.full(k, 0.1), np.full(5, 0.2),
                                np.linspace(0.5, 1, 10_000 - k - 5)])
    result = threshold_for_fmr_bound(impostors, 1e-3)
    assert result.threshold < 0.2
    assert result.false_matches == k
    assert result.fmr_upper <= 1e-3


def test_failures_to_acquire_count_as_rejected_pairs() -> None:
    impostors = np.concatenate([np.full(4000, np.inf), np.linspace(0.5, 1.0, 1000)])
    result = threshold_for_fmr_bound(impostors, 1e-3)
    assert result.pairs == 5000
    assert result.fmr_upper <= 1e-3


def test_too_few_pairs_is_refused_with_the_number_needed() -> None:
    with pytest.raises(TooFewPairs) as caught:
        threshold_for_fmr_bound(np.linspace(0.4, 1.0, 2000), 1e-3)
    assert caught.value.context["needed"] == 2995
    assert caught.value.context["pairs"] == 2000
    catalog = Catalog.load()
    text = caught.value.both(catalog)
    assert "2995" in text and "2000" in text
    assert caught.value.text(catalog, "vi") != caught.value.text(catalog, "en")

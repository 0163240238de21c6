"""The FMR bound and the population calibration built on it (pure numbers, no store)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from biometrics.bounds import fmr_upper_bound, max_false_matches, min_pairs
from biometrics.population import (
    TooFewPairs,
    calibrate_population,
    drift_check,
    impostor_tail,
    tail_size,
    threshold_for_bound,
)


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X ≤ k), X ~ Binomial(n, p), summed exactly in rationals: the direct computation."""
    q = Fraction(p)
    return float(sum(math.comb(n, i) * q**i * (1 - q)**(n - i) for i in range(k + 1)))


@pytest.mark.parametrize(("k", "n"), [(0, 3000), (0, 50), (1, 3000), (3, 1000), (12, 4000),
                                      (40, 40)])
def test_the_upper_bound_is_where_the_binomial_tail_reaches_five_percent(k: int, n: int) -> None:
    upper = fmr_upper_bound(k, n)
    if k == n:
        assert upper == 1.0
        return
    # Clopper–Pearson, one-sided 95 %: seeing at most k is exactly 5 % likely at the bound…
    assert _binom_cdf(k, n, upper) == pytest.approx(0.05, rel=1e-6)
    # …and more likely at any smaller rate, so no smaller bound would do.
    assert _binom_cdf(k, n, upper * (1 - 1e-4)) > 0.05
    assert upper > k / n


def test_zero_false_matches_need_about_three_over_the_target() -> None:
    # The rule of three: 1 − 0.05^(1/n) ≤ 1e-3 first holds at n = 2995.
    assert min_pairs(1e-3) == 2995
    assert fmr_upper_bound(0, 2995) <= 1e-3 < fmr_upper_bound(0, 2994)
    assert max_false_matches(2994, 1e-3) == -1
    k = max_false_matches(100_000, 1e-3)
    assert fmr_upper_bound(k, 100_000) <= 1e-3 < fmr_upper_bound(k + 1, 100_000)


@pytest.mark.parametrize("pairs", [1, 50, 299, 300, 2994, 2995, 3000, 10_000, 123_457])
@pytest.mark.parametrize("target", [1e-3, 1e-2, 0.1])
def test_the_one_pass_count_of_allowed_false_matches_is_the_bisections(pairs: int,
                                                                       target: float) -> None:
    from biometrics.population import allowed_false_matches

    assert allowed_false_matches(pairs, target) == max_false_matches(pairs, target)


def _people(n: int, seed: int = 7) -> tuple[np.ndarray, list[str]]:
    """Stand-ins for descriptors (never faces): unit vectors in 16 of 128 dimensions, so that
    impostor distances spread from ~0.6 to 2 as real ones do."""
    rng = np.random.default_rng(seed)
    v = np.zeros((n, 128), np.float32)
    v[:, :16] = rng.standard_normal((n, 16))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v, [f"{i:012d}" for i in range(n)]


def _all_impostor_distances(v: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.clip(2 - 2 * (v.astype(np.float64) @ v.T.astype(np.float64)), 0, None))
    return np.sort(d[np.triu_indices(len(v), 1)])


def test_the_streamed_tail_is_the_smallest_distances_of_all_pairs() -> None:
    v, ids = _people(300)
    full = _all_impostor_distances(v)
    tail = impostor_tail(v, ids, keep=200, block=64)  # many blocks, each trimmed
    assert tail.pairs == len(full) == 300 * 299 // 2
    np.testing.assert_allclose(tail.smallest, full[:200], atol=1e-6)
    # Reference against probes: ordered pairs of different IDs only.
    cross = impostor_tail(v[:10], ids[:10], v[:20], ids[:20], keep=10_000)
    assert cross.pairs == 10 * 20 - 10 and cross.complete


def test_the_threshold_meets_the_bound_and_one_more_false_match_would_not() -> None:
    v, ids = _people(300)
    full = _all_impostor_distances(v)
    target = 1e-3
    tail = impostor_tail(v, ids, keep=tail_size(len(full), target))
    threshold, k = threshold_for_bound(tail, target)
    accepted = int(np.searchsorted(full, threshold, side="right"))
    assert accepted == k
    assert fmr_upper_bound(k, len(full)) <= target < fmr_upper_bound(k + 1, len(full))
    assert full[k] > threshold  # the next impostor pair is refused


def test_too_few_impostor_pairs_are_refused_with_the_number_needed() -> None:
    v, ids = _people(60)  # 1770 pairs < 2995
    tail = impostor_tail(v, ids, keep=100)
    genuine = np.full(50, 0.3)
    with pytest.raises(TooFewPairs) as caught:
        calibrate_population(tail, genuine, target_fmr=1e-3, source="test")
    assert caught.value.context["needed"] == 2995
    assert caught.value.context["have"] == 1770
    assert caught.value.key == "face.population.too_few_impostor_pairs"


def test_too_few_genuine_pairs_are_refused() -> None:
    v, ids = _people(100)
    tail = impostor_tail(v, ids, keep=1000)
    with pytest.raises(TooFewPairs) as caught:
        calibrate_population(tail, np.full(5, 0.3), target_fmr=1e-2, source="test")
    assert caught.value.context["kind"] == "genuine"


def test_calibration_reports_fnmr_with_its_bound_and_drift_is_seen() -> None:
    v, ids = _people(120)
    n = 120 * 119 // 2
    tail = impostor_tail(v, ids, keep=tail_size(n, 1e-2))
    rng = np.random.default_rng(1)
    genuine = np.sort(rng.uniform(0.2, 1.2, 200))
    result = calibrate_population(tail, genuine, target_fmr=1e-2, source="centre population")
    p = result.point
    assert p.review_low <= p.threshold <= p.review_high
    assert result.fmr.upper <= 1e-2
    misses = int((genuine > p.threshold).sum())
    assert (result.fnmr.errors, result.fnmr.pairs) == (misses, 200)
    assert result.fnmr.upper == pytest.approx(fmr_upper_bound(misses, 200))
    # The same threshold on the same data holds; on a population where impostors come closer
    # (every distance shrunk by 15 %) it no longer does.
    assert not drift_check(tail, genuine, p.threshold, 1e-2).drifted
    closer = impostor_tail(v, ids, keep=tail_size(n, 1e-2))
    closer = type(closer)(closer.pairs, closer.smallest * 0.85, closer.complete)
    assert drift_check(closer, genuine, p.threshold, 1e-2).drifted


def test_every_calibration_message_is_in_both_languages() -> None:
    from examdesk.i18n import Catalog

    catalog = Catalog.load()
    for key in ("face.population.too_few_impostor_pairs",
                "face.population.too_few_genuine_pairs", "face.population.no_calibration",
                "face.population.drifted", "face.population.holds", "face.population.saved",
                "face.population.sent", "app.checkin.point_default",
                "app.checkin.point_calibrated", "sync.face_calibration_received"):
        entry = catalog.messages.get(key)
        assert entry is not None and entry.get("vi") and entry.get("en"), key


def test_the_trade_off_says_what_each_target_costs() -> None:
    from biometrics.population import tradeoff

    v, ids = _people(120)
    n = 120 * 119 // 2
    tail = impostor_tail(v, ids, keep=n)  # every distance: the direct count below is exact
    genuine = np.sort(np.random.default_rng(2).uniform(0.2, 1.2, 200))
    rows = {t.target_fmr: t for t in tradeoff(tail, genuine)}
    assert rows[1e-4].threshold is None and rows[1e-4].needed == min_pairs(1e-4)
    row = rows[1e-2]
    point = calibrate_population(tail, genuine, target_fmr=1e-2, source="x").point
    assert row.threshold == point.threshold
    inside = ((genuine >= point.review_low) & (genuine < point.review_high)).mean()
    assert row.genuine_review == pytest.approx(inside)
    assert row.genuine_refused == pytest.approx((genuine >= point.review_high).mean())
    assert row.impostor_admitted == pytest.approx(
        (tail.smallest < point.review_low).sum() / n)
    # A stricter target sends more genuine candidates past the MATCH edge.
    assert rows[1e-3].threshold is not None and rows[1e-3].threshold <= row.threshold

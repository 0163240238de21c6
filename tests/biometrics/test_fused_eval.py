"""``face fuse`` calibrates dlib and the fused score by the FMR's 95 % upper bound (issue 14),
as every other calibration does, and reports the held-out half with exact counts and bounds."""

from __future__ import annotations

import numpy as np
import pytest

from biometrics.bounds import TooFewPairs, binomial_upper_bound, fmr_upper_bound
from biometrics.fused_eval import TwoEmbedders, calibrate_fusion


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _data(people: int, seed: int = 4) -> TwoEmbedders:
    rng = np.random.default_rng(seed)
    labels = [f"p{i:03d}" for i in range(people) for _ in range(2)]
    base = np.zeros((people, 128))
    base[:, :16] = rng.standard_normal((people, 16))
    other = rng.standard_normal((people, 32))
    dlib = np.repeat(base, 2, axis=0)
    refs = _unit(dlib + np.pad(rng.normal(0, 0.35, (len(labels), 16)), ((0, 0), (0, 112))))
    probes = _unit(dlib + np.pad(rng.normal(0, 0.35, (len(labels), 16)), ((0, 0), (0, 112))))
    second = _unit(np.repeat(other, 2, axis=0) + rng.normal(0, 0.4, (len(labels), 32)))
    return TwoEmbedders(labels, refs.astype(np.float32), probes.astype(np.float32),
                        second.astype(np.float32), np.ones(len(labels), bool), 0.0)


def test_points_are_set_by_the_bound_and_measured_with_exact_counts() -> None:
    report = calibrate_fusion(_data(160), 1e-3)
    for point in (report.fused_point, report.dlib.point):
        # The bound rule: admitted outright up to the threshold (REVIEW starts there).
        assert point.review_low == point.threshold <= point.review_high
    assert "first half" in report.fused_point.source
    for m in (report.dlib, report.fused):
        assert m.impostor_pairs > 0 and m.genuine_pairs == 80
        assert m.fmr == m.false_matches / m.impostor_pairs
        assert m.fmr_upper == fmr_upper_bound(m.false_matches, m.impostor_pairs)
        assert m.fnmr == m.false_non_matches / m.genuine_pairs
        assert m.fnmr_upper == binomial_upper_bound(m.false_non_matches, m.genuine_pairs)
        assert {"fnmr_upper", "false_matches"} <= set(m.to_dict())


def test_too_few_pairs_to_prove_the_target_is_refused() -> None:
    # 20 people: 10 in the fitting half, 190 pairs of photos, 180 impostor pairs < 2 995.
    with pytest.raises(TooFewPairs) as caught:
        calibrate_fusion(_data(20), 1e-3)
    assert caught.value.context["needed"] == 2995

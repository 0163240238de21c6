"""AS-norm: the desk's one-pair score equals the evaluation's matrix, the candidate is never
in his own cohort, a small cohort falls back to the raw distance, and the held-out evaluation
counts every pair once."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from biometrics.asnorm import (
    ASNORM_POINT,
    AsNormSettings,
    Cohort,
    as_norm_distance,
    as_norm_matrix,
    top_for,
    verify_as_norm,
)
from biometrics.asnorm_eval import heldout_asnorm, person_halves
from biometrics.bulk import EncodedSet
from biometrics.config import FaceSettings, OperatingPoint
from biometrics.decision import FaceOutcome, compare


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _people(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 128))
    x[:, :16] = rng.standard_normal((n, 16))
    return _unit(x)


def _cohort(n: int, seed: int = 1, prefix: str = "c") -> Cohort:
    return Cohort(tuple(f"{prefix}{i:04d}" for i in range(n)), _people(n, seed))


def test_one_pair_equals_the_matrix_for_a_genuine_pair() -> None:
    cohort = _cohort(60)
    rng = np.random.default_rng(5)
    ref = _unit(np.concatenate([rng.standard_normal(16), np.zeros(112)]))
    probe = _unit(ref + rng.normal(0, 0.05, 128))
    desk = as_norm_distance(ref, probe, cohort, "cand", min_cohort=10)
    matrix = as_norm_matrix(ref[None], ["cand"], probe[None], ["cand"], cohort.vectors,
                            cohort.ids)
    assert desk is not None
    assert desk == pytest.approx(float(matrix[0, 0]), abs=1e-9)


def test_the_candidates_own_portrait_is_left_out_of_his_cohort() -> None:
    """A genuine probe's look-alikes must not include the candidate's own chip portrait (it
    would be the nearest, raising the probe's mean and pushing a genuine pair to refusal)."""
    cohort = _cohort(60)
    rng = np.random.default_rng(6)
    ref = _unit(np.concatenate([rng.standard_normal(16), np.zeros(112)]))
    probe = _unit(ref + rng.normal(0, 0.05, 128))
    with_self = Cohort((*cohort.ids, "cand"), np.vstack([cohort.vectors, ref]))
    left_out = as_norm_distance(ref, probe, with_self, "cand", min_cohort=10)
    # Exactly the score against the cohort without that portrait (the ID number decides).
    assert left_out == as_norm_distance(ref, probe, cohort, "cand", min_cohort=10)
    plain = verify_as_norm(compare(ref, [probe], OperatingPoint()), ref, [probe], with_self,
                           "cand", AsNormSettings(min_cohort=10))
    assert plain.cohort == 60
    # Had it stayed in, the score would differ (the pair would look worse).
    kept = -as_norm_matrix(ref[None], ["x"], probe[None], ["x"], with_self.vectors,
                           with_self.ids)[0, 0]
    assert left_out is not None and -left_out > kept


def test_too_small_a_cohort_falls_back_to_the_raw_distance() -> None:
    cohort = _cohort(40)
    ref, probe = _people(2, 7)
    raw = compare(ref, [probe], OperatingPoint())
    out = verify_as_norm(raw, ref, [probe], cohort, "cand", AsNormSettings(min_cohort=41))
    assert out.method == "distance" and out.cohort == 40 and out.score is None
    assert out.decision is raw.decision and out.distance == raw.distance
    # The candidate's own portraits do not count towards the minimum.
    own = Cohort((*cohort.ids, "cand"), np.vstack([cohort.vectors, ref]))
    assert verify_as_norm(raw, ref, [probe], own, "cand",
                          AsNormSettings(min_cohort=41)).method == "distance"
    assert verify_as_norm(raw, ref, [probe], cohort, "cand",
                          AsNormSettings(enabled=False, min_cohort=10)) is raw


def test_the_decision_is_on_the_normalised_score_against_its_point() -> None:
    cohort = _cohort(80)
    ref, other = _people(2, 8)
    raw = compare(ref, [other], OperatingPoint())
    out = verify_as_norm(raw, ref, [other], cohort, "cand", AsNormSettings(min_cohort=10))
    assert out.method == "asnorm" and out.point == ASNORM_POINT and out.cohort == 80
    assert out.score is not None and out.distance == raw.distance
    assert out.accepted is (out.score <= ASNORM_POINT.threshold)
    # A point set from data decides: a threshold just above the score admits, just below not.
    for shift, expected in ((1e-6, FaceOutcome.MATCH), (-1e-6, FaceOutcome.NO_MATCH)):
        t = out.score + shift
        point = OperatingPoint(threshold=t, review_low=t, review_high=t, source="test")
        got = verify_as_norm(raw, ref, [other], cohort, "cand",
                             AsNormSettings(min_cohort=10, point=point))
        assert got.decision is expected
    assert out.to_dict()["method"] == "asnorm"


def test_settings_refuse_impossible_values() -> None:
    assert FaceSettings.from_dict({"asnorm": {"min_cohort": 500}}).asnorm.min_cohort == 500
    assert FaceSettings.from_dict({}).asnorm == AsNormSettings()
    with pytest.raises(ValueError):
        AsNormSettings.from_dict({"top_fraction": 0})
    with pytest.raises(ValueError):
        AsNormSettings.from_dict({"min_cohort": 3})
    with pytest.raises(ValueError):
        AsNormSettings.from_dict({"point": {"threshold": -1.0, "review_low": -2.0,
                                            "review_high": -3.0}})
    assert top_for(360) == 50 and top_for(20) == 10


def _encoded(people: int, seed: int) -> EncodedSet:
    """Synthetic descriptors: every person one photo, every third a second one nearby."""
    base = _people(people, seed)
    rng = np.random.default_rng(seed + 1)
    labels, refs, probes = [], [], []
    for i, v in enumerate(base):
        for _ in range(2 if i % 3 == 0 else 1):
            labels.append(f"p{i:03d}")
            refs.append(_unit(v + rng.normal(0, 0.08, 128) * (np.arange(128) < 16)))
            probes.append(_unit(v + rng.normal(0, 0.08, 128) * (np.arange(128) < 16)))
    n = len(labels)
    return EncodedSet(labels, np.asarray(refs, np.float32), np.asarray(probes, np.float32),
                      np.ones(n, bool), ["hog"] * n, 0.0)


def test_heldout_counts_every_pair_of_a_half_once() -> None:
    enc = _encoded(180, 3)
    report = heldout_asnorm(enc, seed=2)
    assert report is not None
    a, b = person_halves(enc.labels, 2)
    lab = np.asarray(enc.labels)

    def counts(idx: np.ndarray) -> tuple[int, int]:
        same = int(sum((lab[idx][i] == lab[idx][i + 1:]).sum() for i in range(len(idx))))
        return same, len(idx) * (len(idx) - 1) // 2 - same

    genuine = counts(a)[0] + counts(b)[0]
    impostor = counts(a)[1] + counts(b)[1]
    names = [r.method for r in report.rows]
    assert names == ["raw distance", "AS-norm"]
    for row in report.rows:
        assert row.impostor_pairs == impostor and row.genuine_pairs == genuine
        d = row.to_dict()
        assert d["fmr_upper95"] >= d["fmr"]
    assert "minimum cohort" in report.note  # 90 portraits a half: the desk would use raw
    assert dataclasses.asdict(report.rows[0])["method"] == "raw distance"

"""Two challenges by one person: the second check reuses the identity check's descriptors of
each first evidence frame instead of encoding them again, with the same numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biometrics import Challenge, FaceEngine, FileCamera, LivenessCheck
from biometrics.images import RgbImage
from biometrics.liveness import run_plan


class _Counting(FaceEngine):
    """The session's engine, counting the chips it is asked to describe."""

    def __init__(self, inner: FaceEngine) -> None:
        super().__init__(inner.settings)
        self.inner = inner
        self.described = 0

    def detect(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self.inner.detect(*args, **kwargs)

    def landmarks(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self.inner.landmarks(*args, **kwargs)

    def chip(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self.inner.chip(*args, **kwargs)

    def describe(self, chip: RgbImage):  # type: ignore[no-untyped-def]
        self.described += 1
        return self.inner.describe(chip)

    def describe_many(self, chips: list[RgbImage]):  # type: ignore[no-untyped-def]
        self.described += len(chips)
        return self.inner.describe_many(chips)


def test_the_second_challenge_reuses_the_first_evidence_descriptors(
        engine: FaceEngine, faces: Path) -> None:
    counting = _Counting(engine)
    live = LivenessCheck(counting)
    shots = [faces / "orl/s27" / f"{n}.png" for n in (1, 5, 7, 2, 6, 3, 4, 8)]
    camera = FileCamera(shots, loop=False, frame_size=(1280, 720))
    verdict = run_plan(live, camera, (Challenge.BLINK, Challenge.BLINK), 4)
    assert verdict.passed and len(verdict.previous) == 1
    both = (verdict.previous[0], verdict)
    # Only the identity checks' own samples were described: nothing twice.
    assert counting.described == sum(len(v.identity) for v in both)
    for v in both:
        first = v.evidence[0]
        chip = next(m.chip for m in v.measurements if m.index == first)
        assert chip is not None
        kept = v.descriptor(first)
        assert kept is not None and np.array_equal(kept, engine.describe(chip))
        assert len(v.identity_frames) == len(v.identity)
    assert verdict.descriptor(-1) is None

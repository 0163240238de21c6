"""The demo's right person passes the blink from whichever photo the looping camera shows
first: the desk's check-in starts at an arbitrary point of the loop."""

from __future__ import annotations

import pytest

from biometrics import Challenge, FaceEngine, FileCamera
from biometrics.liveness import LivenessCheck
from examdesk.demo import FRAME_SIZE, Scenario, demo_cards


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    e = FaceEngine()
    e.load()
    return e


def test_the_right_persons_blink_passes_from_every_starting_photo(engine: FaceEngine) -> None:
    photos = demo_cards()[Scenario.RIGHT_PERSON].photos
    failed = []
    for start in range(len(photos)):
        camera = FileCamera(list(photos), loop=True, frame_size=FRAME_SIZE)
        for _ in range(start):
            camera.read()
        verdict = LivenessCheck(engine).run(camera, Challenge.BLINK)
        if not verdict.passed:
            failed.append((start, verdict.reason))
    assert failed == []

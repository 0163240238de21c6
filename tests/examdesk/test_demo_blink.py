"""The demo's right person passes the blink from whichever photo the looping camera shows
first: the desk's check-in starts at an arbitrary point of the loop, and reads the newest
frame, skipping those that went by while it measured the last one."""

from __future__ import annotations

import random

import numpy as np
import pytest

import biometrics.continuity as C
from biometrics import Camera, Challenge, FaceEngine, FileCamera, Frame
from biometrics.liveness import LivenessCheck
from examdesk.demo import FRAME_SIZE, Scenario, demo_camera, demo_cards


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


class Busy:
    """A reader that is sometimes slower than the camera: it gets the newest frame, 1 to 3
    frames on (the desk's frame hub hands out the newest, never a backlog)."""

    def __init__(self, camera: Camera, rng: random.Random) -> None:
        self.camera, self.rng = camera, rng

    def read(self, timeout: float = 2.0) -> Frame:
        for _ in range(self.rng.randint(1, 3) - 1):
            self.camera.read(timeout)
        return self.camera.read(timeout)

    def close(self) -> None:
        self.camera.close()


def test_a_still_shown_again_by_the_demo_camera_is_not_a_frozen_picture() -> None:
    photos = demo_cards()[Scenario.RIGHT_PERSON].photos
    assert demo_camera(photos).sensor_noise
    camera = FileCamera([photos[0]], loop=True, frame_size=FRAME_SIZE, sensor_noise=True)
    a, b = camera.read().image, camera.read().image
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    assert 0 < diff.mean() < 2 and diff.max() <= 2  # a webcam's noise floor, no more
    assert all(diff[:, :, c].mean() > 0.5 for c in range(3))  # in every channel
    box = (500, 200, 700, 400)
    landmarks = np.array([[520.0, 220.0], [680.0, 380.0]])
    limits = C.ContinuityLimits()
    assert not C.same_picture(C.sample(a, box, landmarks), C.sample(b, box, landmarks), limits)
    plain = FileCamera([photos[0]], loop=True, frame_size=FRAME_SIZE)
    c, d = plain.read().image, plain.read().image
    assert C.same_picture(C.sample(c, box, landmarks), C.sample(d, box, landmarks), limits)


def test_the_right_persons_blink_passes_for_a_busy_reader(engine: FaceEngine) -> None:
    """Before the sensor noise, 6 of 12 such readers (seeds 0–11) failed: the loop came round
    before they saw a closed shot, and a picture seen again bit for bit is a frozen feed."""
    photos = demo_cards()[Scenario.RIGHT_PERSON].photos
    failed = []
    for trial in range(6):
        camera = FileCamera(list(photos), loop=True, frame_size=FRAME_SIZE, sensor_noise=True,
                            seed=trial)
        for _ in range(trial):
            camera.read()
        verdict = LivenessCheck(engine).run(Busy(camera, random.Random(trial)), Challenge.BLINK)
        if not verdict.passed:
            failed.append((trial, verdict.reason))
    assert failed == []

"""Liveness on real ORL shots: a blink and a head turn pass, a photo held up to the camera fails."""

from __future__ import annotations

import random
from collections.abc import Callable

import cv2
import numpy as np
import pytest

from biometrics import Challenge, FaceEngine, LivenessCheck
from biometrics.images import RgbImage
from biometrics.liveness import FrameMeasurement, judge

Photo = Callable[[str], RgbImage]


@pytest.fixture(scope="module")
def liveness(engine: FaceEngine) -> LivenessCheck:
    # ORL frames are 92×112: search them as photos (the live profile is tuned for 720p).
    return LivenessCheck(engine, detection=engine.settings.still)


def seq(photo: Photo, *names: str) -> list[RgbImage]:
    return [photo(f"orl/{n}.png") for n in names]


def test_closed_eye_shots_measure_as_closed(liveness: LivenessCheck, photo: Photo) -> None:
    open_, closed = liveness.limits.open_eyes, liveness.limits.closed_eyes
    for n in ("s27/5", "s27/6", "s27/9"):
        assert liveness.measure(photo(f"orl/{n}.png"), 0).eye_aspect <= closed, n
    for n in ("s27/1", "s27/2", "s27/3", "s27/7", "s27/10"):
        assert liveness.measure(photo(f"orl/{n}.png"), 0).eye_aspect >= open_, n


def test_blink_passes_with_evidence(liveness: LivenessCheck, photo: Photo) -> None:
    frames = seq(photo, "s27/1", "s27/2", "s27/6", "s27/9", "s27/3")
    verdict = liveness.check(Challenge.BLINK, frames)
    assert verdict.passed, verdict.details
    opened, closed, reopened = verdict.evidence
    assert opened < closed < reopened
    m = {x.index: x for x in verdict.measurements}
    assert m[closed].eye_aspect < 0.15 < m[opened].eye_aspect
    assert len(verdict.measurements) == 5 and all(x.found for x in verdict.measurements)


def test_eyes_that_only_close_do_not_blink(liveness: LivenessCheck, photo: Photo) -> None:
    assert not liveness.check(Challenge.BLINK, seq(photo, "s27/1", "s27/2", "s27/6")).passed


def test_turn_left_passes_and_turn_right_does_not(liveness: LivenessCheck, photo: Photo) -> None:
    # Frontal (-6°), on the way (7.5°), turned (33°): a head turning passes through the angles
    # in between (before continuity two shots, frontal and turned, were enough).
    frames = seq(photo, "s26/7", "s26/9", "s26/5")
    left = liveness.check(Challenge.TURN_LEFT, frames)
    assert left.passed and left.evidence == (0, 2)
    m = left.measurements
    assert abs(m[0].yaw) < 12 and m[2].yaw > 15  # the candidate's left: nose to image right
    assert left.details["identity_spread"] < 0.42
    right = liveness.check(Challenge.TURN_RIGHT, frames)
    assert not right.passed and right.reason == "face.liveness.no_turn"
    # The same shots mirrored (a mirrored camera) turn the other way.
    mirrored = [np.ascontiguousarray(f[:, ::-1]) for f in frames]
    assert liveness.check(Challenge.TURN_RIGHT, mirrored).passed


def test_turning_back_to_face_the_camera_also_counts(liveness: LivenessCheck,
                                                     photo: Photo) -> None:
    verdict = liveness.check(Challenge.TURN_LEFT, seq(photo, "s26/5", "s26/9", "s26/7"))
    assert verdict.passed and verdict.evidence == (0, 2)
    assert not liveness.check(Challenge.TURN_RIGHT, seq(photo, "s26/5", "s26/9", "s26/7")).passed


def test_a_jump_from_a_frontal_photo_to_a_turned_one_is_a_cut(liveness: LivenessCheck,
                                                              photo: Photo) -> None:
    # Issue 15: two photos, frontal then turned, "turned the head". Nothing in between.
    for frames in (seq(photo, "s26/7", "s26/5"), seq(photo, "s26/7", "s26/7", "s26/5")):
        verdict = liveness.check(Challenge.TURN_LEFT, frames)
        assert not verdict.passed and verdict.reason == "face.liveness.cut"


@pytest.mark.parametrize("challenge", list(Challenge))
def test_a_held_up_photo_fails_every_challenge(liveness: LivenessCheck, photo: Photo,
                                               challenge: Challenge) -> None:
    still = photo("orl/s27/1.png")
    verdict = liveness.check(challenge, [still] * 8)
    assert not verdict.passed and verdict.evidence == ()
    # The same picture again and again: said as such (it was "no blink"/"no turn" before
    # continuity; a frozen picture is the more useful reason for the invigilator).
    assert verdict.reason == "face.liveness.frozen"
    assert verdict.details["ear_max"] - verdict.details["ear_min"] < 1e-9


@pytest.mark.parametrize("challenge", list(Challenge))
def test_a_photo_moved_slightly_in_front_of_the_camera_fails(
        liveness: LivenessCheck, photo: Photo, challenge: Challenge) -> None:
    # A print held in a hand: shifted a pixel or two, slightly scaled and rotated, lit a
    # little differently from frame to frame.
    still = photo("orl/s26/7.png")
    rng = np.random.default_rng(11)
    frames = []
    for _ in range(10):
        angle, scale = rng.uniform(-2, 2), rng.uniform(0.98, 1.02)
        m = cv2.getRotationMatrix2D((46, 56), angle, scale)
        m[:, 2] += rng.uniform(-2, 2, 2)
        moved = cv2.warpAffine(still, m, (92, 112), borderMode=cv2.BORDER_REPLICATE)
        frames.append(np.clip(moved.astype(np.int16) + rng.integers(-4, 5), 0, 255)
                      .astype(np.uint8))
    assert not liveness.check(challenge, frames).passed


def test_challenges_are_drawn_from_all_three() -> None:
    rng = random.Random(1)
    assert {Challenge.random(rng) for _ in range(60)} == set(Challenge)
    assert Challenge.random() in set(Challenge)
    assert Challenge.BLINK.key == "face.challenge.blink"


def test_a_face_that_jumps_is_another_face() -> None:
    def m(i: int, ear: float, x: float) -> FrameMeasurement:
        return FrameMeasurement(i, True, ear, 0.0, 0.0, 0.0, (x, 100.0), 100)

    # Open eyes on one person, closed on someone at the other side of the frame: no blink.
    frames = [m(0, 0.3, 100), m(1, 0.05, 600), m(2, 0.3, 100)]
    assert not judge(Challenge.BLINK, frames).passed
    assert judge(Challenge.BLINK, [m(0, 0.3, 100), m(1, 0.05, 110), m(2, 0.3, 105)]).passed


def test_no_face_in_the_sequence(engine: FaceEngine, photo: Photo) -> None:
    blank = np.ascontiguousarray(photo("people/person10/img67.jpg")[0:250, 0:500])
    verdict = LivenessCheck(engine).check(Challenge.BLINK, [blank] * 3)
    assert not verdict.passed and verdict.reason == "face.liveness.no_face"
    assert all(m.error == "face.no_face" for m in verdict.measurements)

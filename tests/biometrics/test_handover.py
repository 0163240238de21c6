"""The hand-over (issue 15): the face compared with the chip is the face that did the
challenge. A live accomplice doing the challenge, then the candidate (a photo, or another
person) in front of the camera for the face capture, is refused with the reason.

Real ORL photos played through the real file camera: the challenge, then the capture, from
one camera, as the check-in reads them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from biometrics import Challenge, FileCamera, LivenessCheck, collect
from biometrics import continuity as C
from biometrics import handover as H
from biometrics.camera import Frame
from biometrics.images import fit_frame, load
from biometrics.liveness import LivenessVerdict


def _orl(faces: Path, person: str, shots: tuple[int, ...]) -> list[Path]:
    return [faces / "orl" / person / f"{n}.png" for n in shots]


def challenge_then_capture(live: LivenessCheck, frames: list[Path]) -> tuple[LivenessVerdict,
                                                                            LivenessVerdict]:
    """The blink on the camera's first frames, then the face capture on the frames that follow
    (as ``CheckInService`` does): the challenge's verdict, and the verdict after the hand-over."""
    camera = FileCamera(frames, loop=True, frame_size=(1280, 720))
    try:
        verdict = live.run(camera, Challenge.BLINK, frames=10)
        hand = H.HandOver(verdict, live.limits)
        probes = collect(live.engine, camera, on_face=hand.see)
    finally:
        camera.close()
    return verdict, hand.judge(probes)


def test_one_person_from_the_challenge_to_the_capture_passes(live: LivenessCheck,
                                                             faces: Path) -> None:
    verdict, after = challenge_then_capture(live, _orl(faces, "s27", (1, 5, 7, 2, 3, 4, 8)))
    assert verdict.passed and after.passed, after.reason
    assert after.details["handover_distance"] < C.ContinuityLimits().max_identity_distance
    assert after.details["handover_breaks"] == 0


def test_an_accomplice_blinks_then_another_person_is_compared(live: LivenessCheck,
                                                              faces: Path) -> None:
    # s27 does the challenge; s12 (the chip holder, say) sits down in the same place for the
    # capture. ORL's framing is the same for everyone, so nothing jumps: the faces' descriptors
    # tell them apart (0.50 apart, one person's frames: under 0.42).
    frames = _orl(faces, "s27", (1, 5, 7)) + _orl(faces, "s12", (1, 2, 3, 4, 5, 6))
    verdict, after = challenge_then_capture(live, frames)
    assert verdict.passed  # the challenge alone is done by a live person ...
    assert not after.passed and after.reason == H.OTHER_PERSON  # ... but not the one compared
    assert after.details["handover_distance"] > C.ContinuityLimits().max_identity_distance


def test_an_accomplice_blinks_then_a_photo_is_held_up(live: LivenessCheck, faces: Path) -> None:
    frames = _orl(faces, "s27", (1, 5, 7)) + _orl(faces, "s12", (1,)) * 8
    verdict, after = challenge_then_capture(live, frames)
    assert verdict.passed
    assert not after.passed and after.reason == H.BROKEN
    assert after.details["handover_frozen"] == 1.0  # the same picture again and again


def test_a_face_missing_longer_than_the_gap_breaks_the_hand_over(live: LivenessCheck,
                                                                  faces: Path) -> None:
    verdict, _ = challenge_then_capture(live, _orl(faces, "s27", (1, 5, 7, 2, 3, 4, 8)))
    # As a webcam would have timed it (the file camera is not paced: its frames are untimed).
    verdict = dataclasses.replace(verdict, measurements=tuple(
        dataclasses.replace(m, grabbed=100.0 + m.index / 10) for m in verdict.measurements))
    last = max((m for m in verdict.measurements if m.index in verdict.track),
               key=lambda m: m.index)
    # The next shot of the same person: linked a tenth of a second later, but not after two
    # seconds without a face (whoever did the challenge may have left in between).
    image = fit_frame(load(faces / "orl/s27/2.png"), (1280, 720))
    face = live.engine.detect(image, live.detection)[0]
    marks = live.engine.landmarks(image, face)
    for gap, broken in ((0.1, False), (2.0, True)):
        hand = H.HandOver(verdict, live.limits)
        hand.see(Frame(image, last.index + 1, last.grabbed + gap), face, marks)
        assert bool(hand.breaks) is broken, hand.breaks
        if broken:
            assert hand.breaks[0] == (last.index + 1, H.BROKEN, pytest.approx(gap))

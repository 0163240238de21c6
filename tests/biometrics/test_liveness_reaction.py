"""The reaction time (issue 15): an answer seen before a human could react to the prompt
(< 0.15 s, see ``ContinuityLimits.min_reaction`` for the literature) is a recording already
playing, not an answer; a later answer in the same run still counts.

Pure tests on measurements with times after the prompt, and one through a camera whose
frames carry their grab times (a webcam's ``Frame.timestamp``)."""

from __future__ import annotations

import math
from pathlib import Path

from biometrics import Challenge, FileCamera, LivenessCheck
from biometrics import continuity as C
from biometrics.liveness import judge

from .conftest import Photo, TimedCamera, webcam_frame
from .conftest import measurement as _m


def test_the_floor_is_a_human_reaction_time() -> None:
    assert 0.1 <= C.ContinuityLimits().min_reaction <= 0.2


def test_a_blink_seen_before_anyone_could_react_is_refused() -> None:
    # Closed eyes 80 ms after the prompt: the answer was on its way before the prompt.
    replay = [_m(0, 0.03), _m(1, 0.08, ear=0.05), _m(2, 0.12)]
    verdict = judge(Challenge.BLINK, replay)
    assert not verdict.passed and verdict.reason == C.EARLY
    human = [_m(0, 0.1), _m(1, 0.3, ear=0.05), _m(2, 0.4)]
    assert judge(Challenge.BLINK, human).passed


def test_a_turn_reached_before_anyone_could_react_is_refused() -> None:
    replay = [_m(0, 0.02), _m(1, 0.06, yaw=10.0), _m(2, 0.1, yaw=25.0)]
    verdict = judge(Challenge.TURN_LEFT, replay)
    assert not verdict.passed and verdict.reason == C.EARLY
    human = [_m(0, 0.1), _m(1, 0.25, yaw=10.0), _m(2, 0.4, yaw=25.0)]
    assert judge(Challenge.TURN_LEFT, human).passed


def test_a_blink_too_soon_does_not_hide_a_later_one() -> None:
    # A spontaneous blink just after the prompt, then the asked one: the candidate passes on
    # the second (the first is no evidence).
    frames = [_m(0, 0.02), _m(1, 0.07, ear=0.05), _m(2, 0.12), _m(3, 0.5, ear=0.06),
              _m(4, 0.6)]
    verdict = judge(Challenge.BLINK, frames)
    assert verdict.passed and verdict.evidence[1:] == (3, 4), verdict.reason


def test_frames_without_a_time_are_not_judged_by_it() -> None:
    # A list of images (or an unpaced file camera) has no clock: nothing to time.
    untimed = [_m(0, math.nan), _m(1, math.nan, ear=0.05), _m(2, math.nan)]
    assert judge(Challenge.BLINK, untimed).passed


def test_a_recording_that_blinks_at_once_is_refused_through_the_camera(
        live: LivenessCheck, photo: Photo) -> None:
    frames = [webcam_frame(photo(f"orl/s27/{n}.png")) for n in (1, 5, 7)]
    at_once = live.run(TimedCamera(frames, [10.02, 10.06, 10.1]), Challenge.BLINK, frames=3,
                       prompted_at=10.0)
    assert not at_once.passed and at_once.reason == C.EARLY
    reacted = live.run(TimedCamera(frames, [10.1, 10.25, 10.35]), Challenge.BLINK, frames=3,
                       prompted_at=10.0)
    assert reacted.passed


def test_a_file_camera_is_timed_only_when_paced(faces: Path) -> None:
    shot = [faces / "orl/s27/1.png"]
    assert not FileCamera(shot, loop=True).read().timed  # handed out when asked
    assert FileCamera(shot, loop=True, fps=30).read().timed  # paced like a webcam

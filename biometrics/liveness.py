"""Is a live person in front of the camera, or a photo held up to it?

A random challenge (blink, turn left, turn right) is shown to the candidate; the frames that
follow must show it being done. A print or a phone screen cannot close its eyes, and cannot
turn its head in 3-D; asking for one of three things at random means a prepared video has
to guess. Each frame is measured (eye aspect ratio from the 68 landmarks, head pose from
``cv2.solvePnP``) and the verdict names the frames that prove it, so the invigilator and the
audit log can see why it passed.

Directions are the candidate's own: "turn left" means their left, which in an unmirrored
camera frame moves the nose to the image's right (a positive yaw, see :mod:`geometry`).
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .camera import Camera
from .config import Detection
from .engine import FaceEngine
from .errors import BiometricsError
from .faces import the_face
from .geometry import eyes_aspect_ratio, head_pose
from .images import RgbImage


class Challenge(enum.Enum):
    BLINK = "blink"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"

    @property
    def key(self) -> str:
        """Message key of the instruction to show ("Ask the candidate to blink")."""
        return f"face.challenge.{self.value}"

    @classmethod
    def random(cls, rng: random.Random | None = None) -> Challenge:
        # SystemRandom by default: a proxy must not be able to predict the next challenge.
        return (rng or random.SystemRandom()).choice(list(cls))


@dataclass(frozen=True, slots=True)
class Limits:
    open_eyes: float = 0.18
    """EAR at or above which the eyes count as open."""
    closed_eyes: float = 0.15
    """EAR at or below which they count as closed (ORL's closed-eye shots: 0.05–0.12)."""
    closed_ratio: float = 0.75
    """A closed frame must also be below this fraction of the open frames' EAR around it, so a
    squinting candidate with small eyes blinks by their own measure."""
    frontal_yaw: float = 12.0
    turned_yaw: float = 15.0
    """Turned: at least this far (degrees) in the asked direction ..."""
    turn_change: float = 12.0
    """... and at least this much more than in the frontal frame."""
    max_jump: float = 0.6
    """A face moving more than this many face widths between measured frames is another
    face (someone else stepping in): the sequence restarts there."""


@dataclass(frozen=True, slots=True)
class FrameMeasurement:
    index: int
    found: bool
    eye_aspect: float = math.nan
    yaw: float = math.nan
    pitch: float = math.nan
    roll: float = math.nan
    center: tuple[float, float] = (math.nan, math.nan)
    width: int = 0
    error: str = ""
    """Message key when no single face was measured (face.no_face, face.several_faces)."""

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "found": self.found,
                "eye_aspect": _round(self.eye_aspect), "yaw": _round(self.yaw),
                "pitch": _round(self.pitch), "roll": _round(self.roll), "error": self.error}


@dataclass(frozen=True, slots=True)
class LivenessVerdict:
    challenge: Challenge
    passed: bool
    evidence: tuple[int, ...]
    """Frame indices that prove the challenge (open, closed, open / frontal, turned)."""
    measurements: tuple[FrameMeasurement, ...]
    reason: str = ""
    """Message key of why it failed (empty when passed)."""
    details: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"challenge": self.challenge.value, "passed": self.passed,
                "evidence": list(self.evidence), "reason": self.reason,
                "details": self.details,
                "measurements": [m.to_dict() for m in self.measurements]}


def _round(v: float) -> float | None:
    return round(v, 4) if math.isfinite(v) else None


class LivenessCheck:
    """Measures frames with an engine and judges a challenge over them."""

    def __init__(self, engine: FaceEngine, *, detection: Detection | None = None,
                 limits: Limits | None = None) -> None:
        self.engine = engine
        self.detection = detection or engine.settings.live
        self.limits = limits or Limits()

    def measure(self, image: RgbImage, index: int) -> FrameMeasurement:
        faces = self.engine.detect(image, self.detection)
        try:
            face = the_face(faces, self.engine.settings.quality.min_face_px)
        except BiometricsError as exc:
            return FrameMeasurement(index, False, error=exc.key)
        landmarks = self.engine.landmarks(image, face)
        pose = head_pose(landmarks, (image.shape[1], image.shape[0]))
        return FrameMeasurement(index, True, eyes_aspect_ratio(landmarks), pose.yaw, pose.pitch,
                                pose.roll, face.center, face.width)

    def run(self, camera: Camera, challenge: Challenge, frames: int = 30,
            timeout: float = 2.0) -> LivenessVerdict:
        """Read *frames* frames from *camera* and judge *challenge* on them."""
        measured = []
        for _ in range(frames):
            frame = camera.read(timeout)
            measured.append(self.measure(frame.image, frame.index))
            verdict = judge(challenge, measured, self.limits)
            if verdict.passed:  # stop as soon as it is proven: the candidate is waiting
                return verdict
        return judge(challenge, measured, self.limits)

    def check(self, challenge: Challenge, images: Sequence[RgbImage]) -> LivenessVerdict:
        return judge(challenge, [self.measure(im, i) for i, im in enumerate(images)], self.limits)


def judge(challenge: Challenge, measurements: Sequence[FrameMeasurement],
          limits: Limits | None = None) -> LivenessVerdict:
    """Does the sequence show the challenge being done by one face?"""
    limits = limits or Limits()
    ms = tuple(measurements)
    found = [m for m in ms if m.found]
    if len(found) < 2:
        return LivenessVerdict(challenge, False, (), ms, "face.liveness.no_face")
    for track in _tracks(found, limits):
        evidence = (_blink(track, limits) if challenge is Challenge.BLINK
                    else _turn(track, limits, +1 if challenge is Challenge.TURN_LEFT else -1))
        if evidence:
            return LivenessVerdict(challenge, True, evidence, ms, "", _details(ms, evidence))
    reason = ("face.liveness.no_blink" if challenge is Challenge.BLINK
              else "face.liveness.no_turn")
    return LivenessVerdict(challenge, False, (), ms, reason, _spread(found))


def _tracks(found: list[FrameMeasurement], limits: Limits) -> list[list[FrameMeasurement]]:
    """Split into runs where the face stays the same one (no jump across the picture)."""
    tracks: list[list[FrameMeasurement]] = [[found[0]]]
    for m in found[1:]:
        prev = tracks[-1][-1]
        jump = math.dist(m.center, prev.center) / max(1, prev.width)
        if jump > limits.max_jump:
            tracks.append([m])
        else:
            tracks[-1].append(m)
    return tracks


def _blink(track: list[FrameMeasurement], limits: Limits) -> tuple[int, ...]:
    """An open frame, then a closed one, then an open one again."""
    best_open_before: FrameMeasurement | None = None
    for k, m in enumerate(track):
        if m.eye_aspect >= limits.open_eyes:
            if best_open_before is None or m.eye_aspect > best_open_before.eye_aspect:
                best_open_before = m
            continue
        if best_open_before is None or m.eye_aspect > limits.closed_eyes:
            continue
        if m.eye_aspect > limits.closed_ratio * best_open_before.eye_aspect:
            continue
        for after in track[k + 1:]:
            if (after.eye_aspect >= limits.open_eyes
                    and m.eye_aspect <= limits.closed_ratio * after.eye_aspect):
                return (best_open_before.index, m.index, after.index)
    return ()


def _turn(track: list[FrameMeasurement], limits: Limits, sign: int) -> tuple[int, ...]:
    """A frontal frame and a frame turned the asked way (by pose, not by position), in either
    order: facing the camera then turning, or turning back to face it."""
    posed = [m for m in track if math.isfinite(m.yaw)]
    for k, m in enumerate(posed):
        for later in posed[k + 1:]:
            for frontal, turned in ((m, later), (later, m)):
                if abs(frontal.yaw) > limits.frontal_yaw:
                    continue
                away = sign * turned.yaw
                if away >= limits.turned_yaw and away - sign * frontal.yaw >= limits.turn_change:
                    return (m.index, later.index)
    return ()


def _details(ms: tuple[FrameMeasurement, ...], evidence: tuple[int, ...]) -> dict[str, float]:
    by_index = {m.index: m for m in ms}
    out: dict[str, float] = {}
    for n, i in enumerate(evidence):
        m = by_index[i]
        out[f"ear_{n}"] = round(m.eye_aspect, 4)
        out[f"yaw_{n}"] = round(m.yaw, 2)
    return out


def _spread(found: list[FrameMeasurement]) -> dict[str, float]:
    """How much anything moved: near zero for a photo held up to the camera."""
    ears = [m.eye_aspect for m in found]
    yaws = [m.yaw for m in found if math.isfinite(m.yaw)]
    return {"ear_min": round(min(ears), 4), "ear_max": round(max(ears), 4),
            "yaw_min": round(min(yaws), 2) if yaws else math.nan,
            "yaw_max": round(max(yaws), 2) if yaws else math.nan}

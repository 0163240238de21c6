"""Is a live person in front of the camera, or a photo held up to it?

Random challenges (blink, turn left, turn right; two different ones in a random order by
default, see :func:`run_plan`) are shown to the candidate; the frames that follow each must
show it being done, by one continuous presence (:mod:`continuity`): the same face tracked from
frame to frame, moving at a speed a head can, never the same picture twice, and the same
person by embedding distance on a few sampled frames. A sequence of different photos (each
"pose" another still) or a frozen picture fails with that reason, whatever it shows. A print
or a phone screen cannot close its eyes, and cannot turn its head in 3-D; asking in a random
order means a prepared video has to guess. Each frame is measured (eye aspect ratio from the
68 landmarks, head pose from ``cv2.solvePnP``) and the verdict names the frames that prove it,
so the invigilator and the audit log can see why it passed.

Directions are the candidate's own: "turn left" means their left, which in an unmirrored
camera frame moves the nose to the image's right (a positive yaw, see :mod:`geometry`).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import continuity
from .camera import Camera
from .config import Detection
from .continuity import ContinuityLimits, Sample
from .engine import Embedding, FaceEngine
from .errors import BiometricsError
from .faces import the_face
from .geometry import eyes_aspect_ratio, head_pose
from .images import RgbImage

Rng = random.Random  # inside Challenge, "random" is its classmethod


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

    @classmethod
    def plan(cls, count: int, rng: Rng | None = None) -> tuple[Challenge, ...]:
        """*count* different challenges in a random order (blink then turn left, turn right
        then turn left, …): a recording made for one order fails the others."""
        return tuple((rng or random.SystemRandom()).sample(list(cls), max(1, min(count,
                                                                              len(cls)))))


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
    nominal_fps: float = 10.0
    """Frames without a timestamp (a list of images) are taken as this far apart (for the
    speed bound; a busy desk measures 5–15 frames a second)."""
    continuity: ContinuityLimits = field(default_factory=ContinuityLimits)


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
    time: float = math.nan
    """Seconds after the prompt was shown (NaN: not known, see ``Limits.nominal_fps``)."""
    sample: Sample | None = field(default=None, compare=False, repr=False)
    """What the continuity check compares (box, landmarks, fingerprints)."""
    chip: RgbImage | None = field(default=None, compare=False, repr=False)
    """The aligned face, kept so the identity check can encode a few sampled frames."""
    grabbed: float = math.nan
    """``time.monotonic()`` when the camera grabbed the frame (NaN: not from a camera), so
    the frames read after the check (the face capture) can be linked to it in time."""

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "found": self.found,
                "eye_aspect": _round(self.eye_aspect), "yaw": _round(self.yaw),
                "pitch": _round(self.pitch), "roll": _round(self.roll), "error": self.error,
                "time": _round(self.time)}


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
    track: tuple[int, ...] = ()
    """Indices of the continuous run of frames the evidence comes from."""
    previous: tuple[LivenessVerdict, ...] = ()
    """The challenges of the same attempt passed before this one (see :func:`run_plan`)."""
    identity: tuple[Embedding, ...] = field(default=(), compare=False, repr=False)
    """Descriptors of the frames the identity check encoded (:meth:`LivenessCheck.confirm`):
    the face that did the challenge, which the face compared with the chip must be
    (:mod:`handover`)."""
    identity_frames: tuple[int, ...] = field(default=(), compare=False, repr=False)
    """The frame index of each of ``identity``, in the same order."""

    def descriptor(self, index: int) -> Embedding | None:
        """The identity check's descriptor of frame *index*, when it encoded that frame."""
        try:
            return self.identity[self.identity_frames.index(index)]
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        return {"challenge": self.challenge.value, "passed": self.passed,
                "evidence": list(self.evidence), "reason": self.reason,
                "details": self.details, "track": [self.track[0], self.track[-1]]
                if self.track else [],
                "previous": [{"challenge": v.challenge.value, "evidence": list(v.evidence)}
                             for v in self.previous],
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

    def measure(self, image: RgbImage, index: int, time: float = math.nan) -> FrameMeasurement:
        faces = self.engine.detect(image, self.detection)
        try:
            face = the_face(faces, self.engine.settings.quality.min_face_px)
        except BiometricsError as exc:
            return FrameMeasurement(index, False, error=exc.key, time=time)
        landmarks = self.engine.landmarks(image, face)
        pose = head_pose(landmarks, (image.shape[1], image.shape[0]))
        box = (face.left, face.top, face.right, face.bottom)
        return FrameMeasurement(index, True, eyes_aspect_ratio(landmarks), pose.yaw, pose.pitch,
                                pose.roll, face.center, face.width, time=time,
                                sample=continuity.sample(image, box, landmarks),
                                chip=self.engine.chip(image, face))

    def run(self, camera: Camera, challenge: Challenge, frames: int = 30,
            timeout: float = 2.0, prompted_at: float | None = None) -> LivenessVerdict:
        """Read *frames* frames from *camera* and judge *challenge* on them. *prompted_at*
        (``time.monotonic()``, default: now) is when the prompt was shown: a frame grabbed
        before it is no evidence, and the movement must follow it."""
        start = _monotonic() if prompted_at is None else prompted_at
        measured = []
        for _ in range(frames):
            frame = camera.read(timeout)
            after = frame.timestamp - start
            if after < 0:  # queued before the prompt: it cannot show the answer to it
                measured.append(FrameMeasurement(frame.index, False, error=continuity.EARLY,
                                                 time=after))
                continue
            # An untimed source (a file camera played as fast as it is read) has no time
            # of its own to judge a reaction by: its frames are timed by number (judge()).
            measured.append(dataclasses.replace(
                self.measure(frame.image, frame.index, after if frame.timed else math.nan),
                grabbed=frame.timestamp if frame.timed else math.nan))
            verdict = judge(challenge, measured, self.limits)
            if verdict.passed:  # stop as soon as it is proven: the candidate is waiting
                return self.confirm(verdict)
        return judge(challenge, measured, self.limits)

    def check(self, challenge: Challenge, images: Sequence[RgbImage]) -> LivenessVerdict:
        verdict = judge(challenge, [self.measure(im, i) for i, im in enumerate(images)],
                        self.limits)
        return self.confirm(verdict) if verdict.passed else verdict

    def confirm(self, verdict: LivenessVerdict) -> LivenessVerdict:
        """The identity half of continuity: the evidence frames and the ends of their track
        show one person (a few frames encoded, ~0.2 s each), or the verdict fails."""
        limits = self.limits.continuity
        by_index = {m.index: m for m in verdict.measurements}
        sampled = [(i, by_index[i].chip)
                   for i in _identity_samples(verdict, limits.identity_samples)]
        chips = [(i, c) for i, c in sampled if c is not None]
        embeddings = self.engine.describe_many([c for _, c in chips])
        spread = max((float(np.linalg.norm(a - b)) for k, a in enumerate(embeddings)
                      for b in embeddings[k + 1:]), default=0.0)
        details = {**verdict.details, "identity_spread": round(spread, 4)}
        if spread > limits.max_identity_distance:
            return dataclasses.replace(verdict, passed=False, reason=continuity.OTHER_PERSON,
                                       details=details)
        return dataclasses.replace(verdict, details=details, identity=tuple(embeddings),
                                   identity_frames=tuple(i for i, _ in chips))


    def same_person(self, a: LivenessVerdict, b: LivenessVerdict) -> bool:
        """The first evidence frames of two passed challenges show one person."""
        first = [self._first_descriptor(v) for v in (a, b)]
        if first[0] is None or first[1] is None:
            return True  # nothing kept to compare (measured without chips)
        distance = float(np.linalg.norm(first[0] - first[1]))
        return distance <= self.limits.continuity.max_identity_distance

    def _first_descriptor(self, verdict: LivenessVerdict) -> Embedding | None:
        # The identity check (confirm) encoded the first evidence frame already: encoding it
        # again cost two descriptors (~0.1 s of CPU each) per two-challenge check-in. The
        # batch and the single call give the same numbers (FaceEngine.describe_many).
        index = verdict.evidence[0]
        known = verdict.descriptor(index)
        if known is not None:
            return known
        chip = next((m.chip for m in verdict.measurements if m.index == index), None)
        return None if chip is None else self.engine.describe(chip)


def run_plan(check: LivenessCheck, camera: Camera, plan: Sequence[Challenge], frames: int,
             *, on_prompt: Callable[[int, Challenge], None] | None = None,
             timeout: float = 2.0) -> LivenessVerdict:
    """The challenges of *plan* one after the other, each on up to *frames* frames read after
    its prompt (*on_prompt* shows it: ``(number from 0, challenge)``). All must pass, and by
    one person: the verdict is the last one's, with the earlier ones in ``previous``, or the
    first that failed."""
    passed: list[LivenessVerdict] = []
    for number, challenge in enumerate(plan):
        if on_prompt is not None:
            on_prompt(number, challenge)
        verdict = check.run(camera, challenge, frames, timeout)
        if verdict.passed and passed and not check.same_person(passed[0], verdict):
            verdict = dataclasses.replace(verdict, passed=False,
                                          reason=continuity.OTHER_PERSON)
        verdict = dataclasses.replace(verdict, previous=tuple(passed))
        if not verdict.passed:
            return verdict
        passed.append(verdict)
    return passed[-1]


def _identity_samples(verdict: LivenessVerdict, count: int) -> list[int]:
    """The evidence frames, then frames spread evenly over the stretch of the track between
    them (where another person's photo could be slipped in), *count* in all at most."""
    picked = list(dict.fromkeys(verdict.evidence))
    lo, hi = min(verdict.evidence), max(verdict.evidence)
    between = [i for i in verdict.track if lo < i < hi and i not in picked]
    room = max(0, count - len(picked))
    if between and room:
        step = len(between) / room
        picked += list(dict.fromkeys(between[int(k * step)] for k in range(room)))
    return picked


def _monotonic() -> float:
    import time

    return time.monotonic()


def judge(challenge: Challenge, measurements: Sequence[FrameMeasurement],
          limits: Limits | None = None, *, continuity_on: bool = True) -> LivenessVerdict:
    """Does the sequence show the challenge being done by one face, continuously?

    (The identity check by embedding needs the encoder: :meth:`LivenessCheck.confirm`.)
    ``continuity_on=False`` is the rule before continuity (the movement alone, the face only
    split where it jumps across the picture), kept for the evaluation's comparison."""
    limits = limits or Limits()
    ms = tuple(measurements)
    found = [m for m in ms if m.found]
    if len(found) < 2:
        if any(m.error == continuity.EARLY for m in ms) and not found:
            return LivenessVerdict(challenge, False, (), ms, continuity.EARLY)
        return LivenessVerdict(challenge, False, (), ms, "face.liveness.no_face")
    tracks, breaks = _tracks(found, limits, continuity_on)
    early = False
    floor = limits.continuity.min_reaction if continuity_on else -math.inf
    for track in tracks:
        # The movement that proves it must come after a human could react to the prompt;
        # one seen sooner (a recording already playing the answer, or a blink that happened
        # to fall just then) is no evidence, but a later one in the same track still is.
        evidence = _action(challenge, track, limits, continuity_on, floor)
        if not evidence and continuity_on and _action(challenge, track, limits, True):
            early = True
            continue
        if evidence:
            return LivenessVerdict(challenge, True, evidence, ms, "", _details(ms, evidence),
                                   tuple(m.index for m in track))
    details = {**_spread(found), "breaks": float(len(breaks)), "links": float(len(found) - 1)}
    return LivenessVerdict(challenge, False, (), ms,
                           _reason(challenge, found, breaks, early, limits), details)


def _action(challenge: Challenge, track: list[FrameMeasurement], limits: Limits,
            smooth: bool = True, not_before: float = -math.inf) -> tuple[int, ...]:
    if challenge is Challenge.BLINK:
        return _blink(track, limits, not_before)
    return _turn(track, limits, +1 if challenge is Challenge.TURN_LEFT else -1,
                 limits.continuity.turn_through if smooth else 0, not_before)


def _too_soon(m: FrameMeasurement, not_before: float) -> bool:
    """Seen less than *not_before* seconds after the prompt. A frame without a time (a list
    of images, a file camera not paced to a frame rate) cannot be judged by it."""
    return math.isfinite(m.time) and m.time < not_before


def _times(found: Sequence[FrameMeasurement], limits: Limits) -> dict[int, float]:
    """Each frame's time after the prompt; frame numbers at the nominal rate when unknown."""
    return {m.index: m.time if math.isfinite(m.time) else m.index / limits.nominal_fps
            for m in found}


def _tracks(found: list[FrameMeasurement], limits: Limits,
            continuity_on: bool = True) -> tuple[list[list[FrameMeasurement]], list[str]]:
    """Split into runs of one continuous presence; also return why each break happened."""
    times = _times(found, limits)
    tracks: list[list[FrameMeasurement]] = [[found[0]]]
    breaks: list[str] = []
    seen: list[Sample] = [found[0].sample] if found[0].sample is not None else []
    for m in found[1:]:
        prev = tracks[-1][-1]
        reason = ""
        if math.dist(m.center, prev.center) / max(1, prev.width) > limits.max_jump:
            reason = continuity.CUT
        elif continuity_on and m.sample is not None and prev.sample is not None:
            reason, _ = continuity.link(prev.sample, m.sample,
                                        times[m.index] - times[prev.index], limits.continuity)
            if not reason and any(continuity.same_picture(m.sample, s, limits.continuity)
                                  for s in seen[:-1]):
                reason = continuity.FROZEN  # a loop: a picture seen earlier comes back
        if m.sample is not None:
            seen.append(m.sample)
        if reason:
            breaks.append(reason)
            tracks.append([m])
        else:
            tracks[-1].append(m)
    return tracks, breaks


def _reason(challenge: Challenge, found: list[FrameMeasurement], breaks: list[str],
            early: bool, limits: Limits) -> str:
    """Why the challenge was not proven, in the words most useful to the invigilator: the
    continuity break when the movement is only seen across one (a cut between photos that
    differ in pose), or when the sequence is mostly breaks (stills, a frozen picture)."""
    if early and not breaks:
        return continuity.EARLY
    if _action(challenge, found, limits, smooth=False):
        # Seen only across a break, or as a jump from one pose to the other with nothing in
        # between: one photo, then another (a frozen picture alone shows no movement).
        return continuity.CUT
    if breaks and len(breaks) * 2 > len(found) - 1:
        return _most_common(breaks)
    if early:
        return continuity.EARLY
    return "face.liveness.no_blink" if challenge is Challenge.BLINK else "face.liveness.no_turn"


def _most_common(breaks: list[str]) -> str:
    order = (continuity.CUT, continuity.FROZEN, continuity.TOO_FAST)
    return max(order, key=lambda r: (breaks.count(r), -order.index(r)))


def _blink(track: list[FrameMeasurement], limits: Limits,
           not_before: float = -math.inf) -> tuple[int, ...]:
    """An open frame, then a closed one (not seen too soon after the prompt), then an open
    one again."""
    best_open_before: FrameMeasurement | None = None
    for k, m in enumerate(track):
        if m.eye_aspect >= limits.open_eyes:
            if best_open_before is None or m.eye_aspect > best_open_before.eye_aspect:
                best_open_before = m
            continue
        if (best_open_before is None or m.eye_aspect > limits.closed_eyes
                or _too_soon(m, not_before)):
            continue
        if m.eye_aspect > limits.closed_ratio * best_open_before.eye_aspect:
            continue
        for after in track[k + 1:]:
            if (after.eye_aspect >= limits.open_eyes
                    and m.eye_aspect <= limits.closed_ratio * after.eye_aspect):
                return (best_open_before.index, m.index, after.index)
    return ()


def _turn(track: list[FrameMeasurement], limits: Limits, sign: int,
          through: int = 0, not_before: float = -math.inf) -> tuple[int, ...]:
    """A frontal frame and a frame turned the asked way (by pose, not by position), in either
    order: facing the camera then turning, or turning back to face it. With *through* > 0 the
    head must also be seen on its way, in at least that many frames between the two whose yaw
    lies between theirs: a head turns through the angles in between, a cut from a frontal
    photo to a turned one does not."""
    posed = [m for m in track if math.isfinite(m.yaw)]
    for k, m in enumerate(posed):
        for j, later in enumerate(posed[k + 1:], start=k + 1):
            if _too_soon(later, not_before):  # the pose reached last is the movement's end
                continue
            for frontal, turned in ((m, later), (later, m)):
                if abs(frontal.yaw) > limits.frontal_yaw:
                    continue
                away = sign * turned.yaw
                if away < limits.turned_yaw or away - sign * frontal.yaw < limits.turn_change:
                    continue
                low, high = sorted((frontal.yaw, turned.yaw))
                if sum(low < x.yaw < high for x in posed[k + 1:j]) >= through:
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

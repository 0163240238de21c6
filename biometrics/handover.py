"""The face compared with the chip is the face that did the liveness challenge.

The liveness check proves that someone live did the challenge; the face check then compares
the frames read after it with the chip portrait. Judged apart, the two can be done by two
people: a live accomplice does the challenge, then steps aside for the candidate's photo (or
a proxy is compared who never did the challenge). The hand-over links them:

- continuity: every frame the face capture reads that shows a face must follow the previous
  one, from the challenge's last frame on, as one continuous presence (:func:`continuity.link`:
  no jump, no resize, no new background, no frozen picture, no impossible speed), with no
  stretch longer than ``max_gap`` seconds without a face;
- identity: each compared frame's descriptor lies within ``max_identity_distance`` of a frame
  of the challenge (the descriptors the challenge's own identity check computed, so nothing
  is encoded twice).

Either broken, the verdict becomes a failed liveness verdict with the reason in words: the
liveness proven does not belong to the face compared.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import continuity
from .camera import Frame
from .continuity import Sample
from .engine import Embedding, Face
from .faces import Probe
from .geometry import Landmarks
from .liveness import Limits, LivenessVerdict

BROKEN = "face.liveness.handover_break"
"""After the challenge the picture was interrupted or changed before the face was captured."""
OTHER_PERSON = "face.liveness.handover_person"
"""The face compared with the chip is another person's than the one who did the challenge."""


@dataclass(frozen=True, slots=True)
class HandOverLimits:
    max_gap: float = 1.0
    """Seconds without a face between two frames of the hand-over: longer, and nothing shows
    the person who did the challenge is still the one in front of the camera (a real
    candidate looking away for a moment: a few tenths of a second)."""


@dataclass(frozen=True, slots=True)
class _Seen:
    index: int
    grabbed: float
    sample: Sample


class HandOver:
    """Follows the face from a passed challenge's last frame through every frame the face
    capture reads (:func:`faces.collect`'s ``on_face``), then judges the compared frames."""

    def __init__(self, verdict: LivenessVerdict, limits: Limits | None = None,
                 hand: HandOverLimits | None = None) -> None:
        self.verdict = verdict
        self.limits = limits or Limits()
        self.hand = hand or HandOverLimits()
        track = set(verdict.track)
        ends = [m for m in verdict.measurements if m.index in track and m.sample is not None]
        last = max(ends, key=lambda m: m.index, default=None)
        self._last = (None if last is None or last.sample is None
                      else _Seen(last.index, last.grabbed, last.sample))
        self.breaks: list[tuple[int, str, float]] = []
        """(frame index, message key of the break, the measurement that broke it)."""

    def see(self, frame: Frame, face: Face, landmarks: Landmarks) -> None:
        """One frame of the capture that shows one face."""
        now = _Seen(frame.index, frame.timestamp if frame.timed else math.nan,
                    continuity.sample(frame.image, (face.left, face.top, face.right,
                                                    face.bottom), landmarks))
        prev = self._last
        self._last = now
        if prev is None:
            self.breaks.append((frame.index, BROKEN, 0.0))
            return
        interval = self._interval(prev, now)
        if interval > self.hand.max_gap:
            self.breaks.append((frame.index, BROKEN, round(interval, 3)))
            return
        reason, value = continuity.link(prev.sample, now.sample, interval,
                                        self.limits.continuity)
        if reason:
            self.breaks.append((frame.index, reason, value))

    def _interval(self, a: _Seen, b: _Seen) -> float:
        if math.isfinite(a.grabbed) and math.isfinite(b.grabbed):
            return b.grabbed - a.grabbed
        return (b.index - a.index) / self.limits.nominal_fps

    def judge(self, probes: Sequence[Probe]) -> LivenessVerdict:
        """The liveness verdict, failed with the reason when the compared frames are not
        shown to be the face that did the challenge."""
        verdict = self.verdict
        if not verdict.passed:
            return verdict
        identity = [e for v in (*verdict.previous, verdict) for e in v.identity]
        far = [nearest(p.embedding, identity) for p in probes]
        worst = max(far, default=math.inf)
        details = {**verdict.details, "handover_breaks": float(len(self.breaks)),
                   "handover_distance": round(worst, 4) if math.isfinite(worst) else -1.0}
        if self.breaks or self._last is None:
            frame, why, value = self.breaks[0] if self.breaks else (-1, BROKEN, 0.0)
            return dataclasses.replace(verdict, passed=False, reason=BROKEN, details={
                **details, "handover_frame": float(frame), "handover_value": value,
                "handover_" + why.rsplit(".", 1)[-1]: 1.0})
        if worst > self.limits.continuity.max_identity_distance:
            return dataclasses.replace(verdict, passed=False, reason=OTHER_PERSON,
                                       details=details)
        return dataclasses.replace(verdict, details=details)


def nearest(embedding: Embedding, others: Sequence[Embedding]) -> float:
    """Distance to the nearest of *others* (infinite when there is none: nothing links)."""
    if not others:
        return math.inf
    return float(min(np.linalg.norm(embedding - o) for o in others))

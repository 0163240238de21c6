"""Same person or not: a distance, the calibrated operating point, and a three-way decision."""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from examdesk.i18n.words import face_key

from .config import OperatingPoint
from .engine import Embedding, fuse


class FaceOutcome(enum.Enum):
    """What the face comparison says (not the check-in's decision: that is
    ``proctoring.models.Decision``, which ``proctoring.policy`` maps this one to)."""

    MATCH = "match"
    """Below the review band: the candidate is the card holder."""
    REVIEW = "review"
    """Inside the band: the invigilator compares the chip photo with the candidate."""
    NO_MATCH = "no_match"
    """Above the band: the candidate is not the card holder (possible proxy)."""

    @property
    def key(self) -> str:
        return face_key(self)


@dataclass(frozen=True, slots=True)
class Verification:
    decision: FaceOutcome
    distance: float
    accepted: bool
    """The binary answer at the operating threshold (what FMR/FNMR are measured on)."""
    point: OperatingPoint
    frames: int
    score: float | None = None
    """What the decision was made on when it is not ``distance``: the AS-normed score (negated,
    in ``point``'s units) or the fused score of the second model."""
    method: str = "distance"
    """"distance" (raw), "asnorm" or "fused"."""
    cohort: int = 0
    """Chip portraits AS-norm measured against (the candidate's own left out); with "distance"
    and a cohort > 0, too few for AS-norm: the raw distance decided."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision.value,
            "distance": round(self.distance, 4),
            "accepted": self.accepted,
            "threshold": self.point.threshold,
            "review_band": [self.point.review_low, self.point.review_high],
            "target_fmr": self.point.target_fmr,
            "frames": self.frames,
            "method": self.method,
            "score": None if self.score is None else round(self.score, 4),
            "cohort": self.cohort,
            # Whether the threshold is the shipped default or this site's own calibration:
            # the check-in screen says so (a default is not calibrated on these people).
            "point_source": self.point.source,
            "point_is_default": self.point.source.startswith("default"),
        }


def distance(a: Embedding, b: Embedding) -> float:
    """Euclidean distance between two unit descriptors: sqrt(2 − 2·cos), in [0, 2]."""
    cos = float(np.dot(np.asarray(a, np.float64), np.asarray(b, np.float64)))
    return math.sqrt(max(0.0, 2.0 - 2.0 * cos))


def decide(d: float, point: OperatingPoint) -> FaceOutcome:
    if d < point.review_low:
        return FaceOutcome.MATCH
    if d >= point.review_high:
        return FaceOutcome.NO_MATCH
    return FaceOutcome.REVIEW


def compare(reference: Embedding, probes: Sequence[Embedding],
            point: OperatingPoint) -> Verification:
    """Compare the chip portrait with one or more live captures (fused into one descriptor)."""
    if not probes:
        raise ValueError("no live capture to compare")
    probe = probes[0] if len(probes) == 1 else fuse(list(probes))
    d = distance(reference, probe)
    return Verification(decide(d, point), d, d <= point.threshold, point, len(probes))

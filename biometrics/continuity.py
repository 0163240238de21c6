"""Is a sequence of frames one person moving, or a cut between pictures?

A challenge is only proven when the frames that show it follow one continuous presence: the
same face, in nearly the same place, moving by no more than a head can move in the time
between two frames, in a scene that stays the same, and never the very same picture again.
A sequence of different photos (the reproduction of issue 15: three stills played as a
camera "turned the head") breaks at every photo change: the face box jumps, changes size, or
the background around it changes. A frozen or looped picture repeats a frame exactly, which a
live camera never does (its sensor noise alone changes every pixel a little).

Everything here is pure: it compares two measured frames (:class:`Sample`) and names the first
break it finds, as a message key. The identity check (embedding distance between sampled
frames) needs the encoder and lives in :mod:`liveness`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

CUT = "face.liveness.cut"
"""Different photos, not one person moving."""
FROZEN = "face.liveness.frozen"
"""The same picture again: a frozen or replayed image."""
TOO_FAST = "face.liveness.too_fast"
"""The face moved faster than a head can between two frames."""
OTHER_PERSON = "face.liveness.other_person"
"""The face became another person's during the check."""
EARLY = "face.liveness.early"
"""The movement came before the prompt was shown."""

THUMB = 24
"""Side of the face fingerprint: nearest-neighbour samples keep each pixel's sensor noise."""
SCENE = (32, 18)
"""The whole frame, area-averaged: the background a cut changes."""


@dataclass(frozen=True, slots=True)
class ContinuityLimits:
    min_iou: float = 0.5
    """Face boxes of consecutive frames overlap at least this much (intersection over union)."""
    max_scale: float = 1.3
    """... and neither is more than this many times the other's width."""
    max_speed: float = 6.0
    """Mean landmark motion, in face widths per second (a brisk head turn: 2–4 at its peak;
    a turn of 30° moves the landmarks by about a third of the face's width)."""
    min_interval: float = 1 / 30
    """Frames closer than this in time count as this far apart (timestamps jitter)."""
    max_scene_change: float = 15.0
    """Mean grey-level change of the frame outside both face boxes, brightness aside (real
    video: under 8 in 95 % of frame pairs; ORL's ten shots of one person: under 12; the
    shared folders' different photos: 21 in the median)."""
    frozen_mad: float = 0.5
    """Face fingerprints closer than this (mean grey levels) are the same picture."""
    max_identity_distance: float = 0.42
    """Embeddings of sampled frames of the track may be at most this far apart (unit
    descriptors: one ORL person over their ten shots, or one person turning in real video,
    ≤ 0.39; two ORL people alternating ≥ 0.43)."""
    identity_samples: int = 5
    """Frames of a passing track encoded for the identity check (~0.1–0.3 s each): the
    evidence, and frames spread between them."""
    turn_through: int = 1
    """A turn must be seen on its way: this many frames with a yaw between the frontal and
    the turned frame's (a cut from one photo to another shows none)."""
    min_reaction: float = 0.15
    """The movement asked for (the closed eyes, the pose reached) must be seen at least this
    long (s) after the prompt; an answer seen sooner was already playing (a recording), and
    the check waits for a later one. Why 0.15 s: seeing a light and pressing a key takes
    190–230 ms on average (Galton's ~190 ms, Welford 1980; Woods et al. 2015, Front. Hum.
    Neurosci. 9:131, 1469 adults: 213 ms corrected for hardware delays), of which detecting
    the stimulus alone takes ~131 ms (ibid.); choosing among three prompts is slower still
    (Hick 1952), and the frame that proves the answer comes after the movement has run
    (an eyelid takes ~0.1 s to close). World Athletics calls a start sooner than 0.100 s
    after the gun false, for sound, the faster sense. 0.15 s is below any human's answer
    by these figures, so it refuses no one. Frames grabbed before the prompt never count
    (:meth:`LivenessCheck.run`); frames without a time of their own (a file camera not paced
    to a frame rate, a list of images) cannot be judged by it."""


@dataclass(frozen=True, slots=True)
class Sample:
    """What continuity needs of one frame, measured once when the frame is read."""

    box: tuple[int, int, int, int]
    """The span of the 68 landmarks: steadier than the detector's box, whose size jumps by a
    step of its image pyramid (×1.2) between two frames of the same face."""
    landmarks: NDArray[np.float64]
    thumb: NDArray[np.uint8]
    scene: NDArray[np.float32]
    frame_size: tuple[int, int]


def sample(image: NDArray[np.uint8], box: tuple[int, int, int, int],
           landmarks: NDArray[np.float64]) -> Sample:
    """*box*: the detector's (the fingerprint's crop: the same picture gives the same box)."""
    h, w = image.shape[:2]
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    left, top, right, bottom = (max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3]))
    crop = grey[top:max(top + 1, bottom), left:max(left + 1, right)]
    thumb = np.asarray(cv2.resize(crop, (THUMB, THUMB), interpolation=cv2.INTER_NEAREST),
                       dtype=np.uint8)
    scene = cv2.resize(grey, SCENE, interpolation=cv2.INTER_AREA).astype(np.float32)
    span = (int(landmarks[:, 0].min()), int(landmarks[:, 1].min()),
            math.ceil(landmarks[:, 0].max()), math.ceil(landmarks[:, 1].max()))
    return Sample(span, landmarks, thumb, scene, (w, h))


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def same_picture(a: Sample, b: Sample, limits: ContinuityLimits) -> bool:
    diff = np.abs(a.thumb.astype(np.int16) - b.thumb.astype(np.int16))
    return float(diff.mean()) < limits.frozen_mad


def scene_change(a: Sample, b: Sample) -> float:
    """Mean grey-level change of the scene thumbnails outside both face boxes, brightness
    changes aside."""
    if a.frame_size != b.frame_size:
        return math.inf
    w, h = a.frame_size
    sx, sy = SCENE[0] / w, SCENE[1] / h
    mask = np.ones((SCENE[1], SCENE[0]), dtype=bool)
    for box in (a.box, b.box):
        # Widen the box by half a face: hair and shoulders move with the head.
        pad_x, pad_y = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
        x0, x1 = max(0, int((box[0] - pad_x) * sx)), min(SCENE[0], math.ceil((box[2] + pad_x) * sx))
        y0, y1 = max(0, int((box[1] - pad_y) * sy)), min(SCENE[1], math.ceil((box[3] + pad_y) * sy))
        mask[y0:y1, x0:x1] = False
    if mask.sum() < 8:  # the face fills the frame: nothing to compare
        return 0.0
    # Each side's own mean taken off: a light switched on (or the camera's exposure settling)
    # shifts every pixel alike; another photo changes what is where.
    before, after = a.scene[mask], b.scene[mask]
    return float(np.abs((before - before.mean()) - (after - after.mean())).mean())


def speed(a: Sample, b: Sample, interval: float, limits: ContinuityLimits) -> float:
    """Mean landmark motion in face widths per second."""
    width = max(1, a.box[2] - a.box[0])
    moved = float(np.linalg.norm(b.landmarks - a.landmarks, axis=1).mean()) / width
    return moved / max(interval, limits.min_interval)


def link(a: Sample, b: Sample, interval: float, limits: ContinuityLimits) -> tuple[str, float]:
    """Why frame *b* cannot follow frame *a* of one live person (a message key, and the
    measurement that broke it), or ``("", 0.0)`` when it can."""
    if same_picture(a, b, limits):
        return FROZEN, 0.0
    overlap = iou(a.box, b.box)
    if overlap < limits.min_iou:
        return CUT, round(overlap, 3)
    wa, wb = max(1, a.box[2] - a.box[0]), max(1, b.box[2] - b.box[0])
    if max(wa, wb) / min(wa, wb) > limits.max_scale:
        return CUT, round(max(wa, wb) / min(wa, wb), 3)
    change = scene_change(a, b)
    if change > limits.max_scene_change:
        return CUT, round(change, 2)
    fast = speed(a, b, interval, limits)
    if fast > limits.max_speed:
        return TOO_FAST, round(fast, 2)
    return "", 0.0

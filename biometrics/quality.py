"""Is a live capture good enough to compare? Measure the face, then check against limits.

Measurements are taken on the face box only (a dark room behind a well-lit face is fine), and
are scale-free where they can be (sharpness on the face resized to a fixed width), so the same
limits hold for a 720p webcam and a phone photo. The checks run in the order an invigilator
fixes things: distance to the camera, light, focus, pose, eyes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from .config import Quality
from .engine import Face
from .errors import (
    Blurred,
    EyesClosed,
    FaceCutOff,
    FaceTooSmall,
    HeadTurned,
    TooBright,
    TooDark,
)
from .geometry import HeadPose, Landmarks, eyes_aspect_ratio, head_pose
from .images import RgbImage

_SHARPNESS_WIDTH = 128


@dataclass(frozen=True, slots=True)
class QualityReport:
    face_px: int
    """Face width from the jaw-line landmarks. Not the detector's box: HOG boxes snap to the
    sizes of its scan pyramid and never come out under ~73 px, even round a 45 px face."""
    inside: float
    """Fraction of the face box inside the picture."""
    brightness: float
    clipped: float
    sharpness: float
    yaw: float
    pitch: float
    roll: float
    eye_aspect: float

    def to_dict(self) -> dict[str, float | int]:
        return {k: v if isinstance(v, int) else round(float(v), 4) for k, v in asdict(self).items()}


def measure(image: RgbImage, face: Face, landmarks: Landmarks) -> QualityReport:
    h, w = image.shape[:2]
    crop = image[max(0, face.top):min(h, face.bottom), max(0, face.left):min(w, face.right)]
    if crop.size == 0:
        crop = image
    grey = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    # The central part of the box is skin; the corners may be hair or background.
    ch, cw = grey.shape
    centre = grey[ch // 5: ch - ch // 5, cw // 5: cw - cw // 5]
    if centre.size == 0:
        centre = grey
    factor = _SHARPNESS_WIDTH / max(1, grey.shape[1])
    small = cv2.resize(grey, None, fx=factor, fy=factor,
                       interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
    sharpness = float(cv2.Laplacian(small, cv2.CV_64F).var())
    pose: HeadPose = head_pose(landmarks, (w, h))
    jaw = landmarks[0:17, 0]
    visible = (max(0, min(w, face.right) - max(0, face.left))
               * max(0, min(h, face.bottom) - max(0, face.top)))
    return QualityReport(
        face_px=round(float(jaw.max() - jaw.min())),
        inside=visible / max(1, face.area),
        brightness=float(centre.mean()),
        clipped=float((centre >= 250).mean()),
        sharpness=sharpness,
        yaw=pose.yaw,
        pitch=pose.pitch,
        roll=pose.roll,
        eye_aspect=eyes_aspect_ratio(landmarks),
    )


def check(report: QualityReport, limits: Quality) -> None:
    """Raise the first quality failure (a :class:`PoorImage` subclass), or return."""
    ctx = report.to_dict()
    if report.face_px < limits.min_face_px:
        raise FaceTooSmall(f"face {report.face_px} px wide < {limits.min_face_px}", **ctx)
    if report.inside < limits.min_inside:
        raise FaceCutOff(f"{1 - report.inside:.0%} of the face is outside the picture", **ctx)
    if report.brightness < limits.min_brightness:
        raise TooDark(f"face brightness {report.brightness:.0f} < {limits.min_brightness:.0f}",
                      **ctx)
    if report.brightness > limits.max_brightness or report.clipped > limits.max_clipped:
        raise TooBright(f"face brightness {report.brightness:.0f}, "
                        f"{report.clipped:.0%} burnt out", **ctx)
    if report.sharpness < limits.min_sharpness:
        raise Blurred(f"sharpness {report.sharpness:.0f} < {limits.min_sharpness:.0f}", **ctx)
    turned = (abs(report.yaw) > limits.max_yaw_deg or abs(report.pitch) > limits.max_pitch_deg
              or abs(report.roll) > limits.max_roll_deg)
    # NaN angles (solvePnP failed) fail none of the comparisons: no pose is no evidence.
    if turned:
        raise HeadTurned(f"yaw {report.yaw:.0f}°, pitch {report.pitch:.0f}°, "
                         f"roll {report.roll:.0f}°", **ctx)
    if report.eye_aspect < limits.min_eye_aspect:
        raise EyesClosed(f"eye aspect ratio {report.eye_aspect:.2f} < "
                         f"{limits.min_eye_aspect:.2f}", **ctx)


def score(report: QualityReport, limits: Quality) -> float:
    """How good a passing capture is, in [0, 1], to pick the frames worth fusing: sharpness
    (saturating at 4× the minimum), frontality (cosines of yaw and pitch) and size (saturating
    at 2× the minimum width), multiplied so that one weak point is enough to rank low."""
    sharp = min(1.0, report.sharpness / (4.0 * max(1.0, limits.min_sharpness)))
    frontal = max(0.0, math.cos(math.radians(report.yaw)) * math.cos(math.radians(report.pitch)))
    size = min(1.0, report.face_px / (2.0 * max(1, limits.min_face_px)))
    return sharp * (frontal if math.isfinite(frontal) else 0.0) * size

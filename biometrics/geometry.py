"""Measurements on 68-point landmarks: eye aspect ratio and head pose.

Shared by the quality gate (eyes closed, head turned) and the liveness check (blink, turn).
Landmark indices follow the iBUG 300-W scheme that dlib's 68-point predictor uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

Landmarks = NDArray[np.float64]
"""(68, 2) image coordinates (x, y)."""

LEFT_EYE = slice(36, 42)  # the eye on the image's left (the subject's right eye)
RIGHT_EYE = slice(42, 48)

# A generic head in the camera's axes (x right, y down, z away from the camera), millimetres
# scaled ×10. With y down and the nose nearest to the camera, a frontal face gives the
# identity rotation, so the Euler angles need no 180° unwrapping.
_MODEL_POINTS = np.array(
    [
        (0.0, 0.0, 0.0),  # 30 nose tip
        (0.0, 330.0, 65.0),  # 8 chin
        (-225.0, -170.0, 135.0),  # 36 outer corner of the image-left eye
        (225.0, -170.0, 135.0),  # 45 outer corner of the image-right eye
        (-150.0, 150.0, 125.0),  # 48 image-left mouth corner
        (150.0, 150.0, 125.0),  # 54 image-right mouth corner
    ],
    dtype=np.float64,
)
_IMAGE_POINTS = [30, 8, 36, 45, 48, 54]


def eye_aspect_ratio(eye: NDArray[np.float64]) -> float:
    """Soukupová & Čech (2016): eyelid opening over eye width; ~0.3 open, under ~0.15 closed."""
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    horizontal = np.linalg.norm(eye[0] - eye[3])
    return float(vertical / (2.0 * horizontal)) if horizontal > 0 else 0.0


def eyes_aspect_ratio(landmarks: Landmarks) -> float:
    """Mean EAR of both eyes (a blink closes both; a wink or a squint in one eye does not)."""
    return 0.5 * (eye_aspect_ratio(landmarks[LEFT_EYE]) + eye_aspect_ratio(landmarks[RIGHT_EYE]))


@dataclass(frozen=True, slots=True)
class HeadPose:
    """Degrees. ``yaw`` > 0: the nose points to the image's right (in an unmirrored camera
    frame, the candidate turned to their own left). ``pitch`` > 0: looking down.
    ``roll`` > 0: the head tilts clockwise in the image."""

    yaw: float
    pitch: float
    roll: float


def head_pose(landmarks: Landmarks, image_size: tuple[int, int]) -> HeadPose:
    """Head pose from six landmarks and a pinhole camera guessed from the image size.

    The focal length is unknown for a webcam; the image width is the usual guess (a ~55° field
    of view). Errors of that guess change the angles by a few degrees, which is well inside
    the margins of the checks that use them.
    """
    width, height = image_size
    focal = float(max(width, height))
    camera = np.array(
        [[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]], dtype=np.float64
    )
    points = np.ascontiguousarray(landmarks[_IMAGE_POINTS], dtype=np.float64)
    # Start from a frontal head at the distance its eye span implies: without a guess the
    # iterative solver sometimes lands on the mirror solution (the head seen from behind).
    eye_span = float(np.linalg.norm(points[3] - points[2])) or 1.0
    distance = focal * float(_MODEL_POINTS[3, 0] - _MODEL_POINTS[2, 0]) / eye_span
    centre = points[0] - (width / 2.0, height / 2.0)
    guess_r = np.zeros((3, 1))
    guess_t = np.array([[centre[0] * distance / focal], [centre[1] * distance / focal],
                        [distance]])
    ok, rvec, tvec = cv2.solvePnP(_MODEL_POINTS, points, camera, np.zeros(4), guess_r, guess_t,
                                  useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return HeadPose(math.nan, math.nan, math.nan)
    rotation, _ = cv2.Rodrigues(rvec)
    # R = Rz(roll)·Ry(yaw)·Rx(pitch) in the camera's axes.
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -rotation[2, 0]))))
    pitch = math.degrees(math.atan2(rotation[2, 1], rotation[2, 2]))
    roll = math.degrees(math.atan2(rotation[1, 0], rotation[0, 0]))
    # Rotating about +y moves the nose (nearest point, -z) towards -x: flip so that a nose
    # pointing to the image's right is a positive yaw; likewise pitch so that down is positive.
    # Then measure against the line of sight, not the optical axis: a candidate sitting off
    # centre who looks straight at the camera is facing it (0°), although their head is
    # rotated relative to the axis by the angle at which the camera sees them.
    tx, ty, tz = (float(v) for v in np.asarray(tvec).ravel())
    sight_yaw = math.degrees(math.atan2(tx, tz))
    sight_pitch = math.degrees(math.atan2(ty, tz))
    return HeadPose(yaw=-yaw + sight_yaw, pitch=-pitch - sight_pitch, roll=roll)

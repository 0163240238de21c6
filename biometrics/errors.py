"""Typed errors of face verification.

Each error carries a message *key*; the application turns the key into Vietnamese or English
text (``examdesk/i18n/face.toml``) that tells the invigilator what to do. Logs keep the key, the
detail and the context (measurements, never images or embeddings). Nothing here knows any
language.
"""

from __future__ import annotations

from examdesk.keyed_error import KeyedError


class BiometricsError(KeyedError):
    """Base of every error the biometrics package raises on purpose."""

    key = "face.error"


# --- the input --------------------------------------------------------------------------------


class ImageUnreadable(BiometricsError):
    """The bytes are not an image we can decode (corrupt, truncated, unknown format)."""

    key = "face.image_unreadable"


class DatasetError(BiometricsError):
    """A calibration or evaluation folder is missing or not laid out one folder per person."""

    key = "face.dataset"


class ModelsMissing(BiometricsError):
    """dlib's model files (the face_recognition_models package) are not installed."""

    key = "face.models_missing"


class CameraUnavailable(BiometricsError):
    """No camera, the camera was unplugged, or it stopped delivering frames."""

    key = "face.camera_unavailable"
    # What is wrong, when it is known: face.camera.<reason> says it (a path that is not there,
    # a folder without pictures, a device number with no camera behind it).
    reasons = "face.camera"


# --- what is in the picture -----------------------------------------------------------------


class NoFace(BiometricsError):
    """No face was found in the image."""

    key = "face.no_face"


class SeveralFaces(BiometricsError):
    """More than one face is in view: we cannot tell who the candidate is."""

    key = "face.several_faces"

    def __init__(self, count: int, detail: str = "", **context: object) -> None:
        super().__init__(detail or f"{count} faces in view", count=count, **context)
        self.count = count


class PoorImage(BiometricsError):
    """Base of the quality failures: a face is there but not good enough to compare."""

    key = "face.poor_image"


class FaceTooSmall(PoorImage):
    """The face is too few pixels wide (candidate too far from the camera)."""

    key = "face.too_small"


class FaceCutOff(PoorImage):
    """Part of the face is outside the picture."""

    key = "face.cut_off"


class TooDark(PoorImage):
    """The face is under-exposed."""

    key = "face.too_dark"


class TooBright(PoorImage):
    """The face is over-exposed (back light, flash, window)."""

    key = "face.too_bright"


class Blurred(PoorImage):
    """The face is out of focus or moving."""

    key = "face.blurred"


class HeadTurned(PoorImage):
    """The head is turned or tilted too far from frontal."""

    key = "face.head_turned"


class EyesClosed(PoorImage):
    """Both eyes are closed."""

    key = "face.eyes_closed"

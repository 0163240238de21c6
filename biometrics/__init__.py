"""Camera, face detection/quality/embedding, the matcher, liveness. No Tk, no database, no reader.

A check-in, in order::

    engine = FaceEngine(settings)          # one per application; engine.warm_up() at start-up
    reference = enrol(engine, portrait)    # the chip portrait's bytes (JPEG / JPEG 2000)
    verdict = LivenessCheck(engine).run(camera, Challenge.random())   # blink / turn
    probes = collect(engine, camera, on_problem=show)   # best frames that pass quality
    result = compare(reference.embedding, [p.embedding for p in probes],
                     settings.operating_point)          # MATCH / REVIEW / NO_MATCH
"""

from .camera import Camera, FileCamera, Frame, OpenCvCamera, open_camera
from .config import Detection, FaceSettings, OperatingPoint, Quality
from .decision import FaceOutcome, Verification, compare, distance
from .engine import Embedding, Face, FaceEngine, fuse, unit
from .errors import (
    BiometricsError,
    Blurred,
    CameraUnavailable,
    EyesClosed,
    FaceCutOff,
    FaceTooSmall,
    HeadTurned,
    ImageUnreadable,
    NoFace,
    PoorImage,
    SeveralFaces,
    TooBright,
    TooDark,
)
from .faces import Probe, Reference, capture, collect, enrol
from .liveness import Challenge, LivenessCheck, LivenessVerdict
from .matcher import Gallery

__all__ = [
    "BiometricsError", "Blurred", "Camera", "CameraUnavailable", "Challenge", "Detection",
    "Embedding", "EyesClosed", "Face", "FaceCutOff", "FaceEngine", "FaceOutcome", "FaceSettings",
    "FaceTooSmall", "FileCamera", "Frame", "Gallery", "HeadTurned", "ImageUnreadable",
    "LivenessCheck", "LivenessVerdict", "NoFace", "OpenCvCamera", "OperatingPoint", "PoorImage",
    "Probe", "Quality", "Reference", "SeveralFaces", "TooBright", "TooDark", "Verification",
    "capture", "collect", "compare", "distance", "enrol", "fuse", "open_camera", "unit",
]

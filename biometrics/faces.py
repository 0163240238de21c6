"""From a picture to a descriptor: the chip portrait (reference) and live captures (probes).

The two sides are treated differently on purpose. The chip portrait cannot be retaken, so it
is never refused for quality, only for having no single face; it is encoded once per
candidate with test-time augmentation (the encoder sees it shifted, rotated and mirrored), which
is affordable there (~0.7 s, on a worker thread while the card is read). A live frame must pass
the quality gate, because the invigilator can fix light, distance and pose, and it is encoded
plainly; several frames are fused instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .camera import Camera, Frame
from .config import Detection
from .engine import MAX_JITTERS, Embedding, Face, FaceEngine, encoding_of, jittered_chips
from .errors import BiometricsError, FaceTooSmall, NoFace, PoorImage, SeveralFaces
from .geometry import Landmarks
from .images import RgbImage, as_rgb, decode
from .quality import QualityReport, check, measure, score


@dataclass(frozen=True, slots=True)
class Reference:
    """The chip portrait, encoded. Holds no pixels."""

    embedding: Embedding
    face: Face
    image_size: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Probe:
    """One live capture that passed the quality gate. Holds no pixels."""

    embedding: Embedding
    face: Face
    quality: QualityReport
    landmarks: Landmarks
    frame_index: int = -1
    """The camera frame it came from (``Frame.index``), so a caller can keep that frame."""


def the_face(faces: list[Face], min_face_px: int) -> Face:
    """The one face of a picture, or the error that tells the invigilator what is wrong.

    Faces narrower than ``min_face_px`` do not count as "another person in view": at that
    size they are far behind the candidate, or not faces at all (a stage light in
    people/person10/img67.jpg is found as a 37 px face at upsample 1).
    """
    if not faces:
        raise NoFace("no face found")
    relevant = [f for f in faces if f.width >= min_face_px]
    if len(relevant) > 1:
        raise SeveralFaces(len(relevant), widths=[f.width for f in relevant])
    if not relevant:
        raise FaceTooSmall(f"face {faces[0].width} px wide < {min_face_px}",
                           face_px=faces[0].width)
    return relevant[0]


def largest_face(engine: FaceEngine, image: RgbImage,
                 detection: Detection | None = None) -> Face:
    """The largest face, whatever else is in view (for calibration data, not check-ins)."""
    faces = engine.detect(image, detection or engine.settings.still)
    if not faces:
        raise NoFace("no face found")
    return faces[0]


RawDescribe = Callable[[list[RgbImage]], list[NDArray[np.float64]]]
"""Raw descriptors of face chips, in order (``FaceEngine.raw_descriptors`` or a split of it
over two face processes, ``biometrics.remote.describe_shared``)."""


def enrol(engine: FaceEngine, portrait: bytes | RgbImage, *,
          describe: RawDescribe | None = None) -> Reference:
    """Encode the chip portrait (JPEG / JPEG 2000 bytes, or an RGB array). With *describe*
    the jittered chips are described by it (the same numbers as ``engine.encode``)."""
    image = decode(portrait) if isinstance(portrait, bytes | bytearray) else as_rgb(portrait)
    settings = engine.settings
    faces = engine.detect(image, settings.still)
    # A chip portrait is a head-and-shoulders shot that cannot be retaken: take its face even
    # when it is small, but refuse a picture with a second face of comparable size.
    face = the_face(faces, min_face_px=faces[0].width // 2 if faces else 1)
    if describe is None:
        encoding = engine.encode(image, face, jitters=settings.portrait_jitters)
    else:
        jitters = max(0, min(settings.portrait_jitters, MAX_JITTERS))
        chips = jittered_chips(engine.chip(image, face), jitters)
        encoding = encoding_of(describe(chips), jitters)
    return Reference(encoding.averaged, face, (image.shape[1], image.shape[0]))


@dataclass(frozen=True, slots=True)
class _Inspected:
    image: RgbImage
    face: Face
    landmarks: Landmarks
    quality: QualityReport
    frame_index: int = -1


def _inspect(engine: FaceEngine, frame: RgbImage, still: bool, check_quality: bool,
             found: Callable[[Face, Landmarks], None] | None = None) -> _Inspected:
    image = as_rgb(frame)
    settings = engine.settings
    detection = settings.still if still else settings.live
    face = the_face(engine.detect(image, detection), settings.quality.min_face_px)
    landmarks = engine.landmarks(image, face)
    if found is not None:
        found(face, landmarks)
    report = measure(image, face, landmarks)
    if check_quality:
        check(report, settings.quality)
    return _Inspected(image, face, landmarks, report)


def _encode(engine: FaceEngine, seen: _Inspected) -> Probe:
    encoding = engine.encode(seen.image, seen.face, jitters=0)
    return Probe(encoding.plain, seen.face, seen.quality, seen.landmarks, seen.frame_index)


def capture(engine: FaceEngine, frame: RgbImage, *, still: bool = False,
            check_quality: bool = True) -> Probe:
    """Find the candidate's face in a live frame, check its quality, encode it.

    Raises ``NoFace``, ``SeveralFaces`` or a ``PoorImage`` subclass (``FaceTooSmall``,
    ``FaceCutOff``, ``TooDark``, ``TooBright``, ``Blurred``, ``HeadTurned``, ``EyesClosed``).
    ``still=True`` searches like for a photo (full resolution, with retries) instead of a
    camera frame.
    """
    return _encode(engine, _inspect(engine, frame, still, check_quality))


Describe = Callable[[list[RgbImage]], list[Embedding]]
"""Descriptors of aligned face chips, in order (``FaceEngine.describe_many`` or a split of it
over two face processes)."""


def collect(engine: FaceEngine, camera: Camera, count: int | None = None, *,
            candidates: int | None = None, max_frames: int = 90, timeout: float = 2.0,
            on_problem: Callable[[BiometricsError], None] | None = None,
            on_face: Callable[[Frame, Face, Landmarks], None] | None = None,
            describe: Describe | None = None) -> list[Probe]:
    """The *count* best live captures (default ``settings.fuse_frames``), for fusion.

    Frames are read until *candidates* of them (default 2 × count) pass the quality gate; the
    *count* with the best quality score (sharp, frontal, large) are encoded, the rest are only
    measured (~35 ms instead of ~110 ms each). Each refused frame's error goes to *on_problem*
    (the GUI shows its message: "Turn on more light", …). When *max_frames* frames have not
    given *count* good ones, the error seen last is raised, so the invigilator gets the reason
    rather than a time-out. ``CameraUnavailable`` passes straight through. *on_face* sees
    every frame read that shows one face, before its quality is judged (the hand-over check,
    :mod:`handover`, follows that face from the liveness challenge on).

    The chosen frames are aligned one by one and their chips described in one batch
    (*describe*, default ``engine.describe_many``; a check-in may spread the batch over two
    face processes): the same descriptors as encoding each frame on its own.
    """
    wanted = count or engine.settings.fuse_frames
    pool_size = max(wanted, candidates if candidates is not None else 2 * wanted)
    limits = engine.settings.quality
    good: list[_Inspected] = []
    last: BiometricsError | None = None
    for _ in range(max_frames):
        frame = camera.read(timeout)
        found: Callable[[Face, Landmarks], None] | None = None
        if on_face is not None:
            def found(face: Face, marks: Landmarks, f: Frame = frame) -> None:
                on_face(f, face, marks)
        try:
            seen = _inspect(engine, frame.image, still=False, check_quality=True, found=found)
            good.append(dataclasses.replace(seen, frame_index=frame.index))
        except (NoFace, SeveralFaces, PoorImage) as exc:
            last = exc
            if on_problem is not None:
                on_problem(exc)
            continue
        if len(good) == pool_size:
            break
    if len(good) < wanted:
        raise last if last is not None else NoFace("no usable frame")
    best = sorted(good, key=lambda seen: score(seen.quality, limits), reverse=True)[:wanted]
    chips = [engine.chip(seen.image, seen.face) for seen in best]
    embeddings = (describe or engine.describe_many)(chips)
    return [Probe(embedding, seen.face, seen.quality, seen.landmarks, seen.frame_index)
            for seen, embedding in zip(best, embeddings, strict=True)]

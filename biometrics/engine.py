"""The loaded dlib models and the three things they do: find faces, place landmarks, encode.

One :class:`FaceEngine` object per application holds the models (about 130 MB); there is no
module-level state. Models load once, lazily, under a lock: a GUI calls :meth:`warm_up` at
start-up so the first check-in does not wait, and a first use from any thread is safe. dlib's
objects are not documented as safe for concurrent use, so each model has its own lock: a
preview thread detecting faces does not wait for a portrait being encoded on another thread.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from .config import Detection, FaceSettings
from .geometry import Landmarks
from .images import RgbImage
from .models import ModelPaths

Embedding = NDArray[np.float32]
"""(128,) float32, L2-normalised."""

CHIP_SIZE = 150  # dlib's ResNet input
CHIP_PADDING = 0.25  # dlib's default margin around the 5 landmarks (face_recognition's too)

# Fallback for faces that fill the picture (ORL shots, tight portrait crops): the HOG detector
# needs some background around a face, so add a black border of a quarter of the longer side.
_PAD_FRACTION = 0.25
_FALLBACK_UPSAMPLE_MAX_SIDE = 640  # upsampling larger images costs ~1 s for little gain
_CNN_MAX_SIDE = 1000  # the CNN detector runs ~1 s per megapixel on 2 cores


@dataclass(frozen=True, slots=True)
class Face:
    """A face found in an image; coordinates are source-image pixels."""

    left: int
    top: int
    right: int
    bottom: int
    score: float
    detector: str  # "hog", "hog-padded" or "cnn": how hard it was to find

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0)


# Deterministic test-time augmentation for the chip portrait: small shifts (fraction of the
# chip), rotations (degrees) and scales, each also mirrored. dlib's own ``num_jitters`` draws
# them at random from a generator that keeps state between calls, so the same portrait would
# give a different embedding on each read; a fixed list gives the same answer every time.
_JITTERS: tuple[tuple[float, float, float, float, bool], ...] = (
    (0.0, 0.0, 0.0, 1.0, True),
    (0.02, 0.0, 2.0, 0.98, False),
    (-0.02, 0.0, -2.0, 0.98, True),
    (0.0, 0.02, -2.0, 1.0, False),
    (0.0, -0.02, 2.0, 1.0, True),
    (0.015, 0.015, 3.0, 0.97, False),
    (-0.015, -0.015, -3.0, 0.97, True),
    (-0.015, 0.015, 1.0, 0.99, False),
    (0.015, -0.015, -1.0, 0.99, True),
    (0.02, 0.0, -3.0, 0.97, True),
    (-0.02, 0.0, 3.0, 0.97, False),
    (0.0, 0.02, 1.0, 0.98, True),
    (0.0, -0.02, -1.0, 0.98, False),
)
MAX_JITTERS = len(_JITTERS)


@dataclass(frozen=True, slots=True)
class Encoding:
    """Descriptors of one face: the plain aligned chip, and the average over the jitters."""

    plain: Embedding
    averaged: Embedding
    jitters: int


@dataclass(slots=True)
class _Models:
    hog: Any
    cnn: Any | None
    landmarks_5: Any
    landmarks_68: Any
    encoder: Any


class FaceEngine:
    """dlib's detector, landmark predictors and ResNet encoder, loaded on first use."""

    def __init__(self, settings: FaceSettings | None = None,
                 models: ModelPaths | None = None, *, landmarks_68: bool = True) -> None:
        self.settings = settings if settings is not None else FaceSettings()
        self._paths = models
        # False: the 68-point predictor (~100 MB in memory, used for quality and pose only)
        # loads on the first landmarks() call; a seat agent that only detects and encodes
        # never pays for it (bench/seat.py: RSS).
        self._eager_68 = landmarks_68
        self._models: _Models | None = None
        self._load_lock = threading.Lock()
        self._detect_lock = threading.Lock()
        self._shape_lock = threading.Lock()
        self._encode_lock = threading.Lock()

    # --- loading -----------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._models is not None

    def load(self) -> None:
        """Load the models now (idempotent, thread-safe; ~1 s)."""
        self._get()

    def warm_up(self) -> Future[None]:
        """Load the models on a background thread; the future completes (or fails) with it."""
        future: Future[None] = Future()

        def run() -> None:
            try:
                self.load()
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)
            else:
                future.set_result(None)

        threading.Thread(target=run, name="face-models", daemon=True).start()
        return future

    def _get(self) -> _Models:
        models = self._models
        if models is not None:
            return models
        with self._load_lock:
            if self._models is None:
                import dlib  # imported here: 0.3 s, and only needed once models load

                paths = self._paths or ModelPaths.locate()
                cnn = (dlib.cnn_face_detection_model_v1(str(paths.cnn_detector))
                       if paths.cnn_detector.is_file() else None)
                self._models = _Models(
                    hog=dlib.get_frontal_face_detector(),
                    cnn=cnn,
                    landmarks_5=dlib.shape_predictor(str(paths.landmarks_5)),
                    landmarks_68=(dlib.shape_predictor(str(paths.landmarks_68))
                                  if self._eager_68 else None),
                    encoder=dlib.face_recognition_model_v1(str(paths.encoder)),
                )
            return self._models

    # --- detection ---------------------------------------------------------------------------

    def detect(self, image: RgbImage, detection: Detection) -> list[Face]:
        """Faces in *image*, largest first.

        The image is resampled so that a face of ``detection.min_face_px`` fills the HOG
        window: camera frames are scanned at reduced size (the cost of HOG grows with the
        pixel count), small photos are upsampled. With ``fallback``, an image where nothing
        was found is searched again with a border added (faces that touch the picture's edge)
        and then with the CNN detector.
        """
        models = self._get()
        faces = self._hog(models, image, detection.scale, "hog")
        if not faces and detection.fallback:
            faces = self._padded(models, image)
        return sorted(faces, key=lambda f: f.area, reverse=True)

    def _hog(self, models: _Models, image: RgbImage, scale: float, label: str,
             offset: int = 0) -> list[Face]:
        upsample = 0
        work = image
        factor = 1.0  # from detector coordinates back to the image's
        if scale < 0.95:
            work = np.asarray(cv2.resize(image, None, fx=scale, fy=scale,
                                         interpolation=cv2.INTER_AREA), dtype=np.uint8)
            factor = 1.0 / scale
        elif scale > 1.05:
            # dlib's own pyramid upsampling (×2 per step, as face_recognition does); dlib maps
            # its detections back to the input's coordinates itself.
            upsample = math.ceil(math.log2(scale))
        with self._detect_lock:
            rects, scores, _ = models.hog.run(work, upsample, 0.0)
        return [_face(r, s, factor, offset, label) for r, s in zip(rects, scores, strict=True)]

    def _padded(self, models: _Models, image: RgbImage) -> list[Face]:
        pad = round(_PAD_FRACTION * max(image.shape[:2]))
        padded = np.asarray(cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT,
                                               value=0), dtype=np.uint8)
        longest = max(padded.shape[:2])
        scale = 2.0 if longest <= _FALLBACK_UPSAMPLE_MAX_SIDE else 1.0
        faces = self._hog(models, padded, scale, "hog-padded", offset=pad)
        if faces or models.cnn is None or longest > _CNN_MAX_SIDE:
            return faces
        upsample = 1 if longest <= _FALLBACK_UPSAMPLE_MAX_SIDE // 2 else 0
        with self._detect_lock:
            found = models.cnn(padded, upsample)
        return [_face(d.rect, d.confidence, 1.0, pad, "cnn") for d in found]

    # --- landmarks and encoding --------------------------------------------------------------

    def landmarks(self, image: RgbImage, face: Face) -> Landmarks:
        """The 68 iBUG landmarks as an (68, 2) array of (x, y)."""
        models = self._get()
        if models.landmarks_68 is None:
            with self._load_lock:
                if models.landmarks_68 is None:
                    import dlib

                    paths = self._paths or ModelPaths.locate()
                    models.landmarks_68 = dlib.shape_predictor(str(paths.landmarks_68))
        with self._shape_lock:
            shape = models.landmarks_68(image, _rect(face))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    def chip(self, image: RgbImage, face: Face) -> RgbImage:
        """The aligned 150×150 face chip dlib's encoder expects (eyes and nose at fixed places,
        from the 5-point landmarks, as face_recognition does)."""
        import dlib

        models = self._get()
        with self._shape_lock:
            shape = models.landmarks_5(image, _rect(face))
        chip: RgbImage = dlib.get_face_chip(image, shape, CHIP_SIZE, CHIP_PADDING)
        return chip

    def describe(self, chip: RgbImage) -> Embedding:
        """The plain descriptor of a face chip made earlier by :meth:`chip` (the liveness check
        keeps chips of the frames it measured and encodes only the few it samples)."""
        models = self._get()
        with self._encode_lock:
            raw = np.asarray(models.encoder.compute_face_descriptor(chip), dtype=np.float64)
        return unit(raw)

    def describe_many(self, chips: list[RgbImage]) -> list[Embedding]:
        """:meth:`describe` of each chip, in one batch through the network (the same numbers
        bit for bit: the batch only spares the per-call set-up, ~10 % of a descriptor, and in
        a face process all but one round trip)."""
        if not chips:
            return []
        models = self._get()
        with self._encode_lock:
            raw = _descriptors(models.encoder, chips)
        return [unit(r) for r in raw]

    def raw_descriptors(self, chips: list[RgbImage]) -> list[NDArray[np.float64]]:
        """dlib's descriptors of *chips* before normalisation (what :func:`encoding_of`
        averages): a portrait's jittered chips can be described on two engines and averaged
        as if on one (the same numbers: each chip is described on its own)."""
        if not chips:
            return []
        models = self._get()
        with self._encode_lock:
            return _descriptors(models.encoder, chips)

    def encode(self, image: RgbImage, face: Face, *, jitters: int = 0) -> Encoding:
        """128-D descriptors of *face*: plain, and averaged with *jitters* fixed augmentations."""
        jitters = max(0, min(jitters, MAX_JITTERS))
        chips = jittered_chips(self.chip(image, face), jitters)
        return encoding_of(self.raw_descriptors(chips), jitters)


def jittered_chips(chip: RgbImage, jitters: int) -> list[RgbImage]:
    """The aligned chip and its first *jitters* fixed augmentations, in the order
    :meth:`FaceEngine.encode` describes them."""
    jitters = max(0, min(jitters, MAX_JITTERS))
    return [chip] + [_jitter(chip, *params) for params in _JITTERS[:jitters]]


def encoding_of(raw: list[NDArray[np.float64]], jitters: int) -> Encoding:
    """The :class:`Encoding` of the raw descriptors of :func:`jittered_chips` (in that order)."""
    plain = unit(raw[0])
    averaged = unit(np.mean(raw, axis=0)) if jitters else plain
    return Encoding(plain=plain, averaged=averaged, jitters=jitters)


def _descriptors(encoder: Any, chips: list[RgbImage]) -> list[NDArray[np.float64]]:
    """dlib's descriptors of *chips*: one call for one chip, a batch for several (the batch
    gives the same numbers as one call per chip)."""
    if len(chips) == 1:
        return [np.asarray(encoder.compute_face_descriptor(chips[0]), dtype=np.float64)]
    return [np.asarray(d, dtype=np.float64) for d in encoder.compute_face_descriptor(chips)]


def unit(vector: NDArray[np.floating[Any]]) -> Embedding:
    """L2-normalised float32 copy (dlib descriptors have norms of about 1.2–1.6)."""
    v = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(v))
    if norm == 0.0 or not math.isfinite(norm):
        raise ValueError("cannot normalise a zero or non-finite descriptor")
    return np.ascontiguousarray(v / norm, dtype=np.float32)


def fuse(embeddings: list[Embedding] | NDArray[np.float32]) -> Embedding:
    """One descriptor for several captures of the same face: the normalised mean direction."""
    stack = np.asarray(embeddings, dtype=np.float64).reshape(-1, 128)
    if len(stack) == 0:
        raise ValueError("nothing to fuse")
    return unit(stack.mean(axis=0))


def _jitter(chip: RgbImage, dx: float, dy: float, degrees: float, scale: float,
            mirror: bool) -> RgbImage:
    size = chip.shape[1]
    matrix = cv2.getRotationMatrix2D((size / 2.0, size / 2.0), degrees, 1.0 / scale)
    matrix[:, 2] += (dx * size, dy * size)
    out = cv2.warpAffine(chip, matrix, (size, size), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(out[:, ::-1] if mirror else out)


def _face(rect: Any, score: float, factor: float, offset: int, label: str) -> Face:
    # Not clipped to the picture: a face cut by the border still has its true extent, which the
    # landmark predictor needs; crops clip (see quality.py).
    left = round(rect.left() * factor) - offset
    top = round(rect.top() * factor) - offset
    right = round((rect.right() + 1) * factor) - offset
    bottom = round((rect.bottom() + 1) * factor) - offset
    return Face(left, top, max(right, left + 1), max(bottom, top + 1), float(score), label)


def _rect(face: Face) -> Any:
    import dlib

    return dlib.rectangle(face.left, face.top, face.right - 1, face.bottom - 1)

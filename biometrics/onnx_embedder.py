"""A second face embedder a site installs itself: an ONNX model run by OpenCV's dnn module, its
score fused with dlib's.

A centre may install a stronger model than dlib's (OpenCV Zoo's SFace, Apache-2.0, is the one
the README shows) by file path, with the file's SHA-256 pinned in the ``face_embedder`` section
of its settings. examdesk never downloads anything. The file is read once into memory, hashed,
compared with the pin, and the *same bytes* are handed to ``cv2.dnn.readNetFromONNX``, so a file
swapped between the check and the load cannot slip in. A wrong hash is refused with a clear
message (:class:`EmbedderHashMismatch`), the model left unloaded.

Alignment is the one OpenCV's ``FaceRecognizerSF.alignCrop`` does for SFace (and ArcFace-style
models): the similarity transform taking the eye centres, the nose tip and the mouth corners to
fixed places in a 112×112 crop. The five points come from dlib's 68 landmarks, which the check-in
has already placed (no second detector).

Fusion is score-level: each embedder's distance is normalised against its own impostor
distribution (z-norm: mean and spread of impostor distances on the calibration data), and the
fused score is their weighted sum. Lower is more alike, as for a distance, so the calibration
(:mod:`.calibration`, :mod:`.population`) and the three-way decision apply to it unchanged.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from .calibration import PairScores
from .errors import BiometricsError
from .geometry import Landmarks
from .images import RgbImage

SECTION = "face_embedder"
"""The settings file's section: ``{"model": path, "sha256": hex, "fusion": {...}}``."""
MAX_MODEL_BYTES = 256 << 20
"""SFace is 24 MB; a file far larger is not a face embedder and is not read into memory."""
CROP_SIZE = 112
# Where SFace / ArcFace expect the five points in the 112×112 crop (x, y): the subject's right
# eye (image left), left eye, nose tip, right and left mouth corners (OpenCV's face_recognize.cpp).
REFERENCE_POINTS = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float32)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class EmbedderError(BiometricsError):
    key = "face.embedder.error"


class EmbedderSettingsInvalid(EmbedderError):
    """The ``face_embedder`` section names a model without a valid SHA-256, or a bad value."""

    key = "face.embedder.settings_invalid"


class EmbedderMissing(EmbedderError):
    """The model file does not exist, cannot be read, or is too large to be one."""

    key = "face.embedder.missing"


class EmbedderHashMismatch(EmbedderError):
    """The model file's SHA-256 is not the one pinned in the settings: not loaded."""

    key = "face.embedder.hash_mismatch"


class EmbedderUnloadable(EmbedderError):
    """The pinned file is not a model OpenCV can run as a face embedder."""

    key = "face.embedder.unloadable"


@dataclass(frozen=True, slots=True)
class ScoreNorm:
    """Mean and spread of an embedder's impostor distances: z = (d − mean) / std."""

    mean: float
    std: float

    @classmethod
    def fit(cls, impostor: NDArray[np.floating]) -> ScoreNorm:
        d = np.asarray(impostor, dtype=np.float64)
        d = d[np.isfinite(d)]
        if len(d) < 2 or float(d.std()) <= 0.0:
            raise ValueError("need at least two distinct finite impostor distances")
        return cls(float(d.mean()), float(d.std()))

    def apply(self, d: NDArray[np.floating] | float) -> NDArray[np.float64]:
        return (np.asarray(d, dtype=np.float64) - self.mean) / self.std


@dataclass(frozen=True, slots=True)
class Fusion:
    """Weighted sum of the two normalised distances; *weight* is the second embedder's share."""

    first: ScoreNorm
    second: ScoreNorm
    weight: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0 or self.first.std <= 0 or self.second.std <= 0:
            raise ValueError("fusion weight must be in [0, 1] and spreads positive")

    @classmethod
    def fit(cls, impostor_first: NDArray[np.floating], impostor_second: NDArray[np.floating],
            weight: float = 0.5) -> Fusion:
        return cls(ScoreNorm.fit(impostor_first), ScoreNorm.fit(impostor_second), weight)

    def score(self, d_first: NDArray[np.floating] | float,
              d_second: NDArray[np.floating] | float) -> NDArray[np.float64]:
        """The fused score (lower = more alike); +inf where either side found no face."""
        a = np.asarray(d_first, dtype=np.float64)
        b = np.asarray(d_second, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            fused = (1.0 - self.weight) * self.first.apply(a) + self.weight * self.second.apply(b)
        return np.where(np.isfinite(a) & np.isfinite(b), fused, np.inf)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fusion:
        try:
            return cls(ScoreNorm(float(data["first"]["mean"]), float(data["first"]["std"])),
                       ScoreNorm(float(data["second"]["mean"]), float(data["second"]["std"])),
                       float(data.get("weight", 0.5)))
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbedderSettingsInvalid(f"fusion: {exc}", field="fusion") from exc


@dataclass(frozen=True, slots=True)
class EmbedderSpec:
    """The ``face_embedder`` section: which file, its pinned hash, how to fuse."""

    model: Path
    sha256: str
    fusion: Fusion | None = field(default=None)
    """None until calibrated: the second embedder is then evaluated but not yet fused."""

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> EmbedderSpec | None:
        """None when the site installed no second model."""
        if not data or not data.get("model"):
            return None
        pin = str(data.get("sha256") or "").strip().lower()
        if not _HEX64.match(pin):
            raise EmbedderSettingsInvalid(f"sha256 {pin[:80]!r} is not 64 hex digits",
                                          field="sha256", model=str(data["model"]))
        fusion = Fusion.from_dict(data["fusion"]) if data.get("fusion") else None
        return cls(Path(str(data["model"])).expanduser(), pin, fusion)

    def to_dict(self) -> dict[str, Any]:
        return {"model": str(self.model), "sha256": self.sha256,
                "fusion": self.fusion.to_dict() if self.fusion else None}


def read_pinned(path: Path, sha256: str, *, limit: int = MAX_MODEL_BYTES) -> bytes:
    """The file's bytes if their SHA-256 is *sha256*; the size is checked before reading."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise EmbedderMissing(f"{path}: {size} bytes, more than {limit}", path=str(path),
                                  size=size)
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise EmbedderMissing(f"{path}: {exc.strerror or exc}", path=str(path)) from exc
    if len(data) > limit:  # grew after the stat
        raise EmbedderMissing(f"{path}: more than {limit} bytes", path=str(path))
    found = hashlib.sha256(data).hexdigest()
    if found != sha256.lower():
        raise EmbedderHashMismatch(f"{path}: SHA-256 {found}, pinned {sha256}", path=str(path),
                                   expected=sha256.lower(), found=found)
    return data


def five_points(landmarks: Landmarks) -> NDArray[np.float32]:
    """SFace's five points from dlib's 68 (iBUG): eye centres, nose tip, mouth corners."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (68, 2):
        raise ValueError(f"expected 68 landmarks, got {pts.shape}")
    return np.array([pts[36:42].mean(axis=0), pts[42:48].mean(axis=0), pts[30], pts[48],
                     pts[54]], dtype=np.float32)


def align(image: RgbImage, points: NDArray[np.floating]) -> tuple[RgbImage, NDArray[np.float64]]:
    """The 112×112 crop with the five points at :data:`REFERENCE_POINTS` (least-squares
    similarity, as ``FaceRecognizerSF.alignCrop``), and the 2×3 matrix used."""
    matrix, _ = cv2.estimateAffinePartial2D(np.asarray(points, np.float32), REFERENCE_POINTS,
                                            method=cv2.LMEDS)
    if matrix is None or not np.isfinite(matrix).all():
        raise ValueError("cannot align: degenerate landmarks")
    crop = cv2.warpAffine(image, matrix, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)
    return np.ascontiguousarray(crop), matrix.astype(np.float64)


class OnnxEmbedder:
    """A loaded, hash-verified ONNX embedder. Not thread-safe: one per worker (as dlib's)."""

    def __init__(self, spec: EmbedderSpec) -> None:
        data = read_pinned(spec.model, spec.sha256)
        try:
            self._net = cv2.dnn.readNetFromONNX(np.frombuffer(data, dtype=np.uint8))
        except cv2.error as exc:
            raise EmbedderUnloadable(f"{spec.model}: {str(exc).strip()[-300:]}",
                                     path=str(spec.model)) from exc
        if self._net is None or self._net.empty():
            raise EmbedderUnloadable(f"{spec.model}: empty network", path=str(spec.model))
        self.spec = spec
        # One run on a blank crop: a model that does not take a 112×112 colour image or does not
        # give one vector fails here, at installation, not at a candidate's check-in.
        try:
            self._run(np.zeros((CROP_SIZE, CROP_SIZE, 3), np.uint8))
        except (cv2.error, ValueError) as exc:
            raise EmbedderUnloadable(f"{spec.model}: {str(exc).strip()[-300:]}",
                                     path=str(spec.model)) from exc

    def _run(self, crop: RgbImage) -> NDArray[np.float64]:
        # The crop is RGB already (examdesk decodes to RGB): no channel swap, unlike
        # FaceRecognizerSF, which is given BGR.
        blob = cv2.dnn.blobFromImage(crop, 1.0, (CROP_SIZE, CROP_SIZE), (0, 0, 0),
                                     swapRB=False, crop=False)
        self._net.setInput(blob)
        out = np.asarray(self._net.forward(), dtype=np.float64).reshape(-1)
        if out.size == 0 or not np.isfinite(out).all():
            raise ValueError("the model gave no finite vector")
        return out

    def embed_crop(self, crop: RgbImage) -> NDArray[np.float32]:
        """Unit descriptor of an aligned 112×112 crop."""
        v = self._run(crop)
        norm = float(np.linalg.norm(v))
        if norm == 0.0 or not math.isfinite(norm):
            raise ValueError("zero descriptor")
        return np.ascontiguousarray(v / norm, dtype=np.float32)

    def embed(self, image: RgbImage, landmarks: Landmarks) -> NDArray[np.float32]:
        """Unit descriptor of the face whose 68 landmarks are given."""
        crop, _ = align(image, five_points(landmarks))
        return self.embed_crop(crop)


def fused_pair_scores(labels: list[str], first: tuple[NDArray[np.float32], NDArray[np.float32]],
                      second: tuple[NDArray[np.float32], NDArray[np.float32]],
                      found: NDArray[np.bool_], fusion: Fusion) -> PairScores:
    """Pairs i < j as :func:`.calibration.pair_scores` makes them (reference of i against
    probe of j), scored by the fused distance of both embedders; *found* is where both
    embedders have a face. The result calibrates and evaluates as any :class:`PairScores`."""
    distances = []
    for refs, probes in (first, second):
        cos = refs.astype(np.float64) @ probes.astype(np.float64).T
        distances.append(np.sqrt(np.clip(2.0 - 2.0 * cos, 0.0, None)))
    fused = fusion.score(distances[0], distances[1])
    iu = np.triu_indices(len(labels), 1)
    lab = np.asarray(labels)
    same = (lab[:, None] == lab[None, :])[iu]
    both = (found[:, None] & found[None, :])[iu]
    score = np.where(both, fused[iu], np.inf)
    return PairScores(genuine=np.sort(score[same]), impostor=np.sort(score[~same]))

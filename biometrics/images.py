"""Turn image bytes, files or camera frames into the one layout dlib wants: RGB uint8, C order.

Chip portraits come as JPEG or JPEG 2000 (Pillow decodes both; OpenJPEG is bundled in its
wheels), photos as JPEG/PNG with EXIF orientation, camera frames as OpenCV BGR arrays.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageUnreadable

RgbImage = NDArray[np.uint8]
"""An (h, w, 3) uint8 RGB array, C-contiguous."""

# Refuse absurd images before decoding them (a 30000×30000 "portrait" is an attack or a bug).
MAX_PIXELS = 40_000_000
MIN_SIDE = 16
_ORIENTATION = 0x0112  # the EXIF tag a phone sets instead of turning the pixels


def decode(data: bytes) -> RgbImage:
    """Decode image bytes (JPEG, JPEG 2000, PNG, …) to RGB; ``ImageUnreadable`` otherwise."""
    if not data:
        raise ImageUnreadable("empty image data")
    try:
        with warnings.catch_warnings():
            # Pillow warns (instead of failing) on decompression bombs below 2× its limit.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format
                if image.width * image.height > MAX_PIXELS:
                    raise ImageUnreadable(
                        f"image too large: {image.width}×{image.height}", format=fmt
                    )
                image.load()
                # exif_transpose copies even when there is nothing to turn: ask first.
                oriented = image.getexif().get(_ORIENTATION, 1) not in (0, 1)
                upright = ImageOps.exif_transpose(image) if oriented else image
                rgb = upright if upright.mode == "RGB" else upright.convert("RGB")
                array = np.asarray(rgb, dtype=np.uint8)
    except ImageUnreadable:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError,
            Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageUnreadable(f"cannot decode image: {exc}") from exc
    return _checked(array, fmt)


def load(path: str | Path) -> RgbImage:
    """Read and decode an image file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageUnreadable(f"cannot read {path}: {exc.strerror or exc}", path=str(path)) from exc
    try:
        return decode(data)
    except ImageUnreadable as exc:
        exc.context.setdefault("path", str(path))
        raise


def from_bgr(frame: NDArray[np.uint8]) -> RgbImage:
    """An OpenCV frame (BGR or grey) as RGB."""
    if frame.ndim == 2:
        return _checked(np.ascontiguousarray(np.repeat(frame[:, :, None], 3, axis=2)), "frame")
    if frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise ImageUnreadable(f"not an image frame: shape {frame.shape}")
    return _checked(np.ascontiguousarray(frame[:, :, 2::-1]), "frame")


def as_rgb(image: NDArray[np.uint8]) -> RgbImage:
    """Accept grey or RGB(A) arrays from callers; return RGB uint8 C-contiguous."""
    if image.dtype != np.uint8:
        raise ImageUnreadable(f"image must be uint8, not {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    elif image.ndim != 3 or image.shape[2] != 3:
        raise ImageUnreadable(f"not an image: shape {image.shape}")
    return _checked(np.ascontiguousarray(image), "array")


def _checked(array: NDArray[np.uint8], fmt: str | None) -> RgbImage:
    h, w = array.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageUnreadable(f"image too small: {w}×{h}", format=fmt)
    return array


def fit_frame(image: RgbImage, size: tuple[int, int] = (1280, 720)) -> RgbImage:
    """A photo as a webcam would deliver it: scaled to the frame height, centred, the sides
    filled with the photo's own edge colour, like a plain wall behind the candidate.

    The file camera plays stills this way so a demo or a test sees webcam-sized frames. A flat
    fill adds no structure a detector could take for a face; stretching the edge pixels (the
    first version) did neither, but drew streaks across the demo's preview.
    """
    import cv2  # only here: decoding photos needs Pillow alone

    w, h = size
    scale = h / image.shape[0]
    scaled = cv2.resize(image, (max(1, round(image.shape[1] * scale)), h),
                        interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    if scaled.shape[1] >= w:
        x0 = (scaled.shape[1] - w) // 2
        return np.ascontiguousarray(scaled[:, x0:x0 + w])
    pad = w - scaled.shape[1]
    edges = np.concatenate([scaled[:, :2].reshape(-1, scaled.shape[2]),
                            scaled[:, -2:].reshape(-1, scaled.shape[2])])
    wall = [int(v) for v in np.median(edges, axis=0)]
    return np.ascontiguousarray(cv2.copyMakeBorder(scaled, 0, 0, pad // 2, pad - pad // 2,
                                                   cv2.BORDER_CONSTANT, value=wall))

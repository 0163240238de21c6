"""Evidence pictures made small enough to print: decode (JPEG, JPEG 2000, PNG), shrink, re-encode.

A chip portrait is 15–30 KB and a camera frame 50–300 KB; 500 candidates at full size make a
roster of ~100 MB that no printer spooler enjoys. A 3 × 4 cm cell needs ~100 × 130 pixels, so we
decode at reduced scale where the codec can (JPEG DCT scaling through ``draft``, JPEG 2000
resolution levels through ``reduce``: both skip most of the decoding work), then resample and
re-encode as a small baseline JPEG that reportlab embeds as is (DCTDecode, no second encoding).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, ImageOps, UnidentifiedImageError

# Decompression-bomb guard: a chip portrait or a camera frame is never near this.
MAX_PIXELS = 40_000_000


class Fit(StrEnum):
    COVER = "cover"  # fill the box, cutting the edges (a roster cell: the face is central)
    CONTAIN = "contain"  # the whole picture inside the box (evidence for a reviewer)


@dataclass(frozen=True)
class ThumbSpec:
    width: int  # pixels
    height: int
    fit: Fit = Fit.COVER
    quality: int = 80


@dataclass(frozen=True)
class Thumbnail:
    jpeg: bytes
    width: int
    height: int


def _reduce_jpeg2000(im: Image.Image, width: int, height: int) -> None:
    """Ask OpenJPEG for the coarsest resolution level still at least as big as the box."""
    w, h = im.size
    level = 0
    while level < 5 and w >> (level + 1) >= width and h >> (level + 1) >= height:
        level += 1
    if level:
        im.reduce = level  # type: ignore[method-assign,assignment]  # Jpeg2K's setter


def thumbnail(data: bytes, spec: ThumbSpec) -> Thumbnail | None:
    """A small JPEG of ``data`` fitted to ``spec``; None when the bytes are no image we decode
    (the roster then shows "unreadable" in the cell instead of failing the whole print)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_PIXELS:
                return None
            # For COVER the short side must still fill the box after the crop.
            scale_w, scale_h = spec.width, spec.height
            if spec.fit is Fit.COVER:
                ratio = max(spec.width / im.width, spec.height / im.height)
                scale_w, scale_h = round(im.width * ratio), round(im.height * ratio)
            if im.format == "JPEG":
                im.draft("RGB", (scale_w, scale_h))
            elif im.format == "JPEG2000":
                _reduce_jpeg2000(im, scale_w, scale_h)
            im.load()
            picture = ImageOps.exif_transpose(im)
            picture = picture.convert("L" if picture.mode in ("1", "L", "I;16", "I") else "RGB")
            if spec.fit is Fit.COVER:
                picture = ImageOps.fit(picture, (spec.width, spec.height),
                                       Image.Resampling.BICUBIC)
            else:
                picture.thumbnail((spec.width, spec.height), Image.Resampling.BICUBIC)
            out = io.BytesIO()
            picture.save(out, "JPEG", quality=spec.quality)
            return Thumbnail(out.getvalue(), picture.width, picture.height)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None

"""Decoding a picture for the screen when its bytes came from a card (or from its evidence).

The one way the desk's views turn image bytes into a picture: the check-in's chip portrait and
the office review's portraits and frames. A chip chooses its portrait's declared size: a 2 KB
JPEG 2000 can claim 13 000 × 13 000 pixels (557 MiB decoded), a JPEG 179 Mpx (Pillow then raises
DecompressionBombError, which no view caught). Here the size is checked from the header before
any pixel is decoded, the decoder is asked for no more resolution than the box shows (JPEG DCT
scaling, JPEG 2000 resolution levels), and every decoder failure is ``None``, never an
exception.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from reader.limits import MAX_PORTRAIT_PIXELS, MAX_PORTRAIT_SIDE

# Larger than any portrait box on screen (the check-in's chip portrait, the review's pair).
PREVIEW_BOX = (960, 960)
_FAILURES = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, MemoryError,
             Image.DecompressionBombError, Image.DecompressionBombWarning)


def declared_size_ok(width: int, height: int) -> bool:
    """Within what a DG2 portrait can carry (reader/limits.py)."""
    return (0 < width <= MAX_PORTRAIT_SIDE and 0 < height <= MAX_PORTRAIT_SIDE
            and width * height <= MAX_PORTRAIT_PIXELS)


def open_picture(data: bytes | None, box: tuple[int, int] = PREVIEW_BOX) -> Image.Image | None:
    """An RGB picture of ``data`` no larger than ``box`` (aspect kept), or None when the bytes
    are no image we decode or declare more pixels than a portrait can have."""
    if not data:
        return None
    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its own bomb limit: make that a refusal too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if not declared_size_ok(image.width, image.height):
                    return None
                _reduce(image, box)
                image.load()
                picture = image.convert("RGB")
    except _FAILURES:
        return None
    if picture.width > box[0] or picture.height > box[1]:
        picture.thumbnail(box, Image.Resampling.LANCZOS)
    return picture


def _reduce(image: Image.Image, box: tuple[int, int]) -> None:
    """Decode at the coarsest scale still at least as large as the box."""
    w, h = box
    if image.format == "JPEG":
        image.draft("RGB", (w, h))
    elif image.format == "JPEG2000":
        level = 0
        while level < 5 and image.width >> (level + 1) >= w and image.height >> (level + 1) >= h:
            level += 1
        if level:
            image.reduce = level  # type: ignore[method-assign,assignment]  # Jpeg2K's setter

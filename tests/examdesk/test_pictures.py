"""The desk's one picture decoder for card and evidence bytes (examdesk/views/pictures.py), as
the check-in's chip portrait and the office review use it: a picture declaring more pixels than
a portrait can have is refused before decoding, and what is decoded is no larger than its box."""

from __future__ import annotations

import dataclasses
import functools
import io
import uuid

import pytest
from PIL import Image

from examdesk.views.checkin import portrait_image
from examdesk.views.pictures import PREVIEW_BOX, open_picture
from examdesk.views.review_jobs import picture
from proctoring.review import Picture
from reader.lds import JPEG, JPEG2000, Portrait
from reader.virtual import faces_dir

from ..reader.hostile import hostile, read


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real photo's JPEG whose frame header (SOF) claims another size."""
    data = bytearray((faces_dir() / "people" / "obama" / "obama.jpg").read_bytes())
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at > 0:
            data[at + 5:at + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
            return bytes(data)
    raise AssertionError("no SOF marker")


@functools.cache
def jpeg2000(side: int) -> bytes:
    """A real JPEG 2000 codestream of a flat ``side`` × ``side`` picture: a few hundred bytes
    whatever the side, as a hostile chip's portrait would be."""
    out = io.BytesIO()
    Image.new("L", (side, side), 128).save(out, "JPEG2000", irreversible=True,
                                           quality_mode="rates", quality_layers=[400])
    return out.getvalue()


def evidence(data: bytes) -> Picture:
    return Picture(uuid.uuid4(), "CHIP_PORTRAIT", "image/jpeg", "ok", data)


def card_with_portrait(data: bytes, fmt: str) -> object:
    card = read(hostile(), use_pace=False, authenticate=False)
    assert card.portrait is not None
    return dataclasses.replace(card, portrait=Portrait(data, fmt, 480, 640))


def test_a_portrait_declaring_179_megapixels_is_no_picture_not_a_bomb_error() -> None:
    # Before: PIL.Image.DecompressionBombError escaped views/checkin.py's worker callback.
    bomb = jpeg_declaring(13400, 13400)
    assert portrait_image(card_with_portrait(bomb, JPEG)) is None  # type: ignore[arg-type]
    assert picture(evidence(bomb), (300, 400)).state == "undecodable"


@pytest.mark.parametrize("side", [4100])
def test_a_tiny_jpeg2000_declaring_more_than_a_portrait_can_hold_is_not_decoded(
        side: int) -> None:
    # Before: decoded in full by the preview (the review's 13 000² one: 557 MiB).
    data = jpeg2000(side)
    assert len(data) < 2048
    assert open_picture(data) is None
    assert portrait_image(card_with_portrait(data, JPEG2000)) is None  # type: ignore[arg-type]
    assert picture(evidence(data), (300, 400)).state == "undecodable"


def test_what_is_decoded_is_no_larger_than_its_box() -> None:
    shown = open_picture(jpeg2000(2000))
    assert shown is not None and max(shown.size) <= max(PREVIEW_BOX)
    small = open_picture(jpeg2000(2000), (120, 160))
    assert small is not None and small.width <= 120 and small.height <= 160


def test_the_genuine_portrait_still_shows() -> None:
    card = read(hostile(), use_pace=False, authenticate=False)
    shown = portrait_image(card)
    assert shown is not None and shown.mode == "RGB" and min(shown.size) > 100
    assert picture(evidence(card.portrait.data), (300, 400)).image is not None  # type: ignore[union-attr]


@pytest.mark.parametrize("data", [b"", b"\xff\xd8\xff", b"not an image", b"\x00" * 100])
def test_garbage_is_no_picture(data: bytes) -> None:
    assert open_picture(data) is None

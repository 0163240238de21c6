"""Decoding what the chip and the camera give us, and refusing what is not an image."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biometrics import ImageUnreadable
from biometrics.images import decode, load
from reader.virtual import VirtualCccd, load_profile


def test_jpeg2000_chip_portrait_decodes() -> None:
    data = VirtualCccd(load_profile("le-hoang-minh")).lds.portrait.data
    assert data[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n" or data[:4] == b"\xff\x4f\xff\x51"
    image = decode(data)
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype.name == "uint8"
    assert image.flags.c_contiguous


def test_grey_png_becomes_rgb(faces: Path) -> None:
    image = load(faces / "orl/s1/1.png")
    assert image.shape == (112, 92, 3)


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\xff\xd8\xff\xe0" + b"\x00" * 40])
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(ImageUnreadable):
        decode(data)


def test_truncated_jpeg_is_refused(faces: Path) -> None:
    data = (faces / "people/obama/obama.jpg").read_bytes()
    with pytest.raises(ImageUnreadable):
        decode(data[: len(data) // 3])


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ImageUnreadable) as info:
        load(tmp_path / "none.jpg")
    assert info.value.key == "face.image_unreadable"


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_decode_or_raise_image_unreadable(data: bytes) -> None:
    try:
        image = decode(data)
    except ImageUnreadable:
        return
    assert image.ndim == 3


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 4000), st.binary(min_size=1, max_size=8))
def test_corrupted_real_jpeg_never_crashes(position: int, patch: bytes) -> None:
    from reader.virtual.faces import faces_dir

    data = bytearray((faces_dir() / "people/obama/obama_small.jpg").read_bytes())
    position %= len(data)
    data[position:position + len(patch)] = patch
    try:
        decode(bytes(data))
    except ImageUnreadable:
        pass


def test_a_phone_photo_turned_by_exif_comes_out_upright(faces: Path) -> None:
    import io

    from PIL import Image

    with Image.open(faces / "people/obama/obama.jpg") as im:
        exif = im.getexif()
        exif[0x0112] = 6  # "rotate 90° clockwise to display"
        out = io.BytesIO()
        im.save(out, "JPEG", exif=exif.tobytes())
        width, height = im.size
    assert decode(out.getvalue()).shape[:2] == (width, height)

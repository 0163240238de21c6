"""Thumbnails of real photos (JPEG, JPEG 2000) and malformed input for every parser here:
images, PDFs given to `roster verify`, QR payloads, PKCS#12 files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from reports.errors import NotAPdf, SigningKeyUnreadable
from reports.images import Fit, ThumbSpec, thumbnail
from reports.keys import load_pkcs12
from reports.pdfmeta import parse_qr_payload
from reports.verify import Integrity, TrustRoots, verify_roster

from .builders import jpeg2000, person_photos

NO_ROOTS = TrustRoots(())


def test_thumbnails_of_real_photos() -> None:
    photo = person_photos()[3][0]
    for data in (photo.read_bytes(), jpeg2000(photo)):
        cover = thumbnail(data, ThumbSpec(96, 128, Fit.COVER))
        assert cover is not None and (cover.width, cover.height) == (96, 128)
        with Image.open(io.BytesIO(cover.jpeg)) as im:
            assert im.format == "JPEG" and im.size == (96, 128)
        contain = thumbnail(data, ThumbSpec(200, 200, Fit.CONTAIN))
        assert contain is not None and max(contain.width, contain.height) == 200
        assert len(cover.jpeg) < 12_000


@given(st.binary(max_size=2000))
@settings(max_examples=60, deadline=None)
def test_thumbnail_of_garbage_is_none(data: bytes) -> None:
    assert thumbnail(data, ThumbSpec(96, 128)) is None or data[:2] in (b"\xff\xd8", b"\x89P")


def test_truncated_photo_never_raises() -> None:
    """No thumbnail, or a partial one: Pillow decides by its process-wide
    LOAD_TRUNCATED_IMAGES, which importing face_recognition (the biometrics baseline) sets."""
    data = person_photos()[0][0].read_bytes()
    small = thumbnail(data[: len(data) // 3], ThumbSpec(96, 128))
    assert small is None or (small.width, small.height) == (96, 128)
    assert thumbnail(b"\xff\xd8\xff\xe0" + b"\x00" * 50, ThumbSpec(96, 128)) is None


@given(st.binary(max_size=3000))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_verify_never_crashes_on_a_damaged_pdf(tail: bytes) -> None:
    result = verify_roster(b"%PDF-1.7\n" + tail, roots=NO_ROOTS)
    assert result.integrity in (Integrity.UNREADABLE, Integrity.UNSIGNED, Integrity.CHANGED)
    assert not result.ok


def test_not_a_pdf_is_a_typed_error() -> None:
    with pytest.raises(NotAPdf):
        verify_roster(b"PK\x03\x04 a zip file", roots=NO_ROOTS)


@given(st.text(max_size=200))
def test_qr_payload_parser_refuses_anything_else(text: str) -> None:
    parsed = parse_qr_payload(text)
    assert parsed is None or text.strip().startswith("examdesk-roster/1;session=")


@given(st.binary(max_size=600))
@settings(max_examples=60, deadline=None)
def test_pkcs12_loader_refuses_garbage(tmp_path_factory: pytest.TempPathFactory,
                                       data: bytes) -> None:
    path: Path = tmp_path_factory.mktemp("p12") / "x.p12"
    path.write_bytes(data)
    with pytest.raises(SigningKeyUnreadable):
        load_pkcs12(path, b"whatever-password")

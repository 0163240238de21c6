"""The DG2 facial record (ISO/IEC 19794-5:2005) around a real photo."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .faces import faces_dir
from .profile import Portrait

IMAGE_DATA_JPEG = 0
IMAGE_DATA_JPEG2000 = 1
FACE_IMAGE_FULL_FRONTAL = 1
SOURCE_DIGITAL_STILL = 2
GENDER_MALE = 1
GENDER_FEMALE = 2
_COLOUR_SPACES = {"RGB": 1, "L": 3}  # 24-bit RGB, 8-bit greyscale; anything else is "other" (4)


@dataclass(frozen=True, slots=True)
class PortraitImage:
    data: bytes
    image_data_type: int  # 0 JPEG, 1 JPEG 2000
    width: int
    height: int
    colour_space: int


def portrait_path(portrait: Portrait) -> Path:
    return faces_dir() / portrait.file


def load_portrait(portrait: Portrait) -> PortraitImage:
    """JPEG: the file's bytes exactly as they are; JPEG 2000: a deterministic conversion."""
    raw = portrait_path(portrait).read_bytes()
    with Image.open(io.BytesIO(raw)) as image:
        image.load()
        if portrait.format == "jpeg":
            if image.format != "JPEG":
                raise ValueError(f"{portrait.file} is {image.format}, not JPEG")
            return PortraitImage(raw, IMAGE_DATA_JPEG, *image.size, _colour_space(image.mode))
        converted = image.convert("L" if image.mode == "L" else "RGB")
    out = io.BytesIO()
    # Fixed rate and no timestamps: OpenJPEG output is byte-identical from run to run.
    converted.save(out, "JPEG2000", irreversible=True, quality_mode="rates", quality_layers=[24])
    return PortraitImage(
        out.getvalue(), IMAGE_DATA_JPEG2000, *converted.size, _colour_space(converted.mode)
    )


def _colour_space(mode: str) -> int:
    return _COLOUR_SPACES.get(mode, 4)


def facial_record(image: PortraitImage, *, gender: int) -> bytes:
    """One-face ISO 19794-5 record: header, facial information, image information, image."""
    facial_information = struct.pack(
        ">IHBBB3sH3s3s",
        20 + 12 + len(image.data),  # facial record data length: this block to the image's end
        0,  # feature points
        gender,
        0,  # eye colour: unspecified
        0,  # hair colour: unspecified
        b"\x00\x00\x00",  # feature mask
        0,  # expression: unspecified
        b"\x00\x00\x00",  # pose angles yaw/pitch/roll: unspecified
        b"\x00\x00\x00",  # pose angle uncertainty
    )
    image_information = struct.pack(
        ">BBHHBBHH",
        FACE_IMAGE_FULL_FRONTAL,
        image.image_data_type,
        image.width,
        image.height,
        image.colour_space,
        SOURCE_DIGITAL_STILL,
        0,  # device type: unspecified
        0,  # quality: unspecified
    )
    body = facial_information + image_information + image.data
    header = b"FAC\x00" + b"010\x00" + struct.pack(">IH", 14 + len(body), 1)
    return header + body

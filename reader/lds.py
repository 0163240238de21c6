"""The Logical Data Structure (ICAO 9303-10): file table, EF.COM, DG1, DG2.

DG13 (the Vietnamese fields) lives in ``dg13.py``; EF.SOD is kept as raw bytes here and
checked by the trust module.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import tlv
from .errors import MalformedData
from .files import EfId
from .mrz import Td1Mrz, parse_td1

EF_CARD_ACCESS = EfId("EF.CardAccess", 0x011C, 0x1C)
EF_COM = EfId("EF.COM", 0x011E, 0x1E, 0x60)
EF_SOD = EfId("EF.SOD", 0x011D, 0x1D, 0x77)

_DG_TAGS = {
    1: 0x61, 2: 0x75, 3: 0x63, 4: 0x76, 5: 0x65, 6: 0x66, 7: 0x67, 8: 0x68,
    9: 0x69, 10: 0x6A, 11: 0x6B, 12: 0x6C, 13: 0x6D, 14: 0x6E, 15: 0x6F, 16: 0x70,
}
TAG_TO_DG = {tag: n for n, tag in _DG_TAGS.items()}


def dg(n: int) -> EfId:
    if n not in _DG_TAGS:
        raise ValueError(f"no data group {n}")
    return EfId(f"DG{n}", 0x0100 + n, n, _DG_TAGS[n])


def ef_by_name(name: str) -> EfId:
    for ef in (EF_COM, EF_SOD, EF_CARD_ACCESS):
        if ef.name == name:
            return ef
    if name.startswith("DG") and name[2:].isdigit():
        return dg(int(name[2:]))
    raise ValueError(f"unknown file {name}")


# --- EF.COM ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EfCom:
    lds_version: str  # "1.7"
    unicode_version: str  # "4.0.0"
    data_groups: tuple[int, ...]


def parse_com(data: bytes) -> EfCom:
    top = tlv.decode_file(data, 0x60)
    lds = top.find(0x5F01)
    uni = top.find(0x5F36)
    tags = top.find(0x5C)
    if tags is None:
        raise MalformedData("EF.COM has no tag list")
    groups = []
    for t in tags.value:
        if t not in TAG_TO_DG:
            raise MalformedData(f"EF.COM lists unknown tag {t:02X}")
        groups.append(TAG_TO_DG[t])

    def _version(obj: tlv.Tlv | None, parts: int) -> str:
        if obj is None:
            return ""
        text = obj.value.decode("ascii", "replace")
        if not text.isdigit() or len(text) != 2 * parts:
            raise MalformedData(f"EF.COM version {text!r} is not {2 * parts} digits")
        return ".".join(str(int(text[i : i + 2])) for i in range(0, len(text), 2))

    return EfCom(_version(lds, 2), _version(uni, 3), tuple(groups))


# --- DG1 --------------------------------------------------------------------------------------


def parse_dg1(data: bytes) -> Td1Mrz:
    top = tlv.decode_file(data, 0x61)
    mrz = top.find(0x5F1F)
    if mrz is None:
        raise MalformedData("DG1 has no MRZ (5F1F)")
    try:
        text = mrz.value.decode("ascii")
    except UnicodeDecodeError as exc:
        raise MalformedData("DG1 MRZ is not ASCII") from exc
    if len(text) != 90:
        raise MalformedData(f"DG1 MRZ has {len(text)} characters; a TD1 card has 90")
    return parse_td1(text)


# --- DG2 --------------------------------------------------------------------------------------

JPEG = "jpeg"
JPEG2000 = "jpeg2000"
_IMAGE_TYPES = {0: JPEG, 1: JPEG2000}


@dataclass(frozen=True)
class Portrait:
    """The facial image of DG2, as stored on the chip (never re-encoded)."""

    data: bytes
    format: str  # "jpeg" or "jpeg2000"
    width: int
    height: int
    gender: int = 0  # ISO 19794-5: 0 unspecified, 1 male, 2 female
    record_version: str = "010"

    @property
    def extension(self) -> str:
        return ".jpg" if self.format == JPEG else ".jp2"

    @property
    def mime_type(self) -> str:
        return "image/jpeg" if self.format == JPEG else "image/jp2"


def sniff_image_format(data: bytes) -> str | None:
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n" or data[:4] == b"\xff\x4f\xff\x51":
        return JPEG2000
    return None


def _u(data: bytes, pos: int, n: int) -> int:
    if pos + n > len(data):
        raise MalformedData("facial record truncated")
    return int.from_bytes(data[pos : pos + n], "big")


def parse_facial_record(record: bytes) -> list[Portrait]:
    """ISO/IEC 19794-5:2005 facial record data ("FAC\\0", version "010\\0")."""
    if record[:4] != b"FAC\x00":
        raise MalformedData("biometric data block is not an ISO 19794-5 facial record")
    version = record[4:8]
    if version != b"010\x00":
        raise MalformedData(f"facial record version {version!r} is not supported")
    record_length = _u(record, 8, 4)
    if record_length > len(record) or record_length < 14:
        raise MalformedData("facial record length is inconsistent")
    count = _u(record, 12, 2)
    if count == 0:
        raise MalformedData("facial record holds no image")
    pos = 14
    out = []
    for _ in range(count):
        start = pos
        block_len = _u(record, pos, 4)
        n_points = _u(record, pos + 4, 2)
        gender = _u(record, pos + 6, 1)
        info = pos + 20 + 8 * n_points  # facial information + feature points
        image_type = _u(record, info + 1, 1)
        width = _u(record, info + 2, 2)
        height = _u(record, info + 4, 2)
        img_start = info + 12
        img_end = start + block_len
        if img_end > record_length or img_start >= img_end:
            raise MalformedData("facial image block length is inconsistent")
        image = record[img_start:img_end]
        fmt = _IMAGE_TYPES.get(image_type)
        if fmt is None:
            raise MalformedData(f"unknown facial image data type {image_type}")
        if sniff_image_format(image) != fmt:
            raise MalformedData(f"facial image says {fmt} but its bytes are not")
        out.append(Portrait(bytes(image), fmt, width, height, gender, "010"))
        pos = img_end
    return out


def parse_dg2(data: bytes) -> list[Portrait]:
    """DG2 → CBEFF biometric information templates → facial records → images."""
    top = tlv.decode_file(data, 0x75)
    group = top.child(0x7F61)
    declared = group.find(0x02)
    templates = [t for t in group.children() if t.tag == 0x7F60]
    if not templates:
        raise MalformedData("DG2 has no biometric information template")
    if declared is not None and int.from_bytes(declared.value, "big") != len(templates):
        raise MalformedData("DG2 instance count does not match its templates")
    portraits: list[Portrait] = []
    for template in templates:
        bdb = template.find(0x5F2E) or template.find(0x7F2E)
        if bdb is None:
            raise MalformedData("DG2 template has no biometric data block")
        portraits.extend(parse_facial_record(bdb.value))
    return portraits

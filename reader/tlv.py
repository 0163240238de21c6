"""BER-TLV as used by ISO/IEC 7816-4 and the ICAO LDS.

Every malformation raises :class:`~reader.errors.MalformedData`; nothing here reads past the
buffer or trusts a length it has not checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .errors import MalformedData


@dataclass(frozen=True, slots=True)
class Tlv:
    tag: int
    value: bytes

    @property
    def constructed(self) -> bool:
        first = self.tag
        while first > 0xFF:
            first >>= 8
        return bool(first & 0x20)

    def children(self) -> list[Tlv]:
        if not self.constructed:
            raise MalformedData(f"tag {self.tag:X} is primitive")
        return decode_all(self.value)

    def child(self, tag: int) -> Tlv:
        for c in self.children():
            if c.tag == tag:
                return c
        raise MalformedData(f"tag {tag:X} missing inside {self.tag:X}")

    def find(self, tag: int) -> Tlv | None:
        for c in self.children():
            if c.tag == tag:
                return c
        return None


def read_tag(data: bytes, pos: int) -> tuple[int, int]:
    """Return (tag, position after the tag)."""
    if pos >= len(data):
        raise MalformedData("truncated: tag expected")
    tag = data[pos]
    pos += 1
    if tag & 0x1F == 0x1F:
        # Multi-byte tag: continuation bytes have b8 set. LDS tags are at most 3 bytes.
        for _ in range(3):
            if pos >= len(data):
                raise MalformedData("truncated multi-byte tag")
            b = data[pos]
            tag = (tag << 8) | b
            pos += 1
            if not b & 0x80:
                break
        else:
            raise MalformedData("tag longer than 4 bytes")
    return tag, pos


def read_length(data: bytes, pos: int) -> tuple[int, int]:
    """Return (length, position after the length field). Definite lengths only."""
    if pos >= len(data):
        raise MalformedData("truncated: length expected")
    first = data[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    n = first & 0x7F
    if n == 0:
        raise MalformedData("indefinite length is not allowed in the LDS")
    if n > 4:
        raise MalformedData(f"length field of {n} bytes")
    if pos + n > len(data):
        raise MalformedData("truncated length field")
    return int.from_bytes(data[pos : pos + n], "big"), pos + n


def header_length(data: bytes) -> tuple[int, int]:
    """For the first bytes of a file: (header size, value size).

    Used to learn a file's total size (header + value) from its first few bytes.
    """
    _, pos = read_tag(data, 0)
    length, pos = read_length(data, pos)
    return pos, length


def decode_one(data: bytes, pos: int = 0) -> tuple[Tlv, int]:
    tag, pos = read_tag(data, pos)
    length, pos = read_length(data, pos)
    end = pos + length
    if end > len(data):
        raise MalformedData(f"tag {tag:X} claims {length} bytes, {len(data) - pos} present")
    return Tlv(tag, bytes(data[pos:end])), end


def iter_tlv(data: bytes) -> Iterator[Tlv]:
    pos = 0
    while pos < len(data):
        # 00 and FF between objects are padding per ISO 7816-4 §5.2.2.
        if data[pos] in (0x00, 0xFF):
            pos += 1
            continue
        tlv, pos = decode_one(data, pos)
        yield tlv


def decode_all(data: bytes) -> list[Tlv]:
    return list(iter_tlv(data))


def decode_file(data: bytes, expected_tag: int | None = None) -> Tlv:
    """Decode a whole LDS file: exactly one top-level object (trailing padding allowed)."""
    tlv, end = decode_one(data)
    if expected_tag is not None and tlv.tag != expected_tag:
        raise MalformedData(f"file starts with tag {tlv.tag:X}, expected {expected_tag:X}")
    if any(b not in (0x00, 0xFF) for b in data[end:]):
        raise MalformedData("data after the end of the file's top-level object")
    return tlv


def encode_length(n: int) -> bytes:
    if n < 0:
        raise ValueError("negative length")
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def encode_tag(tag: int) -> bytes:
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


def encode(tag: int, value: bytes) -> bytes:
    return encode_tag(tag) + encode_length(len(value)) + value

"""BER-TLV, card side: enough to build LDS files and to take command data objects apart.

Deliberately independent of ``reader.tlv`` so that a bug there is not mirrored by the card.
"""

from __future__ import annotations


class BerError(ValueError):
    """Malformed BER-TLV in a command sent to the card."""


def encode_length(n: int) -> bytes:
    """Definite length, short form below 128, long form (81/82/83/84 ...) above."""
    if n < 0:
        raise ValueError("negative length")
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def encode_tag(tag: int) -> bytes:
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


def tlv(tag: int, *values: bytes) -> bytes:
    """One data object; several values are concatenated (a constructed DO's children)."""
    value = b"".join(values)
    return encode_tag(tag) + encode_length(len(value)) + value


def encode_integer(n: int) -> bytes:
    """DER INTEGER (two's complement, minimal)."""
    length = max(1, (n.bit_length() + 8) // 8)  # +8, not +7: keep room for the sign bit
    return tlv(0x02, n.to_bytes(length, "big", signed=True))


def encode_oid(dotted: str) -> bytes:
    """DER OBJECT IDENTIFIER from its dotted form."""
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"not an OID: {dotted}")
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return tlv(0x06, bytes(body))


def read_tlv(data: bytes, pos: int = 0) -> tuple[int, bytes, bytes, int]:
    """Parse one DO at ``pos``: (tag, value, the DO's raw bytes, position after it)."""
    start = pos
    if pos >= len(data):
        raise BerError("tag expected")
    tag = data[pos]
    pos += 1
    if tag & 0x1F == 0x1F:
        while True:
            if pos >= len(data):
                raise BerError("truncated tag")
            tag = (tag << 8) | data[pos]
            pos += 1
            if not data[pos - 1] & 0x80:
                break
            if tag > 0xFFFFFF:
                raise BerError("tag too long")
    if pos >= len(data):
        raise BerError("length expected")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 3:  # indefinite, or longer than any APDU can carry
            raise BerError("unsupported length form")
        if pos + count > len(data):
            raise BerError("truncated length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise BerError("value runs past the end")
    return tag, data[pos : pos + length], data[start : pos + length], pos + length


def read_all(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """Every DO in ``data`` in order, as (tag, value, raw bytes)."""
    out: list[tuple[int, bytes, bytes]] = []
    pos = 0
    while pos < len(data):
        tag, value, raw, pos = read_tlv(data, pos)
        out.append((tag, value, raw))
    return out

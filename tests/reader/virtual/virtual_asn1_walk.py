"""Independent BER decoding for the builder tests (asn1crypto's parser, not the card's code)."""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import parser

_CLASS_BITS = {0: 0x00, 1: 0x40, 2: 0x80, 3: 0xC0}


@dataclass
class Node:
    tag: int  # as written on the wire: 0x75, 0x7F61, 0x5F2E ...
    value: bytes
    header: bytes

    def children(self) -> list[Node]:
        return decode_all(self.value)

    def child(self, tag: int) -> Node:
        matches = [c for c in self.children() if c.tag == tag]
        assert len(matches) == 1, f"{tag:X}: {len(matches)} found"
        return matches[0]


def decode(data: bytes) -> Node:
    nodes = decode_all(data)
    assert len(nodes) == 1, "trailing bytes"
    return nodes[0]


def decode_all(data: bytes) -> list[Node]:
    out = []
    while data:
        _cls, _method, _tag, header, value, trailer = parser.parse(data, strict=False)
        assert trailer == b"", "indefinite length"
        wire_tag = int.from_bytes(header[: _tag_length(header)], "big")
        out.append(Node(wire_tag, value, header))
        data = data[len(header) + len(value) :]
    return out


def _tag_length(header: bytes) -> int:
    if header[0] & 0x1F != 0x1F:
        return 1
    n = 1
    while header[n] & 0x80:
        n += 1
    return n + 1

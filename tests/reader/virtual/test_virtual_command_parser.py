"""The card's command-APDU parser against every ISO 7816-3 case and against garbage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reader.virtual.ber import BerError, encode_length, read_all, tlv
from reader.virtual.command import CommandApdu, MalformedApdu, parse_command


def encode(cmd: CommandApdu) -> bytes:
    out = cmd.header
    if cmd.extended:
        if cmd.data:
            out += b"\x00" + len(cmd.data).to_bytes(2, "big") + cmd.data
        if cmd.ne is not None:
            le = (cmd.ne % 65536).to_bytes(2, "big")
            out += le if cmd.data else b"\x00" + le
        return out
    if cmd.data:
        out += bytes([len(cmd.data)]) + cmd.data
    if cmd.ne is not None:
        out += bytes([cmd.ne % 256])
    return out


@st.composite
def commands(draw) -> CommandApdu:
    header = draw(st.binary(min_size=4, max_size=4))
    extended = draw(st.booleans())
    data = draw(st.binary(max_size=300 if extended else 255))
    ne = draw(st.none() | st.integers(1, 65536 if extended else 256))
    if extended and not data and ne is None:
        extended = False
    if not extended and len(data) > 255:
        data = data[:255]
    return CommandApdu(*header, data=data, ne=ne, extended=extended)


@given(commands())
def test_every_case_round_trips(cmd: CommandApdu) -> None:
    assert parse_command(encode(cmd)) == cmd


@given(st.binary(max_size=400))
def test_garbage_parses_or_raises_malformed(raw: bytes) -> None:
    try:
        cmd = parse_command(raw)
    except MalformedApdu:
        return
    assert encode(cmd) == raw


@pytest.mark.parametrize(
    "hexstr",
    ["", "00", "00A404", "00A4040C05011C", "00A4040C0000", "00A4040C000002AA", "00B0000000000000"],
)
def test_malformed_examples(hexstr: str) -> None:
    with pytest.raises(MalformedApdu):
        parse_command(bytes.fromhex(hexstr))


def test_short_and_extended_le() -> None:
    assert parse_command(bytes.fromhex("00B0000000")).ne == 256
    assert parse_command(bytes.fromhex("00B0000000 0000")).ne == 65536
    assert parse_command(bytes.fromhex("00B0000000 0000")).extended


@given(st.binary(max_size=200))
def test_ber_reader_never_overreads(raw: bytes) -> None:
    try:
        dos = read_all(raw)
    except BerError:
        return
    assert b"".join(r for _, _, r in dos) == raw


@given(st.integers(0, 0xFFFFFF), st.binary(max_size=70000).map(lambda b: b[:300]))
def test_tlv_lengths(tag_seed: int, value: bytes) -> None:
    tag = 0x5F00 | (tag_seed & 0x7F) if tag_seed & 1 else 0x80 | (tag_seed & 0x1E)
    encoded = tlv(tag, value)
    assert read_all(encoded) == [(tag, value, encoded)]
    assert encode_length(0x80) == b"\x81\x80" and encode_length(0x1234) == b"\x82\x12\x34"

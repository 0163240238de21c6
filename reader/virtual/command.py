"""Command APDUs as the card receives them (ISO/IEC 7816-3 cases 1 to 4, short and extended)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class SW(IntEnum):
    """Status words the virtual card answers with."""

    OK = 0x9000
    END_OF_FILE = 0x6282
    AUTH_FAILED = 0x6300
    WRONG_LENGTH = 0x6700
    SECURITY_NOT_SATISFIED = 0x6982
    CONDITIONS_NOT_SATISFIED = 0x6985
    NO_CURRENT_EF = 0x6986
    SM_DATA_MISSING = 0x6987
    SM_DATA_WRONG = 0x6988
    LAST_COMMAND_EXPECTED = 0x6883
    CHAINING_NOT_SUPPORTED = 0x6884
    WRONG_DATA = 0x6A80
    NOT_FOUND = 0x6A82
    WRONG_P1P2 = 0x6A86
    REFERENCED_DATA_NOT_FOUND = 0x6A88
    WRONG_OFFSET = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00


class MalformedApdu(ValueError):
    """The bytes are not a command APDU of any ISO 7816-3 case."""


@dataclass(frozen=True, slots=True)
class CommandApdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int | None = None  # None: no Le field; otherwise 1..65536
    extended: bool = False  # Lc or Le used the extended (3-byte / 2-byte) form

    @property
    def header(self) -> bytes:
        return bytes([self.cla, self.ins, self.p1, self.p2])


def parse_command(raw: bytes) -> CommandApdu:
    """Decode the Lc/Le encoding; raise :class:`MalformedApdu` for anything else."""
    if len(raw) < 4:
        raise MalformedApdu("shorter than a header")
    cla, ins, p1, p2 = raw[:4]
    body = raw[4:]
    if not body:  # case 1
        return CommandApdu(cla, ins, p1, p2)
    if len(body) == 1:  # case 2S
        return CommandApdu(cla, ins, p1, p2, ne=body[0] or 256)
    if body[0] != 0:  # case 3S / 4S
        lc = body[0]
        if len(body) == 1 + lc:
            return CommandApdu(cla, ins, p1, p2, body[1:])
        if len(body) == 2 + lc:
            return CommandApdu(cla, ins, p1, p2, body[1:-1], ne=body[-1] or 256)
        raise MalformedApdu("Lc does not match the length")
    if len(body) == 3:  # case 2E
        return CommandApdu(
            cla, ins, p1, p2, ne=int.from_bytes(body[1:3], "big") or 65536, extended=True
        )
    if len(body) < 3:
        raise MalformedApdu("truncated extended length")
    lc = int.from_bytes(body[1:3], "big")
    if lc == 0:
        raise MalformedApdu("extended Lc of zero")
    if len(body) == 3 + lc:  # case 3E
        return CommandApdu(cla, ins, p1, p2, body[3:], extended=True)
    if len(body) == 5 + lc:  # case 4E
        ne = int.from_bytes(body[-2:], "big") or 65536
        return CommandApdu(cla, ins, p1, p2, body[3:-2], ne=ne, extended=True)
    raise MalformedApdu("extended Lc does not match the length")


def response(data: bytes, sw: int) -> bytes:
    return data + sw.to_bytes(2, "big")

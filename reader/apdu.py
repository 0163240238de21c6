"""Command and response APDUs (ISO/IEC 7816-3/-4), short and extended length.

Status words are turned into typed errors here, in one place, so every caller reports the
same condition the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import (
    AccessDenied,
    CardStatusError,
    EndOfFile,
    FileNotFound,
    MalformedData,
    NotAnIdCard,
    SecureMessagingError,
    WrongCardKey,
    WrongLength,
)

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282  # fewer bytes than Le: end of file reached


@dataclass(frozen=True, slots=True)
class CommandApdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # None: no response data expected; 256 / 65536 are the maxima
    extended: bool = False  # force extended-length encoding even when short would fit

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            v = getattr(self, name)
            if not 0 <= v <= 0xFF:
                raise ValueError(f"{name} out of range: {v}")
        if len(self.data) > 65535:
            raise ValueError("command data longer than 65535 bytes")
        if self.le is not None and not 0 < self.le <= 65536:
            raise ValueError(f"Le out of range: {self.le}")

    @property
    def is_extended(self) -> bool:
        return (
            self.extended
            or len(self.data) > 255
            or (self.le is not None and self.le > 256)
        )

    def to_bytes(self) -> bytes:
        out = bytearray([self.cla, self.ins, self.p1, self.p2])
        if not self.is_extended:
            if self.data:
                out.append(len(self.data))
                out += self.data
            if self.le is not None:
                out.append(self.le & 0xFF)  # 256 encodes as 00
            return bytes(out)
        # Extended: Lc as 00 HH LL; Le as HH LL after Lc, or 00 HH LL with no data.
        if self.data:
            out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
            if self.le is not None:
                out += (self.le & 0xFFFF).to_bytes(2, "big")
        elif self.le is not None:
            out += b"\x00" + (self.le & 0xFFFF).to_bytes(2, "big")
        return bytes(out)

    def with_le(self, le: int | None, extended: bool | None = None) -> CommandApdu:
        return CommandApdu(
            self.cla, self.ins, self.p1, self.p2, self.data, le,
            self.extended if extended is None else extended,
        )

    def describe(self) -> str:
        return f"{self.cla:02X} {self.ins:02X} {self.p1:02X} {self.p2:02X}"


@dataclass(frozen=True, slots=True)
class ResponseApdu:
    data: bytes
    sw: int

    @classmethod
    def from_bytes(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise MalformedData(f"response of {len(raw)} bytes has no status word")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    def to_bytes(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK or self.sw == SW_END_OF_FILE or self.sw1 == 0x61


def select_aid(aid: bytes) -> CommandApdu:
    # P2=0C: no FCI wanted; that is what eMRTD readers send and what the CCCD expects.
    return CommandApdu(0x00, 0xA4, 0x04, 0x0C, aid)


def select_ef(fid: int) -> CommandApdu:
    return CommandApdu(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big"))


def read_binary(offset: int, le: int, sfi: int | None = None) -> CommandApdu:
    """READ BINARY with even INS (offset < 32768) or odd INS B1 (offset in DO'54')."""
    if sfi is not None:
        if not 0 < sfi < 0x1F or not 0 <= offset <= 0xFF:
            raise ValueError("SFI read needs SFI 1..30 and offset 0..255")
        return CommandApdu(0x00, 0xB0, 0x80 | sfi, offset, b"", le)
    if offset <= 0x7FFF:
        return CommandApdu(0x00, 0xB0, offset >> 8, offset & 0xFF, b"", le)
    body = offset.to_bytes(max(1, (offset.bit_length() + 7) // 8), "big")
    return CommandApdu(0x00, 0xB1, 0x00, 0x00, bytes([0x54, len(body)]) + body, le)


def get_challenge() -> CommandApdu:
    return CommandApdu(0x00, 0x84, 0x00, 0x00, b"", 8)


def raise_for_status(resp: ResponseApdu, *, during: str, file: str | None = None) -> None:
    """Raise the typed error a failing status word stands for.

    ``during`` names what we were doing ("select-applet", "external-authenticate",
    "read", "select-file", ...) because the same status word means different things:
    6A82 on the applet is "not an ID card", on a file it is "file not found".
    """
    sw = resp.sw
    if resp.ok:
        return
    ctx: dict[str, Any] = {"during": during}
    if file:
        ctx["file"] = file
    if during == "select-applet" and sw in (0x6A82, 0x6A86, 0x6D00, 0x6E00, 0x6999):
        raise NotAnIdCard(sw, "no eMRTD application on this card", **ctx)
    if during in ("external-authenticate", "mutual-authenticate", "pace") and (
        sw == 0x6300 or sw & 0xFFF0 == 0x63C0 or sw == 0x6982
    ):
        raise WrongCardKey(sw, "the card refused the key", **ctx)
    if sw in (0x6987, 0x6988):
        raise SecureMessagingError(f"card reports secure messaging error {sw:04X}", sw=f"{sw:04X}")
    if sw in (0x6982, 0x6983, 0x6985):
        raise AccessDenied(sw, **ctx)
    if sw in (0x6A82, 0x6A83):
        raise FileNotFound(sw, **ctx)
    if sw == 0x6700 or sw & 0xFF00 == 0x6C00:
        raise WrongLength(sw, **ctx)
    if sw == 0x6B00:
        raise EndOfFile(sw, **ctx)
    raise CardStatusError(sw, **ctx)
